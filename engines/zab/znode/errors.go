package znode

import (
	"errors"

	"coordlab/engines/zab/jute"
)

// Sentinels for the ZooKeeper outcomes reads and Prepare report. Each is a
// jute.Code, so jute.CodeOf(err) gives the code for the wire and errors.Is
// matches either form.
var (
	ErrNoNode                  error = jute.ZNONODE
	ErrNodeExists              error = jute.ZNODEEXISTS
	ErrBadVersion              error = jute.ZBADVERSION
	ErrNotEmpty                error = jute.ZNOTEMPTY
	ErrNoChildrenForEphemerals error = jute.ZNOCHILDRENFOREPHEMERALS
	ErrInvalidACL              error = jute.ZINVALIDACL
	ErrNoAuth                  error = jute.ZNOAUTH
	ErrBadArguments            error = jute.ZBADARGUMENTS
	ErrSessionExpired          error = jute.ZSESSIONEXPIRED
	ErrAuthFailed              error = jute.ZAUTHFAILED
	ErrNoWatcher               error = jute.ZNOWATCHER
	ErrUnimplemented           error = jute.ZUNIMPLEMENTED
	ErrReconfigDisabled        error = jute.ZRECONFIGDISABLED
)

// ErrNotWrite is returned by Prepare for a request that is not a write
// (reads are served with GetData, Exists, Children, ...).
var ErrNotWrite = errors.New("znode: prepare: request is not a write")

// ErrCorruptTxn is wrapped by UnmarshalTxn for bytes that are not a Txn.
var ErrCorruptTxn = errors.New("znode: corrupt txn")

// ErrCorruptSnapshot is wrapped by ReadSnapshot for input that is not a
// complete, intact snapshot (bad magic, version, checksum or structure).
var ErrCorruptSnapshot = errors.New("znode: corrupt snapshot")
