package server

import (
	"bytes"
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

// Snapshots live in DataDir/zab-snap as snapshot.<zxid, 16 hex digits>:
//
//	"ZABSNAP1" | uint64 zxid | payload | uint32 CRC-32C of everything before it
//
// The payload is whatever the runtime wrote (the znode tree and the server's
// session table). A snapshot covers every txn <= zxid; recovery loads the
// newest valid one and replays the log after it.

const (
	snapSubdir = "zab-snap"
	snapMagic  = "ZABSNAP1"
	// snapKeep is how many snapshots are kept; older ones are removed once
	// a new one is durable.
	snapKeep = 3
)

func snapDir(dataDir string) string { return filepath.Join(dataDir, snapSubdir) }

// WriteSnapshot writes a snapshot at z atomically (temp file, fsync,
// rename, fsync dir) and removes all but the newest snapKeep snapshots.
func WriteSnapshot(dataDir string, z zxid.Zxid, write func(io.Writer) error) (string, error) {
	dir := snapDir(dataDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("zab: create snapshot dir: %w", err)
	}
	final := filepath.Join(dir, fmt.Sprintf("snapshot.%016x", uint64(z)))
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return "", fmt.Errorf("zab: create snapshot: %w", err)
	}
	h := crc32.New(crcTable)
	bw := &countingWriter{w: io.MultiWriter(f, h)}
	var hdr [16]byte
	copy(hdr[:8], snapMagic)
	binary.BigEndian.PutUint64(hdr[8:], uint64(z))
	_, err = bw.Write(hdr[:])
	if err == nil {
		err = write(bw)
	}
	if err == nil {
		var tail [4]byte
		binary.BigEndian.PutUint32(tail[:], h.Sum32())
		_, err = f.Write(tail[:])
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("zab: write snapshot %s: %w", final, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("zab: rename snapshot: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return "", err
	}
	snaps, err := listSnapshots(dir)
	if err != nil {
		return final, err
	}
	for i := 0; i+snapKeep < len(snaps); i++ {
		if err := os.Remove(snaps[i].path); err != nil {
			return final, fmt.Errorf("zab: remove old snapshot: %w", err)
		}
	}
	return final, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type snapFile struct {
	path string
	zxid zxid.Zxid
}

func listSnapshots(dir string) ([]snapFile, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("zab: read snapshot dir: %w", err)
	}
	var out []snapFile
	for _, e := range ents {
		hex, ok := strings.CutPrefix(e.Name(), "snapshot.")
		if !ok || strings.HasSuffix(hex, ".tmp") {
			continue
		}
		z, err := strconv.ParseUint(hex, 16, 64)
		if err != nil {
			continue
		}
		out = append(out, snapFile{path: filepath.Join(dir, e.Name()), zxid: zxid.Zxid(z)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].zxid < out[j].zxid })
	return out, nil
}

// readSnapshotFile reads and checks one snapshot file.
func readSnapshotFile(path string) (zxid.Zxid, []byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, nil, fmt.Errorf("zab: read snapshot: %w", err)
	}
	if len(b) < 20 || !bytes.Equal(b[:8], []byte(snapMagic)) {
		return 0, nil, &CorruptError{Path: path, Offset: 0, Reason: "bad snapshot header"}
	}
	body, tail := b[:len(b)-4], b[len(b)-4:]
	if got, want := crc32.Checksum(body, crcTable), binary.BigEndian.Uint32(tail); got != want {
		return 0, nil, &CorruptError{Path: path, Offset: int64(len(b) - 4), Reason: fmt.Sprintf("snapshot checksum mismatch (stored %#x, computed %#x)", want, got)}
	}
	return zxid.Zxid(binary.BigEndian.Uint64(b[8:16])), body[16:], nil
}

// LatestSnapshot returns the newest snapshot that passes its checks, its zxid
// and payload. ok is false when there is none.
//
// A damaged snapshot is never skipped silently: falling back to an older
// one is only right when the txn log still holds every txn after it, or the
// tree would miss the txns the damaged snapshot covered. logFirst is the
// zxid of the oldest record in the txn log (0 if it is empty); the log runs
// without a gap from there, so an older snapshot at z can stand in when
// logFirst <= z. Otherwise the damaged snapshot is a *CorruptError.
func LatestSnapshot(dataDir string, logFirst zxid.Zxid, logger *slog.Logger) (z zxid.Zxid, payload []byte, ok bool, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	snaps, err := listSnapshots(snapDir(dataDir))
	if err != nil {
		return 0, nil, false, err
	}
	var damaged *CorruptError
	for i := len(snaps) - 1; i >= 0; i-- {
		z, p, err := readSnapshotFile(snaps[i].path)
		if err == nil && z != snaps[i].zxid {
			err = &CorruptError{Path: snaps[i].path, Offset: 8, Reason: fmt.Sprintf("header zxid %s but the name says %s", z.Hex(), snaps[i].zxid.Hex())}
		}
		if err != nil {
			var ce *CorruptError
			if !errors.As(err, &ce) {
				return 0, nil, false, err
			}
			if damaged == nil {
				damaged = ce
			}
			continue
		}
		if damaged != nil {
			if logFirst == 0 || logFirst > z {
				damaged.Reason += fmt.Sprintf("; the older snapshot %s cannot stand in: the txn log starts at %s, after it", snaps[i].path, logFirst.Hex())
				return 0, nil, false, damaged
			}
			logger.Warn("skipping damaged snapshot; the txn log covers the older one", "err", damaged, "using", snaps[i].path)
		}
		return z, p, true, nil
	}
	if damaged != nil {
		damaged.Reason += "; there is no older valid snapshot"
		return 0, nil, false, damaged
	}
	return 0, nil, false, nil
}
