package raftkv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"coordlab/engines/raftkv/mvcc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/raft/v3"
	raftpb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// applyItem is work for the apply thread: a MsgStorageApply from raft, or a
// snapshot from the leader to install (queued by the append thread so that it
// runs after every earlier apply).
type applyItem struct {
	msg     *raftpb.Message
	restore *raftpb.Snapshot
	commit  bool // just Commit() the store (SnapshotStore)
	done    chan error
}

// applyState is owned by the apply thread.
type applyState struct {
	confState *raftpb.ConfState
	snapIndex uint64
	// entryIndex is the last entry applied here (membership and confState
	// are as of it), or the snapshot index after a restore. appliedIndex can
	// be ahead of it after a snapshot install (the store's ConsistentIndex).
	entryIndex uint64
	dirty      bool // the store has applied entries not yet Commit()ted
	pending    int  // entries applied since the last commit (BatchLimit)
	lastCommit time.Time
	// commitFailing: the last store commit failed (logged once per episode);
	// retryAt: no commit before then.
	commitFailing bool
	retryAt       time.Time
}

// applyLoop is raft's LocalApplyThread: it applies committed entries to the
// store, wakes their proposers, answers reads, commits the store per batch
// (or per BatchInterval) and takes snapshots.
func (s *Server) applyLoop() {
	// The ticker commits batches older than BatchInterval when no entry
	// comes, and retries a failed commit.
	period := s.cfg.BatchInterval
	if period <= 0 {
		period = commitRetryInterval
	}
	t := time.NewTicker(period)
	defer t.Stop()
	s.ap.lastCommit = time.Now()
	for {
		select {
		case <-s.applyq.C():
		case <-t.C:
			s.maybeCommit()
			continue
		case <-s.donec:
			if s.ap.dirty {
				s.commitStore()
			}
			return
		}
		for _, it := range s.applyq.popAll() {
			if it.restore != nil {
				it.done <- s.installSnapshot(it.restore)
				continue
			}
			if it.commit {
				var err error
				if s.ap.dirty && !s.commitStore() {
					err = rpctypes.ErrGRPCNoSpace
				}
				it.done <- err
				continue
			}
			if !s.apply(it.msg.GetEntries()) {
				return
			}
			s.deliver(it.msg.GetResponses())
		}
		s.maybeCommit()
		if err := s.maybeSnapshot(); err != nil {
			s.fatal(err)
			return
		}
	}
}

// commitRetryInterval is how long after a failed store commit the next is tried.
const commitRetryInterval = time.Second

// maybeCommit commits the store when it holds applied entries and the batch
// interval has passed (always, with no interval), but not sooner than
// commitRetryInterval after a failed commit.
func (s *Server) maybeCommit() {
	if !s.ap.dirty || time.Now().Before(s.ap.retryAt) {
		return
	}
	if s.cfg.BatchInterval == 0 || time.Since(s.ap.lastCommit) >= s.cfg.BatchInterval ||
		(s.cfg.BatchLimit > 0 && s.ap.pending >= s.cfg.BatchLimit) {
		s.commitStore()
	}
}

// apply applies entries in order; false means the server is stopping.
func (s *Server) apply(ents []*raftpb.Entry) bool {
	if len(ents) == 0 {
		return true
	}
	start := time.Now()
	for _, e := range ents {
		switch e.GetType() {
		case raftpb.EntryNormal:
			s.applyNormal(e)
		case raftpb.EntryConfChange:
			if !s.applyConfChange(e) {
				return false
			}
		case raftpb.EntryConfChangeV2:
			var cc raftpb.ConfChangeV2
			if err := proto.Unmarshal(e.Data, &cc); err != nil {
				panic(fmt.Sprintf("raftkv: entry %d: bad ConfChangeV2: %v", e.GetIndex(), err))
			}
			// Not proposed by raftkv; pass it to raft unchanged.
			if !s.applyConfToRaft(&cc, false) {
				return false
			}
		}
		s.setApplied(e.GetIndex())
		s.ap.entryIndex = e.GetIndex()
	}
	s.ap.dirty = true
	s.ap.pending += len(ents)
	s.metrics.applyDuration.Observe(time.Since(start).Seconds())
	s.metrics.proposalsApplied.Set(float64(s.appliedIndex.Load()))
	return true
}

// commitStore makes the applied entries durable in the store and reports
// whether it did. A failed commit (a full disk, most often) does not stop the
// member: see onCommitFailed.
func (s *Server) commitStore() bool {
	start := time.Now()
	if err := s.Store().Commit(); err != nil {
		s.onCommitFailed(err)
		return false
	}
	s.metrics.backendCommit.Observe(time.Since(start).Seconds())
	s.ap.lastCommit = time.Now()
	s.ap.dirty = false
	s.ap.pending = 0
	if s.ap.commitFailing {
		s.ap.commitFailing = false
		s.log.Warn("store commit succeeded again; writes stay refused until the NOSPACE alarm is disarmed (etcdctl alarm disarm)",
			"db", s.dbPath, "applied", s.appliedIndex.Load())
	}
	return true
}

// onCommitFailed handles a store commit that failed. Nothing acknowledged is
// lost: every applied entry is in the WAL, which a restart replays. bbolt has
// rolled its transaction back, so the store on disk is at its last commit
// while its memory is ahead; it is reopened from disk and the entries since
// that commit are applied again from the raft log (in memory only, until a
// commit succeeds), so reads keep answering everything applied. The NOSPACE
// alarm is raised through raft, as etcd raises it over quota: every member
// then refuses puts, txns with puts and lease grants, while reads, deletes
// and compactions go on. Commits are retried every commitRetryInterval; the
// alarm stays until an operator frees space and disarms it.
func (s *Server) onCommitFailed(err error) {
	s.ap.retryAt = time.Now().Add(commitRetryInterval)
	select {
	case <-s.donec:
		// Stopping: the WAL replays the rest at the next start.
		s.log.Error("store commit failed while stopping; the next start replays the raft log", "db", s.dbPath, "err", err)
		return
	default:
	}
	if !s.ap.commitFailing {
		s.ap.commitFailing = true
		s.log.Error("store commit failed; raising the NOSPACE alarm: writes are refused, reads are served. "+
			"Free space for "+s.cfg.DataDir+", then run `etcdctl alarm disarm`",
			"db", s.dbPath, "applied", s.appliedIndex.Load(), "err", err)
	}
	s.raiseNoSpace()
	if rerr := s.reloadStore(); rerr != nil {
		s.fatal(fmt.Errorf("store commit failed (%v) and the store could not be reloaded: %w", err, rerr))
	}
}

// reloadStore reopens the store from its last commit and applies again the
// entries the apply thread applied since then.
func (s *Server) reloadStore() error {
	s.storeMu.Lock()
	if err := s.store.Close(); err != nil {
		s.storeMu.Unlock()
		return fmt.Errorf("close store: %w", err)
	}
	st, err := mvcc.Open(s.dbPath, s.mvccConfig())
	if err != nil {
		s.store = nil
		s.storeMu.Unlock()
		return err
	}
	s.store = st
	s.storeMu.Unlock()
	lo, hi := st.ConsistentIndex()+1, s.ap.entryIndex
	if lo > hi {
		s.ap.dirty = false
		return nil
	}
	ents, err := s.ms.Entries(lo, hi+1, math.MaxUint64)
	if err != nil {
		return fmt.Errorf("raft log entries %d..%d to apply again: %w", lo, hi, err)
	}
	for _, e := range ents {
		if e.GetType() != raftpb.EntryNormal || len(e.Data) == 0 {
			continue // conf changes and empty entries never reach the store
		}
		req := &pb.InternalRaftRequest{}
		if err := proto.Unmarshal(e.Data, req); err != nil {
			return fmt.Errorf("entry %d: %w", e.GetIndex(), err)
		}
		if req.ClusterMemberAttrSet != nil {
			continue
		}
		// The response went out at the first apply; this one is the same
		// (Apply is deterministic) and has no one to go to.
		_, _ = st.Apply(e.GetIndex(), req)
	}
	s.ap.dirty = true
	s.log.Info("store reloaded from its last commit and the raft log", "store_index", lo-1, "applied", hi)
	return nil
}

// raiseNoSpace proposes this member's NOSPACE alarm unless it is active or a
// proposal of it is under way.
func (s *Server) raiseNoSpace() {
	for _, a := range s.Alarms() {
		if a.MemberID == s.id && a.Alarm == pb.AlarmType_NOSPACE {
			return
		}
	}
	if !s.raisingNoSpace.CompareAndSwap(false, true) {
		return
	}
	s.goFunc(func() {
		defer s.raisingNoSpace.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
		defer cancel()
		go func() {
			select {
			case <-s.stopc:
				cancel()
			case <-ctx.Done():
			}
		}()
		if _, err := s.Alarm(ctx, &pb.AlarmRequest{Action: pb.AlarmRequest_ACTIVATE, MemberID: s.id, Alarm: pb.AlarmType_NOSPACE}); err != nil {
			s.log.Warn("raising the NOSPACE alarm failed; retrying at the next failed commit", "err", err)
		}
	})
}

func (s *Server) applyNormal(e *raftpb.Entry) {
	if len(e.Data) == 0 {
		return // the new leader's empty entry
	}
	req := &pb.InternalRaftRequest{}
	if err := proto.Unmarshal(e.Data, req); err != nil {
		panic(fmt.Sprintf("raftkv: entry %d: bad InternalRaftRequest: %v", e.GetIndex(), err))
	}
	var res applyResult
	switch {
	case req.ClusterMemberAttrSet != nil:
		a := req.ClusterMemberAttrSet
		s.members.setAttrs(a.Member_ID, a.GetMemberAttributes().GetName(), a.GetMemberAttributes().GetClientUrls())
	default:
		st := s.Store()
		if e.GetIndex() <= st.ConsistentIndex() {
			// The store already holds this entry: it came in a snapshot from
			// the leader (taken at send time, so past the snapshot index) and
			// raft now applies the entries above the snapshot index again.
			// mvcc skips it and has no response to give (it answers nil,
			// nil, which v3rpc would turn into codes.Internal). The write did
			// take effect, but its response (revision, prev kv, txn result)
			// is gone, so neither a made-up success nor a definite failure is
			// honest: answer etcd's "request timed out", the indeterminate
			// error clientv3 and our checker treat as "may have applied".
			// etcd does the same in effect: it skips entries at or below its
			// applied index and the waiter times out.
			res = applyResult{err: rpctypes.ErrGRPCTimeout}
			if req.LeaseRevoke != nil {
				s.lessor.revoked(req.LeaseRevoke.ID) // as before: the store has no such lease any more
			}
			break
		}
		applyStart := time.Now()
		resp, err := st.Apply(e.GetIndex(), req)
		res = applyResult{resp: resp, err: err}
		if took, limit := time.Since(applyStart), s.warnApplyDuration(); took > limit {
			// etcd's warnOfExpensiveRequest.
			s.log.Warn("apply request took too long", "took", took, "expected-duration", limit, "request", requestKind(req))
		}
		switch {
		case req.LeaseGrant != nil && err == nil:
			if r, ok := resp.(*pb.LeaseGrantResponse); ok {
				s.lessor.granted(r.ID, r.TTL)
			}
		case req.LeaseRevoke != nil:
			// A revoke refused for lack of permission leaves the lease,
			// and its expiry timer, in place.
			if err == nil || errors.Is(err, rpctypes.ErrGRPCLeaseNotFound) {
				s.lessor.revoked(req.LeaseRevoke.ID)
			}
		case err != nil:
		case req.Authenticate != nil:
			if r, ok := resp.(*pb.AuthenticateResponse); ok {
				tok, ierr := s.tokens.Issue(r.Token, req.Authenticate.Name, st.AuthRevision())
				if ierr != nil {
					res = applyResult{err: status.Error(codes.Unknown, ierr.Error())}
				}
				r.Token = tok
			}
		case req.AuthDisable != nil:
			s.tokens.Clear()
		case req.AuthUserDelete != nil:
			s.tokens.InvalidateUser(req.AuthUserDelete.Name)
		case req.AuthUserChangePassword != nil:
			s.tokens.InvalidateUser(req.AuthUserChangePassword.Name)
		}
	}
	if id := req.GetHeader().GetID(); id != 0 {
		s.wake(id, res)
	}
}

// applyConfChange updates the member list from the entry and has the loop
// apply it to raft. It checks the change against the member list as etcd's
// ValidateConfigurationChange does, deterministically on every member: a
// change that no longer holds (an add of a removed member, a promotion of a
// member that is not a learner, a learner beyond maxLearners, an update or
// remove of an unknown member, an update to peer URLs another member has) is
// cancelled by zeroing its node id, as raft's docs say, and its proposer gets
// etcd's error.
func (s *Server) applyConfChange(e *raftpb.Entry) bool {
	cc := &raftpb.ConfChange{}
	if err := proto.Unmarshal(e.Data, cc); err != nil {
		panic(fmt.Sprintf("raftkv: entry %d: bad ConfChange: %v", e.GetIndex(), err))
	}
	id := cc.GetNodeId()
	var res applyResult
	removedSelf := false
	var ctx confChangeContext
	if t := cc.GetType(); t != raftpb.ConfChangeRemoveNode && len(cc.Context) > 0 {
		if err := json.Unmarshal(cc.Context, &ctx); err != nil {
			panic(fmt.Sprintf("raftkv: entry %d: bad member in conf change: %v", e.GetIndex(), err))
		}
	}
	m := ctx.member
	m.ID = id
	cur, exists := s.members.get(id)
	switch cc.GetType() {
	case raftpb.ConfChangeAddNode, raftpb.ConfChangeAddLearnerNode:
		m.IsLearner = cc.GetType() == raftpb.ConfChangeAddLearnerNode
		switch {
		case s.members.isRemoved(id):
			res.err = rpctypes.ErrGRPCMemberNotFound
		case ctx.IsPromote && !exists:
			res.err = rpctypes.ErrGRPCMemberNotFound
		case ctx.IsPromote && !cur.IsLearner:
			res.err = rpctypes.ErrGRPCMemberNotLearner
		case ctx.IsPromote:
			s.members.promote(id)
		case m.IsLearner && !exists && s.members.learners(id) >= maxLearners:
			res.err = rpctypes.ErrGRPCTooManyLearners
		default:
			// An add of a member already listed is the bootstrap's (the
			// list starts with the initial members): it merges.
			s.members.add(m)
			res.resp = m
		}
	case raftpb.ConfChangeRemoveNode:
		if !exists && !s.members.isRemoved(id) {
			res.err = rpctypes.ErrGRPCMemberNotFound
		} else {
			s.members.remove(id)
			removedSelf = id == s.id
		}
	case raftpb.ConfChangeUpdateNode:
		switch {
		case !exists:
			res.err = rpctypes.ErrGRPCMemberNotFound
		case s.members.peerURLInUseByOther(id, m.PeerURLs):
			res.err = rpctypes.ErrGRPCPeerURLExist
		default:
			s.members.setPeerURLs(id, m.PeerURLs)
		}
	}
	if res.err != nil {
		cc.NodeId = proto.Uint64(0)
	}
	if !s.applyConfToRaft(cc, removedSelf) {
		return false
	}
	s.tr.setPeers(s.members.list(), s.id)
	s.log.Info("applied conf change", "type", cc.GetType().String(), "member", fmt.Sprintf("%x", id),
		"promote", ctx.IsPromote, "peer_urls", m.PeerURLs, "index", e.GetIndex(), "refused", res.err)
	if res.err == nil {
		switch cc.GetType() {
		case raftpb.ConfChangeAddNode, raftpb.ConfChangeAddLearnerNode:
			m, _ := s.members.get(id)
			s.log.Info("added member", "cluster-id", fmt.Sprintf("%x", s.members.clusterID()), "local-member-id", fmt.Sprintf("%x", s.id),
				"added-peer-id", fmt.Sprintf("%x", id), "added-peer-peer-urls", m.PeerURLs)
		case raftpb.ConfChangeRemoveNode:
			s.log.Info("removed member", "cluster-id", fmt.Sprintf("%x", s.members.clusterID()), "local-member-id", fmt.Sprintf("%x", s.id),
				"removed-remote-peer-id", fmt.Sprintf("%x", id))
		}
	}
	if rid := cc.GetId(); rid != 0 {
		s.wake(rid, res)
	}
	return true
}

// applyConfToRaft has the loop (the RawNode's owner) apply cc and waits for the
// new ConfState.
func (s *Server) applyConfToRaft(cc raftpb.ConfChangeI, removedSelf bool) bool {
	reply := make(chan *raftpb.ConfState, 1)
	s.localq.push(localItem{cc: cc, ccReply: reply, removed: removedSelf})
	select {
	case cs := <-reply:
		s.ap.confState = cs
		return true
	case <-s.donec:
		return false
	}
}

// installSnapshot replaces the store and membership with a snapshot from the
// leader (its file was saved by the transport, its record by the append thread).
func (s *Server) installSnapshot(snap *raftpb.Snapshot) error {
	md := snap.GetMetadata()
	if err := s.members.restore(snap.GetData()); err != nil {
		return err
	}
	s.ap.confState = md.GetConfState()
	s.tr.setPeers(s.members.list(), s.id)
	if err := s.restoreStore(md.GetIndex()); err != nil {
		return err
	}
	s.ap.snapIndex = md.GetIndex()
	s.ap.entryIndex = md.GetIndex()
	s.ap.dirty = false
	ci := s.Store().ConsistentIndex()
	s.setApplied(ci)
	s.metrics.snapshotsApplied.Inc()
	s.log.Info("applied snapshot from leader", "index", md.GetIndex(), "store_index", ci)
	return nil
}

// maybeSnapshot takes a raft snapshot (membership only: the store is its own
// durable file) every SnapshotCount applied entries and compacts the log.
func (s *Server) maybeSnapshot() error {
	// Snapshot at the last entry applied here, not at appliedIndex: after a
	// snapshot install appliedIndex is the store's ConsistentIndex, and the
	// leader read its store when it sent it, so that can be past the raft
	// log's last index (MemoryStorage.CreateSnapshot panics beyond it) and
	// past entries, conf changes among them, whose effect on membership and
	// confState is not applied here yet (a snapshot there would carry a stale
	// ConfState). Until the log and the apply thread catch up, no snapshot.
	applied := s.ap.entryIndex
	if applied <= s.ap.snapIndex || applied-s.ap.snapIndex < s.cfg.SnapshotCount {
		return nil
	}
	// Never beyond what raft storage holds (entries are appended there before
	// raft lets them apply, so this is only a guard).
	if last, err := s.ms.LastIndex(); err != nil || applied > last {
		return nil
	}
	// The store must hold everything up to applied before the log is
	// compacted (a failed commit keeps the log: it is applied again from it).
	if s.ap.dirty && !s.commitStore() {
		return nil
	}
	snap, err := s.ms.CreateSnapshot(applied, s.ap.confState, s.members.marshal())
	if err != nil {
		if err == raft.ErrSnapOutOfDate {
			return nil
		}
		return fmt.Errorf("create snapshot at %d: %w", applied, err)
	}
	s.ap.snapIndex = applied
	if applied > s.cfg.SnapshotCatchUpEntries {
		compact := applied - s.cfg.SnapshotCatchUpEntries
		if first, _ := s.ms.FirstIndex(); compact > first {
			if err := s.ms.Compact(compact); err != nil && err != raft.ErrCompacted {
				return fmt.Errorf("compact raft log to %d: %w", compact, err)
			}
		}
	}
	s.appendq.push(appendItem{snap: snap})
	s.metrics.snapshotsSaved.Inc()
	s.log.Info("saved snapshot", "index", applied)
	return nil
}

// SnapshotStore writes the store with every entry applied before the call
// (v3rpc.StoreSnapshotter, for Maintenance.Snapshot): the apply thread commits
// the open batch first, then the committed file is copied.
func (s *Server) SnapshotStore(ctx context.Context, w io.Writer) (int64, error) {
	done := make(chan error, 1)
	s.applyq.push(applyItem{commit: true, done: done})
	select {
	case err := <-done:
		if err != nil {
			return 0, err
		}
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-s.donec:
		return 0, rpctypes.ErrGRPCStopped
	}
	return s.writeStoreSnapshot(w)
}

func (s *Server) warnApplyDuration() time.Duration {
	if s.cfg.WarningApplyDuration > 0 {
		return s.cfg.WarningApplyDuration
	}
	return 100 * time.Millisecond
}

// requestKind names a request for the slow-apply warning.
func requestKind(r *pb.InternalRaftRequest) string {
	switch {
	case r.Put != nil:
		return "put key:" + string(r.Put.Key)
	case r.DeleteRange != nil:
		return "delete_range key:" + string(r.DeleteRange.Key)
	case r.Txn != nil:
		return fmt.Sprintf("txn compare:%d success:%d failure:%d", len(r.Txn.Compare), len(r.Txn.Success), len(r.Txn.Failure))
	case r.Compaction != nil:
		return fmt.Sprintf("compaction revision:%d", r.Compaction.Revision)
	case r.LeaseGrant != nil:
		return fmt.Sprintf("lease_grant ttl:%d", r.LeaseGrant.TTL)
	case r.LeaseRevoke != nil:
		return fmt.Sprintf("lease_revoke id:%x", r.LeaseRevoke.ID)
	case r.Alarm != nil:
		return "alarm " + r.Alarm.Action.String() + " " + r.Alarm.Alarm.String()
	}
	return "other"
}
