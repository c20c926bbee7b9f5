// Package znode is ZooKeeper's data tree as plain data: znodes with Stat,
// ACLs, sequential names, ephemeral, container and TTL nodes, sessions and
// their ephemerals, one-shot and persistent watches, the transactions that
// change them and their binary encoding, and snapshots.
//
// It exists so that every ensemble member applies the same committed
// transactions to the same state with the same results, and so that all of
// ZooKeeper's data semantics are tested without sockets or disks.
//
// # Contract
//
// A Tree is deterministic and single-threaded: no locks, goroutines, clock
// or randomness, and no map order reaches an output (children, ephemerals,
// watch recipients and snapshot contents are sorted). The server's one loop
// owns it; nothing here may be called concurrently.
//
// Writes go through two steps, as in ZooKeeper's PrepRequestProcessor and
// FinalRequestProcessor:
//
//  1. Prepare (leader only) checks a client request (jute body) against the
//     tree plus the changes already prepared but not yet applied, and turns
//     it into the Txn the log carries: sequential names resolved, new
//     versions computed, the leader's time stamped. A request that fails
//     (NODEEXISTS, BADVERSION, NOAUTH, ...) becomes an error Txn, which
//     ZooKeeper also proposes and which uses up a zxid. Prepared changes are
//     remembered until the matching Txn is applied; the server calls
//     ResetPending when it stops leading.
//  2. Apply(zxid, txn) (every member, in zxid order) changes the tree, fills
//     Stat as ZooKeeper does, and returns the Result for the client and the
//     WatchEvents to deliver, in ZooKeeper's order. A txn that no longer
//     fits the tree (only possible if the log and the tree disagree) yields
//     a Result with a non-zero Err; a zxid that does not increase is a
//     broken invariant of the caller and panics with both zxids.
//
// Reads (GetData, Exists, Children, GetACL, ...) answer from applied state
// and optionally register a one-shot watch for a connection (ConnID).
// Watches are per connection, as in ZooKeeper: the server calls DropConn
// when a connection closes, and the client re-sends SetWatches after it
// reconnects. Watches are not part of snapshots or digests.
//
// Sessions (id and timeout) and their ephemerals are tree state, created by
// a CreateSession txn and removed, with their ephemerals, by CloseSession.
// Deciding when a session expires needs a clock and is the server's job.
//
// Container nodes and TTL nodes are reaped by the leader, as ZooKeeper's
// ContainerManager does: it asks ContainersToDelete and ExpiredTTLs(now)
// periodically and prepares a deleteContainer request for each path, with
// Session 0. Session 0 marks the server's own requests: they skip session
// and ACL checks.
//
// A multi's reply is built from the request and Apply's Result by
// MultiResponse, with the result types ZooKeeper 3.8.0 sends (a create2 op
// gets a plain create result, as on a live 3.8.0).
//
// # Testing
//
// Besides table tests, a seeded random test against a map-of-paths model
// and fuzzers, TestAgainstZooKeeper runs the same random writes (all create
// modes, deletes, setData, checks, multis, ACLs) against a live ZooKeeper
// 3.8 through go-zookeeper/zk and requires every code, name and
// zxid-bearing Stat field to match; TestGoldenSession replays the captured
// client sessions and matches ZooKeeper's replies byte for byte.
//
// # Caveats
//
//   - Cversion is ZooKeeper's: a node stores the number of children ever
//     created under it (the next sequential suffix), and the Stat clients see
//     reports 2*creates - numChildren (DataNode.copyStat), i.e. creates plus
//     deletes when every child was created by a create. So a fresh "/"
//     reports -1 and /zookeeper -2, as ZooKeeper does. Checked against the
//     golden frames and a live ZooKeeper 3.8.0 (3 creates, 3 deletes: 6;
//     next suffix 3).
//   - Containers and TTL nodes store ZooKeeper's owner markers but report
//     ephemeralOwner 0, and exists checks no ACL, as ZooKeeper 3.8.0 does.
//   - Only the world, digest and ip schemes (plus auth, expanded at create
//     time) are understood; any other scheme in an ACL is ZINVALIDACL. An
//     id with scheme "super" in the caller's auth bypasses ACL checks; ip
//     ACLs match an ip:<address> id the server adds for the connection.
//     GetACL without ADMIN shows digest ids as digest:user:x, as 3.8.
//   - Quota statistics are kept as ZooKeeper keeps them (quota.go), no
//     limit is enforced (as ZooKeeper without enforceQuota); reconfig and
//     local sessions are not modelled; the server
//     fills /zookeeper/config (SetConfigNode) from its configuration, as
//     ZooKeeper does at start, outside the txn stream. Clients may create nodes below /zookeeper; deleting
//     /zookeeper, /zookeeper/quota or /zookeeper/config is ZBADARGUMENTS,
//     as on 3.8.0.
//   - Watches copy ZooKeeper 3.8's WatchManager, quirks included: a data
//     and a child table with one mode per (connection, path) each, so
//     addWatch replaces a one-shot watch on the same path and a later
//     getData/getChildren watch makes a persistent one one-shot again
//     (ZOOKEEPER-4466, fixed in 3.9). removeWatches also takes the
//     Persistent and PersistentRecursive types, which 3.8 rejects.
//   - Apply reuses one events buffer: the slice it returns is valid until
//     the next call that returns events.
package znode
