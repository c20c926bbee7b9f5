package faults

import (
	"context"
	"errors"
	"math/rand/v2"

	"coordlab/cluster"
)

// Pause freezes members (SIGSTOP, or the cgroup freezer in Docker: the
// history records which, as extra.mechanism); the undo thaws them.
type Pause struct {
	On
}

func (Pause) Kind() string              { return "pause" }
func (Pause) Ops() (start, stop string) { return "pause", "resume" }

func (Pause) Requires(c cluster.Capabilities) error {
	if !c.Pause {
		return errors.New(c.Why)
	}
	return nil
}

func (Pause) Describe(env Env) map[string]string {
	return map[string]string{"mechanism": env.Runtime.Capabilities().PauseBy}
}

func (p Pause) Start(ctx context.Context, env Env) (Undo, error) {
	undo := func(ctx context.Context) error { return p.Heal(ctx, env) }
	return undo, each(ctx, env.On, signal(env.Runtime, cluster.SignalStop))
}

// Heal thaws env.On.
func (Pause) Heal(ctx context.Context, env Env) error {
	return each(ctx, env.On, signal(env.Runtime, cluster.SignalCont))
}

var pausePackages = []Package{
	{"pause", "SIGSTOP one member (random or the leader), SIGCONT it", 1,
		func(r *rand.Rand, nodes []string, _ Options) Fault { return Pause{On{Targets: drawTarget(r, nodes)}} }},
	{"pause-lock-holder", "SIGSTOP the member a fresh lock holder talks to, when it is a follower (lock workload)", 1,
		func(*rand.Rand, []string, Options) Fault { return Pause{On{Targets: []string{LockHolder}}} }},
}
