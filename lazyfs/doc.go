// Package lazyfs is a FUSE file system that forgets what was not fsynced,
// after Jepsen's LazyFS: a SIGKILL leaves the kernel's page cache intact, so
// a program that acknowledges data before fsyncing it loses nothing when
// killed; mounted over its data directory, lazyfs lets a test lose what a
// power cut would.
//
// Mount(dir) mounts the file system over dir itself: the backing directory
// is dir's own content, reached through a descriptor opened before the
// mount, so that after Unmount dir holds the data as if lazyfs had never
// been there. Every operation goes through to the backing directory at
// once (reads need no merging, and the kernel sees an ordinary loopback
// file system), and lazyfs records how to undo what is not durable yet:
//
//   - File data. The first write (or truncate, or punching fallocate) to a
//     file since its last fsync records the file's durable size; each
//     4 KiB page written over below that size has its durable content
//     kept in memory the first time it is touched. fsync or fdatasync of
//     the file (or a write through a descriptor opened O_SYNC or O_DSYNC)
//     makes that file's data durable, and only that file's: the record is
//     dropped. Records follow the inode, across renames and unlinks.
//   - Namespace operations (create, mkdir, mknod, symlink, link, rename,
//     unlink, rmdir) go into one journal, in order. Any fsync in the mount
//     (of a file or of a directory) commits the whole journal, as ext4's
//     journal does in data=writeback mode: the directory entries made so
//     far become durable, but not the data of the files they name. An
//     unlinked or replaced file waits, hard-linked, in a trash directory
//     next to dir until the commit.
//
// Lose unmounts (so that no kernel cache of the mount survives), rolls the
// backing directory back (each dirty file gets its kept pages and durable
// size back, the journal is undone newest first) and mounts again: the
// directory then holds exactly what was made durable. A file created and
// written but never fsynced is gone; one created, then committed by an
// fsync of something else, comes back empty (the zero-length file of a
// rename without fsync on ext4).
//
// Caveats:
//   - Durability is lazyfs's bookkeeping, not the disk's: data is written
//     through at once, and Lose is the only way to lose it. sync(2) and
//     syncfs(2) are not seen (FUSE does not forward them) and make nothing
//     durable; neither do close or fsync outside the mount.
//   - The namespace model is ext4's, laxer than POSIX, which asks for an
//     fsync of the directory itself: a program that fsyncs a new file but
//     never its directory keeps the file here, where a stricter file
//     system may lose it.
//   - Metadata other than size (mode, owner, times, extended attributes)
//     is never rolled back.
//   - Kept pages live in memory until the next fsync of their file: a
//     program that rewrites a large file without fsync costs its size.
//   - Operations that change the backing directory are serialised.
//   - A lab process killed before it unmounts leaves a dead mount
//     ("transport endpoint is not connected"); SweepDead unmounts those.
//
// Mounting needs /dev/fuse and root (or fusermount3 for an unprivileged
// user); in a container it needs the device and CAP_SYS_ADMIN.
package lazyfs
