package zab

import "fmt"

// Follower side of discovery, synchronization and broadcast (ZooKeeper's
// Learner.registerWithLeader, syncWithLeader and Follower.processPacket).

type followerStage uint8

const (
	fsAwaitLeaderInfo followerStage = 1 + iota // FOLLOWERINFO sent
	fsAwaitSync                                // ACKEPOCH sent; waiting for DIFF/TRUNC/SNAP
	fsSyncing                                  // receiving the sync stream until NEWLEADER
	fsAwaitUpToDate                            // NEWLEADER acked
	fsBroadcast                                // UPTODATE received
)

type followerState struct {
	stage        followerStage
	conn         ConnID
	heardElapsed int
	leaderCommit Zxid
	ackPending   bool
	syncs        []followerSync
	refused      int // notifications from the chosen leader saying it is LOOKING (see leaderRefuses)
}

type followerSync struct {
	id      RequestID
	replied bool
	target  Zxid
}

func (n *Node) becomeFollower(leader ServerID) {
	n.state, n.phase, n.leader, n.epoch = StateFollowing, PhaseDiscovery, leader, 0
	n.fol = followerState{stage: fsAwaitLeaderInfo, conn: n.newConn()}
	n.sendFollowerInfo()
}

func (n *Node) sendFollowerInfo() {
	n.send(Message{Type: MsgFollowerInfo, To: n.leader, Conn: n.fol.conn, Epoch: n.hard.AcceptedEpoch, Zxid: n.log.last()}, false)
}

func (n *Node) tickFollower() {
	n.roleElapsed++
	n.fol.heardElapsed++
	if n.phase != PhaseBroadcast {
		if n.roleElapsed >= n.cfg.InitLimitTicks {
			n.becomeLooking(fmt.Sprintf("not synced with leader %d within initLimit (%d ticks)", n.leader, n.cfg.InitLimitTicks))
			return
		}
		if n.fol.stage == fsAwaitLeaderInfo && n.roleElapsed%n.cfg.ElectionTicks == 0 {
			n.sendFollowerInfo() // FOLLOWERINFO or LEADERINFO may have been lost
		}
		return
	}
	if n.fol.heardElapsed >= n.cfg.SyncLimitTicks {
		n.becomeLooking(fmt.Sprintf("no word from leader %d within syncLimit (%d ticks)", n.leader, n.cfg.SyncLimitTicks))
	}
}

// lostLeader drops the connection after a gap in the leader's stream: a
// message was lost, so the stream can no longer be trusted (over TCP, the
// connection would have broken).
func (n *Node) lostLeader(format string, a ...any) {
	n.becomeLooking(fmt.Sprintf("connection to leader %d broken: ", n.leader) + fmt.Sprintf(format, a...))
}

func (n *Node) stepFollower(m Message) {
	if m.From != n.leader || m.Conn != n.fol.conn {
		return // another server, or an old connection
	}
	n.fol.heardElapsed = 0
	st := &n.fol
	switch m.Type {
	case MsgLeaderInfo:
		if st.stage != fsAwaitLeaderInfo {
			return
		}
		e := m.Epoch
		if e < n.hard.AcceptedEpoch {
			n.becomeLooking(fmt.Sprintf("leader %d proposes epoch %d below my acceptedEpoch %d", m.From, e, n.hard.AcceptedEpoch))
			return
		}
		rejoin := e == n.hard.AcceptedEpoch
		if !rejoin {
			n.setHard(HardState{AcceptedEpoch: e, CurrentEpoch: n.hard.CurrentEpoch})
		}
		n.epoch = e
		st.stage = fsAwaitSync
		// ACKEPOCH vouches for acceptedEpoch: it waits for persistence.
		n.send(Message{Type: MsgAckEpoch, To: n.leader, Conn: st.conn, Epoch: e, Zxid: n.log.last(), PeerEpoch: n.hard.CurrentEpoch, Rejoin: rejoin}, true)
	case MsgDiff, MsgTrunc, MsgSnap:
		if st.stage != fsAwaitSync || m.Epoch != n.epoch {
			return
		}
		switch m.Type {
		case MsgDiff:
			n.logger.Info("syncing with DIFF", "peer", m.From, "zxid", n.log.last())
		case MsgTrunc:
			n.logger.Info("syncing with TRUNC", "peer", m.From, "zxid", m.Zxid, "from", n.log.last())
			n.truncateLog(m.Zxid)
		case MsgSnap:
			n.logger.Info("syncing with SNAP", "peer", m.From, "zxid", m.Zxid)
			n.installSnapshot(Snapshot{Zxid: m.Zxid, Data: m.Data})
		}
		st.stage = fsSyncing
		n.phase = PhaseSync
	case MsgProposal:
		if st.stage < fsSyncing || m.Epoch != n.epoch {
			return
		}
		last := n.log.last()
		if m.Zxid < last {
			return // a duplicate: this connection already delivered these
		}
		if m.Zxid > last {
			n.lostLeader("proposal after %s but my log ends at %s", m.Zxid, last)
			return
		}
		for _, e := range m.Entries {
			if st.stage >= fsAwaitUpToDate && e.Zxid.Epoch() != n.epoch {
				n.lostLeader("proposal %s outside epoch %d", e.Zxid, n.epoch)
				return
			}
			n.log.append(e)
		}
		if st.stage >= fsAwaitUpToDate && len(m.Entries) > 0 {
			st.ackPending = true
		}
		n.followerCommit(m.Commit)
	case MsgNewLeader:
		if st.stage != fsSyncing || m.Epoch != n.epoch {
			return
		}
		if m.Zxid != n.log.last() {
			n.lostLeader("NEWLEADER at %s but my log ends at %s", m.Zxid, n.log.last())
			return
		}
		// The synced history is persisted (Entries) before currentEpoch
		// (HardState), and both before the ACK (ZOOKEEPER-4643, -3911).
		n.setHard(HardState{AcceptedEpoch: n.hard.AcceptedEpoch, CurrentEpoch: m.Epoch})
		st.stage = fsAwaitUpToDate
		n.send(Message{Type: MsgAck, To: n.leader, Conn: st.conn, Epoch: n.epoch, Zxid: MakeZxid(n.epoch, 0)}, true)
	case MsgUpToDate:
		if st.stage != fsAwaitUpToDate {
			return
		}
		st.stage = fsBroadcast
		n.phase = PhaseBroadcast
		n.logger.Info("synced with leader", "peer", n.leader, "epoch", n.epoch, "zxid", n.log.last())
		n.followerCommit(m.Commit)
	case MsgCommit:
		n.followerCommit(m.Commit)
	case MsgPing:
		n.followerCommit(m.Commit)
		n.send(Message{Type: MsgPing, To: n.leader, Conn: st.conn, Epoch: n.epoch}, false)
	case MsgSyncReply:
		for i := range st.syncs {
			if st.syncs[i].id == m.Request && !st.syncs[i].replied {
				st.syncs[i].replied, st.syncs[i].target = true, m.Zxid
				break
			}
		}
		n.followerCommit(m.Commit)
	}
}

// followerCommit learns the leader's commit point. Once the sync stream has
// started, this log is a prefix of the leader's, so every entry it holds up
// to the leader's commit point is committed.
func (n *Node) followerCommit(c Zxid) {
	if n.fol.stage < fsSyncing {
		return
	}
	n.fol.leaderCommit = max(n.fol.leaderCommit, c)
	n.setCommitted(min(n.fol.leaderCommit, n.log.last()))
}

func (n *Node) followerSyncsDone() bool {
	for _, s := range n.fol.syncs {
		if s.replied && s.target <= n.appliedPending {
			return true
		}
	}
	return false
}

func (n *Node) followerCompleteSyncs() {
	kept := n.fol.syncs[:0]
	for _, s := range n.fol.syncs {
		if s.replied && s.target <= n.appliedPending {
			n.syncResults = append(n.syncResults, SyncResult{ID: s.id})
		} else {
			kept = append(kept, s)
		}
	}
	n.fol.syncs = kept
}
