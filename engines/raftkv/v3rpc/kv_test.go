package v3rpc

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

func checkHeader(t *testing.T, what string, h *pb.ResponseHeader, rev int64) {
	t.Helper()
	if h == nil {
		t.Fatalf("%s: no header", what)
	}
	if h.ClusterId != testClusterID || h.MemberId != testMemberID || h.RaftTerm != testTerm || h.Revision != rev {
		t.Fatalf("%s: header = {cluster %x member %x term %d rev %d}, want {cluster %x member %x term %d rev %d}",
			what, h.ClusterId, h.MemberId, h.RaftTerm, h.Revision, testClusterID, testMemberID, testTerm, rev)
	}
}

func TestKVPutGet(t *testing.T) {
	ts := newTestServer(t, DefaultConfig())
	cli := ts.client(t)
	ctx := testCtx(t)

	// An empty store is at revision 1; each put adds one.
	for i, k := range []string{"a/1", "a/2", "a/3", "b"} {
		resp, err := cli.Put(ctx, k, fmt.Sprintf("v%d", i))
		if err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
		checkHeader(t, "put "+k, resp.Header, int64(i+2))
	}
	if _, err := cli.Put(ctx, "a/2", "v1b"); err != nil {
		t.Fatal(err)
	}
	// Now rev 6: a/1@2 a/2@3,6 a/3@4 b@5.

	tests := []struct {
		name  string
		key   string
		opts  []clientv3.OpOption
		want  []string // key=value
		count int64
		more  bool
	}{
		{"single", "a/2", nil, []string{"a/2=v1b"}, 1, false},
		{"missing", "zz", nil, nil, 0, false},
		{"prefix", "a/", []clientv3.OpOption{clientv3.WithPrefix()}, []string{"a/1=v0", "a/2=v1b", "a/3=v2"}, 3, false},
		{"from key", "a/3", []clientv3.OpOption{clientv3.WithFromKey()}, []string{"a/3=v2", "b=v3"}, 2, false},
		{"historical rev", "a/2", []clientv3.OpOption{clientv3.WithRev(3)}, []string{"a/2=v1"}, 1, false},
		{"historical prefix", "a/", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithRev(3)}, []string{"a/1=v0", "a/2=v1"}, 2, false},
		{"limit", "a/", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithLimit(2)}, []string{"a/1=v0", "a/2=v1b"}, 3, true},
		{"sort desc by key", "a/", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend)}, []string{"a/3=v2", "a/2=v1b", "a/1=v0"}, 3, false},
		{"sort by mod rev", "", []clientv3.OpOption{clientv3.WithFromKey(), clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortAscend)}, []string{"a/1=v0", "a/3=v2", "b=v3", "a/2=v1b"}, 4, false},
		{"count only", "a/", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithCountOnly()}, nil, 3, false},
		{"keys only", "b", []clientv3.OpOption{clientv3.WithKeysOnly()}, []string{"b="}, 1, false},
		{"serializable", "a/1", []clientv3.OpOption{clientv3.WithSerializable()}, []string{"a/1=v0"}, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := tt.key
			if key == "" {
				key = "\x00"
			}
			resp, err := cli.Get(ctx, key, tt.opts...)
			if err != nil {
				t.Fatalf("get %q: %v", key, err)
			}
			checkHeader(t, "get", resp.Header, 6)
			var got []string
			for _, kv := range resp.Kvs {
				got = append(got, string(kv.Key)+"="+string(kv.Value))
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") || resp.Count != tt.count || resp.More != tt.more {
				t.Fatalf("get %q: got %v count %d more %v, want %v count %d more %v", key, got, resp.Count, resp.More, tt.want, tt.count, tt.more)
			}
		})
	}

	resp, err := cli.Get(ctx, "a/2")
	if err != nil {
		t.Fatal(err)
	}
	kv := resp.Kvs[0]
	if kv.CreateRevision != 3 || kv.ModRevision != 6 || kv.Version != 2 {
		t.Fatalf("a/2: create %d mod %d version %d, want 3 6 2", kv.CreateRevision, kv.ModRevision, kv.Version)
	}
	if _, err := cli.Get(ctx, "a", clientv3.WithRev(7)); !errors.Is(err, rpctypes.ErrFutureRev) {
		t.Fatalf("get at future rev: err = %v, want %v", err, rpctypes.ErrFutureRev)
	}
}

func TestKVDeletePrevKV(t *testing.T) {
	ts := newTestServer(t, DefaultConfig())
	cli := ts.client(t)
	ctx := testCtx(t)
	for _, k := range []string{"d/1", "d/2", "e"} {
		if _, err := cli.Put(ctx, k, "x"+k); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := cli.Delete(ctx, "d/", clientv3.WithPrefix(), clientv3.WithPrevKV())
	if err != nil {
		t.Fatal(err)
	}
	checkHeader(t, "delete", resp.Header, 5)
	if resp.Deleted != 2 || len(resp.PrevKvs) != 2 || string(resp.PrevKvs[0].Key) != "d/1" || string(resp.PrevKvs[1].Value) != "xd/2" {
		t.Fatalf("delete d/: deleted %d prev %v, want 2 with d/1, d/2", resp.Deleted, resp.PrevKvs)
	}
	// Deleting nothing does not bump the revision.
	resp, err = cli.Delete(ctx, "nothing")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Deleted != 0 || resp.Header.Revision != 5 {
		t.Fatalf("delete missing: deleted %d rev %d, want 0 5", resp.Deleted, resp.Header.Revision)
	}
	put, err := cli.Put(ctx, "e", "y", clientv3.WithPrevKV())
	if err != nil {
		t.Fatal(err)
	}
	if put.PrevKv == nil || string(put.PrevKv.Value) != "xe" {
		t.Fatalf("put e with prev_kv: prev %v, want value xe", put.PrevKv)
	}
}

func TestKVTxnCompares(t *testing.T) {
	ts := newTestServer(t, DefaultConfig())
	cli := ts.client(t)
	ctx := testCtx(t)
	lease, err := cli.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "k", "v1"); err != nil { // rev 2
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "k", "v2", clientv3.WithLease(lease.ID)); err != nil { // rev 3, version 2
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cmp  clientv3.Cmp
		want bool
	}{
		{"value equal", clientv3.Compare(clientv3.Value("k"), "=", "v2"), true},
		{"value greater", clientv3.Compare(clientv3.Value("k"), ">", "v3"), false},
		{"value not equal", clientv3.Compare(clientv3.Value("k"), "!=", "v1"), true},
		{"version", clientv3.Compare(clientv3.Version("k"), "=", 2), true},
		{"version less", clientv3.Compare(clientv3.Version("k"), "<", 2), false},
		{"create", clientv3.Compare(clientv3.CreateRevision("k"), "=", 2), true},
		{"mod", clientv3.Compare(clientv3.ModRevision("k"), "=", 3), true},
		{"mod greater", clientv3.Compare(clientv3.ModRevision("k"), ">", 3), false},
		{"lease", clientv3.Compare(clientv3.LeaseValue("k"), "=", lease.ID), true},
		{"missing key create 0", clientv3.Compare(clientv3.CreateRevision("nokey"), "=", 0), true},
		{"missing key version", clientv3.Compare(clientv3.Version("nokey"), ">", 0), false},
	}
	rev := int64(3)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := cli.Txn(ctx).If(tt.cmp).Then(clientv3.OpPut("then", tt.name), clientv3.OpGet("k")).Else(clientv3.OpGet("k")).Commit()
			if err != nil {
				t.Fatalf("txn: %v", err)
			}
			if resp.Succeeded != tt.want {
				t.Fatalf("txn %s: succeeded = %v, want %v", tt.name, resp.Succeeded, tt.want)
			}
			if tt.want {
				rev++ // the put in Then
			}
			checkHeader(t, "txn", resp.Header, rev)
			last := resp.Responses[len(resp.Responses)-1].GetResponseRange()
			if len(last.Kvs) != 1 || string(last.Kvs[0].Value) != "v2" {
				t.Fatalf("txn range of k: %v, want v2", last.Kvs)
			}
			// A range after the put in the same txn reads at the txn's
			// revision (etcd: beginRev+1 once the txn has written).
			if last.Header.GetRevision() != rev {
				t.Fatalf("nested range header revision %d, want %d", last.Header.GetRevision(), rev)
			}
		})
	}

	// Nested txn, and a duplicate key in one branch.
	resp, err := cli.Txn(ctx).Then(clientv3.OpTxn(nil, []clientv3.Op{clientv3.OpPut("n1", "a")}, nil), clientv3.OpPut("n2", "b")).Commit()
	if err != nil || !resp.Succeeded {
		t.Fatalf("nested txn: %v %v", resp, err)
	}
	if _, err := cli.Txn(ctx).Then(clientv3.OpPut("x", "1"), clientv3.OpPut("x", "2")).Commit(); !errors.Is(err, rpctypes.ErrDuplicateKey) {
		t.Fatalf("txn putting x twice: err = %v, want %v", err, rpctypes.ErrDuplicateKey)
	}
}

func TestKVErrors(t *testing.T) {
	ts := newTestServer(t, DefaultConfig())
	ts.b.maxRequestBytes = 4096
	cli := ts.client(t)
	ctx := testCtx(t)

	if _, err := cli.Put(ctx, "big", strings.Repeat("x", 5000)); !errors.Is(err, rpctypes.ErrRequestTooLarge) {
		t.Fatalf("put of 5000 bytes with limit 4096: err = %v, want %v", err, rpctypes.ErrRequestTooLarge)
	}
	if _, err := cli.Put(ctx, "", "v"); !errors.Is(err, rpctypes.ErrEmptyKey) {
		t.Fatalf("put empty key: err = %v, want %v", err, rpctypes.ErrEmptyKey)
	}
	if _, err := cli.Put(ctx, "k", "v", clientv3.WithLease(12345)); !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		t.Fatalf("put with unknown lease: err = %v, want %v", err, rpctypes.ErrLeaseNotFound)
	}
	var ops []clientv3.Op
	for i := range MaxTxnOps + 1 {
		ops = append(ops, clientv3.OpPut(fmt.Sprint(i), "v"))
	}
	if _, err := cli.Txn(ctx).Then(ops...).Commit(); !errors.Is(err, rpctypes.ErrTooManyOps) {
		t.Fatalf("txn of %d ops: err = %v, want %v", len(ops), err, rpctypes.ErrTooManyOps)
	}

	for i := range 5 {
		if _, err := cli.Put(ctx, "c", fmt.Sprint(i)); err != nil { // revs 2..6
			t.Fatal(err)
		}
	}
	comp, err := cli.Compact(ctx, 4, clientv3.WithCompactPhysical())
	if err != nil {
		t.Fatalf("compact 4: %v", err)
	}
	checkHeader(t, "compact", comp.Header, 6)
	if _, err := cli.Get(ctx, "c", clientv3.WithRev(3)); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("get at compacted rev 3: err = %v, want %v", err, rpctypes.ErrCompacted)
	}
	if resp, err := cli.Get(ctx, "c", clientv3.WithRev(4)); err != nil || string(resp.Kvs[0].Value) != "2" {
		t.Fatalf("get at compact rev 4: %v %v, want value 2", resp, err)
	}
	if _, err := cli.Compact(ctx, 4); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("compact 4 again: err = %v, want %v", err, rpctypes.ErrCompacted)
	}
	if _, err := cli.Compact(ctx, 100); !errors.Is(err, rpctypes.ErrFutureRev) {
		t.Fatalf("compact 100: err = %v, want %v", err, rpctypes.ErrFutureRev)
	}
}

func TestCheckIntervals(t *testing.T) {
	put := func(k string) *pb.RequestOp {
		return &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(k)}}}
	}
	del := func(k, end string) *pb.RequestOp {
		return &pb.RequestOp{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: []byte(k), RangeEnd: []byte(end)}}}
	}
	txn := func(then, els []*pb.RequestOp) *pb.RequestOp {
		return &pb.RequestOp{Request: &pb.RequestOp_RequestTxn{RequestTxn: &pb.TxnRequest{Success: then, Failure: els}}}
	}
	tests := []struct {
		name string
		ops  []*pb.RequestOp
		dup  bool
	}{
		{"distinct puts", []*pb.RequestOp{put("a"), put("b")}, false},
		{"same put twice", []*pb.RequestOp{put("a"), put("a")}, true},
		{"put under delete range", []*pb.RequestOp{del("a", "c"), put("b")}, true},
		{"put outside delete range", []*pb.RequestOp{del("a", "c"), put("c")}, false},
		{"put under delete from key", []*pb.RequestOp{del("a", "\x00"), put("zzz")}, true},
		{"overlapping deletes", []*pb.RequestOp{del("a", "c"), del("b", "d")}, false},
		{"then and else put same key", []*pb.RequestOp{txn([]*pb.RequestOp{put("a")}, []*pb.RequestOp{put("a")})}, false},
		{"nested put and outer put", []*pb.RequestOp{txn([]*pb.RequestOp{put("a")}, nil), put("a")}, true},
		{"nested delete covers outer put", []*pb.RequestOp{txn(nil, []*pb.RequestOp{del("a", "b")}), put("a")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := checkIntervals(tt.ops)
			if got := errors.Is(err, rpctypes.ErrGRPCDuplicateKey); got != tt.dup {
				t.Fatalf("checkIntervals: err = %v, want duplicate = %v", err, tt.dup)
			}
		})
	}
}

func TestKVRangeStream(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RangeStreamChunkBytes = 1024
	ts := newTestServer(t, cfg)
	cli := ts.client(t)
	ctx := testCtx(t)
	for i := range 20 {
		if _, err := cli.Put(ctx, fmt.Sprintf("rs/%02d", i), strings.Repeat("v", 200)); err != nil {
			t.Fatal(err)
		}
	}
	for _, opts := range [][]clientv3.OpOption{
		{clientv3.WithPrefix()},
		{clientv3.WithPrefix(), clientv3.WithLimit(7)},
		{clientv3.WithPrefix(), clientv3.WithRev(5)},
		{clientv3.WithPrefix(), clientv3.WithCountOnly()},
	} {
		want, err := cli.Get(ctx, "rs/", opts...)
		if err != nil {
			t.Fatal(err)
		}
		ch, err := cli.GetStream(ctx, "rs/", opts...)
		if err != nil {
			t.Fatal(err)
		}
		chunks := 0
		merged := &pb.RangeResponse{}
		for r := range ch {
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			chunks++
			proto.Merge(merged, r.RangeResponse)
		}
		if !proto.Equal(merged, (*pb.RangeResponse)(want)) {
			t.Fatalf("merged RangeStream differs from Range:\n got %v\nwant %v", merged, want)
		}
		if len(want.Kvs) > 5 && chunks < 2 {
			t.Fatalf("%d kvs of ~220 bytes at a 1 KiB chunk limit came in %d chunk(s)", len(want.Kvs), chunks)
		}
	}
}

// TestKVMalformedTxn: nil requests inside a txn are refused, not a crash.
func TestKVMalformedTxn(t *testing.T) {
	ts := newTestServer(t, DefaultConfig())
	cli := ts.client(t)
	ctx := testCtx(t)
	raw := pb.NewKVClient(cli.ActiveConnection())
	for name, op := range map[string]*pb.RequestOp{
		"nil range":  {Request: &pb.RequestOp_RequestRange{}},
		"nil put":    {Request: &pb.RequestOp_RequestPut{}},
		"nil delete": {Request: &pb.RequestOp_RequestDeleteRange{}},
		"nil txn":    {Request: &pb.RequestOp_RequestTxn{}},
		"empty op":   {},
		"nil op":     nil,
	} {
		_, err := raw.Txn(ctx, &pb.TxnRequest{Success: []*pb.RequestOp{op}})
		if name == "nil txn" {
			// An empty nested txn is valid (etcd accepts it).
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			continue
		}
		if !sameStatus(err, rpctypes.ErrGRPCEmptyKey) {
			t.Fatalf("%s: err = %v, want %v", name, err, rpctypes.ErrGRPCEmptyKey)
		}
	}
	if _, err := raw.Txn(ctx, &pb.TxnRequest{Compare: []*pb.Compare{nil}}); !sameStatus(err, rpctypes.ErrGRPCEmptyKey) {
		t.Fatalf("nil compare: err = %v, want %v", err, rpctypes.ErrGRPCEmptyKey)
	}
	if _, err := cli.Put(ctx, "still", "serving"); err != nil {
		t.Fatalf("server after malformed txns: %v", err)
	}
}

// TestMaxTxnOps: Config.MaxTxnOps (--max-txn-ops) bounds compares and each
// branch with etcd's "too many operations in txn request".
func TestMaxTxnOps(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxTxnOps = 2
	ts := newTestServer(t, cfg)
	cli := ts.client(t)
	ctx := testCtx(t)
	two := []clientv3.Op{clientv3.OpPut("a", "1"), clientv3.OpPut("b", "1")}
	if _, err := cli.Txn(ctx).Then(two...).Else(two...).Commit(); err != nil {
		t.Fatalf("txn of 2 ops per branch with limit 2: %v", err)
	}
	three := append(two, clientv3.OpPut("c", "1"))
	if _, err := cli.Txn(ctx).Else(three...).Commit(); !errors.Is(err, rpctypes.ErrTooManyOps) {
		t.Fatalf("txn of 3 ops with limit 2: err = %v, want %v", err, rpctypes.ErrTooManyOps)
	}
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.Version("a"), ">", 0), clientv3.Compare(clientv3.Version("b"), ">", 0), clientv3.Compare(clientv3.Version("c"), "=", 0)}
	if _, err := cli.Txn(ctx).If(cmps...).Commit(); !errors.Is(err, rpctypes.ErrTooManyOps) {
		t.Fatalf("txn of 3 compares with limit 2: err = %v, want %v", err, rpctypes.ErrTooManyOps)
	}
}
