package raftkv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"coordlab/engines/raftkv/mvcc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/membershippb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/raft/v3"
	raftpb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
		// The leader the proposal goes to (or through): if it loses the
		// lead before the entry applies, the entry may be lost with it.
		changed, lead := s.leaderChanged(), s.lead.Load()
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
	wait:
		for {
			select {
			case res = <-ch:
				break wait
			case <-changed:
				if lead != raft.None && s.lead.Load() != lead {
					// The leader that had the entry is gone: it may never
					// commit. Say so now (indeterminate, as etcd's "leader
					// changed"), so the client retries against the new
					// leader instead of waiting out its timeout.
					return fail(rpctypes.ErrGRPCLeaderChanged)
				}
				changed, lead = s.leaderChanged(), s.lead.Load()
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
	if err := checkMemberURLs(peerURLs); err != nil {
		return nil, nil, err
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
	if learner && s.members.learners(0) >= maxLearners {
		return nil, nil, rpctypes.ErrGRPCTooManyLearners
	}
	typ := raftpb.ConfChangeAddNode
	if learner {
		typ = raftpb.ConfChangeAddLearnerNode
	}
	ms, err := s.configure(ctx, &raftpb.ConfChange{Type: typ.Enum(), NodeId: proto.Uint64(m.ID), Context: mustJSON(m)})
	if err != nil {
		return nil, nil, err
	}
	return m.proto(), ms, nil
}

// configure proposes cc and returns the member list once it is applied here.
func (s *Server) configure(ctx context.Context, cc *raftpb.ConfChange) ([]*pb.Member, error) {
	rid := s.reqIDs.next()
	cc.Id = proto.Uint64(rid)
	res, err := s.proposeAndWait(ctx, proposal{id: rid, cc: cc})
	if err != nil {
		return nil, err
	}
	if res.err != nil {
		return nil, res.err
	}
	return s.members.protos(), nil
}

// UpdateMember replaces a member's peer URLs through a raft conf change
// (etcd's MemberUpdate, v3rpc.Reconfigurer). Every member applies it and
// dials the new URLs from its next connection to that member on; the member
// itself is restarted by its operator with the new --listen-peer-urls and
// --initial-advertise-peer-urls.
func (s *Server) UpdateMember(ctx context.Context, id uint64, peerURLs []string) ([]*pb.Member, error) {
	if err := checkMemberURLs(peerURLs); err != nil {
		return nil, err
	}
	if _, ok := s.members.get(id); !ok {
		return nil, rpctypes.ErrGRPCMemberNotFound
	}
	urls := sortedCopy(peerURLs)
	if s.members.peerURLInUseByOther(id, urls) {
		return nil, rpctypes.ErrGRPCPeerURLExist
	}
	return s.configure(ctx, &raftpb.ConfChange{Type: raftpb.ConfChangeUpdateNode.Enum(), NodeId: proto.Uint64(id),
		Context: mustJSON(member{ID: id, PeerURLs: urls})})
}

// learnerReadyPercent is etcd 3.4's readyPercent: a learner is promoted only
// when its raft match index is at least this share of the leader's.
const learnerReadyPercent = 0.9

// PromoteMember makes learner id a voting member (etcd's MemberPromote,
// v3rpc.Reconfigurer). Only the leader knows how far the learner's log is,
// so a follower forwards the request to the leader over the peer URL, as
// etcd does, until the request timeout.
func (s *Server) PromoteMember(ctx context.Context, id uint64) ([]*pb.Member, error) {
	start := time.Now()
	for {
		if s.isLeader() {
			ms, err := s.promoteLocal(ctx, id)
			if err != rpctypes.ErrGRPCNotLeader {
				return ms, err
			}
		} else if lead := s.lead.Load(); lead != raft.None {
			ms, err := s.forwardPromote(ctx, lead, id)
			if err != errForwardRetry {
				return ms, err
			}
		}
		if err := s.waitRetry(ctx, start); err != nil {
			return nil, err
		}
	}
}

// promoteLocal is PromoteMember on the leader: etcd's mayPromoteMember
// (member known, a learner, in sync) and then the conf change.
func (s *Server) promoteLocal(ctx context.Context, id uint64) ([]*pb.Member, error) {
	m, ok := s.members.get(id)
	if !ok {
		return nil, rpctypes.ErrGRPCMemberNotFound
	}
	if !m.IsLearner {
		return nil, rpctypes.ErrGRPCMemberNotLearner
	}
	st, err := s.raftStatus(ctx)
	if err != nil {
		return nil, err
	}
	if st.Progress == nil {
		return nil, rpctypes.ErrGRPCNotLeader
	}
	pr, ok := st.Progress[id]
	if !ok {
		return nil, rpctypes.ErrGRPCMemberNotFound
	}
	if float64(pr.Match) < float64(st.Progress[st.ID].Match)*learnerReadyPercent {
		return nil, rpctypes.ErrGRPCLearnerNotReady
	}
	return s.configure(ctx, &raftpb.ConfChange{Type: raftpb.ConfChangeAddNode.Enum(), NodeId: proto.Uint64(id),
		Context: mustJSON(confChangeContext{member: member{ID: id}, IsPromote: true})})
}

// raftStatus asks the loop, the RawNode's owner, for raft's status.
func (s *Server) raftStatus(ctx context.Context) (raft.Status, error) {
	reply := make(chan raft.Status, 1)
	select {
	case s.statusc <- reply:
	case <-ctx.Done():
		return raft.Status{}, ctx.Err()
	case <-s.donec:
		return raft.Status{}, rpctypes.ErrGRPCStopped
	}
	select {
	case st := <-reply:
		return st, nil
	case <-ctx.Done():
		return raft.Status{}, ctx.Err()
	case <-s.donec:
		return raft.Status{}, rpctypes.ErrGRPCStopped
	}
}

// IsLearner reports whether this member is a learner (v3rpc.Reconfigurer).
func (s *Server) IsLearner() bool {
	m, ok := s.members.get(s.id)
	return ok && m.IsLearner
}

// checkMemberURLs accepts at least one http(s)://host URL.
func checkMemberURLs(peerURLs []string) error {
	if len(peerURLs) == 0 {
		return rpctypes.ErrGRPCMemberBadURLs
	}
	for _, u := range peerURLs {
		pu, err := url.Parse(u)
		if err != nil || pu.Host == "" || (pu.Scheme != "http" && pu.Scheme != "https") {
			return rpctypes.ErrGRPCMemberBadURLs
		}
	}
	return nil
}

// RemoveMember removes a member through a raft conf change (etcd's MemberRemove).
func (s *Server) RemoveMember(ctx context.Context, id uint64) ([]*pb.Member, error) {
	if _, ok := s.members.get(id); !ok {
		return nil, rpctypes.ErrGRPCMemberNotFound
	}
	if err := s.mayRemoveMember(ctx, id); err != nil {
		return nil, err
	}
	return s.configure(ctx, &raftpb.ConfChange{Type: raftpb.ConfChangeRemoveNode.Enum(), NodeId: proto.Uint64(id)})
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
		IsLearner:        s.IsLearner(),
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

// hdrGRPCCode carries the gRPC code of an error the leader answers a
// forwarded promotion with; the body is the error's message.
const hdrGRPCCode = "X-Raftkv-Grpc-Code"

// forwardPromote asks the leader to promote learner id (POST
// /members/promote on its peer URL). etcd's own answers come back as they
// are; errForwardRetry asks the caller to try again (no leader reached, or
// it no longer leads).
func (s *Server) forwardPromote(ctx context.Context, lead, id uint64) ([]*pb.Member, error) {
	r, b, err := s.postLeader(ctx, lead, pathPromote, &pb.MemberPromoteRequest{ID: id})
	if err != nil {
		return nil, err
	}
	switch {
	case r.StatusCode == http.StatusOK:
		resp := &pb.MemberPromoteResponse{}
		if err := proto.Unmarshal(b, resp); err != nil {
			return nil, fmt.Errorf("raftkv: the leader's answer to a promotion: %w", err)
		}
		return resp.Members, nil
	case r.Header.Get(hdrGRPCCode) != "":
		code, err := strconv.Atoi(r.Header.Get(hdrGRPCCode))
		if err != nil {
			return nil, errForwardRetry
		}
		e := status.Error(codes.Code(code), string(b))
		if e.Error() == rpctypes.ErrGRPCNotLeader.Error() {
			return nil, errForwardRetry
		}
		return nil, e
	default:
		return nil, errForwardRetry
	}
}

// servePromote is POST /members/promote: a follower forwards etcdctl member
// promote to the leader, which alone knows how far the learner is.
func (s *Server) servePromote(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.tr.checkPeer(w, r, false); !ok {
		return
	}
	req := &pb.MemberPromoteRequest{}
	if !readProto(w, r, req) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	var ms []*pb.Member
	err := rpctypes.ErrGRPCNotLeader
	if s.isLeader() {
		ms, err = s.promoteLocal(ctx, req.ID)
	}
	if err != nil {
		st, ok := status.FromError(err)
		if !ok {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set(hdrGRPCCode, strconv.Itoa(int(st.Code())))
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusConflict)
		_, _ = io.WriteString(w, st.Message())
		return
	}
	writeProto(w, &pb.MemberPromoteResponse{Members: ms})
}
