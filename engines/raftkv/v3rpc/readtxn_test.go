package v3rpc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// TestReadTxnMatchesApply is a differential test: random read-only txns are
// answered by the read path (local evaluation) and by proposing them to the
// store (mvcc Apply), on the same state; the answers must be equal.
func TestReadTxnMatchesApply(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	b := newMemBackend(t)
	t.Cleanup(b.Close)
	kv := &kvServer{b: b, cfg: DefaultConfig()}
	ctx := context.Background()
	keys := []string{"a", "b", "c", "d", "e"}

	lease, err := propose[*pb.LeaseGrantResponse](ctx, b, &pb.InternalRaftRequest{LeaseGrant: &pb.LeaseGrantRequest{TTL: 600}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		k := []byte(keys[rng.IntN(len(keys))])
		var ir *pb.InternalRaftRequest
		switch rng.IntN(4) {
		case 0:
			ir = &pb.InternalRaftRequest{DeleteRange: &pb.DeleteRangeRequest{Key: k}}
		case 1:
			ir = &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: k, Value: []byte(fmt.Sprint(i % 7)), Lease: lease.ID}}
		default:
			ir = &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: k, Value: []byte(fmt.Sprint(i % 7))}}
		}
		if _, err := b.Propose(ctx, ir); err != nil {
			t.Fatal(err)
		}
	}
	rev := b.Store().Rev()

	randCompare := func() *pb.Compare {
		c := &pb.Compare{Key: []byte(keys[rng.IntN(len(keys))]), Result: pb.Compare_CompareResult(rng.IntN(4)), Target: pb.Compare_CompareTarget(rng.IntN(5))}
		if rng.IntN(4) == 0 {
			c.RangeEnd = []byte(keys[rng.IntN(len(keys))] + "z")
		}
		switch c.Target {
		case pb.Compare_VALUE:
			c.TargetUnion = &pb.Compare_Value{Value: []byte(fmt.Sprint(rng.IntN(7)))}
		case pb.Compare_VERSION:
			c.TargetUnion = &pb.Compare_Version{Version: rng.Int64N(4)}
		case pb.Compare_CREATE:
			c.TargetUnion = &pb.Compare_CreateRevision{CreateRevision: rng.Int64N(rev + 1)}
		case pb.Compare_MOD:
			c.TargetUnion = &pb.Compare_ModRevision{ModRevision: rng.Int64N(rev + 1)}
		case pb.Compare_LEASE:
			c.TargetUnion = &pb.Compare_Lease{Lease: []int64{0, lease.ID}[rng.IntN(2)]}
		}
		return c
	}
	randRange := func() *pb.RequestOp {
		r := &pb.RangeRequest{Key: []byte(keys[rng.IntN(len(keys))])}
		if rng.IntN(2) == 0 {
			r.RangeEnd = []byte{0}
		}
		if rng.IntN(3) == 0 {
			r.Revision = 1 + rng.Int64N(rev)
		}
		r.Limit = rng.Int64N(3)
		r.CountOnly = rng.IntN(5) == 0
		return &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: r}}
	}
	var randTxn func(depth int) *pb.TxnRequest
	randTxn = func(depth int) *pb.TxnRequest {
		tx := &pb.TxnRequest{}
		for range rng.IntN(3) {
			tx.Compare = append(tx.Compare, randCompare())
		}
		for _, branch := range []*[]*pb.RequestOp{&tx.Success, &tx.Failure} {
			for range rng.IntN(3) {
				if depth < 2 && rng.IntN(4) == 0 {
					*branch = append(*branch, &pb.RequestOp{Request: &pb.RequestOp_RequestTxn{RequestTxn: randTxn(depth + 1)}})
				} else {
					*branch = append(*branch, randRange())
				}
			}
		}
		return tx
	}

	succeeded := 0
	for i := range 300 {
		tx := randTxn(0)
		if !isReadOnlyTxn(tx) {
			t.Fatalf("generated txn writes: %v", tx)
		}
		got, ok, err := kv.readTxn(ctx, tx)
		if !ok || err != nil {
			t.Fatalf("txn %d: read path: ok %v err %v", i, ok, err)
		}
		want, err := propose[*pb.TxnResponse](ctx, b, &pb.InternalRaftRequest{Txn: tx})
		if err != nil {
			t.Fatalf("txn %d: apply path: %v", i, err)
		}
		if got.Succeeded {
			succeeded++
		}
		if g, w := rangeRevs(got), rangeRevs(want); g != w {
			t.Fatalf("txn %d: nested range header revisions %s (read) vs %s (apply)", i, g, w)
		}
		stripHeaders(got)
		stripHeaders(want)
		if !proto.Equal(got, want) {
			t.Fatalf("txn %d differs (seed %d):\ntxn   %v\nread  %v\napply %v", i, seed, tx, got, want)
		}
	}
	// Both outcomes must have been exercised for the comparison to mean much.
	if succeeded < 30 || succeeded > 270 {
		t.Fatalf("%d of 300 random txns succeeded; the generator should give both outcomes", succeeded)
	}
}

// rangeRevs lists the header revisions of the ranges in a txn response.
func rangeRevs(r *pb.TxnResponse) string {
	s := ""
	for _, op := range r.Responses {
		switch v := op.Response.(type) {
		case *pb.ResponseOp_ResponseRange:
			s += fmt.Sprint(v.ResponseRange.GetHeader().GetRevision(), " ")
		case *pb.ResponseOp_ResponseTxn:
			s += "(" + rangeRevs(v.ResponseTxn) + ") "
		}
	}
	return s
}

// stripHeaders drops the headers of a txn response tree (the read path and
// the apply path fill them at different layers).
func stripHeaders(r *pb.TxnResponse) {
	r.Header = nil
	for _, op := range r.Responses {
		switch v := op.Response.(type) {
		case *pb.ResponseOp_ResponseRange:
			v.ResponseRange.Header = nil
		case *pb.ResponseOp_ResponseTxn:
			stripHeaders(v.ResponseTxn)
		}
	}
}

// TestReadOnlyTxnSkipsLog: over gRPC, a txn that only reads is answered
// without a log entry; one that writes is proposed.
func TestReadOnlyTxnSkipsLog(t *testing.T) {
	ts := newTestServer(t, DefaultConfig())
	cli := ts.client(t)
	ctx := testCtx(t)
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	entries := func() uint64 {
		ts.b.mu.Lock()
		defer ts.b.mu.Unlock()
		return ts.b.index
	}
	before := entries()
	resp, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.Value("k"), "=", "v")).Then(clientv3.OpGet("k")).Commit()
	if err != nil || !resp.Succeeded || len(resp.Responses[0].GetResponseRange().Kvs) != 1 {
		t.Fatalf("read-only txn: %v %v", resp, err)
	}
	checkHeader(t, "read-only txn", resp.Header, 2)
	if after := entries(); after != before {
		t.Fatalf("read-only txn appended %d log entries, want 0", after-before)
	}
	if _, err := cli.Txn(ctx).Then(clientv3.OpPut("k", "w")).Commit(); err != nil {
		t.Fatal(err)
	}
	if after := entries(); after != before+1 {
		t.Fatalf("write txn appended %d log entries, want 1", after-before)
	}
}
