package zab

import "fmt"

// Fast Leader Election (ZooKeeper's FastLeaderElection.lookForLeader), driven
// by messages and ticks instead of a blocking queue poll.

func (n *Node) resetElectionTimer() {
	n.electionElapsed = 0
	n.electionTimeout = n.cfg.ElectionTicks + n.rand.Intn(n.cfg.ElectionTicks)
}

func (n *Node) broadcastVote() {
	for _, p := range n.peers {
		if p != n.id {
			n.send(Message{Type: MsgNotification, To: p, Vote: n.vote, State: n.state}, false)
		}
	}
}

func (n *Node) tickLooking() {
	n.electionElapsed++
	if n.finalizeLeft > 0 {
		n.finalizeLeft--
		if n.finalizeLeft == 0 {
			n.finalizeLeft = -1
			if n.quorumAgrees(n.recv, n.vote) {
				n.decide(n.vote, "quorum agreed and no better vote in the finalize wait")
				return
			}
		}
	}
	if n.electionElapsed >= n.electionTimeout {
		// No decision yet: re-send my vote in the same round (notifications may
		// have been lost, or peers were down).
		n.resetElectionTimer()
		n.broadcastVote()
	}
}

// sameVote compares the candidate and its history, in the same round.
func sameVote(a, b Vote) bool {
	return a.Leader == b.Leader && a.Zxid == b.Zxid && a.PeerEpoch == b.PeerEpoch && a.ElectionEpoch == b.ElectionEpoch
}

func (n *Node) quorumAgrees(votes map[ServerID]Vote, v Vote) bool {
	c := 0
	for _, w := range votes {
		if sameVote(w, v) {
			c++
		}
	}
	return c >= n.quorum
}

func (n *Node) maybeFinalize() {
	if n.finalizeLeft < 0 && n.quorumAgrees(n.recv, n.vote) {
		n.finalizeLeft = n.cfg.FinalizeWaitTicks
	}
}

func (n *Node) stepNotification(m Message) {
	if n.state == StateFollowing && m.From == n.leader && n.fol.stage == fsAwaitLeaderInfo {
		// The member I decided to follow says it is not leading: look again
		// now, and take its notification as a LOOKING member would.
		if why := n.leaderRefuses(m); why != "" {
			n.becomeLooking(why)
		}
	}
	if n.state == StateLeading {
		n.leaderNoteNotification(m)
	}
	if n.state != StateLooking {
		// An established member answers a LOOKING peer with the leader it
		// follows and that leader's epoch, so that a restarted member joins it
		// (ZOOKEEPER-1732).
		if m.State == StateLooking {
			n.send(Message{Type: MsgNotification, To: m.From, Vote: n.establishedVote(), State: n.state}, false)
		}
		return
	}
	v := m.Vote
	if m.State == StateLooking {
		switch {
		case v.ElectionEpoch > n.round:
			n.round = v.ElectionEpoch
			n.recv = map[ServerID]Vote{}
			self := n.selfVote()
			if v.beats(self) {
				n.vote = Vote{Leader: v.Leader, Zxid: v.Zxid, PeerEpoch: v.PeerEpoch, ElectionEpoch: n.round}
			} else {
				n.vote = self
			}
			n.finalizeLeft = -1
			n.broadcastVote()
		case v.ElectionEpoch < n.round:
			// A laggard: tell it my round and vote so it catches up.
			n.send(Message{Type: MsgNotification, To: m.From, Vote: n.vote, State: n.state}, false)
			return
		case v.beats(n.vote):
			n.vote = Vote{Leader: v.Leader, Zxid: v.Zxid, PeerEpoch: v.PeerEpoch, ElectionEpoch: n.round}
			n.finalizeLeft = -1
			n.broadcastVote()
		}
		n.recv[m.From] = v
		n.recv[n.id] = n.vote
		if !n.quorumAgrees(n.recv, n.vote) {
			n.finalizeLeft = -1
		}
		n.maybeFinalize()
		return
	}
	// From a FOLLOWING or LEADING peer: an established ensemble. Votes out of
	// the election are equal when they name the same leader and epoch
	// (ZooKeeper's Vote.equals ignores zxid and round for them). Join when a
	// quorum names it and the leader itself says LEADING. (If I promised a
	// later epoch, the leader learns it from my FOLLOWERINFO and steps down.)
	n.ooe[m.From] = m
	if v.PeerEpoch == 0 {
		return
	}
	c := 0
	for _, o := range n.ooe {
		if o.Vote.Leader == v.Leader && o.Vote.PeerEpoch == v.PeerEpoch {
			c++
		}
	}
	if c >= n.quorum && n.checkLeader(v) {
		n.round = max(n.round, v.ElectionEpoch)
		n.decide(v, "joined an established leader")
	}
}

// maxLeaderRefusals is how many times a follower waiting for LEADERINFO
// hears its chosen leader say it is LOOKING (voting for itself) before it
// looks again: ZooKeeper's learner tries to connect 5 times to a leader whose
// quorum port is not open yet, then goes back to election.
const maxLeaderRefusals = 5

// leaderRefuses returns why m, a notification from the member this follower
// chose and has not heard LEADERINFO from, shows that member will not lead
// it, or "" while it may still. A member answers FOLLOWERINFO with a
// notification when it does not lead (see Node.Step), as ZooKeeper's closed
// quorum port refuses a learner's connection.
//
// Following someone else, or LOOKING with a vote for another member in my
// round or later, is final: votes only move up the order within a round, so
// it will not vote for itself again in that round. LOOKING with a vote for
// itself may still end in LEADING (its finalize wait can end after mine), so
// that only counts towards maxLeaderRefusals.
func (n *Node) leaderRefuses(m Message) string {
	switch m.State {
	case StateFollowing:
		return fmt.Sprintf("chosen leader %d is not leading: it follows %d", m.From, m.Vote.Leader)
	case StateLooking:
		if m.Vote.Leader != m.From && m.Vote.ElectionEpoch >= n.round {
			return fmt.Sprintf("chosen leader %d is not leading: it votes for %d in round %d", m.From, m.Vote.Leader, m.Vote.ElectionEpoch)
		}
		n.fol.refused++
		if n.fol.refused >= maxLeaderRefusals {
			return fmt.Sprintf("chosen leader %d still looking after %d notifications", m.From, n.fol.refused)
		}
	}
	return ""
}

// leaderNoteNotification lets a leader whose epoch is not established yet
// give up as soon as it cannot be: when the members that may still follow it
// (itself, those connected, and those whose notifications do not show
// otherwise) are fewer than a quorum. A member shows it will not follow when
// it follows or leads another, or is LOOKING with a vote for another member
// in this leader's round or later (votes only move up within a round).
// Finalize waits end at different times, so after a full restart two members
// can each end the round LEADING, one without a quorum; ZooKeeper's would
// wait initLimit for followers that went to the other, and so would its own
// followers. A connected learner is never counted out: its connection says
// more than a notification that may be older than it.
func (n *Node) leaderNoteNotification(m Message) {
	ls := n.lead
	if ls.established {
		return
	}
	v := m.Vote
	switch {
	case v.Leader == n.id && m.State != StateLeading:
		delete(ls.defected, m.From)
		return
	case m.State == StateFollowing, m.State == StateLeading,
		m.State == StateLooking && v.ElectionEpoch >= n.round:
		ls.defected[m.From] = true
	default:
		return
	}
	out := 0
	for id := range ls.defected {
		if _, connected := ls.learners[id]; !connected {
			out++
		}
	}
	if len(n.peers)-out < n.quorum {
		n.becomeLooking(fmt.Sprintf("epoch cannot be established: %d of %d members follow or vote for others", out, len(n.peers)))
	}
}

// establishedVote is what a FOLLOWING or LEADING member tells a LOOKING one:
// its leader and that leader's epoch (0 until discovery picked it).
func (n *Node) establishedVote() Vote {
	return Vote{Leader: n.leader, Zxid: n.vote.Zxid, ElectionEpoch: n.round, PeerEpoch: n.epoch}
}

// checkLeader holds when the named leader itself was heard saying LEADING in
// that epoch.
func (n *Node) checkLeader(v Vote) bool {
	if v.Leader == n.id {
		return false
	}
	o, ok := n.ooe[v.Leader]
	return ok && o.State == StateLeading && o.Vote.Leader == v.Leader && o.Vote.PeerEpoch == v.PeerEpoch
}

func (n *Node) decide(v Vote, why string) {
	n.vote = Vote{Leader: v.Leader, Zxid: v.Zxid, PeerEpoch: v.PeerEpoch, ElectionEpoch: n.round}
	n.recv, n.ooe, n.finalizeLeft = nil, nil, -1
	n.roleElapsed = 0
	if v.Leader == n.id {
		n.logger.Info("elected leader", "round", n.round, "zxid", n.log.last(), "epoch", n.hard.CurrentEpoch, "why", why)
		n.becomeLeader()
	} else {
		n.logger.Info("following", "peer", v.Leader, "round", n.round, "why", why)
		n.becomeFollower(v.Leader)
	}
}
