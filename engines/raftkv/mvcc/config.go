package mvcc

import (
	"errors"
	"fmt"
	"log/slog"
)

// MaxLeaseTTL is etcd's largest lease TTL in seconds; larger grants fail with
// ErrLeaseTTLTooLarge.
const MaxLeaseTTL = 9_000_000_000

// Config configures a Store. Every member of a cluster must use the same MinLeaseTTL,
// because it changes what Apply returns; the other fields are local.
type Config struct {
	// Logger receives state changes (open, restore, compaction). Nil discards.
	Logger *slog.Logger

	// MinLeaseTTL is the smallest TTL in seconds a lease is granted with; smaller
	// requests are raised to it, as etcd raises them to ceil(1.5 * election timeout).
	// Default 2 (etcd's value for its default 1 s election timeout). Must be >= 1.
	MinLeaseTTL int64

	// NoFsync turns off fsync in Commit. Only for tests and benchmarks of the store
	// itself: a crash can then lose committed data. Default false.
	NoFsync bool
	// FreelistType is bbolt's freelist: "array" (etcd's default) or "map"
	// (empty).
	FreelistType string

	// InitialMmapBytes is bbolt's initial mmap size in bytes. A larger map means fewer
	// remaps (a remap waits for every open read transaction). Default 256 MiB.
	InitialMmapBytes int

	// WatchChanSize is the capacity of each watcher's channel, in batches. A watcher
	// whose channel is full is not waited for by Apply: it is served later from the event
	// cache or the store (catch-up). Default 16. Must be >= 1.
	WatchChanSize int

	// WatchCacheRevs is how many of the most recent revisions' events are kept in memory
	// for watchers catching up; older events are read back from bbolt. Default 4096.
	// Must be >= 1.
	WatchCacheRevs int

	// WatchBatchMaxRevs is the most revisions one watch batch carries; a revision (one
	// txn) is never split across batches. Default 1000 (etcd's watchBatchMaxRevs).
	WatchBatchMaxRevs int

	// MaxWatchers is the most watchers open at once; Watch fails with
	// ErrTooManyWatchers beyond it. Default 100000.
	MaxWatchers int
}

// DefaultConfig returns a Config with every default filled.
func DefaultConfig() Config {
	return Config{
		MinLeaseTTL:       2,
		InitialMmapBytes:  256 << 20,
		WatchChanSize:     16,
		WatchCacheRevs:    4096,
		WatchBatchMaxRevs: 1000,
		MaxWatchers:       100000,
	}
}

// withDefaults fills zero fields with their defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MinLeaseTTL == 0 {
		c.MinLeaseTTL = d.MinLeaseTTL
	}
	if c.InitialMmapBytes == 0 {
		c.InitialMmapBytes = d.InitialMmapBytes
	}
	if c.WatchChanSize == 0 {
		c.WatchChanSize = d.WatchChanSize
	}
	if c.WatchCacheRevs == 0 {
		c.WatchCacheRevs = d.WatchCacheRevs
	}
	if c.WatchBatchMaxRevs == 0 {
		c.WatchBatchMaxRevs = d.WatchBatchMaxRevs
	}
	if c.MaxWatchers == 0 {
		c.MaxWatchers = d.MaxWatchers
	}
	return c
}

// Validate reports every broken rule, naming the field. Zero fields count as their
// defaults (Open fills them).
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.MinLeaseTTL < 1 || c.MinLeaseTTL > MaxLeaseTTL {
		errs = append(errs, fmt.Errorf("mvcc: Config.MinLeaseTTL: want 1..%d seconds, got %d", int64(MaxLeaseTTL), c.MinLeaseTTL))
	}
	if c.InitialMmapBytes < 0 {
		errs = append(errs, fmt.Errorf("mvcc: Config.InitialMmapBytes: want >= 0, got %d", c.InitialMmapBytes))
	}
	if c.WatchChanSize < 1 {
		errs = append(errs, fmt.Errorf("mvcc: Config.WatchChanSize: want >= 1, got %d", c.WatchChanSize))
	}
	if c.WatchCacheRevs < 1 {
		errs = append(errs, fmt.Errorf("mvcc: Config.WatchCacheRevs: want >= 1, got %d", c.WatchCacheRevs))
	}
	if c.WatchBatchMaxRevs < 1 {
		errs = append(errs, fmt.Errorf("mvcc: Config.WatchBatchMaxRevs: want >= 1, got %d", c.WatchBatchMaxRevs))
	}
	if c.MaxWatchers < 1 {
		errs = append(errs, fmt.Errorf("mvcc: Config.MaxWatchers: want >= 1, got %d", c.MaxWatchers))
	}
	return errors.Join(errs...)
}
