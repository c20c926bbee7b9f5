package v3rpc

import (
	"context"
	"errors"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestLease(t *testing.T) {
	ts := newTestServer(t, DefaultConfig())
	cli := ts.client(t)
	ctx := testCtx(t)

	g, err := cli.Grant(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	if g.ID == 0 || g.TTL != 30 {
		t.Fatalf("grant: id %x ttl %d, want an id and ttl 30", g.ID, g.TTL)
	}
	if _, err := cli.Grant(ctx, MaxLeaseTTL+1); !errors.Is(err, rpctypes.ErrLeaseTTLTooLarge) {
		t.Fatalf("grant too large: err = %v, want %v", err, rpctypes.ErrLeaseTTLTooLarge)
	}
	for _, k := range []string{"l/1", "l/2"} {
		if _, err := cli.Put(ctx, k, "v", clientv3.WithLease(g.ID)); err != nil {
			t.Fatal(err)
		}
	}

	ka, err := cli.KeepAliveOnce(ctx, g.ID)
	if err != nil || ka.TTL != 30 || ka.ID != g.ID {
		t.Fatalf("keepalive once: %+v %v, want ttl 30", ka, err)
	}
	if _, err := cli.KeepAliveOnce(ctx, 777); !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		t.Fatalf("keepalive of unknown lease: err = %v, want %v (TTL 0 on the stream)", err, rpctypes.ErrLeaseNotFound)
	}

	ttl, err := cli.TimeToLive(ctx, g.ID, clientv3.WithAttachedKeys())
	if err != nil {
		t.Fatal(err)
	}
	if ttl.GrantedTTL != 30 || ttl.TTL <= 0 || ttl.TTL > 30 || len(ttl.Keys) != 2 || string(ttl.Keys[0]) != "l/1" {
		t.Fatalf("time to live: %+v, want granted 30, 0 < ttl <= 30, keys l/1 l/2", ttl)
	}
	gone, err := cli.TimeToLive(ctx, 777)
	if err != nil || gone.TTL != -1 {
		t.Fatalf("time to live of unknown lease: %+v %v, want TTL -1 as etcd", gone, err)
	}

	g2, err := cli.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := cli.Leases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls.Leases) != 2 {
		t.Fatalf("leases: %v, want %x and %x", ls.Leases, g.ID, g2.ID)
	}

	wc := cli.Watch(ctx, "l/", clientv3.WithPrefix())
	if _, err := cli.Revoke(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	got := collect(t, ctx, wc, 2)
	// Grants do not bump the revision: puts at 2 and 3, the revoke at 4.
	if got[0] != "DELETE l/1@4" || got[1] != "DELETE l/2@4" {
		t.Fatalf("revoke events: %v, want both keys deleted at rev 4", got)
	}
	if resp, err := cli.Get(ctx, "l/", clientv3.WithPrefix()); err != nil || len(resp.Kvs) != 0 {
		t.Fatalf("keys after revoke: %v %v", resp.Kvs, err)
	}
	if _, err := cli.Revoke(ctx, g.ID); !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		t.Fatalf("revoke twice: err = %v, want %v", err, rpctypes.ErrLeaseNotFound)
	}
}

// TestLeaseKeepAliveAndExpiry: a kept-alive lease outlives its TTL while an
// idle one expires and takes its key with it.
func TestLeaseKeepAliveAndExpiry(t *testing.T) {
	ts := newTestServer(t, DefaultConfig())
	cli := ts.client(t)
	ctx := testCtx(t)
	kept, err := cli.Grant(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	idle, err := cli.Grant(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "kept", "v", clientv3.WithLease(kept.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "idle", "v", clientv3.WithLease(idle.ID)); err != nil {
		t.Fatal(err)
	}
	kctx, cancel := context.WithCancel(ctx)
	defer cancel()
	kac, err := cli.KeepAlive(kctx, kept.ID)
	if err != nil {
		t.Fatal(err)
	}
	wc := cli.Watch(ctx, "idle", clientv3.WithRev(1))
	// Wait for the idle lease's key to vanish (its lease expired), while
	// keep-alive responses for the other keep coming.
	var deleted bool
	renewals := 0
	for !deleted {
		select {
		case r := <-wc:
			for _, ev := range r.Events {
				if ev.Type == mvccpb.DELETE {
					deleted = true
				}
			}
		case r, ok := <-kac:
			if !ok {
				t.Fatal("keep-alive channel closed while the lease should live")
			}
			if r.TTL != 1 {
				t.Fatalf("keep-alive ttl %d, want 1", r.TTL)
			}
			renewals++
		case <-ctx.Done():
			t.Fatal("idle lease never expired")
		}
	}
	resp, err := cli.Get(ctx, "kept")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("kept key after the idle lease expired: %v %v (renewals %d)", resp.Kvs, err, renewals)
	}
	if renewals == 0 {
		t.Fatal("no keep-alive response arrived before the idle lease expired")
	}
}
