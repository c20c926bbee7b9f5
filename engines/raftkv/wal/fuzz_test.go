package wal

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	raftpb "go.etcd.io/raft/v3/raftpb"
)

// FuzzOpen writes arbitrary bytes after a valid prefix as the only segment:
// Open must either recover (the valid prefix at least) or fail with a
// *CorruptError, never panic; and a recovered log must open again identically.
func FuzzOpen(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{5, 0, 0, 0, 1, 2, 3, 4, 1, 9})
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		w, _, err := Open(dir, Config{SegmentBytes: 1 << 16})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Save(nil, []*raftpb.Entry{ent(1, 1, "a"), ent(1, 2, "b")}, hs(1, 1, 2), true); err != nil {
			t.Fatal(err)
		}
		off := w.off
		w.Close()
		path := filepath.Join(dir, "0000000000000001.wal")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		copy(b[off:], tail)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		w2, st, err := Open(dir, Config{SegmentBytes: 1 << 16})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open: got %v, want nil or a *CorruptError", err)
			}
			return
		}
		if len(st.Entries) < 2 || st.Entries[0].GetIndex() != 1 || st.Entries[1].GetIndex() != 2 {
			t.Fatalf("valid prefix lost: entries %v", indexes(st.Entries))
		}
		w2.Close()
		_, st2, err := Open(dir, Config{SegmentBytes: 1 << 16})
		if err != nil {
			t.Fatalf("reopen after recovery: %v", err)
		}
		if !equal(indexes(st.Entries), indexes(st2.Entries)) {
			t.Fatalf("reopen differs: %v then %v", indexes(st.Entries), indexes(st2.Entries))
		}
	})
}
