package zab

import (
	"fmt"
	"log/slog"
	"slices"
)

// Config configures one Node. Times are in ticks: the runtime calls Tick at a
// fixed interval of its choice (ZooKeeper's tickTime; the zab server may use a
// fraction of it).
type Config struct {
	// ID is this member's server id (myid). Required, positive.
	ID ServerID
	// Peers lists every voting member, including ID. Required; a quorum is a
	// strict majority of Peers.
	Peers []ServerID
	// Storage is what the node reads at start: durable epochs, the applied
	// snapshot's zxid and the log above it. Required.
	Storage Storage

	// ElectionTicks is how long a LOOKING member waits without reaching a
	// decision before it re-sends its vote to every peer (ZooKeeper's
	// notification timeout). The wait is randomized in [ElectionTicks,
	// 2*ElectionTicks). Default 2.
	ElectionTicks int
	// FinalizeWaitTicks is how long a member whose vote has a quorum waits for a
	// better vote before it decides (ZooKeeper's finalizeWait, 200 ms). Default 1.
	FinalizeWaitTicks int
	// InitLimitTicks bounds discovery plus synchronization: a leader that has
	// not established its epoch with a quorum, or a follower that has not
	// received UPTODATE, within this many ticks goes back to LOOKING
	// (ZooKeeper's initLimit). Default 10.
	InitLimitTicks int
	// SyncLimitTicks bounds silence in the broadcast phase: a follower that hears
	// nothing from its leader, or a leader that hears from fewer than a quorum of
	// followers, for this many ticks goes back to LOOKING (syncLimit). Must be at
	// least 2 (the leader pings every tick). Default 5.
	SyncLimitTicks int

	// MaxOutstandingProposals bounds the proposals a leader has broadcast but
	// not yet committed. When full, Propose returns ErrProposalsFull and
	// proposes nothing. Default 1000.
	MaxOutstandingProposals int
	// MaxBatchEntries bounds the entries in one PROPOSAL message and in one
	// Ready.Committed; the rest go into later messages and Readys. Default 256.
	MaxBatchEntries int
	// MaxCommittedLog is how many applied entries the core keeps in memory to
	// sync a lagging follower with DIFF; a follower further behind gets SNAP.
	// (ZooKeeper's committedLog, 500.) Default 10000.
	MaxCommittedLog int
	// MaxPendingSyncs bounds the Sync calls waiting on this member: when full,
	// Sync returns ErrSyncsFull and queues nothing. A leader also holds at most
	// this many forwarded syncs per follower; one more is dropped and logged,
	// and that follower's sync completes with ErrLeaderLost when it leaves the
	// leader (its client sees a timeout first). Default 1024.
	MaxPendingSyncs int
	// MaxPendingRequests bounds the forwarded writes a leader holds for its
	// runtime (Ready.Requests). When full, further forwarded writes are dropped
	// and logged; the follower's client sees no answer and times out, as with a
	// lost connection. Default 4096.
	MaxPendingRequests int

	// Seed seeds the node's *rand.Rand (election timeouts, connection ids). A
	// runtime should use a different seed at each process start.
	Seed int64
	// Logger receives state changes (elected, epoch, sync mode). Nil discards.
	Logger *slog.Logger
}

// DefaultConfig returns a Config with every default filled in; set ID, Peers
// and Storage.
func DefaultConfig() Config {
	return Config{
		ElectionTicks:           2,
		FinalizeWaitTicks:       1,
		InitLimitTicks:          10,
		SyncLimitTicks:          5,
		MaxOutstandingProposals: 1000,
		MaxBatchEntries:         256,
		MaxCommittedLog:         10000,
		MaxPendingSyncs:         1024,
		MaxPendingRequests:      4096,
	}
}

// withDefaults fills zero fields with DefaultConfig's values.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	fill := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&c.ElectionTicks, d.ElectionTicks)
	fill(&c.FinalizeWaitTicks, d.FinalizeWaitTicks)
	fill(&c.InitLimitTicks, d.InitLimitTicks)
	fill(&c.SyncLimitTicks, d.SyncLimitTicks)
	fill(&c.MaxOutstandingProposals, d.MaxOutstandingProposals)
	fill(&c.MaxBatchEntries, d.MaxBatchEntries)
	fill(&c.MaxCommittedLog, d.MaxCommittedLog)
	fill(&c.MaxPendingSyncs, d.MaxPendingSyncs)
	fill(&c.MaxPendingRequests, d.MaxPendingRequests)
	return c
}

// Validate reports the first broken rule, naming the field. Zero tick and
// limit fields are allowed (they take defaults); negative ones are not.
func (c Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...)
	}
	if c.ID == 0 {
		return bad("ID: want a positive server id, got 0")
	}
	if len(c.Peers) == 0 {
		return bad("Peers: want every voting member including ID %d, got none", c.ID)
	}
	seen := make(map[ServerID]bool, len(c.Peers))
	for _, p := range c.Peers {
		if p == 0 {
			return bad("Peers: server id 0 is not allowed; ids are positive")
		}
		if seen[p] {
			return bad("Peers: server id %d listed twice", p)
		}
		seen[p] = true
	}
	if !slices.Contains(c.Peers, c.ID) {
		return bad("Peers: want ID %d among Peers %v", c.ID, c.Peers)
	}
	if c.Storage == nil {
		return bad("Storage: required (use NewMemoryStorage in tests)")
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"ElectionTicks", c.ElectionTicks}, {"FinalizeWaitTicks", c.FinalizeWaitTicks},
		{"InitLimitTicks", c.InitLimitTicks}, {"SyncLimitTicks", c.SyncLimitTicks},
		{"MaxOutstandingProposals", c.MaxOutstandingProposals}, {"MaxBatchEntries", c.MaxBatchEntries},
		{"MaxCommittedLog", c.MaxCommittedLog}, {"MaxPendingSyncs", c.MaxPendingSyncs},
		{"MaxPendingRequests", c.MaxPendingRequests},
	} {
		if f.v < 0 {
			return bad("%s: want >= 0 (0 means default), got %d", f.name, f.v)
		}
	}
	d := c.withDefaults()
	if d.SyncLimitTicks < 2 {
		return bad("SyncLimitTicks: want >= 2 (the leader pings every tick), got %d", d.SyncLimitTicks)
	}
	if d.InitLimitTicks < d.SyncLimitTicks {
		return bad("InitLimitTicks: want >= SyncLimitTicks (%d), got %d", d.SyncLimitTicks, d.InitLimitTicks)
	}
	return nil
}
