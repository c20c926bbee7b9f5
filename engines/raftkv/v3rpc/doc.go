// Package v3rpc serves etcd's v3 gRPC API (services KV, Watch, Lease,
// Cluster, Maintenance and Auth of go.etcd.io/etcd/api/v3/etcdserverpb) over
// a small Backend interface, so that etcdctl and clientv3 work against a
// raftkv member unchanged.
//
// The package holds no replicated state. Writes (Put, DeleteRange, Txn,
// Compact, LeaseGrant, LeaseRevoke) become an InternalRaftRequest handed to
// Backend.Propose, which answers with what mvcc.Store.Apply returned once the
// entry is applied locally. Linearizable reads call Backend.LinearizableRead
// (raft ReadIndex) and then read the store; serializable reads read the local
// store at once. Requests are validated here as etcd validates them (empty
// keys, sort options, txn size and duplicate keys, --max-request-bytes)
// before anything is proposed, and every error a client sees is one of
// etcd's rpctypes values, because clientv3 maps errors by exact code and
// message. Every response header carries the member's cluster id, member id
// and raft term (Backend.Header) and the store revision of the answer.
//
// Watch streams: each stream has a receiver goroutine and a sender (the
// handler goroutine), which owns the stream's watchers on the store's watch
// hub (mvcc.Store.Watch) and is the only caller of Send. See Watch for the
// protocol details (created before events, revisions never split unless
// fragmenting, compacted answers, progress requests and periodic progress
// notifications). When the member swaps its store (snapshot install) the
// watches continue on the new one from the first undelivered revision.
//
// The services call Backend.Store for every request (the store can be
// swapped); while it is nil they answer ErrGRPCStopped. A backend that
// commits the store in batches should also implement StoreSnapshotter so
// that Maintenance.Snapshot includes the last batch.
//
// The etcdserverpb messages of the etcd API module this package builds on
// are google.golang.org/protobuf messages, not gogoproto ones: they have no
// Marshal or Size methods (use proto.Marshal and proto.Size, as the size
// check against --max-request-bytes does), and they must not be copied by
// value.
//
// Typical use (cmd/raftkv):
//
//	srv := grpc.NewServer(v3rpc.ServerOptions(member)...)
//	v3rpc.Register(srv, member)
//	go srv.Serve(lis)
//
// # Caveats
//
//   - A read-only Txn is served as a read, as etcd does; its compare rules
//     are duplicated from mvcc (readtxn.go), kept equal by a differential
//     test against Apply (TestReadTxnMatchesApply).
//   - Auth needs a Backend that is an Authenticator (raftkv.Server is); the
//     Auth RPCs of another answer ErrAuthNotSupported. The auth store is
//     mvcc's; this package resolves the sender (token in metadata "token"
//     or "authorization", or the TLS client certificate's common name),
//     puts it in every proposed entry's header for the store to check at
//     apply, and checks reads, watches, leases, maintenance and membership
//     calls itself, as etcd's API layer does.
//   - MemberUpdate, MemberPromote and MemberAdd of a learner need a Backend
//     that is a Reconfigurer (raftkv.Server is); otherwise MemberUpdate
//     answers codes.Unimplemented and the learner RPCs
//     ErrLearnerNotSupported. On a learner the interceptors of
//     ServerOptions refuse every RPC but Status, serializable Range and
//     Snapshot with ErrGRPCNotSupportedForLearner, as etcd 3.4 does
//     (MemberList and endpoint health's Get included). Downgrade answers
//     codes.Unimplemented; so does MoveLeader unless the Backend is a
//     LeaderTransferer (raftkv.Server is).
//   - Alarms and the space quota need a Backend that is an Alarmer
//     (raftkv.Server is): then Put, Txn with puts and LeaseGrant over quota
//     raise NOSPACE and answer etcd's "database space exceeded", Alarm goes
//     through raft and Status lists alarms in Errors. Otherwise Alarm GET
//     lists none and ACTIVATE/DEACTIVATE answer codes.Unimplemented.
//   - Defragment succeeds without rewriting the bbolt file (the file does
//     not shrink).
//   - Snapshot's RemainingBytes is an estimate from Store.Size; the data and
//     the trailing sha256 are exact.
//   - A watch stream's receiver goroutine outlives the handler by the time
//     gRPC takes to end the stream's Recv after the handler returned.
//   - The sender multiplexes a stream's watchers with reflect.Select, whose
//     cost grows with the number of watchers on one stream (clientv3 puts
//     all watches of one context on one stream).
//   - Without a leader, only requests carrying clientv3's WithRequireLeader
//     metadata are refused (watch streams after three LeaderCheckInterval
//     checks); others are served from local state or wait in the backend.
package v3rpc
