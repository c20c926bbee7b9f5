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
// leader, and offers the primitives faults are made of (package faults
// composes them): Signal (kill, stop, cont), Restart with the same data,
// Firewall (replace the nft table `inet coordlab` in a member's network
// namespace), Netns (the path of that namespace, for code that opens a
// socket inside it) and AdminURL (where the lab reaches a member's admin endpoint,
// which our engines serve on a listener of their own when
// TargetOptions.Admin asks for it).
//
// Firewall is the one state partitions, loss and latency live in: per
// member, the addresses it drops (a partition given as a grudge,
// destination member -> the members whose packets it drops, as in Jepsen),
// the share of peer packets it loses, and which packets it sends get the
// mark a user-space delayer queues (Steer; package netdelay). It renders each member's whole table (NFTScript)
// and installs it where it changed, so a runtime only ever loads scripts.
//
// Caveats:
//   - A Runtime's primitives are safe for concurrent use, but the lab calls
//     them from one goroutine (the nemesis); concurrent partitions overwrite
//     each other.
//   - Real etcd and ZooKeeper members do not choose the source address of
//     their peer connections, so partitions are only faithful when each member
//     has an address of its own (cluster/local in network-namespace mode).
//   - Loss applies to member-to-member traffic only; the lab's clients are
//     not subjected to it.
package cluster
