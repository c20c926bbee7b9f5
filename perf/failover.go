package perf

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"coordlab/client"
	"coordlab/cluster"
)

// Failover round bounds: steady load before the kill, the longest wait
// for a write after it, and the load kept after the first write so that
// the slowest writer's stall ends inside the round.
const (
	failoverBefore = 700 * time.Millisecond // the comparison page names this value
	failoverBound  = 20 * time.Second
	failoverAfter  = 700 * time.Millisecond
)

// write is one write of a failover round, in ns since the round started.
type write struct {
	invoke, done int64
	ok           bool
}

// failover kills the leader under write load from FailoverClients writers
// on the other members, measures the time to the first ok write invoked
// after the kill and the longest gap between ok writes any writer saw,
// then restarts the killed member and waits until every writer's member
// takes writes again.
func (s *subject) failover(ctx context.Context, cfg Config, round int, value string) Failover {
	f := Failover{Round: round, FirstWriteMs: -1}
	rt := s.cl.Runtime
	leader, err := rt.Leader(ctx)
	if err != nil {
		f.Error = fmt.Sprintf("no leader before the kill: %v", err)
		return f
	}
	f.Killed = leader
	var writers []client.Client
	for i, c := range s.lin {
		if s.order[i%len(s.order)] != leader && len(writers) < cfg.FailoverClients {
			writers = append(writers, c)
		}
	}
	f.Writers = len(writers)
	t0 := time.Now()
	since := func() int64 { return time.Since(t0).Nanoseconds() }
	var killAt int64 = -1
	var mu sync.Mutex
	firstOK := int64(-1) // done of the first ok write invoked after the kill
	stop := make(chan struct{})
	got := make([][]write, len(writers))
	var wg sync.WaitGroup
	for i, c := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), uint64(round)))
			for {
				select {
				case <-stop:
					return
				default:
				}
				octx, cancel := context.WithTimeout(ctx, cfg.OpTimeout)
				w := write{invoke: since()}
				_, err := c.Put(octx, key(rng.IntN(cfg.Keys)), value)
				cancel()
				w.done, w.ok = since(), err == nil
				got[i] = append(got[i], w)
				if w.ok {
					mu.Lock()
					if killAt >= 0 && w.invoke >= killAt && firstOK < 0 {
						firstOK = w.done
					}
					mu.Unlock()
				} else {
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	sleep(ctx, failoverBefore)
	// The kill counts from when the runtime says it is done (the runtime
	// may take a while to deliver it): a write invoked before then may
	// still have reached the old leader.
	kerr := rt.Signal(ctx, leader, cluster.SignalKill)
	mu.Lock()
	killAt = since()
	mu.Unlock()
	if kerr != nil {
		f.Error = fmt.Sprintf("SIGKILL %s: %v", leader, kerr)
	}
	deadline := time.Now().Add(failoverBound)
	for time.Now().Before(deadline) && ctx.Err() == nil && kerr == nil {
		mu.Lock()
		done := firstOK >= 0
		mu.Unlock()
		if done {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	sleep(ctx, failoverAfter)
	close(stop)
	wg.Wait()
	end := since()
	if firstOK >= 0 {
		f.FirstWriteMs = float64(firstOK-killAt) / 1e6
	} else if f.Error == "" {
		f.Error = fmt.Sprintf("no write succeeded within %v of the kill", failoverBound)
	}
	// The longest gap between ok writes of one writer, from the start of
	// the round to its end (a writer that never succeeded stalled all of
	// it).
	for _, ws := range got {
		prev := int64(0)
		for _, w := range ws {
			if w.ok {
				f.MaxStallMs = max(f.MaxStallMs, float64(w.done-prev)/1e6)
				prev = w.done
			}
		}
		f.MaxStallMs = max(f.MaxStallMs, float64(end-prev)/1e6)
	}
	if l, err := rt.Leader(ctx); err == nil {
		f.NewLeader = l
	}
	if err := rt.Restart(ctx, leader); err != nil {
		f.Error = joinErr(f.Error, fmt.Sprintf("restarting %s: %v", leader, err))
		return f
	}
	if err := s.settle(ctx, cfg, value); err != nil {
		f.Error = joinErr(f.Error, err.Error())
	}
	return f
}

// settle waits until every linearizable client has written once (after a
// restart, clients of the restarted member reconnect).
func (s *subject) settle(ctx context.Context, cfg Config, value string) error {
	deadline := time.Now().Add(30 * time.Second)
	pending := slices.Clone(s.lin)
	for len(pending) > 0 {
		var still []client.Client
		for _, c := range pending {
			octx, cancel := context.WithTimeout(ctx, cfg.OpTimeout)
			_, err := c.Put(octx, key(0), value)
			cancel()
			if err != nil {
				still = append(still, c)
			}
		}
		pending = still
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%d clients still cannot write 30 s after the restart", len(pending))
		}
		sleep(ctx, 200*time.Millisecond)
	}
	return nil
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
