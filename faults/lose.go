package faults

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"

	"coordlab/cluster"
)

// LoseUnsynced kills members (SIGKILL) and drops what they wrote without
// fsyncing it, as a power cut would (a kill alone keeps the page cache);
// the undo restarts them on what was fsynced. The runtime mounts the data
// directories through package lazyfs for it (cluster.Runtime.LoseUnsynced);
// the history records what was dropped (extra.lost).
type LoseUnsynced struct {
	On
}

func (LoseUnsynced) Kind() string              { return "lose-unsynced" }
func (LoseUnsynced) Ops() (start, stop string) { return "lose-unsynced", "restart" }

func (LoseUnsynced) Requires(c cluster.Capabilities) error {
	if !c.Kill {
		return errors.New(c.Why)
	}
	if !c.LoseUnsynced {
		return errors.New(c.LoseUnsyncedWhy)
	}
	return nil
}

// UsesLazyFS: the data directories must be mounted through lazyfs.
func (LoseUnsynced) UsesLazyFS() bool { return true }

func (l LoseUnsynced) Start(ctx context.Context, env Env) (Undo, error) {
	undo := func(ctx context.Context) error { return l.Heal(ctx, env) }
	if err := each(ctx, env.On, signal(env.Runtime, cluster.SignalKill)); err != nil {
		return undo, err
	}
	var errs []error
	for _, n := range env.On {
		lost, err := env.Runtime.LoseUnsynced(ctx, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		env.note("lost", n+": "+lost)
	}
	return undo, errors.Join(errs...)
}

// Heal restarts env.On, all at once: after a loss on every member, none
// can serve until a majority is back.
func (LoseUnsynced) Heal(ctx context.Context, env Env) error {
	errs := make([]error, len(env.On))
	var wg sync.WaitGroup
	for i, n := range env.On {
		wg.Go(func() { errs[i] = env.Runtime.Restart(ctx, n) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

var losePackages = []Package{
	{"lose-unsynced", "SIGKILL one member (random or the leader), drop what it did not fsync, restart it", 1,
		func(r *rand.Rand, nodes []string, _ Options) Fault {
			return LoseUnsynced{On{Targets: drawTarget(r, nodes)}}
		}},
	{"lose-unsynced-all", "SIGKILL every member at once and drop what each did not fsync (a power cut), restart them", 1,
		func(_ *rand.Rand, nodes []string, _ Options) Fault {
			return LoseUnsynced{On{Targets: slices.Clone(nodes)}}
		}},
}
