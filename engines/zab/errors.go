package zab

import "errors"

// Sentinel errors. Test with errors.Is: most are wrapped with context.
var (
	// ErrNotLeader is returned by Propose on a member that is not an
	// established leader (LEADING in the broadcast phase). A follower's runtime
	// forwards the client write with Forward instead.
	ErrNotLeader = errors.New("zab: not the leader")
	// ErrNoLeader is returned by Forward and Sync when this member follows no
	// leader in the broadcast phase (it is electing, or still syncing).
	ErrNoLeader = errors.New("zab: no established leader")
	// ErrProposalsFull is returned by Propose when Config.MaxOutstandingProposals
	// proposals are waiting for a quorum. Nothing was proposed; retry after
	// commits (a later Ready with Committed entries) or reject the client write.
	ErrProposalsFull = errors.New("zab: too many outstanding proposals")
	// ErrSyncsFull is returned by Sync when Config.MaxPendingSyncs syncs are
	// already waiting. Nothing was queued.
	ErrSyncsFull = errors.New("zab: too many pending syncs")
	// ErrZxidExhausted is returned by Propose when the epoch's counter is
	// spent (ZOOKEEPER-1277). The leader steps down so that a new election
	// starts a new epoch; the write was not proposed.
	ErrZxidExhausted = errors.New("zab: zxid counter exhausted in this epoch")
	// ErrLeaderLost completes (in Ready.Syncs) a sync that can no longer be
	// answered because this member left the leader it was sent through.
	ErrLeaderLost = errors.New("zab: leader lost before the sync completed")
	// ErrMalformedMessage is wrapped by UnmarshalMessage when the bytes do not
	// hold a valid message.
	ErrMalformedMessage = errors.New("zab: malformed message")
	// ErrStepped is returned by Step for a message that is not addressed to
	// this member or names an unknown peer; the message was dropped.
	ErrStepped = errors.New("zab: message not for this member")
	// ErrInvalidConfig is wrapped by Config.Validate.
	ErrInvalidConfig = errors.New("zab: invalid config")
)
