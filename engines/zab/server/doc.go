// Package server is the zab member: ZooKeeper's client protocol and
// configuration on the outside, coordlab's ZAB core (package zab) and
// znode tree (package znode) inside, with the disk, sockets and clocks the
// core must not touch.
//
// A Server owns:
//
//   - the txn log (DataLogDir/zab-log: segments of length-prefixed,
//     CRC-32C-checked records; one fdatasync per Ready, so one fsync covers
//     every proposal batched into it), snapshots of the tree
//     (DataDir/zab-snap, written atomically) and the acceptedEpoch and
//     currentEpoch files (DataDir, replaced atomically, as ZooKeeper's);
//   - the peer transport: one TCP connection per pair of members on the
//     server.N quorum port, dialed by the smaller id from its own address,
//     carrying marshalled zab.Messages in FIFO order, with bounded queues;
//   - the client listeners: plaintext (clientPortAddress:clientPort) and,
//     with secureClientPort, TLS (secureClientPortAddress:secureClientPort),
//     on one request path: jute frames, the
//     four-letter words in FourLetterWordsImplemented (whitelisted;
//     ZooKeeper 3.8's output and live counters, see fourlw.go),
//     maxClientCnxns per IP and maxCnxns in total (a connection over either
//     is closed at accept, counted in mntr's zk_connection_rejected), and
//     nio.sessionlessCnxnTimeout (10 s, ZooKeeper's default) for a new
//     connection to send its ConnectRequest or four-letter word before it
//     is closed (zk_sessionless_connections_expired), so silent sockets
//     cannot hold an address's slots for good;
//   - an optional read-only HTTP port (zab.httpAddress) with /health,
//     /metrics (Prometheus) and /debug/pprof;
//   - an optional admin port of its own (zab.adminAddress, off by default;
//     ":port" binds 127.0.0.1) with POST /admin/clock, the session clock
//     skew the lab injects. It has no authentication and one POST can
//     expire every session, so it is never served on another address;
//   - and one loop goroutine that owns the core, the tree, the log and the
//     session table. It ticks the core ten times per tickTime, steps peer
//     messages, and for each zab.Ready persists and fsyncs, sends, applies
//     committed txns to the tree, fires watches and answers clients, in the
//     order zab.Ready documents.
//
// # Requests
//
// Writes are prepared by the leader's tree (znode.Tree.Prepare, which sees
// the changes already proposed) and proposed; a follower forwards the raw
// request with the connection's auth ids. Every member applies committed
// txns; the member holding the client's connection answers it after
// applying. Reads are served from the local tree, after every earlier
// request of the same session has been answered (a session's requests are
// answered in order). sync goes through the core's sync marker.
//
// A follower forwards through the core (zab.Node.Forward) in a format private
// to zab servers: a kind byte, then a client write (session, auth ids and the
// raw jute request), a batch of session touches, or a session creation. The
// leader prepares writes and session creations and proposes them; touches it
// only records. Each log entry holds one encoded znode.Txn.
//
// # Access
//
// ACLs are ZooKeeper 3.8's, checked on every operation with the permission
// ZooKeeper checks (package znode): READ for getData, getChildren,
// getAllChildrenNumber and a multi's check; WRITE for setData; CREATE and
// DELETE on the parent for create and delete; ADMIN for setACL; READ or
// ADMIN for getACL, which shows digest hashes only with ADMIN; none for
// exists, sync and watches. A failed check is NOAUTH (-102). Each
// connection is authenticated as ip:<remote address> from the start, which
// ip ACLs (an address or a CIDR prefix, ip:10.0.0.0/8) match; addauth
// digest user:password adds digest:user:base64(sha1), which the auth scheme
// in an ACL stands for (InvalidACL for a session without one). When the
// digest equals DigestAuthenticationProvider.superDigest (Config.SuperDigest)
// the connection is the superuser, which passes every check. A follower
// forwards the connection's ids with each write, so the leader checks them.
//
// TLS on secureClientPort takes ZooKeeper 3.8's settings (Config.SSL):
// PEM or PKCS12 key and trust stores (a JKS store is refused with the
// keytool command that converts it), ssl.clientAuth need (the default),
// want or none, ssl.protocol / ssl.enabledProtocols (TLSv1.2 by default, as
// 3.8), ssl.ciphersuites, and hostname verification of client
// certificates against the client's address. Without clientPort only the
// TLS port is served. A failed handshake (no certificate, one from another
// CA, one that does not name the client) closes the connection within
// nio.sessionlessCnxnTimeout and is logged with its reason.
//
// The quorum port is not protected: members talk plaintext and do not
// authenticate each other, and sslQuorum, ssl.quorum.* and quorum SASL
// stop the server at start rather than be ignored. Anyone who can reach a
// member's quorum port can take part in elections and feed it txns, so
// bind server.N addresses to a network only the members reach (a private
// network or VLAN, or firewall rules admitting only the other members'
// addresses to the quorum and election ports).
//
// # Carrying out a Ready
//
// The loop follows zab.Ready's order with two refinements. Committed entries
// that were durable before this Ready (logged by an earlier one and not cut
// by its Truncate) are applied, and their clients answered, before this
// Ready's fsync; only entries this Ready logs wait for it, which saves a
// leader one fsync of latency per write. When a Ready carries a MsgSnap,
// nothing is sent until Committed is applied: the MsgSnap's data is the tree
// serialized at its zxid, and the early messages follow in their order.
// Installing a snapshot from the leader empties the log, writes the snapshot
// file and replaces the tree; that happens while synchronizing, when no
// client is connected, so no watch is lost with the old tree.
//
// # Disk
//
//	<dataLogDir>/zab-log/log.<first zxid, 16 hex>  txn log: length | CRC-32C | zxid | txn
//	<dataDir>/zab-snap/snapshot.<zxid, 16 hex>     "ZABSNAP1" | zxid | tree | CRC-32C
//	<dataDir>/acceptedEpoch, currentEpoch          decimal, as ZooKeeper's
//
// (dataLogDir defaults to dataDir.) At start the server loads its newest
// snapshot and hands the core the epochs, that snapshot's zxid and the log
// above it; it never applies its own log. The core re-delivers the entries
// that are committed once a leader confirms them, so a logged entry that
// never committed is never applied. The acceptedEpoch file is written before
// currentEpoch, so a crash between them keeps acceptedEpoch >= currentEpoch.
//
// # Time
//
// initLimit and syncLimit are scaled to core ticks (ten per tickTime), so the
// configured limits keep their meaning while failures are noticed at a finer
// grain. The core re-sends election votes after two to four ticks and
// waits two ticks for a better vote before it decides. A follower whose
// connection to its leader closes does not wait out syncLimit: it ticks the
// core until it gives the leader up, as a ZooKeeper learner goes LOOKING when
// its leader socket closes.
//
// # Sessions
//
// Session ids are ZooKeeper's (myid<<56 | a millisecond-based counter);
// passwords are derived from the id, so any member can check a reconnect.
// Creating and closing a session are txns. The leader tracks expiry from
// the touches of its own clients and those followers forward every tick,
// and expires a session with a closeSession txn, which deletes its
// ephemerals everywhere. Leaving the broadcast phase, or a new leader or
// epoch, closes every client connection; clients reconnect (to any member)
// with their sessions.
//
// A reconnect for a session this member does not know yet (created through
// another member and not applied here) is revalidated with a core sync, as
// ZooKeeper's REVALIDATE, and answered after it. A client that has seen a
// newer zxid than this member applied is refused and tries another member. A
// new leader gives every session its full timeout from the moment it starts
// serving.
//
// # Damaged data
//
// At start a damaged record in the txn log is a torn tail, truncated with a
// warning, only when it is in the newest segment and no valid record follows
// it anywhere in the file: that is all a crash while appending can leave.
// Anything else (a bad length, checksum or zxid with valid records after it,
// a length over the 64 MiB limit in front of valid records, damage in an
// older segment) is a *CorruptError naming the file and offset, and the
// member refuses to start rather than drop txns it acknowledged. So are a
// damaged newest snapshot that no older snapshot plus the log can replace
// (the log is kept back to the oldest snapshot kept), and epoch files that
// are missing or behind the epochs in the data. The error says how to
// recover: empty the member's dataDir (keeping myid) and restart it, so it
// syncs from the leader.
//
// # Disk full
//
// A member that cannot write its txn log, a snapshot it installs or an
// epoch file (a full disk, an I/O error) does not exit, and does not vouch
// for what it could not persist: it leaves the quorum and serves reads
// only. The rule, in ZAB terms: the Ready whose persistence failed is never
// advanced, its ACKs and answers are never sent, and the core is frozen
// (no ticks, no peer messages), so a follower stops acknowledging and a
// leader can neither count itself for its own proposal nor keep its
// followers (they elect another leader after syncLimit). The unsynced tail
// of the log is cut back to the last fsync.
//
// While read-only, reads and pings are answered from the tree; writes,
// sync and closeSession get NOTREADONLY, the code ZooKeeper's read-only
// servers answer with, which says the request was not carried out.
// Requests already waiting on the quorum when the write failed have an
// unknown outcome (the other members may still commit them): their
// connections are closed instead. The member reports itself not serving
// (/health answers 503 with mode "read-only"). A standalone member keeps
// its clients and lets known sessions reconnect; an ensemble member, which
// can no longer keep its clients' sessions alive at the leader, closes each
// connection after half its session timeout and lets no session back, so
// clients move to members in the quorum. As ZooKeeper's read-only servers,
// a new client that allows read-only mode (canBeReadOnly, zkCli.sh -r) gets
// a read-only session local to this member; other new sessions need a txn
// and are refused. The error is logged with dataDir and dataLogDir.
//
// Every second the member writes and fsyncs a 1 MiB probe file; once that
// works it rebuilds its core from disk, as a restart would, and rejoins
// through an election (closing its client connections once more). A failed
// periodic snapshot is only logged and retried 10 s later: the log keeps
// every txn meanwhile.
//
// # Caveats
//
//   - A session that reconnects to another member is not fenced on the old
//     one: ZooKeeper answers the old connection's requests with
//     SESSIONMOVED, zab serves them until that connection closes.
//   - Snapshots are taken in the loop (not fuzzy in the background), which
//     pauses the member for the time it takes to serialize the tree.
//   - The leader's sync is answered without a quorum round, as ZooKeeper's.
//   - Observers, dynamic reconfiguration (reconfig is answered "Reconfig is
//     disabled", as ZooKeeper with reconfigEnabled=false; the membership is
//     read from server.N lines or a dynamicConfigFile and shown in
//     /zookeeper/config), SASL, local sessions and ZooKeeper's read-only
//     mode for partitioned members (canBeReadOnly) are not supported; the
//     only read-only service is the one after a failed disk write. What zab
//     does with each ZooKeeper 3.8 setting is in ZooKeeperSettings and
//     docs/COMPATIBILITY.md: honoured, refused at start, or inert tuning.
//   - A crash in the middle of a large unsynced batch can, on a file system
//     that writes pages out of order, leave garbage followed by valid
//     records that were never acknowledged. The start then refuses (the
//     log cannot tell them from acknowledged ones) and the member needs the
//     dataDir recovery its error describes.
//   - No TLS between members and no enforced authentication: quorum
//     traffic is plaintext (see Access for how to protect it), and clients
//     authenticate (digest, a client certificate) only if they choose to;
//     client certificates give no x509 ACL id. zoo.cfg settings that ask
//     for more (sslQuorum, ssl.quorum.*, SASL, enforce.auth.enabled=true,
//     ssl.crl/ssl.ocsp, other authProviders) are refused at start rather
//     than ignored.
package server
