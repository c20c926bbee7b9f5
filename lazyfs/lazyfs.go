package lazyfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// FSType is the file system type the mounts show in /proc/self/mountinfo
// ("fuse." + the FUSE name).
const FSType = "fuse.lazyfs"

// FS is one directory mounted over itself through the lazy file system.
// Its methods are safe for concurrent use.
type FS struct {
	dir   string   // the mount point, which is also the backing directory
	root  *os.File // the backing directory, opened before the mount hid it
	trash string   // where unlinked entries wait for their commit
	st    *state

	mu      sync.Mutex // serialises Lose, Sync and Unmount
	server  *fuse.Server
	unmount bool
}

// Lost is what a Lose dropped.
type Lost struct {
	// Files is how many files had data written but not fsynced; Bytes is
	// how many bytes were written to them since their last fsync.
	Files int
	Bytes int64
	// Paths names those files, relative to the mount point.
	Paths []string
	// Ops is how many namespace operations (create, mkdir, link, symlink,
	// rename, unlink, rmdir) no fsync followed: they were undone.
	Ops int
}

func (l Lost) String() string {
	s := fmt.Sprintf("%s (%d bytes written since their last fsync), %s", plural(l.Files, "file"), l.Bytes, plural(l.Ops, "namespace op"))
	if len(l.Paths) > 0 {
		const most = 5
		s += ": " + strings.Join(l.Paths[:min(len(l.Paths), most)], ", ")
		if len(l.Paths) > most {
			s += ", ..."
		}
	}
	return s
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// Mount mounts the lazy file system over dir, which must be a directory:
// its content is taken as durable, and from then on what is written
// through dir reaches the disk at once but is undone by Lose unless an
// fsync made it durable. Unlinked entries wait in a sibling directory,
// .<base>.lazyfs-trash, until a commit; Unmount removes it.
func Mount(dir string) (*FS, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("lazyfs: %s: %w", dir, err)
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("lazyfs: mount point: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("lazyfs: mount point %s: not a directory", abs)
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return nil, fmt.Errorf("lazyfs: %w: FUSE is missing here (load the fuse module; in a container, pass --device /dev/fuse --cap-add SYS_ADMIN)", err)
	}
	root, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("lazyfs: open %s: %w", abs, err)
	}
	trash := filepath.Join(filepath.Dir(abs), "."+filepath.Base(abs)+".lazyfs-trash")
	if err := os.RemoveAll(trash); err != nil {
		root.Close()
		return nil, fmt.Errorf("lazyfs: trash: %w", err)
	}
	if err := os.Mkdir(trash, 0o700); err != nil {
		root.Close()
		return nil, fmt.Errorf("lazyfs: trash: %w", err)
	}
	f := &FS{dir: abs, root: root, trash: trash}
	f.st = newState(f.backing(), abs, trash)
	if err := f.mount(); err != nil {
		root.Close()
		os.RemoveAll(trash)
		return nil, err
	}
	return f, nil
}

// backing is a path to the backing directory that the mount over it does
// not hide: the descriptor opened before mounting.
func (f *FS) backing() string { return "/proc/self/fd/" + strconv.Itoa(int(f.root.Fd())) }

// Dir is the mount point.
func (f *FS) Dir() string { return f.dir }

func (f *FS) mount() error {
	lr, err := fs.NewLoopbackRoot(f.backing())
	if err != nil {
		return fmt.Errorf("lazyfs: backing %s: %w", f.dir, err)
	}
	rootNode := &node{LoopbackNode: lr.(*fs.LoopbackNode), st: f.st}
	rootNode.RootData.RootNode = rootNode
	opts := &fs.Options{MountOptions: fuse.MountOptions{
		FsName:      "lazyfs:" + f.dir,
		Name:        "lazyfs",
		AllowOther:  os.Geteuid() == 0,
		DirectMount: os.Geteuid() == 0,
	}}
	srv, err := fs.Mount(f.dir, rootNode, opts)
	if err != nil {
		return fmt.Errorf("lazyfs: mount %s: %w", f.dir, err)
	}
	f.server = srv
	return nil
}

// Sync makes everything written so far durable, as if every file and
// directory had been fsynced.
func (f *FS) Sync() error {
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	return f.st.commitAll()
}

// Lose drops everything not made durable: it unmounts (so nothing, not
// even the kernel's caches of the mount, keeps a trace), rolls the backing
// directory back to what was fsynced, and mounts again. Whatever uses the
// mount must have let go of it first (the process killed): the unmount
// waits up to 10 s for its files to be released.
func (f *FS) Lose() (Lost, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unmount {
		return Lost{}, fmt.Errorf("lazyfs: lose %s: unmounted", f.dir)
	}
	if err := f.umount(); err != nil {
		return Lost{}, err
	}
	f.st.mu.Lock()
	lost, rerr := f.st.rollback()
	f.st.mu.Unlock()
	if err := f.mount(); err != nil {
		// Nothing is mounted any more: what Unmount would release, go.
		f.unmount = true
		return lost, errors.Join(rerr, err, f.root.Close(), os.RemoveAll(f.trash))
	}
	return lost, rerr
}

// umount unmounts, retrying while the kernel says the mount is busy, and
// waits until the server has answered its last request: a copy of the
// mount in another mount namespace (a container's bind) keeps it serving
// until that namespace is gone.
func (f *FS) umount() error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		done := make(chan error, 1)
		go func() { done <- f.server.Unmount() }() // returns once the server stops
		var err error
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			return fmt.Errorf("lazyfs: unmount %s: still served 30 s after the unmount: a process in another mount namespace (a container) still uses it", f.dir)
		}
		if err == nil {
			f.server.Wait()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lazyfs: unmount %s: %w (a process still uses it: see `fuser -vm %s`)", f.dir, err, f.dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Unmount makes everything durable (a clean shutdown loses nothing),
// unmounts and removes the trash. Safe to call twice.
func (f *FS) Unmount() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unmount {
		return nil
	}
	var errs []error
	f.st.mu.Lock()
	errs = append(errs, f.st.commitAll())
	f.st.mu.Unlock()
	if err := f.umount(); err != nil {
		// Detach it: it goes once its last user lets go.
		if derr := syscall.Unmount(f.dir, syscall.MNT_DETACH); derr != nil {
			return errors.Join(err, derr)
		}
	}
	f.unmount = true
	errs = append(errs, f.root.Close(), os.RemoveAll(f.trash))
	return errors.Join(errs...)
}

// Unavailable says why Mount cannot work here ("" when it can): it needs
// root and /dev/fuse.
func Unavailable() string {
	if os.Geteuid() != 0 {
		return "losing unsynced data mounts the data directories through FUSE, which needs root: run as root"
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return "losing unsynced data mounts the data directories through FUSE, and /dev/fuse is missing: modprobe fuse (scripts/setup.sh installs fuse3)"
	}
	return ""
}

// SweepDead unmounts the lazy file systems whose server is gone (a lab
// process killed before it could unmount): their mount point answers
// ENOTCONN. It returns the mount points it unmounted.
func SweepDead() ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("lazyfs: sweep: %w", err)
	}
	var out []string
	var errs []error
	for _, mp := range mountsOfType(string(b), FSType) {
		var st syscall.Stat_t
		if err := syscall.Stat(mp, &st); !errors.Is(err, syscall.ENOTCONN) {
			continue
		}
		if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("lazyfs: sweep %s: %w", mp, err))
			continue
		}
		out = append(out, mp)
	}
	slices.Sort(out)
	return out, errors.Join(errs...)
}

// Mounted lists the mount points of the lazy file systems mounted now.
func Mounted() ([]string, error) { return MountedIn(os.Getpid()) }

// MountedIn lists the mount points of the lazy file systems that process
// pid sees (a container's process sees the mounts its binds carried in).
func MountedIn(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("lazyfs: %w", err)
	}
	return mountsOfType(string(b), FSType), nil
}
