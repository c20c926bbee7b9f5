// Package e2e holds end-to-end tests of raftkv as a user meets it: the
// cmd/raftkv binary started as a 3-member cluster on loopback, driven by
// Debian's etcdctl (3.4, ETCDCTL_API=3) and by clientv3 and its concurrency
// recipes. Where etcdctl's output is deterministic, the same commands run
// against a real single-member etcd (/usr/bin/etcd) in the same test and the
// outputs must match byte for byte; elsewhere (ids, sizes, timings) the
// output is checked against etcd's format.
//
// What runs: TestEtcdctl (put/get/del/txn/watch/lease/compaction and error
// outputs, byte-identical to etcd's), TestEtcdctlLeaseKeepAlive (streaming
// keep-alive, then expiry; identical), TestEtcdctlCluster (member list,
// endpoint status/health, status headers, snapshot save and status, in
// etcd's format on both), TestEtcdctlMemberAddRemove, TestEtcdctlLearner
// (add --learner, promote, member update and the refusals, identical to a
// 3-member etcd's with ids and ports normalized),
// TestEtcdctlMemberUpdateRestart (every member moved to a new peer URL and
// restarted), TestEtcdctlSnapshotRestore (snapshots of a raftkv cluster and
// of a real etcd restored with etcdctl snapshot restore start a 3-member
// raftkv cluster that serves every key), TestClientv3Cluster,
// TestConcurrencyCluster (Mutex and Election), TestWatchAcrossLeaderKill
// and TestSessionSurvivesLeaderKill (SIGKILL of the leader), TestEtcdctlAuth
// (an auth session identical to etcd's, refused watches and maintenance,
// auth state across a restart of every member) and
// TestClientv3AuthAcrossMembers (one token valid on every member; clientv3
// with credentials across a leader kill).
//
// The package has no non-test code. TestMain builds cmd/raftkv with go build
// (or uses $COORDLAB_BIN/raftkv when set).
//
// # Caveats
//
//   - Tests need /usr/bin/etcdctl and /usr/bin/etcd; without them they skip
//     locally and fail under CI=true.
//   - Ports are taken by listening on 127.0.0.1:0 and closing the listener
//     before the member binds it; another process could take the port in
//     between, which shows up as a member failing to start.
package e2e
