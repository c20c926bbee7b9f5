// Package faults turns a nemesis spec and a seed into a fault schedule, and
// plays a schedule against a cluster.Runtime while writing every fault's start
// and end into the history.
//
// A spec is a comma list of packages: partition (any partition shape),
// partition-isolate-one, partition-isolate-leader,
// partition-isolate-follower, partition-halves, partition-majorities-ring,
// partition-bridge, kill, pause, pause-lock-holder, loss, all, or none.
// Generate is a pure function of (seed, spec, members, timing): the same
// seed gives the same Schedule, which is plain data (saved in test.json) and
// can be replayed on any runtime. Each cycle waits Interval, picks one
// package and its targets with the seed's generator, applies the fault for
// Duration, and undoes it. Targets named "leader" and "follower" are resolved when
// the fault starts (Runtime.Leader, waiting up to 5 s for one), and
// "lock-holder" through a resolver the run installs (the lock workload's
// next holder): they are the only part not fixed by the seed. A start that
// waited still lasts its full Duration.
//
// Play executes a schedule on a clock (Clock; tests use a fake one) and
// records each start and stop as nemesis ops (process "nemesis"): an invoke
// when the fault begins and an ok (or info, with the error, when the runtime
// refused) when it is in place. Final undoes everything: heal, stop loss,
// resume and restart every member; it runs even when the schedule was cut
// short.
//
// Caveats:
//   - A partition replaces the previous one; packages never overlap in time
//     because one cycle ends before the next begins.
//   - partition-majorities-ring needs 5 or more members (with 3, every node's
//     majority is the whole cluster); Validate says so.
//   - Pause uses SIGSTOP/SIGCONT in the local runtime (recorded as
//     extra.mechanism).
package faults
