package znode

import (
	"slices"
	"testing"

	"coordlab/engines/zab/jute"
)

// harness drives a Tree the way the server does: Prepare on the leader,
// Marshal/Unmarshal through the log, Apply at the next zxid.
type harness struct {
	t    testing.TB
	tree *Tree
	zxid Zxid
	now  int64
}

func newHarness(t testing.TB) *harness {
	tree := New()
	tree.SetExtendedTypes(true) // TTL nodes, as with zookeeper.extendedTypesEnabled=true
	return &harness{t: t, tree: tree, now: 1_700_000_000_000}
}

// prepare runs Prepare and fails the test on a non-Code error.
func (h *harness) prepare(req Request) Txn {
	h.t.Helper()
	if req.Time == 0 {
		req.Time = h.now
	}
	txn, err := h.tree.Prepare(&req)
	if err != nil {
		h.t.Fatalf("Prepare(%v %#v): %v", req.Op, req.Body, err)
	}
	return txn
}

// apply sends txn through Marshal/Unmarshal and applies it at the next
// zxid; it returns a copy of the events.
func (h *harness) apply(txn Txn) (Result, []WatchEvent) {
	h.t.Helper()
	b := txn.Marshal()
	got, err := UnmarshalTxn(b)
	if err != nil {
		h.t.Fatalf("UnmarshalTxn(Marshal(%+v)): %v", txn, err)
	}
	h.zxid++
	res, ev := h.tree.Apply(h.zxid, got)
	return res, slices.Clone(ev)
}

func (h *harness) write(sess SessionID, op jute.Op, body jute.Record, auth ...jute.Id) (Result, []WatchEvent) {
	h.t.Helper()
	return h.apply(h.prepare(Request{Op: op, Body: body, Session: sess, Auth: auth}))
}

func (h *harness) session(id SessionID) {
	h.t.Helper()
	res, _ := h.apply(h.prepare(Request{Op: jute.OpCreateSession, Session: id, Timeout: 10000}))
	if res.Err != jute.ZOK {
		h.t.Fatalf("create session %d: %v", id, res.Err)
	}
}

func (h *harness) create(sess SessionID, path string, data string, flags int32) Result {
	h.t.Helper()
	op := jute.OpCreate
	if flags == jute.FlagContainer {
		op = jute.OpCreateContainer
	}
	res, _ := h.write(sess, op, &jute.CreateRequest{Path: path, Data: []byte(data), ACL: jute.OpenACLUnsafe(), Flags: flags})
	return res
}

func (h *harness) mustCreate(sess SessionID, path string, data string, flags int32) string {
	h.t.Helper()
	res := h.create(sess, path, data, flags)
	if res.Err != jute.ZOK {
		h.t.Fatalf("create %s: %v", path, res.Err)
	}
	return res.Path
}

func (h *harness) stat(path string) jute.Stat {
	h.t.Helper()
	st, err := h.tree.Exists(path, nil, 0)
	if err != nil {
		h.t.Fatalf("Exists(%s): %v", path, err)
	}
	return st
}

func (h *harness) exists(path string) bool {
	_, err := h.tree.Exists(path, nil, 0)
	return err == nil
}
