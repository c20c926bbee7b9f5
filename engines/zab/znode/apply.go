package znode

import (
	"fmt"
	"slices"

	"coordlab/engines/zab/jute"
)

// Result is what applying a txn produced, for the reply to its client.
type Result struct {
	Err   jute.Code // ZOK, or the error code (an Error txn's code, or why the txn did not fit the tree)
	Path  string    // Create: the node's path (sequence suffix included)
	Stat  jute.Stat // Create: the new node's; SetData, SetACL: the changed node's
	Multi []Result  // Multi: one per op, in order; in a failed multi each has only Err set
}

// Apply applies a committed txn at zxid and returns its result and the
// watch events it fired (in ZooKeeper's order; the slice is reused by the
// next Apply). Every member calls it with the same txns in zxid order and
// gets the same tree. zxid must be above LastZxid.
func (t *Tree) Apply(zxid Zxid, txn *Txn) (Result, []WatchEvent) {
	if zxid <= t.lastZxid {
		panic(fmt.Sprintf("znode: apply zxid %v not above last applied %v (txn %v)", zxid, t.lastZxid, txn.Type))
	}
	t.lastZxid = zxid
	t.p.applied(txn)
	t.events = t.events[:0]
	var res Result
	if txn.Type == TxnMulti {
		res = t.applyMulti(zxid, txn)
	} else {
		res = t.applyOne(zxid, txn)
	}
	return res, t.events
}

func (t *Tree) applyMulti(zxid Zxid, txn *Txn) Result {
	res := Result{Multi: make([]Result, len(txn.Ops))}
	for i := range txn.Ops {
		op := &txn.Ops[i]
		if op.Type == TxnMulti {
			res.Multi[i] = Result{Err: jute.ZBADARGUMENTS}
			continue
		}
		res.Multi[i] = t.applyOne(zxid, op)
	}
	return res
}

func (t *Tree) applyOne(zxid Zxid, txn *Txn) Result {
	switch txn.Type {
	case TxnCreateSession:
		t.sessions[txn.Session] = txn.Timeout
		return Result{}
	case TxnCloseSession:
		paths := make([]string, 0, len(t.ephemerals[txn.Session]))
		for p := range t.ephemerals[txn.Session] {
			paths = append(paths, p)
		}
		slices.Sort(paths)
		for _, p := range paths {
			t.deleteNode(zxid, p)
		}
		delete(t.sessions, txn.Session)
		delete(t.ephemerals, txn.Session)
		return Result{}
	case TxnCreate:
		return t.createNode(zxid, txn)
	case TxnDelete:
		return Result{Err: t.deleteNode(zxid, txn.Path)}
	case TxnSetData:
		n := t.nodes[txn.Path]
		if n == nil {
			return Result{Err: jute.ZNONODE}
		}
		t.dataSize += int64(len(txn.Data) - len(n.data))
		if q := t.quotaPrefix(txn.Path); q != "" {
			t.quotaAdd(q, int64(len(txn.Data)-len(n.data)), 0)
		}
		n.data = txn.Data // nil stays nil: ZooKeeper returns null data (zkCli prints "null")
		n.stat.Version = txn.Version
		n.stat.Mzxid = int64(zxid)
		n.stat.Mtime = txn.Time
		t.events = t.w.trigger(t.events, tableData, jute.EventNodeDataChanged, txn.Path, zxid, -1)
		return Result{Stat: n.fullStat()}
	case TxnSetACL:
		n := t.nodes[txn.Path]
		if n == nil {
			return Result{Err: jute.ZNONODE}
		}
		n.acl = txn.ACL
		n.stat.Aversion = txn.Version
		return Result{Stat: n.fullStat()}
	case TxnCheck:
		if t.nodes[txn.Path] == nil {
			return Result{Err: jute.ZNONODE}
		}
		return Result{}
	case TxnError:
		return Result{Err: txn.Err}
	}
	return Result{Err: jute.ZBADARGUMENTS}
}

func (t *Tree) createNode(zxid Zxid, txn *Txn) Result {
	if txn.Path == "/" || !validPath(txn.Path) {
		return Result{Err: jute.ZBADARGUMENTS}
	}
	ppath := parentOf(txn.Path)
	parent := t.nodes[ppath]
	if parent == nil {
		return Result{Err: jute.ZNONODE}
	}
	if t.nodes[txn.Path] != nil {
		return Result{Err: jute.ZNODEEXISTS}
	}
	n := &node{data: txn.Data, acl: txn.ACL, kind: txn.Kind}
	n.stat = jute.Stat{Czxid: int64(zxid), Mzxid: int64(zxid), Pzxid: int64(zxid), Ctime: txn.Time, Mtime: txn.Time}
	switch txn.Kind {
	case KindEphemeral:
		n.stat.EphemeralOwner = int64(txn.Session)
		set := t.ephemerals[txn.Session]
		if set == nil {
			set = map[string]struct{}{}
			t.ephemerals[txn.Session] = set
		}
		set[txn.Path] = struct{}{}
	case KindContainer:
		n.stat.EphemeralOwner = ContainerOwner
	case KindTTL:
		n.ttl = txn.TTL
		n.stat.EphemeralOwner = ttlOwnerMask | txn.TTL
	}
	t.nodes[txn.Path] = n
	t.dataSize += int64(len(txn.Path) + len(n.data))
	parent.addChild(baseOf(txn.Path))
	// As ZooKeeper's DataTree.createNode: the txn carries the parent's
	// cversion after this create, and a delete does not change cversion.
	if txn.ParentCVersion > parent.stat.Cversion {
		parent.stat.Cversion = txn.ParentCVersion
	} else {
		parent.stat.Cversion++
	}
	parent.stat.Pzxid = int64(zxid)
	t.quotaAfterCreate(txn.Path, len(n.data))
	t.events = t.w.trigger(t.events, tableData, jute.EventNodeCreated, txn.Path, zxid, -1)
	t.events = t.w.trigger(t.events, tableChild, jute.EventNodeChildrenChanged, ppath, zxid, -1)
	return Result{Path: txn.Path, Stat: n.fullStat()}
}

func (t *Tree) deleteNode(zxid Zxid, path string) jute.Code {
	if path == "/" || !validPath(path) {
		return jute.ZBADARGUMENTS
	}
	n := t.nodes[path]
	if n == nil {
		return jute.ZNONODE
	}
	if len(n.children) > 0 {
		return jute.ZNOTEMPTY
	}
	ppath := parentOf(path)
	parent := t.nodes[ppath]
	if q := t.quotaPrefix(path); q != "" {
		t.quotaAdd(q, -int64(len(n.data)), -1)
	}
	delete(t.nodes, path)
	t.dataSize -= int64(len(path) + len(n.data))
	if n.kind == KindEphemeral {
		owner := SessionID(n.stat.EphemeralOwner)
		// The (maybe empty) set stays until CloseSession: a lock client
		// creates and deletes its ephemeral over and over.
		delete(t.ephemerals[owner], path)
	}
	if parent != nil {
		delete(parent.children, baseOf(path))
		if int64(zxid) > parent.stat.Pzxid {
			parent.stat.Pzxid = int64(zxid)
		}
	}
	// As DataTree.deleteNode: data watches, then child watches not already
	// notified, then the parent's child watches.
	start := len(t.events)
	t.events = t.w.trigger(t.events, tableData, jute.EventNodeDeleted, path, zxid, -1)
	t.events = t.w.trigger(t.events, tableChild, jute.EventNodeDeleted, path, zxid, start)
	t.events = t.w.trigger(t.events, tableChild, jute.EventNodeChildrenChanged, ppath, zxid, -1)
	return jute.ZOK
}
