//go:build !linux

package server

import "os"

func fdatasync(f *os.File) error { return f.Sync() }
