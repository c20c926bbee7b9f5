package wal

import (
	"os"
	"syscall"
)

// fdatasync flushes data (and the metadata needed to read it back); segments are
// preallocated, so appends do not change the file size and need no inode flush.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

// preallocate reserves size bytes so that later writes do not extend the file.
func preallocate(f *os.File, size int64) error {
	err := syscall.Fallocate(int(f.Fd()), 0, 0, size)
	if err == syscall.EOPNOTSUPP || err == syscall.ENOSYS {
		return f.Truncate(size)
	}
	return err
}
