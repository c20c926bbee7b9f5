package faults

import (
	"context"
	"errors"
	"math/rand/v2"

	"coordlab/cluster"
)

// Kill kills members at once (SIGKILL); the undo restarts them with their
// data.
type Kill struct {
	On
}

func (Kill) Kind() string              { return "kill" }
func (Kill) Ops() (start, stop string) { return "kill", "restart" }

func (Kill) Requires(c cluster.Capabilities) error {
	if !c.Kill {
		return errors.New(c.Why)
	}
	return nil
}

func (k Kill) Start(ctx context.Context, env Env) (Undo, error) {
	// Restarting a member that is up is a no-op, so the undo is safe
	// whichever kills failed.
	undo := func(ctx context.Context) error { return k.Heal(ctx, env) }
	return undo, each(ctx, env.On, signal(env.Runtime, cluster.SignalKill))
}

// Heal restarts env.On.
func (Kill) Heal(ctx context.Context, env Env) error { return each(ctx, env.On, env.Runtime.Restart) }

var killPackages = []Package{
	{"kill", "SIGKILL one member (random or the leader), restart it with its data", 1,
		func(r *rand.Rand, nodes []string, _ Options) Fault { return Kill{On{Targets: drawTarget(r, nodes)}} }},
}
