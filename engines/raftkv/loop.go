package raftkv

import (
	"encoding/json"
	"fmt"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/raft/v3"
	raftpb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

const (
	maxDrain       = 4096 // messages and proposals taken per loop turn before a Ready
	readRetryTicks = 5    // re-issue an unanswered ReadIndex after this many ticks
)

// run is the raft loop: the only goroutine that touches the RawNode, the WAL,
// the MemoryStorage and the store's write side.
func (s *Server) run() {
	defer close(s.donec)
	ticker := s.cfg.NewTicker(s.cfg.TickInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C():
			s.rn.Tick()
			s.onTick()
		case m := <-s.recvc:
			s.step(m)
		case p := <-s.propc:
			s.propose(p)
		case <-s.readNotify:
		case r := <-s.reportc:
			s.onReport(r)
		case <-s.removedc:
			s.log.Warn("a peer says this member was removed; stopping")
			s.loopErr = ErrRemoved
			return
		case <-s.stopc:
			return
		}
		s.drain()
		s.maybeStartRead()
		if s.rn.HasReady() {
			if err := s.handleReady(); err != nil {
				s.log.Error("raft loop stopped on a storage error", "err", err)
				s.loopErr = err
				s.failAll(rpctypes.ErrGRPCStopped)
				return
			}
		}
		if s.removed {
			s.log.Warn("this member was removed from the cluster; stopping")
			s.loopErr = ErrRemoved
			s.failAll(rpctypes.ErrGRPCStopped)
			return
		}
	}
}

// drain takes what is already queued so that one Ready (one fsync) covers it.
func (s *Server) drain() {
	for range maxDrain {
		select {
		case m := <-s.recvc:
			s.step(m)
		case p := <-s.propc:
			s.propose(p)
		case r := <-s.reportc:
			s.onReport(r)
		default:
			return
		}
	}
}

func (s *Server) step(m *raftpb.Message) {
	if err := s.rn.Step(m); err != nil {
		s.log.Debug("raft step", "type", m.GetType().String(), "from", fmt.Sprintf("%x", m.GetFrom()), "err", err)
	}
}

func (s *Server) propose(p proposal) {
	var err error
	if p.cc != nil {
		err = s.rn.ProposeConfChange(p.cc)
	} else {
		err = s.rn.Propose(p.data)
	}
	if err != nil {
		s.metrics.proposalsFailed.Inc()
		s.wake(p.id, applyResult{err: err})
	}
}

func (s *Server) onReport(r reportMsg) {
	if r.snap {
		s.rn.ReportSnapshot(r.to, r.snapStatus)
	}
	if !r.snap || r.snapStatus == raft.SnapshotFailure {
		s.rn.ReportUnreachable(r.to)
	}
}

func (s *Server) onTick() {
	s.readTick()
	if s.wasLeader {
		s.revokeExpiredLeases()
	}
	if s.dirty && s.cfg.BatchInterval > 0 && time.Since(s.lastCommit) >= s.cfg.BatchInterval {
		s.commitStore()
	}
}

// needsDurability says whether m vouches for state that must be on disk before
// it leaves: raft's own list (raft.go send: MsgAppResp, MsgVoteResp,
// MsgPreVoteResp go to msgsAfterAppend). Every other message may be sent while
// the same Ready's entries are being written (the leader's parallel write, and
// a follower's heartbeat responses), as raft does with AsyncStorageWrites.
func needsDurability(m *raftpb.Message) bool {
	switch m.GetType() {
	case raftpb.MsgAppResp, raftpb.MsgVoteResp, raftpb.MsgPreVoteResp:
		return true
	}
	return false
}

func (s *Server) handleReady() error {
	rd := s.rn.Ready()
	if rd.SoftState != nil {
		s.onSoftState(rd.SoftState)
	}
	if rd.HardState != nil {
		s.term.Store(rd.HardState.GetTerm())
		s.committedIndex.Store(rd.HardState.GetCommit())
		s.metrics.proposalsCommitted.Set(float64(rd.HardState.GetCommit()))
	}
	var late []*raftpb.Message
	early := make([]*raftpb.Message, 0, len(rd.Messages))
	for _, m := range rd.Messages {
		if needsDurability(m) {
			late = append(late, m)
		} else {
			early = append(early, m)
		}
	}
	s.tr.send(early)

	hasSnap := rd.Snapshot != nil && !raft.IsEmptySnap(rd.Snapshot)
	var snap *raftpb.Snapshot
	if hasSnap {
		snap = rd.Snapshot
		if err := s.checkSnapFile(snap); err != nil {
			return err
		}
	}
	// One write and one fsync for everything this Ready must persist.
	if err := s.w.Save(snap, rd.Entries, rd.HardState, rd.MustSync); err != nil {
		return err
	}
	if rd.HardState != nil {
		if err := s.ms.SetHardState(rd.HardState); err != nil {
			return err
		}
	}
	if hasSnap {
		if err := s.applySnapshot(snap); err != nil {
			return err
		}
	}
	if err := s.ms.Append(rd.Entries); err != nil {
		return fmt.Errorf("raft storage append: %w", err)
	}
	if n := len(rd.Entries); n > 0 {
		s.lastIndex.Store(rd.Entries[n-1].GetIndex())
	}
	s.tr.send(late)

	if err := s.apply(rd.CommittedEntries); err != nil {
		return err
	}
	s.onReadStates(rd.ReadStates)
	s.rn.Advance(rd)
	if s.reads.reissue {
		s.reads.reissue = false
		if s.reads.inflight != nil {
			s.issueReadIndex()
		}
	}
	return s.maybeSnapshot()
}

func (s *Server) onSoftState(ss *raft.SoftState) {
	if ss.Lead != s.lead.Load() {
		old := s.lead.Swap(ss.Lead)
		if ss.Lead != raft.None {
			s.metrics.leaderChanges.Inc()
		}
		s.metrics.hasLeader.Set(b2f(ss.Lead != raft.None))
		s.leadChangeMu.Lock()
		close(s.leadChangeC)
		s.leadChangeC = make(chan struct{})
		s.leadChangeMu.Unlock()
		s.log.Info("leader changed", "from", fmt.Sprintf("%x", old), "to", fmt.Sprintf("%x", ss.Lead), "term", s.term.Load())
		if old != raft.None {
			// The round may have gone to the old leader: etcd's answer.
			s.failInflightRead(rpctypes.ErrGRPCLeaderChanged)
		} else if s.reads.inflight != nil && ss.Lead != raft.None {
			// Issued while there was no leader, so raft dropped it: ask again now.
			s.reads.reissue = true
		}
	}
	isLeader := ss.RaftState == raft.StateLeader
	s.metrics.isLeader.Set(b2f(isLeader))
	if isLeader && !s.wasLeader {
		s.storeMu.RLock()
		leases := s.store.Leases()
		s.storeMu.RUnlock()
		s.lessor.promote(leases)
		s.log.Info("became leader; leases extended", "leases", len(leases))
	} else if !isLeader && s.wasLeader {
		s.lessor.demote()
	}
	s.wasLeader = isLeader
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (s *Server) checkSnapFile(snap *raftpb.Snapshot) error {
	idx := snap.GetMetadata().GetIndex()
	if _, err := statFile(s.snapDBPath(idx)); err != nil {
		return fmt.Errorf("snapshot %d arrived without its store file: %w", idx, err)
	}
	return nil
}

// applySnapshot installs a snapshot received from the leader: raft storage,
// membership, then the store from the saved file.
func (s *Server) applySnapshot(snap *raftpb.Snapshot) error {
	md := snap.GetMetadata()
	if err := s.ms.ApplySnapshot(snap); err != nil {
		return fmt.Errorf("raft storage: apply snapshot %d: %w", md.GetIndex(), err)
	}
	if err := s.members.restore(snap.GetData()); err != nil {
		return err
	}
	s.confState = md.GetConfState()
	s.tr.setPeers(s.members.list(), s.id)
	if err := s.restoreStore(md.GetIndex()); err != nil {
		return err
	}
	s.snapIndex = md.GetIndex()
	s.dirty = false
	s.storeMu.RLock()
	ci := s.store.ConsistentIndex()
	s.storeMu.RUnlock()
	s.appliedIndex.Store(ci)
	s.metrics.snapshotsApplied.Inc()
	s.log.Info("applied snapshot from leader", "index", md.GetIndex(), "store_index", ci)
	return nil
}

// apply applies committed entries to the store, wakes their proposers, and
// commits the store per batch (or per BatchInterval).
func (s *Server) apply(ents []*raftpb.Entry) error {
	if len(ents) == 0 {
		return nil
	}
	start := time.Now()
	for _, e := range ents {
		switch e.GetType() {
		case raftpb.EntryNormal:
			s.applyNormal(e)
		case raftpb.EntryConfChange:
			if err := s.applyConfChange(e); err != nil {
				return err
			}
		case raftpb.EntryConfChangeV2:
			var cc raftpb.ConfChangeV2
			if err := proto.Unmarshal(e.Data, &cc); err != nil {
				panic(fmt.Sprintf("raftkv: entry %d: bad ConfChangeV2: %v", e.GetIndex(), err))
			}
			s.confState = s.rn.ApplyConfChange(&cc)
		}
		s.appliedIndex.Store(e.GetIndex())
	}
	s.dirty = true
	if s.cfg.BatchInterval == 0 || time.Since(s.lastCommit) >= s.cfg.BatchInterval {
		s.commitStore()
	}
	s.metrics.applyDuration.Observe(time.Since(start).Seconds())
	s.metrics.proposalsApplied.Set(float64(s.appliedIndex.Load()))
	s.completeReads()
	return nil
}

func (s *Server) commitStore() {
	start := time.Now()
	if err := s.store.Commit(); err != nil {
		// The WAL still holds every entry: a restart replays them.
		panic(fmt.Sprintf("raftkv: store commit at applied index %d: %v", s.appliedIndex.Load(), err))
	}
	s.metrics.backendCommit.Observe(time.Since(start).Seconds())
	s.lastCommit = time.Now()
	s.dirty = false
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
		resp, err := s.store.Apply(e.GetIndex(), req)
		res = applyResult{resp: resp, err: err}
		if err == nil {
			switch {
			case req.LeaseGrant != nil:
				if r, ok := resp.(*pb.LeaseGrantResponse); ok {
					s.lessor.granted(r.ID, r.TTL)
				}
			case req.LeaseRevoke != nil:
				s.lessor.revoked(req.LeaseRevoke.ID)
			}
		} else if req.LeaseRevoke != nil {
			s.lessor.revoked(req.LeaseRevoke.ID)
		}
	}
	if id := req.GetHeader().GetID(); id != 0 {
		s.wake(id, res)
	}
}

func (s *Server) applyConfChange(e *raftpb.Entry) error {
	cc := &raftpb.ConfChange{}
	if err := proto.Unmarshal(e.Data, cc); err != nil {
		panic(fmt.Sprintf("raftkv: entry %d: bad ConfChange: %v", e.GetIndex(), err))
	}
	id := cc.GetNodeId()
	var res applyResult
	switch cc.GetType() {
	case raftpb.ConfChangeAddNode, raftpb.ConfChangeAddLearnerNode:
		var m member
		if len(cc.Context) > 0 {
			if err := json.Unmarshal(cc.Context, &m); err != nil {
				panic(fmt.Sprintf("raftkv: entry %d: bad member in conf change: %v", e.GetIndex(), err))
			}
		}
		m.ID = id
		m.IsLearner = cc.GetType() == raftpb.ConfChangeAddLearnerNode
		if s.members.isRemoved(id) {
			res.err = rpctypes.ErrGRPCMemberNotFound
			cc.NodeId = proto.Uint64(0)
		} else {
			s.members.add(m)
			res.resp = m
		}
	case raftpb.ConfChangeRemoveNode:
		if _, ok := s.members.get(id); !ok && !s.members.isRemoved(id) {
			res.err = rpctypes.ErrGRPCMemberNotFound
			cc.NodeId = proto.Uint64(0)
		} else {
			s.members.remove(id)
			if id == s.id {
				s.removed = true
			}
		}
	}
	s.confState = s.rn.ApplyConfChange(cc)
	s.tr.setPeers(s.members.list(), s.id)
	s.log.Info("applied conf change", "type", cc.GetType().String(), "member", fmt.Sprintf("%x", id), "index", e.GetIndex())
	if rid := cc.GetId(); rid != 0 {
		s.wake(rid, res)
	}
	return nil
}

// maybeSnapshot takes a raft snapshot (membership only: the store is its own
// durable file) every SnapshotCount applied entries and compacts the log.
func (s *Server) maybeSnapshot() error {
	applied := s.appliedIndex.Load()
	if applied <= s.snapIndex || applied-s.snapIndex < s.cfg.SnapshotCount {
		return nil
	}
	// The store must hold everything up to applied before the log is compacted.
	s.commitStore()
	snap, err := s.ms.CreateSnapshot(applied, s.confState, s.members.marshal())
	if err != nil {
		if err == raft.ErrSnapOutOfDate {
			return nil
		}
		return fmt.Errorf("create snapshot at %d: %w", applied, err)
	}
	if err := s.w.Save(snap, nil, nil, true); err != nil {
		return err
	}
	s.snapIndex = applied
	if applied > s.cfg.SnapshotCatchUpEntries {
		compact := applied - s.cfg.SnapshotCatchUpEntries
		if first, _ := s.ms.FirstIndex(); compact > first {
			if err := s.ms.Compact(compact); err != nil && err != raft.ErrCompacted {
				return fmt.Errorf("compact raft log to %d: %w", compact, err)
			}
		}
	}
	if err := s.w.ReleaseTo(applied); err != nil {
		return err
	}
	s.metrics.snapshotsSaved.Inc()
	s.log.Info("saved snapshot", "index", applied, "wal_segments", s.w.Segments())
	return nil
}

// wake hands res to the proposer waiting on id, if any.
func (s *Server) wake(id uint64, res applyResult) {
	s.waitMu.Lock()
	ch := s.waiters[id]
	delete(s.waiters, id)
	s.waitMu.Unlock()
	if ch != nil {
		ch <- res
	}
}

func (s *Server) failAll(err error) {
	s.waitMu.Lock()
	ws := s.waiters
	s.waiters = map[uint64]chan applyResult{}
	s.waitMu.Unlock()
	for _, ch := range ws {
		ch <- applyResult{err: err}
	}
	s.failReads(err)
	s.readMu.Lock()
	if b := s.nextRead; b != nil {
		s.nextRead = nil
		b.finish(err)
	}
	s.readMu.Unlock()
}
