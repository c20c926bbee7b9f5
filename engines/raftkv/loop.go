package raftkv

import (
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/raft/v3"
	raftpb "go.etcd.io/raft/v3/raftpb"
)

const (
	maxDrain       = 4096 // messages and proposals taken per loop turn before a Ready
	readRetryTicks = 5    // re-issue an unanswered ReadIndex after this many ticks
)

// localItem is work for the loop from the storage threads: a response message
// to step once its storage write is done, or a conf change to apply to raft.
type localItem struct {
	msg     *raftpb.Message
	cc      raftpb.ConfChangeI
	ccReply chan *raftpb.ConfState
	removed bool // the conf change removes this member
	// advanceTicks: tick raft this many times (InitialElectionTickAdvance).
	advanceTicks int
}

// run is the raft loop: the only goroutine that touches the RawNode. Raft runs
// with AsyncStorageWrites: the loop never waits for the disk. Log appends go to
// the append thread (appendLoop), committed entries to the apply thread
// (applyLoop); their completions come back as messages on localq.
//
// Order, as raft's contract: messages to other members leave at once, except
// those that vouch for durable state (MsgAppResp, votes), which raft attaches
// as Responses to MsgStorageAppend and the append thread sends only after its
// fsync. A client is answered only after its entry is applied, and entries are
// applied only once durable locally and committed by a quorum.
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
		case <-s.localq.C():
			s.onLocal()
		case <-s.readNotify:
		case r := <-s.reportc:
			s.onReport(r)
		case id := <-s.leaderGonec:
			s.onLeaderGone(id)
		case reply := <-s.statusc:
			reply <- s.rn.Status()
		case <-s.removedc:
			s.log.Warn("a peer says this member was removed; stopping")
			s.loopErr = ErrRemoved
			s.failAll(rpctypes.ErrGRPCStopped)
			return
		case <-s.fatalc:
			if errors.Is(s.fatalErr, ErrWALFailed) {
				s.log.Error("raft loop stopped: the WAL could not be written; nothing after the last fsync was acknowledged. "+
					"This member no longer takes part in raft: writes are refused, serializable reads are still served. "+
					"Free space for "+s.cfg.DataDir+" (or fix the disk), then restart this member",
					"wal", s.walDir, "err", s.fatalErr)
			} else {
				s.log.Error("raft loop stopped on a storage error", "err", s.fatalErr)
			}
			s.loopErr = s.fatalErr
			s.failAll(rpctypes.ErrGRPCStopped)
			return
		case <-s.stopc:
			return
		}
		s.drain()
		s.maybeStartRead()
		if s.rn.HasReady() {
			s.handleReady()
		}
		if s.removed {
			s.log.Warn("this member was removed from the cluster; stopping")
			s.loopErr = ErrRemoved
			s.failAll(rpctypes.ErrGRPCStopped)
			return
		}
	}
}

// drain takes what is already queued so that one Ready covers it.
func (s *Server) drain() {
	s.onLocal()
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

func (s *Server) onLocal() {
	for _, it := range s.localq.popAll() {
		switch {
		case it.msg != nil:
			s.step(it.msg)
		case it.advanceTicks > 0:
			for range it.advanceTicks {
				s.rn.Tick()
			}
		case it.cc != nil:
			cs := s.rn.ApplyConfChange(it.cc)
			if it.removed {
				s.removed = true
			}
			it.ccReply <- cs
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
	s.fastElectionTick()
	s.readTick()
	if s.wasLeader {
		s.revokeExpiredLeases()
	}
}

func (s *Server) handleReady() {
	rd := s.rn.Ready()
	if rd.SoftState != nil {
		s.onSoftState(rd.SoftState)
	}
	if rd.HardState != nil {
		s.term.Store(rd.HardState.GetTerm())
		s.committedIndex.Store(rd.HardState.GetCommit())
		s.metrics.proposalsCommitted.Set(float64(rd.HardState.GetCommit()))
	}
	s.onReadStates(rd.ReadStates)
	remote := make([]*raftpb.Message, 0, len(rd.Messages))
	for _, m := range rd.Messages {
		switch m.GetTo() {
		case raft.LocalAppendThread:
			s.appendq.push(appendItem{msg: m})
		case raft.LocalApplyThread:
			s.applyq.push(applyItem{msg: m})
		default:
			remote = append(remote, m)
		}
	}
	s.tr.send(remote)
	// No Advance: with AsyncStorageWrites the storage threads' responses take its place.
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
		// raft's RawNode does not log these; etcd's raft.node does.
		rl := s.log.With("component", "raft")
		switch {
		case old == raft.None:
			rl.Info(fmt.Sprintf("raft.node: %x elected leader %x at term %d", s.id, ss.Lead, s.term.Load()))
		case ss.Lead == raft.None:
			rl.Info(fmt.Sprintf("raft.node: %x lost leader %x at term %d", s.id, old, s.term.Load()))
		default:
			rl.Info(fmt.Sprintf("raft.node: %x changed leader from %x to %x at term %d", s.id, old, ss.Lead, s.term.Load()))
		}
		if old != raft.None {
			// The round may have gone to the old leader: etcd's answer.
			s.failInflightRead(rpctypes.ErrGRPCLeaderChanged)
		} else if s.reads.inflight != nil && ss.Lead != raft.None {
			// Issued while there was no leader, so raft dropped it: ask again.
			s.reads.reissue = true
		}
	}
	isLeader := ss.RaftState == raft.StateLeader
	s.metrics.isLeader.Set(b2f(isLeader))
	if isLeader && !s.wasLeader {
		leases := s.Store().Leases()
		s.lessor.promote(leases)
		s.log.Info("became leader; leases extended", "leases", len(leases))
	} else if !isLeader && s.wasLeader {
		s.lessor.demote()
	}
	s.wasLeader = isLeader
	if s.reads.reissue && s.reads.inflight != nil {
		s.reads.reissue = false
		s.issueReadIndex()
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
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

// failAll answers every waiting proposal and read with err (the loop is exiting).
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

// fatal stops the loop with err (a storage thread cannot go on).
func (s *Server) fatal(err error) {
	s.fatalOnce.Do(func() {
		s.fatalErr = err
		close(s.fatalc)
	})
}
