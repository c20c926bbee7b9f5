package raftkv

import (
	"context"
	"errors"
	"testing"
	"time"

	"coordlab/engines/raftkv/v3rpc"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

var _ v3rpc.LeaderTransferer = (*Server)(nil)

func TestMoveLeader(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	lead := c.waitLeader()
	target := (lead + 1) % 3
	other := (lead + 2) % 3
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	tests := []struct {
		name string
		on   int
		to   uint64
		want error
	}{
		{"follower refuses", target, c.servers[other].ID(), rpctypes.ErrGRPCNotLeader},
		{"unknown transferee", lead, 12345, rpctypes.ErrGRPCBadLeaderTransferee},
		{"to itself", lead, c.servers[lead].ID(), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.servers[tc.on].MoveLeader(ctx, tc.to); !errors.Is(err, tc.want) {
				t.Fatalf("MoveLeader: got %v, want %v", err, tc.want)
			}
		})
	}

	mustPut(t, c.servers[lead], "before", "1")
	if err := c.servers[lead].MoveLeader(ctx, c.servers[target].ID()); err != nil {
		t.Fatalf("MoveLeader to %x: %v", c.servers[target].ID(), err)
	}
	if got := c.waitLeader(); got != target {
		t.Fatalf("leader is member %d after the move, want %d", got, target)
	}
	mustPut(t, c.servers[target], "after", "2")
	for _, s := range c.servers {
		mustGet(t, s, "before", "1")
		mustGet(t, s, "after", "2")
	}
}
