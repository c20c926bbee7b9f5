package v3rpc

import (
	"fmt"
	"time"
)

// Config holds the settings of the gRPC services. Zero values are invalid;
// start from DefaultConfig.
type Config struct {
	// ProgressNotifyInterval is how often an idle watcher that asked for
	// progress_notify receives an empty response carrying the current
	// revision. Default 10 min, as etcd's --experimental-watch-progress-notify-interval.
	ProgressNotifyInterval time.Duration

	// MaxWatchResponseBytes bounds one WatchResponse: events of a catch-up are
	// packed into responses up to this size (never splitting one revision),
	// and a single revision larger than it is sent alone, or in fragments when
	// the watcher asked for fragment. Default 1.5 MiB, etcd's default
	// max-request-bytes, which is what etcd uses to fragment.
	MaxWatchResponseBytes int

	// LeaderCheckInterval is how often a watch stream opened with clientv3's
	// WithRequireLeader checks that the member still knows a leader; after
	// three checks in a row without one the stream ends with
	// ErrGRPCNoLeader, as etcd's monitorLeader does after three election
	// timeouts. Default 1 s (etcd's default election timeout).
	LeaderCheckInterval time.Duration

	// RangeStreamChunkBytes bounds the key-values of one RangeStream chunk
	// (a single larger key-value goes alone). Default 1 MiB.
	RangeStreamChunkBytes int

	// SnapshotChunkBytes is the size of each Maintenance.Snapshot message.
	// Default 32 KiB, as etcd.
	SnapshotChunkBytes int

	// MaxTxnOps is etcd's --max-txn-ops: the most compares, or operations
	// of one branch, a Txn may hold; more answer ErrGRPCTooManyOps. Default
	// 128.
	MaxTxnOps int
}

// DefaultConfig returns etcd's defaults.
func DefaultConfig() Config {
	return Config{
		ProgressNotifyInterval: 10 * time.Minute,
		MaxWatchResponseBytes:  1572864,
		LeaderCheckInterval:    time.Second,
		RangeStreamChunkBytes:  1 << 20,
		SnapshotChunkBytes:     32 * 1024,
		MaxTxnOps:              MaxTxnOps,
	}
}

// Validate names the first broken rule and the fix.
func (c Config) Validate() error {
	switch {
	case c.ProgressNotifyInterval <= 0:
		return fmt.Errorf("v3rpc: ProgressNotifyInterval: want > 0, got %v (default 10m)", c.ProgressNotifyInterval)
	case c.MaxWatchResponseBytes < 1024:
		return fmt.Errorf("v3rpc: MaxWatchResponseBytes: want >= 1024, got %d (default 1572864)", c.MaxWatchResponseBytes)
	case c.LeaderCheckInterval <= 0:
		return fmt.Errorf("v3rpc: LeaderCheckInterval: want > 0, got %v (default 1s)", c.LeaderCheckInterval)
	case c.RangeStreamChunkBytes < 1:
		return fmt.Errorf("v3rpc: RangeStreamChunkBytes: want >= 1, got %d (default 1048576)", c.RangeStreamChunkBytes)
	case c.MaxTxnOps < 1:
		return fmt.Errorf("v3rpc: MaxTxnOps: want >= 1, got %d (default 128)", c.MaxTxnOps)
	case c.SnapshotChunkBytes < 1:
		return fmt.Errorf("v3rpc: SnapshotChunkBytes: want >= 1, got %d (default 32768)", c.SnapshotChunkBytes)
	case c.MaxTxnOps < 1:
		return fmt.Errorf("v3rpc: MaxTxnOps: want >= 1, got %d (default %d)", c.MaxTxnOps, MaxTxnOps)
	}
	return nil
}
