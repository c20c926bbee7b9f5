package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"coordlab/cluster"
	"coordlab/netdelay"
)

// Latency delays the packets the target members send on their links: to
// their peers (Links "peers", the default), to everyone else, which is the
// lab's clients ("clients"), or both ("all"). Each packet waits Delay ±
// Jitter (uniform) as it leaves a target, so a link between two targets
// gains 2×Delay of round trip and a link between a target and another
// member gains 1×Delay, as netem on each target's interface would give.
// Packets keep their order: jitter varies the delay, it never reorders.
//
// The kernel here has no netem, so the delay happens in user space (package
// netdelay): the member's firewall table marks the packets, a steering rule
// queues marked packets to NFQUEUE, and a delayer in the lab, its netlink
// socket opened inside the member's network namespace, accepts each one when
// it falls due. The undo closes the delayers first (their steering rule
// goes, what they hold is let through) and then removes the marks. If the
// lab dies, the steering rule's bypass lets packets flow undelayed.
type Latency struct {
	On
	Delay  Duration `json:"delay"`
	Jitter Duration `json:"jitter,omitempty"`
	Links  string   `json:"links,omitempty"`
}

// Latency links.
const (
	LinksPeers   = "peers"
	LinksClients = "clients"
	LinksAll     = "all"
)

// The queue and mark the latency fault uses in each member's namespace:
// one delayer per namespace, so one queue number serves them all.
const (
	latencyQueue = 7744
	latencyMark  = 0x4c4154 // "LAT"
)

func (Latency) Kind() string { return "latency" }

func (Latency) Requires(c cluster.Capabilities) error {
	if !c.Firewall {
		return fmt.Errorf("the delay acts inside each member's own network namespace: %s", c.Why)
	}
	return netdelay.Supported()
}

func (Latency) Describe(Env) map[string]string {
	return map[string]string{"mechanism": "nfqueue"}
}

// config checks the parameters and returns the steer and delayer settings.
func (l Latency) config() (cluster.Steer, netdelay.Config, error) {
	s := cluster.Steer{Mark: latencyMark}
	switch l.Links {
	case "", LinksPeers:
		s.Peers = true
	case LinksClients:
		s.Clients = true
	case LinksAll:
		s.Peers, s.Clients = true, true
	default:
		return s, netdelay.Config{}, fmt.Errorf("latency: links %q: want %s, %s or %s", l.Links, LinksPeers, LinksClients, LinksAll)
	}
	cfg := netdelay.Config{Queue: latencyQueue, Mark: latencyMark, Delay: time.Duration(l.Delay), Jitter: time.Duration(l.Jitter)}
	if l.Delay <= 0 {
		return s, cfg, fmt.Errorf("latency: delay %s: want > 0", time.Duration(l.Delay))
	}
	if err := cfg.Validate(); err != nil {
		return s, cfg, fmt.Errorf("latency: %w", err)
	}
	return s, cfg, nil
}

func (l Latency) Start(ctx context.Context, env Env) (Undo, error) {
	steer, cfg, err := l.config()
	if err != nil {
		return nil, err
	}
	names := slices.Compact(slices.Sorted(slices.Values(env.On)))
	// One delayer per member, opened (and closed) side by side: each
	// runs iptables in its member's namespace, which is slow on a busy
	// machine.
	ds := make([]*netdelay.Delayer, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() {
			p, err := env.Runtime.Netns(ctx, n)
			if err == nil {
				ds[i], err = netdelay.Open(p, cfg)
			}
			if err != nil {
				errs[i] = fmt.Errorf("latency on %s: %w", n, err)
			}
		})
	}
	wg.Wait()
	closeAll := func() error {
		cerrs := make([]error, len(names))
		var wg sync.WaitGroup
		for i, d := range ds {
			if d != nil {
				wg.Go(func() {
					if err := d.Close(); err != nil {
						cerrs[i] = fmt.Errorf("latency on %s: %w", names[i], err)
					}
				})
			}
		}
		wg.Wait()
		return errors.Join(cerrs...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, errors.Join(err, closeAll())
	}
	undo := func(ctx context.Context) error {
		// Delayers first: removing the marks changes the namespace's
		// hooks, which makes the kernel drop every packet still held.
		return errors.Join(closeAll(), env.Firewall.Steer(ctx, cluster.Steer{}, names))
	}
	// Marks that failed on some members are still removed by the undo.
	return undo, env.Firewall.Steer(ctx, steer, names)
}

// Heal removes the marks from env.On; a delayer left without marks
// queues nothing.
func (Latency) Heal(ctx context.Context, env Env) error {
	return env.Firewall.Steer(ctx, cluster.Steer{}, env.On)
}

var latencyPackages = []Package{
	{"latency", "delay the packets one member, the leader or every member sends its peers by 10-100 ms ± 20% (NFQUEUE, in user space)", 2, drawLatency(LinksPeers)},
	{"latency-clients", "delay the packets one member, the leader or every member sends, to its peers and to the clients, by 10-100 ms ± 20%", 1, drawLatency(LinksAll)},
}

func drawLatency(links string) func(*rand.Rand, []string, Options) Fault {
	return func(r *rand.Rand, nodes []string, _ Options) Fault {
		steps := []time.Duration{10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond}
		d := steps[r.IntN(len(steps))]
		var t []string
		switch r.IntN(3) {
		case 0:
			t = []string{nodes[r.IntN(len(nodes))]}
		case 1:
			t = []string{Leader}
		default:
			t = slices.Clone(nodes)
		}
		return Latency{On: On{Targets: t}, Delay: Duration(d), Jitter: Duration(d / 5), Links: links}
	}
}
