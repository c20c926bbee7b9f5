package raftkv

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// TestStrictReconfigCheck: with --strict-reconfig-check (etcd's default) a
// member add while a member is down, or the removal of a live member that
// would leave the reachable members without a quorum, answers etcd's
// "etcdserver: unhealthy cluster"; removing the member that is down is
// allowed. Without the check the add goes through.
func TestStrictReconfigCheck(t *testing.T) {
	for _, strict := range []bool{true, false} {
		c := newTestCluster(t, 3, func(c *Config) { c.StrictReconfigCheck = strict })
		lead := c.waitLeader()
		mustPut(t, c.servers[lead], "k", "v") // every member has published by now or soon
		down := (lead + 1) % 3
		alive := (lead + 2) % 3
		downID := c.servers[down].ID()
		c.stop(down)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s := c.servers[lead]
		_, _, err := s.AddMember(ctx, []string{"http://127.0.0.1:1"}, false)
		if strict && !errors.Is(err, rpctypes.ErrGRPCUnhealthy) {
			t.Fatalf("strict: add with a member down: %v, want %v", err, rpctypes.ErrGRPCUnhealthy)
		}
		if !strict {
			cancel()
			if err != nil {
				t.Fatalf("not strict: add with a member down: %v", err)
			}
			continue
		}
		if _, err := s.RemoveMember(ctx, c.servers[alive].ID()); !errors.Is(err, rpctypes.ErrGRPCUnhealthy) {
			t.Fatalf("strict: remove a live member with another down: %v, want %v", err, rpctypes.ErrGRPCUnhealthy)
		}
		if _, err := s.RemoveMember(ctx, downID); err != nil {
			t.Fatalf("strict: remove the member that is down: %v", err)
		}
		cancel()
	}
}

// TestPreVote: with --pre-vote the first election goes through raft's
// pre-candidate phase; without it (etcd 3.4's default) it does not.
func TestPreVote(t *testing.T) {
	for _, pv := range []bool{true, false} {
		var buf syncBuffer
		c := newTestCluster(t, 3, func(c *Config) {
			c.PreVote = pv
			c.Logger = slog.New(slog.NewTextHandler(&buf, nil))
		})
		c.waitLeader()
		c.stopAll()
		pre := strings.Contains(buf.String(), "became pre-candidate at term")
		if pre != pv {
			t.Errorf("PreVote %v: pre-candidate phase seen: %v", pv, pre)
		}
		if !strings.Contains(buf.String(), "became candidate at term") {
			t.Errorf("PreVote %v: no election logged", pv)
		}
	}
}

// TestInitialElectionTickAdvance: a three-member cluster whose members
// reach each other fast-forwards its election timers, as etcd, and elects
// well before one election timeout; with the flag off it does not.
func TestInitialElectionTickAdvance(t *testing.T) {
	for _, adv := range []bool{true, false} {
		var buf syncBuffer
		c := newTestCluster(t, 3, func(c *Config) {
			c.InitialElectionTickAdvance = adv
			c.Logger = slog.New(slog.NewTextHandler(&buf, nil))
		})
		c.waitLeader()
		c.stopAll()
		got := strings.Count(buf.String(), "initialized peer connections; fast-forwarding election ticks")
		if adv && got == 0 {
			t.Errorf("advance on: no member fast-forwarded its election ticks")
		}
		if !adv && got != 0 {
			t.Errorf("advance off: %d members fast-forwarded", got)
		}
	}
}
