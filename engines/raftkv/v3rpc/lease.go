package v3rpc

import (
	"context"

	"coordlab/engines/raftkv/mvcc"
	"errors"
	"io"
	"sort"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc"
)

// MaxLeaseTTL is etcd's largest lease TTL in seconds.
const MaxLeaseTTL = 9000000000

type leaseServer struct {
	pb.UnimplementedLeaseServer
	b Backend
}

// LeaseGrant proposes the grant; for ID 0 the store picks the id from the
// entry's raft index, so every member picks the same one.
func (s *leaseServer) LeaseGrant(ctx context.Context, r *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error) {
	if r.TTL > MaxLeaseTTL {
		return nil, rpctypes.ErrGRPCLeaseTTLTooLarge
	}
	if _, err := requireAuthInfo(ctx, s.b); err != nil {
		return nil, err
	}
	if err := checkQuota(ctx, s.b, leaseOverhead); err != nil {
		return nil, err
	}
	resp, err := propose[*pb.LeaseGrantResponse](ctx, s.b, &pb.InternalRaftRequest{LeaseGrant: r})
	if err != nil {
		return nil, err
	}
	resp.Header = fillHeader(s.b, resp.Header)
	return resp, nil
}

func (s *leaseServer) LeaseRevoke(ctx context.Context, r *pb.LeaseRevokeRequest) (*pb.LeaseRevokeResponse, error) {
	if _, err := requireAuthInfo(ctx, s.b); err != nil {
		return nil, err
	}
	resp, err := propose[*pb.LeaseRevokeResponse](ctx, s.b, &pb.InternalRaftRequest{LeaseRevoke: r})
	if err != nil {
		return nil, err
	}
	resp.Header = fillHeader(s.b, resp.Header)
	return resp, nil
}

// LeaseTimeToLive answers TTL -1 for a lease that does not exist, as etcd
// does (etcdctl prints "lease ... already expired").
func (s *leaseServer) LeaseTimeToLive(ctx context.Context, r *pb.LeaseTimeToLiveRequest) (*pb.LeaseTimeToLiveResponse, error) {
	ai, err := requireAuthInfo(ctx, s.b)
	if err != nil {
		return nil, err
	}
	if r.Keys {
		// Listing the keys needs read on each of them (etcd's
		// checkLeaseTimeToLive).
		if err := checkLeaseKeys(s.b, ai, r.ID, false); err != nil {
			return nil, err
		}
	}
	resp, err := s.b.LeaseTimeToLive(ctx, r.ID, r.Keys)
	if errors.Is(err, rpctypes.ErrGRPCLeaseNotFound) {
		resp, err = &pb.LeaseTimeToLiveResponse{ID: r.ID, TTL: -1}, nil
	}
	if err != nil {
		return nil, toGRPC(err)
	}
	resp.Header = fillHeader(s.b, resp.Header)
	return resp, nil
}

// LeaseLeases lists the leases of the local store, sorted by id.
func (s *leaseServer) LeaseLeases(ctx context.Context, r *pb.LeaseLeasesRequest) (*pb.LeaseLeasesResponse, error) {
	st, err := storeOf(s.b)
	if err != nil {
		return nil, err
	}
	ls := st.Leases()
	if ai, err := requireAuthInfo(ctx, s.b); err != nil {
		return nil, err
	} else if st.IsAdminPermitted(ai) != nil {
		// A user who is not an admin sees the leases only if it may read
		// every key attached to them (etcd's checkLeaseLeases).
		for _, l := range ls {
			if err := checkLeaseKeys(s.b, ai, l.ID, false); err != nil {
				return nil, err
			}
		}
	}
	resp := &pb.LeaseLeasesResponse{Header: header(s.b), Leases: make([]*pb.LeaseStatus, 0, len(ls))}
	for _, l := range ls {
		resp.Leases = append(resp.Leases, &pb.LeaseStatus{ID: l.ID})
	}
	sort.Slice(resp.Leases, func(i, j int) bool { return resp.Leases[i].ID < resp.Leases[j].ID })
	return resp, nil
}

// LeaseKeepAlive answers each request in order on the handler's goroutine:
// renew, then send. A lease that does not exist answers TTL 0, as etcd; any
// other renewal error ends the stream with that error.
func (s *leaseServer) LeaseKeepAlive(stream grpc.BidiStreamingServer[pb.LeaseKeepAliveRequest, pb.LeaseKeepAliveResponse]) error {
	ctx := stream.Context()
	if err := checkLeader(ctx, s.b); err != nil {
		return err
	}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		// A keep-alive needs write on every key of the lease (etcd's
		// checkLeaseRenew).
		ai, err := requireAuthInfo(ctx, s.b)
		if err == nil {
			err = checkLeaseKeys(s.b, ai, req.ID, true)
		}
		if err != nil {
			return err
		}
		ttl, err := s.b.LeaseRenew(ctx, req.ID)
		if errors.Is(err, rpctypes.ErrGRPCLeaseNotFound) {
			ttl, err = 0, nil
		}
		if err != nil {
			return toGRPC(err)
		}
		resp := &pb.LeaseKeepAliveResponse{Header: header(s.b), ID: req.ID, TTL: ttl}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

// checkLeaseKeys checks that ai may read (or write) every key of lease id.
func checkLeaseKeys(b Backend, ai mvcc.AuthInfo, id int64, write bool) error {
	st, err := storeOf(b)
	if err != nil {
		return err
	}
	return st.CheckLeaseKeys(ai, id, write)
}
