package raftkv

import (
	"context"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	raftpb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// MoveLeader hands leadership to member transferee (v3rpc.LeaderTransferer,
// behind etcdctl move-leader) through raft's leadership transfer and returns
// once this member sees transferee lead. As etcd: ErrGRPCNotLeader unless
// this member leads, ErrGRPCBadLeaderTransferee for an unknown or learner
// transferee, ErrGRPCTimeout when the transfer does not finish within the
// request timeout (or ctx). Moving leadership to the leader itself succeeds
// at once.
func (s *Server) MoveLeader(ctx context.Context, transferee uint64) error {
	if s.lead.Load() != s.id {
		return rpctypes.ErrGRPCNotLeader
	}
	m, ok := s.members.get(transferee)
	if !ok || m.IsLearner {
		return rpctypes.ErrGRPCBadLeaderTransferee
	}
	if transferee == s.id {
		return nil
	}
	// What RawNode.TransferLeader steps; the loop owns the RawNode.
	s.localq.push(localItem{msg: &raftpb.Message{Type: raftpb.MsgTransferLeader.Enum(),
		From: proto.Uint64(transferee), To: proto.Uint64(s.id)}})
	timer := time.NewTimer(s.cfg.RequestTimeout)
	defer timer.Stop()
	for {
		changed := s.leaderChanged()
		if s.lead.Load() == transferee {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return rpctypes.ErrGRPCTimeout
			}
			return ctx.Err()
		case <-timer.C:
			return rpctypes.ErrGRPCTimeout
		case <-s.donec:
			return rpctypes.ErrGRPCStopped
		}
	}
}
