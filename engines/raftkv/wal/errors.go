package wal

import (
	"errors"
	"fmt"
)

// ErrRecordTooLarge is returned by Save when one record exceeds the segment size.
var ErrRecordTooLarge = errors.New("wal: record larger than the segment size")

// ErrClosed is returned by operations on a closed WAL.
var ErrClosed = errors.New("wal: closed")

// ErrCorrupt matches every *CorruptError with errors.Is.
var ErrCorrupt = errors.New("wal: corrupt record")

// CorruptError reports a damaged record that is not a torn tail: the log
// cannot be replayed past it without dropping records written after it, which
// may have been acknowledged, so Open refuses. The only safe recovery is to
// discard this member's copy and take the log from its peers.
type CorruptError struct {
	File   string // path of the segment
	Offset int64  // byte offset of the record in the segment
	Reason string // what was wrong
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("wal: corrupt record in %s at offset %d: %s; refusing to start from this log, since replaying it would drop records that may have been acknowledged "+
		"(to recover, remove this member's data dir and re-add it from its peers: etcdctl member remove, etcdctl member add, then start it with --initial-cluster-state existing)",
		e.File, e.Offset, e.Reason)
}

// Is lets errors.Is(err, ErrCorrupt) match.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }
