// Package bench measures raftkv against real etcd 3.4 on the same machine in
// the same run: three members of each on loopback, 256-byte puts at 1, 16 and
// 64 clients and linearizable gets, with clientv3.
//
// Runs interleave A B B A (raftkv, etcd, etcd, raftkv) so that drift of the
// machine during the run hits both systems alike; figures are reported as the
// ratio raftkv/etcd with the spread of the two pairs.
//
//	make bench-raftkv
//	go test -run '^$' -bench . -benchtime 1x ./engines/raftkv/bench/ -args -warmup 30s -measure 10s
//
// # Caveats
//
//   - Both clusters run at once on the same 2 cores; the idle one costs a little
//     (heartbeats). Clients run in the benchmark process on the same cores too.
//   - etcd is Debian's /usr/bin/etcd (3.4); missing etcd skips locally and fails
//     under CI=true.
package bench
