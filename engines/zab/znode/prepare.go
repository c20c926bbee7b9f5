package znode

import (
	"errors"
	"strconv"
	"strings"

	"coordlab/engines/zab/jute"
)

// Request is a client write as Prepare needs it: the decoded jute body and
// who sent it. Server-internal requests (reaping containers and TTL nodes)
// use Session 0, which skips session and ACL checks.
type Request struct {
	Op      jute.Op
	Body    jute.Record // *jute.CreateRequest, *jute.SetDataRequest, ...; *jute.PathRequest for OpDeleteContainer; nil for session ops
	Session SessionID   // the issuing session (for OpCreateSession: the new session's id)
	Cxid    int32       // the request's xid, copied into the Txn
	Time    int64       // the leader's wall clock, ms since the epoch: becomes ctime/mtime
	Auth    []jute.Id   // the connection's ids from addauth (see DigestID); world:anyone is implied
	Timeout int32       // OpCreateSession: the negotiated timeout, ms
}

// change is one prepared-but-unapplied change to a path or a session
// (ZooKeeper's ChangeRecord): what Prepare must see in place of the tree.
type change struct {
	path string // "" for a session change
	sess SessionID
	seq  uint64  // the Prepare call that made it
	prev *change // the record this one shadowed (used only to roll back a failed multi)

	exists      bool
	kind        NodeKind
	owner       int64
	version     int32
	aversion    int32
	cversion    int32 // children ever created (ZooKeeper's stored cversion)
	numChildren int32
	acl         []jute.ACL
}

type txnKey struct {
	typ     TxnType
	session SessionID
	cxid    int32
	time    int64
	seq     uint64
}

// pending holds the prepared changes in Prepare order. Apply pops the
// oldest prepared txn when it is the one being applied; the changes it made
// are dropped unless a later Prepare has shadowed them.
type pending struct {
	byPath map[string]*change
	bySess map[SessionID]*change
	log    []*change // live changes are log[head:], oldest first
	head   int
	keys   []txnKey // prepared txns not yet applied are keys[khead:]
	khead  int
	seq    uint64
	free   []*change
}

func newPending() pending {
	return pending{byPath: map[string]*change{}, bySess: map[SessionID]*change{}}
}

func (p *pending) alloc() *change {
	if n := len(p.free); n > 0 {
		c := p.free[n-1]
		p.free = p.free[:n-1]
		return c
	}
	return new(change)
}

func (p *pending) release(c *change) {
	*c = change{}
	p.free = append(p.free, c)
}

// record makes c (a filled-in copy) the current view of its path or
// session.
func (p *pending) record(c change) {
	pc := p.alloc()
	*pc = c
	pc.seq = p.seq
	if pc.path != "" {
		pc.prev = p.byPath[pc.path]
		p.byPath[pc.path] = pc
	} else {
		pc.prev = p.bySess[pc.sess]
		p.bySess[pc.sess] = pc
	}
	p.log = append(p.log, pc)
}

// rollback undoes the changes recorded after mark (a failed multi).
func (p *pending) rollback(mark int) {
	for i := len(p.log) - 1; i >= mark; i-- {
		c := p.log[i]
		if c.path != "" {
			if c.prev != nil {
				p.byPath[c.path] = c.prev
			} else {
				delete(p.byPath, c.path)
			}
		} else {
			if c.prev != nil {
				p.bySess[c.sess] = c.prev
			} else {
				delete(p.bySess, c.sess)
			}
		}
		p.release(c)
	}
	p.log = p.log[:mark]
}

// applied is called by Apply with every txn. On the leader the oldest
// prepared txn is the one being applied (proposals commit in order): its
// changes are now in the tree, so they are dropped. Any other txn while
// txns are pending means the server broke that order (or stopped leading
// without ResetPending): the pending view can no longer be trusted, so it
// is dropped entirely, which is safe (the next Prepare sees the tree).
func (p *pending) applied(txn *Txn) {
	if p.khead == len(p.keys) {
		return
	}
	k := p.keys[p.khead]
	if k.typ != txn.Type || k.session != txn.Session || k.cxid != txn.Cxid || k.time != txn.Time {
		p.reset()
		return
	}
	p.khead++
	for p.head < len(p.log) && p.log[p.head].seq <= k.seq {
		c := p.log[p.head]
		p.log[p.head] = nil
		if c.path != "" {
			if p.byPath[c.path] == c {
				delete(p.byPath, c.path)
			}
		} else if p.bySess[c.sess] == c {
			delete(p.bySess, c.sess)
		}
		p.release(c)
		p.head++
	}
	if p.head == len(p.log) {
		p.log, p.head = p.log[:0], 0
	} else if p.head > 1024 && p.head > len(p.log)/2 {
		n := copy(p.log, p.log[p.head:])
		clear(p.log[n:])
		p.log, p.head = p.log[:n], 0
	}
	if p.khead == len(p.keys) {
		p.keys, p.khead = p.keys[:0], 0
	} else if p.khead > 1024 && p.khead > len(p.keys)/2 {
		n := copy(p.keys, p.keys[p.khead:])
		p.keys, p.khead = p.keys[:n], 0
	}
}

func (p *pending) reset() {
	for _, c := range p.log[p.head:] {
		p.release(c)
	}
	clear(p.log)
	p.log, p.head = p.log[:0], 0
	p.keys, p.khead = p.keys[:0], 0
	clear(p.byPath)
	clear(p.bySess)
}

// ResetPending forgets every prepared-but-unapplied change. The server
// calls it when it stops leading or a proposal it prepared was not
// proposed, so that later Prepares see only the tree.
func (t *Tree) ResetPending() { t.p.reset() }

// PendingCount is the number of prepared txns not yet applied.
func (t *Tree) PendingCount() int { return len(t.p.keys) - t.p.khead }

// view returns what Prepare must see at path: the newest pending change,
// or the tree.
func (t *Tree) view(path string) (change, bool) {
	if c := t.p.byPath[path]; c != nil {
		return *c, c.exists
	}
	n := t.nodes[path]
	if n == nil {
		return change{path: path}, false
	}
	return change{
		path: path, exists: true, kind: n.kind, owner: n.stat.EphemeralOwner,
		version: n.stat.Version, aversion: n.stat.Aversion, cversion: n.stat.Cversion,
		numChildren: int32(len(n.children)), acl: n.acl,
	}, true
}

func (t *Tree) sessionAlive(id SessionID) bool {
	if c := t.p.bySess[id]; c != nil {
		return c.exists
	}
	_, ok := t.sessions[id]
	return ok
}

// Prepare validates a write against the tree plus the pending changes and
// returns the Txn to propose, as ZooKeeper's PrepRequestProcessor does. A
// request ZooKeeper would refuse gives an Error txn with its code (it is
// still proposed: it uses a zxid, and Apply turns it into the reply); a
// failed multi gives a Multi txn whose ops are all Error txns (ZOK before
// the failing op, its code, ZRUNTIMEINCONSISTENCY after). The returned
// error is non-nil only when req is not a write or its Body is not the
// record its Op needs.
//
// The server must propose prepared txns in the order Prepare returned
// them, and call ResetPending if it stops leading or does not propose one.
func (t *Tree) Prepare(req *Request) (Txn, error) {
	switch req.Op {
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL, jute.OpDelete,
		jute.OpDeleteContainer, jute.OpSetData, jute.OpSetACL, jute.OpCheck, jute.OpMulti,
		jute.OpCreateSession, jute.OpCloseSession, jute.OpReconfig:
	default:
		return Txn{}, ErrNotWrite
	}
	t.p.seq++
	txn := Txn{Session: req.Session, Cxid: req.Cxid, Time: req.Time}
	mark := len(t.p.log)
	var err error
	if req.Session != 0 && req.Op != jute.OpCreateSession && !t.sessionAlive(req.Session) {
		err = ErrSessionExpired
	} else if req.Op == jute.OpMulti {
		err = t.prepMulti(&txn, req)
	} else {
		err = t.prepOp(&txn, req.Op, req.Body, req, false)
	}
	if err != nil {
		var code jute.Code
		if !errors.As(err, &code) {
			t.p.rollback(mark)
			t.p.seq--
			return Txn{}, err
		}
		t.p.rollback(mark)
		txn = Txn{Type: TxnError, Session: req.Session, Cxid: req.Cxid, Time: req.Time, Err: code}
	}
	t.p.keys = append(t.p.keys, txnKey{typ: txn.Type, session: txn.Session, cxid: txn.Cxid, time: txn.Time, seq: t.p.seq})
	return txn, nil
}

// errBody is returned for a request whose Body does not match its Op.
func errBody(op jute.Op, body jute.Record) error {
	return errors.New("znode: prepare " + op.String() + ": unexpected body type " + recordType(body))
}

func recordType(r jute.Record) string {
	if r == nil {
		return "nil"
	}
	return strconv.Quote(jute.RecordName(r))
}

// MultiOpType is the opcode ZooKeeper runs a multi's op as: its own,
// except that a create or create2 with the container flag is a
// createContainer (ZooKeeper's MultiOperationRecord rebuilds each op with
// Op.create, which picks the opcode from the CreateMode), so the node is a
// container and its result a create2 result.
func MultiOpType(op jute.MultiOp) jute.Op {
	if op.Type == jute.OpCreate || op.Type == jute.OpCreate2 {
		if b, ok := op.Body.(*jute.CreateRequest); ok && b.Flags == jute.FlagContainer {
			return jute.OpCreateContainer
		}
	}
	return op.Type
}

func (t *Tree) prepMulti(txn *Txn, req *Request) error {
	mr, ok := req.Body.(*jute.MultiRequest)
	if !ok {
		return errBody(req.Op, req.Body)
	}
	txn.Type = TxnMulti
	txn.Ops = make([]Txn, len(mr.Ops))
	mark := len(t.p.log)
	for i := range mr.Ops {
		sub := &txn.Ops[i]
		*sub = Txn{Session: req.Session, Cxid: req.Cxid, Time: req.Time}
		err := t.prepOp(sub, MultiOpType(mr.Ops[i]), mr.Ops[i].Body, req, true)
		if err == nil {
			continue
		}
		var code jute.Code
		if !errors.As(err, &code) {
			return err
		}
		t.p.rollback(mark)
		for j := range txn.Ops {
			c := jute.ZRUNTIMEINCONSISTENCY
			switch {
			case j < i:
				c = jute.ZOK
			case j == i:
				c = code
			}
			txn.Ops[j] = Txn{Type: TxnError, Session: req.Session, Cxid: req.Cxid, Time: req.Time, Err: c}
		}
		return nil
	}
	return nil
}

func (t *Tree) prepOp(txn *Txn, op jute.Op, body jute.Record, req *Request, inMulti bool) error {
	switch op {
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer:
		b, ok := body.(*jute.CreateRequest)
		if !ok {
			return errBody(op, body)
		}
		return t.prepCreate(txn, op, b.Path, b.Data, b.ACL, b.Flags, 0, req)
	case jute.OpCreateTTL:
		b, ok := body.(*jute.CreateTTLRequest)
		if !ok {
			return errBody(op, body)
		}
		return t.prepCreate(txn, op, b.Path, b.Data, b.ACL, b.Flags, b.TTL, req)
	case jute.OpDelete:
		b, ok := body.(*jute.DeleteRequest)
		if !ok {
			return errBody(op, body)
		}
		return t.prepDelete(txn, b.Path, b.Version, req)
	case jute.OpSetData:
		b, ok := body.(*jute.SetDataRequest)
		if !ok {
			return errBody(op, body)
		}
		return t.prepSetData(txn, b, req)
	case jute.OpCheck:
		b, ok := body.(*jute.CheckVersionRequest)
		if !ok {
			return errBody(op, body)
		}
		return t.prepCheck(txn, b, req)
	}
	if inMulti {
		// ZooKeeper's multi takes only the ops above.
		return ErrBadArguments
	}
	switch op {
	case jute.OpSetACL:
		b, ok := body.(*jute.SetACLRequest)
		if !ok {
			return errBody(op, body)
		}
		return t.prepSetACL(txn, b, req)
	case jute.OpReconfig:
		if _, ok := body.(*jute.ReconfigRequest); !ok {
			return errBody(op, body)
		}
		// ZooKeeper with reconfigEnabled=false (its default; zab refuses
		// to start with true): an error txn, before any other check.
		return ErrReconfigDisabled
	case jute.OpDeleteContainer:
		b, ok := body.(*jute.PathRequest)
		if !ok {
			return errBody(op, body)
		}
		return t.prepDeleteContainer(txn, b.Path)
	case jute.OpCreateSession:
		if req.Session == 0 || req.Timeout <= 0 {
			return ErrBadArguments
		}
		txn.Type = TxnCreateSession
		txn.Timeout = req.Timeout
		t.p.record(change{sess: req.Session, exists: true})
		return nil
	case jute.OpCloseSession:
		return t.prepCloseSession(txn, req.Session)
	}
	return ErrUnimplemented
}

// nextVersion checks an expected version (-1: any) against the current one
// and returns the version after the change; it skips -1 on wrap-around
// (ZOOKEEPER-4743).
func nextVersion(current, expected int32) (int32, error) {
	if expected != -1 && expected != current {
		return 0, ErrBadVersion
	}
	next := current + 1
	if next == -1 {
		next = 0
	}
	return next, nil
}

// createKind maps a create opcode, its flags (CreateMode) and TTL to the
// node kind and whether a sequence suffix is appended, as ZooKeeper 3.8's
// PrepRequestProcessor and DataTree do: the opcode decides the node's kind
// (createContainer makes a container, createTTL a TTL node, create and
// create2 an ephemeral node for the ephemeral modes and a persistent one
// otherwise, the container mode included, since their CreateTxn carries
// only "ephemeral or not"), the flags decide the sequence suffix, and a TTL
// is valid only with a TTL mode (the other opcodes carry none). TTL modes
// need extendedTypes (ZUNIMPLEMENTED without, checked first).
func createKind(op jute.Op, flags int32, ttl int64, extendedTypes bool) (NodeKind, bool, error) {
	if flags < jute.FlagPersistent || flags > jute.FlagPersistentSequentialWithTTL {
		return 0, false, ErrBadArguments // CreateMode.fromFlag
	}
	ttlMode := flags == jute.FlagPersistentWithTTL || flags == jute.FlagPersistentSequentialWithTTL
	if ttlMode && !extendedTypes {
		return 0, false, ErrUnimplemented // validateCreateRequest, before the TTL check
	}
	sequential := flags == jute.FlagPersistentSequential || flags == jute.FlagEphemeralSequential ||
		flags == jute.FlagPersistentSequentialWithTTL
	if op != jute.OpCreateTTL {
		ttl = -1
	}
	// EphemeralType.validateTTL.
	if ttlMode && (ttl <= 0 || ttl > MaxTTL) || !ttlMode && op == jute.OpCreateTTL {
		return 0, false, ErrBadArguments
	}
	switch op {
	case jute.OpCreateContainer:
		return KindContainer, sequential, nil
	case jute.OpCreateTTL:
		return KindTTL, sequential, nil
	case jute.OpCreate, jute.OpCreate2:
		if flags == jute.FlagEphemeral || flags == jute.FlagEphemeralSequential {
			return KindEphemeral, sequential, nil
		}
		return KindPersistent, sequential, nil
	}
	return 0, false, ErrBadArguments
}

// SequenceSuffix formats n as ZooKeeper's String.format("%010d", n).
func SequenceSuffix(n int32) string { return string(appendSequence(nil, n)) }

// appendSequence appends n formatted as "%010d" (a negative n takes a
// sign and 9 digits, as Java prints it).
func appendSequence(b []byte, n int32) []byte {
	v := int64(n)
	width := 10
	if v < 0 {
		b = append(b, '-')
		v, width = -v, 9
	}
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], v, 10)
	for i := len(d); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, d...)
}

func (t *Tree) prepCreate(txn *Txn, op jute.Op, path string, data []byte, acl []jute.ACL, flags int32, ttl int64, req *Request) error {
	kind, sequential, err := createKind(op, flags, ttl, t.extendedTypes)
	if err != nil {
		return err
	}
	check := path
	if sequential {
		check += "1"
	}
	if check == "/" || !validPath(check) {
		return ErrBadArguments
	}
	ppath := parentOf(path)
	acl, err = fixupACL(acl, req.Auth)
	if err != nil {
		return err
	}
	parent, ok := t.view(ppath)
	if !ok {
		return ErrNoNode
	}
	if req.Session != 0 && !checkACL(parent.acl, jute.PermCreate, req.Auth) {
		return ErrNoAuth
	}
	if sequential {
		var suffix [11]byte
		var sb strings.Builder
		sb.Grow(len(path) + len(suffix))
		sb.WriteString(path)
		sb.Write(appendSequence(suffix[:0], parent.cversion))
		path = sb.String()
	}
	if _, exists := t.view(path); exists {
		return ErrNodeExists
	}
	if parent.kind == KindEphemeral {
		return ErrNoChildrenForEphemerals
	}
	if kind == KindEphemeral && req.Session == 0 {
		return ErrBadArguments
	}
	parent.cversion++
	parent.numChildren++
	t.p.record(parent)
	c := change{path: path, exists: true, kind: kind, acl: acl}
	switch kind {
	case KindEphemeral:
		c.owner = int64(req.Session)
	case KindContainer:
		c.owner = ContainerOwner
	case KindTTL:
		c.owner = ttlOwnerMask | ttl
	}
	t.p.record(c)
	txn.Type = TxnCreate
	txn.Path = path
	txn.Data = data
	txn.ACL = acl
	txn.Kind = kind
	if kind == KindTTL {
		txn.TTL = ttl
	}
	txn.ParentCVersion = parent.cversion
	return nil
}

func (t *Tree) prepDelete(txn *Txn, path string, version int32, req *Request) error {
	if path == "/" || !validPath(path) || isSystemPath(path) {
		return ErrBadArguments
	}
	ppath := parentOf(path)
	parent, ok := t.view(ppath)
	if !ok {
		return ErrNoNode
	}
	if req.Session != 0 && !checkACL(parent.acl, jute.PermDelete, req.Auth) {
		return ErrNoAuth
	}
	n, ok := t.view(path)
	if !ok {
		return ErrNoNode
	}
	if _, err := nextVersion(n.version, version); err != nil {
		return err
	}
	if n.numChildren > 0 {
		return ErrNotEmpty
	}
	t.recordDelete(parent, path)
	txn.Type = TxnDelete
	txn.Path = path
	return nil
}

func (t *Tree) recordDelete(parent change, path string) {
	parent.numChildren--
	t.p.record(parent)
	t.p.record(change{path: path})
}

func (t *Tree) prepDeleteContainer(txn *Txn, path string) error {
	if path == "/" || !validPath(path) || isSystemPath(path) {
		return ErrBadArguments
	}
	n, ok := t.view(path)
	if !ok {
		return ErrNoNode
	}
	if n.numChildren > 0 {
		return ErrNotEmpty
	}
	if n.kind != KindContainer && n.kind != KindTTL {
		// ZooKeeper answers BADVERSION when the node is no longer a
		// container or TTL node.
		return ErrBadVersion
	}
	parent, ok := t.view(parentOf(path))
	if !ok {
		return ErrNoNode
	}
	t.recordDelete(parent, path)
	txn.Type = TxnDelete
	txn.Path = path
	return nil
}

func (t *Tree) prepSetData(txn *Txn, b *jute.SetDataRequest, req *Request) error {
	if !validPath(b.Path) {
		return ErrBadArguments
	}
	n, ok := t.view(b.Path)
	if !ok {
		return ErrNoNode
	}
	if req.Session != 0 && !checkACL(n.acl, jute.PermWrite, req.Auth) {
		return ErrNoAuth
	}
	v, err := nextVersion(n.version, b.Version)
	if err != nil {
		return err
	}
	n.version = v
	t.p.record(n)
	txn.Type = TxnSetData
	txn.Path = b.Path
	txn.Data = b.Data
	txn.Version = v
	return nil
}

func (t *Tree) prepSetACL(txn *Txn, b *jute.SetACLRequest, req *Request) error {
	if !validPath(b.Path) {
		return ErrBadArguments
	}
	acl, err := fixupACL(b.ACL, req.Auth)
	if err != nil {
		return err
	}
	n, ok := t.view(b.Path)
	if !ok {
		return ErrNoNode
	}
	if req.Session != 0 && !checkACL(n.acl, jute.PermAdmin, req.Auth) {
		return ErrNoAuth
	}
	v, err := nextVersion(n.aversion, b.Version)
	if err != nil {
		return err
	}
	n.aversion = v
	n.acl = acl
	t.p.record(n)
	txn.Type = TxnSetACL
	txn.Path = b.Path
	txn.ACL = acl
	txn.Version = v
	return nil
}

func (t *Tree) prepCheck(txn *Txn, b *jute.CheckVersionRequest, req *Request) error {
	if !validPath(b.Path) {
		return ErrBadArguments
	}
	n, ok := t.view(b.Path)
	if !ok {
		return ErrNoNode
	}
	if req.Session != 0 && !checkACL(n.acl, jute.PermRead, req.Auth) {
		return ErrNoAuth
	}
	if _, err := nextVersion(n.version, b.Version); err != nil {
		return err
	}
	txn.Type = TxnCheck
	txn.Path = b.Path
	txn.Version = b.Version
	return nil
}

func (t *Tree) prepCloseSession(txn *Txn, id SessionID) error {
	if id == 0 {
		return ErrBadArguments
	}
	// The session's ephemerals as they will be when this txn applies: the
	// tree's, minus pending deletes, plus pending creates.
	var paths []string
	for p := range t.ephemerals[id] {
		if c, ok := t.view(p); ok && c.kind == KindEphemeral && c.owner == int64(id) {
			paths = append(paths, p)
		}
	}
	for p, c := range t.p.byPath {
		if c.exists && c.kind == KindEphemeral && c.owner == int64(id) {
			if _, inTree := t.ephemerals[id][p]; !inTree {
				paths = append(paths, p)
			}
		}
	}
	for _, p := range paths {
		if parent, ok := t.view(parentOf(p)); ok {
			t.recordDelete(parent, p)
		}
	}
	t.p.record(change{sess: id, exists: false})
	txn.Type = TxnCloseSession
	return nil
}
