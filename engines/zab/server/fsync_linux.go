package server

import (
	"os"
	"syscall"
)

// fdatasync flushes file data and the metadata needed to read it back (the
// size), which is all an append-only log needs.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
