package e2e

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
)

// memberClient is a clientv3 client of one member only.
func memberClient(t *testing.T, m *member) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{m.clientURL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("clientv3.New: %v", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// TestClientv3Cluster: writes through one member are seen by linearizable
// reads and watches on the others, and leases expire on every member.
func TestClientv3Cluster(t *testing.T) {
	needTools(t)
	t.Parallel()
	c := startCluster(t, "raftkv", raftkvBin, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c1, c2, c3 := memberClient(t, c.members[0]), memberClient(t, c.members[1]), memberClient(t, c.members[2])

	var last *clientv3.PutResponse
	for i := range 10 {
		r, err := c1.Put(ctx, fmt.Sprintf("k/%d", i), fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		last = r
	}
	// Linearizable reads on the other members see the last write.
	for _, cli := range []*clientv3.Client{c2, c3} {
		r, err := cli.Get(ctx, "k/", clientv3.WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		if r.Count != 10 || r.Header.Revision < last.Header.Revision {
			t.Fatalf("get on another member: %d keys at rev %d, want 10 at >= %d", r.Count, r.Header.Revision, last.Header.Revision)
		}
		if r.Header.ClusterId != last.Header.ClusterId || r.Header.MemberId == last.Header.MemberId || r.Header.RaftTerm == 0 {
			t.Fatalf("headers: put %v, get %v; want one cluster id, distinct member ids, a term", last.Header, r.Header)
		}
	}
	// A watch on member 3 from an old revision replays everything.
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	wc := c3.Watch(wctx, "k/", clientv3.WithPrefix(), clientv3.WithRev(1))
	seen := 0
	for seen < 10 {
		r := <-wc
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		for _, ev := range r.Events {
			if want := fmt.Sprintf("k/%d", seen); string(ev.Kv.Key) != want {
				t.Fatalf("replayed event %d: key %s, want %s", seen, ev.Kv.Key, want)
			}
			seen++
		}
	}

	// A lease granted on member 1, left to expire: its key vanishes, as a
	// delete event on member 2's watch.
	lease, err := c1.Grant(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Put(ctx, "ephemeral", "v", clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	ew := c2.Watch(wctx, "ephemeral", clientv3.WithRev(1))
	for deleted := false; !deleted; {
		select {
		case r := <-ew:
			for _, ev := range r.Events {
				deleted = deleted || ev.Type == mvccpb.DELETE
			}
		case <-ctx.Done():
			t.Fatal("leased key never deleted")
		}
	}
	if r, err := c3.Get(ctx, "ephemeral"); err != nil || len(r.Kvs) != 0 {
		t.Fatalf("ephemeral after expiry on member 3: %v %v", r, err)
	}
}

// TestConcurrencyCluster runs clientv3/concurrency Mutex and Election with
// sessions on different members of the cluster.
func TestConcurrencyCluster(t *testing.T) {
	needTools(t)
	t.Parallel()
	c := startCluster(t, "raftkv", raftkvBin, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	clis := []*clientv3.Client{memberClient(t, c.members[0]), memberClient(t, c.members[1]), memberClient(t, c.members[2])}
	var sessions []*concurrency.Session
	for _, cli := range clis {
		s, err := concurrency.NewSession(cli, concurrency.WithTTL(5))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		sessions = append(sessions, s)
	}

	// Mutex: three workers increment a counter under the lock; a lost
	// update would show as a final value below the number of increments.
	const rounds = 5
	var wg sync.WaitGroup
	errc := make(chan error, len(sessions))
	for _, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := concurrency.NewMutex(s, "/e2e-lock")
			kv := s.Client()
			for range rounds {
				if err := m.Lock(ctx); err != nil {
					errc <- err
					return
				}
				r, err := kv.Get(ctx, "counter")
				if err != nil {
					errc <- err
					return
				}
				n := 0
				if len(r.Kvs) == 1 {
					fmt.Sscan(string(r.Kvs[0].Value), &n)
				}
				if _, err := kv.Put(ctx, "counter", fmt.Sprint(n+1)); err != nil {
					errc <- err
					return
				}
				if err := m.Unlock(ctx); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	r, err := clis[0].Get(ctx, "counter")
	if err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != fmt.Sprint(rounds*len(sessions)) {
		t.Fatalf("counter after %d locked increments: %v %v", rounds*len(sessions), r, err)
	}

	// Election: member 1's session leads; member 3 waits; when the leader
	// resigns, member 3's campaign wins and observers on member 2 see it.
	e1 := concurrency.NewElection(sessions[0], "/e2e-elect")
	e3 := concurrency.NewElection(sessions[2], "/e2e-elect")
	if err := e1.Campaign(ctx, "first"); err != nil {
		t.Fatal(err)
	}
	obs := concurrency.NewElection(sessions[1], "/e2e-elect").Observe(ctx)
	if r := <-obs; string(r.Kvs[0].Value) != "first" {
		t.Fatalf("observed %q, want first", r.Kvs[0].Value)
	}
	won := make(chan error, 1)
	go func() { won <- e3.Campaign(ctx, "third") }()
	if l, err := e1.Leader(ctx); err != nil || string(l.Kvs[0].Value) != "first" {
		t.Fatalf("leader while the second campaign waits: %v %v, want first", l, err)
	}
	select {
	case err := <-won:
		t.Fatalf("second campaign returned %v while the first leads", err)
	default:
	}
	if err := e1.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-won; err != nil {
		t.Fatal(err)
	}
	for {
		r, ok := <-obs
		if !ok {
			t.Fatal("observe channel closed")
		}
		if string(r.Kvs[0].Value) == "third" {
			break
		}
	}
	if _, err := e1.Leader(ctx); err != nil && !errors.Is(err, concurrency.ErrElectionNoLeader) {
		t.Fatal(err)
	}
}
