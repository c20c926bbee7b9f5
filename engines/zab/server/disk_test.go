package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"coordlab/engines/zab/zxid"
)

func rec(z zxid.Zxid) LogRecord {
	return LogRecord{Zxid: z, Data: []byte(fmt.Sprintf("txn-%d", z))}
}

func readAll(t *testing.T, l *TxnLog, after zxid.Zxid) []zxid.Zxid {
	t.Helper()
	var got []zxid.Zxid
	err := l.ReadFrom(after, func(r LogRecord) error {
		if want := fmt.Sprintf("txn-%d", r.Zxid); string(r.Data) != want {
			t.Fatalf("record %s data %q, want %q", r.Zxid.Hex(), r.Data, want)
		}
		got = append(got, r.Zxid)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func appendN(t *testing.T, l *TxnLog, from, to zxid.Zxid) {
	t.Helper()
	for z := from; z <= to; z++ {
		if err := l.Append(rec(z)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
}

func TestTxnLogAppendReopenRead(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenTxnLog(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 1, 10)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = OpenTxnLog(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.LastZxid() != 10 {
		t.Fatalf("LastZxid after reopen = %d, want 10", l.LastZxid())
	}
	appendN(t, l, 11, 12)
	got := readAll(t, l, 8)
	if fmt.Sprintf("%d", got) != "[9 10 11 12]" {
		t.Fatalf("ReadFrom(8) = %d, want [9 10 11 12]", got)
	}
}

func TestTxnLogTruncateAfter(t *testing.T) {
	tests := []struct {
		name     string
		segments [][2]zxid.Zxid // each a separate segment [from,to]
		to       zxid.Zxid
		want     string
	}{
		{"middle of one segment", [][2]zxid.Zxid{{1, 10}}, 4, "[1 2 3 4]"},
		{"across segments", [][2]zxid.Zxid{{1, 5}, {6, 10}, {11, 12}}, 7, "[1 2 3 4 5 6 7]"},
		{"segment boundary", [][2]zxid.Zxid{{1, 5}, {6, 10}}, 5, "[1 2 3 4 5]"},
		{"to zero", [][2]zxid.Zxid{{1, 5}, {6, 10}}, 0, "[]"},
		{"nothing to cut", [][2]zxid.Zxid{{1, 5}}, 9, "[1 2 3 4 5]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l, err := OpenTxnLog(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.segments {
				if err := l.roll(s[0]); err != nil {
					t.Fatal(err)
				}
				appendN(t, l, s[0], s[1])
			}
			if err := l.TruncateAfter(tt.to); err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%d", readAll(t, l, 0)); got != tt.want {
				t.Fatalf("after TruncateAfter(%d): %s, want %s", tt.to, got, tt.want)
			}
			// Appending continues after the cut and survives a reopen.
			next := l.LastZxid() + 1
			appendN(t, l, next, next)
			l.Close()
			l, err = OpenTxnLog(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if l.LastZxid() != next {
				t.Fatalf("after reopen LastZxid = %d, want %d", l.LastZxid(), next)
			}
		})
	}
}

func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, logSubdir, "log.*"))
	if err != nil || len(m) == 0 {
		t.Fatalf("no segments: %v", err)
	}
	return m[len(m)-1]
}

func TestTxnLogRecovery(t *testing.T) {
	tests := []struct {
		name     string
		damage   func(t *testing.T, path string)
		wantLast zxid.Zxid
		corrupt  bool
	}{
		{"clean", func(*testing.T, string) {}, 5, false},
		{"partial header", func(t *testing.T, p string) { appendBytes(t, p, []byte{0, 0, 0}) }, 5, false},
		{"partial body", func(t *testing.T, p string) {
			appendBytes(t, p, []byte{0, 0, 0, 9, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 6, 'x'})
		}, 5, false},
		{"bad crc in last record", func(t *testing.T, p string) { flipByte(t, p, -1) }, 4, false},
		{"bad crc in middle", func(t *testing.T, p string) { flipByte(t, p, recordHeaderLen+1) }, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l, err := OpenTxnLog(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			appendN(t, l, 1, 5)
			l.Close()
			p := lastSegment(t, dir)
			tt.damage(t, p)
			l, err = OpenTxnLog(dir, nil)
			if tt.corrupt {
				var ce *CorruptError
				if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) || ce.Path != p || ce.Offset != 0 {
					t.Fatalf("got %v, want a CorruptError naming %s offset 0", err, p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if l.LastZxid() != tt.wantLast {
				t.Fatalf("LastZxid = %d, want %d", l.LastZxid(), tt.wantLast)
			}
			appendN(t, l, tt.wantLast+1, tt.wantLast+1)
			if n := len(readAll(t, l, 0)); n != int(tt.wantLast)+1 {
				t.Fatalf("records after recovery+append = %d, want %d", n, tt.wantLast+1)
			}
		})
	}
}

func TestTxnLogCorruptOlderSegment(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenTxnLog(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 1, 3)
	if err := l.roll(4); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 4, 6)
	l.Close()
	m, _ := filepath.Glob(filepath.Join(dir, logSubdir, "log.*"))
	flipByte(t, m[0], -1) // torn-looking tail, but not the newest segment
	_, err = OpenTxnLog(dir, nil)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Path != m[0] {
		t.Fatalf("got %v, want CorruptError for %s", err, m[0])
	}
}

func TestTxnLogCompact(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenTxnLog(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, s := range [][2]zxid.Zxid{{1, 5}, {6, 10}, {11, 15}} {
		if err := l.roll(s[0]); err != nil {
			t.Fatal(err)
		}
		appendN(t, l, s[0], s[1])
	}
	if err := l.Compact(7); err != nil {
		t.Fatal(err)
	}
	if l.FirstZxid() != 6 {
		t.Fatalf("FirstZxid after Compact(7) = %d, want 6 (segment 6..10 still needed)", l.FirstZxid())
	}
	if err := l.Compact(15); err != nil {
		t.Fatal(err)
	}
	if l.FirstZxid() != 11 {
		t.Fatalf("Compact must keep the tail segment; FirstZxid = %d", l.FirstZxid())
	}
}

func appendBytes(t *testing.T, p string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

// flipByte flips the byte at off (negative counts from the end).
func flipByte(t *testing.T, p string, off int) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += len(b)
	}
	b[off] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshots(t *testing.T) {
	dir := t.TempDir()
	if _, _, ok, err := LatestSnapshot(dir, 0, nil); ok || err != nil {
		t.Fatalf("empty dir: ok=%v err=%v", ok, err)
	}
	for _, z := range []zxid.Zxid{10, 20, 30, 40} {
		payload := []byte(fmt.Sprintf("tree@%d", z))
		if _, err := WriteSnapshot(dir, z, func(w io.Writer) error { _, err := w.Write(payload); return err }); err != nil {
			t.Fatal(err)
		}
	}
	snaps, _ := listSnapshots(snapDir(dir))
	if len(snaps) != snapKeep {
		t.Fatalf("kept %d snapshots, want %d", len(snaps), snapKeep)
	}
	z, p, ok, err := LatestSnapshot(dir, 0, nil)
	if err != nil || !ok || z != 40 || string(p) != "tree@40" {
		t.Fatalf("latest = %d %q %v %v, want 40 tree@40", z, p, ok, err)
	}
	// Damage the newest: recovery falls back to the previous one when the
	// txn log still holds everything after it, and refuses otherwise.
	flipByte(t, snaps[len(snaps)-1].path, 18)
	z, p, ok, err = LatestSnapshot(dir, 25, nil)
	if err != nil || !ok || z != 30 || string(p) != "tree@30" {
		t.Fatalf("after damage latest = %d %q %v %v, want 30 tree@30", z, p, ok, err)
	}
	for _, logFirst := range []zxid.Zxid{0, 31} {
		var ce *CorruptError
		_, _, ok, err = LatestSnapshot(dir, logFirst, nil)
		if ok || !errors.As(err, &ce) || ce.Path != snaps[len(snaps)-1].path {
			t.Fatalf("damaged newest snapshot with the log starting at %d: ok=%v err=%v, want a CorruptError naming %s", logFirst, ok, err, snaps[len(snaps)-1].path)
		}
	}
	if _, _, err := readSnapshotFile(snaps[len(snaps)-1].path); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged snapshot read: %v, want ErrCorrupt", err)
	}
	// A failed writer leaves no snapshot behind.
	boom := errors.New("boom")
	if _, err := WriteSnapshot(dir, 50, func(io.Writer) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("failed write: %v", err)
	}
	if z, _, _, _ := LatestSnapshot(dir, 25, nil); z != 30 {
		t.Fatalf("failed write left snapshot %d", z)
	}
}

func TestEpochFiles(t *testing.T) {
	dir := t.TempDir()
	if e, err := ReadEpochFile(dir, acceptedEpochFile); e != 0 || err != nil {
		t.Fatalf("missing file: %d %v, want 0 nil", e, err)
	}
	for _, e := range []uint32{1, 7, 4294967295} {
		if err := WriteEpochFile(dir, acceptedEpochFile, e); err != nil {
			t.Fatal(err)
		}
		if got, err := ReadEpochFile(dir, acceptedEpochFile); got != e || err != nil {
			t.Fatalf("read back %d %v, want %d", got, err, e)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(m) != 0 {
		t.Fatalf("temp files left: %v", m)
	}
	if err := os.WriteFile(filepath.Join(dir, currentEpochFile), []byte("x1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadEpochFile(dir, currentEpochFile); !errors.Is(err, ErrCorrupt) || !bytes.Contains([]byte(err.Error()), []byte(currentEpochFile)) {
		t.Fatalf("garbage epoch file: %v, want ErrCorrupt naming the file", err)
	}
}

func lastSegmentPath(dir string) string {
	return filepath.Join(dir, logSubdir, "log.0000000000000001")
}

func writeFile(p string, b []byte) error { return os.WriteFile(p, b, 0o644) }
