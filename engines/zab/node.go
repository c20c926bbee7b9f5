package zab

import (
	"fmt"
	"log/slog"
	"math/rand"
	"slices"
)

// Node is one member's ZAB state machine. It does no I/O, starts no
// goroutine, reads no clock and no global randomness: the runtime feeds it
// Tick, Step, Propose, Forward and Sync, and carries out each Ready. A Node is
// not safe for concurrent use: one goroutine owns it.
type Node struct {
	cfg    Config
	id     ServerID
	peers  []ServerID // sorted, includes id
	quorum int
	rand   *rand.Rand
	logger *slog.Logger

	// Durable state as the core sees it (may be ahead of the disk until the
	// Ready that carries it is advanced).
	hard        HardState
	hardPending bool
	log         memLog
	stable      Zxid // last entry persisted (advanced)
	logGen      uint64
	truncPend   bool
	truncTo     Zxid
	snapPend    *Snapshot

	committed      Zxid // highest zxid known committed
	applied        Zxid // handed out in Committed and advanced
	appliedPending Zxid // handed out in Committed (>= applied)

	state  ServerState
	phase  Phase
	leader ServerID
	epoch  uint32
	prevSS SoftState

	// Election.
	round           uint64
	vote            Vote
	recv            map[ServerID]Vote
	ooe             map[ServerID]Message
	finalizeLeft    int // ticks until deciding; -1: not waiting
	electionElapsed int
	electionTimeout int
	roleElapsed     int // ticks since becoming FOLLOWING/LEADING
	incarnation     uint32
	connSeq         uint32
	fol             followerState
	lead            *leaderState
	out             []outMsg
	syncResults     []SyncResult
	requests        []Request
	inflight        *inflight
}

type outMsg struct {
	m      Message
	vouch  bool // must wait for persistence
	isSnap bool
}

// inflight remembers what the last Ready handed out, for Advance.
type inflight struct {
	gen       uint64
	lastEntry Zxid
	hasEntry  bool
	applied   Zxid
}

// NewNode returns a LOOKING node restored from cfg.Storage. Its first Ready
// holds its election notifications.
func NewNode(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	st, err := cfg.Storage.InitialState()
	if err != nil {
		return nil, fmt.Errorf("zab: read initial state: %w", err)
	}
	if st.AcceptedEpoch < st.CurrentEpoch {
		return nil, fmt.Errorf("zab: initial state: acceptedEpoch %d < currentEpoch %d: the epoch files are inconsistent", st.AcceptedEpoch, st.CurrentEpoch)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{
		cfg:    cfg,
		id:     cfg.ID,
		peers:  slices.Sorted(slices.Values(cfg.Peers)),
		quorum: len(cfg.Peers)/2 + 1,
		rand:   rand.New(rand.NewSource(cfg.Seed)),
		logger: logger.With("node", cfg.ID),
		hard:   st.HardState,
	}
	n.incarnation = n.rand.Uint32()
	n.log.reset(st.Applied)
	for after := st.Applied; ; {
		ents, err := cfg.Storage.Entries(after, 4096)
		if err != nil {
			return nil, fmt.Errorf("zab: read log after %s: %w", after, err)
		}
		if len(ents) == 0 {
			break
		}
		for _, e := range ents {
			if e.Zxid <= n.log.last() {
				return nil, fmt.Errorf("zab: read log: entry %s after %s: zxids must increase", e.Zxid, n.log.last())
			}
			n.log.append(e)
		}
		after = ents[len(ents)-1].Zxid
	}
	n.stable = n.log.last()
	n.committed, n.applied, n.appliedPending = st.Applied, st.Applied, st.Applied
	n.prevSS = SoftState{}
	n.becomeLooking("start")
	return n, nil
}

// Status returns the node's current state.
func (n *Node) Status() Status {
	s := Status{
		ID: n.id, SoftState: n.softState(), HardState: n.hard, Vote: n.vote,
		LastZxid: n.log.last(), Committed: n.committed, Applied: n.applied,
	}
	if n.lead != nil {
		s.Outstanding = n.log.countAfter(n.committed)
	}
	return s
}

func (n *Node) softState() SoftState {
	return SoftState{State: n.state, Phase: n.phase, Leader: n.leader, Epoch: n.epoch}
}

func (n *Node) isPeer(id ServerID) bool {
	_, ok := slices.BinarySearch(n.peers, id)
	return ok
}

func (n *Node) send(m Message, vouch bool) {
	m.From = n.id
	n.out = append(n.out, outMsg{m: m, vouch: vouch, isSnap: m.Type == MsgSnap})
}

func (n *Node) setHard(h HardState) {
	if h.AcceptedEpoch < h.CurrentEpoch {
		panic(fmt.Sprintf("zab: node %d: acceptedEpoch %d < currentEpoch %d", n.id, h.AcceptedEpoch, h.CurrentEpoch))
	}
	if h.AcceptedEpoch < n.hard.AcceptedEpoch || h.CurrentEpoch < n.hard.CurrentEpoch {
		panic(fmt.Sprintf("zab: node %d: epochs going back: %+v -> %+v", n.id, n.hard, h))
	}
	if h != n.hard {
		n.hard = h
		n.hardPending = true
	}
}

// setCommitted moves the commit point; it never goes back or past the log.
func (n *Node) setCommitted(z Zxid) {
	if z <= n.committed {
		return
	}
	if z > n.log.last() {
		panic(fmt.Sprintf("zab: node %d: commit %s beyond last logged %s", n.id, z, n.log.last()))
	}
	n.committed = z
}

// Tick advances the node's clock by one tick.
func (n *Node) Tick() {
	switch n.state {
	case StateLooking:
		n.tickLooking()
	case StateFollowing:
		n.tickFollower()
	case StateLeading:
		n.tickLeader()
	}
}

// Step feeds one message from a peer. It returns ErrStepped (wrapped) for a
// message addressed elsewhere or from an unknown server; other messages that
// do not fit the node's state (stale connection, old epoch, duplicate) are
// dropped silently, as a closed connection would drop them.
func (n *Node) Step(m Message) error {
	if m.To != n.id {
		return fmt.Errorf("%w: addressed to %d, this is %d", ErrStepped, m.To, n.id)
	}
	if m.From == n.id || !n.isPeer(m.From) {
		return fmt.Errorf("%w: from %d, which is not a peer of %d", ErrStepped, m.From, n.id)
	}
	if m.Type == MsgNotification {
		n.stepNotification(m)
		return nil
	}
	if m.Type == MsgFollowerInfo && n.state != StateLeading {
		// Only a leader takes followers. ZooKeeper's quorum port is closed
		// on a member that does not lead, so the learner's connection is
		// refused and it soon looks again; here the refusal is a
		// notification of what this member is (see leaderRefuses).
		v := n.vote
		if n.state == StateFollowing {
			v = n.establishedVote()
		}
		n.send(Message{Type: MsgNotification, To: m.From, Vote: v, State: n.state}, false)
		return nil
	}
	switch n.state {
	case StateFollowing:
		n.stepFollower(m)
	case StateLeading:
		n.stepLeader(m)
	}
	return nil
}

// Propose appends data as the next transaction of this leader's epoch and
// returns its zxid. data must not be modified afterwards. It fails with
// ErrNotLeader unless the node leads an established epoch, with
// ErrProposalsFull when Config.MaxOutstandingProposals are uncommitted, and
// with ErrZxidExhausted when the epoch's counter is spent.
func (n *Node) Propose(data []byte) (Zxid, error) {
	if n.state != StateLeading || n.phase != PhaseBroadcast {
		return 0, ErrNotLeader
	}
	if n.log.countAfter(n.committed) >= n.cfg.MaxOutstandingProposals {
		return 0, ErrProposalsFull
	}
	last := n.log.last()
	counter := uint32(1)
	if last.Epoch() == n.epoch {
		counter = last.Counter() + 1
	}
	if counter > maxCounter {
		n.becomeLooking("zxid counter exhausted")
		return 0, ErrZxidExhausted
	}
	z := MakeZxid(n.epoch, counter)
	n.log.append(Entry{Zxid: z, Data: data})
	return z, nil
}

// Forward sends a client write to the leader, whose runtime gets it in
// Ready.Requests. It fails with ErrNoLeader unless this node follows a leader
// in the broadcast phase. On a leader, use Propose. A forwarded write is lost
// if the leader changes before it proposes it; the client learns by timeout.
func (n *Node) Forward(data []byte) error {
	if n.state != StateFollowing || n.phase != PhaseBroadcast {
		return ErrNoLeader
	}
	n.send(Message{Type: MsgRequest, To: n.leader, Conn: n.fol.conn, Epoch: n.epoch, Data: data}, false)
	return nil
}

// Sync asks for a Ready.Syncs entry with id once this node has delivered (in
// Ready.Committed) every transaction the leader had proposed when the sync
// reached it (ZooKeeper's sync). It fails with ErrNoLeader when there is no
// established leader and ErrSyncsFull when Config.MaxPendingSyncs syncs wait.
func (n *Node) Sync(id RequestID) error {
	switch {
	case n.state == StateLeading && n.phase == PhaseBroadcast:
		if len(n.lead.syncs) >= n.cfg.MaxPendingSyncs*len(n.peers) || n.lead.localSyncs >= n.cfg.MaxPendingSyncs {
			return ErrSyncsFull
		}
		n.lead.localSyncs++
		n.lead.syncs = append(n.lead.syncs, leaderSync{from: n.id, id: id, target: n.log.last()})
		return nil
	case n.state == StateFollowing && n.phase == PhaseBroadcast:
		if len(n.fol.syncs) >= n.cfg.MaxPendingSyncs {
			return ErrSyncsFull
		}
		n.fol.syncs = append(n.fol.syncs, followerSync{id: id})
		n.send(Message{Type: MsgSync, To: n.leader, Conn: n.fol.conn, Epoch: n.epoch, Request: id}, false)
		return nil
	}
	return ErrNoLeader
}

// HasReady reports whether Ready would return anything to do.
func (n *Node) HasReady() bool {
	if n.inflight != nil {
		return false
	}
	if len(n.out) > 0 || n.hardPending || n.truncPend || n.snapPend != nil || n.log.last() > n.stable ||
		n.appliedPending < n.committed || len(n.syncResults) > 0 || len(n.requests) > 0 ||
		n.softState() != n.prevSS {
		return true
	}
	switch n.state {
	case StateFollowing:
		return n.fol.ackPending || n.followerSyncsDone()
	case StateLeading:
		return n.leaderFlushNeeded()
	}
	return false
}

// Ready returns what the runtime must do now (see Ready for the order). Call
// Advance with it before the next Ready; Tick, Step, Propose, Forward and Sync
// may be called in between.
func (n *Node) Ready() Ready {
	if n.inflight != nil {
		panic(fmt.Sprintf("zab: node %d: Ready called again before Advance", n.id))
	}
	var rd Ready
	switch n.state {
	case StateLeading:
		n.leaderFlush()
	case StateFollowing:
		if n.fol.ackPending {
			n.fol.ackPending = false
			n.send(Message{Type: MsgAck, To: n.leader, Conn: n.fol.conn, Epoch: n.epoch, Zxid: n.log.last()}, true)
		}
	}
	hasSnap := false
	for _, o := range n.out {
		hasSnap = hasSnap || o.isSnap
	}
	// Committed: no entry past a MsgSnap's zxid in the same Ready (see Ready).
	if !hasSnap && n.appliedPending < n.committed {
		if n.appliedPending < n.log.base {
			panic(fmt.Sprintf("zab: node %d: entries after %s to deliver are below the log base %s", n.id, n.appliedPending, n.log.base))
		}
		ents := n.log.slice(n.appliedPending, n.cfg.MaxBatchEntries)
		i := len(ents)
		for i > 0 && ents[i-1].Zxid > n.committed {
			i--
		}
		rd.Committed = ents[:i:i]
		if i > 0 {
			if first := rd.Committed[0].Zxid; first <= n.appliedPending {
				panic(fmt.Sprintf("zab: node %d: commit out of order: %s after %s", n.id, first, n.appliedPending))
			}
			n.appliedPending = rd.Committed[i-1].Zxid
		}
	}
	switch n.state {
	case StateFollowing:
		n.followerCompleteSyncs()
	case StateLeading:
		n.leaderCompleteLocalSyncs()
	}
	rd.Syncs, n.syncResults = n.syncResults, nil
	rd.Requests, n.requests = n.requests, nil
	if n.snapPend != nil {
		rd.Snapshot, n.snapPend = n.snapPend, nil
	}
	if n.truncPend {
		rd.Truncate, rd.TruncateTo, n.truncPend = true, n.truncTo, false
	}
	fl := &inflight{gen: n.logGen, applied: n.appliedPending}
	if n.log.last() > n.stable {
		rd.Entries = n.log.slice(max(n.stable, n.log.base), 0)
		if len(rd.Entries) > 0 {
			fl.hasEntry, fl.lastEntry = true, rd.Entries[len(rd.Entries)-1].Zxid
		}
	}
	if n.hardPending {
		h := n.hard
		rd.HardState, n.hardPending = &h, false
	}
	if ss := n.softState(); ss != n.prevSS {
		rd.SoftState, n.prevSS = &ss, ss
	}
	// Per peer, messages before the first one that vouches for persistence may
	// leave early; from it on, they wait (keeping per-peer order).
	var waiting map[ServerID]bool
	for _, o := range n.out {
		if o.vouch || waiting[o.m.To] {
			if waiting == nil {
				waiting = make(map[ServerID]bool)
			}
			waiting[o.m.To] = true
			rd.Messages = append(rd.Messages, o.m)
		} else {
			rd.EarlyMessages = append(rd.EarlyMessages, o.m)
		}
	}
	n.out = n.out[:0:0]
	n.inflight = fl
	return rd
}

// Advance tells the node that rd (the last Ready) was carried out: persisted,
// sent, applied.
func (n *Node) Advance(rd Ready) {
	fl := n.inflight
	if fl == nil {
		panic(fmt.Sprintf("zab: node %d: Advance without Ready", n.id))
	}
	n.inflight = nil
	if fl.hasEntry && fl.gen == n.logGen && fl.lastEntry > n.stable {
		n.stable = fl.lastEntry
	}
	if fl.applied > n.applied {
		n.applied = fl.applied
	}
	// Keep MaxCommittedLog applied entries for DIFF; drop older ones.
	n.log.trim(min(n.applied, n.stable), n.cfg.MaxCommittedLog)
	if n.state == StateLeading {
		n.leaderMaybeCommit()
	}
}

// truncateLog drops entries above z (TRUNC).
func (n *Node) truncateLog(z Zxid) {
	if z < n.committed {
		panic(fmt.Sprintf("zab: node %d: truncate to %s below committed %s", n.id, z, n.committed))
	}
	if !n.log.contains(z) {
		panic(fmt.Sprintf("zab: node %d: truncate to %s, which is not in the log (base %s, last %s)", n.id, z, n.log.base, n.log.last()))
	}
	n.log.truncate(z)
	n.logGen++
	n.stable = min(n.stable, z)
	if !n.truncPend || z < n.truncTo {
		n.truncTo = z
	}
	n.truncPend = true
}

// installSnapshot replaces state and log with a snapshot as of z (SNAP).
func (n *Node) installSnapshot(s Snapshot) {
	if s.Zxid < n.committed {
		panic(fmt.Sprintf("zab: node %d: snapshot at %s below committed %s", n.id, s.Zxid, n.committed))
	}
	n.log.reset(s.Zxid)
	n.logGen++
	n.stable = s.Zxid
	n.truncPend = false
	n.snapPend = &s
	n.committed, n.applied, n.appliedPending = s.Zxid, s.Zxid, s.Zxid
}

// newConn returns a connection id never used before by this incarnation.
func (n *Node) newConn() ConnID {
	n.connSeq++
	return ConnID(uint64(n.incarnation)<<32 | uint64(n.connSeq))
}

func (n *Node) becomeLooking(reason string) {
	if n.state != 0 {
		n.logger.Info("looking for a leader", "reason", reason, "was", n.state.String(), "epoch", n.epoch, "zxid", n.log.last())
	}
	n.abortSyncs()
	n.state, n.phase, n.leader, n.epoch = StateLooking, PhaseElection, 0, 0
	n.lead = nil
	n.fol = followerState{}
	n.requests = nil
	n.round++
	n.vote = n.selfVote()
	n.recv = map[ServerID]Vote{n.id: n.vote}
	n.ooe = map[ServerID]Message{}
	n.finalizeLeft = -1
	n.resetElectionTimer()
	n.broadcastVote()
	n.maybeFinalize()
}

func (n *Node) selfVote() Vote {
	return Vote{Leader: n.id, Zxid: n.log.last(), ElectionEpoch: n.round, PeerEpoch: n.hard.CurrentEpoch}
}

func (n *Node) abortSyncs() {
	for _, s := range n.fol.syncs {
		n.syncResults = append(n.syncResults, SyncResult{ID: s.id, Err: ErrLeaderLost})
	}
	if n.lead != nil {
		for _, s := range n.lead.syncs {
			if s.from == n.id {
				n.syncResults = append(n.syncResults, SyncResult{ID: s.id, Err: ErrLeaderLost})
			}
		}
		for _, s := range n.lead.localDone {
			n.syncResults = append(n.syncResults, SyncResult{ID: s.id, Err: ErrLeaderLost})
		}
	}
}
