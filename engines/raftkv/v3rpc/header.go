package v3rpc

import (
	"context"

	"coordlab/engines/raftkv/mvcc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/protobuf/proto"
)

// fillHeader completes h (nil allowed) with the member's cluster id, member
// id and raft term. The revision is kept when the store set it (writes carry
// the revision they created, reads the one they saw); otherwise it is the
// store's current revision.
func fillHeader(b Backend, h *pb.ResponseHeader) *pb.ResponseHeader {
	if h == nil {
		h = &pb.ResponseHeader{}
	}
	bh := b.Header()
	h.ClusterId = bh.ClusterId
	h.MemberId = bh.MemberId
	h.RaftTerm = bh.RaftTerm
	if h.Revision == 0 {
		h.Revision = currentRev(b)
	}
	return h
}

// storeOf returns the member's store, or ErrGRPCStopped while it has none
// (the server is stopping, or swapping stores after a snapshot restore).
func storeOf(b Backend) (*mvcc.Store, error) {
	st := b.Store()
	if st == nil {
		return nil, rpctypes.ErrGRPCStopped
	}
	return st, nil
}

// currentRev is the store's revision, 0 while there is no store.
func currentRev(b Backend) int64 {
	if st := b.Store(); st != nil {
		return st.Rev()
	}
	return 0
}

// header is a fresh filled header at the store's current revision.
func header(b Backend) *pb.ResponseHeader { return fillHeader(b, nil) }

// propose refuses requests larger than Backend.MaxRequestBytes (as etcd does
// with the marshalled raft request), replicates ir and returns the applied
// result as the response type T the store returns for it.
func propose[T proto.Message](ctx context.Context, b Backend, ir *pb.InternalRaftRequest) (T, error) {
	var zero T
	if ir.Authenticate == nil {
		// The sender goes in the entry: the store checks its permissions
		// when it applies the entry, as etcd's auth applier does.
		ai, err := authInfo(ctx, b)
		if err != nil {
			return zero, err
		}
		if ai.Username != "" {
			ir.Header = &pb.RequestHeader{Username: ai.Username, AuthRevision: ai.Revision}
		}
	}
	if proto.Size(ir) > b.MaxRequestBytes() {
		return zero, rpctypes.ErrGRPCRequestTooLarge
	}
	msg, err := b.Propose(ctx, ir)
	if err != nil {
		return zero, toGRPC(err)
	}
	resp, ok := msg.(T)
	if !ok {
		return zero, internalError("store answered %T, want %T", msg, zero)
	}
	return resp, nil
}
