package faults

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"

	"coordlab/cluster"
)

// Partition cuts members off from each other: Grudge (destination ->
// the sources it drops), or, for the isolate-leader and isolate-follower
// shapes, the resolved target from everyone else. It replaces the
// partition in force; loss stays.
type Partition struct {
	On
	Shape string `json:"shape,omitempty"`
	// Grudge is the partition when it does not depend on who leads.
	Grudge cluster.Grudge `json:"grudge,omitempty"`
}

// Partition shapes.
const (
	ShapeIsolateOne    = "isolate-one"
	ShapeIsolateLeader = "isolate-leader"
	// ShapeIsolateFollower cuts one member that is not the leader off: its
	// clients keep talking to a member the majority has left behind.
	ShapeIsolateFollower = "isolate-follower"
	ShapeHalves          = "halves"
	ShapeMajoritiesRing  = "majorities-ring"
	ShapeBridge          = "bridge"
)

func (Partition) Kind() string { return "partition" }

func (Partition) Requires(c cluster.Capabilities) error { return needFirewall(c) }

// needFirewall: partitions and loss are nft rules.
func needFirewall(c cluster.Capabilities) error {
	if !c.Firewall {
		return errors.New(c.Why)
	}
	return nil
}

// grudge is the partition to install, once targets are resolved.
func (p Partition) grudge(env Env) cluster.Grudge {
	if (p.Shape == ShapeIsolateLeader || p.Shape == ShapeIsolateFollower) && len(env.On) > 0 {
		return complete(env.On[:1], without(env.Nodes, env.On[0]))
	}
	return p.Grudge
}

func (p Partition) Describe(env Env) map[string]string {
	return map[string]string{"grudge": p.grudge(env).String()}
}

func (p Partition) Start(ctx context.Context, env Env) (Undo, error) {
	// A partition that failed on some members is still undone by a heal.
	return env.Firewall.Heal, env.Firewall.Partition(ctx, p.grudge(env))
}

func (Partition) Heal(ctx context.Context, env Env) error { return env.Firewall.Heal(ctx) }

var partitionPackages = []Package{
	{"partition-isolate-one", "cut one random member off from the rest", 2, drawIsolateOne},
	{"partition-isolate-leader", "cut the current leader off from the rest", 2, drawIsolateLeader},
	{"partition-isolate-follower", "cut one member that is not the leader off (its clients see a stale member)", 2,
		func(r *rand.Rand, nodes []string, _ Options) Fault {
			return Partition{On: On{Targets: []string{Follower}, Pick: r.IntN(len(nodes) - 1)}, Shape: ShapeIsolateFollower}
		}},
	{"partition-halves", "split the members into a random minority and majority", 2, drawHalves},
	{"partition-majorities-ring", "each member sees a majority, no two the same one (Jepsen)", 5, drawMajoritiesRing},
	{"partition-bridge", "two halves that only one bridge member connects", 3, drawBridge},
}

func drawIsolateOne(r *rand.Rand, nodes []string, _ Options) Fault {
	one := nodes[r.IntN(len(nodes))]
	return Partition{On: On{Targets: []string{one}}, Shape: ShapeIsolateOne, Grudge: complete([]string{one}, without(nodes, one))}
}

func drawIsolateLeader(_ *rand.Rand, _ []string, _ Options) Fault {
	return Partition{On: On{Targets: []string{Leader}}, Shape: ShapeIsolateLeader}
}

func drawHalves(r *rand.Rand, nodes []string, _ Options) Fault {
	s := shuffled(r, nodes)
	k := len(s) / 2
	minority := slices.Sorted(slices.Values(s[:k]))
	return Partition{On: On{Targets: minority}, Shape: ShapeHalves, Grudge: complete(s[:k], s[k:])}
}

// drawMajoritiesRing places the members on a ring and lets each see the
// neighbours within distance d, with 2d+1 >= a majority: every member sees a
// majority, and neighbouring members see different ones. Symmetric, as TCP
// needs.
func drawMajoritiesRing(r *rand.Rand, nodes []string, _ Options) Fault {
	s := shuffled(r, nodes)
	n := len(s)
	maj := n/2 + 1
	d := maj / 2 // 2d+1 >= maj
	g := cluster.Grudge{}
	for i, x := range s {
		for j, y := range s {
			dist := (j - i + n) % n
			dist = min(dist, n-dist)
			if dist > d {
				g[x] = append(g[x], y)
			}
		}
	}
	return Partition{On: On{Targets: s}, Shape: ShapeMajoritiesRing, Grudge: g}
}

func drawBridge(r *rand.Rand, nodes []string, _ Options) Fault {
	s := shuffled(r, nodes)
	bridge, rest := s[0], s[1:]
	k := len(rest) / 2
	return Partition{On: On{Targets: []string{bridge}}, Shape: ShapeBridge, Grudge: complete(rest[:k], rest[k:])}
}
