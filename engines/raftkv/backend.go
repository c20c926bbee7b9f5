package raftkv

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"coordlab/engines/raftkv/mvcc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/membershippb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/raft/v3"
	raftpb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Version is the server version raftkv reports (Status, as `etcdctl
// endpoint status` shows it, and /version's etcdserver): the etcd API it
// speaks, 3.4, with build metadata naming raftkv, so it parses as the
// semantic version 3.4.0 and still says what answers.
const Version = "3.4.0+raftkv"

// ClusterVersion is the etcd API version raftkv speaks (etcd 3.4's).
const ClusterVersion = "3.4"

// Ready is closed once this member has published itself through the log
// and serves client requests (etcd's ReadyNotify).
func (s *Server) Ready() <-chan struct{} { return s.readyc }

// Propose replicates req through raft and returns the store's response once
// the entry is applied on this member.
func (s *Server) Propose(ctx context.Context, req *pb.InternalRaftRequest) (proto.Message, error) {
	if req.Header == nil {
		req.Header = &pb.RequestHeader{}
	}
	req.Header.ID = s.reqIDs.next()
	data, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	if len(data) > s.cfg.MaxRequestBytes {
		return nil, rpctypes.ErrGRPCRequestTooLarge
	}
	res, err := s.proposeAndWait(ctx, proposal{id: req.Header.ID, data: data})
	if err != nil {
		return nil, err
	}
	if res.err != nil {
		return nil, res.err
	}
	msg, _ := res.resp.(proto.Message)
	return msg, nil
}

// proposeAndWait hands p to the loop and waits for its entry to apply. A
// proposal raft drops (no leader yet, leadership transfer) is retried after the
// next leader change or a tick, until the request timeout.
func (s *Server) proposeAndWait(ctx context.Context, p proposal) (applyResult, error) {
	select {
	case <-s.donec:
		// Not handed to raft: a definite refusal.
		return applyResult{}, s.stoppedErr()
	default:
	}
	if s.committedIndex.Load() > s.appliedIndex.Load()+s.cfg.MaxApplyLag {
		return applyResult{}, rpctypes.ErrGRPCRequestTooManyRequests
	}
	ch := make(chan applyResult, 1)
	s.waitMu.Lock()
	if len(s.waiters) >= s.cfg.MaxPendingProposals {
		s.waitMu.Unlock()
		return applyResult{}, rpctypes.ErrGRPCRequestTooManyRequests
	}
	s.waiters[p.id] = ch
	s.waitMu.Unlock()
	s.metrics.proposalsPending.Inc()
	defer s.metrics.proposalsPending.Dec()
	unregister := func() {
		s.waitMu.Lock()
		delete(s.waiters, p.id)
		s.waitMu.Unlock()
	}
	start := time.Now()
	timer := time.NewTimer(s.cfg.RequestTimeout)
	defer timer.Stop()
	fail := func(err error) (applyResult, error) {
		unregister()
		s.metrics.proposalsFailed.Inc()
		return applyResult{}, err
	}
	ctxErr := func() error {
		if ctx.Err() == context.DeadlineExceeded {
			return s.timeoutErr(start)
		}
		return ctx.Err()
	}
	for {
		select {
		case s.propc <- p:
		case <-ctx.Done():
			return fail(ctxErr())
		case <-timer.C:
			return fail(s.timeoutErr(start))
		case <-s.donec:
			return fail(rpctypes.ErrGRPCStopped)
		}
		// The proposal is in raft's hands: it may commit even if this member
		// loses its leader now, so a timeout is indeterminate, never "no
		// leader" (which clients take to mean the request was not proposed).
		var res applyResult
		select {
		case res = <-ch:
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return fail(s.proposedTimeoutErr())
			}
			return fail(ctx.Err())
		case <-timer.C:
			return fail(s.proposedTimeoutErr())
		case <-s.donec:
			return fail(rpctypes.ErrGRPCStopped)
		}
		if !errors.Is(res.err, raft.ErrProposalDropped) {
			return res, nil
		}
		// Dropped: wait for a leader (or a tick) and propose again.
		s.waitMu.Lock()
		s.waiters[p.id] = ch
		s.waitMu.Unlock()
		retry := time.NewTimer(s.cfg.TickInterval)
		select {
		case <-s.leaderChanged():
		case <-retry.C:
		case <-ctx.Done():
			retry.Stop()
			return fail(ctxErr())
		case <-timer.C:
			retry.Stop()
			return fail(s.timeoutErr(start))
		case <-s.donec:
			retry.Stop()
			return fail(rpctypes.ErrGRPCStopped)
		}
		retry.Stop()
	}
}

// stoppedErr answers a request that never reached raft because the loop has
// exited: NOSPACE when the WAL could not be written for lack of space (the
// error clients know means "writes refused, free space"), else etcd's
// "server stopped".
func (s *Server) stoppedErr() error {
	if err := s.Err(); errors.Is(err, ErrWALFailed) && isNoSpaceErr(err) {
		return rpctypes.ErrGRPCNoSpace
	}
	return rpctypes.ErrGRPCStopped
}

func isNoSpaceErr(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// proposedTimeoutErr is etcd's error for a proposal raft accepted that did
// not apply in time: whether it will commit is unknown. With no leader it is
// etcd's "possibly due to previous leader failure" timeout; both are
// Unavailable "timed out" errors, which clients treat as indeterminate.
func (s *Server) proposedTimeoutErr() error {
	select {
	case <-s.donec:
		return rpctypes.ErrGRPCStopped
	default:
	}
	if s.lead.Load() == raft.None {
		return rpctypes.ErrGRPCTimeoutDueToLeaderFail
	}
	return rpctypes.ErrGRPCTimeout
}

// timeoutErr is etcd's error for a request that did not finish in time and
// was never proposed (or only dropped by raft): with no leader, "no leader",
// which says the request surely did not happen.
func (s *Server) timeoutErr(start time.Time) error {
	if s.lead.Load() == raft.None {
		return rpctypes.ErrGRPCNoLeader
	}
	select {
	case <-s.donec:
		return rpctypes.ErrGRPCStopped
	default:
	}
	return rpctypes.ErrGRPCTimeout
}

// Store is the member's state machine. After a snapshot from the leader is
// installed it is a new value: call Store per request.
func (s *Server) Store() *mvcc.Store {
	s.storeMu.RLock()
	defer s.storeMu.RUnlock()
	return s.store
}

// Header returns a response header with cluster id, member id and raft term.
func (s *Server) Header() *pb.ResponseHeader {
	return &pb.ResponseHeader{ClusterId: s.members.clusterID(), MemberId: s.id, RaftTerm: s.term.Load()}
}

// Members lists the members sorted by ID.
func (s *Server) Members() []*pb.Member { return s.members.protos() }

// AddMember adds a member through a raft conf change (etcd's MemberAdd).
func (s *Server) AddMember(ctx context.Context, peerURLs []string, learner bool) (*pb.Member, []*pb.Member, error) {
	if len(peerURLs) == 0 {
		return nil, nil, rpctypes.ErrGRPCMemberBadURLs
	}
	for _, u := range peerURLs {
		pu, err := url.Parse(u)
		if err != nil || pu.Host == "" || (pu.Scheme != "http" && pu.Scheme != "https") {
			return nil, nil, rpctypes.ErrGRPCMemberBadURLs
		}
	}
	if s.members.peerURLInUse(peerURLs) {
		return nil, nil, rpctypes.ErrGRPCPeerURLExist
	}
	if err := s.mayAddMember(ctx, learner); err != nil {
		return nil, nil, err
	}
	now := time.Now()
	m := member{ID: MemberID(peerURLs, s.cfg.ClusterToken, &now), PeerURLs: sortedCopy(peerURLs), IsLearner: learner}
	if _, ok := s.members.get(m.ID); ok || s.members.isRemoved(m.ID) {
		return nil, nil, rpctypes.ErrGRPCMemberExist
	}
	typ := raftpb.ConfChangeAddNode
	if learner {
		typ = raftpb.ConfChangeAddLearnerNode
	}
	rid := s.reqIDs.next()
	cc := &raftpb.ConfChange{Type: typ.Enum(), NodeId: proto.Uint64(m.ID), Context: mustJSON(m), Id: proto.Uint64(rid)}
	res, err := s.proposeAndWait(ctx, proposal{id: rid, cc: cc})
	if err != nil {
		return nil, nil, err
	}
	if res.err != nil {
		return nil, nil, res.err
	}
	return m.proto(), s.members.protos(), nil
}

// RemoveMember removes a member through a raft conf change (etcd's MemberRemove).
func (s *Server) RemoveMember(ctx context.Context, id uint64) ([]*pb.Member, error) {
	if _, ok := s.members.get(id); !ok {
		return nil, rpctypes.ErrGRPCMemberNotFound
	}
	if err := s.mayRemoveMember(ctx, id); err != nil {
		return nil, err
	}
	rid := s.reqIDs.next()
	cc := &raftpb.ConfChange{Type: raftpb.ConfChangeRemoveNode.Enum(), NodeId: proto.Uint64(id), Id: proto.Uint64(rid)}
	res, err := s.proposeAndWait(ctx, proposal{id: rid, cc: cc})
	if err != nil {
		return nil, err
	}
	if res.err != nil {
		return nil, res.err
	}
	return s.members.protos(), nil
}

// Status reports leader, raft indexes and term, and the store size.
func (s *Server) Status() *pb.StatusResponse {
	h := s.Header()
	st := s.Store()
	var size, inUse int64
	if st != nil {
		h.Revision = st.Rev()
		size, inUse = st.Size(), st.SizeInUse()
	}
	return &pb.StatusResponse{
		Header:           h,
		Version:          Version,
		DbSize:           size,
		DbSizeInUse:      inUse,
		Leader:           s.lead.Load(),
		RaftIndex:        s.committedIndex.Load(),
		RaftTerm:         s.term.Load(),
		RaftAppliedIndex: s.appliedIndex.Load(),
		IsLearner:        s.isLearner(),
		Errors:           s.statusErrors(),
	}
}

// statusErrors names why this member stopped taking part in raft, if it did
// on a storage error (etcdctl endpoint status prints it).
func (s *Server) statusErrors() []string {
	if err := s.Err(); err != nil && !errors.Is(err, ErrRemoved) {
		return []string{err.Error()}
	}
	return nil
}

func (s *Server) isLearner() bool {
	m, ok := s.members.get(s.id)
	return ok && m.IsLearner
}

// MaxRequestBytes is --max-request-bytes.
func (s *Server) MaxRequestBytes() int { return s.cfg.MaxRequestBytes }

// publish announces this member's name and client URLs through the log, as
// etcd does after start, retrying until it applies or the server stops.
func (s *Server) publish() {
	for {
		req := &pb.InternalRaftRequest{ClusterMemberAttrSet: &membershippb.ClusterMemberAttrSetRequest{
			Member_ID:        s.id,
			MemberAttributes: &membershippb.Attributes{Name: s.cfg.Name, ClientUrls: slices.Clone(s.cfg.ClientURLs)},
		}}
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
		go func() {
			select {
			case <-s.stopc:
				cancel()
			case <-ctx.Done():
			}
		}()
		_, err := s.Propose(ctx, req)
		cancel()
		if err == nil {
			cid := fmt.Sprintf("%x", s.members.clusterID())
			s.log.Info("published local member to cluster through raft", "local-member-id", fmt.Sprintf("%x", s.id),
				"local-member-attributes", fmt.Sprintf("{Name:%s ClientURLs:[%s]}", s.cfg.Name, strings.Join(s.cfg.ClientURLs, " ")),
				"cluster-id", cid)
			// raftkv speaks etcd's 3.4 API from the start: no version
			// negotiation, but the lines tools wait for, at the moment etcd
			// logs them (once the member has joined through the log).
			s.log.Info("set initial cluster version", "cluster-id", cid, "local-member-id", fmt.Sprintf("%x", s.id), "cluster-version", ClusterVersion)
			s.log.Info("enabled capabilities for version", "cluster-version", ClusterVersion)
			close(s.readyc)
			return
		}
		select {
		case <-s.stopc:
			return
		case <-s.donec:
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Alarm replicates r through raft, as etcd does for every action, and
// returns the store's answer (v3rpc.Alarmer).
func (s *Server) Alarm(ctx context.Context, r *pb.AlarmRequest) (*pb.AlarmResponse, error) {
	resp, err := s.Propose(ctx, &pb.InternalRaftRequest{Alarm: r})
	if err != nil {
		return nil, err
	}
	ar, ok := resp.(*pb.AlarmResponse)
	if !ok {
		return nil, fmt.Errorf("raftkv: alarm request answered %T", resp)
	}
	return ar, nil
}

// Alarms lists the alarms active on this member's store.
func (s *Server) Alarms() []*pb.AlarmMember {
	st := s.Store()
	if st == nil {
		return nil
	}
	return st.Alarms()
}

// QuotaAvailable reports whether a write adding about cost bytes keeps the
// store's bytes in use under the quota. etcd compares the file size, which
// its defragment shrinks; raftkv's Defragment does not rewrite the file, so
// the quota counts what is in use: deleting and compacting frees room.
func (s *Server) QuotaAvailable(cost int) bool {
	q := s.cfg.QuotaBackendBytes
	switch {
	case q < 0:
		return true
	case q == 0:
		q = DefaultQuotaBackendBytes
	}
	st := s.Store()
	return st == nil || st.SizeInUse()+int64(cost) < q
}
