// Package cluster defines how the lab starts a cluster of one coordination
// system and injects faults into it: a Runtime (where members run: local
// processes, containers, ...) and a Target (what runs: the real etcd, the real
// ZooKeeper, or our raftkv and zab engines).
//
// A Target knows how to launch one member of an N-member cluster (command
// line, configuration files), how to ask a member whether it serves and which
// role it has (etcd's Maintenance.Status, ZooKeeper's `srvr` four-letter
// word), and which client protocol it speaks (the etcd v3 API or the
// ZooKeeper API). A Runtime starts the members, waits until the cluster has a
// leader, and offers the faults it can inject: kill and restart with the same
// data, pause and resume, partitions given as a grudge (destination member ->
// the members whose packets it drops, as in Jepsen), and packet loss.
//
// Caveats:
//   - A Runtime's fault methods are safe for concurrent use, but the lab calls
//     them from one goroutine (the nemesis); concurrent partitions overwrite
//     each other.
//   - Real etcd and ZooKeeper members do not choose the source address of
//     their peer connections, so partitions are only faithful when each member
//     has an address of its own (cluster/local in network-namespace mode).
//   - Loss applies to member-to-member traffic only; the lab's clients are
//     not subjected to it.
package cluster
