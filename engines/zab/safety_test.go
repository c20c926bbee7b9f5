package zab_test

import (
	"flag"
	"fmt"
	"math/rand"
	"testing"

	"coordlab/engines/zab"
	"coordlab/engines/zab/zabtest"
)

var (
	safetySeeds = flag.Int("zab.seeds", 100, "seeds for TestRandomizedSafety")
	safetySeed  = flag.Int64("zab.seed", 0, "run TestRandomizedSafety for this one seed only")
)

// TestRandomizedSafety runs 3-member clusters under random faults — lost,
// delayed, reordered and duplicated messages, partitions, crashes with
// restarts (some in the middle of a Ready), clock drift and steps — for many
// seeds, then heals everything and checks ZAB's safety:
// members' applied sequences are prefixes of one order with increasing zxids,
// at most one leader per epoch, and every entry a leader delivered (the point
// where a server answers its client) is applied by every member at the end.
// A failure names its seed; replay it with -zab.seed=N.
func TestRandomizedSafety(t *testing.T) {
	seeds := make([]int64, 0, *safetySeeds)
	if *safetySeed != 0 {
		seeds = append(seeds, *safetySeed)
	} else {
		for i := 1; i <= *safetySeeds; i++ {
			seeds = append(seeds, int64(i))
		}
	}
	if testing.Short() {
		seeds = seeds[:min(len(seeds), 8)]
	}
	if raceEnabled && *safetySeed == 0 {
		seeds = seeds[:min(len(seeds), 25)]
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			st, err := runRandomized(seed, 1500)
			t.Logf("seed %d: %s", seed, st)
			if err != nil {
				t.Fatalf("seed %d: %v (replay: go test ./engines/zab -run TestRandomizedSafety -zab.seed=%d)", seed, err, seed)
			}
		})
	}
}

func runRandomized(seed int64, steps int) (stats string, err error) {
	r := rand.New(rand.NewSource(seed))
	net := zabtest.NetOptions{
		DropRate:      []float64{0, 0.01, 0.05}[r.Intn(3)],
		DupRate:       []float64{0, 0.02}[r.Intn(2)],
		MaxDelayTicks: r.Intn(3),
		Reorder:       r.Intn(3) == 0,
	}
	c, err := zabtest.New(zabtest.Options{
		N: 3, Seed: seed, Net: net, SnapshotRate: 0.2,
		Config: func(cfg *zab.Config) {
			cfg.MaxCommittedLog = 1 + r.Intn(20)
			cfg.MaxBatchEntries = 1 + r.Intn(5)
			cfg.MaxOutstandingProposals = 50
		},
	})
	if err != nil {
		return "", err
	}
	defer func() {
		syncs := 0
		for _, id := range c.IDs() {
			for _, s := range c.Member(id).Syncs {
				if s.Err == nil {
					syncs++
				}
			}
		}
		stats = fmt.Sprintf("acked=%d applied=%d leaders=%d syncs=%d dropped=%d net=%+v", len(c.Acked()), len(c.Order()), c.Elections(), syncs, c.Dropped(), net)
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v (net %+v)", p, net)
		}
	}()
	ids := c.IDs()
	down := map[zab.ServerID]bool{}
	next := 0
	for step := 0; step < steps; step++ {
		switch x := r.Intn(100); {
		case x < 40:
			// Client writes at a random member.
			id := ids[r.Intn(len(ids))]
			if !down[id] {
				for range 1 + r.Intn(3) {
					next++
					_ = c.Propose(id, fmt.Appendf(nil, "w%d", next))
				}
			}
		case x < 45:
			id := ids[r.Intn(len(ids))]
			if !down[id] {
				_ = c.Sync(id, zab.RequestID(step))
			}
		case x < 47:
			// Crash one member at a time.
			if len(down) == 0 {
				id := ids[r.Intn(len(ids))]
				if r.Intn(2) == 0 {
					c.Crash(id)
				} else {
					c.CrashMidReady(id)
				}
				down[id] = true
			}
		case x < 50:
			for _, id := range ids {
				if down[id] {
					if err := c.Restart(id); err != nil {
						return "", err
					}
					delete(down, id)
				}
			}
		case x < 51:
			a := ids[r.Intn(len(ids))]
			var rest []zab.ServerID
			for _, id := range ids {
				if id != a {
					rest = append(rest, id)
				}
			}
			c.Partition([]zab.ServerID{a}, rest)
		case x < 54:
			c.Heal()
		case x < 55:
			// Clock trouble: drift or a periodic skew on one member, or a step.
			id := ids[r.Intn(len(ids))]
			switch r.Intn(3) {
			case 0:
				c.SetSkew(id, zabtest.Skew{Rate: []float64{0.5, 1, 1.5, 3}[r.Intn(4)]})
			case 1:
				c.SetSkew(id, zabtest.Skew{Rate: 2, Period: 1 + r.Intn(10)})
			default:
				c.JumpClock(id, 1+r.Intn(10))
			}
		}
		if r.Intn(3) == 0 {
			c.Tick()
		}
		// Handle Readys and deliver messages, in random order.
		for _, i := range r.Perm(len(ids)) {
			id := ids[i]
			if r.Intn(5) > 0 {
				c.HandleReady(id)
			}
			if r.Intn(5) > 0 {
				c.Deliver(id)
			}
		}
		if err := c.Check(); err != nil {
			return "", fmt.Errorf("step %d: %w", step, err)
		}
	}
	// Heal and converge with a perfect network and clocks.
	c.Heal()
	for _, id := range ids {
		c.SetSkew(id, zabtest.Skew{})
	}
	for id := range down {
		if err := c.Restart(id); err != nil {
			return "", err
		}
	}
	if err := converge(c); err != nil {
		return "", err
	}
	if err := c.Check(); err != nil {
		return "", err
	}
	order := c.Order()
	for _, id := range ids {
		m := c.Member(id)
		if len(m.Applied) != len(order) {
			return "", fmt.Errorf("member %d applied %d entries, the longest applied %d", id, len(m.Applied), len(order))
		}
	}
	final := map[zab.Zxid]string{}
	for _, e := range order {
		final[e.Zxid] = string(e.Data)
	}
	for _, a := range c.Acked() {
		if d, ok := final[a.Zxid]; !ok || d != string(a.Data) {
			return "", fmt.Errorf("acknowledged entry %s %q lost (final has %q)", a.Zxid, a.Data, d)
		}
	}
	return "", nil
}

// converge ticks a fault-free cluster until a leader has every member in
// broadcast and a final write committed everywhere.
func converge(c *zabtest.Cluster) error {
	c.SetNet(zabtest.NetOptions{})
	attempt := 0
	for tick := range 400 {
		c.Tick()
		c.Stabilize(0)
		l, ok := c.Leader()
		if !ok {
			continue
		}
		all := true
		for _, id := range c.IDs() {
			s := c.Member(id).Node.Status()
			all = all && s.Phase == zab.PhaseBroadcast && s.Leader == l
		}
		if !all {
			continue
		}
		done := attempt > 0
		for _, id := range c.IDs() {
			a := c.Member(id).Applied
			done = done && len(a) > 0 && string(a[len(a)-1].Data) == fmt.Sprint("final", attempt)
		}
		if done {
			return nil
		}
		// A final write (again every 20 ticks: a leader change may lose it).
		if attempt == 0 || tick%20 == 0 {
			attempt++
			if _, err := c.Member(l).Node.Propose(fmt.Append(nil, "final", attempt)); err != nil {
				attempt--
			}
		}
	}
	var st string
	for _, id := range c.IDs() {
		st += fmt.Sprintf(" %+v;", c.Member(id).Node.Status())
	}
	return fmt.Errorf("no convergence after 400 ticks:%s", st)
}
