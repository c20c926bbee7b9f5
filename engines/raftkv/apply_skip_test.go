package raftkv

import (
	"errors"
	"path/filepath"
	"testing"

	"coordlab/engines/raftkv/mvcc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	raftpb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// TestApplyNormalSkippedEntryAnswersIndeterminate: after a snapshot install
// the store is ahead of raft's applied entries; an entry the store already
// holds must answer its waiter with etcd's indeterminate "request timed out"
// (the write took effect but its response is gone), never a nil response
// (codes.Internal in v3rpc) and never a made-up success. A fresh entry still
// gets the store's response.
func TestApplyNormalSkippedEntryAnswersIndeterminate(t *testing.T) {
	st, err := mvcc.Open(filepath.Join(t.TempDir(), "db"), mvcc.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	// The store holds index 5 already (as if restored from the leader's file).
	if _, err := st.Apply(5, &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte("k"), Value: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	s := &Server{store: st, waiters: map[uint64]chan applyResult{}, lessor: newLessor(realClock{}, 0)}

	entry := func(t *testing.T, index, id uint64, value string) *raftpb.Entry {
		data, err := proto.Marshal(&pb.InternalRaftRequest{Header: &pb.RequestHeader{ID: id},
			Put: &pb.PutRequest{Key: []byte("k"), Value: []byte(value)}})
		if err != nil {
			t.Fatal(err)
		}
		return &raftpb.Entry{Index: proto.Uint64(index), Type: raftpb.EntryNormal.Enum(), Data: data}
	}
	tests := []struct {
		name    string
		index   uint64
		wantErr error // nil: a *pb.PutResponse
	}{
		{name: "entry at the store's index", index: 5, wantErr: rpctypes.ErrGRPCTimeout},
		{name: "entry below the store's index", index: 3, wantErr: rpctypes.ErrGRPCTimeout},
		{name: "entry past the store's index", index: 6},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := uint64(100 + i)
			ch := make(chan applyResult, 1)
			s.waiters[id] = ch
			s.applyNormal(entry(t, tt.index, id, tt.name))
			var res applyResult
			select {
			case res = <-ch:
			default:
				t.Fatal("waiter not answered")
			}
			if tt.wantErr != nil {
				if !errors.Is(res.err, tt.wantErr) || res.resp != nil {
					t.Fatalf("got (%v, %v), want (nil, %v)", res.resp, res.err, tt.wantErr)
				}
				return
			}
			if res.err != nil {
				t.Fatal(res.err)
			}
			if _, ok := res.resp.(*pb.PutResponse); !ok {
				t.Fatalf("response %T, want *pb.PutResponse", res.resp)
			}
			if got := st.ConsistentIndex(); got != tt.index {
				t.Fatalf("store index %d after applying %d", got, tt.index)
			}
		})
	}
}
