package proctest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// AckerEnv names the file a test binary's TestMain hands to RunAcker when
// it is set; AckerFsyncEnv=1 makes the acker fsync.
const (
	AckerEnv      = "PROCTEST_ACKER"
	AckerFsyncEnv = "PROCTEST_ACKER_FSYNC"
)

// AckerCommand is the environment that makes a test binary (os.Args[0],
// run with -test.run=^$) the acker on path.
func AckerCommand(path string, fsync bool) []string {
	return []string{AckerEnv + "=" + path, AckerFsyncEnv + "=" + strconv.FormatBool(fsync)}
}

// MaybeAcker runs the acker and exits when the environment asks for it
// (AckerCommand); TestMain calls it first.
func MaybeAcker() {
	if path := os.Getenv(AckerEnv); path != "" {
		os.Exit(runAcker(path, os.Getenv(AckerFsyncEnv) == "true"))
	}
}

// runAcker is the smallest storage program: it appends numbered records
// ("record <i>") to path and prints "ack <i>" once each is written and,
// with fsync, fsynced (the file, and its directory once at the start),
// until killed. Without fsync it is the program that acknowledges before
// its data is durable, which only a fault that drops unsynced data can
// catch.
func runAcker(path string, fsync bool) int {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Println(err)
		return 2
	}
	if fsync {
		if err := SyncDir(filepath.Dir(path)); err != nil {
			fmt.Println(err)
			return 2
		}
	}
	// A restart goes on after the records already there.
	next := 0
	for i := range AckerRecords(path) {
		next = max(next, i+1)
	}
	for i := next; ; i++ {
		if _, err := fmt.Fprintf(f, "record %d\n", i); err != nil {
			fmt.Println(err)
			return 2
		}
		if fsync {
			if err := f.Sync(); err != nil {
				fmt.Println(err)
				return 2
			}
		}
		fmt.Printf("ack %d\n", i)
		time.Sleep(time.Millisecond)
	}
}

// SyncDir fsyncs a directory.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// AckerRecords reads the record numbers in an acker's file (none when it
// does not exist).
func AckerRecords(path string) map[int]bool {
	out := map[int]bool{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if i, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "record ")); err == nil {
			out[i] = true
		}
	}
	return out
}

// AckerAcks returns the record numbers an acker's output acknowledged.
func AckerAcks(output string) []int {
	var out []int
	for line := range strings.Lines(output) {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "ack "); ok {
			if i, err := strconv.Atoi(s); err == nil {
				out = append(out, i)
			}
		}
	}
	return out
}

// AckerLost counts the acknowledged records missing from the file.
func AckerLost(acked []int, have map[int]bool) int {
	n := 0
	for _, i := range acked {
		if !have[i] {
			n++
		}
	}
	return n
}
