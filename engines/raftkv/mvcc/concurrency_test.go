package mvcc

import (
	"fmt"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// TestReadersBesideTheWriter runs readers of every kind while one goroutine applies and
// commits; under -race it checks the locking, and each reader checks what it sees: the
// revision never goes back, a historical read never changes, and a watcher sees every
// revision once.
func TestReadersBesideTheWriter(t *testing.T) {
	h := newHarness(t)
	const writes = 600
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}

	w, err := h.s.Watch(WatchRequest{Key: []byte("k"), End: []byte("l"), StartRev: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Cancel()

	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := int64(0)
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				resp, err := h.s.Range(&pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l"), CountOnly: true})
				if err != nil {
					report(err)
					return
				}
				if resp.Header.Revision < last {
					report(fmt.Errorf("revision went back from %d to %d", last, resp.Header.Revision))
					return
				}
				last = resp.Header.Revision
				if last > 10 {
					// k0 was written at revision 2 and rewritten every 10 puts after; its
					// value at revision 2 never changes.
					old, err := h.s.Range(&pb.RangeRequest{Key: []byte("k0"), Revision: 2})
					if err != nil || len(old.Kvs) != 1 || string(old.Kvs[0].Value) != "0" {
						report(fmt.Errorf("k0 at revision 2 = %v, %v", old, err))
						return
					}
				}
				switch i % 3 {
				case 0:
					if _, _, err := h.s.HashKV(0); err != nil {
						report(err)
						return
					}
				case 1:
					_ = h.s.Leases()
				default:
					_ = h.s.Size()
				}
			}
		}()
	}

	for i := 0; i < writes; i++ {
		h.put(fmt.Sprintf("k%d", i%10), fmt.Sprint(i))
		if i%7 == 0 {
			if err := h.s.Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	evs := collect(t, w, writes)
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, ev := range evs {
		if ev.Kv.ModRevision != int64(i+2) {
			t.Fatalf("event %d at revision %d, want %d", i, ev.Kv.ModRevision, i+2)
		}
	}
}

// TestCurrentReadsDoNotWaitForCommit holds the lock Commit takes (as if bbolt were
// fsyncing) and checks that a read of current values and a live watcher still proceed,
// and that a read of history is answered once the commit ends.
func TestCurrentReadsDoNotWaitForCommit(t *testing.T) {
	h := newHarness(t)
	h.put("k", "1")
	h.put("k", "2")
	w, err := h.s.Watch(WatchRequest{Key: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Cancel()
	h.put("k", "3")

	h.s.txMu.Lock() // a Commit in progress
	cur := make(chan string)
	go func() {
		r, err := h.s.Range(&pb.RangeRequest{Key: []byte("k")})
		if err != nil {
			cur <- err.Error()
			return
		}
		cur <- string(r.Kvs[0].Value)
	}()
	select {
	case v := <-cur:
		if v != "3" {
			t.Fatalf("current read during commit = %q, want 3", v)
		}
	case <-time.After(failAfter):
		t.Fatalf("a current read waited for Commit")
	}
	if got := evsString(collect(t, w, 1)); got != "PUT k@4=3" {
		t.Fatalf("live watch during commit: %s", got)
	}
	hist := make(chan string, 1)
	go func() {
		r, err := h.s.Range(&pb.RangeRequest{Key: []byte("k"), Revision: 2})
		if err != nil {
			hist <- err.Error()
			return
		}
		hist <- string(r.Kvs[0].Value)
	}()
	h.s.txMu.Unlock()
	if v := <-hist; v != "1" {
		t.Fatalf("history read after commit = %q, want 1", v)
	}
}
