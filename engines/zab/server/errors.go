package server

import "errors"

// Sentinel errors of the zab server. Test with errors.Is.
var (
	// ErrConfig marks a configuration problem: an unknown setting, an invalid
	// value or a broken cross-field rule. The message names the setting.
	ErrConfig = errors.New("zab: config")

	// ErrCorrupt marks a txn log or snapshot whose bytes fail their checksum or
	// framing somewhere other than the torn tail of the newest log segment.
	// It is wrapped in a *CorruptError that names the file and offset.
	ErrCorrupt = errors.New("zab: corrupt data")

	// ErrTruncateBelowSnapshot is returned when the core asks to truncate the
	// log below the newest snapshot's zxid: the snapshot already contains the
	// txns to drop, so only a full SNAP sync can repair the member.
	ErrTruncateBelowSnapshot = errors.New("zab: truncate below snapshot")

	// ErrDiskWrite marks a failed write or fsync of the txn log, a snapshot
	// or an epoch file (a full disk, an I/O error). The server does not stop
	// on it: it serves reads only until the disk takes writes again (see the
	// package doc, "Disk full").
	ErrDiskWrite = errors.New("zab: disk write failed")

	// ErrFrameTooLarge is returned when a peer or client frame is larger than
	// the configured limit; the connection that sent it is closed.
	ErrFrameTooLarge = errors.New("zab: frame too large")
)
