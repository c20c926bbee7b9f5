// Package raftkv is one member of an etcd-compatible key-value cluster: the
// raft loop over go.etcd.io/raft/v3, the raft log on disk (package wal), the
// peer transport, membership, snapshots, linearizable reads and the leader's
// lease timers. The state machine is mvcc.Store; the etcd v3 gRPC services
// (package v3rpc) run on top of Server, which implements v3rpc.Backend and
// its optional StoreSnapshotter, LeaderTransferer and Reconfigurer.
//
// # Running a member
//
// Run(ctx, cfg) is a whole raftkv process: it listens on the client, metrics
// and admin URLs of cfg, starts the Server, serves etcd's v3 gRPC API (package
// v3rpc) and the HTTP endpoints on them, and stops everything when ctx ends.
// cmd/raftkv is flags -> Config -> Validate -> Run; tests and benchmarks start
// members in-process with NewMember and Serve. New and Start give the bare
// Server (raft, storage, peers) without client listeners.
//
// # Goroutines and the order of effects
//
// Raft runs with AsyncStorageWrites. Three goroutines share the work, each
// owning its state:
//
//   - the loop (run) owns the RawNode: ticks, peer messages, proposals,
//     ReadIndex rounds; it sends messages to other members at once and hands
//     storage work to the two threads below; it never waits for the disk;
//   - the append thread (appendLoop) writes what several Readys produced
//     (entries, hard state, snapshot metadata) to the WAL with one fsync, then
//     sends the responses raft attached to them (MsgAppResp, vote responses,
//     the local MsgStorageAppendResp) — so nothing that vouches for a write
//     leaves before the write is durable. As etcd's wal.MustSync, a batch
//     that only moves the commit index is written but not fsynced (raft does
//     not need the commit index durable); entries, a snapshot or a new term
//     or vote are. Of the MsgAppResps one fsync releases, only the highest per
//     leader and term is sent (it acknowledges the others);
//   - the apply thread (applyLoop) applies committed entries to mvcc.Store,
//     wakes the proposer waiting on Header.ID, releases linearizable reads,
//     calls Store.Commit per batch or per Config.BatchInterval (cmd/raftkv:
//     1s, etcd's is 100ms: a commit is two fsyncs with apply paused), and takes raft
//     snapshots. A client is answered only after its entry is durable on a
//     quorum, durable locally and applied.
//
// The queues between them are unbounded (they wait on each other, so bounded
// channels could deadlock); raft bounds them through MaxUncommittedEntriesSize,
// MaxInflightMsgs and MaxCommittedSizePerReady. Peer send queues are bounded
// (Config.PeerSendQueue): a full queue drops the message, counts it, logs at
// most once a second and reports the peer unreachable; raft retransmits.
//
// # Disk layout (etcd's names)
//
//	<data-dir>/member/meta.json       member id, cluster id, name, token
//	<data-dir>/member/wal/*.wal       the raft log (package wal)
//	<data-dir>/member/snap/db         the mvcc store (bbolt)
//	<data-dir>/member/snap/*.snap.db  a store received from the leader, until installed
//	<data-dir>/member/etcd-restore-wal  etcd's WAL, once a restored dir was imported
//
// Raft snapshots carry only the member list: the store is durable on its own.
// A follower too far behind gets MsgSnap with the leader's store file as
// payload, taken when it is sent (its ConsistentIndex is at or past the
// snapshot index; Apply skips what it already holds, as etcd's merged
// snapshot).
//
// # Membership changes (etcd 3.4's cluster API)
//
// Every change is a raft conf change whose Context is the member as JSON
// (etcd's membership.Member fields), applied on every member in log order
// and checked there as etcd's ValidateConfigurationChange does; a change
// that no longer holds is cancelled (node id zeroed) and its proposer gets
// etcd's error. The member list lives in raft snapshots and is replayed
// from the WAL, so every change survives a restart.
//
//   - member add / remove: ConfChangeAddNode / ConfChangeRemoveNode.
//   - member add --learner: ConfChangeAddLearnerNode; at most one learner
//     (etcd 3.4's maxLearners, ErrGRPCTooManyLearners). The learner
//     replicates but does not vote; it joins with --initial-cluster-state
//     existing like any member. On a learner the gRPC interceptors refuse
//     every RPC but Status, serializable Range and Snapshot with "etcdserver:
//     rpc not supported for learner" (member list and linearizable get
//     included), as etcd 3.4's do.
//   - member promote: a ConfChangeAddNode whose Context says isPromote. Only
//     the leader knows how far the learner's log is, so a follower forwards
//     the request to the leader (POST /members/promote on its peer URL), as
//     etcd does. The leader promotes only when the learner's match index is
//     at least 90% of its own (etcd 3.4's isLearnerReady), else "etcdserver:
//     can only promote a learner member which is in sync with leader"; a
//     voter gets ErrGRPCMemberNotLearner.
//   - member update: ConfChangeUpdateNode with the new peer URLs. Every
//     member applies it; the transport uses the new URL at its next dial (an
//     open connection stays until it breaks, as in etcd). The member is then
//     restarted with its new --listen-peer-urls and
//     --initial-advertise-peer-urls; --initial-cluster is checked only at a
//     member's first start (etcd ignores it once a WAL exists), so the start
//     script's old value does no harm. Unlike etcd 3.4, which drops the
//     learner flag of a learner it updates (member list then shows it as a
//     voter while raft still has it as a learner), raftkv keeps it.
//
// # Starting from etcdctl snapshot restore
//
// A data dir written by `etcdctl snapshot restore` (etcd's layout:
// member/snap/db, member/snap/*.snap, member/wal/*.wal in etcd's WAL format)
// starts a raftkv member, from a snapshot of raftkv or of etcd alike: the db
// is etcd's bbolt backend, whose buckets mvcc.Store uses; etcd's WAL gives
// the member and cluster ids and the initial members (its only entries),
// and is then moved to member/etcd-restore-wal while the same log goes to
// raftkv's own WAL. As with etcd, --initial-cluster and its token are then
// ignored. A data dir of a running etcd (a WAL with writes in it) is refused
// with the way to go: snapshot save, then restore.
//
// # IDs
//
// Member IDs are sha1(sorted peer URLs + token [+ add time]) and the cluster ID
// sha1 of the sorted member IDs, as etcd computes them, so an etcd user sees
// familiar values; both are saved in meta.json.
//
// # Leases
//
// A lease as data (ID, granted TTL, attached keys) is replicated state in
// mvcc.Store; its expiry is not. Only the leader keeps expiry timers, on its
// own lease clock (Config.Clock). On becoming leader it gives every lease its
// full TTL plus the election timeout, as etcd's lessor does on promotion, so a
// change of leader never expires a lease early. A lease that runs out is
// revoked by proposing LeaseRevoke through the log (proposed again if it has
// not applied within a few seconds). Keep-alives and time-to-live queries need
// those timers, so a follower forwards them to the leader. The smallest TTL
// granted (mvcc.Config.MinLeaseTTL) is ceil(1.5 * election timeout), etcd's
// rule; since it changes what Apply returns for a grant, every member must run
// with the same election timeout.
//
// # Failover
//
// Raft alone notices a dead leader only when its election timeout passes
// without a heartbeat. A killed leader also leaves its peer port refusing
// connections, and raftkv uses that: a follower whose stream from the leader
// ends dials the leader's peer port once, and a refusal starts an election
// ordered by member ID at once (leadergone.go; a partition refuses nothing
// and still takes the timeout; PreVote and CheckQuorum keep a wrong guess
// harmless). A proposal whose leader is deposed before it applies answers
// etcd's "leader changed" (indeterminate) at once, so the client retries
// against the new leader instead of waiting out its timeout. Measured with
// BenchmarkFailoverVsEtcd (package bench).
//
// # Peer protocol
//
// HTTP on --listen-peer-urls: POST /raft/stream turns into a raw stream of
// length-prefixed raftpb.Messages (one TCP connection per direction, dialed
// from the member's own advertised IP so nft rules on source addresses cut
// it); POST /raft/snapshot carries a MsgSnap and the store; GET /members
// serves a joining member; POST /lease/renew and /lease/ttl forward lease
// keep-alives and time-to-live queries from followers to the leader.
//
// Every request but GET /members names its sender, its cluster and (when it
// has one) its addressee in headers, and is refused as etcd refuses it: 412
// Precondition Failed for another cluster ID or another addressee, 410 Gone
// for a member removed from the cluster (which then stops), 404 for a sender
// that is not a member, on the stream and the lease paths. A member that has
// not yet applied the conf change adding the current leader would refuse
// that leader's stream forever, so the leader then sends by POST
// /raft/message (a few frames per request, accepted from a sender not yet
// known but not removed), and the receiver answers through a route to the
// peer URLs the request names, as etcd's pipeline and "remotes" do.
//
// GET /members answers anyone who reaches the peer URL, as etcd's does: a
// member joining with --initial-cluster-state existing does not know the
// cluster ID yet, so the ID cannot be asked of it. It tells the member IDs
// and URLs, nothing of the data. To keep it (and all peer traffic) from
// outsiders, serve the peer URLs over TLS with --peer-client-cert-auth: the
// TLS handshake then demands a certificate signed by --peer-trusted-ca-file
// before any request is read.
//
// # TLS
//
// Config.ClientTLS and Config.PeerTLS are etcd's --cert-file, --key-file,
// --trusted-ca-file, --client-cert-auth, --auto-tls and their --peer-*
// twins; an https:// URL without a certificate is refused with etcd's
// message. A secure client (or metrics) URL is one HTTP server with ALPN h2
// and http/1.1, as etcd serves it: HTTP/2 requests with a gRPC content type
// go to the gRPC server, everything else to HTTPHandler, so etcdctl,
// clientv3, curl and Prometheus all use the same URL (a plain client URL
// instead sniffs the HTTP/2 preface and hands raw connections to gRPC,
// which is faster). The peer URL speaks HTTP/1.1 over TLS, so the stream is
// still a hijacked connection; a member presents its peer certificate when
// it dials others and verifies theirs with --peer-trusted-ca-file. With
// --client-cert-auth / --peer-client-cert-auth the handshake fails for a
// connection without a certificate signed by the trusted CA. --auto-tls and
// --peer-auto-tls write a self-signed certificate in <data-dir>/fixtures
// and, as etcd, peers then skip verification: the traffic is encrypted, not
// authenticated.
//
// # HTTP on the client and metrics URLs, and the admin URL
//
// HTTPHandler serves /health ({"health":"true","reason":""} when a leader is
// known), /metrics (raftkv_* names modelled on etcd's) and /version, as etcd
// does on its client and metrics URLs.
//
// AdminHandler serves the lab's clock endpoint: POST /admin/clock
// {"offset":"-3s"} shifts this member's lease clock (GET shows the offset),
// which is how clock-skew faults reach leases. It is unauthenticated and can
// expire every lease, so it is served only on its own listener
// (cmd/raftkv --admin-listen-url, off unless given), never on the client,
// peer or metrics URLs.
//
// # A full disk, and the space quota
//
// As etcd, --quota-backend-bytes (Config.QuotaBackendBytes, 2 GiB by default)
// caps the store: a write that would pass it raises the NOSPACE alarm through
// raft, and while it is active every member refuses puts, txns with puts and
// lease grants with "etcdserver: mvcc: database space exceeded", and serves
// reads, deletes, revokes and compactions. `etcdctl alarm list` and
// `etcdctl alarm disarm` work; `etcdctl endpoint status` shows the alarm.
//
// A disk that really fills up is handled by where the write failed:
//
//   - the store's commit (bbolt): the member raises NOSPACE like the quota
//     does, reopens the store at its last commit and applies again the entries
//     since then from the raft log (they are all in the WAL: nothing
//     acknowledged is lost, and reads see them), and retries the commit every
//     second. Free space, then `etcdctl alarm disarm`: writes work again.
//   - the WAL (a write, an fsync, a new segment): the batch is never
//     acknowledged and the member is fenced: its raft loop stops (the others
//     go on without it, as if it had crashed), writes on it answer NOSPACE,
//     serializable reads keep being served, Status shows the error. It does
//     not retry the WAL, since after a failed fsync the kernel may report a
//     later fsync as done for pages it dropped. Free space and restart it:
//     the WAL replays what it holds and raft catches up from the leader.
//
// etcd itself exits on both (a fatal log line).
//
// # Caveats
//
//   - Raft's election randomness comes from raft's own unseedable generator
//     (crypto/rand); ticks and the lease clock are injectable (Config.NewTicker,
//     Config.Clock), elections are not replayable from a seed.
//   - A received snapshot replaces the store file: watchers on the old store end
//     and v3rpc re-opens them on Backend.Store().
//   - The whole store is buffered in memory to send a snapshot; fine for lab
//     sizes, not for multi-GB stores.
//   - The quota is checked against the store's size as of its last commit
//     (once per BatchInterval), so a burst of writes can overshoot it by what
//     one interval holds; and it counts bytes in use, not the file size, since
//     Defragment does not shrink the file.
//   - Simple auth tokens are kept in memory: after a restart a member knows
//     only the tokens of the Authenticate entries it applies again, and
//     clients authenticate again (JWTs need no state).
//   - No strict reconfiguration check (etcd refuses member add, remove and
//     promote that would lose quorum of started members, and any change
//     until its leader has been connected to every peer for 5 s, "unhealthy
//     cluster"; raftkv does not).
//   - A member removed while it was down learns it only when a peer refuses its
//     stream (HTTP 410), then stops.
package raftkv
