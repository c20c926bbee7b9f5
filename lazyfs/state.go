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
)

const pageSize = 4096

// devIno names an inode of the backing file system.
type devIno struct{ dev, ino uint64 }

// dirty is a file written since its last fsync: its durable size and the
// durable content of the pages written over (the part of them below that
// size), kept the first time each page is touched.
type dirty struct {
	fd      int // a descriptor of its own, valid across renames and unlinks
	size    int64
	pages   map[int64][]byte
	written int64
}

// jop is one namespace operation not yet made durable, with what undoes it.
type jop struct {
	kind  string // "created", "moved", "exchanged", "removed"
	path  string // created, removed: the entry; moved, exchanged: the source
	to    string // moved, exchanged: the destination
	trash string // removed: where the entry's inode waits ("" for a directory)
	mode  uint32 // removed directory: its mode
}

// state is what is not durable: dirty files and the namespace journal.
// mu guards it and is held across each operation that changes the backing
// directory, so that the journal's order is the operations' order.
type state struct {
	mu      sync.Mutex
	backing string
	dir     string // the mount point, to name files in Lost
	trash   string
	files   map[devIno]*dirty
	journal []jop
	seq     int
}

func newState(backing, dir, trash string) *state {
	return &state{backing: backing, dir: dir, trash: trash, files: map[devIno]*dirty{}}
}

func keyOf(fd int) (devIno, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return devIno{}, err
	}
	return devIno{uint64(st.Dev), st.Ino}, nil
}

// record returns fd's file's dirty record, making one (durable size = the
// size now) on its first write since its last fsync.
func (s *state) record(fd int) (*dirty, error) {
	k, err := keyOf(fd)
	if err != nil {
		return nil, err
	}
	if d := s.files[k]; d != nil {
		return d, nil
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, err
	}
	// A descriptor of our own, opened for writing: the caller's may be
	// read-only (a truncate by path) or closed before the rollback.
	own, err := syscall.Open("/proc/self/fd/"+strconv.Itoa(fd), syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	d := &dirty{fd: own, size: st.Size, pages: map[int64][]byte{}}
	s.files[k] = d
	return d, nil
}

// touch records that [off, off+n) of fd's file is about to change: it
// keeps the durable content of the pages there.
func (s *state) touch(fd int, off, n int64) error {
	d, err := s.record(fd)
	if err != nil {
		return err
	}
	d.written += n
	end := min(off+n, d.size)
	for p := off / pageSize; p*pageSize < end; p++ {
		if _, ok := d.pages[p]; ok {
			continue
		}
		buf := make([]byte, min(pageSize, d.size-p*pageSize))
		if _, err := syscall.Pread(d.fd, buf, p*pageSize); err != nil {
			return err
		}
		d.pages[p] = buf
	}
	return nil
}

// truncate records that fd's file is about to get size size.
func (s *state) truncate(fd int, size int64) error {
	d, err := s.record(fd)
	if err != nil {
		return err
	}
	if size < d.size {
		return s.touch(fd, size, d.size-size)
	}
	return nil
}

// synced makes fd's file's data durable, and with it every namespace
// operation so far (a journal commits in order, as ext4's does).
func (s *state) synced(fd int) error {
	k, err := keyOf(fd)
	if err != nil {
		return err
	}
	var errs []error
	if d := s.files[k]; d != nil {
		errs = append(errs, syscall.Close(d.fd))
		delete(s.files, k)
	}
	errs = append(errs, s.commitJournal())
	return errors.Join(errs...)
}

// commitJournal makes the namespace operations durable: the inodes of
// removed entries are let go.
func (s *state) commitJournal() error {
	var errs []error
	for _, j := range s.journal {
		if j.kind == "removed" && j.trash != "" {
			if err := os.Remove(j.trash); err != nil {
				errs = append(errs, err)
			}
		}
	}
	s.journal = nil
	return errors.Join(errs...)
}

// commitAll makes everything durable.
func (s *state) commitAll() error {
	var errs []error
	for k, d := range s.files {
		errs = append(errs, syscall.Close(d.fd))
		delete(s.files, k)
	}
	errs = append(errs, s.commitJournal())
	return errors.Join(errs...)
}

// rollback undoes everything not durable: each dirty file gets its
// durable pages and size back, and the journal is undone newest first.
func (s *state) rollback() (Lost, error) {
	var lost Lost
	var errs []error
	for k, d := range s.files {
		lost.Files++
		lost.Bytes += d.written
		lost.Paths = append(lost.Paths, s.name(d.fd))
		for p, b := range d.pages {
			if _, err := syscall.Pwrite(d.fd, b, p*pageSize); err != nil {
				errs = append(errs, fmt.Errorf("lazyfs: restore page: %w", err))
			}
		}
		if err := syscall.Ftruncate(d.fd, d.size); err != nil {
			errs = append(errs, fmt.Errorf("lazyfs: restore size: %w", err))
		}
		errs = append(errs, syscall.Fsync(d.fd), syscall.Close(d.fd))
		delete(s.files, k)
	}
	for i := len(s.journal) - 1; i >= 0; i-- {
		j := s.journal[i]
		lost.Ops++
		var err error
		switch j.kind {
		case "created":
			err = os.Remove(j.path)
		case "moved":
			err = syscall.Rename(j.to, j.path)
		case "exchanged":
			err = renameat2(j.path, j.to, renameExchange)
		case "removed":
			if j.trash != "" {
				err = syscall.Rename(j.trash, j.path)
			} else {
				err = os.Mkdir(j.path, os.FileMode(j.mode&0o7777))
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("lazyfs: undo %s %s: %w", j.kind, s.show(j.path), err))
		}
	}
	s.journal = nil
	slices.Sort(lost.Paths)
	return lost, errors.Join(errs...)
}

// name is the path of fd's file relative to the mount point ("(deleted)"
// for an unlinked one).
func (s *state) name(fd int) string {
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "?"
	}
	if r, err := filepath.Rel(s.dir, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return filepath.Base(p)
}

// show names a backing path for messages, relative to the mount.
func (s *state) show(p string) string {
	if r, err := filepath.Rel(s.backing, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// trashPath is a fresh name in the trash.
func (s *state) trashPath() string {
	s.seq++
	return filepath.Join(s.trash, strconv.Itoa(s.seq))
}

func (s *state) log(j jop) { s.journal = append(s.journal, j) }
