// Package faults turns a nemesis spec and a seed into a fault schedule, and
// plays a schedule against a cluster.Runtime while writing every fault's start
// and end into the history.
//
// A fault is one type (toxiproxy's way): a struct of JSON-tagged parameters
// with Start(ctx, env) (undo, error), acting only through the runtime's
// primitives (signal a member, restart it, install its firewall, reach its
// admin endpoint, drop what it did not fsync). Optional abilities are extra
// interfaces: Healer (Final undoes the kind on every member), Requirer (the
// capabilities it needs), AdminUser (the targets must serve their admin
// endpoint), LazyFSUser (the data directories must be lazyfs mounts),
// Describer (what the start resolved, for the history); Env.Note adds what
// a start learned (what it dropped) to its ok op. The faults sit in one table, whose
// order is also the order Final heals in; a new fault is one file (its type
// and its nemesis packages) plus its line in that table.
//
// A spec is a comma list of packages: partition (any partition shape),
// partition-isolate-one, partition-isolate-leader,
// partition-isolate-follower, partition-halves, partition-majorities-ring,
// partition-bridge, kill, lose-unsynced, lose-unsynced-all, pause,
// pause-lock-holder, loss, latency, latency-clients, clock, all, or none.
// Generate is a pure function of (seed, spec, members, timing): the same
// seed gives the same Schedule, which is plain data (saved in test.json, each
// fault as {"kind":..., its parameters}) and can be replayed on any runtime.
// Each cycle waits Interval, picks one package and its targets with the
// seed's generator, applies the fault for Duration, and undoes it. Targets
// named "leader" and "follower" are resolved when the fault starts
// (Runtime.Leader, waiting up to 5 s for one), and "lock-holder" through a
// resolver the run installs (the lock workload's next holder): they are the
// only part not fixed by the seed. A start that waited still lasts its full
// Duration.
//
// Play executes a schedule on a clock (tests use synctest's) and records
// each start and stop as nemesis ops (process "nemesis") carrying the
// fault's parameters: an invoke when the fault begins and an ok (or info,
// with the error, when the runtime or the target refused) when it is in
// place. A start that left nothing in force is followed at once by its
// stop (extra.undo says so), and Player.Refused counts such errors so the
// run can print them. A fault in force when the run ends is undone before
// Play returns. Final then undoes every kind the run used on every member:
// heal, stop loss and latency, resume, restart; it runs even when the
// schedule was cut short.
//
// Caveats:
//   - Partitions and loss share each member's one nft table
//     (cluster.Firewall): a partition replaces the previous one and keeps
//     the loss, a heal keeps the loss. Packages never overlap in time
//     because one cycle ends before the next begins.
//   - partition-majorities-ring needs 5 or more members (with 3, every node's
//     majority is the whole cluster); Validate says so.
//   - Pause uses SIGSTOP/SIGCONT in the local runtime and the cgroup freezer
//     in Docker (recorded as extra.mechanism).
//   - lose-unsynced needs the data directories mounted through package
//     lazyfs (LazyFSUser: the run asks the runtime for it), which costs
//     every write and fsync a trip through the lab; "all" leaves it out.
//     lose-unsynced drops what one killed member did not fsync, while it
//     is down; lose-unsynced-all does it to every member at once (a power
//     cut) and restarts them together. See package lazyfs for what counts
//     as synced.
//   - Latency delays packets in user space (package netdelay: the
//     member's table marks them, an NFQUEUE steering rule queues them, a
//     delayer in the lab holds them), since the kernel has no netem. It is
//     one-way, on the packets a target sends, in order (jitter never
//     reorders). A docker member restarted while it is in force comes back
//     in a new namespace without a delayer: its packets pass undelayed
//     (the steering rule's bypass) until the fault ends.
package faults
