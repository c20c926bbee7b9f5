package znode

import (
	"testing"

	"coordlab/engines/zab/jute"
)

// reqPayload is a client request as it arrives after the frame length.
func reqPayload(xid int32, op jute.Op, body jute.Record) []byte {
	return jute.AppendRequest(nil, jute.RequestHeader{Xid: xid, Type: op}, body)[4:]
}

// fuzzTree is a tree with two sessions and a few nodes of each kind.
func fuzzTree(t testing.TB) *harness {
	h := newHarness(t)
	h.session(1)
	h.session(2)
	alice := DigestID("alice:pw")
	h.mustCreate(1, "/a", "x", 0)
	h.mustCreate(1, "/a/b", "y", 0)
	h.mustCreate(2, "/eph", "", jute.FlagEphemeral)
	h.mustCreate(1, "/c", "", jute.FlagContainer)
	h.mustCreate(1, "/c/s-", "", jute.FlagPersistentSequential)
	if res, _ := h.write(1, jute.OpCreate, &jute.CreateRequest{Path: "/locked", ACL: []jute.ACL{{Perms: jute.PermAll, ID: alice}}}); res.Err != jute.ZOK {
		t.Fatalf("create /locked: %v", res.Err)
	}
	return h
}

// FuzzPrepareRequests decodes up to three client requests as the server does
// (jute.DecodeRequest), prepares them all on a tree (the pipelined case:
// each sees the changes of the ones before it) and applies them, as the
// log would, on the tree and on a replica. No panic; Prepare errors only for
// a non-write; what Prepare accepted applies as prepared (an Error txn gives
// its code, anything else succeeds, op by op in a multi); and both trees
// end with the same digest.
func FuzzPrepareRequests(f *testing.F) {
	open := jute.OpenACLUnsafe()
	f.Add(byte(1), reqPayload(1, jute.OpCreate, &jute.CreateRequest{Path: "/a/n", Data: []byte("d"), ACL: open}),
		reqPayload(2, jute.OpSetData, &jute.SetDataRequest{Path: "/a/n", Data: []byte("e"), Version: 0}),
		reqPayload(3, jute.OpDelete, &jute.DeleteRequest{Path: "/a/n", Version: 1}))
	f.Add(byte(2), reqPayload(1, jute.OpMulti, &jute.MultiRequest{Ops: []jute.MultiOp{
		{Type: jute.OpCheck, Body: &jute.CheckVersionRequest{Path: "/a", Version: 0}},
		{Type: jute.OpCreate, Body: &jute.CreateRequest{Path: "/a/m", ACL: open, Flags: jute.FlagEphemeralSequential}},
		{Type: jute.OpDelete, Body: &jute.DeleteRequest{Path: "/a/b", Version: -1}},
	}}), reqPayload(2, jute.OpCloseSession, nil), reqPayload(3, jute.OpDelete, &jute.DeleteRequest{Path: "/eph", Version: -1}))
	f.Add(byte(1), reqPayload(1, jute.OpCreateTTL, &jute.CreateTTLRequest{Path: "/t", ACL: open, Flags: jute.FlagPersistentWithTTL, TTL: 1000}),
		reqPayload(2, jute.OpCreateContainer, &jute.CreateRequest{Path: "/c2", ACL: open, Flags: jute.FlagContainer}),
		reqPayload(3, jute.OpDeleteContainer, &jute.PathRequest{Path: "/c"}))
	f.Add(byte(1), reqPayload(1, jute.OpSetACL, &jute.SetACLRequest{Path: "/locked", ACL: open, Version: -1}),
		reqPayload(2, jute.OpSetData, &jute.SetDataRequest{Path: "/locked", Data: []byte("no"), Version: -1}),
		reqPayload(3, jute.OpGetData, &jute.PathWatchRequest{Path: "/a"}))
	f.Add(byte(3), reqPayload(1, jute.OpCreate, &jute.CreateRequest{Path: "/x/y", ACL: open}),
		reqPayload(2, jute.OpCreate, &jute.CreateRequest{Path: "/bad//path", ACL: open}),
		reqPayload(3, jute.OpCreate, &jute.CreateRequest{Path: "/noacl"}))
	f.Fuzz(func(t *testing.T, sess byte, p1, p2, p3 []byte) {
		h := fuzzTree(t)
		replica := fuzzTree(t)
		session := SessionID(sess % 4) // 0: the server itself, 1 and 2 alive, 3 unknown
		var txns []Txn
		for _, p := range [][]byte{p1, p2, p3} {
			hdr, body, err := jute.DecodeRequest(p)
			if err != nil {
				continue
			}
			req := Request{Op: hdr.Type, Body: body, Session: session, Cxid: hdr.Xid, Time: h.now}
			if hdr.Type == jute.OpCreateSession {
				req.Timeout = 10000
			}
			txn, err := h.tree.Prepare(&req)
			if err != nil {
				if err != ErrNotWrite && txn.Type != 0 {
					t.Fatalf("Prepare failed with a txn: %v %+v", err, txn)
				}
				continue
			}
			txns = append(txns, txn)
		}
		for _, txn := range txns {
			b := txn.Marshal()
			got, err := UnmarshalTxn(b)
			if err != nil {
				t.Fatalf("UnmarshalTxn(Marshal(%+v)): %v", txn, err)
			}
			h.zxid++
			res, _ := h.tree.Apply(h.zxid, got)
			checkApplied(t, txn, res)
			again, err := UnmarshalTxn(b)
			if err != nil {
				t.Fatal(err)
			}
			replica.zxid++
			replica.tree.Apply(replica.zxid, again)
		}
		if h.tree.PendingCount() != 0 {
			t.Fatalf("%d prepared txns pending after all applied", h.tree.PendingCount())
		}
		if h.tree.Digest() != replica.tree.Digest() {
			t.Fatal("replica applying the same txns has a different digest")
		}
	})
}

func checkApplied(t *testing.T, txn Txn, res Result) {
	t.Helper()
	switch txn.Type {
	case TxnError:
		if res.Err != txn.Err {
			t.Fatalf("Error txn %v applied as %v", txn.Err, res.Err)
		}
	case TxnMulti:
		if len(res.Multi) != len(txn.Ops) {
			t.Fatalf("multi of %d ops gave %d results", len(txn.Ops), len(res.Multi))
		}
		for i, op := range txn.Ops {
			want := jute.ZOK
			if op.Type == TxnError {
				want = op.Err
			}
			if res.Multi[i].Err != want {
				t.Fatalf("multi op %d (%v) prepared to give %v, applied as %v", i, op.Type, want, res.Multi[i].Err)
			}
		}
	default:
		if res.Err != jute.ZOK {
			t.Fatalf("prepared %v %q applied as %v", txn.Type, txn.Path, res.Err)
		}
	}
}
