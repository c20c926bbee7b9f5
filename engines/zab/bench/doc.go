// Package bench compares zab with Debian's ZooKeeper 3.8: 3 members each on
// loopback, in one run, interleaved A B B A so that drift on a shared machine
// hits both alike: 256-byte setData at 1, 16 and 64 clients, getData and
// sync+getData at 16 clients. Figures are ops/s, p99, the zab/ZooKeeper
// ratio and the spread between the two passes of each system.
//
//	make bench-zab                                   # 30 s warm-up, 8 s windows
//	go test -short -run '^$' -bench . ./engines/zab/bench/   # 2 s warm-up and windows
//
// # Caveats
//
//   - Both ensembles run at once on the same cores; the idle one costs a
//     little CPU (pings) during the other's windows.
//   - The clients (go-zookeeper/zk) run in the benchmark process on the same
//     machine, so client CPU is part of what is measured, for both systems.
package bench
