// Package client is the interface every coordlab workload speaks, implemented
// by client/etcdapi (clientv3, for etcd and raftkv) and client/zkapi
// (go-zookeeper/zk, for ZooKeeper and zab). It has no dependencies.
//
// Versions: every result carries the system's own order. On etcd a key's
// Version is its mod_revision and Revision the store revision of the
// response header; on ZooKeeper Version is the node's mzxid and Revision the
// zxid the server reported. Checkers order operations by them.
//
// Errors: every error a Client or Session returns is an *OpError. Definite
// means the operation surely did not take effect (record it as fail);
// otherwise it may have (record it as info, and retire the process). When in
// doubt an adapter says indeterminate. A compare-and-set that loses is not an
// error: ok is false. A Lock or Campaign that fails after its key or node was
// created is indeterminate, even when the session has expired since: while
// the key existed it may have been the owner, and others may have seen it so.
//
// Concurrency: a Client is safe for concurrent use, but a workload uses one
// Client per logical process so each op is attributed to one member.
//
// Caveats: Watch delivers what the system delivers. On ZooKeeper, which has
// no watch-from-version, the adapter reads the current state and reports a
// start older than what it can replay as a compacted error event rather than
// inventing the events in between; that event's Revision is one past the
// newest zxid under the prefix, the oldest start it can serve. A ZooKeeper
// delete carries no zxid, so its event may have Version 0 (unknown).
package client
