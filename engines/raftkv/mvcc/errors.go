package mvcc

import (
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// Errors that reach clients are etcd's own gRPC status errors (package rpctypes), so that
// the gRPC code and message are byte-for-byte what etcd sends and clientv3 maps them to its
// errors. The sentinels below alias them; test with errors.Is.
var (
	// ErrCompacted: the requested revision has been compacted (Range, Compact, HashKV, Watch).
	ErrCompacted = rpctypes.ErrGRPCCompacted
	// ErrFutureRev: the requested revision is newer than the store's revision.
	ErrFutureRev = rpctypes.ErrGRPCFutureRev
	// ErrLeaseNotFound: a put names, or a revoke targets, a lease that does not exist.
	ErrLeaseNotFound = rpctypes.ErrGRPCLeaseNotFound
	// ErrLeaseExist: a lease grant names an ID that is already granted.
	ErrLeaseExist = rpctypes.ErrGRPCLeaseExist
	// ErrLeaseTTLTooLarge: a lease grant asks for a TTL above MaxLeaseTTL.
	ErrLeaseTTLTooLarge = rpctypes.ErrGRPCLeaseTTLTooLarge
	// ErrKeyNotFound: a put with ignore_value or ignore_lease on a key that does not exist.
	ErrKeyNotFound = rpctypes.ErrGRPCKeyNotFound
	// ErrDuplicateKey: a txn puts one key twice, or puts a key it also deletes, in one branch.
	ErrDuplicateKey = rpctypes.ErrGRPCDuplicateKey
	// ErrEmptyKey: a request without a key.
	ErrEmptyKey = rpctypes.ErrGRPCEmptyKey
	// ErrInvalidSortOption: a range with an unknown sort order or target.
	ErrInvalidSortOption = rpctypes.ErrGRPCInvalidSortOption
	// ErrNoSpace: a NOSPACE alarm is active and the request would add data
	// ("etcdserver: mvcc: database space exceeded").
	ErrNoSpace = rpctypes.ErrGRPCNoSpace
	// ErrCorruptAlarm: a CORRUPT alarm is active ("etcdserver: corrupt
	// cluster"); reads and writes of keys and leases fail until it is disarmed.
	ErrCorruptAlarm = rpctypes.ErrGRPCCorrupt
)

// Errors of the store itself (not sent to clients as etcd errors).
var (
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("mvcc: store closed")
	// ErrUnsupported: Apply got a request kind the store does not implement (auth,
	// cluster version, ...). The entry still counts as applied.
	ErrUnsupported = errors.New("mvcc: unsupported request")
	// ErrTooManyWatchers: Config.MaxWatchers watchers are open already.
	ErrTooManyWatchers = errors.New("mvcc: too many watchers")
	// ErrCorrupt: the store file holds data the store cannot decode.
	ErrCorrupt = errors.New("mvcc: corrupt store file")
)

// CompactedError is returned by Watch when the start revision has been compacted. It
// carries the compact revision, which etcd sends in WatchResponse.compact_revision.
// errors.Is(err, ErrCompacted) holds.
type CompactedError struct {
	CompactRevision int64
}

func (e *CompactedError) Error() string {
	return fmt.Sprintf("mvcc: watch start revision compacted (compact revision %d)", e.CompactRevision)
}

// Unwrap makes errors.Is(err, ErrCompacted) true.
func (e *CompactedError) Unwrap() error { return ErrCompacted }
