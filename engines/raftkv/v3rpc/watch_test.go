package v3rpc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// evString renders an event as "PUT k=v@rev" or "DELETE k@rev", with
// " prev=v" when it carries a previous value.
func evString(ev *clientv3.Event) string {
	var s string
	if ev.Type == mvccpb.DELETE {
		s = fmt.Sprintf("DELETE %s@%d", ev.Kv.Key, ev.Kv.ModRevision)
	} else {
		s = fmt.Sprintf("PUT %s=%s@%d", ev.Kv.Key, ev.Kv.Value, ev.Kv.ModRevision)
	}
	if ev.PrevKv != nil {
		s += " prev=" + string(ev.PrevKv.Value)
	}
	return s
}

// collect reads events from wc until it has n of them.
func collect(t *testing.T, ctx context.Context, wc clientv3.WatchChan, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		select {
		case resp, ok := <-wc:
			if !ok {
				t.Fatalf("watch channel closed after %v", got)
			}
			if err := resp.Err(); err != nil {
				t.Fatalf("watch error after %v: %v", got, err)
			}
			for _, ev := range resp.Events {
				got = append(got, evString(ev))
			}
		case <-ctx.Done():
			t.Fatalf("timed out with %d of %d events: %v", len(got), n, got)
		}
	}
	return got
}

func TestWatch(t *testing.T) {
	ts := newTestServer(t, DefaultConfig())
	cli := ts.client(t)
	ctx := testCtx(t)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cli.Put(ctx, "w/a", "1")) // 2
	must(cli.Put(ctx, "w/b", "2")) // 3
	must(cli.Put(ctx, "x", "3"))   // 4
	must(cli.Put(ctx, "w/a", "4")) // 5
	must(cli.Delete(ctx, "w/b"))   // 6
	must(cli.Put(ctx, "w/c", "5")) // 7

	tests := []struct {
		name string
		key  string
		opts []clientv3.OpOption
		want []string
	}{
		{"key from old rev", "w/a", []clientv3.OpOption{clientv3.WithRev(2)}, []string{"PUT w/a=1@2", "PUT w/a=4@5"}},
		{"prefix from rev 3", "w/", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithRev(3)},
			[]string{"PUT w/b=2@3", "PUT w/a=4@5", "DELETE w/b@6", "PUT w/c=5@7"}},
		{"prev kv", "w/", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithRev(5), clientv3.WithPrevKV()},
			[]string{"PUT w/a=4@5 prev=1", "DELETE w/b@6 prev=2", "PUT w/c=5@7"}},
		{"no put", "w/", []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithRev(2), clientv3.WithFilterPut()}, []string{"DELETE w/b@6"}},
		{"no delete", "w/b", []clientv3.OpOption{clientv3.WithRev(2), clientv3.WithFilterDelete()}, []string{"PUT w/b=2@3"}},
		{"range", "w/a", []clientv3.OpOption{clientv3.WithRange("w/c"), clientv3.WithRev(4)}, []string{"PUT w/a=4@5", "DELETE w/b@6"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wctx, cancel := context.WithCancel(ctx)
			defer cancel()
			got := collect(t, wctx, cli.Watch(wctx, tt.key, tt.opts...), len(tt.want))
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("watch %q: got %v, want %v", tt.key, got, tt.want)
			}
		})
	}

	// A live watch sees new writes after its created response; all events
	// of one txn come in one response.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wc := cli.Watch(wctx, "live/", clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	created := <-wc
	if !created.Created || created.Header.Revision != 7 {
		t.Fatalf("first response: created %v rev %d, want created at rev 7", created.Created, created.Header.Revision)
	}
	must(cli.Txn(ctx).Then(clientv3.OpPut("live/1", "a"), clientv3.OpPut("live/2", "b")).Commit()) // 8
	resp := <-wc
	if len(resp.Events) != 2 || resp.Header.Revision != 8 {
		t.Fatalf("txn events: %d events at rev %d, want 2 at 8", len(resp.Events), resp.Header.Revision)
	}
	checkHeader(t, "watch events", resp.Header, 8)
}

func TestWatchCancelAndCompacted(t *testing.T) {
	ts := newTestServer(t, DefaultConfig())
	cli := ts.client(t)
	ctx := testCtx(t)
	for i := range 5 {
		if _, err := cli.Put(ctx, "c", fmt.Sprint(i)); err != nil { // 2..6
			t.Fatal(err)
		}
	}
	if _, err := cli.Compact(ctx, 5); err != nil {
		t.Fatal(err)
	}
	wc := cli.Watch(ctx, "c", clientv3.WithRev(3))
	resp, ok := <-wc
	if !ok || resp.CompactRevision != 5 || !errors.Is(resp.Err(), rpctypes.ErrCompacted) {
		t.Fatalf("watch from compacted rev 3: compact_revision %d err %v, want 5 and %v", resp.CompactRevision, resp.Err(), rpctypes.ErrCompacted)
	}
	if _, ok := <-wc; ok {
		t.Fatalf("watch channel stays open after the compacted response")
	}

	// Cancel: the client closes its channel once the server confirmed.
	wctx, cancel := context.WithCancel(ctx)
	wc = cli.Watch(wctx, "c", clientv3.WithRev(6))
	got := collect(t, ctx, wc, 1)
	if strings.Join(got, "|") != "PUT c=4@6" {
		t.Fatalf("watch from 6: %v", got)
	}
	cancel()
	for range wc {
	}
}

func TestWatchProgress(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ProgressNotifyInterval = 50 * time.Millisecond
	ts := newTestServer(t, cfg)
	cli := ts.client(t)
	ctx := testCtx(t)
	if _, err := cli.Put(ctx, "p", "1"); err != nil { // 2
		t.Fatal(err)
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wc := cli.Watch(wctx, "p", clientv3.WithProgressNotify(), clientv3.WithCreatedNotify())
	if r := <-wc; !r.Created {
		t.Fatalf("first response not created: %+v", r)
	}
	// Periodic progress for an idle watcher that asked for it.
	r := <-wc
	if !r.IsProgressNotify() || r.Header.Revision != 2 {
		t.Fatalf("periodic response: progress %v rev %d, want a progress notification at rev 2", r.IsProgressNotify(), r.Header.Revision)
	}

	// A progress request on a stream of watchers that did not ask for
	// periodic progress is answered with the current revision.
	w2ctx, cancel2 := context.WithCancel(ctx)
	defer cancel2()
	wc2 := cli.Watch(w2ctx, "q", clientv3.WithCreatedNotify())
	if r := <-wc2; !r.Created {
		t.Fatalf("q: first response not created")
	}
	if _, err := cli.Put(ctx, "other", "x"); err != nil { // 3
		t.Fatal(err)
	}
	if err := cli.RequestProgress(w2ctx); err != nil {
		t.Fatal(err)
	}
	for {
		r := <-wc2
		if r.IsProgressNotify() {
			if r.Header.Revision != 3 {
				t.Fatalf("progress after put at 3: rev %d", r.Header.Revision)
			}
			break
		}
	}
}

func TestWatchFragment(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxWatchResponseBytes = 4096
	ts := newTestServer(t, cfg)
	cli := ts.client(t)
	ctx := testCtx(t)
	var ops []clientv3.Op
	for i := range 10 {
		ops = append(ops, clientv3.OpPut(fmt.Sprintf("f/%d", i), strings.Repeat("v", 1000)))
	}
	if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil { // rev 2: 10 events, ~10 KB
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, 2} { // revs 3..5: small single puts
		if _, err := cli.Put(ctx, fmt.Sprintf("f/small%d", i), "s"); err != nil {
			t.Fatal(err)
		}
	}
	// On the wire: without fragment, the 10 KB revision goes whole in one
	// response; with fragment, it is cut into pieces of at most 4 KB, all
	// but the last marked fragment. The small revisions follow, packed.
	for _, fragment := range []bool{false, true} {
		t.Run(fmt.Sprint("fragment=", fragment), func(t *testing.T) {
			wctx, cancel := context.WithCancel(ctx)
			defer cancel()
			stream, err := pb.NewWatchClient(cli.ActiveConnection()).Watch(wctx)
			if err != nil {
				t.Fatal(err)
			}
			create := &pb.WatchCreateRequest{Key: []byte("f/"), RangeEnd: []byte("f0"), StartRevision: 2, Fragment: fragment}
			if err := stream.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: create}}); err != nil {
				t.Fatal(err)
			}
			// Read the responses that carry revision 2.
			var pieces []*pb.WatchResponse
			events := 0
			for events < 10 {
				r, err := stream.Recv()
				if err != nil {
					t.Fatal(err)
				}
				if r.Created {
					continue
				}
				pieces = append(pieces, r)
				events += len(r.Events)
			}
			if events != 10 {
				t.Fatalf("revision 2 came with %d events, want 10", events)
			}
			if !fragment {
				if len(pieces) != 1 || pieces[0].Fragment {
					t.Fatalf("without fragment: %d responses (fragment=%v), want one whole response", len(pieces), pieces[0].Fragment)
				}
			} else {
				if len(pieces) < 3 {
					t.Fatalf("with fragment: %d responses for 10 KB at a 4 KB limit, want >= 3", len(pieces))
				}
				for i, p := range pieces {
					size := 0
					for _, ev := range p.Events {
						size += proto.Size(ev)
					}
					if last := i == len(pieces)-1; p.Fragment == last || size > 4096 {
						t.Fatalf("piece %d of %d: fragment=%v, %d bytes of events; want fragment on all but the last, <= 4096 bytes", i, len(pieces), p.Fragment, size)
					}
				}
			}
			// clientv3 joins the fragments again.
			opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithRev(2)}
			if fragment {
				opts = append(opts, clientv3.WithFragment())
			}
			r := <-cli.Watch(wctx, "f/", opts...)
			if err := r.Err(); err != nil || len(r.Events) != 10 {
				t.Fatalf("clientv3 watch: first response has %d events, err %v; want the 10 of rev 2", len(r.Events), err)
			}
		})
	}
}

// TestWatchStoreSwap: when the member swaps its store (snapshot install),
// watches continue on the new store with no event lost or repeated.
func TestWatchStoreSwap(t *testing.T) {
	ts := newTestServer(t, DefaultConfig())
	cli := ts.client(t)
	ctx := testCtx(t)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wc := cli.Watch(wctx, "s/", clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	if r := <-wc; !r.Created {
		t.Fatalf("first response not created: %+v", r)
	}
	if _, err := cli.Put(ctx, "s/1", "a"); err != nil { // 2
		t.Fatal(err)
	}
	got := collect(t, ctx, wc, 1)
	ts.b.swapStore(t)
	for _, k := range []string{"s/2", "s/3"} { // 3, 4
		if _, err := cli.Put(ctx, k, "b"); err != nil {
			t.Fatal(err)
		}
	}
	got = append(got, collect(t, ctx, wc, 2)...)
	if want := "PUT s/1=a@2|PUT s/2=b@3|PUT s/3=b@4"; strings.Join(got, "|") != want {
		t.Fatalf("events across the swap: %v, want %s", got, want)
	}
}
