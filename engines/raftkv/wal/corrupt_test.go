package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	raftpb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// corruptLog is a one-segment log of one record per Save, each fsynced, and
// where each record starts.
type corruptLog struct {
	saves []func(*WAL) error
	image []byte  // the segment file as written
	offs  []int64 // offs[i]: start of record i; offs[len] is the end of the log
	wants map[int]*State
}

const corruptSegBytes = 1 << 16

func buildCorruptLog(t *testing.T) *corruptLog {
	t.Helper()
	c := &corruptLog{saves: []func(*WAL) error{
		func(w *WAL) error { return w.Save(nil, nil, hs(1, 1, 0), true) },
		func(w *WAL) error { return w.Save(nil, []*raftpb.Entry{ent(1, 1, "first entry")}, nil, true) },
		func(w *WAL) error { return w.Save(nil, []*raftpb.Entry{ent(1, 2, "second entry")}, nil, true) },
		func(w *WAL) error { return w.Save(nil, nil, hs(1, 1, 2), true) },
		func(w *WAL) error { return w.Save(nil, []*raftpb.Entry{ent(1, 3, "third entry")}, nil, true) },
		func(w *WAL) error {
			return w.Save(nil, []*raftpb.Entry{ent(2, 4, "fourth entry, the last")}, nil, true)
		},
	}}
	dir := t.TempDir()
	w, _ := mustOpen(t, dir, Config{SegmentBytes: corruptSegBytes})
	for _, save := range c.saves {
		c.offs = append(c.offs, w.off)
		if err := save(w); err != nil {
			t.Fatal(err)
		}
	}
	c.offs = append(c.offs, w.off)
	w.Close()
	b, err := os.ReadFile(onlySegment(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	c.image = b
	return c
}

// want is what Open must recover from the first n records: the state of a
// log that only ever had them.
func (c *corruptLog) want(t *testing.T, n int) *State {
	t.Helper()
	if st, ok := c.wants[n]; ok {
		return st
	}
	dir := t.TempDir()
	w, _ := mustOpen(t, dir, Config{SegmentBytes: corruptSegBytes})
	for _, save := range c.saves[:n] {
		if err := save(w); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	w, st := mustOpen(t, dir, Config{SegmentBytes: corruptSegBytes})
	w.Close()
	if c.wants == nil {
		c.wants = map[int]*State{}
	}
	c.wants[n] = st
	return st
}

func sameState(a, b *State) error {
	if !proto.Equal(a.HardState, b.HardState) {
		return fmt.Errorf("hard state %v, want %v", a.HardState, b.HardState)
	}
	if !proto.Equal(a.Snapshot, b.Snapshot) {
		return fmt.Errorf("snapshot %v, want %v", a.Snapshot, b.Snapshot)
	}
	if len(a.Entries) != len(b.Entries) {
		return fmt.Errorf("entries %v, want %v", indexes(a.Entries), indexes(b.Entries))
	}
	for i := range a.Entries {
		if !proto.Equal(a.Entries[i], b.Entries[i]) {
			return fmt.Errorf("entry %d is %v, want %v", i, a.Entries[i], b.Entries[i])
		}
	}
	return nil
}

// openDamaged writes img as the only segment of a new WAL dir and opens it.
func openDamaged(t *testing.T, img []byte) (string, *WAL, *State, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, fmt.Sprintf("%016x.wal", 1))
	if err := os.WriteFile(path, img, 0o600); err != nil {
		t.Fatal(err)
	}
	w, st, err := Open(dir, Config{SegmentBytes: corruptSegBytes})
	return path, w, st, err
}

// checkDamaged asserts the WAL's contract for a log damaged in record rec:
// when valid records follow the damage Open refuses with a *CorruptError at
// that record; when the damaged record is the last, Open recovers exactly
// the records before it, and writing resumes cleanly.
func (c *corruptLog) checkDamaged(t *testing.T, what string, img []byte, rec int) {
	t.Helper()
	path, w, st, err := openDamaged(t, img)
	last := rec == len(c.saves)-1
	if !last {
		var ce *CorruptError
		if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
			n := -1
			if st != nil {
				n = len(st.Entries)
			}
			t.Fatalf("%s: Open: err %v (recovered %d entries), want a *CorruptError: records after the damage would be dropped", what, err, n)
		}
		if ce.File != path || ce.Offset != c.offs[rec] {
			t.Fatalf("%s: error names %s at %d, want %s at %d", what, ce.File, ce.Offset, path, c.offs[rec])
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: Open: %v, want the records before the torn last one", what, err)
	}
	if err := sameState(st, c.want(t, rec)); err != nil {
		t.Fatalf("%s: recovered %v", what, err)
	}
	// The torn bytes are gone: a new record lands at the cut and replays.
	if err := w.Save(nil, []*raftpb.Entry{ent(3, 4, "rewritten")}, nil, true); err != nil {
		t.Fatal(err)
	}
	w.Close()
	_, st2, err := Open(filepath.Dir(path), Config{SegmentBytes: corruptSegBytes})
	if err != nil {
		t.Fatalf("%s: reopen after repair and a new write: %v", what, err)
	}
	if n := len(st2.Entries); n == 0 || string(st2.Entries[n-1].Data) != "rewritten" {
		t.Fatalf("%s: after repair the new write is not the last entry: %v", what, indexes(st2.Entries))
	}
}

// TestCorruptionEveryBit flips every bit of every field (length, CRC, type,
// payload) of the head, middle and tail records.
func TestCorruptionEveryBit(t *testing.T) {
	c := buildCorruptLog(t)
	for _, rec := range []int{0, 2, 3, len(c.saves) - 1} {
		for i := c.offs[rec]; i < c.offs[rec+1]; i++ {
			field := "payload"
			switch rel := i - c.offs[rec]; {
			case rel < 4:
				field = "length"
			case rel < 8:
				field = "crc"
			case rel == 8:
				field = "type"
			}
			for bit := range 8 {
				img := append([]byte(nil), c.image...)
				img[i] ^= 1 << bit
				c.checkDamaged(t, fmt.Sprintf("record %d %s byte %d bit %d", rec, field, i-c.offs[rec], bit), img, rec)
			}
		}
	}
}

// A length field set to zero mid-log must not read as the end of the log.
func TestCorruptionZeroLength(t *testing.T) {
	c := buildCorruptLog(t)
	for rec := range c.saves {
		img := append([]byte(nil), c.image...)
		binary.LittleEndian.PutUint32(img[c.offs[rec]:], 0)
		c.checkDamaged(t, fmt.Sprintf("record %d length zeroed", rec), img, rec)
	}
}

// A length larger than any record (or than the file) is not a torn tail
// when valid records follow it.
func TestCorruptionHugeLength(t *testing.T) {
	c := buildCorruptLog(t)
	for rec := range c.saves {
		for _, n := range []uint32{corruptSegBytes - 8, corruptSegBytes, 1 << 31, 0xffffffff} {
			img := append([]byte(nil), c.image...)
			binary.LittleEndian.PutUint32(img[c.offs[rec]:], n)
			c.checkDamaged(t, fmt.Sprintf("record %d length %d", rec, n), img, rec)
		}
	}
}

// A crash mid-write of the last record: the file cut at every byte of it,
// or the rest of the preallocated segment still zero. Everything before it
// is recovered; the whole record, once written, is recovered too.
func TestTornLastRecordEveryByte(t *testing.T) {
	c := buildCorruptLog(t)
	rec := len(c.saves) - 1
	for end := c.offs[rec]; end <= c.offs[rec+1]; end++ {
		for _, mode := range []string{"truncated", "zeroed"} {
			var img []byte
			if mode == "truncated" {
				img = append([]byte(nil), c.image[:end]...)
			} else {
				img = append([]byte(nil), c.image...)
				clear(img[end:])
			}
			what := fmt.Sprintf("%s at byte %d of the last record", mode, end-c.offs[rec])
			if end == c.offs[rec+1] {
				_, w, st, err := openDamaged(t, img)
				if err != nil {
					t.Fatalf("%s: Open: %v", what, err)
				}
				w.Close()
				if err := sameState(st, c.want(t, len(c.saves))); err != nil {
					t.Fatalf("%s: recovered %v, want every record", what, err)
				}
				continue
			}
			c.checkDamaged(t, what, img, rec)
		}
	}
}

// Damage to the last record of a segment that is not the last one is not a
// torn tail: later segments hold records written after it.
func TestCorruptionEndOfEarlierSegment(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 4096}
	w, _ := mustOpen(t, dir, cfg)
	data := string(make([]byte, 900))
	type rec struct {
		seg int
		off int64
	}
	var recs []rec
	for i := uint64(1); i <= 12; i++ {
		before := w.Segments()
		off := w.off
		mustSave(t, w, nil, []*raftpb.Entry{ent(1, i, data)}, nil)
		if w.Segments() != before {
			off = -1 // opened a new segment (after its header); not needed here
		}
		recs = append(recs, rec{w.Segments() - 1, off})
	}
	w.Close()
	names, err := segmentNames(dir)
	if err != nil || len(names) < 3 {
		t.Fatalf("segments %v (%v), want at least 3", names, err)
	}
	// The last record of the first segment: the one before the first record of segment 1.
	var lastOfFirst int64 = -1
	for i, r := range recs {
		if r.seg == 1 {
			lastOfFirst = recs[i-1].off
			break
		}
	}
	path := filepath.Join(dir, names[0])
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[lastOfFirst+20] ^= 0x01
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = Open(dir, cfg)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.File != path || ce.Offset != lastOfFirst {
		t.Fatalf("Open: %v, want a *CorruptError at %s offset %d", err, path, lastOfFirst)
	}
	if !strings.Contains(err.Error(), "not the last") {
		t.Fatalf("error %q does not say the segment is not the last", err)
	}
}
