package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"coordlab/engines/zab/zxid"
	"coordlab/proctest"
)

// corruptionFixture is a one-segment log of records with zxids 1..n whose
// data sizes differ, and the offset of each record.
type corruptionFixture struct {
	dir     string
	seg     string
	clean   []byte
	offsets []int64
}

func newCorruptionFixture(t *testing.T, n int) corruptionFixture {
	t.Helper()
	dir := t.TempDir()
	l, err := OpenTxnLog(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var offsets []int64
	var off int64
	for z := 1; z <= n; z++ {
		data := bytes.Repeat([]byte{byte('a' + z)}, 3+z)
		if err := l.Append(LogRecord{Zxid: zxid.Zxid(z), Data: data}); err != nil {
			t.Fatal(err)
		}
		offsets = append(offsets, off)
		off += recordHeaderLen + int64(len(data))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	seg := lastSegment(t, dir)
	clean, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(clean)) != off {
		t.Fatalf("segment is %d bytes, want %d", len(clean), off)
	}
	return corruptionFixture{dir: dir, seg: seg, clean: clean, offsets: offsets}
}

// open writes b as the segment, opens the log and returns the zxids it
// holds, or the open error.
func (fx corruptionFixture) open(t *testing.T, b []byte) ([]zxid.Zxid, error) {
	t.Helper()
	if err := os.WriteFile(fx.seg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := OpenTxnLog(fx.dir, nil)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	var got []zxid.Zxid
	err = l.ReadFrom(0, func(r LogRecord) error {
		want := bytes.Repeat([]byte{byte('a' + r.Zxid)}, 3+int(r.Zxid))
		if !bytes.Equal(r.Data, want) {
			return fmt.Errorf("record %d came back as %q", r.Zxid, r.Data)
		}
		got = append(got, r.Zxid)
		return nil
	})
	if err != nil {
		t.Fatalf("reading the recovered log: %v", err)
	}
	return got, nil
}

func zxids(from, to int) []zxid.Zxid {
	var out []zxid.Zxid
	for z := from; z <= to; z++ {
		out = append(out, zxid.Zxid(z))
	}
	return out
}

// TestTxnLogCorruptionNeverDropsFollowedRecords damages the head, a middle
// and the last record in every bit of every field, and truncates the last
// record at every byte. Opening the log must either keep exactly the
// records that are intact, or refuse with a CorruptError naming the file
// and the damaged record; it may drop a damaged record only when no valid
// record follows it (a torn tail).
func TestTxnLogCorruptionNeverDropsFollowedRecords(t *testing.T) {
	const n = 5
	fx := newCorruptionFixture(t, n)
	fields := []struct {
		name     string
		from, to int // byte range within the record
	}{
		{"length", 0, 4}, {"checksum", 4, 8}, {"zxid", 8, 16}, {"data", 16, 0},
	}
	for _, victim := range []int{0, n / 2, n - 1} {
		recOff := fx.offsets[victim]
		recEnd := int64(len(fx.clean))
		if victim+1 < n {
			recEnd = fx.offsets[victim+1]
		}
		for _, fld := range fields {
			to := int64(fld.to)
			if to == 0 {
				to = recEnd - recOff
			}
			for i := int64(fld.from); i < to; i++ {
				for bit := range 8 {
					b := bytes.Clone(fx.clean)
					b[recOff+i] ^= 1 << bit
					what := fmt.Sprintf("record %d, %s byte %d bit %d", victim+1, fld.name, i-int64(fld.from), bit)
					got, err := fx.open(t, b)
					checkCorruptionOutcome(t, what, fx, victim, got, err)
				}
			}
		}
		// A zero length with valid records after it is corruption too.
		b := bytes.Clone(fx.clean)
		binary.BigEndian.PutUint32(b[recOff:], 0)
		got, err := fx.open(t, b)
		checkCorruptionOutcome(t, fmt.Sprintf("record %d, zero length", victim+1), fx, victim, got, err)
	}
	// Truncation anywhere inside the last record is a torn write.
	last := fx.offsets[n-1]
	for size := last; size < int64(len(fx.clean)); size++ {
		got, err := fx.open(t, bytes.Clone(fx.clean[:size]))
		if err != nil {
			t.Fatalf("log cut at byte %d (inside the last record): %v, want the first %d records", size, err, n-1)
		}
		if fmt.Sprint(got) != fmt.Sprint(zxids(1, n-1)) {
			t.Fatalf("log cut at byte %d: got %v, want %v", size, got, zxids(1, n-1))
		}
	}
	// Zeros after the last record (a file extended but never written) are
	// a torn tail as well.
	got, err := fx.open(t, append(bytes.Clone(fx.clean), make([]byte, 100)...))
	if err != nil || fmt.Sprint(got) != fmt.Sprint(zxids(1, n)) {
		t.Fatalf("zeros after the last record: %v %v, want %v", got, err, zxids(1, n))
	}
}

func checkCorruptionOutcome(t *testing.T, what string, fx corruptionFixture, victim int, got []zxid.Zxid, err error) {
	t.Helper()
	n := len(fx.offsets)
	if err != nil {
		var ce *CorruptError
		if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: open failed with %v, want a *CorruptError", what, err)
		}
		if ce.Path != fx.seg || ce.Offset != fx.offsets[victim] {
			t.Fatalf("%s: CorruptError names %s offset %d, want %s offset %d", what, ce.Path, ce.Offset, fx.seg, fx.offsets[victim])
		}
		if !strings.Contains(err.Error(), "dataDir") || !strings.Contains(err.Error(), "myid") {
			t.Fatalf("%s: error does not say how to recover: %v", what, err)
		}
		return
	}
	if victim < n-1 {
		t.Fatalf("%s: opened with %v; a damaged record with valid records after it must refuse to open", what, got)
	}
	if fmt.Sprint(got) != fmt.Sprint(zxids(1, n-1)) {
		t.Fatalf("%s: opened with %v, want %v (the damaged last record dropped as a torn tail)", what, got, zxids(1, n-1))
	}
}

// The server-level regression: acknowledged creates, a stop, a damaged
// length field in the middle of the txn log, and the restart refuses with
// an error naming the file and offset instead of dropping what follows.
func TestRestartRefusesCorruptTxnLog(t *testing.T) {
	dir := t.TempDir()
	port := proctest.FreePort(t)
	cfg := DefaultConfig()
	cfg.TickTime = 100 * time.Millisecond
	cfg.DataDir = dir
	cfg.ClientPort = port
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	waitLeader(t, []*Server{s})
	c := zkConnect(t, s.ClientAddr())
	const creates = 200
	for i := range creates {
		if _, err := c.Create(fmt.Sprintf("/c%03d", i), []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	seg := lastSegment(t, dir)
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	// Walk to the record in the middle and set the top bit of its length:
	// the record now seems to run past the end of the file, like a torn
	// write, but the rest of the log follows it.
	var offs []int64
	for off := int64(0); off < int64(len(b)); {
		offs = append(offs, off)
		off += recordHeaderLen + int64(binary.BigEndian.Uint32(b[off:]))
	}
	if len(offs) < creates {
		t.Fatalf("log has %d records, want at least %d", len(offs), creates)
	}
	mid := offs[len(offs)/2]
	b[mid] ^= 0x80
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = New(cfg)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Path != seg || ce.Offset != mid {
		t.Fatalf("restart after damaging the length at %d: %v, want a CorruptError naming %s offset %d", mid, err, seg, mid)
	}
	for _, want := range []string{seg, fmt.Sprint(mid), "dataDir", "myid", "leader"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not mention %q", err, want)
		}
	}
	if fi, err := os.Stat(seg); err != nil || fi.Size() != int64(len(b)) {
		t.Fatalf("the refused start changed the log: %v %v", fi.Size(), err)
	}
}

// A damaged newest snapshot is replaced by an older one only when the txn
// log still covers it: the server then comes back with every create; when
// the log does not reach back that far, the server refuses to start.
func TestRestartWithDamagedSnapshot(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.TickTime = 100 * time.Millisecond
	cfg.DataDir = dir
	cfg.ClientPort = proctest.FreePort(t)
	cfg.SnapshotTxns = 10
	start := func() (*Server, error) {
		s, err := New(cfg)
		if err != nil {
			return nil, err
		}
		s.Start()
		waitLeader(t, []*Server{s})
		return s, nil
	}
	s, err := start()
	if err != nil {
		t.Fatal(err)
	}
	c := zkConnect(t, s.ClientAddr())
	const creates = 45
	for i := range creates {
		if _, err := c.Create(fmt.Sprintf("/s%02d", i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	snaps, _ := listSnapshots(snapDir(dir))
	if len(snaps) < 2 {
		t.Fatalf("want at least 2 snapshots, have %d", len(snaps))
	}
	newest := snaps[len(snaps)-1].path
	flipByte(t, newest, 20)
	s, err = start()
	if err != nil {
		t.Fatalf("restart with a damaged newest snapshot and a log covering the older one: %v", err)
	}
	c = zkConnect(t, s.ClientAddr())
	for i := range creates {
		if ok, _, err := c.Exists(fmt.Sprintf("/s%02d", i)); err != nil || !ok {
			t.Fatalf("/s%02d after falling back to an older snapshot: %v %v", i, ok, err)
		}
	}
	c.Close()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	// Damage every snapshot but the oldest and drop the log: the tree
	// would miss txns, so the start is refused.
	snaps, _ = listSnapshots(snapDir(dir))
	for _, sn := range snaps[1:] {
		flipByte(t, sn.path, 20)
	}
	if err := os.RemoveAll(filepath.Join(dir, logSubdir)); err != nil {
		t.Fatal(err)
	}
	_, err = New(cfg)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Path != snaps[len(snaps)-1].path {
		t.Fatalf("restart with damaged snapshots and no log: %v, want a CorruptError naming %s", err, snaps[len(snaps)-1].path)
	}
}

// A lost acceptedEpoch file reads as epoch 0; with txns of a later epoch on
// disk that is a damaged data dir, not a fresh one.
func TestRestartRefusesLostEpochFile(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.TickTime = 100 * time.Millisecond
	cfg.DataDir = dir
	cfg.ClientPort = proctest.FreePort(t)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	waitLeader(t, []*Server{s})
	c := zkConnect(t, s.ClientAddr())
	if _, err := c.Create("/e", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, acceptedEpochFile)
	for _, name := range []string{acceptedEpochFile, currentEpochFile} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		_, err = New(cfg)
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Path != p {
			t.Fatalf("restart without %s: %v, want a CorruptError naming %s", name, err, p)
		}
	}
}
