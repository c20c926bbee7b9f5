// Package mvcc is raftkv's state machine: etcd's multi-version key space on one bbolt
// file, applied entry by entry from the raft log.
//
// # Data model
//
// The store has a revision, 1 when empty. Each write txn that changes something (a put,
// a delete that matched keys, a txn with writes, a lease revoke that deleted keys) moves
// it up by one; its changes get sub revisions 0, 1, 2, ... Every key carries
// create_revision, mod_revision and version (1 on creation, +1 per put); a delete leaves a
// tombstone and the next put starts over with version 1 and a new create_revision.
//
// As in etcd, the bbolt "key" bucket is keyed by revision (8-byte big-endian main, '_',
// 8-byte big-endian sub, plus 't' for a tombstone) with the marshalled mvccpb.KeyValue as
// value; the "meta" bucket holds the consistent index, the store revision and the compact
// revision; the "lease" bucket holds the leases (ID, granted TTL, checkpointed remaining
// TTL, as etcd's leasepb.Lease); the "alarm" bucket the active alarms; the "auth",
// "authUsers" and "authRoles" buckets the auth store (enabled flag and auth revision,
// authpb.User and authpb.Role records). The layout is etcd's down to the encoding of the compact
// revision, so real etcd restores a store snapshot (`etcdctl snapshot restore
// --skip-hash-check`) and serves the same keys, revisions, leases and compaction; a test
// checks it against the installed etcd.
//
// Open rebuilds from the key bucket an in-memory index: a sorted set of keys (a two-level
// chunked B-tree of our own, plus a map) whose entries list each key's revisions and hold
// its current value.
//
// # Apply, Commit and ConsistentIndex
//
// Apply takes one committed raft entry (an etcdserverpb.InternalRaftRequest) and its raft
// index: Range, Put, DeleteRange, Txn, Compaction, LeaseGrant, LeaseRevoke and
// LeaseCheckpoint, with etcd's semantics and etcd's errors (the rpctypes.ErrGRPC* values,
// so the gRPC code and message are etcd's). Apply is deterministic: its result depends
// only on the entries applied before, so every member answers alike, down to lease IDs
// picked for grants with ID 0 (derived from the raft index). Config.MinLeaseTTL is the
// one setting that changes what Apply returns, so it must be equal on every member.
//
// Responses carry only Header.Revision (a response nested in a txn gets the txn's
// revision); the gRPC layer fills in the rest of the header. The gRPC layer also
// validates requests before proposing them; Apply still makes every check that depends
// on the state (compacted or future revision, unknown or existing lease) and runs
// CheckTxn, so every member refuses the same entries.
//
// Apply writes into one bbolt write txn that stays open across entries; Commit commits it
// (one fsync) together with the consistent index, the raft index of the last applied
// entry. The raft log is the source of durability: after a crash, Open finds the state
// and consistent index of the last Commit, and the server replays the log; Apply skips
// entries at or below the consistent index, so replay is idempotent.
//
// # Reads and concurrency
//
// One goroutine (the apply loop) calls Apply and Commit. Readers (Range, Rev, Hash,
// HashKV, Leases, Watch, watch catch-up) may run on any goroutines at the same time: a
// sync.RWMutex inside the store serialises them against Apply. Readers see every applied
// entry, committed or not: current values come from the in-memory index, older revisions
// from the open write txn (read under the shared lock; every mutation of that txn happens
// under the exclusive lock), or from a read txn when no write txn is open. A second
// RWMutex covers only the bbolt txn, so Commit (bbolt commit and fsync) blocks reads of
// history but not reads of current values nor live watch delivery.
// So the server may call Commit every 100 ms or every N entries, as etcd's backend
// batches, and still serve linearizable reads right after Apply.
//
// # Watches
//
// Watch starts a watcher over a key, range or prefix from a start revision. Apply keeps
// the events of the latest Config.WatchCacheRevs revisions in a ring and wakes the
// watchers they match, without ever blocking. Each watcher has one goroutine that pulls
// its next batch under the shared lock, from the ring or, when it is behind the ring (a
// start revision in the past, or a slow consumer), from the key bucket. So every watcher
// gets every event once, in revision order, the events of one txn in one batch, with no
// gaps, however slow it is. A synced watcher is moved past revisions that have nothing
// for it, so an idle watcher never falls behind; only a watcher whose undelivered events
// get compacted away ends with a compacted batch (as etcd's unsynced watchers do).
// RequestProgress yields an empty batch at the store revision once the watcher is synced.
// Fragmenting large batches is left to the gRPC layer.
//
// # Caveats
//
//   - While Commit runs (bbolt commit and fsync), reads of history (Range at an old
//     revision, watch catch-up from bbolt, Hash, HashKV) wait for it.
//   - Range at a revision equal to the compact revision succeeds, as in etcd (compaction
//     keeps the newest revision of each live key); a revision below it fails with
//     ErrCompacted. A watch must start above the compact revision: compaction drops
//     tombstones at or below it, so a watch from the compact revision could miss a delete.
//     etcd accepts that watch and can lose the delete; this store answers compacted, which a
//     client handles like any compaction (read again, then watch from the new revision).
//   - Range keeps etcd's quirk for a sort target other than KEY with sort order NONE (which
//     etcd treats as ASCEND) and a limit: it takes the first limit+1 keys in key order and
//     sorts only those. With an explicit order it sorts all matches, then truncates.
//   - Compaction is synchronous: one Apply deletes every superseded revision from bbolt,
//     and one Commit makes that durable. There is no background compaction.
//   - The current value of every key lives in memory as well as in bbolt.
//   - WriteSnapshot copies the committed file only: call Commit first.
//   - Hash and HashKV scan the whole key bucket under the shared lock; Apply waits.
//   - Events and the key-values in responses share byte slices with the store: callers
//     must not modify them.
//   - A watcher's goroutine is the only goroutine the store starts. Store.Close stops
//     them all and waits.
//   - Cluster-version requests are not implemented: Apply returns
//     ErrUnsupported for them (after advancing the consistent index). Auth
//     is (auth.go): users, roles and the enabled flag in etcd's auth buckets,
//     every request checked against the sender in its header, as etcd's auth
//     applier does. Alarms are:
//     they live in the alarm bucket (etcd's), and while NOSPACE is active Apply
//     refuses puts, txns with puts and lease grants with ErrNoSpace.
package mvcc
