package raftkv

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// TestLeaderDeathElectsWithoutTimeout: m0 has a short election timeout and
// leads; m1 and m2 have a 60 s one. When m0 stops (its peer port then
// refuses), the survivors elect a leader at once, in rank order, without
// waiting out their timeout, and serve what m0 had.
func TestLeaderDeathElectsWithoutTimeout(t *testing.T) {
	for _, preVote := range []bool{true, false} { // raftkv's and etcd's flag default
		t.Run(fmt.Sprintf("pre-vote=%v", preVote), func(t *testing.T) {
			c := newTestCluster(t, 3, func(cfg *Config) {
				cfg.PreVote = preVote
				if cfg.Name != "m0" {
					cfg.ElectionTicks = 3000 // 60 s at the test's 20 ms ticks
				}
			})
			if lead := c.waitLeader(); lead != 0 {
				t.Fatalf("leader is m%d, want m0 (the only member with a short election timeout)", lead)
			}
			mustPut(t, c.servers[0], "k", "v")
			term := c.servers[1].term.Load()
			c.stop(0)
			lead := c.waitLeader() // 10 s: a sixth of the survivors' election timeout
			s := c.servers[lead]
			mustGet(t, s, "k", "v")
			mustPut(t, s, "after", "v")
			// A round or two (the first candidate's log may be behind, or
			// its first request reach a voter still in the dead leader's
			// lease); a third without PreVote, whose rounds raise the term.
			limit := term + 2
			if !preVote {
				limit++
			}
			if got := s.term.Load(); got > limit {
				t.Errorf("new leader's term %d after term %d: more rounds than the ordered election needs", got, term)
			}
		})
	}
}

// TestPartitionedLeaderDoesNotTriggerFastElection: a partition drops
// packets and refuses nothing, so the survivors wait out their election
// timeout as raft says: with a 60 s timeout no new leader appears in 3 s.
func TestPartitionedLeaderDoesNotTriggerFastElection(t *testing.T) {
	tb := newNftTable(t)
	c, ips := newAddressedCluster(t, func(i int, cfg *Config) {
		if i != 0 {
			cfg.ElectionTicks = 3000
		}
	})
	if lead := c.waitLeader(); lead != 0 {
		t.Fatalf("leader is m%d, want m0", lead)
	}
	old := c.servers[0].ID()
	for i := 1; i < 3; i++ {
		tb.cut(ips[0], ips[i])
		tb.cut(ips[i], ips[0])
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range c.servers[1:] {
			if l := s.Leader(); l != 0 && l != old {
				t.Fatalf("%x elected %x during a partition that refuses nothing", s.ID(), l)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestProposalFailsWhenItsLeaderIsDeposed: a put proposed through a
// follower whose leader is cut off cannot commit; once the others elect a
// new leader, the put answers etcd's "leader changed" (indeterminate: the
// old leader may have replicated it) instead of waiting out the request
// timeout, so the client can retry at once.
func TestProposalFailsWhenItsLeaderIsDeposed(t *testing.T) {
	tb := newNftTable(t)
	c, ips := newAddressedCluster(t, func(i int, cfg *Config) {
		cfg.RequestTimeout = time.Minute
		// etcd's 1 s election timeout, not the tests' 200 ms: a loaded
		// machine must not make the follower campaign (and forget the
		// leader) before the put reaches it.
		cfg.TickInterval = 100 * time.Millisecond
	})
	lead := c.waitLeader()
	follower := (lead + 1) % 3
	mustPut(t, c.servers[follower], "before", "v")
	for i := range 3 {
		if i != lead {
			tb.cut(ips[lead], ips[i])
			tb.cut(ips[i], ips[lead])
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := put(ctx, c.servers[follower], "during", "v")
	if !errors.Is(err, rpctypes.ErrGRPCLeaderChanged) {
		t.Fatalf("put through a follower whose leader was deposed: %v, want %v", err, rpctypes.ErrGRPCLeaderChanged)
	}
}
