package zab

// Ready is what the core asks of its runtime. Get it with Node.Ready when
// Node.HasReady, carry it out in this order, then call Node.Advance with it:
//
//  1. SoftState, if not nil: the role changed (log it, update metrics, fail
//     client requests that were waiting on the old leader).
//  2. Make durable, in this order, and fsync before step 4:
//     Snapshot (install it as the application state, and discard every logged
//     entry), then Truncate (discard logged entries with zxid > TruncateTo),
//     then append Entries to the log, then write HardState (both epochs,
//     atomically: temp file + rename).
//  3. EarlyMessages may be sent at any time, before or while persisting: they
//     vouch for nothing on this member's disk (a leader's PROPOSAL, COMMIT,
//     PING).
//  4. After step 2 is durable, send Messages in order per peer (ACK, ACKEPOCH,
//     the ACK of NEWLEADER, LEADERINFO: they vouch for what was just
//     persisted). Per peer, a runtime's transport must keep the order of
//     EarlyMessages then Messages; a transport that cannot deliver drops them
//     (the core recovers by timeouts and resync).
//  5. After step 2 is durable, apply Committed in order (zxid order, no gaps,
//     each exactly once since the last Snapshot). Committed never holds an
//     entry that is not logged by the end of step 2.
//  6. Complete Syncs after applying Committed.
//  7. Prepare each of Requests (a forwarded client write) and Propose the
//     result; this may happen before Advance.
//
// A MsgSnap in Messages or EarlyMessages has Data nil: the runtime fills Data
// with a snapshot of its application state as of m.Zxid, which is the last
// entry of Committed in this Ready or of an earlier one. So when a Ready holds
// a MsgSnap, apply its Committed before serializing the snapshot.
//
// The slices belong to the runtime after Ready returns, but entry Data is
// shared with the core and with messages: do not modify it.
type Ready struct {
	// SoftState is the new role, or nil when it did not change.
	SoftState *SoftState
	// Snapshot to install (a follower synced with SNAP), or nil.
	Snapshot *Snapshot
	// Truncate asks to discard every logged entry with zxid > TruncateTo.
	Truncate   bool
	TruncateTo Zxid
	// Entries to append to the log, in zxid order, after Snapshot and Truncate.
	Entries []Entry
	// HardState to persist, or nil when unchanged.
	HardState *HardState
	// EarlyMessages may be sent before persisting (see step 3).
	EarlyMessages []Message
	// Messages must be sent only after persisting (see step 4).
	Messages []Message
	// Committed entries to apply, in zxid order.
	Committed []Entry
	// Syncs completed by this Ready (see Node.Sync).
	Syncs []SyncResult
	// Requests are writes forwarded by followers, for the leader's runtime to
	// prepare and Propose (see Request). Only a leader's Ready has them.
	Requests []Request
}

// MustSync reports whether carrying out rd needs an fsync (step 2 has work).
func (rd *Ready) MustSync() bool {
	return rd.Snapshot != nil || rd.Truncate || len(rd.Entries) > 0 || rd.HardState != nil
}
