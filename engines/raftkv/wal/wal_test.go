package wal

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	raftpb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func ent(term, idx uint64, data string) *raftpb.Entry {
	return &raftpb.Entry{Term: proto.Uint64(term), Index: proto.Uint64(idx), Type: raftpb.EntryNormal.Enum(), Data: []byte(data)}
}

func hs(term, vote, commit uint64) *raftpb.HardState {
	return &raftpb.HardState{Term: proto.Uint64(term), Vote: proto.Uint64(vote), Commit: proto.Uint64(commit)}
}

func snap(idx, term uint64) *raftpb.Snapshot {
	return &raftpb.Snapshot{Data: []byte("members"), Metadata: &raftpb.SnapshotMetadata{
		Index: proto.Uint64(idx), Term: proto.Uint64(term), ConfState: &raftpb.ConfState{Voters: []uint64{1, 2, 3}}}}
}

func indexes(es []*raftpb.Entry) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.GetIndex())
	}
	return out
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func mustOpen(t *testing.T, dir string, cfg Config) (*WAL, *State) {
	t.Helper()
	w, st, err := Open(dir, cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return w, st
}

func mustSave(t *testing.T, w *WAL, s *raftpb.Snapshot, es []*raftpb.Entry, h *raftpb.HardState) {
	t.Helper()
	if err := w.Save(s, es, h, true); err != nil {
		t.Fatalf("Save: %v", err)
	}
}

func TestReplay(t *testing.T) {
	tests := []struct {
		name    string
		saves   [][]*raftpb.Entry
		snapAt  int // save index after which snapshot 'snapIdx' is recorded (-1: none)
		snapIdx uint64
		want    []uint64
	}{
		{"append", [][]*raftpb.Entry{{ent(1, 1, "a"), ent(1, 2, "b")}, {ent(1, 3, "c")}}, -1, 0, []uint64{1, 2, 3}},
		{"overwrite conflicting tail", [][]*raftpb.Entry{{ent(1, 1, "a"), ent(1, 2, "b"), ent(1, 3, "c")}, {ent(2, 2, "x")}}, -1, 0, []uint64{1, 2}},
		{"snapshot drops covered entries", [][]*raftpb.Entry{{ent(1, 1, "a"), ent(1, 2, "b"), ent(1, 3, "c")}}, 0, 2, []uint64{3}},
		{"snapshot past the log", [][]*raftpb.Entry{{ent(1, 1, "a")}, {ent(3, 11, "k")}}, 0, 10, []uint64{11}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			w, _ := mustOpen(t, dir, Config{SegmentBytes: 1 << 20})
			for i, es := range tt.saves {
				mustSave(t, w, nil, es, hs(es[len(es)-1].GetTerm(), 1, es[0].GetIndex()))
				if i == tt.snapAt {
					mustSave(t, w, snap(tt.snapIdx, 1), nil, nil)
				}
			}
			w.Close()
			_, st := mustOpen(t, dir, Config{SegmentBytes: 1 << 20})
			if got := indexes(st.Entries); !equal(got, tt.want) {
				t.Fatalf("entries after replay: got %v, want %v", got, tt.want)
			}
			last := tt.saves[len(tt.saves)-1]
			if st.HardState.GetTerm() != last[len(last)-1].GetTerm() {
				t.Fatalf("hard state term: got %d, want %d", st.HardState.GetTerm(), last[len(last)-1].GetTerm())
			}
			if tt.snapAt >= 0 && st.Snapshot.GetMetadata().GetIndex() != tt.snapIdx {
				t.Fatalf("snapshot index: got %d, want %d", st.Snapshot.GetMetadata().GetIndex(), tt.snapIdx)
			}
			if got := string(st.Entries[len(st.Entries)-1].Data); got != string(last[len(last)-1].Data) {
				t.Fatalf("last entry data: got %q, want %q", got, last[len(last)-1].Data)
			}
		})
	}
}

func onlySegment(t *testing.T, dir string) string {
	t.Helper()
	names, err := segmentNames(dir)
	if err != nil || len(names) != 1 {
		t.Fatalf("segments in %s: %v %v", dir, names, err)
	}
	return filepath.Join(dir, names[0])
}

func TestTornTailIsTruncated(t *testing.T) {
	for _, tt := range []struct {
		name   string
		damage func(b []byte, lastOff int) // lastOff: offset of the last record
	}{
		{"cut mid record", func(b []byte, off int) {
			for i := off + 12; i < len(b); i++ {
				b[i] = 0
			}
		}},
		{"bad crc in last record", func(b []byte, off int) { b[off+10] ^= 0xff }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			w, _ := mustOpen(t, dir, Config{SegmentBytes: 1 << 16})
			mustSave(t, w, nil, []*raftpb.Entry{ent(1, 1, "a"), ent(1, 2, "b")}, nil)
			lastOff := int(w.off)
			mustSave(t, w, nil, []*raftpb.Entry{ent(1, 3, "ccccccccccccccccccccccc")}, nil)
			w.Close()
			path := onlySegment(t, dir)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			tt.damage(b, lastOff)
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			w, st := mustOpen(t, dir, Config{SegmentBytes: 1 << 16})
			if got := indexes(st.Entries); !equal(got, []uint64{1, 2}) {
				t.Fatalf("after torn tail: got %v, want [1 2]", got)
			}
			// Writing resumes at the cut and replays cleanly.
			mustSave(t, w, nil, []*raftpb.Entry{ent(2, 3, "d")}, nil)
			w.Close()
			_, st = mustOpen(t, dir, Config{SegmentBytes: 1 << 16})
			if got := indexes(st.Entries); !equal(got, []uint64{1, 2, 3}) || string(st.Entries[2].Data) != "d" {
				t.Fatalf("after rewrite: got %v (last %q), want [1 2 3] ending in \"d\"", got, st.Entries[len(st.Entries)-1].Data)
			}
		})
	}
}

func TestCorruptMiddleFails(t *testing.T) {
	dir := t.TempDir()
	w, _ := mustOpen(t, dir, Config{SegmentBytes: 1 << 16})
	mustSave(t, w, nil, []*raftpb.Entry{ent(1, 1, "a")}, nil)
	mid := w.off
	mustSave(t, w, nil, []*raftpb.Entry{ent(1, 2, "bbbbbbbb")}, nil)
	mustSave(t, w, nil, []*raftpb.Entry{ent(1, 3, "c")}, nil)
	w.Close()
	path := onlySegment(t, dir)
	b, _ := os.ReadFile(path)
	b[mid+12] ^= 0x55
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := Open(dir, Config{SegmentBytes: 1 << 16})
	var ce *CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open: got %v, want *CorruptError", err)
	}
	if ce.File != path || ce.Offset != mid {
		t.Fatalf("corrupt error names %s@%d, want %s@%d", ce.File, ce.Offset, path, mid)
	}
}

func TestSegmentsCutAndRelease(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 4096}
	w, _ := mustOpen(t, dir, cfg)
	data := string(make([]byte, 1000))
	var idx uint64
	for range 20 {
		idx++
		mustSave(t, w, nil, []*raftpb.Entry{ent(1, idx, data)}, hs(1, 1, idx))
	}
	if w.Segments() < 5 {
		t.Fatalf("segments: got %d, want >= 5 for 20 KB in 4 KB segments", w.Segments())
	}
	mustSave(t, w, snap(15, 1), nil, nil)
	// One more entry so the snapshot's segment is not the only one after the release.
	idx++
	mustSave(t, w, nil, []*raftpb.Entry{ent(1, idx, data)}, hs(1, 1, idx))
	before := w.Segments()
	if err := w.ReleaseTo(15); err != nil {
		t.Fatal(err)
	}
	if w.Segments() >= before {
		t.Fatalf("ReleaseTo(15) kept all %d segments", before)
	}
	w.Close()
	_, st := mustOpen(t, dir, cfg)
	if st.Snapshot.GetMetadata().GetIndex() != 15 {
		t.Fatalf("snapshot after release: got %d, want 15", st.Snapshot.GetMetadata().GetIndex())
	}
	want := []uint64{16, 17, 18, 19, 20, 21}
	if got := indexes(st.Entries); !equal(got, want) {
		t.Fatalf("entries after release: got %v, want %v", got, want)
	}
	if st.HardState.GetCommit() != idx {
		t.Fatalf("commit after release: got %d, want %d", st.HardState.GetCommit(), idx)
	}
}
