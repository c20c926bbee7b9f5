package faults

import (
	"context"
	"math/rand/v2"
	"slices"

	"coordlab/cluster"
)

// Loss makes members drop Percent of the packets their peers send them
// (nft numgen; the kernel here has no netem). The lab's clients are spared.
type Loss struct {
	On
	Percent int `json:"percent,omitempty"`
}

func (Loss) Kind() string { return "loss" }

func (Loss) Requires(c cluster.Capabilities) error { return needFirewall(c) }

func (l Loss) Start(ctx context.Context, env Env) (Undo, error) {
	undo := func(ctx context.Context) error { return l.Heal(ctx, env) }
	return undo, env.Firewall.Loss(ctx, l.Percent, env.On)
}

// Heal removes the loss from env.On.
func (Loss) Heal(ctx context.Context, env Env) error { return env.Firewall.Loss(ctx, 0, env.On) }

var lossPackages = []Package{
	{"loss", "drop a percentage of the peer packets one or all members receive", 2, drawLoss},
}

func drawLoss(r *rand.Rand, nodes []string, o Options) Fault {
	t := nodes
	if r.IntN(2) == 0 {
		t = []string{nodes[r.IntN(len(nodes))]}
	}
	return Loss{On: On{Targets: slices.Clone(t)}, Percent: o.LossPercent}
}
