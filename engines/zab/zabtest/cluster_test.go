package zabtest

import (
	"reflect"
	"strings"
	"testing"

	"coordlab/engines/zab"
)

func elect(t *testing.T, c *Cluster) zab.ServerID {
	t.Helper()
	for range 100 {
		c.Tick()
		c.Stabilize(0)
		if l, ok := c.Leader(); ok {
			c.Stabilize(0)
			return l
		}
	}
	t.Fatal("no leader after 100 ticks")
	return 0
}

// TestDeterministic: one seed, one history, even with every network fault on.
func TestDeterministic(t *testing.T) {
	run := func() []zab.Entry {
		c, err := New(Options{N: 3, Seed: 7, Net: NetOptions{DropRate: 0.05, DupRate: 0.05, MaxDelayTicks: 2, Reorder: true}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 300 {
			if i%3 == 0 {
				c.Tick()
			}
			if l, ok := c.Leader(); ok {
				_ = c.Propose(l, []byte{byte(i)})
			}
			c.Stabilize(0)
		}
		if err := c.Check(); err != nil {
			t.Fatal(err)
		}
		return c.Order()
	}
	a, b := run(), run()
	if len(a) == 0 {
		t.Fatal("nothing committed in 300 steps")
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed, different histories: %d vs %d entries", len(a), len(b))
	}
}

func TestPartitionBlocksCommit(t *testing.T) {
	c, err := New(Options{N: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	l := elect(t, c)
	var rest []zab.ServerID
	for _, id := range c.IDs() {
		if id != l {
			rest = append(rest, id)
		}
	}
	c.Partition([]zab.ServerID{l}, rest)
	if err := c.Propose(l, []byte("x")); err != nil {
		t.Fatal(err)
	}
	c.Stabilize(0)
	if got := c.Member(l).Node.Status().Committed; got != 0 {
		t.Fatalf("isolated leader committed %s", got)
	}
	if c.Dropped() == 0 {
		t.Fatal("partition dropped no message")
	}
	c.Heal()
	if err := c.Propose(l, []byte("y")); err != nil {
		t.Fatal(err)
	}
	c.Stabilize(0)
	// The stream to the followers has a gap (x was dropped): they leave the
	// connection, and x and y, never acknowledged by a quorum, may be lost.
	// The cluster recovers and commits a new write everywhere.
	for range 30 {
		c.Tick()
		c.Stabilize(0)
	}
	l2, ok := c.Leader()
	if !ok {
		t.Fatal("no leader 30 ticks after the heal")
	}
	if err := c.Propose(l2, []byte("z")); err != nil {
		t.Fatal(err)
	}
	c.Stabilize(0)
	for _, id := range c.IDs() {
		a := c.Member(id).Applied
		if len(a) == 0 || string(a[len(a)-1].Data) != "z" {
			t.Fatalf("member %d applied %v, want it to end with z", id, a)
		}
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestCrashLosesUnpersisted(t *testing.T) {
	c, err := New(Options{N: 3, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	l := elect(t, c)
	if err := c.Propose(l, []byte("x")); err != nil {
		t.Fatal(err)
	}
	before := c.Member(l).Storage.LastZxid()
	c.Crash(l) // the Ready holding x was never handled
	if err := c.Restart(l); err != nil {
		t.Fatal(err)
	}
	if got := c.Member(l).Node.Status().LastZxid; got != before {
		t.Fatalf("restarted with last zxid %s, want the persisted %s", got, before)
	}
}

// TestCheckerCatchesDivergence: the checker is not vacuous.
func TestCheckerCatchesDivergence(t *testing.T) {
	c, err := New(Options{N: 3, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	c.apply(c.members[1], zab.Entry{Zxid: zab.MakeZxid(1, 1), Data: []byte("a")}, false)
	c.apply(c.members[2], zab.Entry{Zxid: zab.MakeZxid(1, 1), Data: []byte("b")}, false)
	if err := c.Check(); err == nil || !strings.Contains(err.Error(), "another member applied") {
		t.Fatalf("Check after divergent applies: got %v", err)
	}
}

func TestStateCodec(t *testing.T) {
	in := []zab.Entry{{Zxid: 1, Data: []byte("a")}, {Zxid: zab.MakeZxid(2, 1), Data: nil}}
	out, err := decodeState(encodeState(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].Zxid != 1 || string(out[0].Data) != "a" || out[1].Zxid != zab.MakeZxid(2, 1) || len(out[1].Data) != 0 {
		t.Fatalf("round trip: got %+v, want %+v", out, in)
	}
	if _, err := decodeState([]byte{5, 0}); err == nil {
		t.Fatal("decodeState of a truncated state: want an error")
	}
}

// TestFollowerOfNonLeaderLooksAgain: after a full restart of 5 members, 1's
// finalize wait ends before 5's better vote reaches it, so 1 decides to follow
// 4 while 2, 3 and 4 move on to 5. 1 must learn that 4 does not lead (4's
// notifications, its refusal of FOLLOWERINFO) and join 5 within a few ticks,
// not wait InitLimitTicks. The second case cuts 1 off while the others elect
// 5, so only the refusal tells it.
func TestFollowerOfNonLeaderLooksAgain(t *testing.T) {
	for _, cutOff := range []bool{false, true} {
		c, err := New(Options{N: 5, Seed: 1, Config: func(cfg *zab.Config) { cfg.InitLimitTicks = 50 }})
		if err != nil {
			t.Fatal(err)
		}
		c.Crash(5)
		c.Stabilize(0) // 1-4 agree on 4 and wait to finalize
		if err := c.Restart(5); err != nil {
			t.Fatal(err)
		}
		c.HandleReady(5) // 5's votes are in flight
		if cutOff {
			c.Partition([]zab.ServerID{1}, []zab.ServerID{2, 3, 4, 5})
		}
		for _, id := range []zab.ServerID{2, 3, 4} {
			c.Deliver(id)
		}
		c.Tick() // 1's finalize wait ends first
		if s := c.Member(1).Node.Status(); s.State != zab.StateFollowing || s.Leader != 4 {
			t.Fatalf("cutOff=%v: setup: member 1 is %s leader=%d, want FOLLOWING 4", cutOff, s.State, s.Leader)
		}
		ticks := 0
		joined := func() bool {
			l, ok := c.Leader()
			s := c.Member(1).Node.Status()
			return ok && l == 5 && s.Leader == 5 && s.Phase == zab.PhaseBroadcast
		}
		if cutOff {
			for range 4 {
				c.Stabilize(0)
				c.Tick()
				ticks++
			}
			if l, ok := c.Leader(); !ok || l != 5 {
				t.Fatalf("cutOff: 2-5 did not elect 5 (leader %d, %v)", l, ok)
			}
			c.Heal()
		}
		for c.Stabilize(0); !joined() && ticks < 49; ticks++ {
			c.Tick()
			c.Stabilize(0)
		}
		if !joined() {
			t.Fatalf("cutOff=%v: member 1 still %+v after %d ticks", cutOff, c.Member(1).Node.Status(), ticks)
		}
		t.Logf("cutOff=%v: member 1 joined leader 5 after %d ticks", cutOff, ticks)
		if limit := 10; ticks > limit {
			t.Fatalf("cutOff=%v: member 1 joined leader 5 after %d ticks, want <= %d (InitLimitTicks is 50)", cutOff, ticks, limit)
		}
		if err := c.Check(); err != nil {
			t.Fatal(err)
		}
	}
}
