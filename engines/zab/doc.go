// Package zab is the ZooKeeper Atomic Broadcast protocol as a deterministic
// state machine: Fast Leader Election, discovery (a new epoch from a quorum),
// synchronization (DIFF, TRUNC or SNAP, then NEWLEADER and UPTODATE) and
// broadcast (PROPOSAL, ACK, COMMIT on a quorum in zxid order), written from
// ZooKeeper's protocol (shared/notes/zab.md), not from Raft.
//
// The core does no I/O: no sockets, no disk, no clock, no goroutines, no
// global randomness. Like etcd-io/raft's RawNode, a runtime drives it:
//
//	n, err := zab.NewNode(cfg)           // restores epochs and log from cfg.Storage
//	for {
//		select {
//		case <-ticker:           n.Tick()
//		case m := <-fromPeers:   n.Step(m)          // after UnmarshalMessage
//		case w := <-clientWrite: // leader: prepare w, then n.Propose(txn); follower: n.Forward(w)
//		case s := <-clientSync:  n.Sync(id)
//		}
//		for n.HasReady() {
//			rd := n.Ready()
//			send(rd.EarlyMessages)           // may overlap with the fsync
//			persist(rd.Snapshot, rd.Truncate, rd.Entries, rd.HardState); fsync()
//			send(rd.Messages)                // ACKs vouch for what was just persisted
//			apply(rd.Committed)              // in zxid order; fill any MsgSnap after this
//			answer(rd.Syncs); prepareAndPropose(rd.Requests)
//			n.Advance(rd)
//		}
//	}
//
// Ready's doc comment fixes the order. The package zabtest runs N nodes over a
// seeded in-process network with crashes and partitions.
//
// Behaviour per role is a step function (stepFollower, stepLeader,
// stepNotification), not a class tree. Invariants (zxids increase, commits in
// order and never past the log or without a quorum, epochs never go back,
// nothing committed is truncated) are checked and break with a panic naming
// the values.
//
// Caveats: see the Caveats section at the end of this comment once written.
package zab
