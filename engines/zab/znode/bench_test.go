package znode

import (
	"testing"

	"coordlab/engines/zab/jute"
)

// BenchmarkWritePath measures the leader's per-write work in the tree for
// the benchmark's 256-byte setData: Prepare, Marshal, Unmarshal, Apply.
func BenchmarkWritePath(b *testing.B) {
	h := newHarness(b)
	h.session(s1)
	h.mustCreate(s1, "/bench", "", 0)
	data := make([]byte, 256)
	req := Request{Op: jute.OpSetData, Session: s1, Time: 1, Body: &jute.SetDataRequest{Path: "/bench", Data: data, Version: -1}}
	var buf []byte
	var txn Txn
	zxid := h.zxid
	b.ReportAllocs()
	for b.Loop() {
		prepared, err := h.tree.Prepare(&req)
		if err != nil {
			b.Fatal(err)
		}
		buf = prepared.AppendMarshal(buf[:0])
		if err := txn.Unmarshal(buf); err != nil {
			b.Fatal(err)
		}
		zxid++
		if res, _ := h.tree.Apply(zxid, &txn); res.Err != jute.ZOK {
			b.Fatal(res.Err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkPrepareSetData and BenchmarkApplySetData split the write path.
func BenchmarkPrepareSetData(b *testing.B) {
	h := newHarness(b)
	h.session(s1)
	h.mustCreate(s1, "/bench", "", 0)
	req := Request{Op: jute.OpSetData, Session: s1, Time: 1, Body: &jute.SetDataRequest{Path: "/bench", Data: make([]byte, 256), Version: -1}}
	b.ReportAllocs()
	for b.Loop() {
		txn, err := h.tree.Prepare(&req)
		if err != nil || txn.Type != TxnSetData {
			b.Fatal(err, txn.Type)
		}
		if h.tree.PendingCount() > 1024 {
			h.tree.ResetPending()
		}
	}
}

func BenchmarkApplySetData(b *testing.B) {
	h := newHarness(b)
	h.session(s1)
	h.mustCreate(s1, "/bench", "", 0)
	txn := Txn{Type: TxnSetData, Session: s1, Path: "/bench", Data: make([]byte, 256)}
	zxid := h.zxid
	b.ReportAllocs()
	for b.Loop() {
		zxid++
		txn.Version++
		h.tree.Apply(zxid, &txn)
	}
}

// BenchmarkCreateDelete: an ephemeral sequential create and its delete
// (the lock recipe's write pattern), with a child watch on the parent.
func BenchmarkCreateDelete(b *testing.B) {
	h := newHarness(b)
	h.session(s1)
	h.mustCreate(s1, "/lock", "", 0)
	create := Request{Op: jute.OpCreate, Session: s1, Time: 1, Body: &jute.CreateRequest{Path: "/lock/n-", ACL: jute.OpenACLUnsafe(), Flags: jute.FlagEphemeralSequential}}
	del := &jute.DeleteRequest{Version: -1}
	delReq := Request{Op: jute.OpDelete, Session: s1, Time: 1, Body: del}
	zxid := h.zxid
	b.ReportAllocs()
	for b.Loop() {
		h.tree.Children("/lock", nil, 1)
		txn, _ := h.tree.Prepare(&create)
		zxid++
		res, _ := h.tree.Apply(zxid, &txn)
		del.Path = res.Path
		txn, _ = h.tree.Prepare(&delReq)
		zxid++
		if res, _ := h.tree.Apply(zxid, &txn); res.Err != jute.ZOK {
			b.Fatal(res.Err)
		}
	}
}
