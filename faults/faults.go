package faults

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"coordlab/cluster"
)

// Kind is what a fault does.
type Kind string

// Kinds.
const (
	KindPartition Kind = "partition"
	KindKill      Kind = "kill"
	KindPause     Kind = "pause"
	KindLoss      Kind = "loss"
)

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

// Leader stands for "the member that leads when the fault starts".
const Leader = "leader"

// Follower stands for "one member that does not lead when the fault
// starts"; Fault.Pick chooses which (seeded).
const Follower = "follower"

// LockHolder stands for "the member the current lock holder talks to"; the
// run resolves it through the lock workload (Player.SetResolver). It makes
// the pause that expires a holder's session hit the holder, as Jepsen's
// etcd lock finding needs, instead of a random member.
const LockHolder = "lock-holder"

// Fault is one fault with its parameters: the JSON form is what test.json
// and the history's nemesis ops carry.
type Fault struct {
	Kind  Kind   `json:"kind"`
	Shape string `json:"shape,omitempty"` // partitions
	// Targets are members (kill, pause, loss) or, for isolate-leader,
	// [Leader]; resolved to names at start.
	Targets []string `json:"targets,omitempty"`
	// Grudge is the partition (dst -> srcs it drops) when it does not
	// depend on who leads.
	Grudge  cluster.Grudge `json:"grudge,omitempty"`
	Percent int            `json:"percent,omitempty"` // loss
	// Pick chooses among the followers for a Follower target.
	Pick int `json:"pick,omitempty"`
}

// Step is one fault applied at At for Duration (offsets from run start).
type Step struct {
	At       time.Duration `json:"at_ns"`
	Duration time.Duration `json:"duration_ns"`
	Fault    Fault         `json:"fault"`
}

// Schedule is a fault schedule: steps in time order, never overlapping.
type Schedule struct {
	Seed  int64    `json:"seed"`
	Spec  string   `json:"spec"`
	Steps []Step   `json:"steps"`
	Nodes []string `json:"nodes"`
}

// packages is the table of nemesis packages: name -> what it needs and how
// it draws one fault.
var packages = map[string]struct {
	about string
	kind  Kind
	// minNodes is the smallest cluster where the fault means something.
	minNodes int
	draw     func(r *rand.Rand, nodes []string, o Options) Fault
}{
	"partition-isolate-one":    {"cut one random member off from the rest", KindPartition, 2, drawIsolateOne},
	"partition-isolate-leader": {"cut the current leader off from the rest", KindPartition, 2, drawIsolateLeader},
	"partition-isolate-follower": {"cut one member that is not the leader off (its clients see a stale member)", KindPartition, 2,
		func(r *rand.Rand, nodes []string, _ Options) Fault {
			return Fault{Kind: KindPartition, Shape: ShapeIsolateFollower, Targets: []string{Follower}, Pick: r.IntN(len(nodes) - 1)}
		}},
	"partition-halves": {"split the members into a random minority and majority", KindPartition, 2, drawHalves},
	"partition-majorities-ring": {"each member sees a majority, no two the same one (Jepsen)", KindPartition, 5,
		drawMajoritiesRing},
	"partition-bridge": {"two halves that only one bridge member connects", KindPartition, 3, drawBridge},
	"kill":             {"SIGKILL one member (random or the leader), restart it with its data", KindKill, 1, drawKill},
	"pause":            {"SIGSTOP one member (random or the leader), SIGCONT it", KindPause, 1, drawPause},
	"pause-lock-holder": {"SIGSTOP the member a fresh lock holder talks to, when it is a follower (lock workload)", KindPause, 1,
		func(*rand.Rand, []string, Options) Fault {
			return Fault{Kind: KindPause, Targets: []string{LockHolder}}
		}},
	"loss": {"drop a percentage of the peer packets one or all members receive", KindLoss, 2, drawLoss},
}

// aliases expand to several packages.
var aliases = map[string][]string{
	"partition": {"partition-isolate-one", "partition-isolate-leader", "partition-isolate-follower", "partition-halves", "partition-bridge"},
	"all":       {"partition-isolate-one", "partition-isolate-leader", "partition-isolate-follower", "partition-halves", "partition-bridge", "kill", "pause", "loss"},
}

// PackageNames lists the packages and aliases a spec may use, sorted.
func PackageNames() []string {
	var out []string
	for n := range packages {
		out = append(out, n)
	}
	for n := range aliases {
		out = append(out, n)
	}
	out = append(out, "none")
	slices.Sort(out)
	return out
}

// PackageInfo describes a package or alias for `coordlab list`.
func PackageInfo(name string) string {
	if p, ok := packages[name]; ok {
		return p.about
	}
	if a, ok := aliases[name]; ok {
		return "any of " + strings.Join(a, ", ")
	}
	if name == "none" {
		return "no faults"
	}
	return ""
}

// ParseSpec expands a spec ("partition,kill") into sorted, unique package
// names; "none" or "" is the empty list.
func ParseSpec(spec string) ([]string, error) {
	var out []string
	for _, tok := range strings.Split(spec, ",") {
		tok = strings.TrimSpace(tok)
		switch {
		case tok == "" || tok == "none":
		case aliases[tok] != nil:
			out = append(out, aliases[tok]...)
		case packages[tok].kind != "":
			out = append(out, tok)
		default:
			return nil, fmt.Errorf("%w: %q: want a comma list of %s", ErrBadSpec, tok, strings.Join(PackageNames(), ", "))
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Kinds returns the fault kinds a spec uses.
func Kinds(pkgs []string) []Kind {
	var out []Kind
	for _, p := range pkgs {
		out = append(out, packages[p].kind)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// CheckCapabilities says which packages a runtime cannot inject.
func CheckCapabilities(pkgs []string, c cluster.Capabilities) error {
	for _, k := range Kinds(pkgs) {
		ok := true
		switch k {
		case KindPartition:
			ok = c.Partition
		case KindLoss:
			ok = c.Loss
		case KindKill:
			ok = c.Kill
		case KindPause:
			ok = c.Pause
		}
		if !ok {
			return fmt.Errorf("%w: %s: %s", ErrUnsupported, k, c.Why)
		}
	}
	return nil
}

// complete cuts every member of a from every member of b, both ways.
func complete(a, b []string) cluster.Grudge {
	g := cluster.Grudge{}
	for _, x := range a {
		g[x] = append(g[x], b...)
	}
	for _, y := range b {
		g[y] = append(g[y], a...)
	}
	return g
}

func shuffled(r *rand.Rand, nodes []string) []string {
	s := slices.Clone(nodes)
	r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s
}

func without(nodes []string, x string) []string {
	return slices.DeleteFunc(slices.Clone(nodes), func(n string) bool { return n == x })
}

func drawIsolateOne(r *rand.Rand, nodes []string, _ Options) Fault {
	one := nodes[r.IntN(len(nodes))]
	return Fault{Kind: KindPartition, Shape: ShapeIsolateOne, Targets: []string{one}, Grudge: complete([]string{one}, without(nodes, one))}
}

func drawIsolateLeader(_ *rand.Rand, _ []string, _ Options) Fault {
	return Fault{Kind: KindPartition, Shape: ShapeIsolateLeader, Targets: []string{Leader}}
}

func drawHalves(r *rand.Rand, nodes []string, _ Options) Fault {
	s := shuffled(r, nodes)
	k := len(s) / 2
	minority := slices.Sorted(slices.Values(s[:k]))
	return Fault{Kind: KindPartition, Shape: ShapeHalves, Targets: minority, Grudge: complete(s[:k], s[k:])}
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
	return Fault{Kind: KindPartition, Shape: ShapeMajoritiesRing, Targets: s, Grudge: g}
}

func drawBridge(r *rand.Rand, nodes []string, _ Options) Fault {
	s := shuffled(r, nodes)
	bridge, rest := s[0], s[1:]
	k := len(rest) / 2
	return Fault{Kind: KindPartition, Shape: ShapeBridge, Targets: []string{bridge}, Grudge: complete(rest[:k], rest[k:])}
}

// drawTarget picks one random member, or the leader, with equal odds.
func drawTarget(r *rand.Rand, nodes []string) []string {
	if r.IntN(2) == 0 {
		return []string{Leader}
	}
	return []string{nodes[r.IntN(len(nodes))]}
}

func drawKill(r *rand.Rand, nodes []string, _ Options) Fault {
	return Fault{Kind: KindKill, Targets: drawTarget(r, nodes)}
}

func drawPause(r *rand.Rand, nodes []string, _ Options) Fault {
	return Fault{Kind: KindPause, Targets: drawTarget(r, nodes)}
}

func drawLoss(r *rand.Rand, nodes []string, o Options) Fault {
	t := nodes
	if r.IntN(2) == 0 {
		t = []string{nodes[r.IntN(len(nodes))]}
	}
	return Fault{Kind: KindLoss, Targets: slices.Clone(t), Percent: o.LossPercent}
}

// newRand is the generator Generate uses, from a seed.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x636f6f72646c6162)) // "coordlab"
}
