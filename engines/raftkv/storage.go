package raftkv

import (
	"fmt"

	"go.etcd.io/raft/v3"
	raftpb "go.etcd.io/raft/v3/raftpb"
)

// appendItem is work for the append thread: a MsgStorageAppend from raft, or
// the record of a local snapshot from the apply thread.
type appendItem struct {
	msg  *raftpb.Message
	snap *raftpb.Snapshot
}

// syncedVote is the term and vote last made durable by the append thread.
// A hard state that changes only the commit index needs no fsync (the commit
// index may be recovered lower after a crash; raft learns it again from the
// leader), as etcd's wal.MustSync: only entries, a snapshot or a new term or
// vote do. Starts at zero, so the first hard state after a start is synced.
type syncedVote struct{ term, vote uint64 }

// appendLoop is raft's LocalAppendThread: it writes everything queued (several
// Readys' worth) to the WAL with one fsync, mirrors it into the MemoryStorage,
// and only then delivers the responses (MsgAppResp, votes, the local
// MsgStorageAppendResp) that vouch for it.
//
// When the WAL cannot be written or fsynced (a full disk, an I/O error), the
// responses of that batch are never sent, so nothing in it is acknowledged,
// and the member is fenced: the raft loop stops (the others carry on
// without it, as if it had crashed), new writes answer NOSPACE (or "server
// stopped" for other errors), and serializable reads keep being served from
// the store. It does not retry: after a failed fsync the kernel may have
// dropped the unwritten pages and a retry could report success for data
// that is not on disk. A restart, once space is freed, replays what the WAL
// really holds and catches up from the leader.
func (s *Server) appendLoop() {
	for {
		select {
		case <-s.appendq.C():
		case <-s.donec:
			return
		}
		if err := s.persist(s.appendq.popAll()); err != nil {
			s.fatal(err)
			return
		}
	}
}

func (s *Server) persist(items []appendItem) error {
	if len(items) == 0 {
		return nil
	}
	needSync := false
	var pending syncedVote
	hasPending := false
	nEnts := 0
	var release uint64
	var resps []*raftpb.Message
	for _, it := range items {
		if it.snap != nil {
			if err := s.w.Save(it.snap, nil, nil, false); err != nil {
				return walFailed(err)
			}
			needSync = true
			release = max(release, it.snap.GetMetadata().GetIndex())
			continue
		}
		m := it.msg
		var hs *raftpb.HardState
		if m.Term != nil {
			hs = &raftpb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}
		}
		var snap *raftpb.Snapshot
		if m.Snapshot != nil && !raft.IsEmptySnap(m.Snapshot) {
			snap = m.Snapshot
			if _, err := statFile(s.snapDBPath(snap.GetMetadata().GetIndex())); err != nil {
				return fmt.Errorf("snapshot %d arrived without its store file: %w", snap.GetMetadata().GetIndex(), err)
			}
		}
		if err := s.w.Save(snap, m.Entries, hs, false); err != nil {
			return walFailed(err)
		}
		if snap != nil {
			// Durable before the store is replaced, so a crash in between
			// restarts from the snapshot file.
			if err := s.w.Sync(); err != nil {
				return walFailed(err)
			}
			if err := s.ms.ApplySnapshot(snap); err != nil {
				return fmt.Errorf("raft storage: apply snapshot: %w", err)
			}
			done := make(chan error, 1)
			s.applyq.push(applyItem{restore: snap, done: done})
			select {
			case err := <-done:
				if err != nil {
					return err
				}
			case <-s.donec:
				return ErrStopped
			}
		}
		if hs != nil {
			if err := s.ms.SetHardState(hs); err != nil {
				return err
			}
		}
		if len(m.Entries) > 0 {
			nEnts += len(m.Entries)
			if err := s.ms.Append(m.Entries); err != nil {
				return fmt.Errorf("raft storage append: %w", err)
			}
			s.lastIndex.Store(m.Entries[len(m.Entries)-1].GetIndex())
		}
		// Responses vouch for entries and for term and vote; those written
		// here are synced below, before any response leaves. Entries written
		// by earlier calls were synced before their own responses left.
		if len(m.Entries) > 0 || snap != nil ||
			(hs != nil && (hs.GetTerm() != s.synced.term || hs.GetVote() != s.synced.vote)) {
			needSync = true
		}
		if hs != nil {
			pending = syncedVote{term: hs.GetTerm(), vote: hs.GetVote()}
			hasPending = true
		}
		resps = append(resps, m.Responses...)
	}
	if needSync {
		if err := s.w.Sync(); err != nil {
			return walFailed(err)
		}
		s.metrics.walSyncedEntries.Observe(float64(nEnts))
	}
	if hasPending && needSync {
		s.synced = pending
	}
	if release > 0 && s.cfg.MaxWALs != 0 { // --max-wals 0: keep every file, as etcd
		if err := s.w.ReleaseTo(release); err != nil {
			return walFailed(err)
		}
	}
	s.deliver(resps)
	return nil
}

// walFailed marks an error of the WAL itself (a write, fsync, new segment
// or release that failed): see ErrWALFailed.
func walFailed(err error) error { return fmt.Errorf("%w: %w", ErrWALFailed, err) }

// deliver routes storage responses: to the loop when they are for this member,
// over the network otherwise.
func (s *Server) deliver(resps []*raftpb.Message) {
	var remote []*raftpb.Message
	for _, r := range resps {
		if r.GetTo() == s.id {
			s.localq.push(localItem{msg: r})
		} else {
			remote = append(remote, r)
		}
	}
	s.tr.send(coalesceAppResps(remote))
}

// coalesceAppResps drops an accepting MsgAppResp when a later one in msgs,
// to the same member and of the same term, acknowledges at least as far: the
// leader's progress for us moves to the highest index acknowledged, so one
// fsync of many appends sends one ack per leader instead of one per append.
// Rejections and every other message are kept, in order. msgs is reused.
func coalesceAppResps(msgs []*raftpb.Message) []*raftpb.Message {
	if len(msgs) < 2 {
		return msgs
	}
	type ack struct{ to, term, index uint64 }
	var later []ack // the highest accepting ack seen after i, per member and term
	drop := make([]bool, len(msgs))
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if m.GetType() != raftpb.MsgAppResp || m.GetReject() {
			continue
		}
		found := false
		for j := range later {
			a := &later[j]
			if a.to == m.GetTo() && a.term == m.GetTerm() {
				found = true
				if a.index >= m.GetIndex() {
					drop[i] = true
				} else {
					a.index = m.GetIndex()
				}
				break
			}
		}
		if !found {
			later = append(later, ack{m.GetTo(), m.GetTerm(), m.GetIndex()})
		}
	}
	out := msgs[:0]
	for i, m := range msgs {
		if !drop[i] {
			out = append(out, m)
		}
	}
	return out
}
