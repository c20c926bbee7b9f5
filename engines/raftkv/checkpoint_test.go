package raftkv

import (
	"context"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// TestLeaseCheckpoint: with --experimental-enable-lease-checkpoint a new
// leader gives a lease the remaining TTL the old leader checkpointed, not a
// fresh TTL; without it the lease starts over, as etcd.
func TestLeaseCheckpoint(t *testing.T) {
	old := leaseCheckpointInterval
	leaseCheckpointInterval = 100 * time.Millisecond
	t.Cleanup(func() { leaseCheckpointInterval = old })
	for _, cp := range []bool{true, false} {
		c := newTestCluster(t, 3, func(c *Config) { c.LeaseCheckpoint = cp })
		lead := c.waitLeader()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		resp, err := c.servers[lead].Propose(ctx, &pb.InternalRaftRequest{LeaseGrant: &pb.LeaseGrantRequest{ID: 42, TTL: 10}})
		if err != nil {
			t.Fatal(err)
		}
		id := resp.(*pb.LeaseGrantResponse).ID
		time.Sleep(4 * time.Second) // under 6s left, checkpointed (rounded up) every 100ms
		c.stop(lead)
		nl := c.waitLeader()
		var ttl int64
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			r, err := c.servers[nl].LeaseTimeToLive(ctx, id, false)
			if err == nil {
				ttl = r.TTL
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
		// New leader: the checkpointed remaining TTL (at most 6s, rounded
		// up) or a full 10s, plus one election timeout (200ms) either way.
		if cp && ttl > 8 {
			t.Errorf("checkpointing on: TTL %ds after failover, want the checkpointed remainder (<= 8s)", ttl)
		}
		if !cp && ttl < 10 {
			t.Errorf("checkpointing off: TTL %ds after failover, want a fresh 10s", ttl)
		}
		c.stopAll()
	}
}
