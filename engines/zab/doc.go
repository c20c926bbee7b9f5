// Package zab is the ZooKeeper Atomic Broadcast protocol as a deterministic
// state machine: Fast Leader Election, discovery (a new epoch agreed by a
// quorum), synchronization (DIFF, TRUNC or SNAP, then NEWLEADER and UPTODATE)
// and broadcast (PROPOSAL, ACK, COMMIT on a quorum, strictly in zxid order),
// written from ZooKeeper's protocol rather than from Raft: a leader is
// elected by (currentEpoch, last zxid, id) before it has an epoch, the epoch
// is then agreed in discovery, and the new leader's whole history is adopted
// by its followers before it proposes anything.
//
// # Driving a Node
//
// The core does no I/O: no sockets, disk, clock, goroutines or global
// randomness. Like etcd-io/raft's RawNode, a runtime owns one Node per
// process and feeds it events from one goroutine:
//
//	n, err := zab.NewNode(cfg)          // epochs, snapshot zxid and log from cfg.Storage
//	for {
//		select {
//		case <-ticker.C:
//			n.Tick()
//		case raw := <-fromPeers:
//			m, err := zab.UnmarshalMessage(raw) // a bad frame: log it, drop the connection
//			n.Step(m)
//		case w := <-clientWrites:
//			// Leader: validate w against the state plus the pending changes and
//			// Propose the transaction. Follower: Forward(w); the leader's runtime
//			// gets it in Ready.Requests and proposes it.
//		case s := <-clientSyncs:
//			n.Sync(s.id)
//		}
//		for n.HasReady() {
//			rd := n.Ready()
//			send(rd.EarlyMessages)             // may overlap with the fsync
//			persist(rd.Snapshot, rd.Truncate, rd.Entries, rd.HardState)
//			fsync()
//			send(rd.Messages)                  // ACK, ACKEPOCH: they vouch for the fsync
//			apply(rd.Committed)                // zxid order; answer the clients waiting here
//			finish(rd.Syncs)                   // after applying
//			prepareAndPropose(rd.Requests)     // leader only
//			n.Advance(rd)
//		}
//	}
//
// Ready's doc comment fixes that order and the one exception (a leader's
// MsgSnap carries the runtime's state, filled in before it is sent). The
// runtime never replays its own log at start: it restores its newest snapshot,
// reports that snapshot's zxid as InitialState.Applied, and the core
// re-delivers the committed entries above it once a leader confirms them.
//
// Entry data and forwarded data are opaque to the core. The zab server logs
// an encoded znode transaction in each entry; besides client writes it
// forwards messages of its own, such as session touches, which the leader's
// runtime only records. Forward is a channel from a follower's runtime to the
// leader's, not a promise that anything is proposed.
//
// # Protocol map
//
// Behaviour per role is a step function, as in etcd-io/raft, not a class
// tree: stepNotification (election.go), stepFollower (follower.go),
// stepLeader (leader.go). The messages and their fields follow ZooKeeper's
// quorum packets (see MessageType); the encoding is ours.
//
//   - Election: votes ordered by (peerEpoch, zxid, id); a round ends when a
//     quorum agrees and no better vote arrives within FinalizeWaitTicks. A
//     FOLLOWING or LEADING member answers a LOOKING one with its leader and
//     epoch, so a restarted member joins the running ensemble. Finalize
//     waits end at different times, so a member can decide to follow one
//     that goes on to follow another; only a leader takes FOLLOWERINFO, any
//     other member answers it with a notification of what it is (ZooKeeper's
//     quorum port is closed on a non-leader), and the would-be follower
//     looks again as soon as its choice follows someone, votes for another
//     member, or keeps LOOKING (leaderRefuses), instead of waiting initLimit.
//     Likewise two members can end a round LEADING: one that has not
//     established its epoch looks again as soon as too many members follow
//     or vote for others for a quorum to remain (leaderNoteNotification;
//     ZooKeeper's leader waits initLimit there).
//   - Discovery: FOLLOWERINFO(acceptedEpoch); once a quorum connected, the
//     leader persists acceptedEpoch = max+1 and sends LEADERINFO; followers
//     persist it before ACKEPOCH(currentEpoch, last zxid). A follower with a
//     more recent history than the leader's makes it give up.
//   - Synchronization: per follower, DIFF (its last zxid is in the leader's
//     in-memory log), TRUNC (it has a tail the leader lacks) or SNAP (too far
//     behind), the missing entries, then NEWLEADER. The follower persists
//     them, then currentEpoch, then ACKs. A quorum of ACKs commits the
//     leader's whole history and starts broadcast (UPTODATE).
//   - Broadcast: the leader assigns zxids; followers ACK after persisting; an
//     ACK is cumulative (a follower's log is a prefix of the leader's on one
//     connection), so the commit point is the highest zxid a quorum logged and
//     commits are in zxid order by construction.
//   - Liveness: the leader pings every tick; a follower silent for
//     SyncLimitTicks is dropped, and a leader with fewer than a quorum of
//     synced followers steps down. A follower that hears nothing for
//     SyncLimitTicks (InitLimitTicks while syncing) goes back to LOOKING.
//
// Every quorum message carries the ConnID of one follower-leader connection.
// A gap in the leader's stream (a PROPOSAL that does not follow the last
// logged zxid) breaks the connection: the follower goes back to LOOKING and
// resyncs, as a broken TCP connection does in ZooKeeper. This is what makes
// the core safe on networks that drop, duplicate or reorder (zabtest's).
//
// Invariants are checked and break with a panic naming the values: zxids
// increase, the commit point never moves back or past the log, a commit has a
// quorum, nothing committed is truncated, epochs never go back and
// acceptedEpoch >= currentEpoch. A panic is a bug in the core (or a runtime
// that broke the Ready contract), never bad input: malformed messages are
// errors from UnmarshalMessage, stray ones are dropped by Step.
//
// # Caveats
//
//   - Sync is ZooKeeper's: the leader answers once everything it proposed
//     before the sync arrived is committed, without checking that it still
//     leads. A deposed leader that has not noticed yet can answer it, so reads
//     after sync are not linearizable, in zab as in ZooKeeper.
//   - A forwarded write or sync in flight when the leader changes is lost; the
//     follower completes pending syncs with ErrLeaderLost, and clients of
//     forwarded writes learn by timeout (ZooKeeper closes their connection).
//   - DIFF is served from memory only (MaxCommittedLog applied entries plus
//     everything unapplied). After a restart the window starts at the
//     restored snapshot, so followers behind it get SNAP.
//   - A leader that meets a follower which promised a later epoch (to a
//     would-be leader that never established) steps down, so the next election
//     can pick an epoch above the promise; this costs one election.
//   - Connection ids are unique per Seed: a runtime must use a different Seed
//     at each process start (zabtest does), or a duplicated message from the
//     previous incarnation could be taken for the current connection.
//   - No observers, no dynamic reconfiguration, no weighted quorums.
//   - Time exists only as ticks: the finalize wait and all timeouts have tick
//     granularity, so the runtime's tick length bounds failover speed.
package zab
