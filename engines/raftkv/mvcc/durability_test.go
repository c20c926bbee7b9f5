package mvcc

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/membershippb"
)

func TestConsistentIndexSkipsReplay(t *testing.T) {
	h := newHarness(t)
	put := &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte("k"), Value: []byte("v")}}
	if _, err := h.s.Apply(5, put); err != nil {
		t.Fatal(err)
	}
	for _, idx := range []uint64{3, 5} {
		resp, err := h.s.Apply(idx, put)
		if resp != nil || err != nil {
			t.Fatalf("Apply(%d) replay = %v, %v; want nil, nil", idx, resp, err)
		}
	}
	if h.s.Rev() != 2 || h.s.ConsistentIndex() != 5 {
		t.Fatalf("rev %d ci %d, want 2 5", h.s.Rev(), h.s.ConsistentIndex())
	}
	if resp, err := h.s.Apply(6, nil); resp != nil || err != nil || h.s.ConsistentIndex() != 6 {
		t.Fatalf("Apply(6, nil) = %v, %v, ci %d", resp, err, h.s.ConsistentIndex())
	}
	// An error comes with a nil response (not a typed nil inside the interface).
	if resp, err := h.s.Apply(7, &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte("k"), Lease: 9}}); resp != nil || !errors.Is(err, ErrLeaseNotFound) {
		t.Fatalf("put with unknown lease = %#v, %v", resp, err)
	}
	_, err := h.s.Apply(8, &pb.InternalRaftRequest{ClusterVersionSet: &membershippb.ClusterVersionSetRequest{Ver: "3.5.0"}})
	if !errors.Is(err, ErrUnsupported) || h.s.ConsistentIndex() != 8 {
		t.Fatalf("cluster version set: %v, ci %d; want ErrUnsupported and ci 8", err, h.s.ConsistentIndex())
	}
}

func TestCrashRecovery(t *testing.T) {
	cfg := DefaultConfig() // with fsync
	cfg.InitialMmapBytes = 1 << 20
	h := newHarnessConfig(t, cfg)
	if _, err := h.grant(1, 60); err != nil {
		t.Fatal(err)
	}
	h.put("a", "1")
	h.put("b", "1")
	if err := h.s.Commit(); err != nil {
		t.Fatal(err)
	}
	committedIdx, committedRev := h.s.ConsistentIndex(), h.s.Rev()
	hash, _, err := h.s.HashKV(0)
	if err != nil {
		t.Fatal(err)
	}
	// Applied but never committed: lost on "crash", replayed from the raft log.
	h.put("a", "2")
	h.del("b", "")
	if _, err := h.grant(2, 60); err != nil {
		t.Fatal(err)
	}
	if err := h.compact(3); err != nil {
		t.Fatal(err)
	}
	if h.get("b") != nil || h.s.CompactRev() != 3 {
		t.Fatalf("uncommitted writes not visible before the crash")
	}
	h.reopen() // Close discards the open write txn, like a crash before Commit
	if h.s.ConsistentIndex() != committedIdx || h.s.Rev() != committedRev || h.s.CompactRev() != 0 {
		t.Fatalf("after crash: ci %d rev %d compact %d, want %d %d 0", h.s.ConsistentIndex(), h.s.Rev(), h.s.CompactRev(), committedIdx, committedRev)
	}
	if got := kvString(h.get("a")); got != "a=1(c2,m2,v1,l0)" {
		t.Fatalf("a after crash = %s", got)
	}
	if h.get("b") == nil {
		t.Fatalf("b lost")
	}
	if _, ok := h.s.Lease(2); ok {
		t.Fatalf("uncommitted lease 2 survived")
	}
	if _, ok := h.s.Lease(1); !ok {
		t.Fatalf("committed lease 1 lost")
	}
	if got, _, _ := h.s.HashKV(0); got != hash {
		t.Fatalf("hash after crash %x, want %x", got, hash)
	}
	// Replaying the log from the committed index gives the same state as before the crash.
	h.put("a", "2")
	if got := kvString(h.get("a")); got != "a=2(c2,m4,v2,l0)" {
		t.Fatalf("a after replay = %s", got)
	}
}

func TestSnapshotRestore(t *testing.T) {
	h := rangeFixture(t)
	if _, err := h.grant(5, 60); err != nil {
		t.Fatal(err)
	}
	if _, err := h.putLease("leased", "v", 5); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Commit(); err != nil {
		t.Fatal(err)
	}
	h.put("after", "snapshot") // applied, not committed: not in the snapshot
	var buf bytes.Buffer
	n, err := h.s.WriteSnapshot(&buf)
	if err != nil || n != int64(buf.Len()) || n == 0 {
		t.Fatalf("WriteSnapshot = %d, %v (buffer %d)", n, err, buf.Len())
	}
	if err := h.s.Commit(); err != nil {
		t.Fatal(err)
	}
	wantHash, _, err := h.s.HashKV(11)
	if err != nil {
		t.Fatal(err)
	}

	other := newHarness(t)
	other.put("junk", "x")
	if err := other.s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := Restore(other.path, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	other.open()
	if other.s.ConsistentIndex() != h.s.ConsistentIndex()-1 || other.s.Rev() != 11 {
		t.Fatalf("restored ci %d rev %d, want %d 11", other.s.ConsistentIndex(), other.s.Rev(), h.s.ConsistentIndex()-1)
	}
	if other.get("junk") != nil || other.get("after") != nil || other.get("leased") == nil {
		t.Fatalf("restored contents wrong: junk=%s after=%s leased=%s", kvString(other.get("junk")), kvString(other.get("after")), kvString(other.get("leased")))
	}
	if got, _, err := other.s.HashKV(11); err != nil || got != wantHash {
		t.Fatalf("restored HashKV(11) = %x, %v; want %x", got, err, wantHash)
	}
	if l, ok := other.s.Lease(5); !ok || len(l.Keys) != 1 {
		t.Fatalf("restored lease 5 = %+v %v", l, ok)
	}

	t.Run("bad snapshot leaves the file alone", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "db")
		if err := os.WriteFile(path, []byte("keep"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := Restore(path, bytes.NewReader([]byte("not a bbolt file"))); err == nil {
			t.Fatalf("Restore of garbage succeeded")
		}
		if b, _ := os.ReadFile(path); string(b) != "keep" {
			t.Fatalf("file changed to %q", b)
		}
	})
}

func TestHashes(t *testing.T) {
	a, b := newHarness(t), newHarness(t)
	for _, h := range []*harness{a, b} {
		h.put("x", "1")
		h.put("y", "2")
		h.put("x", "3")
		h.del("y", "")
	}
	b.put("z", "extra") // rev 6 on b only
	ha, _, err := a.s.HashKV(5)
	if err != nil {
		t.Fatal(err)
	}
	hb, _, err := b.s.HashKV(5)
	if err != nil {
		t.Fatal(err)
	}
	if ha != hb {
		t.Fatalf("HashKV(5) differs: %x vs %x", ha, hb)
	}
	if hb6, _, _ := b.s.HashKV(0); hb6 == hb {
		t.Fatalf("HashKV(current) on b equals HashKV(5) although b has rev 6")
	}
	h1, _ := a.s.Hash()
	h2, _ := b.s.Hash()
	if h1 == h2 {
		t.Fatalf("Hash equal for different stores")
	}
	if _, _, err := a.s.HashKV(6); !errors.Is(err, ErrFutureRev) {
		t.Fatalf("HashKV(future) = %v", err)
	}
	if err := a.compact(4); err != nil {
		t.Fatal(err)
	}
	if _, c, err := a.s.HashKV(3); !errors.Is(err, ErrCompacted) || c != 4 {
		t.Fatalf("HashKV(compacted) = %v, compact %d", err, c)
	}
	// Same compaction on both: hashes agree again, and a commit does not change them.
	if err := b.compact(4); err != nil {
		t.Fatal(err)
	}
	ha, _, _ = a.s.HashKV(5)
	if err := b.s.Commit(); err != nil {
		t.Fatal(err)
	}
	hb, _, _ = b.s.HashKV(5)
	if ha != hb {
		t.Fatalf("HashKV(5) after equal compactions: %x vs %x", ha, hb)
	}
	if a.s.Size() <= 0 {
		t.Fatalf("Size = %d", a.s.Size())
	}
}

func TestConfigValidate(t *testing.T) {
	bad := Config{MinLeaseTTL: -1, WatchChanSize: -2}
	err := bad.Validate()
	if err == nil {
		t.Fatalf("Validate accepted %+v", bad)
	}
	for _, field := range []string{"MinLeaseTTL", "WatchChanSize"} {
		if !bytes.Contains([]byte(err.Error()), []byte(field)) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
	if _, err := Open(filepath.Join(t.TempDir(), "db"), bad); err == nil {
		t.Fatalf("Open accepted a bad config")
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig invalid: %v", err)
	}
}
