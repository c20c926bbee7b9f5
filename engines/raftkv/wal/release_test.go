package wal

import (
	"testing"

	raftpb "go.etcd.io/raft/v3/raftpb"
)

// TestReleaseKeepsReplayable: a new segment opens with a copy of the
// snapshot current when it was cut; entries written after that snapshot but
// before the cut are only in the old segment. A later snapshot recorded in
// the new segment must not let ReleaseTo delete the old one, or replay reads
// the head snapshot, then an entry far past it, and refuses to open: a
// member that cannot restart after SIGKILL.
func TestReleaseKeepsReplayable(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 4096}
	w, _ := mustOpen(t, dir, cfg)
	defer w.Close()
	data := string(make([]byte, 1000))
	mustSave(t, w, nil, []*raftpb.Entry{ent(1, 1, data)}, hs(1, 1, 1))
	mustSave(t, w, snap(1, 1), nil, nil)
	idx := uint64(1)
	for range 6 {
		idx++
		mustSave(t, w, nil, []*raftpb.Entry{ent(1, idx, data)}, hs(1, 1, idx))
	}
	t.Logf("segments %d", w.Segments())
	mustSave(t, w, snap(6, 1), nil, nil)
	if err := w.ReleaseTo(6); err != nil {
		t.Fatal(err)
	}
	t.Logf("segments after release %d", w.Segments())
	w.Close()
	_, st, err := Open(dir, cfg)
	if err != nil {
		t.Fatalf("reopen after ReleaseTo: %v", err)
	}
	if got := st.Snapshot.GetMetadata().GetIndex(); got != 6 {
		t.Errorf("snapshot after reopen: %d, want 6", got)
	}
	if got := indexes(st.Entries); len(got) != 1 || got[0] != 7 {
		t.Errorf("entries after reopen: %v, want [7]", got)
	}
}

// TestReleaseKeep: Config.Keep (etcd's --max-wals) leaves at least that
// many segments, even when more could be released; the WAL still opens.
func TestReleaseKeep(t *testing.T) {
	for _, keep := range []int{0, 3, 5} {
		dir := t.TempDir()
		cfg := Config{SegmentBytes: 4096, Keep: keep}
		w, _ := mustOpen(t, dir, cfg)
		data := string(make([]byte, 1000))
		for idx := uint64(1); idx <= 30; idx++ {
			// A snapshot at every entry: each new segment opens with one
			// covering everything before it, so every older one is
			// releasable.
			mustSave(t, w, nil, []*raftpb.Entry{ent(1, idx, data)}, hs(1, 1, idx))
			mustSave(t, w, snap(idx, 1), nil, nil)
		}
		before := w.Segments()
		if err := w.ReleaseTo(30); err != nil {
			t.Fatal(err)
		}
		got := w.Segments()
		w.Close()
		switch {
		case before < 8:
			t.Fatalf("only %d segments written", before)
		case keep == 0 && got > 2:
			t.Errorf("Keep 0: %d of %d segments left, want every covered one released", got, before)
		case keep > 0 && got != keep:
			t.Errorf("Keep %d: %d of %d segments left", keep, got, before)
		}
		if _, st, err := Open(dir, cfg); err != nil || st.Snapshot.GetMetadata().GetIndex() != 30 {
			t.Fatalf("Keep %d: reopen: %v", keep, err)
		}
	}
}
