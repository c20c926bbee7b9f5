package zab

import (
	"fmt"
	"slices"
)

// Leader side: discovery (Leader.getEpochToPropose, waitForEpochAck),
// synchronization (LearnerHandler.syncFollower, waitForNewLeaderAck) and
// broadcast (propose, processAck, tryToCommit, processSync).

type learnerStage uint8

const (
	lsInfo       learnerStage = 1 + iota // FOLLOWERINFO received
	lsEpochAcked                         // ACKEPOCH received; waiting for the epoch quorum
	lsSyncing                            // sync stream and NEWLEADER sent
	lsSynced                             // NEWLEADER acked: counts for commits
)

type learner struct {
	id            ServerID
	conn          ConnID
	stage         learnerStage
	acceptedEpoch uint32
	peerLast      Zxid
	newLeaderZxid Zxid
	acked         Zxid // highest zxid the follower has logged (lsSynced)
	sent          Zxid // last entry sent
	commitSent    Zxid
	heardElapsed  int
	stageElapsed  int
	syncs         int // forwarded syncs pending
	leaderInfo    bool
}

type leaderSync struct {
	from   ServerID
	conn   ConnID
	id     RequestID
	target Zxid
}

type leaderState struct {
	newEpoch    uint32 // 0 until a quorum connected
	connecting  map[ServerID]uint32
	learners    map[ServerID]*learner
	epochAcks   map[ServerID]bool
	epochQuorum bool
	established bool
	syncs       []leaderSync // waiting for their target to commit
	localSyncs  int
	localDone   []leaderSync // committed; waiting to be delivered locally
	ackBuf      []Zxid       // scratch for leaderMaybeCommit
	// defected are the members whose notifications show they will not
	// follow this leader in its round (see leaderNoteNotification).
	defected map[ServerID]bool
}

func (n *Node) becomeLeader() {
	n.state, n.phase, n.leader, n.epoch = StateLeading, PhaseDiscovery, n.id, 0
	n.lead = &leaderState{
		connecting: map[ServerID]uint32{n.id: n.hard.AcceptedEpoch},
		learners:   map[ServerID]*learner{},
		epochAcks:  map[ServerID]bool{},
		defected:   map[ServerID]bool{},
	}
	n.leaderMaybeChooseEpoch()
}

func (n *Node) tickLeader() {
	n.roleElapsed++
	ls := n.lead
	for _, id := range n.peers {
		l := ls.learners[id]
		if l == nil {
			continue
		}
		l.heardElapsed++
		l.stageElapsed++
		limit := n.cfg.SyncLimitTicks
		if l.stage != lsSynced {
			limit = n.cfg.InitLimitTicks
		}
		if l.heardElapsed >= limit || (l.stage != lsSynced && l.stageElapsed >= n.cfg.InitLimitTicks) {
			n.logger.Info("dropping follower", "peer", id, "stage", l.stage, "silentTicks", l.heardElapsed)
			n.dropLearner(l)
			continue
		}
		if ls.newEpoch != 0 && l.leaderInfo {
			n.send(Message{Type: MsgPing, To: id, Conn: l.conn, Epoch: ls.newEpoch, Commit: n.committedFor(l)}, false)
		}
	}
	if !ls.established {
		if n.roleElapsed >= n.cfg.InitLimitTicks {
			n.becomeLooking(fmt.Sprintf("epoch not established with a quorum within initLimit (%d ticks)", n.cfg.InitLimitTicks))
		}
		return
	}
	synced := 1
	for _, l := range ls.learners {
		if l.stage == lsSynced {
			synced++
		}
	}
	if synced < n.quorum {
		n.becomeLooking(fmt.Sprintf("only %d of %d members synced within syncLimit (%d ticks)", synced, len(n.peers), n.cfg.SyncLimitTicks))
	}
}

// committedFor is the commit point to tell l: only what its stream carries.
func (n *Node) committedFor(l *learner) Zxid {
	if l.stage < lsSyncing {
		return 0
	}
	return min(n.committed, l.sent)
}

func (n *Node) dropLearner(l *learner) {
	delete(n.lead.learners, l.id)
	kept := n.lead.syncs[:0]
	for _, s := range n.lead.syncs {
		if s.from != l.id {
			kept = append(kept, s)
		}
	}
	n.lead.syncs = kept
}

func (n *Node) stepLeader(m Message) {
	ls := n.lead
	if m.Type == MsgFollowerInfo {
		n.leaderFollowerInfo(m)
		return
	}
	l := ls.learners[m.From]
	if l == nil || l.conn != m.Conn {
		return // no such connection (any more)
	}
	l.heardElapsed = 0
	switch m.Type {
	case MsgAckEpoch:
		if l.stage != lsInfo || !l.leaderInfo || m.Epoch != ls.newEpoch {
			return
		}
		l.peerLast = m.Zxid
		if !m.Rejoin {
			// The leader must hold the most recent history of the quorum
			// (FLE should guarantee it; a stale election may not).
			if m.PeerEpoch > n.hard.CurrentEpoch || (m.PeerEpoch == n.hard.CurrentEpoch && m.Zxid > n.log.last()) {
				n.becomeLooking(fmt.Sprintf("follower %d has a more recent history (epoch %d, zxid %s) than mine (epoch %d, zxid %s)",
					m.From, m.PeerEpoch, m.Zxid, n.hard.CurrentEpoch, n.log.last()))
				return
			}
			ls.epochAcks[m.From] = true
		}
		l.stage, l.stageElapsed = lsEpochAcked, 0
		if ls.epochQuorum {
			n.startSync(l)
			return
		}
		if len(ls.epochAcks)+1 >= n.quorum {
			ls.epochQuorum = true
			// The leader adopts its own history as epoch newEpoch's; persisted
			// before the NEWLEADERs that vouch for it.
			n.setHard(HardState{AcceptedEpoch: n.hard.AcceptedEpoch, CurrentEpoch: ls.newEpoch})
			n.phase = PhaseSync
			n.logger.Info("epoch acknowledged by a quorum", "epoch", ls.newEpoch)
			for _, id := range n.peers {
				if l := ls.learners[id]; l != nil && l.stage == lsEpochAcked {
					n.startSync(l)
				}
			}
			n.leaderMaybeEstablish()
		}
	case MsgAck:
		if m.Epoch != ls.newEpoch {
			return
		}
		if m.Zxid.Counter() == 0 {
			if m.Zxid.Epoch() != ls.newEpoch || l.stage != lsSyncing {
				return
			}
			l.stage, l.stageElapsed = lsSynced, 0
			l.acked = max(l.acked, l.newLeaderZxid)
			if ls.established {
				n.send(Message{Type: MsgUpToDate, To: l.id, Conn: l.conn, Epoch: ls.newEpoch, Commit: n.committedFor(l)}, false)
				l.commitSent = n.committedFor(l)
				n.leaderMaybeCommit()
			} else {
				n.leaderMaybeEstablish()
			}
			return
		}
		if l.stage != lsSynced {
			return
		}
		if m.Zxid > l.sent {
			n.logger.Warn("follower acked a zxid never sent to it; ignored", "peer", m.From, "zxid", m.Zxid, "sent", l.sent)
			return
		}
		l.acked = max(l.acked, m.Zxid)
		n.leaderMaybeCommit()
	case MsgPing:
		// heardElapsed was reset above.
	case MsgRequest:
		if !ls.established || l.stage != lsSynced {
			return
		}
		if len(n.requests) >= n.cfg.MaxPendingRequests {
			n.logger.Warn("forwarded write dropped: MaxPendingRequests reached", "peer", m.From, "limit", n.cfg.MaxPendingRequests)
			return
		}
		n.requests = append(n.requests, Request{From: m.From, Data: m.Data})
	case MsgSync:
		if !ls.established || l.stage != lsSynced {
			return
		}
		if l.syncs >= n.cfg.MaxPendingSyncs {
			n.logger.Warn("forwarded sync dropped: MaxPendingSyncs reached", "peer", m.From, "limit", n.cfg.MaxPendingSyncs)
			return
		}
		l.syncs++
		ls.syncs = append(ls.syncs, leaderSync{from: m.From, conn: l.conn, id: m.Request, target: n.log.last()})
	}
}

func (n *Node) leaderFollowerInfo(m Message) {
	ls := n.lead
	delete(ls.defected, m.From)
	if l := ls.learners[m.From]; l != nil {
		if l.conn == m.Conn {
			// A repeat: LEADERINFO may have been lost.
			l.heardElapsed = 0
			if l.stage == lsInfo && l.leaderInfo {
				n.send(Message{Type: MsgLeaderInfo, To: l.id, Conn: l.conn, Epoch: ls.newEpoch}, true)
			}
			return
		}
		// Same process, older connection: a late duplicate.
		if uint64(l.conn)>>32 == uint64(m.Conn)>>32 && m.Conn < l.conn {
			return
		}
		n.dropLearner(l)
	}
	if ls.newEpoch != 0 && m.Epoch > ls.newEpoch {
		// The follower promised a later epoch to a leader that never
		// established; it would refuse mine forever. Step down so that a new
		// election picks an epoch above its promise.
		n.becomeLooking(fmt.Sprintf("follower %d accepted epoch %d, above my epoch %d", m.From, m.Epoch, ls.newEpoch))
		return
	}
	l := &learner{id: m.From, conn: m.Conn, stage: lsInfo, acceptedEpoch: m.Epoch, peerLast: m.Zxid}
	ls.learners[m.From] = l
	if ls.newEpoch == 0 {
		ls.connecting[m.From] = m.Epoch
		n.leaderMaybeChooseEpoch()
		return
	}
	l.leaderInfo = true
	n.send(Message{Type: MsgLeaderInfo, To: l.id, Conn: l.conn, Epoch: ls.newEpoch}, true)
}

// leaderMaybeChooseEpoch picks the new epoch once a quorum (self included)
// has connected: one more than every acceptedEpoch among them.
func (n *Node) leaderMaybeChooseEpoch() {
	ls := n.lead
	if ls.newEpoch != 0 || len(ls.connecting) < n.quorum {
		return
	}
	var e uint32
	for _, a := range ls.connecting {
		e = max(e, a)
	}
	e++
	ls.newEpoch = e
	n.epoch = e
	// acceptedEpoch is persisted before the LEADERINFOs (they wait for it).
	n.setHard(HardState{AcceptedEpoch: e, CurrentEpoch: n.hard.CurrentEpoch})
	n.logger.Info("proposing epoch", "epoch", e)
	for _, id := range n.peers {
		if l := ls.learners[id]; l != nil && l.stage == lsInfo {
			l.leaderInfo = true
			n.send(Message{Type: MsgLeaderInfo, To: id, Conn: l.conn, Epoch: e}, true)
		}
	}
	if n.quorum == 1 {
		ls.epochQuorum = true
		n.setHard(HardState{AcceptedEpoch: e, CurrentEpoch: e})
		n.phase = PhaseSync
		n.leaderMaybeEstablish()
	}
}

// startSync sends l the sync stream: DIFF, TRUNC or SNAP, the entries it
// lacks, then NEWLEADER (LearnerHandler.syncFollower).
func (n *Node) startSync(l *learner) {
	ls := n.lead
	p := l.peerLast
	last := n.log.last()
	var start Zxid
	hdr := Message{To: l.id, Conn: l.conn, Epoch: ls.newEpoch}
	switch {
	case n.log.contains(p):
		hdr.Type, hdr.Zxid, start = MsgDiff, last, p
	case p > n.log.base:
		// The follower has entries this leader lacks: cut back to the newest
		// point of my history below its last zxid.
		i := n.log.after(p)
		t := n.log.base
		if i > 0 {
			t = n.log.entries[i-1].Zxid
		}
		hdr.Type, hdr.Zxid, start = MsgTrunc, t, t
	default:
		// Too far behind for the in-memory log: a snapshot of the applied state
		// (the runtime fills Data), then the entries above it.
		hdr.Type, hdr.Zxid, start = MsgSnap, n.appliedPending, n.appliedPending
	}
	n.logger.Info("syncing follower", "peer", l.id, "mode", hdr.Type.String(), "zxid", hdr.Zxid, "peerZxid", p, "last", last)
	n.send(hdr, false)
	l.sent = start
	l.stage, l.stageElapsed = lsSyncing, 0
	n.sendEntries(l)
	l.newLeaderZxid = last
	n.send(Message{Type: MsgNewLeader, To: l.id, Conn: l.conn, Epoch: ls.newEpoch, Zxid: last}, true)
}

// sendEntries sends l every entry after l.sent, in batches.
func (n *Node) sendEntries(l *learner) {
	for l.sent < n.log.last() {
		ents := n.log.slice(l.sent, n.cfg.MaxBatchEntries)
		prev := l.sent
		l.sent = ents[len(ents)-1].Zxid
		c := n.committedFor(l)
		n.send(Message{Type: MsgProposal, To: l.id, Conn: l.conn, Epoch: n.lead.newEpoch, Zxid: prev, Entries: ents, Commit: c}, false)
		l.commitSent = max(l.commitSent, c)
	}
}

// leaderMaybeEstablish ends synchronization once a quorum (self included)
// acknowledged NEWLEADER: the leader's whole initial history is committed.
func (n *Node) leaderMaybeEstablish() {
	ls := n.lead
	if ls.established || !ls.epochQuorum {
		return
	}
	acked := 1
	for _, l := range ls.learners {
		if l.stage == lsSynced {
			acked++
		}
	}
	if acked < n.quorum {
		return
	}
	ls.established = true
	n.phase = PhaseBroadcast
	n.setCommitted(n.log.last())
	n.logger.Info("leader established", "epoch", ls.newEpoch, "zxid", n.log.last(), "followers", acked-1)
	for _, id := range n.peers {
		if l := ls.learners[id]; l != nil && l.stage == lsSynced {
			n.send(Message{Type: MsgUpToDate, To: id, Conn: l.conn, Epoch: ls.newEpoch, Commit: n.committedFor(l)}, false)
			l.commitSent = n.committedFor(l)
		}
	}
}

// leaderMaybeCommit commits up to the highest zxid a quorum has logged. Acks
// are cumulative (a follower's log is a prefix of mine), so commits are in
// zxid order by construction.
func (n *Node) leaderMaybeCommit() {
	ls := n.lead
	if ls == nil || !ls.established {
		return
	}
	acks := append(ls.ackBuf[:0], n.stable)
	for _, l := range ls.learners {
		if l.stage == lsSynced {
			acks = append(acks, l.acked)
		}
	}
	if len(acks) < n.quorum {
		return
	}
	slices.Sort(acks)
	ls.ackBuf = acks
	c := acks[len(acks)-n.quorum]
	if c <= n.committed {
		return
	}
	count := 0
	for _, a := range acks {
		if a >= c {
			count++
		}
	}
	if count < n.quorum {
		panic(fmt.Sprintf("zab: node %d: commit %s with %d acks, quorum %d", n.id, c, count, n.quorum))
	}
	n.setCommitted(c)
}

func (n *Node) leaderFlushNeeded() bool {
	ls := n.lead
	if ls == nil {
		return false
	}
	last := n.log.last()
	for _, l := range ls.learners {
		if l.stage >= lsSyncing && (l.sent < last || l.commitSent < n.committedFor(l)) {
			return true
		}
	}
	for _, s := range ls.syncs {
		if s.target <= n.committed {
			return true
		}
	}
	for _, s := range ls.localDone {
		if s.target <= n.committed {
			return true
		}
	}
	return false
}

// leaderFlush sends each syncing or synced follower its new proposals and the
// commit point, then answers syncs whose target committed (after the COMMIT,
// so the follower has it when the answer arrives).
func (n *Node) leaderFlush() {
	ls := n.lead
	for _, id := range n.peers {
		l := ls.learners[id]
		if l == nil || l.stage < lsSyncing {
			continue
		}
		n.sendEntries(l)
		if c := n.committedFor(l); l.commitSent < c {
			n.send(Message{Type: MsgCommit, To: id, Conn: l.conn, Epoch: ls.newEpoch, Commit: c}, false)
			l.commitSent = c
		}
	}
	kept := ls.syncs[:0]
	for _, s := range ls.syncs {
		if s.target > n.committed {
			kept = append(kept, s)
			continue
		}
		if s.from == n.id {
			ls.localDone = append(ls.localDone, s)
			continue
		}
		if l := ls.learners[s.from]; l != nil && l.conn == s.conn {
			l.syncs--
			n.send(Message{Type: MsgSyncReply, To: s.from, Conn: s.conn, Epoch: ls.newEpoch, Zxid: s.target, Request: s.id, Commit: n.committedFor(l)}, false)
		}
	}
	ls.syncs = kept
}

func (n *Node) leaderCompleteLocalSyncs() {
	ls := n.lead
	kept := ls.localDone[:0]
	for _, s := range ls.localDone {
		if s.target <= n.appliedPending {
			ls.localSyncs--
			n.syncResults = append(n.syncResults, SyncResult{ID: s.id})
		} else {
			kept = append(kept, s)
		}
	}
	ls.localDone = kept
}
