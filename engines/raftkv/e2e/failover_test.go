package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// TestWatchAcrossLeaderKill: a clientv3 watch (from revision 1, over every
// endpoint) keeps delivering every event once and in order while the leader
// is SIGKILLed under writes; every acknowledged put is among the events,
// and the events are exactly the history a fresh watch replays afterwards.
func TestWatchAcrossLeaderKill(t *testing.T) {
	needTools(t)
	t.Parallel()
	c := startCluster(t, "raftkv", raftkvBin, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	writer := c.client(t)
	watcher := c.client(t)
	wc := watcher.Watch(ctx, "f/", clientv3.WithPrefix(), clientv3.WithRev(1))

	const total, killAt = 200, 60
	acked := make(map[int64]string) // revision -> key
	for i := range total {
		if i == killAt {
			leader := c.leader(t, writer)
			t.Logf("killing leader %s after %d puts", leader.name, i)
			leader.stop()
		}
		key := fmt.Sprintf("f/%03d", i)
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		r, err := writer.Put(pctx, key, "v")
		pcancel()
		if err != nil {
			continue // indeterminate: may or may not have happened
		}
		acked[r.Header.Revision] = key
	}
	final, err := writer.Get(ctx, "f/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(acked) < total-20 {
		t.Fatalf("only %d of %d puts acknowledged", len(acked), total)
	}

	// The events the long-lived watch delivered, up to the final revision.
	var got []string
	last := int64(0)
	for last < final.Header.Revision {
		select {
		case r, ok := <-wc:
			if !ok {
				t.Fatalf("watch channel closed at revision %d", last)
			}
			if err := r.Err(); err != nil {
				t.Fatalf("watch error at revision %d: %v", last, err)
			}
			for _, ev := range r.Events {
				if ev.Kv.ModRevision <= last {
					t.Fatalf("event at revision %d after revision %d: repeated or out of order", ev.Kv.ModRevision, last)
				}
				last = ev.Kv.ModRevision
				got = append(got, fmt.Sprintf("%s@%d", ev.Kv.Key, last))
			}
		case <-ctx.Done():
			t.Fatalf("watch stopped at revision %d of %d", last, final.Header.Revision)
		}
	}
	seen := make(map[string]bool)
	for _, g := range got {
		seen[g] = true
	}
	for rev, key := range acked {
		if !seen[fmt.Sprintf("%s@%d", key, rev)] {
			t.Fatalf("acknowledged put %s at revision %d missing from the watch", key, rev)
		}
	}
	// The same history, replayed by a new watch on a surviving member.
	var replay []string
	rc := writer.Watch(ctx, "f/", clientv3.WithPrefix(), clientv3.WithRev(1))
	for len(replay) < len(got) {
		r := <-rc
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		for _, ev := range r.Events {
			replay = append(replay, fmt.Sprintf("%s@%d", ev.Kv.Key, ev.Kv.ModRevision))
		}
	}
	if strings.Join(replay, " ") != strings.Join(got, " ") {
		t.Fatalf("live watch and replay differ:\nlive   %v\nreplay %v", got, replay)
	}
}

// leader returns the member that reports itself leader.
func (c *cluster) leader(t *testing.T, cli *clientv3.Client) *member {
	t.Helper()
	for _, m := range c.members {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := cli.Status(ctx, strings.TrimPrefix(m.clientURL, "http://"))
		cancel()
		if err == nil && st.Leader == st.Header.MemberId {
			return m
		}
	}
	t.Fatal("no member reports itself leader")
	return nil
}

// TestSessionSurvivesLeaderKill: a clientv3/concurrency session (lease with
// keep-alive) holding a Mutex outlives a SIGKILL of the leader, for more
// than twice its TTL: the new leader takes the lease over without expiring
// it, as etcd's lessor.Promote does, and the lock key stays.
func TestSessionSurvivesLeaderKill(t *testing.T) {
	needTools(t)
	t.Parallel()
	c := startCluster(t, "raftkv", raftkvBin, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cli := c.client(t)
	const ttl = 3
	s, err := concurrency.NewSession(cli, concurrency.WithTTL(ttl))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := concurrency.NewMutex(s, "/failover-lock")
	if err := m.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	deletes := cli.Watch(ctx, m.Key(), clientv3.WithFilterPut())

	leader := c.leader(t, cli)
	leader.stop()
	t.Logf("killed leader %s", leader.name)

	// Nothing may happen for 2*TTL: this waits for time to pass on purpose,
	// because the property is that the lease does not expire meanwhile.
	quiet := time.NewTimer(2 * ttl * time.Second)
	defer quiet.Stop()
	select {
	case <-s.Done():
		t.Fatal("session ended after the leader was killed")
	case r := <-deletes:
		t.Fatalf("lock key deleted after the leader was killed: %+v (err %v)", r.Events, r.Err())
	case <-quiet.C:
	}
	r, err := cli.Get(ctx, m.Key())
	if err != nil || len(r.Kvs) != 1 || r.Kvs[0].Lease != int64(s.Lease()) {
		t.Fatalf("lock key after failover: %v %v, want it attached to lease %x", r, err, s.Lease())
	}
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}
