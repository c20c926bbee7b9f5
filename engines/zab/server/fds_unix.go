//go:build unix

package server

import (
	"os"
	"syscall"
)

// fileDescriptors returns the open and maximum file descriptor counts, as
// ZooKeeper's mntr reports them from the JVM (zk_open_file_descriptor_count,
// zk_max_file_descriptor_count); ok is false where they cannot be read.
func fileDescriptors() (open, limit int64, ok bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, false
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		ents, err = os.ReadDir("/dev/fd")
		if err != nil {
			return 0, 0, false
		}
	}
	return int64(len(ents)), int64(rl.Cur), true
}
