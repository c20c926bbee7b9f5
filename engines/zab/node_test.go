package zab_test

import (
	"errors"
	"strings"
	"testing"

	"coordlab/engines/zab"
	"coordlab/engines/zab/zabtest"
)

// settle ticks and stabilizes c until every member follows one established leader.
func settle(t *testing.T, c *zabtest.Cluster) zab.ServerID {
	t.Helper()
	for range 100 {
		c.Stabilize(0)
		if l, ok := c.Leader(); ok {
			all := true
			for _, id := range c.IDs() {
				s := c.Member(id).Node.Status()
				all = all && s.Phase == zab.PhaseBroadcast && s.Leader == l
			}
			if all {
				return l
			}
		}
		c.Tick()
	}
	t.Fatalf("no leader after 100 ticks")
	return 0
}

func TestAPIErrors(t *testing.T) {
	c, err := zabtest.New(zabtest.Options{N: 3, Seed: 1, Config: func(cfg *zab.Config) {
		cfg.MaxOutstandingProposals = 2
		cfg.MaxPendingSyncs = 1
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Before an election nobody leads.
	if _, err := c.Member(1).Node.Propose([]byte("x")); !errors.Is(err, zab.ErrNotLeader) {
		t.Fatalf("Propose while LOOKING: got %v, want ErrNotLeader", err)
	}
	if err := c.Member(1).Node.Forward([]byte("x")); !errors.Is(err, zab.ErrNoLeader) {
		t.Fatalf("Forward while LOOKING: got %v, want ErrNoLeader", err)
	}
	if err := c.Member(1).Node.Sync(1); !errors.Is(err, zab.ErrNoLeader) {
		t.Fatalf("Sync while LOOKING: got %v, want ErrNoLeader", err)
	}
	l := settle(t, c)
	f := zab.ServerID(1)
	if f == l {
		f = 2
	}
	if _, err := c.Member(f).Node.Propose([]byte("x")); !errors.Is(err, zab.ErrNotLeader) {
		t.Fatalf("Propose on a follower: got %v, want ErrNotLeader", err)
	}
	// The outstanding-proposal window: full after 2 uncommitted proposals.
	ln := c.Member(l).Node
	z1, err1 := ln.Propose([]byte("a"))
	z2, err2 := ln.Propose([]byte("b"))
	_, err3 := ln.Propose([]byte("c"))
	if err1 != nil || err2 != nil || !errors.Is(err3, zab.ErrProposalsFull) {
		t.Fatalf("three proposals with a window of 2: got %v, %v, %v; want nil, nil, ErrProposalsFull", err1, err2, err3)
	}
	if z2 != z1+1 || z1.Epoch() != ln.Status().Epoch {
		t.Fatalf("zxids %s, %s: want consecutive in epoch %d", z1, z2, ln.Status().Epoch)
	}
	c.Stabilize(0)
	if _, err := ln.Propose([]byte("c")); err != nil {
		t.Fatalf("Propose after commits freed the window: %v", err)
	}
	// Sync limit on a follower.
	fn := c.Member(f).Node
	if err := fn.Sync(1); err != nil {
		t.Fatal(err)
	}
	if err := fn.Sync(2); !errors.Is(err, zab.ErrSyncsFull) {
		t.Fatalf("second sync with MaxPendingSyncs=1: got %v, want ErrSyncsFull", err)
	}
	c.Stabilize(0)
	syncs := c.Member(f).Syncs
	if len(syncs) != 1 || syncs[0].ID != 1 || syncs[0].Err != nil {
		t.Fatalf("follower syncs: got %+v, want [{ID:1}]", syncs)
	}
	// The sync saw every write proposed before it: a, b, c.
	if a := c.Member(f).Applied; len(a) != 3 {
		t.Fatalf("after sync the follower applied %d entries, want 3", len(a))
	}
	// Messages not for this node.
	err = ln.Step(zab.Message{Type: zab.MsgPing, From: f, To: 99})
	if !errors.Is(err, zab.ErrStepped) {
		t.Fatalf("Step to another node: got %v, want ErrStepped", err)
	}
	err = ln.Step(zab.Message{Type: zab.MsgPing, From: 42, To: l})
	if !errors.Is(err, zab.ErrStepped) {
		t.Fatalf("Step from a stranger: got %v, want ErrStepped", err)
	}
}

func TestPendingSyncFailsWhenLeaderLost(t *testing.T) {
	c, err := zabtest.New(zabtest.Options{N: 3, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	l := settle(t, c)
	f := zab.ServerID(1)
	if f == l {
		f = 2
	}
	if err := c.Member(f).Node.Sync(9); err != nil {
		t.Fatal(err)
	}
	c.Crash(l)
	for range 20 {
		c.Tick()
		c.Stabilize(0)
	}
	syncs := c.Member(f).Syncs
	if len(syncs) != 1 || syncs[0].ID != 9 || !errors.Is(syncs[0].Err, zab.ErrLeaderLost) {
		t.Fatalf("syncs after the leader crashed: got %+v, want [{ID:9 Err:ErrLeaderLost}]", syncs)
	}
}

func TestReadyTwicePanics(t *testing.T) {
	s := zab.NewMemoryStorage()
	n, err := zab.NewNode(zab.Config{ID: 1, Peers: []zab.ServerID{1, 2, 3}, Storage: s})
	if err != nil {
		t.Fatal(err)
	}
	_ = n.Ready()
	defer func() {
		p := recover()
		if p == nil || !strings.Contains(p.(string), "Ready called again before Advance") {
			t.Fatalf("second Ready: got panic %v, want the Ready/Advance invariant", p)
		}
	}()
	_ = n.Ready()
}

func TestNewNodeRejectsInconsistentEpochs(t *testing.T) {
	s := zab.NewMemoryStorage()
	if err := s.Persist(zab.Ready{HardState: &zab.HardState{AcceptedEpoch: 1, CurrentEpoch: 2}}); err != nil {
		t.Fatal(err)
	}
	_, err := zab.NewNode(zab.Config{ID: 1, Peers: []zab.ServerID{1}, Storage: s})
	if err == nil || !strings.Contains(err.Error(), "acceptedEpoch 1 < currentEpoch 2") {
		t.Fatalf("NewNode with accepted < current: got %v, want an error naming both", err)
	}
}

// TestRestartRedeliversCommitted: a member restarted from an old snapshot gets
// the committed entries above it again through Ready.Committed, never by
// replaying its own log.
func TestRestartRedeliversCommitted(t *testing.T) {
	c, err := zabtest.New(zabtest.Options{N: 3, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	l := settle(t, c)
	for _, w := range []string{"a", "b", "c"} {
		if _, err := c.Member(l).Node.Propose([]byte(w)); err != nil {
			t.Fatal(err)
		}
	}
	c.Stabilize(0)
	for _, id := range c.IDs() {
		c.Crash(id)
	}
	for _, id := range c.IDs() {
		if err := c.Restart(id); err != nil {
			t.Fatal(err)
		}
		if got := len(c.Member(id).Applied); got != 0 {
			t.Fatalf("member %d restarted with %d applied entries, want 0 (no snapshot)", id, got)
		}
	}
	settle(t, c)
	c.Stabilize(0)
	for _, id := range c.IDs() {
		if got := len(c.Member(id).Applied); got != 3 {
			t.Fatalf("member %d applied %d entries after restart, want 3", id, got)
		}
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
}
