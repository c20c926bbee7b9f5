package raftkv

import "errors"

// ErrStopped is returned by operations on a stopped server (clients see
// rpctypes.ErrGRPCStopped).
var ErrStopped = errors.New("raftkv: server stopped")

// ErrRemoved is the loop's exit error when this member was removed from the
// cluster.
var ErrRemoved = errors.New("raftkv: the member has been permanently removed from the cluster")

// ErrClusterIDMismatch is returned when a peer belongs to another cluster.
var ErrClusterIDMismatch = errors.New("raftkv: peer belongs to a different cluster")

// ErrDataDir is wrapped by errors about an unusable data directory.
var ErrDataDir = errors.New("raftkv: unusable data dir")

// ErrWALFailed wraps the loop's exit error when the raft log could not be
// written or fsynced. The member no longer takes part in raft and answers
// writes with an error, but still serves serializable reads; free space for
// the data dir (or fix the disk) and restart it.
var ErrWALFailed = errors.New("raftkv: the raft log (WAL) could not be written")
