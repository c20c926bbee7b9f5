package raftkv

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// TestProposedWriteNeverTimesOutAsNoLeader: a write raft accepted may still
// commit after its member loses the leader, so when it does not apply in
// time the answer is a timeout or, once the leader it went to has stepped
// down, "leader changed" (both indeterminate), never "no leader", which
// clients rightly take to mean the write surely did not happen. Here the
// leader takes the write, then steps down (CheckQuorum: both followers are
// gone) before the request timeout.
func TestProposedWriteNeverTimesOutAsNoLeader(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) {
		cfg.ElectionTicks = 25 // 0.5 s: the step-down comes well before the timeout
		cfg.RequestTimeout = 5 * time.Second
	})
	lead := c.waitLeader()
	mustPut(t, c.servers[lead], "before", "v")
	for i := range c.servers {
		if i != lead {
			c.stop(i)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := put(ctx, c.servers[lead], "k", "v")
	if err == nil {
		t.Fatal("put without a quorum succeeded")
	}
	t.Logf("put without a quorum: %v", err)
	if errors.Is(err, rpctypes.ErrGRPCNoLeader) {
		t.Fatalf("put that raft had accepted failed with %v: a definite failure for a write that may commit", err)
	}
	if !errors.Is(err, rpctypes.ErrGRPCTimeoutDueToLeaderFail) && !errors.Is(err, rpctypes.ErrGRPCTimeout) && !errors.Is(err, rpctypes.ErrGRPCLeaderChanged) {
		t.Fatalf("put without a quorum: %v, want etcd's request timeout or leader changed (both indeterminate)", err)
	}
}
