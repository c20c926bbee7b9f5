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
	if _, ok := s.b.(Reconfigurer); r.IsLearner && !ok {
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

// MemberUpdate changes a member's peer URLs (etcdctl member update). A
// Backend that is not a Reconfigurer answers codes.Unimplemented.
func (s *clusterServer) MemberUpdate(ctx context.Context, r *pb.MemberUpdateRequest) (*pb.MemberUpdateResponse, error) {
	if err := requireAdmin(ctx, s.b); err != nil {
		return nil, err
	}
	rc, ok := s.b.(Reconfigurer)
	if !ok {
		return s.UnimplementedClusterServer.MemberUpdate(ctx, r)
	}
	if err := checkPeerURLs(r.PeerURLs); err != nil {
		return nil, err
	}
	ms, err := rc.UpdateMember(ctx, r.ID, r.PeerURLs)
	if err != nil {
		return nil, toGRPC(err)
	}
	return &pb.MemberUpdateResponse{Header: header(s.b), Members: ms}, nil
}

// MemberPromote makes a learner a voting member (etcdctl member promote). A
// Backend that is not a Reconfigurer answers ErrLearnerNotSupported.
func (s *clusterServer) MemberPromote(ctx context.Context, r *pb.MemberPromoteRequest) (*pb.MemberPromoteResponse, error) {
	if err := requireAdmin(ctx, s.b); err != nil {
		return nil, err
	}
	rc, ok := s.b.(Reconfigurer)
	if !ok {
		return nil, ErrLearnerNotSupported
	}
	ms, err := rc.PromoteMember(ctx, r.ID)
	if err != nil {
		return nil, toGRPC(err)
	}
	return &pb.MemberPromoteResponse{Header: header(s.b), Members: ms}, nil
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
