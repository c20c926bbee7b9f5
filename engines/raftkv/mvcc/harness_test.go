package mvcc

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"
)

// harness applies requests to a store at increasing raft indexes.
type harness struct {
	t    testing.TB
	s    *Store
	path string
	cfg  Config
	idx  uint64
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.NoFsync = true
	cfg.InitialMmapBytes = 1 << 20
	return cfg
}

func newHarness(t testing.TB) *harness {
	return newHarnessConfig(t, testConfig())
}

func newHarnessConfig(t testing.TB, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, path: filepath.Join(t.TempDir(), "db"), cfg: cfg}
	h.open()
	t.Cleanup(func() { _ = h.s.Close() })
	return h
}

func (h *harness) open() {
	h.t.Helper()
	s, err := Open(h.path, h.cfg)
	if err != nil {
		h.t.Fatalf("Open(%s): %v", h.path, err)
	}
	h.s = s
	h.idx = s.ConsistentIndex()
}

// reopen closes the store (dropping uncommitted writes) and opens it again.
func (h *harness) reopen() {
	h.t.Helper()
	if err := h.s.Close(); err != nil {
		h.t.Fatalf("Close: %v", err)
	}
	h.open()
}

func (h *harness) apply(req *pb.InternalRaftRequest) (proto.Message, error) {
	h.idx++
	return h.s.Apply(h.idx, req)
}

func (h *harness) mustApply(req *pb.InternalRaftRequest) proto.Message {
	h.t.Helper()
	resp, err := h.apply(req)
	if err != nil {
		h.t.Fatalf("Apply(%v): %v", req, err)
	}
	return resp
}

func (h *harness) put(k, v string) *pb.PutResponse {
	h.t.Helper()
	return h.mustApply(&pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte(k), Value: []byte(v)}}).(*pb.PutResponse)
}

func (h *harness) putLease(k, v string, lease int64) (*pb.PutResponse, error) {
	resp, err := h.apply(&pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte(k), Value: []byte(v), Lease: lease}})
	if err != nil {
		return nil, err
	}
	return resp.(*pb.PutResponse), nil
}

func (h *harness) del(k, end string) *pb.DeleteRangeResponse {
	h.t.Helper()
	d := &pb.DeleteRangeRequest{Key: []byte(k), PrevKv: true}
	if end != "" {
		d.RangeEnd = []byte(end)
	}
	return h.mustApply(&pb.InternalRaftRequest{DeleteRange: d}).(*pb.DeleteRangeResponse)
}

func (h *harness) compact(rev int64) error {
	_, err := h.apply(&pb.InternalRaftRequest{Compaction: &pb.CompactionRequest{Revision: rev}})
	return err
}

func (h *harness) grant(id, ttl int64) (*pb.LeaseGrantResponse, error) {
	resp, err := h.apply(&pb.InternalRaftRequest{LeaseGrant: &pb.LeaseGrantRequest{ID: id, TTL: ttl}})
	if err != nil {
		return nil, err
	}
	return resp.(*pb.LeaseGrantResponse), nil
}

func (h *harness) txn(t *pb.TxnRequest) (*pb.TxnResponse, error) {
	resp, err := h.apply(&pb.InternalRaftRequest{Txn: t})
	if err != nil {
		return nil, err
	}
	return resp.(*pb.TxnResponse), nil
}

func (h *harness) get(k string) *mvccpb.KeyValue {
	h.t.Helper()
	r, err := h.s.Range(&pb.RangeRequest{Key: []byte(k)})
	if err != nil {
		h.t.Fatalf("Range(%q): %v", k, err)
	}
	if len(r.Kvs) == 0 {
		return nil
	}
	return r.Kvs[0]
}

// kvString renders a key-value compactly for comparisons and failure messages.
func kvString(kv *mvccpb.KeyValue) string {
	if kv == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%s=%s(c%d,m%d,v%d,l%d)", kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision, kv.Version, kv.Lease)
}

func kvsString(kvs []*mvccpb.KeyValue) string {
	out := "["
	for i, kv := range kvs {
		if i > 0 {
			out += " "
		}
		out += kvString(kv)
	}
	return out + "]"
}

func wantErr(t *testing.T, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("error = %v, want %v", got, want)
	}
}

// Helpers building txn parts.
func cmpVal(k string, r pb.Compare_CompareResult, v string) *pb.Compare {
	return &pb.Compare{Key: []byte(k), Result: r, Target: pb.Compare_VALUE, TargetUnion: &pb.Compare_Value{Value: []byte(v)}}
}
func cmpVer(k string, r pb.Compare_CompareResult, v int64) *pb.Compare {
	return &pb.Compare{Key: []byte(k), Result: r, Target: pb.Compare_VERSION, TargetUnion: &pb.Compare_Version{Version: v}}
}
func cmpCreate(k string, r pb.Compare_CompareResult, v int64) *pb.Compare {
	return &pb.Compare{Key: []byte(k), Result: r, Target: pb.Compare_CREATE, TargetUnion: &pb.Compare_CreateRevision{CreateRevision: v}}
}
func cmpMod(k string, r pb.Compare_CompareResult, v int64) *pb.Compare {
	return &pb.Compare{Key: []byte(k), Result: r, Target: pb.Compare_MOD, TargetUnion: &pb.Compare_ModRevision{ModRevision: v}}
}
func cmpLease(k string, r pb.Compare_CompareResult, v int64) *pb.Compare {
	return &pb.Compare{Key: []byte(k), Result: r, Target: pb.Compare_LEASE, TargetUnion: &pb.Compare_Lease{Lease: v}}
}
func opPut(k, v string) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte(k), Value: []byte(v), PrevKv: true}}}
}
func opGet(k, end string) *pb.RequestOp {
	r := &pb.RangeRequest{Key: []byte(k)}
	if end != "" {
		r.RangeEnd = []byte(end)
	}
	return &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: r}}
}
func opDel(k, end string) *pb.RequestOp {
	d := &pb.DeleteRangeRequest{Key: []byte(k), PrevKv: true}
	if end != "" {
		d.RangeEnd = []byte(end)
	}
	return &pb.RequestOp{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: d}}
}
func opTxn(t *pb.TxnRequest) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestTxn{RequestTxn: t}}
}
