package lazyfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"coordlab/proctest"

	"golang.org/x/sys/unix"
)

// TestMain makes the test binary the acker (proctest.MaybeAcker), or a
// lab process that dies mounted (LAZYFS_MOUNT).
func TestMain(m *testing.M) {
	proctest.MaybeAcker()
	if dir := os.Getenv("LAZYFS_MOUNT"); dir != "" { // a lab process that dies mounted
		if _, err := Mount(dir); err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		fmt.Println("mounted")
		select {}
	}
	os.Exit(m.Run())
}

// needFUSE skips without root or /dev/fuse (and fails under CI=true).
func needFUSE(t *testing.T) {
	t.Helper()
	proctest.Need(t, os.Geteuid() == 0, "root (to mount FUSE)")
	_, err := os.Stat("/dev/fuse")
	proctest.Need(t, err == nil, "/dev/fuse")
}

// mount mounts a fresh directory, seeded with files (durable), and
// unmounts it when the test ends, checking nothing is left behind.
func mount(t *testing.T, files map[string]string) (string, *FS) {
	t.Helper()
	needFUSE(t)
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Mount(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
		ms, err := Mounted()
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(ms, dir) {
			t.Errorf("%s still mounted after Unmount", dir)
		}
		if _, err := os.Stat(f.trash); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("trash %s left behind: %v", f.trash, err)
		}
	})
	ms, err := Mounted()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ms, dir) {
		t.Fatalf("%s not among the lazyfs mounts %v", dir, ms)
	}
	return dir, f
}

func write(t *testing.T, path, content string, flag int, fsync bool) {
	t.Helper()
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if fsync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
}

func lose(t *testing.T, f *FS) Lost {
	t.Helper()
	l, err := f.Lose()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("lost %v", l)
	return l
}

// want checks path's content; "-" for "does not exist".
func want(t *testing.T, path, content string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if content == "-" {
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: want it gone, got %q, %v", filepath.Base(path), b, err)
		}
		return
	}
	if err != nil {
		t.Errorf("%s: want %q, got %v", filepath.Base(path), content, err)
		return
	}
	if string(b) != content {
		t.Errorf("%s: want %q, got %q", filepath.Base(path), content, b)
	}
}

func TestWriteWithoutFsyncIsLost(t *testing.T) {
	dir, f := mount(t, map[string]string{"old": "durable"})
	write(t, filepath.Join(dir, "old"), "OVERWRITTEN and longer", os.O_WRONLY, false)
	write(t, filepath.Join(dir, "old"), "+appended", os.O_WRONLY|os.O_APPEND, false)
	write(t, filepath.Join(dir, "new"), "never synced", os.O_CREATE|os.O_WRONLY, false)
	want(t, filepath.Join(dir, "old"), "OVERWRITTEN and longer+appended")
	l := lose(t, f)
	want(t, filepath.Join(dir, "old"), "durable")
	want(t, filepath.Join(dir, "new"), "-")
	if l.Files != 2 || l.Ops != 1 || !slices.Equal(l.Paths, []string{"new", "old"}) {
		t.Errorf("lost %+v: want the 2 files and 1 op (the create)", l)
	}
	// The mount works again after the loss, and the backing directory
	// holds the same.
	write(t, filepath.Join(dir, "again"), "x", os.O_CREATE|os.O_WRONLY, true)
	want(t, filepath.Join(dir, "again"), "x")
}

func TestWriteWithFsyncIsKept(t *testing.T) {
	dir, f := mount(t, map[string]string{"old": "durable"})
	write(t, filepath.Join(dir, "old"), "synced", os.O_WRONLY|os.O_TRUNC, true)
	write(t, filepath.Join(dir, "new"), "synced too", os.O_CREATE|os.O_WRONLY, true)
	if l := lose(t, f); l.Files != 0 || l.Bytes != 0 || l.Ops != 0 {
		t.Errorf("lost %+v after fsyncs: want nothing", l)
	}
	want(t, filepath.Join(dir, "old"), "synced")
	want(t, filepath.Join(dir, "new"), "synced too")
}

func TestFsyncKeepsOnlyThatFile(t *testing.T) {
	dir, f := mount(t, map[string]string{"a": "a0", "b": "b0"})
	write(t, filepath.Join(dir, "a"), "a1", os.O_WRONLY, false)
	write(t, filepath.Join(dir, "b"), "b1", os.O_WRONLY, false)
	// fsync a through a second descriptor: the data is the file's.
	write(t, filepath.Join(dir, "a"), "", os.O_WRONLY, true)
	lose(t, f)
	want(t, filepath.Join(dir, "a"), "a1")
	want(t, filepath.Join(dir, "b"), "b0")
}

func TestOSyncWritesAreDurable(t *testing.T) {
	dir, f := mount(t, nil)
	write(t, filepath.Join(dir, "log"), "dsync", os.O_CREATE|os.O_WRONLY|syscall.O_DSYNC, false)
	lose(t, f)
	want(t, filepath.Join(dir, "log"), "dsync")
}

// An entry committed by another file's fsync keeps its name but not its
// unsynced data: ext4's zero-length file.
func TestCommittedCreateWithoutDataComesBackEmpty(t *testing.T) {
	dir, f := mount(t, nil)
	write(t, filepath.Join(dir, "x"), "never synced", os.O_CREATE|os.O_WRONLY, false)
	write(t, filepath.Join(dir, "y"), "synced", os.O_CREATE|os.O_WRONLY, true)
	lose(t, f)
	want(t, filepath.Join(dir, "x"), "")
	want(t, filepath.Join(dir, "y"), "synced")
}

func TestTruncateIsRolledBack(t *testing.T) {
	long := strings.Repeat("0123456789", 1000) // 10000 bytes: three pages
	dir, f := mount(t, map[string]string{"f": long})
	p := filepath.Join(dir, "f")
	if err := os.Truncate(p, 100); err != nil {
		t.Fatal(err)
	}
	g, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.WriteAt([]byte("hole"), 5000); err != nil {
		t.Fatal(err)
	}
	g.Close()
	lose(t, f)
	want(t, p, long)
}

func TestUnsyncedRenameAndUnlinkAreUndone(t *testing.T) {
	dir, f := mount(t, map[string]string{"target": "old target", "victim": "victim", "sub/keep": "k"})
	// The classic replace without fsync: write a temporary, rename it
	// over the target.
	write(t, filepath.Join(dir, "tmp"), "new target", os.O_CREATE|os.O_WRONLY, false)
	if err := os.Rename(filepath.Join(dir, "tmp"), filepath.Join(dir, "target")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "victim")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "sub"), filepath.Join(dir, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "newdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	want(t, filepath.Join(dir, "target"), "new target")
	want(t, filepath.Join(dir, "victim"), "-")
	l := lose(t, f)
	want(t, filepath.Join(dir, "target"), "old target")
	want(t, filepath.Join(dir, "tmp"), "-")
	want(t, filepath.Join(dir, "victim"), "victim")
	want(t, filepath.Join(dir, "sub/keep"), "k")
	want(t, filepath.Join(dir, "moved/keep"), "-")
	if _, err := os.Stat(filepath.Join(dir, "newdir")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("newdir: want it gone, got %v", err)
	}
	if l.Ops != 6 { // create tmp, keep target, rename, unlink, rename dir, mkdir
		t.Errorf("lost %+v: want 6 ops", l)
	}
}

func TestRenameAndUnlinkAfterFsyncAreKept(t *testing.T) {
	dir, f := mount(t, map[string]string{"target": "old target", "victim": "victim", "empty/.keep": ""})
	write(t, filepath.Join(dir, "tmp"), "new target", os.O_CREATE|os.O_WRONLY, true)
	if err := os.Rename(filepath.Join(dir, "tmp"), filepath.Join(dir, "target")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "victim")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "empty/.keep")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "empty")); err != nil {
		t.Fatal(err)
	}
	if err := proctest.SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	if l := lose(t, f); l.Files != 0 || l.Bytes != 0 || l.Ops != 0 {
		t.Errorf("lost %+v after the directory's fsync: want nothing", l)
	}
	want(t, filepath.Join(dir, "target"), "new target")
	want(t, filepath.Join(dir, "victim"), "-")
	want(t, filepath.Join(dir, "empty/.keep"), "-")
	// The committed unlinks let their inodes go: the trash is empty.
	if es, err := os.ReadDir(f.trash); err != nil || len(es) != 0 {
		t.Errorf("trash after commit: %v, %v: want empty", es, err)
	}
}

// acked runs the acker on the mount until it has acknowledged n records,
// SIGKILLs it, and returns the records it acknowledged.
func acked(t *testing.T, dir string, fsync bool, n int) []int {
	t.Helper()
	env := append(os.Environ(), proctest.AckerCommand(filepath.Join(dir, "log"), fsync)...)
	p := proctest.StartWith(t, os.Args[0], []string{"-test.run=^$"}, proctest.Options{Env: env})
	deadline := time.Now().Add(30 * time.Second)
	for len(proctest.AckerAcks(p.Output())) < n {
		if time.Now().After(deadline) {
			t.Fatalf("acker acknowledged fewer than %d records in 30s; output:\n%s", n, p.Output())
		}
		if ok, _ := p.Exited(); ok {
			t.Fatalf("acker exited: %s", p.Output())
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Kill()
	return proctest.AckerAcks(p.Output())
}

// lostAcks counts the acknowledged records missing from the mount's log.
func lostAcks(dir string, acks []int) int {
	return proctest.AckerLost(acks, proctest.AckerRecords(filepath.Join(dir, "log")))
}

// TestLoseCatchesAMissingFsync is what the fault is for: a program that
// acknowledges before fsync loses acknowledged records when it is killed
// and its unsynced data dropped, though a kill alone loses none; the same
// program with fsync loses nothing.
func TestLoseCatchesAMissingFsync(t *testing.T) {
	t.Run("kill alone", func(t *testing.T) {
		dir, _ := mount(t, nil)
		acks := acked(t, dir, false, 50)
		if m := lostAcks(dir, acks); m != 0 {
			t.Errorf("a SIGKILL alone lost %d of %d acknowledged records: the page cache should keep them", m, len(acks))
		}
	})
	t.Run("without fsync", func(t *testing.T) {
		dir, f := mount(t, nil)
		acks := acked(t, dir, false, 50)
		lose(t, f)
		if m := lostAcks(dir, acks); m == 0 {
			t.Errorf("no acknowledged record lost of %d: the loss did not catch the missing fsync", len(acks))
		}
	})
	t.Run("with fsync", func(t *testing.T) {
		dir, f := mount(t, nil)
		acks := acked(t, dir, true, 50)
		lose(t, f)
		if m := lostAcks(dir, acks); m != 0 {
			t.Errorf("%d of %d acknowledged and fsynced records lost", m, len(acks))
		}
	})
}

func TestMountsOfType(t *testing.T) {
	info := `22 1 0:21 / /proc rw,nosuid - proc proc rw
90 29 0:55 / /tmp/run\040dir/nodes/n1/data rw,nosuid,nodev,relatime shared:50 - fuse.lazyfs lazyfs:/tmp/x rw,user_id=0,group_id=0
91 29 0:56 / /mnt/other rw - fuse.sshfs host: rw
`
	got := mountsOfType(info, FSType)
	if !slices.Equal(got, []string{"/tmp/run dir/nodes/n1/data"}) {
		t.Errorf("mountsOfType = %q", got)
	}
}

// TestSweepDeadUnmountsWhatACrashLeft: a process killed while it serves
// a mount leaves it dead (ENOTCONN); SweepDead unmounts it, and leaves
// live mounts alone.
func TestSweepDeadUnmountsWhatACrashLeft(t *testing.T) {
	live, _ := mount(t, nil)
	dead := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dead, 0o755); err != nil {
		t.Fatal(err)
	}
	p := proctest.StartWith(t, os.Args[0], []string{"-test.run=^$"}, proctest.Options{Env: append(os.Environ(), "LAZYFS_MOUNT="+dead)})
	t.Cleanup(func() { syscall.Unmount(dead, syscall.MNT_DETACH) }) // should the sweep fail
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.Output(), "mounted") {
		if ok, _ := p.Exited(); ok || time.Now().After(deadline) {
			t.Fatalf("helper did not mount: %s", p.Output())
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Kill()
	var st syscall.Stat_t
	if err := syscall.Stat(dead, &st); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("stat of the dead mount: %v, want ENOTCONN", err)
	}
	// Another test process's sweep (a run's) may take it first.
	before, err := Mounted()
	if err != nil {
		t.Fatal(err)
	}
	swept, err := SweepDead()
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(swept, live) || (slices.Contains(before, dead) && !slices.Contains(swept, dead)) {
		t.Errorf("SweepDead = %v, want %s and not the live %s", swept, dead, live)
	}
	ms, err := Mounted()
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(ms, dead) || !slices.Contains(ms, live) {
		t.Errorf("mounts after the sweep: %v", ms)
	}
	if err := syscall.Stat(dead, &st); err != nil {
		t.Errorf("stat after the sweep: %v", err)
	}
}

// BenchmarkAppendFsync appends 256 bytes and fsyncs, on a plain directory
// and through lazyfs: what the mount costs a WAL.
func BenchmarkAppendFsync(b *testing.B) {
	for _, lazy := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "lazyfs"}[lazy], func(b *testing.B) {
			proctest.Need(b, !lazy || Unavailable() == "", "root and /dev/fuse")
			dir := filepath.Join(b.TempDir(), "data")
			if err := os.Mkdir(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			if lazy {
				fs, err := Mount(dir)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { fs.Unmount() })
			}
			f, err := os.OpenFile(filepath.Join(dir, "wal"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			rec := make([]byte, 256)
			for b.Loop() {
				if _, err := f.Write(rec); err != nil {
					b.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestLinksExchangeAndDirReplaceAreUndone covers the rarer namespace
// operations: hard link, symlink, RENAME_EXCHANGE, and a directory renamed
// over an empty one.
func TestLinksExchangeAndDirReplaceAreUndone(t *testing.T) {
	dir, f := mount(t, map[string]string{"a": "A", "b": "B", "d1/x": "x", "d2/.keep": ""})
	p := func(name string) string { return filepath.Join(dir, name) }
	if err := os.Link(p("a"), p("hard")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a", p("soft")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Renameat2(unix.AT_FDCWD, p("a"), unix.AT_FDCWD, p("b"), unix.RENAME_EXCHANGE); err != nil {
		t.Fatal(err)
	}
	want(t, p("a"), "B")
	if err := os.Remove(p("d2/.keep")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Rename(p("d1"), p("d2")); err != nil { // os.Rename refuses any directory target
		t.Fatal(err)
	}
	want(t, p("d2/x"), "x")
	lose(t, f)
	want(t, p("a"), "A")
	want(t, p("b"), "B")
	want(t, p("hard"), "-")
	if _, err := os.Lstat(p("soft")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("soft: want it gone, got %v", err)
	}
	want(t, p("d1/x"), "x")
	want(t, p("d2/.keep"), "")
	want(t, p("d2/x"), "-")
}
