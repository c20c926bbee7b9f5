package mvcc

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// failAfter bounds a wait on a watcher: a hang becomes a failure, not a stuck test.
const failAfter = 20 * time.Second

// next receives one batch or fails.
func next(t *testing.T, w *Watcher) (WatchResponse, bool) {
	t.Helper()
	select {
	case b, ok := <-w.Chan():
		return b, ok
	case <-time.After(failAfter):
		t.Fatalf("no watch batch within %v", failAfter)
		return WatchResponse{}, false
	}
}

// collect reads batches until n events arrived and checks batch invariants: events in
// revision order, a revision never split across batches, Revision >= last event.
func collect(t *testing.T, w *Watcher, n int) []*mvccpb.Event {
	t.Helper()
	var evs []*mvccpb.Event
	lastRev := int64(0)
	for len(evs) < n {
		b, ok := next(t, w)
		if !ok {
			t.Fatalf("channel closed after %d of %d events (err %v)", len(evs), n, w.Err())
		}
		if len(b.Events) == 0 {
			continue
		}
		if b.Events[0].Kv.ModRevision <= lastRev {
			t.Fatalf("batch starts at revision %d, not after the previous batch's %d", b.Events[0].Kv.ModRevision, lastRev)
		}
		for i, ev := range b.Events {
			if i > 0 && ev.Kv.ModRevision < b.Events[i-1].Kv.ModRevision {
				t.Fatalf("events out of order: %d after %d", ev.Kv.ModRevision, b.Events[i-1].Kv.ModRevision)
			}
		}
		lastRev = b.Events[len(b.Events)-1].Kv.ModRevision
		if b.Revision < lastRev {
			t.Fatalf("batch Revision %d below its last event %d", b.Revision, lastRev)
		}
		evs = append(evs, b.Events...)
	}
	return evs
}

func evString(ev *mvccpb.Event) string {
	s := fmt.Sprintf("%s %s@%d", ev.Type, ev.Kv.Key, ev.Kv.ModRevision)
	if ev.Type == mvccpb.Event_PUT {
		s += "=" + string(ev.Kv.Value)
	}
	if ev.PrevKv != nil {
		s += " prev=" + string(ev.PrevKv.Value)
	}
	return s
}

func evsString(evs []*mvccpb.Event) string {
	parts := make([]string, len(evs))
	for i, ev := range evs {
		parts[i] = evString(ev)
	}
	return strings.Join(parts, "; ")
}

func TestWatchReplayThenLive(t *testing.T) {
	for _, committed := range []bool{false, true} {
		t.Run(fmt.Sprintf("history committed=%v", committed), func(t *testing.T) {
			h := newHarness(t)
			h.put("foo/a", "1") // 2
			h.put("bar", "x")   // 3
			h.put("foo/b", "2") // 4
			h.put("foo/a", "3") // 5
			h.del("foo/b", "")  // 6
			if committed {
				if err := h.s.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			w, err := h.s.Watch(WatchRequest{Key: []byte("foo/"), End: []byte("foo0"), StartRev: 3, PrevKV: true})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Cancel()
			h.put("foo/c", "4") // 7, live
			h.put("zzz", "5")   // 8, not watched
			h.del("foo/a", "")  // 9
			got := evsString(collect(t, w, 5))
			want := "PUT foo/b@4=2; PUT foo/a@5=3 prev=1; DELETE foo/b@6 prev=2; PUT foo/c@7=4; DELETE foo/a@9 prev=3"
			if got != want {
				t.Fatalf("events:\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestWatchSingleKeyAndFromKey(t *testing.T) {
	h := newHarness(t)
	single, err := h.s.Watch(WatchRequest{Key: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	defer single.Cancel()
	fromKey, err := h.s.Watch(WatchRequest{Key: []byte("k"), End: []byte{0}})
	if err != nil {
		t.Fatal(err)
	}
	defer fromKey.Cancel()
	for _, k := range []string{"j", "k", "k2", "z"} {
		h.put(k, "v")
	}
	if got := evsString(collect(t, single, 1)); got != "PUT k@3=v" {
		t.Fatalf("single key watch: %s", got)
	}
	if got := evsString(collect(t, fromKey, 3)); got != "PUT k@3=v; PUT k2@4=v; PUT z@5=v" {
		t.Fatalf("from-key watch: %s", got)
	}
}

func TestWatchFilters(t *testing.T) {
	h := newHarness(t)
	noPut, err := h.s.Watch(WatchRequest{Key: []byte("a"), End: []byte("b"), NoPut: true})
	if err != nil {
		t.Fatal(err)
	}
	defer noPut.Cancel()
	noDel, err := h.s.Watch(WatchRequest{Key: []byte("a"), End: []byte("b"), NoDelete: true})
	if err != nil {
		t.Fatal(err)
	}
	defer noDel.Cancel()
	h.put("a1", "x")
	h.del("a1", "")
	h.put("a2", "y")
	h.del("a2", "")
	if got := evsString(collect(t, noPut, 2)); got != "DELETE a1@3; DELETE a2@5" {
		t.Fatalf("NoPut: %s", got)
	}
	if got := evsString(collect(t, noDel, 2)); got != "PUT a1@2=x; PUT a2@4=y" {
		t.Fatalf("NoDelete: %s", got)
	}
}

func TestWatchTxnIsOneBatch(t *testing.T) {
	h := newHarness(t)
	// StartRev 3: the put at 2 could otherwise share a batch with the txn.
	w, err := h.s.Watch(WatchRequest{Key: []byte{0}, End: []byte{0}, StartRev: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Cancel()
	h.put("a", "0")
	if _, err := h.txn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("a", "1"), opPut("b", "2"), opDel("c", ""), opPut("d", "3")}}); err != nil {
		t.Fatal(err)
	}
	b, _ := next(t, w)
	if got := evsString(b.Events); got != "PUT a@3=1; PUT b@3=2; PUT d@3=3" || b.Revision != 3 {
		t.Fatalf("txn batch = %s (revision %d), want the three puts at 3 in one batch", got, b.Revision)
	}
}

func TestWatchSlowConsumerGetsEverything(t *testing.T) {
	cfg := testConfig()
	cfg.WatchChanSize = 1
	cfg.WatchCacheRevs = 8
	cfg.WatchBatchMaxRevs = 3
	h := newHarnessConfig(t, cfg)
	w, err := h.s.Watch(WatchRequest{Key: []byte("k"), End: []byte("l"), PrevKV: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Cancel()
	const n = 500
	for i := 0; i < n; i++ {
		h.put(fmt.Sprintf("k%d", i%7), fmt.Sprint(i))
		if i%100 == 0 {
			if err := h.s.Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	evs := collect(t, w, n)
	for i, ev := range evs {
		if ev.Kv.ModRevision != int64(i+2) || string(ev.Kv.Value) != fmt.Sprint(i) {
			t.Fatalf("event %d = %s, want revision %d value %d", i, evString(ev), i+2, i)
		}
		wantPrev := ""
		if i >= 7 {
			wantPrev = fmt.Sprint(i - 7)
		}
		if gotPrev := ""; ev.PrevKv != nil {
			gotPrev = string(ev.PrevKv.Value)
			if gotPrev != wantPrev {
				t.Fatalf("event %d prev = %q, want %q", i, gotPrev, wantPrev)
			}
		} else if wantPrev != "" {
			t.Fatalf("event %d has no prev_kv, want %q", i, wantPrev)
		}
	}
	// Nothing more: a progress request answers with the current revision.
	w.RequestProgress()
	b, _ := next(t, w)
	if len(b.Events) != 0 || b.Revision != n+1 || b.CompactRevision != 0 {
		t.Fatalf("progress = %+v, want empty batch at revision %d", b, n+1)
	}
}

func TestWatchCompacted(t *testing.T) {
	t.Run("start at or below compact revision", func(t *testing.T) {
		h := newHarness(t)
		for i := 0; i < 5; i++ {
			h.put("k", fmt.Sprint(i))
		}
		if err := h.compact(4); err != nil {
			t.Fatal(err)
		}
		for _, start := range []int64{2, 4} {
			_, err := h.s.Watch(WatchRequest{Key: []byte("k"), StartRev: start})
			var ce *CompactedError
			if !errors.As(err, &ce) || ce.CompactRevision != 4 || !errors.Is(err, ErrCompacted) {
				t.Fatalf("Watch from %d = %v, want CompactedError{4}", start, err)
			}
		}
		w, err := h.s.Watch(WatchRequest{Key: []byte("k"), StartRev: 5})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Cancel()
		if got := evsString(collect(t, w, 2)); got != "PUT k@5=3; PUT k@6=4" {
			t.Fatalf("watch from 5 = %s", got)
		}
	})
	t.Run("compaction overtakes a slow watcher", func(t *testing.T) {
		cfg := testConfig()
		cfg.WatchChanSize = 1
		cfg.WatchCacheRevs = 1
		cfg.WatchBatchMaxRevs = 1
		h := newHarnessConfig(t, cfg)
		for i := 0; i < 5; i++ {
			h.put("k", fmt.Sprint(i)) // 2..6
		}
		w, err := h.s.Watch(WatchRequest{Key: []byte("k"), StartRev: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Cancel()
		for i := 5; i < 50; i++ {
			h.put("k", fmt.Sprint(i)) // 7..51
		}
		if err := h.compact(40); err != nil {
			t.Fatal(err)
		}
		h.put("k", "last")
		var last WatchResponse
		for b := range w.Chan() {
			last = b
		}
		var ce *CompactedError
		if last.CompactRevision != 40 || !errors.As(w.Err(), &ce) || ce.CompactRevision != 40 {
			t.Fatalf("last batch %+v, Err %v; want compact revision 40", last, w.Err())
		}
	})
}

func TestWatchFutureStartAndProgress(t *testing.T) {
	h := newHarness(t)
	w, err := h.s.Watch(WatchRequest{Key: []byte("k"), StartRev: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Cancel()
	w.RequestProgress()
	if b, _ := next(t, w); len(b.Events) != 0 || b.Revision != 1 {
		t.Fatalf("progress on empty store = %+v, want revision 1", b)
	}
	h.put("k", "2") // 2: before StartRev
	h.put("k", "3") // 3
	h.put("k", "4") // 4
	if got := evsString(collect(t, w, 1)); got != "PUT k@4=4" {
		t.Fatalf("future start: %s", got)
	}
}

func TestWatchCancelAndClose(t *testing.T) {
	h := newHarness(t)
	w1, err := h.s.Watch(WatchRequest{Key: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	w2, err := h.s.Watch(WatchRequest{Key: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	h.put("k", "v") // w1 does not read it: Cancel must not need a drain
	w1.Cancel()
	w1.Cancel()
	for range w1.Chan() {
	}
	if w1.Err() != nil {
		t.Fatalf("Err after Cancel = %v", w1.Err())
	}
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	for range w2.Chan() {
	}
	if !errors.Is(w2.Err(), ErrClosed) {
		t.Fatalf("Err after Close = %v", w2.Err())
	}
	w2.Cancel()
	if _, err := h.s.Watch(WatchRequest{Key: []byte("k")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Watch on closed store = %v", err)
	}
	if _, err := h.s.Apply(100, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Apply on closed store = %v", err)
	}
	if _, err := h.s.Range(&pb.RangeRequest{Key: []byte("k")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Range on closed store = %v", err)
	}
}

func TestWatchMaxWatchers(t *testing.T) {
	cfg := testConfig()
	cfg.MaxWatchers = 1
	h := newHarnessConfig(t, cfg)
	w, err := h.s.Watch(WatchRequest{Key: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.Watch(WatchRequest{Key: []byte("k")}); !errors.Is(err, ErrTooManyWatchers) {
		t.Fatalf("second watcher: %v", err)
	}
	w.Cancel()
	w2, err := h.s.Watch(WatchRequest{Key: []byte("k")})
	if err != nil {
		t.Fatalf("watcher after cancel: %v", err)
	}
	w2.Cancel()
}

// TestWatchAcrossUnwatchedStretch: events applied while nobody watched are not in the
// ring; a later watcher from an old revision still gets every one, then live ones.
func TestWatchAcrossUnwatchedStretch(t *testing.T) {
	h := newHarness(t)
	a, err := h.s.Watch(WatchRequest{Key: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	h.put("k", "1") // 2, in the ring
	collect(t, a, 1)
	a.Cancel()
	h.put("k", "2") // 3, nobody watching: ring emptied
	h.put("k", "3") // 4
	b, err := h.s.Watch(WatchRequest{Key: []byte("k"), StartRev: 2, PrevKV: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Cancel()
	h.put("k", "4") // 5, in the ring again
	if got := evsString(collect(t, b, 4)); got != "PUT k@2=1; PUT k@3=2 prev=1; PUT k@4=3 prev=2; PUT k@5=4 prev=3" {
		t.Fatalf("events = %s", got)
	}
}

// TestIdleWatcherSurvivesCompaction: a synced watcher on a quiet key is not behind when
// other keys' writes overflow the ring and get compacted: it missed nothing, so it must
// not be canceled as compacted (etcd's synced watchers are not either).
func TestIdleWatcherSurvivesCompaction(t *testing.T) {
	cfg := testConfig()
	cfg.WatchCacheRevs = 4
	h := newHarnessConfig(t, cfg)
	w, err := h.s.Watch(WatchRequest{Key: []byte("quiet")})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Cancel()
	w.RequestProgress() // wait until the watcher is synced
	if b, _ := next(t, w); len(b.Events) != 0 || b.Revision != 1 {
		t.Fatalf("progress = %+v", b)
	}
	for i := 0; i < 50; i++ {
		h.put("busy", fmt.Sprint(i)) // 2..51
	}
	if err := h.compact(51); err != nil {
		t.Fatal(err)
	}
	h.put("quiet", "now") // 52
	b, ok := next(t, w)
	if !ok || b.CompactRevision != 0 || evsString(b.Events) != "PUT quiet@52=now" {
		t.Fatalf("batch = %+v (open %v, err %v), want the put at 52", b, ok, w.Err())
	}
}
