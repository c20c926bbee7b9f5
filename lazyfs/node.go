package lazyfs

import (
	"context"
	"os"
	"path/filepath"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// node is go-fuse's loopback node with the operations that change the
// backing directory recorded in the state.
type node struct {
	*fs.LoopbackNode
	st *state
}

var (
	_ fs.NodeWrapChilder     = (*node)(nil)
	_ fs.NodeCreater         = (*node)(nil)
	_ fs.NodeOpener          = (*node)(nil)
	_ fs.NodeOpendirHandler  = (*node)(nil)
	_ fs.NodeMkdirer         = (*node)(nil)
	_ fs.NodeMknoder         = (*node)(nil)
	_ fs.NodeSymlinker       = (*node)(nil)
	_ fs.NodeLinker          = (*node)(nil)
	_ fs.NodeUnlinker        = (*node)(nil)
	_ fs.NodeRmdirer         = (*node)(nil)
	_ fs.NodeRenamer         = (*node)(nil)
	_ fs.NodeSetattrer       = (*node)(nil)
	_ fs.NodeCopyFileRanger  = (*node)(nil)
	_ fs.FileWriter          = (*file)(nil)
	_ fs.FileWritever        = (*file)(nil)
	_ fs.FileFsyncer         = (*file)(nil)
	_ fs.FileSetattrer       = (*file)(nil)
	_ fs.FileAllocater       = (*file)(nil)
	_ fs.FileIoctler         = (*file)(nil)
	_ fs.FilePassthroughFder = (*file)(nil)
	_ fs.FileFsyncdirer      = (*dirHandle)(nil)
)

// WrapChild makes every node of the tree one of ours.
func (n *node) WrapChild(_ context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	return &node{LoopbackNode: ops.(*fs.LoopbackNode), st: n.st}
}

// path is the node's path in the backing directory.
func (n *node) path() string { return filepath.Join(n.st.backing, n.Path(n.Root())) }

func (n *node) child(name string) string { return filepath.Join(n.path(), name) }

func exists(p string) bool {
	var st syscall.Stat_t
	return syscall.Lstat(p, &st) == nil
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	n.st.mu.Lock()
	defer n.st.mu.Unlock()
	p := n.child(name)
	existed := exists(p)
	ch, fh, ff, errno := n.LoopbackNode.Create(ctx, name, flags&^syscall.O_TRUNC, mode, out)
	if errno != 0 {
		return ch, fh, ff, errno
	}
	if !existed {
		n.st.log(jop{kind: "created", path: p})
	}
	f := newFile(fh, n.st, flags)
	if flags&syscall.O_TRUNC != 0 && existed {
		if errno := f.truncateLocked(0); errno != 0 {
			return ch, f, ff, errno
		}
		out.Attr.Size = 0
	}
	return ch, f, ff, 0
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_TRUNC == 0 {
		fh, ff, errno := n.LoopbackNode.Open(ctx, flags)
		if errno != 0 {
			return fh, ff, errno
		}
		return newFile(fh, n.st, flags), ff, 0
	}
	n.st.mu.Lock()
	defer n.st.mu.Unlock()
	fh, ff, errno := n.LoopbackNode.Open(ctx, flags&^syscall.O_TRUNC)
	if errno != 0 {
		return fh, ff, errno
	}
	f := newFile(fh, n.st, flags)
	if errno := f.truncateLocked(0); errno != 0 {
		f.Release(ctx)
		return nil, 0, errno
	}
	return f, ff, 0
}

// created logs p as a new entry when the operation made one.
func (n *node) created(p string, errno syscall.Errno) {
	if errno == 0 {
		n.st.log(jop{kind: "created", path: p})
	}
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	n.st.mu.Lock()
	defer n.st.mu.Unlock()
	ch, errno := n.LoopbackNode.Mkdir(ctx, name, mode, out)
	n.created(n.child(name), errno)
	return ch, errno
}

func (n *node) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	n.st.mu.Lock()
	defer n.st.mu.Unlock()
	ch, errno := n.LoopbackNode.Mknod(ctx, name, mode, rdev, out)
	n.created(n.child(name), errno)
	return ch, errno
}

func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	n.st.mu.Lock()
	defer n.st.mu.Unlock()
	ch, errno := n.LoopbackNode.Symlink(ctx, target, name, out)
	n.created(n.child(name), errno)
	return ch, errno
}

func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	n.st.mu.Lock()
	defer n.st.mu.Unlock()
	ch, errno := n.LoopbackNode.Link(ctx, target, name, out)
	n.created(n.child(name), errno)
	return ch, errno
}

// keep hard-links the non-directory at p into the trash, so that removing
// or replacing p can be undone; "" when there is nothing to keep.
func (n *node) keep(p string) (string, syscall.Errno) {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil || st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		return "", 0
	}
	t := n.st.trashPath()
	if err := syscall.Link(p, t); err != nil {
		return "", fs.ToErrno(err)
	}
	return t, 0
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	n.st.mu.Lock()
	defer n.st.mu.Unlock()
	p := n.child(name)
	t, errno := n.keep(p)
	if errno != 0 {
		return errno
	}
	if errno := n.LoopbackNode.Unlink(ctx, name); errno != 0 {
		if t != "" {
			os.Remove(t)
		}
		return errno
	}
	if t != "" {
		n.st.log(jop{kind: "removed", path: p, trash: t})
	}
	return 0
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	n.st.mu.Lock()
	defer n.st.mu.Unlock()
	p := n.child(name)
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return fs.ToErrno(err)
	}
	if errno := n.LoopbackNode.Rmdir(ctx, name); errno != 0 {
		return errno
	}
	n.st.log(jop{kind: "removed", path: p, mode: st.Mode})
	return 0
}

// renameExchange is RENAME_EXCHANGE.
const renameExchange = unix.RENAME_EXCHANGE

func renameat2(from, to string, flags uint) error {
	return unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, flags)
}

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	n.st.mu.Lock()
	defer n.st.mu.Unlock()
	p1, p2 := n.child(name), np.child(newName)
	switch flags {
	case unix.RENAME_EXCHANGE:
		if errno := n.LoopbackNode.Rename(ctx, name, np.LoopbackNode, newName, flags); errno != 0 {
			return errno
		}
		n.st.log(jop{kind: "exchanged", path: p1, to: p2})
		return 0
	case 0, unix.RENAME_NOREPLACE:
	default:
		return syscall.EINVAL
	}
	var s1, s2 syscall.Stat_t
	if err := syscall.Lstat(p1, &s1); err != nil {
		return fs.ToErrno(err)
	}
	var t string
	var dirMode uint32
	replaced := false
	if err := syscall.Lstat(p2, &s2); err == nil && flags == 0 {
		if s1.Dev == s2.Dev && s1.Ino == s2.Ino {
			return 0 // the same inode: rename does nothing
		}
		replaced = true
		if s2.Mode&syscall.S_IFMT == syscall.S_IFDIR {
			dirMode = s2.Mode
		} else {
			var errno syscall.Errno
			if t, errno = n.keep(p2); errno != 0 {
				return errno
			}
		}
	}
	if errno := n.LoopbackNode.Rename(ctx, name, np.LoopbackNode, newName, flags); errno != 0 {
		if t != "" {
			os.Remove(t)
		}
		return errno
	}
	if replaced {
		n.st.log(jop{kind: "removed", path: p2, trash: t, mode: dirMode})
	}
	n.st.log(jop{kind: "moved", path: p1, to: p2})
	return 0
}

func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if _, ok := f.(*file); ok {
		return n.LoopbackNode.Setattr(ctx, f, in, out) // the file's Setattr records
	}
	size, ok := in.GetSize()
	if !ok {
		return n.LoopbackNode.Setattr(ctx, f, in, out)
	}
	n.st.mu.Lock()
	defer n.st.mu.Unlock()
	fd, err := syscall.Open(n.path(), syscall.O_WRONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fs.ToErrno(err)
	}
	err = n.st.truncate(fd, int64(size))
	syscall.Close(fd)
	if err != nil {
		return fs.ToErrno(err)
	}
	return n.LoopbackNode.Setattr(ctx, f, in, out)
}

// CopyFileRange is refused, so that the kernel copies with reads and
// writes, which are recorded.
func (n *node) CopyFileRange(context.Context, fs.FileHandle, uint64, *fs.Inode, fs.FileHandle, uint64, uint64, uint64) (uint32, syscall.Errno) {
	return 0, syscall.ENOTSUP
}

// dirOps is what go-fuse uses of a loopback directory handle.
type dirOps interface {
	fs.FileReaddirenter
	fs.FileSeekdirer
	fs.FileReleasedirer
}

// dirHandle is a directory handle whose fsync commits the journal.
type dirHandle struct {
	dirOps
	st *state
}

func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, ff, errno := n.LoopbackNode.OpendirHandle(ctx, flags)
	if errno != 0 {
		return fh, ff, errno
	}
	ops, ok := fh.(dirOps)
	if !ok {
		return nil, 0, syscall.ENOTSUP
	}
	return &dirHandle{dirOps: ops, st: n.st}, ff, 0
}

func (d *dirHandle) Fsyncdir(context.Context, uint32) syscall.Errno {
	d.st.mu.Lock()
	defer d.st.mu.Unlock()
	return fs.ToErrno(d.st.commitJournal())
}

// file is a loopback file whose writes are recorded.
type file struct {
	*fs.LoopbackFile
	st *state
	// dsync: opened O_SYNC or O_DSYNC, each write is durable.
	dsync bool
}

func newFile(fh fs.FileHandle, st *state, flags uint32) *file {
	return &file{LoopbackFile: fh.(*fs.LoopbackFile), st: st, dsync: flags&(syscall.O_SYNC|syscall.O_DSYNC) != 0}
}

func (f *file) fd() int {
	fd, _ := f.LoopbackFile.PassthroughFd()
	return fd
}

// PassthroughFd is refused: passthrough would bypass the recording.
func (f *file) PassthroughFd() (int, bool) { return 0, false }

func (f *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	return f.Writev(ctx, [][]byte{data}, off)
}

func (f *file) Writev(ctx context.Context, data [][]byte, off int64) (uint32, syscall.Errno) {
	var n int64
	for _, d := range data {
		n += int64(len(d))
	}
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	if err := f.st.touch(f.fd(), off, n); err != nil {
		return 0, fs.ToErrno(err)
	}
	w, errno := f.LoopbackFile.Writev(ctx, data, off)
	if errno == 0 && f.dsync {
		errno = f.syncLocked(true)
	}
	return w, errno
}

// syncLocked makes the file durable: on the backing disk too (fdatasync
// or fsync, as asked), and in the state.
func (f *file) syncLocked(dataOnly bool) syscall.Errno {
	sync := syscall.Fsync
	if dataOnly {
		sync = syscall.Fdatasync
	}
	if err := sync(f.fd()); err != nil {
		return fs.ToErrno(err)
	}
	return fs.ToErrno(f.st.synced(f.fd()))
}

// fsyncDataOnly is FUSE's FUSE_FSYNC_FDATASYNC flag: fdatasync, not fsync.
const fsyncDataOnly = 1

func (f *file) Fsync(_ context.Context, flags uint32) syscall.Errno {
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	return f.syncLocked(flags&fsyncDataOnly != 0)
}

func (f *file) truncateLocked(size int64) syscall.Errno {
	if err := f.st.truncate(f.fd(), size); err != nil {
		return fs.ToErrno(err)
	}
	return fs.ToErrno(syscall.Ftruncate(f.fd(), size))
}

func (f *file) Setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if size, ok := in.GetSize(); ok {
		f.st.mu.Lock()
		defer f.st.mu.Unlock()
		if err := f.st.truncate(f.fd(), int64(size)); err != nil {
			return fs.ToErrno(err)
		}
	}
	return f.LoopbackFile.Setattr(ctx, in, out)
}

func (f *file) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	f.st.mu.Lock()
	defer f.st.mu.Unlock()
	d, err := f.st.record(f.fd())
	if err != nil {
		return fs.ToErrno(err)
	}
	// Allocating changes no data, at most the size; punching, zeroing,
	// collapsing or inserting may change any byte from off on.
	if mode&^unix.FALLOC_FL_KEEP_SIZE != 0 && int64(off) < d.size {
		if err := f.st.touch(f.fd(), int64(off), d.size-int64(off)); err != nil {
			return fs.ToErrno(err)
		}
	}
	return f.LoopbackFile.Allocate(ctx, off, size, mode)
}

// Ioctl is refused: an ioctl may write (FICLONE) behind the recording.
func (f *file) Ioctl(context.Context, uint32, uint64, []byte, []byte) (int32, syscall.Errno) {
	return 0, syscall.ENOTTY
}
