package v3rpc

import (
	"context"
	"io"

	"coordlab/engines/raftkv/mvcc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/protobuf/proto"
)

// Backend is what the gRPC services need from one member. engines/raftkv.Server
// implements it; the tests of this package implement it with a single-member
// backend that applies proposals straight to an mvcc.Store.
//
// Concurrency: every method may be called from many gRPC handler goroutines at
// once; implementations synchronise internally. Errors returned by any method
// must be etcd's (rpctypes.ErrGRPC* values, or context errors): the services pass
// them to clients unchanged, because clientv3 recognises errors by their exact
// gRPC code and message.
type Backend interface {
	// Propose replicates req through raft and returns the store's response
	// (the value mvcc.Store.Apply returned for this entry) once the entry is
	// applied locally. The services leave req.Header nil; the backend sets it
	// with a unique request id (Header.ID) that it waits on.
	// When ctx ends first the result is unknown: the entry may still apply.
	Propose(ctx context.Context, req *pb.InternalRaftRequest) (proto.Message, error)

	// LinearizableRead returns once the local store has applied everything
	// committed when it was called (raft ReadIndex). Errors are etcd's
	// (ErrGRPCNoLeader, ErrGRPCTimeout, ...).
	LinearizableRead(ctx context.Context) error

	// Store is the member's state machine. The services only read it (Range,
	// Rev, Hash, WriteSnapshot, Watch, Leases), never mutate it.
	Store() *mvcc.Store

	// Header returns a fresh header with ClusterId, MemberId and RaftTerm
	// filled; the caller fills Revision. The caller may modify the result.
	Header() *pb.ResponseHeader

	// LeaseRenew extends lease id by its granted TTL and returns that TTL in
	// seconds. Keep-alives are leader-only and not replicated, as in etcd: a
	// follower forwards to the leader or answers ErrGRPCNotLeader. A lease that
	// does not exist answers ErrGRPCLeaseNotFound.
	LeaseRenew(ctx context.Context, id int64) (ttl int64, err error)

	// LeaseTimeToLive reports remaining TTL (from the leader's expiry timers),
	// granted TTL and, when keys is true, the attached keys.
	// A lease that does not exist answers ErrGRPCLeaseNotFound.
	LeaseTimeToLive(ctx context.Context, id int64, keys bool) (*pb.LeaseTimeToLiveResponse, error)

	// Members lists the current members (ID, name, peer and client URLs),
	// sorted by ID.
	Members() []*pb.Member
	// AddMember adds a member through a raft conf change and returns it and the
	// member list after the change was applied.
	AddMember(ctx context.Context, peerURLs []string, learner bool) (*pb.Member, []*pb.Member, error)
	// RemoveMember removes a member through a raft conf change and returns the
	// member list after the change was applied (ErrGRPCMemberNotFound if absent).
	RemoveMember(ctx context.Context, id uint64) ([]*pb.Member, error)

	// Status fills leader, raft index/term/applied index, db size and version
	// ("3.5.0"-compatible). The header is filled by the backend too.
	Status() *pb.StatusResponse

	// MaxRequestBytes is etcd's --max-request-bytes: a request whose marshalled
	// size exceeds it is refused with ErrGRPCRequestTooLarge before proposing.
	MaxRequestBytes() int
}

// StoreSnapshotter is an optional Backend ability that Maintenance.Snapshot
// uses when present. mvcc.Store.WriteSnapshot copies only what was
// Commit()ted, and only the apply loop may call Commit; a backend that
// commits in batches implements SnapshotStore by having its apply loop
// Commit and then WriteSnapshot, so the snapshot holds every entry applied
// before the call (a put acknowledged by this member is in it). Without it,
// the snapshot may miss the last uncommitted batch.
type StoreSnapshotter interface {
	SnapshotStore(ctx context.Context, w io.Writer) (int64, error)
}

// LeaderTransferer is an optional Backend ability behind
// Maintenance.MoveLeader (etcdctl move-leader). MoveLeader hands leadership
// to member transferee and returns once it leads (raft TransferLeadership),
// answering as etcd: ErrGRPCNotLeader unless this member leads,
// ErrGRPCBadLeaderTransferee for an unknown or learner transferee,
// ErrGRPCTimeout if the transfer does not finish. Without it MoveLeader
// answers codes.Unimplemented.
type LeaderTransferer interface {
	MoveLeader(ctx context.Context, transferee uint64) error
}

// Reconfigurer is an optional Backend ability behind MemberUpdate,
// MemberPromote and MemberAdd of a learner, with etcd 3.4's rules and
// errors. Without it MemberUpdate answers codes.Unimplemented and the
// learner RPCs ErrLearnerNotSupported.
type Reconfigurer interface {
	// UpdateMember replaces the peer URLs of member id through a raft conf
	// change and returns the member list once it is applied here
	// (ErrGRPCMemberNotFound, ErrGRPCPeerURLExist).
	UpdateMember(ctx context.Context, id uint64, peerURLs []string) ([]*pb.Member, error)
	// PromoteMember makes learner id a voting member once its log is close
	// enough to the leader's, and returns the member list once the change is
	// applied here (ErrGRPCMemberNotFound, ErrGRPCMemberNotLearner,
	// ErrGRPCLearnerNotReady).
	PromoteMember(ctx context.Context, id uint64) ([]*pb.Member, error)
	// IsLearner reports whether this member is a learner: it then serves
	// only Status, serializable Range and Snapshot, as an etcd 3.4 learner,
	// and answers every other RPC ErrGRPCNotSupportedForLearner.
	IsLearner() bool
}
