package server

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"coordlab/engines/zab/zxid"
)

// The txn log lives in DataLogDir/zab-log as segment files named
// log.<first zxid, 16 hex digits>. A record is
//
//	uint32 length of data | uint32 CRC-32C of (zxid, data) | uint64 zxid | data
//
// big-endian. Records are strictly increasing in zxid across all segments.
// The log is append-only except for TruncateAfter (the core's TRUNC) and
// Compact (segments covered by a snapshot).

const (
	logSubdir       = "zab-log"
	recordHeaderLen = 16
	// maxRecordLen bounds one record so that a corrupt length cannot make
	// recovery allocate gigabytes.
	maxRecordLen = 64 << 20
	// segmentBytes is the size after which Append rolls to a new segment.
	segmentBytes = 64 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// LogRecord is one txn in the log: its zxid and the opaque txn bytes.
type LogRecord struct {
	Zxid zxid.Zxid
	Data []byte
}

// CorruptError says where a txn log, snapshot or epoch file failed its
// checks. The server refuses to start on one: going on could lose or
// contradict txns this member acknowledged.
type CorruptError struct {
	Path   string
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("zab: corrupt data in %s at offset %d: %s; refusing to start. "+
		"To recover this member: stop it, remove everything in its dataDir (and dataLogDir) except myid, and start it again: "+
		"it then fetches the data from the leader (SNAP). Do that only while a quorum of the other members is healthy; "+
		"a standalone server has no other copy, so restore its dataDir from a backup instead", e.Path, e.Offset, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorrupt) hold.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

type segment struct {
	path  string
	first zxid.Zxid // zxid in the name (first record's zxid, or the next expected)
	last  zxid.Zxid // last record's zxid; 0 if empty
	size  int64
}

// TxnLog is the on-disk txn log. It is not safe for concurrent use: the
// server's loop goroutine owns it.
type TxnLog struct {
	dir    string
	logger *slog.Logger
	segs   []segment // sorted by first
	f      *os.File  // the open tail segment
	w      *bufio.Writer
	last   zxid.Zxid // last zxid in the log
	dirty  bool      // written since the last Sync
	hdr    [recordHeaderLen]byte

	// The log as of the last successful Sync (or open, or truncate):
	// Rollback returns to it after a failed write.
	durSegs []segment
	durLast zxid.Zxid
}

// OpenTxnLog opens (creating if needed) the log in logDir, checks every
// record, truncates a torn tail of the newest segment, and returns the log
// positioned for appends. Corruption anywhere else is a *CorruptError.
func OpenTxnLog(logDir string, logger *slog.Logger) (*TxnLog, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dir := filepath.Join(logDir, logSubdir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("zab: create log dir: %w", err)
	}
	l := &TxnLog{dir: dir, logger: logger}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("zab: read log dir: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		hex, ok := strings.CutPrefix(name, "log.")
		if !ok || strings.HasSuffix(name, ".tmp") {
			continue
		}
		first, err := strconv.ParseUint(hex, 16, 64)
		if err != nil {
			continue
		}
		l.segs = append(l.segs, segment{path: filepath.Join(dir, name), first: zxid.Zxid(first)})
	}
	sort.Slice(l.segs, func(i, j int) bool { return l.segs[i].first < l.segs[j].first })
	for i := range l.segs {
		tail := i == len(l.segs)-1
		if err := l.scanSegment(&l.segs[i], tail, nil); err != nil {
			return nil, err
		}
		if l.segs[i].last != 0 {
			if l.segs[i].last <= l.last && l.last != 0 {
				return nil, &CorruptError{Path: l.segs[i].path, Offset: 0, Reason: fmt.Sprintf("zxid %s not after previous segment's %s", l.segs[i].last.Hex(), l.last.Hex())}
			}
			l.last = l.segs[i].last
		}
	}
	if len(l.segs) > 0 {
		t := &l.segs[len(l.segs)-1]
		f, err := os.OpenFile(t.path, os.O_RDWR, 0o644)
		if err != nil {
			return nil, fmt.Errorf("zab: open log segment: %w", err)
		}
		if _, err := f.Seek(t.size, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("zab: seek log segment: %w", err)
		}
		l.f = f
		l.w = bufio.NewWriterSize(f, 256<<10)
	}
	l.markDurable()
	return l, nil
}

// markDurable records the current log as durable.
func (l *TxnLog) markDurable() {
	l.durSegs = append(l.durSegs[:0], l.segs...)
	l.durLast = l.last
}

// Rollback discards everything appended since the last successful Sync:
// call it after Append or Sync failed (a full disk), so that a failed batch
// leaves no partial record behind and the log can be appended to again.
// Segments created since are removed, the tail segment is cut back to its
// durable size and reopened.
func (l *TxnLog) Rollback() error {
	if l.f != nil {
		l.f.Close() // the buffered bytes are being discarded; the error says nothing new
		l.f, l.w = nil, nil
	}
	keep := map[string]bool{}
	for _, s := range l.durSegs {
		keep[s.path] = true
	}
	removed := false
	for _, s := range l.segs {
		if !keep[s.path] {
			if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("zab: roll back txn log: %w", err)
			}
			removed = true
		}
	}
	l.segs = append(l.segs[:0], l.durSegs...)
	l.last = l.durLast
	l.dirty = false
	if removed {
		if err := syncDir(l.dir); err != nil {
			return err
		}
	}
	if len(l.segs) == 0 {
		return nil
	}
	t := l.segs[len(l.segs)-1]
	f, err := os.OpenFile(t.path, os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("zab: roll back txn log: %w", err)
	}
	if err := f.Truncate(t.size); err != nil {
		f.Close()
		return fmt.Errorf("zab: roll back txn log: %w", err)
	}
	if _, err := f.Seek(t.size, io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("zab: roll back txn log: %w", err)
	}
	l.f = f
	l.w = bufio.NewWriterSize(f, 256<<10)
	return nil
}

// scanSegment reads every record of s, filling last and size. fn, if not
// nil, sees each record.
//
// A record that fails its checks (a partial header or body, a length over
// maxRecordLen, a checksum mismatch, a zero zxid) is a torn tail only when
// it is in the newest segment and no valid record follows it anywhere in the
// file: a crash while appending leaves garbage only after the last record
// that was fsynced. Such a tail is truncated away (nothing in it was
// acknowledged). Anything else is a *CorruptError: a damaged record with
// valid records after it means acknowledged txns would be lost by a
// truncation, so the member refuses to start instead.
func (l *TxnLog) scanSegment(s *segment, tail bool, fn func(LogRecord) error) error {
	f, err := os.OpenFile(s.path, os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("zab: open log segment: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("zab: stat log segment: %w", err)
	}
	fileSize := st.Size()
	r := bufio.NewReaderSize(f, 256<<10)
	var off int64
	var prev zxid.Zxid
	s.last = 0
	var hdr [recordHeaderLen]byte
	// bad decides what a record failing its checks at off means.
	bad := func(reason string) error {
		if !tail {
			return &CorruptError{Path: s.path, Offset: off, Reason: reason + " (not the newest segment, so not a torn write)"}
		}
		next, err := findValidRecord(f, off+1, fileSize, prev)
		if err != nil {
			return err
		}
		switch {
		case next == tailTooLarge:
			return &CorruptError{Path: s.path, Offset: off, Reason: fmt.Sprintf("%s, and the %d bytes after it are too many to prove it a torn write", reason, fileSize-off)}
		case next >= 0:
			return &CorruptError{Path: s.path, Offset: off, Reason: fmt.Sprintf("%s, with a valid record at offset %d after it", reason, next)}
		}
		l.logger.Warn("truncating torn log tail", "file", s.path, "offset", off, "reason", reason, "dropped_bytes", fileSize-off)
		if err := f.Truncate(off); err != nil {
			return fmt.Errorf("zab: truncate torn tail of %s: %w", s.path, err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("zab: sync %s: %w", s.path, err)
		}
		return errTornTail
	}
	err = func() error {
		for {
			_, err := io.ReadFull(r, hdr[:])
			if err == io.EOF {
				return nil
			}
			if err == io.ErrUnexpectedEOF {
				return bad(fmt.Sprintf("partial record header (%d bytes left in the file)", fileSize-off))
			}
			if err != nil {
				return fmt.Errorf("zab: read %s: %w", s.path, err)
			}
			dlen := int64(binary.BigEndian.Uint32(hdr[0:4]))
			sum := binary.BigEndian.Uint32(hdr[4:8])
			z := zxid.Zxid(binary.BigEndian.Uint64(hdr[8:16]))
			end := off + recordHeaderLen + dlen
			if dlen > maxRecordLen {
				return bad(fmt.Sprintf("unreasonable record length %d (limit %d)", dlen, maxRecordLen))
			}
			if end > fileSize {
				return bad(fmt.Sprintf("record length %d runs past the end of the file (%d bytes left)", dlen, fileSize-off-recordHeaderLen))
			}
			data := make([]byte, dlen)
			if _, err := io.ReadFull(r, data); err != nil {
				return fmt.Errorf("zab: read %s: %w", s.path, err)
			}
			if crc := recordCRC(hdr[8:16], data); crc != sum {
				return bad(fmt.Sprintf("checksum mismatch (stored %#x, computed %#x)", sum, crc))
			}
			if z == 0 {
				// Zxid 0 never carries a txn.
				return bad("zero zxid")
			}
			if prev != 0 && z <= prev {
				return &CorruptError{Path: s.path, Offset: off, Reason: fmt.Sprintf("zxid %s not after %s", z.Hex(), prev.Hex())}
			}
			prev = z
			s.last = z
			if fn != nil {
				if err := fn(LogRecord{Zxid: z, Data: data}); err != nil {
					return err
				}
			}
			off = end
		}
	}()
	if err != nil && !errors.Is(err, errTornTail) {
		return err
	}
	s.size = off
	return nil
}

// errTornTail ends a scan at a torn tail that was truncated.
var errTornTail = errors.New("torn tail")

func recordCRC(zxidBytes, data []byte) uint32 {
	return crc32.Update(crc32.Checksum(zxidBytes, crcTable), crcTable, data)
}

// maxTailCheckBytes bounds the checksum work findValidRecord does on a
// damaged tail; past it the tail counts as corrupt (refusing to start is
// safe, truncating might not be).
const maxTailCheckBytes = 1 << 30

// tailTooLarge is findValidRecord's answer when checking would take more
// than maxTailCheckBytes of checksumming.
const tailTooLarge = -2

// findValidRecord looks for a record that passes every check (length within
// limits and the file, checksum, zxid above after) starting at any byte
// offset in [from, fileSize). It returns its offset, -1 if there is none, or
// tailTooLarge.
func findValidRecord(f *os.File, from, fileSize int64, after zxid.Zxid) (int64, error) {
	n := fileSize - from
	if n < recordHeaderLen {
		return -1, nil
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, from); err != nil {
		return 0, fmt.Errorf("zab: read %s: %w", f.Name(), err)
	}
	var work int64
	for i := 0; i+recordHeaderLen <= len(b); i++ {
		dlen := int(binary.BigEndian.Uint32(b[i : i+4]))
		z := zxid.Zxid(binary.BigEndian.Uint64(b[i+8 : i+16]))
		if dlen > maxRecordLen || i+recordHeaderLen+dlen > len(b) || z == 0 || z <= after {
			continue
		}
		if work += int64(dlen); work > maxTailCheckBytes {
			return tailTooLarge, nil
		}
		if recordCRC(b[i+8:i+16], b[i+recordHeaderLen:i+recordHeaderLen+dlen]) == binary.BigEndian.Uint32(b[i+4:i+8]) {
			return from + int64(i), nil
		}
	}
	return -1, nil
}

// LastZxid is the zxid of the newest record, 0 if the log is empty.
func (l *TxnLog) LastZxid() zxid.Zxid { return l.last }

// FirstZxid is the zxid of the oldest record still in the log, 0 if empty.
func (l *TxnLog) FirstZxid() zxid.Zxid {
	for _, s := range l.segs {
		if s.last != 0 {
			return s.first
		}
	}
	return 0
}

func (l *TxnLog) roll(first zxid.Zxid) error {
	if l.f != nil {
		if err := l.Sync(); err != nil {
			return err
		}
		if err := l.f.Close(); err != nil {
			return fmt.Errorf("zab: close log segment: %w", err)
		}
	}
	p := filepath.Join(l.dir, fmt.Sprintf("log.%016x", uint64(first)))
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("zab: create log segment: %w", err)
	}
	if err := syncDir(l.dir); err != nil {
		f.Close()
		return err
	}
	l.f = f
	l.w = bufio.NewWriterSize(f, 256<<10)
	l.segs = append(l.segs, segment{path: p, first: first})
	return nil
}

// Append writes records (buffered; call Sync to make them durable). Their
// zxids must be increasing and above LastZxid: a violation is a bug in the
// caller and panics with the values involved.
func (l *TxnLog) Append(recs ...LogRecord) error {
	for _, r := range recs {
		if r.Zxid <= l.last {
			panic(fmt.Sprintf("zab: txn log append zxid %s not after last %s", r.Zxid.Hex(), l.last.Hex()))
		}
		if len(r.Data) > maxRecordLen {
			return fmt.Errorf("zab: txn %s is %d bytes, over the %d limit", r.Zxid.Hex(), len(r.Data), maxRecordLen)
		}
		if l.f == nil || l.segs[len(l.segs)-1].size >= segmentBytes {
			if err := l.roll(r.Zxid); err != nil {
				return err
			}
		}
		binary.BigEndian.PutUint32(l.hdr[0:4], uint32(len(r.Data)))
		binary.BigEndian.PutUint64(l.hdr[8:16], uint64(r.Zxid))
		crc := recordCRC(l.hdr[8:16], r.Data)
		binary.BigEndian.PutUint32(l.hdr[4:8], crc)
		if _, err := l.w.Write(l.hdr[:]); err != nil {
			return fmt.Errorf("zab: append txn log: %w", err)
		}
		if _, err := l.w.Write(r.Data); err != nil {
			return fmt.Errorf("zab: append txn log: %w", err)
		}
		s := &l.segs[len(l.segs)-1]
		s.size += recordHeaderLen + int64(len(r.Data))
		s.last = r.Zxid
		l.last = r.Zxid
		l.dirty = true
	}
	return nil
}

// Sync flushes buffered records and fsyncs the tail segment: one fsync for
// however many records were appended since the last Sync (group commit).
func (l *TxnLog) Sync() error {
	if !l.dirty || l.f == nil {
		return nil
	}
	if err := l.w.Flush(); err != nil {
		return fmt.Errorf("zab: flush txn log: %w", err)
	}
	if err := fdatasync(l.f); err != nil {
		return fmt.Errorf("zab: fsync txn log: %w", err)
	}
	l.dirty = false
	l.markDurable()
	return nil
}

// ReadFrom calls fn for every record with zxid > after, in order.
func (l *TxnLog) ReadFrom(after zxid.Zxid, fn func(LogRecord) error) error {
	if err := l.Sync(); err != nil {
		return err
	}
	for i := range l.segs {
		s := l.segs[i]
		if s.last == 0 || s.last <= after {
			continue
		}
		cp := s
		err := l.scanSegment(&cp, false, func(r LogRecord) error {
			if r.Zxid <= after {
				return nil
			}
			return fn(r)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// errStopScan ends a scan early.
var errStopScan = errors.New("stop scan")

// TruncateAfter removes every record with zxid > z (the core's TRUNC) and
// fsyncs. Truncating to 0 empties the log.
func (l *TxnLog) TruncateAfter(z zxid.Zxid) error {
	if z >= l.last {
		return nil
	}
	if err := l.Sync(); err != nil {
		return err
	}
	if l.f != nil {
		if err := l.f.Close(); err != nil {
			return fmt.Errorf("zab: close log segment: %w", err)
		}
		l.f, l.w = nil, nil
	}
	// Drop whole segments that start after z.
	for len(l.segs) > 0 && l.segs[len(l.segs)-1].first > z {
		s := l.segs[len(l.segs)-1]
		if err := os.Remove(s.path); err != nil {
			return fmt.Errorf("zab: truncate log: %w", err)
		}
		l.segs = l.segs[:len(l.segs)-1]
	}
	l.last = 0
	if len(l.segs) > 0 {
		s := &l.segs[len(l.segs)-1]
		var keep int64
		var last zxid.Zxid
		var off int64
		err := l.scanSegment(&segment{path: s.path}, false, func(r LogRecord) error {
			if r.Zxid > z {
				return errStopScan
			}
			off += recordHeaderLen + int64(len(r.Data))
			keep, last = off, r.Zxid
			return nil
		})
		if err != nil && !errors.Is(err, errStopScan) {
			return err
		}
		if err := os.Truncate(s.path, keep); err != nil {
			return fmt.Errorf("zab: truncate log: %w", err)
		}
		s.size, s.last = keep, last
		f, err := os.OpenFile(s.path, os.O_RDWR, 0o644)
		if err != nil {
			return fmt.Errorf("zab: open log segment: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("zab: fsync truncated log: %w", err)
		}
		if _, err := f.Seek(keep, io.SeekStart); err != nil {
			f.Close()
			return fmt.Errorf("zab: seek log segment: %w", err)
		}
		l.f = f
		l.w = bufio.NewWriterSize(f, 256<<10)
		for i := range l.segs {
			if l.segs[i].last != 0 {
				l.last = l.segs[i].last
			}
		}
	}
	l.markDurable()
	return syncDir(l.dir)
}

// Compact removes segments whose every record is <= z, keeping the tail
// segment. Called after a snapshot at z is durable.
func (l *TxnLog) Compact(z zxid.Zxid) error {
	removed := false
	for len(l.segs) > 1 && l.segs[0].last <= z {
		if err := os.Remove(l.segs[0].path); err != nil {
			return fmt.Errorf("zab: compact log: %w", err)
		}
		if len(l.durSegs) > 0 && l.durSegs[0].path == l.segs[0].path {
			l.durSegs = l.durSegs[1:]
		}
		l.segs = l.segs[1:]
		removed = true
	}
	if removed {
		return syncDir(l.dir)
	}
	return nil
}

// Close syncs and closes the log.
func (l *TxnLog) Close() error {
	if l.f == nil {
		return nil
	}
	err := l.Sync()
	if cerr := l.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("zab: close txn log: %w", cerr)
	}
	l.f = nil
	return err
}

// syncDir fsyncs a directory so that creates, renames and removes in it are
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("zab: open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("zab: fsync dir %s: %w", dir, err)
	}
	return nil
}
