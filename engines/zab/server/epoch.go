package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Epoch files: DataDir/acceptedEpoch and DataDir/currentEpoch hold a decimal
// number, as ZooKeeper's do. They are replaced atomically (write temp, fsync,
// rename, fsync dir) so a crash leaves the old or the new value, never a torn
// one (ZOOKEEPER-1653).

const (
	acceptedEpochFile = "acceptedEpoch"
	currentEpochFile  = "currentEpoch"
)

// WriteEpochFile durably replaces dataDir/name with value.
func WriteEpochFile(dataDir, name string, value uint32) error {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("zab: create data dir: %w", err)
	}
	final := filepath.Join(dataDir, name)
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("zab: write %s: %w", name, err)
	}
	_, err = f.WriteString(strconv.FormatUint(uint64(value), 10) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("zab: write %s: %w", name, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("zab: rename %s: %w", name, err)
	}
	return syncDir(dataDir)
}

// ReadEpochFile reads dataDir/name; a missing file is epoch 0.
func ReadEpochFile(dataDir, name string) (uint32, error) {
	p := filepath.Join(dataDir, name)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("zab: read %s: %w", p, err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return 0, &CorruptError{Path: p, Offset: 0, Reason: fmt.Sprintf("want a decimal epoch, got %q", strings.TrimSpace(string(b)))}
	}
	return uint32(n), nil
}
