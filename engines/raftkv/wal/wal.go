package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	raftpb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Record types.
const (
	recEntry     byte = 1
	recHardState byte = 2
	recSnapshot  byte = 3
)

const headerBytes = 9 // length, crc, type

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Config configures a WAL.
type Config struct {
	// SegmentBytes is the preallocated size of one segment file. Default 64 MiB.
	SegmentBytes int64
	// Logger receives state changes (segment cut, torn tail repaired); nil discards.
	Logger *slog.Logger
	// OnSync, if set, observes the duration of every fsync (for metrics).
	OnSync func(time.Duration)
	// Keep is the fewest segments ReleaseTo leaves (etcd's --max-wals: files
	// beyond it are deleted once a snapshot covers them). 0 releases every
	// covered segment.
	Keep int
	// NoSync skips every fsync (etcd's --unsafe-no-fsync): a crash of the
	// machine can lose acknowledged writes. Only for tests and benchmarks
	// that accept that.
	NoSync bool
}

// DefaultSegmentBytes is the default segment size.
const DefaultSegmentBytes = 64 << 20

func (c *Config) fill() {
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// State is what Open recovered.
type State struct {
	// Snapshot is the latest snapshot record (nil when none was saved).
	Snapshot *raftpb.Snapshot
	// HardState is the latest hard state (nil when none was saved).
	HardState *raftpb.HardState
	// Entries follow the snapshot without gaps.
	Entries []*raftpb.Entry
}

type segment struct {
	seq       uint64
	path      string
	lastEntry uint64 // highest entry index written into the segment (0: none)
	maxSnap   uint64 // highest snapshot index recorded in the segment
	// headSnap is the index of the snapshot record that opens the segment
	// (0: none). Replay of a log whose older segments were deleted starts
	// from it, so it must cover every entry those segments held.
	headSnap uint64
	records  int // records replayed or written (to recognise the head)
}

// WAL is an open log. Only one goroutine may call its methods.
type WAL struct {
	cfg      Config
	dir      string
	segs     []*segment
	f        *os.File // last segment
	off      int64    // write offset in f
	buf      []byte
	lastSnap *raftpb.Snapshot
	lastHS   *raftpb.HardState
	closed   bool
}

// Exists reports whether dir holds at least one segment.
func Exists(dir string) bool {
	names, err := segmentNames(dir)
	return err == nil && len(names) > 0
}

func segmentNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".wal") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Open opens the WAL in dir, creating dir and a first segment when there is
// none, and returns what it recovered.
func Open(dir string, cfg Config) (*WAL, *State, error) {
	cfg.fill()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("wal: create %s: %w", dir, err)
	}
	names, err := segmentNames(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("wal: list %s: %w", dir, err)
	}
	w := &WAL{cfg: cfg, dir: dir}
	st := &State{}
	if len(names) == 0 {
		if err := w.cut(1); err != nil {
			return nil, nil, err
		}
		return w, st, nil
	}
	for i, name := range names {
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, ".wal"), 16, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("wal: segment name %s: want %%016x.wal", filepath.Join(dir, name))
		}
		seg := &segment{seq: seq, path: filepath.Join(dir, name)}
		last := i == len(names)-1
		end, err := w.replay(seg, st, last)
		if err != nil {
			return nil, nil, err
		}
		w.segs = append(w.segs, seg)
		if last {
			f, err := os.OpenFile(seg.path, os.O_RDWR, 0o600)
			if err != nil {
				return nil, nil, fmt.Errorf("wal: open %s: %w", seg.path, err)
			}
			w.f, w.off = f, end
		}
	}
	w.lastSnap, w.lastHS = st.Snapshot, st.HardState
	return w, st, nil
}

// replay reads seg into st and returns the offset where valid records end.
//
// A record that cannot be read (header or body cut short, a length running
// past the end of the file, a CRC mismatch, or a zero length with data after
// it) is a torn tail only when it is in the last segment and nothing valid
// follows it: a crash can leave a partial last write, but it cannot leave a
// good record after a bad one that was written before it. Anything else is
// corruption of data that may have been acknowledged, and Open refuses to
// go on rather than discard it (a truncated log would lose acknowledged
// writes, or, in a cluster, contradict what this member promised its peers).
func (w *WAL) replay(seg *segment, st *State, last bool) (int64, error) {
	data, err := os.ReadFile(seg.path)
	if err != nil {
		return 0, fmt.Errorf("wal: read %s: %w", seg.path, err)
	}
	var off int64
	bad := func(reason string) (int64, error) {
		if next := nextValidRecord(data, off+1); next >= 0 {
			return 0, &CorruptError{File: seg.path, Offset: off,
				Reason: fmt.Sprintf("%s, and a valid record follows at offset %d", reason, next)}
		}
		if !last {
			return 0, &CorruptError{File: seg.path, Offset: off, Reason: reason + " in a segment that is not the last"}
		}
		w.cfg.Logger.Warn("wal: torn tail repaired", "file", seg.path, "offset", off, "reason", reason)
		if err := zeroFrom(seg.path, off, w.cfg.SegmentBytes); err != nil {
			return 0, err
		}
		return off, nil
	}
	for {
		if off+headerBytes > int64(len(data)) {
			if restZero(data[off:]) {
				return off, nil
			}
			return bad("record header cut short")
		}
		n := int64(binary.LittleEndian.Uint32(data[off:]))
		if n == 0 {
			// The end of the written part, if everything after is the
			// preallocated zeros; else a length field lost mid-log.
			if restZero(data[off:]) {
				return off, nil
			}
			return bad("zero record length with data after it")
		}
		// A record is never longer than the bytes left in its file (a
		// segment is preallocated to hold every record written to it).
		if n > int64(len(data))-off-8 {
			return bad(fmt.Sprintf("record length %d runs past the end of the file (%d bytes left)", n, int64(len(data))-off-8))
		}
		body := data[off+8 : off+8+n]
		if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(data[off+4:]) {
			return bad(fmt.Sprintf("CRC mismatch in a record of length %d", n))
		}
		if err := applyRecord(st, seg, body); err != nil {
			return 0, &CorruptError{File: seg.path, Offset: off, Reason: err.Error()}
		}
		off += 8 + n
	}
}

// nextValidRecord returns the offset of the first record at or after from
// whose length fits, whose CRC matches and whose body decodes, or -1. Random
// bytes pass all three with negligible probability; records written by Save
// always do.
func nextValidRecord(data []byte, from int64) int64 {
	size := int64(len(data))
	for p := from; p+headerBytes <= size; p++ {
		n := int64(binary.LittleEndian.Uint32(data[p:]))
		if n == 0 || n > size-p-8 {
			continue
		}
		body := data[p+8 : p+8+n]
		if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(data[p+4:]) {
			continue
		}
		if validBody(body) {
			return p
		}
	}
	return -1
}

// validBody reports whether body is a record type and payload replay could
// decode.
func validBody(body []byte) bool {
	typ, p := body[0], body[1:]
	var err error
	switch typ {
	case recEntry:
		_, err = decodeEntry(p)
	case recHardState:
		_, err = decodeHardState(p)
	case recSnapshot:
		err = proto.Unmarshal(p, &raftpb.Snapshot{})
	default:
		return false
	}
	return err == nil
}

var zeroPage [4096]byte

func restZero(b []byte) bool {
	for len(b) > 0 {
		k := min(len(b), len(zeroPage))
		if !bytes.Equal(b[:k], zeroPage[:k]) {
			return false
		}
		b = b[k:]
	}
	return true
}

// zeroFrom cuts the file at off and re-reserves it, so stale bytes after a torn
// record can never be read back as records.
func zeroFrom(path string, off, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("wal: repair %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Truncate(off); err != nil {
		return fmt.Errorf("wal: repair %s: %w", path, err)
	}
	if err := preallocate(f, max(size, off)); err != nil {
		return fmt.Errorf("wal: repair %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("wal: repair %s: %w", path, err)
	}
	return nil
}

func applyRecord(st *State, seg *segment, body []byte) error {
	typ, p := body[0], body[1:]
	seg.records++
	switch typ {
	case recEntry:
		e, err := decodeEntry(p)
		if err != nil {
			return err
		}
		idx := e.GetIndex()
		if st.Snapshot != nil && idx <= st.Snapshot.GetMetadata().GetIndex() {
			return nil // covered by the snapshot
		}
		if n := len(st.Entries); n > 0 {
			first := st.Entries[0].GetIndex()
			switch {
			case idx < first:
				st.Entries = st.Entries[:0]
			case idx <= st.Entries[n-1].GetIndex():
				st.Entries = st.Entries[:idx-first]
			case idx != st.Entries[n-1].GetIndex()+1:
				return fmt.Errorf("entry %d after entry %d leaves a gap", idx, st.Entries[n-1].GetIndex())
			}
		} else if st.Snapshot != nil && idx != st.Snapshot.GetMetadata().GetIndex()+1 {
			return fmt.Errorf("entry %d after snapshot %d leaves a gap", idx, st.Snapshot.GetMetadata().GetIndex())
		}
		st.Entries = append(st.Entries, e)
		seg.lastEntry = max(seg.lastEntry, idx)
	case recHardState:
		hs, err := decodeHardState(p)
		if err != nil {
			return err
		}
		st.HardState = hs
	case recSnapshot:
		snap := &raftpb.Snapshot{}
		if err := proto.Unmarshal(p, snap); err != nil {
			return fmt.Errorf("snapshot record: %v", err)
		}
		si := snap.GetMetadata().GetIndex()
		if st.Snapshot != nil && si < st.Snapshot.GetMetadata().GetIndex() {
			return nil // an older one re-recorded at a segment head never happens, but is harmless
		}
		st.Snapshot = snap
		keep := st.Entries[:0]
		for _, e := range st.Entries {
			if e.GetIndex() > si {
				keep = append(keep, e)
			}
		}
		st.Entries = keep
		seg.maxSnap = max(seg.maxSnap, si)
		if seg.records == 1 {
			seg.headSnap = si
		}
	default:
		return fmt.Errorf("unknown record type %d", typ)
	}
	return nil
}

func decodeEntry(p []byte) (*raftpb.Entry, error) {
	if len(p) < 1 {
		return nil, errors.New("entry record is empty")
	}
	typ := raftpb.EntryType(p[0])
	term, n := binary.Uvarint(p[1:])
	if n <= 0 {
		return nil, errors.New("entry record: bad term")
	}
	idx, m := binary.Uvarint(p[1+n:])
	if m <= 0 {
		return nil, errors.New("entry record: bad index")
	}
	data := p[1+n+m:]
	e := &raftpb.Entry{Term: proto.Uint64(term), Index: proto.Uint64(idx), Type: typ.Enum()}
	if len(data) > 0 {
		e.Data = append([]byte(nil), data...)
	}
	return e, nil
}

func decodeHardState(p []byte) (*raftpb.HardState, error) {
	var v [3]uint64
	for i := range v {
		x, n := binary.Uvarint(p)
		if n <= 0 {
			return nil, errors.New("hard state record: bad varint")
		}
		v[i], p = x, p[n:]
	}
	return &raftpb.HardState{Term: proto.Uint64(v[0]), Vote: proto.Uint64(v[1]), Commit: proto.Uint64(v[2])}, nil
}

// appendRecord frames one record onto w.buf; fill writes type+payload.
func (w *WAL) appendRecord(typ byte, fill func([]byte) []byte) {
	start := len(w.buf)
	w.buf = append(w.buf, 0, 0, 0, 0, 0, 0, 0, 0, typ)
	w.buf = fill(w.buf)
	body := w.buf[start+8:]
	binary.LittleEndian.PutUint32(w.buf[start:], uint32(len(body)))
	binary.LittleEndian.PutUint32(w.buf[start+4:], crc32.Checksum(body, crcTable))
}

func (w *WAL) appendEntry(e *raftpb.Entry) {
	w.appendRecord(recEntry, func(b []byte) []byte {
		b = append(b, byte(e.GetType()))
		b = binary.AppendUvarint(b, e.GetTerm())
		b = binary.AppendUvarint(b, e.GetIndex())
		return append(b, e.Data...)
	})
}

func (w *WAL) appendHardState(hs *raftpb.HardState) {
	w.appendRecord(recHardState, func(b []byte) []byte {
		b = binary.AppendUvarint(b, hs.GetTerm())
		b = binary.AppendUvarint(b, hs.GetVote())
		return binary.AppendUvarint(b, hs.GetCommit())
	})
}

func (w *WAL) appendSnapshot(snap *raftpb.Snapshot) error {
	var merr error
	w.appendRecord(recSnapshot, func(b []byte) []byte {
		out, err := proto.MarshalOptions{}.MarshalAppend(b, snap)
		if err != nil {
			merr = err
			return b
		}
		return out
	})
	if merr != nil {
		return fmt.Errorf("wal: marshal snapshot: %w", merr)
	}
	return nil
}

// Save appends a snapshot record (if snap is non-nil and not empty), the entries
// and the hard state (if non-nil and not empty) with one write, then fsyncs when
// sync is true (raft's Ready.MustSync). The snapshot is written first so that
// the entries following it replay on top of it.
func (w *WAL) Save(snap *raftpb.Snapshot, ents []*raftpb.Entry, hs *raftpb.HardState, sync bool) error {
	if w.closed {
		return ErrClosed
	}
	w.buf = w.buf[:0]
	if snap != nil && snap.GetMetadata().GetIndex() > 0 {
		if err := w.appendSnapshot(snap); err != nil {
			return err
		}
	}
	for _, e := range ents {
		w.appendEntry(e)
	}
	if hs != nil && (hs.GetTerm() != 0 || hs.GetVote() != 0 || hs.GetCommit() != 0) {
		w.appendHardState(hs)
	}
	if len(w.buf) == 0 {
		return nil
	}
	if int64(len(w.buf)) > w.cfg.SegmentBytes {
		return fmt.Errorf("%w: %d bytes, segment %d bytes", ErrRecordTooLarge, len(w.buf), w.cfg.SegmentBytes)
	}
	if w.off+int64(len(w.buf)) > w.cfg.SegmentBytes {
		if err := w.cut(w.segs[len(w.segs)-1].seq + 1); err != nil {
			return err
		}
	}
	if _, err := w.f.WriteAt(w.buf, w.off); err != nil {
		return fmt.Errorf("wal: write %s: %w", w.f.Name(), err)
	}
	w.off += int64(len(w.buf))
	seg := w.segs[len(w.segs)-1]
	if n := len(ents); n > 0 {
		seg.lastEntry = max(seg.lastEntry, ents[n-1].GetIndex())
	}
	if snap != nil && snap.GetMetadata().GetIndex() > 0 {
		seg.maxSnap = max(seg.maxSnap, snap.GetMetadata().GetIndex())
		w.lastSnap = snap
	}
	if hs != nil && (hs.GetTerm() != 0 || hs.GetVote() != 0 || hs.GetCommit() != 0) {
		w.lastHS = hs
	}
	if sync {
		return w.Sync()
	}
	return nil
}

// Sync makes every record written so far durable (one fdatasync). Callers that
// batch several Saves with sync=false call it once at the end.
func (w *WAL) Sync() error {
	if w.closed {
		return ErrClosed
	}
	if w.cfg.NoSync {
		return nil
	}
	start := time.Now()
	if err := fdatasync(w.f); err != nil {
		return fmt.Errorf("wal: fsync %s: %w", w.f.Name(), err)
	}
	if w.cfg.OnSync != nil {
		w.cfg.OnSync(time.Since(start))
	}
	return nil
}

// cut starts segment seq: preallocated, and headed by the latest snapshot and
// hard state so that older segments can be released.
func (w *WAL) cut(seq uint64) error {
	path := filepath.Join(w.dir, fmt.Sprintf("%016x.wal", seq))
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("wal: create segment %s: %w", path, err)
	}
	if err := preallocate(f, w.cfg.SegmentBytes); err != nil {
		f.Close()
		return fmt.Errorf("wal: preallocate %s: %w", path, err)
	}
	seg := &segment{seq: seq, path: path}
	// The header is framed in its own buffer: Save may be holding records in w.buf.
	saved := w.buf
	w.buf = nil
	defer func() { w.buf = saved }()
	if w.lastSnap != nil {
		if err := w.appendSnapshot(w.lastSnap); err != nil {
			f.Close()
			return err
		}
		seg.maxSnap = w.lastSnap.GetMetadata().GetIndex()
		seg.headSnap = seg.maxSnap
	}
	if w.lastHS != nil {
		w.appendHardState(w.lastHS)
	}
	if _, err := f.WriteAt(w.buf, 0); err != nil {
		f.Close()
		return fmt.Errorf("wal: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("wal: fsync %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		return fmt.Errorf("wal: rename %s: %w", path, err)
	}
	if err := syncDir(w.dir); err != nil {
		f.Close()
		return err
	}
	if w.f != nil {
		// The batch being saved may have written records into the old
		// segment without a sync; Save's final Sync covers only the new
		// one, and acks for those records go out after it.
		if err := fdatasync(w.f); err != nil {
			return fmt.Errorf("wal: fsync %s: %w", w.f.Name(), err)
		}
		if err := w.f.Close(); err != nil {
			return fmt.Errorf("wal: close %s: %w", w.f.Name(), err)
		}
	}
	w.f, w.off = f, int64(len(w.buf))
	w.segs = append(w.segs, seg)
	w.cfg.Logger.Info("wal: new segment", "file", path)
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("wal: open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("wal: fsync dir %s: %w", dir, err)
	}
	return nil
}

// ReleaseTo deletes the oldest segments whose entries are all covered by a
// snapshot recorded in a later segment (index <= that snapshot's index), and
// only up to a segment whose successor opens with no snapshot record or with
// one covering them: replay starts from that head record, and an entry
// beyond it with the entries in between deleted would be a gap that refuses
// to open. The last segment is never deleted.
func (w *WAL) ReleaseTo(index uint64) error {
	if w.closed {
		return ErrClosed
	}
	// laterSnap[i] = highest snapshot index recorded in segments after i.
	n := len(w.segs)
	del := 0
	for i := 0; i < n-1; i++ {
		var later uint64
		for _, s := range w.segs[i+1:] {
			later = max(later, s.maxSnap)
		}
		cover := min(later, index)
		if w.segs[i].lastEntry > cover {
			break
		}
		if h := w.segs[i+1].headSnap; h == 0 || h >= w.segs[i].lastEntry {
			del = i + 1
		}
	}
	if w.cfg.Keep > 0 {
		del = min(del, max(0, n-w.cfg.Keep))
	}

	for _, s := range w.segs[:del] {
		if err := os.Remove(s.path); err != nil {
			return fmt.Errorf("wal: release %s: %w", s.path, err)
		}
	}
	if del > 0 {
		w.segs = append(w.segs[:0], w.segs[del:]...)
		return syncDir(w.dir)
	}
	return nil
}

// Segments returns the number of segment files (for tests and metrics).
func (w *WAL) Segments() int { return len(w.segs) }

// Close closes the current segment. It does not fsync: Save already did.
func (w *WAL) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if err := w.f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("wal: close: %w", err)
	}
	return nil
}
