package raftkv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"coordlab/engines/raftkv/mvcc"
)

// writeUntil puts keys on s until stop is closed, recording for each
// revision the time its put was issued.
func writeUntil(t *testing.T, s *Server, stop <-chan struct{}) (invoked func(rev int64) (time.Time, bool), wait func()) {
	var mu sync.Mutex
	at := map[int64]time.Time{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			resp, err := put(ctx, s, fmt.Sprintf("k%d", i%10), "v")
			cancel()
			if err == nil {
				mu.Lock()
				at[resp.GetHeader().GetRevision()] = start
				mu.Unlock()
			}
		}
	}()
	return func(rev int64) (time.Time, bool) {
		mu.Lock()
		defer mu.Unlock()
		ts, ok := at[rev]
		return ts, ok
	}, wg.Wait
}

// TestAutoCompactionPeriodic: --auto-compaction-mode periodic with a 1s
// retention compacts, every 100ms once the first second has passed, to the
// revision of one period ago (etcd 3.4's periodic compactor), so no
// revision younger than the retention is ever compacted.
func TestAutoCompactionPeriodic(t *testing.T) {
	c := newTestCluster(t, 1, func(c *Config) {
		c.AutoCompactionMode = "periodic"
		c.AutoCompactionRetention = time.Second
	})
	c.waitLeader()
	s := c.servers[0]
	stop := make(chan struct{})
	invoked, wait := writeUntil(t, s, stop)
	defer func() { close(stop); wait() }()
	deadline := time.Now().Add(15 * time.Second)
	var compacted int64
	for time.Now().Before(deadline) && compacted < 20 {
		cr := s.Store().CompactRev()
		now := time.Now()
		if cr > 0 {
			// The put that made revision cr was issued at least ~one
			// retention before the compaction was observed.
			if ts, ok := invoked(cr); ok && now.Sub(ts) < 800*time.Millisecond {
				t.Fatalf("revision %d compacted %v after its write, within the 1s retention", cr, now.Sub(ts))
			}
			compacted = cr
		}
		time.Sleep(20 * time.Millisecond)
	}
	if compacted < 20 {
		t.Fatalf("compact revision %d after 15s of writes with a 1s periodic retention, want it to advance", compacted)
	}
	if _, err := s.Store().Range(&pb.RangeRequest{Key: []byte("k1"), Revision: 2}); !errors.Is(err, mvcc.ErrCompacted) {
		t.Fatalf("range at revision 2 after auto-compaction: %v, want ErrCompacted", err)
	}
}

// TestAutoCompactionRevision: mode revision keeps the last N revisions:
// every interval it compacts to the current revision minus N.
func TestAutoCompactionRevision(t *testing.T) {
	old := compactorRevisionInterval
	compactorRevisionInterval = 100 * time.Millisecond
	t.Cleanup(func() { compactorRevisionInterval = old })
	c := newTestCluster(t, 1, func(c *Config) {
		c.AutoCompactionMode = "revision"
		c.AutoCompactionRevisions = 10
	})
	c.waitLeader()
	s := c.servers[0]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 50 {
		if _, err := put(ctx, s, fmt.Sprintf("k%d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	rev := s.Store().Rev()
	deadline := time.Now().Add(10 * time.Second)
	for s.Store().CompactRev() != rev-10 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := s.Store().CompactRev(); got != rev-10 {
		t.Fatalf("compact revision %d at revision %d with retention 10, want %d", got, rev, rev-10)
	}
}

// TestWALDir: with --wal-dir the WAL is written there, not under the data
// dir, and a restart reads it back.
func TestWALDir(t *testing.T) {
	walDir := filepath.Join(t.TempDir(), "wal")
	c := newTestCluster(t, 1, func(c *Config) { c.WALDir = walDir })
	c.waitLeader()
	mustPut(t, c.servers[0], "k", "v")
	segs, _ := filepath.Glob(filepath.Join(walDir, "*.wal"))
	if len(segs) == 0 {
		t.Fatalf("no WAL file in --wal-dir %s", walDir)
	}
	if _, err := os.Stat(filepath.Join(c.cfgs[0].DataDir, "member", "wal")); !os.IsNotExist(err) {
		t.Fatalf("member/wal exists under the data dir with --wal-dir set (%v)", err)
	}
	c.stop(0)
	c.start(0)
	c.waitLeader()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if v, ok, err := get(ctx, c.servers[0], "k"); err != nil || !ok || v != "v" {
		t.Fatalf("after restart from --wal-dir: %q %v %v", v, ok, err)
	}
}

// TestMaxWALs: --max-wals 0 keeps every WAL file, as etcd; a limit never
// deletes below it (wal's TestReleaseKeep shows the cap itself).
func TestMaxWALs(t *testing.T) {
	for _, keep := range []int{0, 3} {
		t.Run(fmt.Sprint(keep), func(t *testing.T) {
			c := newTestCluster(t, 1, func(c *Config) {
				c.MaxWALs = keep
				c.WALSegmentBytes = 64 << 10
				c.SnapshotCount = 20
				c.SnapshotCatchUpEntries = 5
			})
			c.waitLeader()
			val := strings.Repeat("x", 2000)
			for i := range 400 {
				mustPut(t, c.servers[0], fmt.Sprintf("k%d", i%20), val)
			}
			segs, _ := filepath.Glob(filepath.Join(c.cfgs[0].DataDir, "member", "wal", "*.wal"))
			switch {
			case keep == 0 && len(segs) < 12:
				t.Fatalf("--max-wals 0: %d WAL files after ~800 KB in 64 KB files, want all kept", len(segs))
			case keep > 0 && len(segs) < keep:
				t.Fatalf("--max-wals %d: %d WAL files left", keep, len(segs))
			}
		})
	}
}

// TestWarningApplyDuration: an apply slower than
// --experimental-warning-apply-duration logs etcd's warning.
func TestWarningApplyDuration(t *testing.T) {
	var buf syncBuffer
	c := newTestCluster(t, 1, func(c *Config) {
		c.WarningApplyDuration = time.Nanosecond
		c.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	})
	c.waitLeader()
	mustPut(t, c.servers[0], "slow", "v")
	if !strings.Contains(buf.String(), `msg="apply request took too long"`) || !strings.Contains(buf.String(), "put key:slow") {
		t.Fatalf("no slow-apply warning with a 1ns threshold:\n%s", buf.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBackendBatchLimit: with a batch interval far away, the store commits
// once --backend-batch-limit entries have been applied.
func TestBackendBatchLimit(t *testing.T) {
	for _, limit := range []int{0, 5} {
		c := newTestCluster(t, 1, func(c *Config) {
			c.BatchInterval = time.Hour
			c.BatchLimit = limit
		})
		c.waitLeader()
		for i := range 12 {
			mustPut(t, c.servers[0], fmt.Sprint("k", i), "v")
		}
		time.Sleep(100 * time.Millisecond)
		got := histogramCount(t, c.servers[0], "raftkv_disk_backend_commit_duration_seconds")
		switch {
		case limit == 0 && got != 0:
			t.Errorf("no limit, 1h interval: %d store commits, want 0", got)
		case limit > 0 && got < 2:
			t.Errorf("limit %d: %d store commits after 12 puts, want >= 2", limit, got)
		}
		c.stopAll()
	}
}

func histogramCount(t *testing.T, s *Server, name string) uint64 {
	t.Helper()
	mfs, err := s.gather.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestUnsafeNoFsync: --unsafe-no-fsync skips the WAL's fsyncs (none is
// timed), and the member still serves and restarts from what it wrote.
func TestUnsafeNoFsync(t *testing.T) {
	c := newTestCluster(t, 1, func(c *Config) { c.UnsafeNoFsync = true })
	c.waitLeader()
	mustPut(t, c.servers[0], "k", "v")
	if n := histogramCount(t, c.servers[0], "raftkv_disk_wal_fsync_duration_seconds"); n != 0 {
		t.Fatalf("%d WAL fsyncs with UnsafeNoFsync", n)
	}
	c.stop(0)
	c.start(0)
	c.waitLeader()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if v, ok, err := get(ctx, c.servers[0], "k"); err != nil || !ok || v != "v" {
		t.Fatalf("after a clean restart: %q %v %v", v, ok, err)
	}
}
