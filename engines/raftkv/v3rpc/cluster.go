package v3rpc

import (
	"context"
	"net"
	"net/url"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

type clusterServer struct {
	pb.UnimplementedClusterServer
	b Backend
}

func (s *clusterServer) MemberList(ctx context.Context, r *pb.MemberListRequest) (*pb.MemberListResponse, error) {
	if _, err := requireAuthInfo(ctx, s.b); err != nil {
		return nil, err
	}
	if r.Linearizable {
		if err := s.b.LinearizableRead(ctx); err != nil {
			return nil, toGRPC(err)
		}
	}
	return &pb.MemberListResponse{Header: header(s.b), Members: s.b.Members()}, nil
}

func (s *clusterServer) MemberAdd(ctx context.Context, r *pb.MemberAddRequest) (*pb.MemberAddResponse, error) {
	if err := requireAdmin(ctx, s.b); err != nil {
		return nil, err
	}
	if err := checkPeerURLs(r.PeerURLs); err != nil {
		return nil, err
	}
	if r.IsLearner {
		return nil, ErrLearnerNotSupported
	}
	m, ms, err := s.b.AddMember(ctx, r.PeerURLs, r.IsLearner)
	if err != nil {
		return nil, toGRPC(err)
	}
	return &pb.MemberAddResponse{Header: header(s.b), Member: m, Members: ms}, nil
}

func (s *clusterServer) MemberRemove(ctx context.Context, r *pb.MemberRemoveRequest) (*pb.MemberRemoveResponse, error) {
	if err := requireAdmin(ctx, s.b); err != nil {
		return nil, err
	}
	ms, err := s.b.RemoveMember(ctx, r.ID)
	if err != nil {
		return nil, toGRPC(err)
	}
	return &pb.MemberRemoveResponse{Header: header(s.b), Members: ms}, nil
}

// MemberUpdate is not supported: UnimplementedClusterServer answers
// codes.Unimplemented, which etcdctl prints as the error.

// MemberPromote answers ErrLearnerNotSupported: raftkv has no learners.
func (s *clusterServer) MemberPromote(ctx context.Context, r *pb.MemberPromoteRequest) (*pb.MemberPromoteResponse, error) {
	return nil, ErrLearnerNotSupported
}

// checkPeerURLs accepts what etcd's types.NewURLs accepts: at least one
// http or https URL with host:port and no path.
func checkPeerURLs(urls []string) error {
	if len(urls) == 0 {
		return rpctypes.ErrGRPCMemberBadURLs
	}
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
			return rpctypes.ErrGRPCMemberBadURLs
		}
		if _, _, err := net.SplitHostPort(u.Host); err != nil {
			return rpctypes.ErrGRPCMemberBadURLs
		}
	}
	return nil
}
