package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"coordlab/engines/zab"
	"coordlab/engines/zab/jute"
	"coordlab/engines/zab/znode"
)

// Forwarded requests (follower runtime -> leader runtime, through the core's
// MsgRequest) start with a kind byte. The format is private to zab servers.
const (
	fwdWrite         = 1 // varint session, uvarint #auth, (scheme, id)*, raw client payload (header + body)
	fwdTouch         = 2 // uvarint n, varint session * n
	fwdCreateSession = 3 // varint session, varint timeout ms
)

// passwordSecret makes session passwords derivable on every member (like
// ZooKeeper's fixed "super secret"): a client reconnecting anywhere proves it
// holds its session's password without the password being replicated.
const passwordSecret = "coordlab-zab-session-secret"

func sessionPassword(id int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(id))
	h := sha256.Sum256(append([]byte(passwordSecret), b[:]...))
	return h[:16]
}

func encodeTouch(ids []int64) []byte {
	b := []byte{fwdTouch}
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		b = binary.AppendVarint(b, id)
	}
	return b
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func encodeForwardWrite(session int64, auth []jute.Id, payload []byte) []byte {
	b := []byte{fwdWrite}
	b = binary.AppendVarint(b, session)
	b = binary.AppendUvarint(b, uint64(len(auth)))
	for _, id := range auth {
		b = appendStr(b, id.Scheme)
		b = appendStr(b, id.ID)
	}
	return append(b, payload...)
}

// fwdReader decodes forwarded requests; the first error sticks.
type fwdReader struct {
	b   []byte
	err error
}

func (r *fwdReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errors.New("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *fwdReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *fwdReader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errors.New("string past end")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// isWrite reports whether op goes through Prepare and the log.
func isWrite(op jute.Op) bool {
	switch op {
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL, jute.OpDelete,
		jute.OpSetData, jute.OpSetACL, jute.OpCheck, jute.OpMulti, jute.OpCloseSession:
		return true
	}
	return false
}

// onClient handles one event from a client connection.
func (s *Server) onClient(ev clientEvent) {
	st := &s.st
	cc := ev.conn
	switch {
	case ev.gone:
		s.forgetConn(cc)
	case ev.connect != nil:
		st.conns[cc] = struct{}{}
		st.byConnID[znode.ConnID(cc.id)] = cc
		s.onConnect(cc, ev.connect)
	default:
		s.onRequest(ev)
	}
}

func (s *Server) forgetConn(cc *clientConn) {
	st := &s.st
	if _, ok := st.conns[cc]; !ok {
		return
	}
	delete(st.conns, cc)
	delete(st.byConnID, znode.ConnID(cc.id))
	s.tree.DropConn(znode.ConnID(cc.id))
	if ls := st.sessions[cc.session]; ls != nil && (ls.conn == cc || (ls.conn == nil && cc.connecting)) {
		delete(st.sessions, cc.session)
	}
	for id, c := range st.connecting {
		if c == cc {
			delete(st.connecting, id)
		}
	}
}

// onConnect negotiates a session for a new connection.
func (s *Server) onConnect(cc *clientConn, req *jute.ConnectRequest) {
	st := &s.st
	if st.diskErr != nil {
		s.onConnectReadOnly(cc, req)
		return
	}
	cc.hasReadOnly = req.HasReadOnly
	if !st.serving {
		cc.logger.Debug("refusing client: not serving", "remote", cc.c.RemoteAddr().String())
		cc.close()
		return
	}
	if req.LastZxidSeen > int64(st.applied) {
		// The client saw a newer state elsewhere; it must try another server.
		cc.logger.Info("refusing client that has seen a newer zxid", "remote", cc.c.RemoteAddr().String(),
			"client_zxid", fmt.Sprintf("%#x", req.LastZxidSeen), "zxid", fmt.Sprintf("%#x", st.applied))
		cc.close()
		return
	}
	timeout := time.Duration(req.TimeOut) * time.Millisecond
	timeout = max(timeout, s.cfg.MinSession())
	timeout = min(timeout, s.cfg.MaxSession())
	toMs := int32(timeout.Milliseconds())
	if req.SessionID == 0 {
		st.sessSeq++
		if st.sessSeq == -1<<63 {
			st.sessSeq++
		}
		id := st.sessSeq
		cc.connecting = true
		st.connecting[id] = cc
		st.sessions[id] = &localSession{id: id, timeout: toMs}
		cc.session = id
		if st.soft.State == zab.StateLeading {
			s.submitPrepared(&znode.Request{Op: jute.OpCreateSession, Session: znode.SessionID(id), Time: s.clock.Now().UnixMilli(), Timeout: toMs})
		} else {
			b := []byte{fwdCreateSession}
			b = binary.AppendVarint(b, id)
			b = binary.AppendVarint(b, int64(toMs))
			if err := s.node.Forward(b); err != nil {
				cc.close()
			}
		}
		return
	}
	if !bytes.Equal(req.Passwd, sessionPassword(req.SessionID)) {
		s.refuseSession(cc)
		return
	}
	if !s.tree.HasSession(znode.SessionID(req.SessionID)) {
		// This member may not have applied the session's creation yet (the
		// client just got it from another member): revalidate through the
		// leader with a sync, as ZooKeeper's REVALIDATE, and decide after.
		st.nextReq++
		id := st.nextReq
		if err := s.node.Sync(id); err != nil {
			cc.close()
			return
		}
		cc.connecting = true
		st.revalidating[id] = revalidation{cc: cc, req: req}
		return
	}
	s.attachSession(cc, req)
}

// refuseSession answers a reconnect for an unknown or expired session, or
// with a wrong password, as ZooKeeper does: session id 0, then close.
func (s *Server) refuseSession(cc *clientConn) {
	cc.session = 0
	cc.closing = true
	cc.send(jute.AppendFrame(nil, &jute.ConnectResponse{Passwd: make([]byte, 16), HasReadOnly: cc.hasReadOnly}), true)
}

// revalidation is a reconnect waiting for its sync before the session
// check.
type revalidation struct {
	cc  *clientConn
	req *jute.ConnectRequest
}

// onRevalidated finishes a reconnect once the sync completed.
func (s *Server) onRevalidated(rv revalidation, err error) {
	st := &s.st
	cc := rv.cc
	cc.connecting = false
	if _, open := st.conns[cc]; !open {
		return
	}
	if err != nil {
		cc.close()
		return
	}
	if !s.tree.HasSession(znode.SessionID(rv.req.SessionID)) {
		s.refuseSession(cc)
		return
	}
	s.attachSession(cc, rv.req)
}

// attachSession binds a reconnecting client to its live session.
func (s *Server) attachSession(cc *clientConn, req *jute.ConnectRequest) {
	st := &s.st
	timeout := time.Duration(req.TimeOut) * time.Millisecond
	timeout = max(timeout, s.cfg.MinSession())
	timeout = min(timeout, s.cfg.MaxSession())
	toMs := int32(timeout.Milliseconds())
	// Reattach: a connection of this session already here is replaced.
	if old := st.sessions[req.SessionID]; old != nil && old.conn != nil && old.conn != cc {
		old.conn.close()
	}
	cc.session = req.SessionID
	st.sessions[req.SessionID] = &localSession{id: req.SessionID, timeout: toMs, conn: cc}
	s.touch(req.SessionID)
	cc.send(jute.AppendFrame(nil, &jute.ConnectResponse{TimeOut: toMs, SessionID: req.SessionID, Passwd: sessionPassword(req.SessionID), HasReadOnly: cc.hasReadOnly}), false)
}

// touch records client activity on a session: the leader moves its
// deadline; a follower collects it for the next touch batch.
func (s *Server) touch(id int64) {
	st := &s.st
	switch st.soft.State {
	case zab.StateLeading:
		if ts := st.tracker[id]; ts != nil && !ts.closing {
			ts.deadline = s.clock.Real().Add(ts.timeout)
		}
	case zab.StateFollowing:
		st.touched[id] = struct{}{}
	}
}

// onRequest queues a client request behind the session's earlier ones and
// starts it: writes are prepared (leader) or forwarded, syncs go to the core.
func (s *Server) onRequest(ev clientEvent) {
	st := &s.st
	cc := ev.conn
	if cc.session == 0 || cc.connecting || cc.closing {
		return
	}
	ls := st.sessions[cc.session]
	if ls == nil || ls.conn != cc {
		return
	}
	s.touch(cc.session)
	op := &pendingOp{ev: ev}
	switch {
	case ev.badOp:
	case isWrite(ev.op):
		op.write = true
		if ev.op == jute.OpCloseSession {
			cc.closing = true
		}
	case ev.op == jute.OpSync:
		op.sync = true
	}
	if len(ls.queue) >= s.cfg.ClientQueueLen {
		cc.logger.Warn("client has too many outstanding requests; closing", "session", fmt.Sprintf("%#x", cc.session), "limit", s.cfg.ClientQueueLen)
		cc.close()
		return
	}
	if st.diskErr != nil {
		if code, refuse := readOnlyRefusal(ev.op); refuse {
			op.write, op.sync, op.refused = false, false, code
		}
	}
	ls.queue = append(ls.queue, op)
	switch {
	case op.write:
		if st.soft.State == zab.StateLeading {
			s.submitPrepared(&znode.Request{Op: ev.op, Body: ev.body, Session: znode.SessionID(cc.session), Cxid: ev.hdr.Xid,
				Time: s.clock.Now().UnixMilli(), Auth: cc.auth})
		} else {
			payload := jute.AppendRequest(nil, ev.hdr, ev.body)[4:]
			if err := s.node.Forward(encodeForwardWrite(cc.session, cc.auth, payload)); err != nil {
				cc.close()
				return
			}
		}
	case op.sync:
		st.nextReq++
		id := st.nextReq
		if err := s.node.Sync(id); err != nil {
			op.done, op.syncErr = true, err
		} else {
			st.syncs[id] = op
		}
	}
	s.drainSession(ls)
}

// submitPrepared prepares a write on the leader and proposes it (or queues
// it in the backlog when the core's outstanding window is full).
func (s *Server) submitPrepared(req *znode.Request) {
	txn, err := s.tree.Prepare(req)
	if err != nil {
		// Not a write, or a body that does not match the op: a bug in the
		// caller (requests are classified with isWrite and decoded by jute).
		s.logger.Error("prepare refused a request", "op", req.Op.String(), "err", err)
		return
	}
	b := txn.Marshal()
	s.propose(b)
}

func (s *Server) propose(b []byte) {
	st := &s.st
	if len(st.backlog) > 0 {
		st.backlog = append(st.backlog, b)
		return
	}
	_, err := s.node.Propose(b)
	switch {
	case err == nil:
		s.metrics.proposals.Inc()
		st.propLast = len(b)
		st.propMin = min(nonZero(st.propMin, len(b)), len(b))
		st.propMax = max(st.propMax, len(b))
	case errors.Is(err, zab.ErrProposalsFull):
		st.backlog = append(st.backlog, b)
	default:
		// No longer leading: what was prepared will not be applied.
		s.tree.ResetPending()
		st.backlog = nil
	}
}

func nonZero(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// flushBacklog proposes backlogged txns while the core has room.
func (s *Server) flushBacklog() {
	st := &s.st
	if st.diskErr != nil {
		return
	}
	for len(st.backlog) > 0 {
		_, err := s.node.Propose(st.backlog[0])
		if errors.Is(err, zab.ErrProposalsFull) {
			return
		}
		if err != nil {
			s.tree.ResetPending()
			st.backlog = nil
			return
		}
		s.metrics.proposals.Inc()
		st.backlog = st.backlog[1:]
	}
}

// onForwarded handles a request a follower forwarded to this leader.
func (s *Server) onForwarded(r zab.Request) {
	st := &s.st
	if st.soft.State != zab.StateLeading {
		return
	}
	f, err := decodeForward(r.Data)
	if err != nil {
		s.logger.Warn("dropping malformed forwarded request", "peer", r.From, "err", err)
		return
	}
	now := s.clock.Now().UnixMilli()
	switch f.kind {
	case fwdTouch:
		for _, id := range f.touches {
			s.touch(id)
		}
	case fwdCreateSession:
		s.submitPrepared(&znode.Request{Op: jute.OpCreateSession, Session: znode.SessionID(f.session), Time: now, Timeout: f.timeout})
	case fwdWrite:
		s.touch(f.session)
		s.submitPrepared(&znode.Request{Op: f.hdr.Type, Body: f.body, Session: znode.SessionID(f.session), Cxid: f.hdr.Xid, Time: now, Auth: f.auth})
	}
}

// forward is a decoded forwarded request.
type forward struct {
	kind    byte
	session int64
	timeout int32
	touches []int64
	auth    []jute.Id
	hdr     jute.RequestHeader
	body    jute.Record
}

// decodeForward decodes what encodeTouch, encodeForwardWrite and onConnect
// (createSession) produce. It never panics; bad input is an error.
func decodeForward(b []byte) (forward, error) {
	var f forward
	if len(b) == 0 {
		return f, errors.New("empty forwarded request")
	}
	f.kind = b[0]
	fr := &fwdReader{b: b[1:]}
	switch f.kind {
	case fwdTouch:
		n := fr.uvarint()
		if n > uint64(len(fr.b)) {
			return f, fmt.Errorf("touch count %d exceeds the %d bytes left", n, len(fr.b))
		}
		for i := uint64(0); i < n && fr.err == nil; i++ {
			f.touches = append(f.touches, fr.varint())
		}
	case fwdCreateSession:
		f.session = fr.varint()
		to := fr.varint()
		if fr.err == nil && (to <= 0 || to > 1<<31-1) {
			return f, fmt.Errorf("createSession timeout %d out of range", to)
		}
		f.timeout = int32(to)
	case fwdWrite:
		f.session = fr.varint()
		n := fr.uvarint()
		if n > uint64(len(fr.b)) {
			return f, fmt.Errorf("auth count %d exceeds the %d bytes left", n, len(fr.b))
		}
		for i := uint64(0); i < n && fr.err == nil; i++ {
			f.auth = append(f.auth, jute.Id{Scheme: fr.str(), ID: fr.str()})
		}
		if fr.err != nil {
			return f, fr.err
		}
		hdr, body, err := jute.DecodeRequest(fr.b)
		if err != nil {
			return f, fmt.Errorf("forwarded write: %w", err)
		}
		if !isWrite(hdr.Type) {
			return f, fmt.Errorf("forwarded %s is not a write", hdr.Type)
		}
		f.hdr, f.body = hdr, body
		return f, nil
	default:
		return f, fmt.Errorf("unknown kind %d", f.kind)
	}
	if fr.err == nil && len(fr.b) != 0 {
		fr.err = fmt.Errorf("%d trailing bytes", len(fr.b))
	}
	return f, fr.err
}

// onApplied answers the client of a txn that was just applied, if it is
// connected here, and keeps the session table and tracker current.
func (s *Server) onApplied(zxid zab.Zxid, txn *znode.Txn, res znode.Result) {
	st := &s.st
	id := int64(txn.Session)
	switch txn.Type {
	case znode.TxnCreateSession:
		if st.soft.State == zab.StateLeading {
			to := time.Duration(txn.Timeout) * time.Millisecond
			st.tracker[id] = &trackedSession{timeout: to, deadline: s.clock.Real().Add(to)}
		}
		cc := st.connecting[id]
		if cc == nil {
			return
		}
		delete(st.connecting, id)
		cc.connecting = false
		ls := st.sessions[id]
		ls.conn = cc
		cc.send(jute.AppendFrame(nil, &jute.ConnectResponse{TimeOut: txn.Timeout, SessionID: id, Passwd: sessionPassword(id), HasReadOnly: cc.hasReadOnly}), false)
		return
	case znode.TxnCloseSession:
		delete(st.tracker, id)
		ls := st.sessions[id]
		if ls == nil {
			return
		}
		delete(st.sessions, id)
		if ls.conn == nil {
			return
		}
		// Answer a client's own closeSession; an expiry just drops the
		// connection, and the client learns on reconnect.
		for _, op := range ls.queue {
			if op.write && !op.done && op.ev.op == jute.OpCloseSession && op.ev.hdr.Xid == txn.Cxid {
				s.reply(ls.conn, op, jute.ReplyHeader{Xid: op.ev.hdr.Xid, Zxid: int64(zxid)}, nil, true)
				return
			}
		}
		ls.conn.close()
		return
	}
	if id == 0 {
		return
	}
	ls := st.sessions[id]
	if ls == nil || ls.conn == nil {
		return
	}
	for _, op := range ls.queue {
		if op.write && !op.done {
			if op.ev.hdr.Xid != txn.Cxid {
				// Not this session's oldest outstanding write: the client
				// reconnected and its earlier requests were dropped.
				return
			}
			op.done, op.result, op.resultOK = true, res, true
			s.drainSession(ls)
			return
		}
	}
}

// drainSession answers the session's queued requests from the front while
// they are ready: a write once its txn applied, a sync once the core
// completed it, a read at once (it saw every earlier write of the session).
func (s *Server) drainSession(ls *localSession) {
	for len(ls.queue) > 0 {
		op := ls.queue[0]
		if (op.write || op.sync) && !op.done {
			return
		}
		ls.queue[0] = nil
		ls.queue = ls.queue[1:]
		s.answer(ls, op)
	}
}

// answer builds and sends the reply to op.
func (s *Server) answer(ls *localSession, op *pendingOp) {
	st := &s.st
	cc := ls.conn
	ev := op.ev
	hdr := jute.ReplyHeader{Xid: ev.hdr.Xid, Zxid: int64(st.applied)}
	var body jute.Record
	switch {
	case op.refused != jute.ZOK:
		hdr.Err = op.refused
		s.reply(cc, op, hdr, nil, ev.op == jute.OpCloseSession)
		return
	case ev.badOp:
		hdr.Err = jute.ZUNIMPLEMENTED
	case op.write:
		body, hdr.Err = writeReply(ev, op.result)
	case op.sync:
		if op.syncErr != nil {
			// The leader was lost; the client sees the connection drop
			// (ZooKeeper's behaviour when its server leaves the quorum).
			cc.close()
			return
		}
		body = &jute.PathRequest{Path: ev.body.(*jute.PathRequest).Path}
	default:
		body, hdr.Err = s.read(cc, ev)
		if ev.op == jute.OpPing {
			hdr.Xid = jute.XidPing
		}
	}
	// A failed addauth closes the connection after the reply, as ZooKeeper.
	s.reply(cc, op, hdr, body, ev.op == jute.OpAuth && hdr.Err == jute.ZAUTHFAILED)
}

func (s *Server) reply(cc *clientConn, op *pendingOp, hdr jute.ReplyHeader, body jute.Record, closeAfter bool) {
	if op.ev.op != jute.OpPing {
		d := time.Since(op.ev.at)
		s.st.lat.add(d)
		kind := "read"
		switch {
		case op.write:
			kind = "write"
		case op.sync:
			kind = "sync"
		}
		s.metrics.requestSeconds.WithLabelValues(kind).Observe(d.Seconds())
	}
	cc.send(jute.AppendReply(nil, hdr, body), closeAfter)
}

// writeReply turns an applied txn's result into the reply body for op.
func writeReply(ev clientEvent, res znode.Result) (jute.Record, jute.Code) {
	if ev.op == jute.OpMulti {
		req := ev.body.(*jute.MultiRequest)
		out := &jute.MultiResponse{}
		failed := false
		for _, r := range res.Multi {
			if r.Err != jute.ZOK {
				failed = true
			}
		}
		for i, r := range res.Multi {
			if failed {
				out.Results = append(out.Results, jute.MultiResult{Type: jute.OpError, Err: r.Err})
				continue
			}
			var t jute.Op
			if i < len(req.Ops) {
				t = req.Ops[i].Type
			}
			mr := jute.MultiResult{Type: t}
			switch t {
			case jute.OpCreate:
				mr.Body = &jute.CreateResponse{Path: r.Path}
			case jute.OpCreate2, jute.OpCreateTTL, jute.OpCreateContainer:
				mr.Type = jute.OpCreate2
				mr.Body = &jute.Create2Response{Path: r.Path, Stat: r.Stat}
			case jute.OpSetData:
				mr.Body = &jute.StatResponse{Stat: r.Stat}
			}
			out.Results = append(out.Results, mr)
		}
		if len(res.Multi) == 0 && res.Err != jute.ZOK {
			return nil, res.Err
		}
		return out, jute.ZOK
	}
	if res.Err != jute.ZOK {
		return nil, res.Err
	}
	switch ev.op {
	case jute.OpCreate:
		return &jute.CreateResponse{Path: res.Path}, jute.ZOK
	case jute.OpCreate2, jute.OpCreateTTL, jute.OpCreateContainer:
		return &jute.Create2Response{Path: res.Path, Stat: res.Stat}, jute.ZOK
	case jute.OpSetData, jute.OpSetACL, jute.OpCheck:
		return &jute.StatResponse{Stat: res.Stat}, jute.ZOK
	}
	return nil, jute.ZOK
}

// read serves a read (or session-local) request from the applied tree.
func (s *Server) read(cc *clientConn, ev clientEvent) (jute.Record, jute.Code) {
	t := s.tree
	conn := znode.ConnID(cc.id)
	watch := func(w bool) znode.ConnID {
		if w {
			return conn
		}
		return 0
	}
	switch ev.op {
	case jute.OpPing:
		return nil, jute.ZOK
	case jute.OpExists:
		r := ev.body.(*jute.PathWatchRequest)
		stat, err := t.Exists(r.Path, cc.auth, watch(r.Watch))
		return &jute.StatResponse{Stat: stat}, jute.CodeOf(err)
	case jute.OpGetData:
		r := ev.body.(*jute.PathWatchRequest)
		data, stat, err := t.GetData(r.Path, cc.auth, watch(r.Watch))
		return &jute.GetDataResponse{Data: data, Stat: stat}, jute.CodeOf(err)
	case jute.OpGetChildren:
		r := ev.body.(*jute.PathWatchRequest)
		kids, _, err := t.Children(r.Path, cc.auth, watch(r.Watch))
		return &jute.GetChildrenResponse{Children: kids}, jute.CodeOf(err)
	case jute.OpGetChildren2:
		r := ev.body.(*jute.PathWatchRequest)
		kids, stat, err := t.Children(r.Path, cc.auth, watch(r.Watch))
		return &jute.GetChildren2Response{Children: kids, Stat: stat}, jute.CodeOf(err)
	case jute.OpGetACL:
		r := ev.body.(*jute.PathRequest)
		acl, stat, err := t.GetACL(r.Path, cc.auth)
		return &jute.GetACLResponse{ACL: acl, Stat: stat}, jute.CodeOf(err)
	case jute.OpGetAllChildrenNumber:
		r := ev.body.(*jute.PathRequest)
		n, err := t.AllChildrenNumber(r.Path, cc.auth)
		return &jute.GetAllChildrenNumberResponse{TotalNumber: n}, jute.CodeOf(err)
	case jute.OpGetEphemerals:
		r := ev.body.(*jute.PathRequest)
		return &jute.GetEphemeralsResponse{Ephemerals: t.Ephemerals(znode.SessionID(cc.session), r.Path)}, jute.ZOK
	case jute.OpAddWatch:
		r := ev.body.(*jute.AddWatchRequest)
		return &jute.ErrorResponse{}, jute.CodeOf(t.AddWatch(conn, r.Path, r.Mode))
	case jute.OpCheckWatches, jute.OpRemoveWatches:
		r := ev.body.(*jute.WatchesRequest)
		return nil, jute.CodeOf(t.RemoveWatches(conn, r.Path, r.Type, ev.op == jute.OpRemoveWatches))
	case jute.OpSetWatches, jute.OpSetWatches2:
		for _, we := range t.SetWatches(conn, ev.body.(*jute.SetWatches)) {
			cc.send(jute.AppendNotification(nil, int64(we.Zxid), we.Type, we.Path), false)
		}
		return nil, jute.ZOK
	case jute.OpAuth:
		r := ev.body.(*jute.AuthPacket)
		if r.Scheme != "digest" {
			cc.closing = true
			return nil, jute.ZAUTHFAILED
		}
		id, err := znode.DigestID(string(r.Auth))
		if err != nil {
			cc.closing = true
			return nil, jute.ZAUTHFAILED
		}
		cc.auth = append(cc.auth, id)
		return nil, jute.ZOK
	case jute.OpWhoAmI:
		out := &jute.WhoAmIResponse{}
		for _, id := range cc.auth {
			out.ClientInfo = append(out.ClientInfo, jute.ClientInfo{AuthScheme: id.Scheme, User: id.ID})
		}
		return out, jute.ZOK
	case jute.OpMultiRead:
		return s.multiRead(cc, ev.body.(*jute.MultiRequest))
	}
	return nil, jute.ZUNIMPLEMENTED
}

func (s *Server) multiRead(cc *clientConn, req *jute.MultiRequest) (jute.Record, jute.Code) {
	out := &jute.MultiResponse{}
	for _, op := range req.Ops {
		r, ok := op.Body.(*jute.PathWatchRequest)
		if !ok {
			out.Results = append(out.Results, jute.MultiResult{Type: jute.OpError, Err: jute.ZBADARGUMENTS})
			continue
		}
		switch op.Type {
		case jute.OpGetData:
			data, stat, err := s.tree.GetData(r.Path, cc.auth, 0)
			if err != nil {
				out.Results = append(out.Results, jute.MultiResult{Type: jute.OpError, Err: jute.CodeOf(err)})
				continue
			}
			out.Results = append(out.Results, jute.MultiResult{Type: jute.OpGetData, Body: &jute.GetDataResponse{Data: data, Stat: stat}})
		case jute.OpGetChildren:
			kids, _, err := s.tree.Children(r.Path, cc.auth, 0)
			if err != nil {
				out.Results = append(out.Results, jute.MultiResult{Type: jute.OpError, Err: jute.CodeOf(err)})
				continue
			}
			out.Results = append(out.Results, jute.MultiResult{Type: jute.OpGetChildren, Body: &jute.GetChildrenResponse{Children: kids}})
		default:
			out.Results = append(out.Results, jute.MultiResult{Type: jute.OpError, Err: jute.ZBADARGUMENTS})
		}
	}
	return out, jute.ZOK
}

// expireSessions proposes a CloseSession for every session whose deadline
// passed (leader only).
func (s *Server) expireSessions(now time.Time) {
	st := &s.st
	var expired []int64
	for id, ts := range st.tracker {
		if !ts.closing && now.After(ts.deadline) {
			expired = append(expired, id)
		}
	}
	slices.Sort(expired)
	for _, id := range expired {
		st.tracker[id].closing = true
		s.metrics.sessionsExpired.Inc()
		s.logger.Info("session expired", "session", fmt.Sprintf("%#x", id))
		s.submitPrepared(&znode.Request{Op: jute.OpCloseSession, Session: znode.SessionID(id), Time: now.UnixMilli()})
	}
}

// reapNodes deletes empty containers and expired TTL nodes (leader only).
func (s *Server) reapNodes(now time.Time) {
	paths := append(s.tree.ContainersToDelete(), s.tree.ExpiredTTLs(now.UnixMilli())...)
	for _, p := range paths {
		s.submitPrepared(&znode.Request{Op: jute.OpDeleteContainer, Body: &jute.PathRequest{Path: p}, Time: now.UnixMilli()})
	}
}
