package analysis

import (
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"coordlab/runfile"
)

// budget is the time and memory the analysis may use. A watchdog goroutine
// samples the heap and the clock and sets abort when either runs out; the
// checkers poll abort and answer Unknown for what they could not finish.
type budget struct {
	start     time.Time
	deadline  time.Time
	perKey    time.Duration
	memLimit  uint64
	abort     atomic.Bool
	exhausted atomic.Value // string: "time" or "memory"
	peak      atomic.Uint64
	stop      chan struct{}
	stopOnce  sync.Once
	wg        sync.WaitGroup
}

const heapMetric = "/memory/classes/heap/objects:bytes"

func newBudget(opts Options) *budget {
	tl := opts.TimeLimit
	if tl <= 0 {
		tl = time.Duration(runfile.Default().CheckLimit)
	}
	kl := opts.KeyTimeLimit
	if kl <= 0 {
		kl = tl / 4
	}
	ml := opts.MemoryLimit
	if ml == 0 {
		ml = DefaultMemoryLimit
	}
	now := time.Now()
	b := &budget{start: now, deadline: now.Add(tl), perKey: kl, memLimit: ml, stop: make(chan struct{})}
	b.exhausted.Store("")
	b.sampleHeap()
	b.wg.Go(b.watch)
	return b
}

func (b *budget) sampleHeap() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	v := s[0].Value.Uint64()
	for {
		p := b.peak.Load()
		if v <= p || b.peak.CompareAndSwap(p, v) {
			break
		}
	}
	return v
}

func (b *budget) watch() {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			if now.After(b.deadline) {
				b.trip("time")
			}
			if b.sampleHeap() > b.memLimit {
				b.trip("memory")
			}
		}
	}
}

func (b *budget) trip(why string) {
	if b.abort.CompareAndSwap(false, true) {
		b.exhausted.Store(why)
	}
}

// remaining is the time left, at least 0.
func (b *budget) remaining() time.Duration { return max(0, time.Until(b.deadline)) }

// keyLimit is the porcupine timeout for one key: the per-key limit or what is
// left, whichever is smaller (at least 1 ms, so porcupine's 0 = "no limit"
// never happens).
func (b *budget) keyLimit() time.Duration {
	return max(time.Millisecond, min(b.perKey, b.remaining()))
}

// close stops the watchdog; it can be called more than once.
func (b *budget) close() {
	b.stopOnce.Do(func() {
		close(b.stop)
		b.wg.Wait()
		b.sampleHeap()
	})
}

func (b *budget) report() Budget {
	return Budget{
		TimeLimitNs:      int64(b.deadline.Sub(b.start)),
		KeyTimeLimitNs:   int64(b.perKey),
		MemoryLimitBytes: b.memLimit,
		Exhausted:        b.exhausted.Load().(string),
	}
}
