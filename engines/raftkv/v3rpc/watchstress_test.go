package v3rpc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestWatchManyWatchersConcurrentWrites: many watchers on one stream (one
// clientv3 context) and on several streams, with concurrent writers; each
// watcher must see exactly the events of its prefix, once, in revision
// order, and canceled watchers must end cleanly. Run with -race.
func TestWatchManyWatchersConcurrentWrites(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxWatchResponseBytes = 2048 // many small responses
	ts := newTestServer(t, cfg)
	cli := ts.client(t)
	ctx := testCtx(t)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	const (
		prefixes = 8
		writers  = 4
		perW     = 40
	)
	type watched struct {
		prefix string
		wc     clientv3.WatchChan
		cancel context.CancelFunc
	}
	var ws []watched
	for i := range 24 {
		p := fmt.Sprintf("p%d/", i%prefixes)
		// Watchers 0..11 share one stream; the others get a stream each
		// pair (clientv3 groups watches by context).
		var wctx context.Context
		var cancel context.CancelFunc
		if i < 12 {
			wctx, cancel = context.WithCancel(clientv3.WithRequireLeader(ctx))
		} else {
			wctx, cancel = context.WithCancel(ctx)
		}
		ws = append(ws, watched{p, cli.Watch(wctx, p, clientv3.WithPrefix(), clientv3.WithRev(2), clientv3.WithPrevKV()), cancel})
	}

	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		keys := make([]string, perW)
		for i := range keys {
			keys[i] = fmt.Sprintf("p%d/w%d-%d", rng.IntN(prefixes), w, i)
		}
		go func() {
			defer wg.Done()
			for i, k := range keys {
				var err error
				if i%5 == 4 {
					_, err = cli.Delete(ctx, keys[i-1])
				} else {
					_, err = cli.Put(ctx, k, fmt.Sprint(i))
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	// Meanwhile, progress requests on the stream of watchers 0..11 (clientv3
	// keys streams by context metadata: theirs carry "hasleader").
	progressCtx := clientv3.WithRequireLeader(ctx)
	for range 20 {
		if err := cli.RequestProgress(progressCtx); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// The expected events per prefix, from the store's history.
	all, err := cli.Get(ctx, "p", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	last := all.Header.Revision
	want := make(map[string][]int64) // prefix -> revisions of its events
	hist := cli.Watch(ctx, "p", clientv3.WithPrefix(), clientv3.WithRev(2))
	for seen := int64(1); seen < last; {
		r := <-hist
		for _, ev := range r.Events {
			p := string(ev.Kv.Key[:3])
			want[p] = append(want[p], ev.Kv.ModRevision)
			seen = ev.Kv.ModRevision
		}
	}

	progressSeen := 0
	for i, w := range ws {
		var got []int64
		progressRev := int64(0) // a progress notification promises no later event at or below it
		for len(got) < len(want[w.prefix]) {
			r, ok := <-w.wc
			if !ok {
				t.Fatalf("watcher %d (%s): channel closed after %d of %d events", i, w.prefix, len(got), len(want[w.prefix]))
			}
			if err := r.Err(); err != nil {
				t.Fatalf("watcher %d: %v", i, err)
			}
			if r.IsProgressNotify() {
				progressRev = max(progressRev, r.Header.Revision)
				progressSeen++
				continue
			}
			for _, ev := range r.Events {
				if ev.Kv.ModRevision <= progressRev {
					t.Fatalf("watcher %d: event at revision %d after a progress notification at %d", i, ev.Kv.ModRevision, progressRev)
				}
				if string(ev.Kv.Key[:3]) != w.prefix {
					t.Fatalf("watcher %d (%s) got key %s", i, w.prefix, ev.Kv.Key)
				}
				got = append(got, ev.Kv.ModRevision)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want[w.prefix]) {
			t.Fatalf("watcher %d (%s): revisions %v, want %v", i, w.prefix, got, want[w.prefix])
		}
		w.cancel()
		for range w.wc { // drains until clientv3 closes it
		}
	}
	if progressSeen == 0 {
		t.Fatal("no progress notification reached the watchers of the stream that asked for them")
	}
	t.Logf("%d progress notifications checked", progressSeen)
}
