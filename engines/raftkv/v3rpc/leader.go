package v3rpc

import (
	"context"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// requiresLeader reports whether the client sent clientv3's
// WithRequireLeader metadata ("hasleader: true").
func requiresLeader(ctx context.Context) bool {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return false
	}
	for _, v := range md.Get(rpctypes.MetadataRequireLeaderKey) {
		if v == rpctypes.MetadataHasLeader {
			return true
		}
	}
	return false
}

// checkLeader answers ErrGRPCNoLeader when the client requires a leader and
// the member knows none, as etcd's interceptors do.
func checkLeader(ctx context.Context, b Backend) error {
	if requiresLeader(ctx) && b.Status().Leader == 0 {
		return rpctypes.ErrGRPCNoLeader
	}
	return nil
}

// snapshotMethod is the one stream RPC a learner serves.
const snapshotMethod = "/etcdserverpb.Maintenance/Snapshot"

// isLearner reports whether b is a Reconfigurer that is a learner now.
func isLearner(b Backend) bool {
	rc, ok := b.(Reconfigurer)
	return ok && rc.IsLearner()
}

// supportedForLearner is etcd 3.4's rule (isRPCSupportedForLearner): a
// learner serves Status and serializable Range, and no other unary RPC.
func supportedForLearner(req any) bool {
	switch r := req.(type) {
	case *pb.StatusRequest:
		return true
	case *pb.RangeRequest:
		return r.Serializable
	}
	return false
}

// ServerOptions returns the grpc.ServerOptions etcd's client port uses with
// these services: receive limit MaxRequestBytes plus 512 KiB of gRPC
// overhead, send limit math.MaxInt32, and interceptors that refuse requests
// carrying "hasleader: true" while the member has no leader and, on a
// learner, every RPC but Status, serializable Range and Snapshot
// (ErrGRPCNotSupportedForLearner, as etcd 3.4). cmd/raftkv passes them to
// grpc.NewServer before calling Register.
func ServerOptions(b Backend) []grpc.ServerOption {
	const grpcOverheadBytes = 512 * 1024
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(b.MaxRequestBytes() + grpcOverheadBytes),
		grpc.MaxSendMsgSize(1<<31 - 1),
		grpc.MaxConcurrentStreams(1<<32 - 1),
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if isLearner(b) && !supportedForLearner(req) {
				return nil, rpctypes.ErrGRPCNotSupportedForLearner
			}
			if err := checkLeader(ctx, b); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if info.FullMethod != snapshotMethod && isLearner(b) {
				return rpctypes.ErrGRPCNotSupportedForLearner
			}
			if err := checkLeader(ss.Context(), b); err != nil {
				return err
			}
			return h(srv, ss)
		}),
	}
}
