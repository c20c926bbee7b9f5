package main

// etcdFlags is every flag etcd 3.4 takes (`etcd --help`, plus the ones it
// registers without listing: --config-file, --version, --log-output,
// --enable-grpc-gateway, --experimental-enable-lease-checkpoint-persist,
// --unsafe-no-fsync), and what raftkv does with each. docs/COMPATIBILITY.md's
// raftkv section is rendered from it (TestCompatibilityDoc keeps the two
// equal), and TestEtcdFlagsKnown checks it against `etcd --help`.
//
// honoured: does what etcd does. sameAsEtcd: accepted; what etcd does with
// it is genuinely what raftkv does (the note says why). refused: stops
// raftkv at start, naming the flag and the reason, unless it is left at the
// value in allowed (etcd's default, which asks for nothing raftkv lacks).
var etcdFlags = []etcdFlag{
	// Member
	{name: "name", support: honoured, note: "member name", test: "TestSampleConfigFile"},
	{name: "data-dir", support: honoured, note: "default ${name}.etcd", test: "TestSampleConfigFile"},
	{name: "wal-dir", support: honoured, note: "the WAL lives there instead of <data-dir>/member/wal", test: "TestWALDir"},
	{name: "snapshot-count", support: honoured, note: "applied entries between raft snapshots", test: "TestSnapshotInstallOnLaggingMember"},
	{name: "heartbeat-interval", support: honoured, note: "raft tick", test: "TestParseEtcdCommandLine"},
	{name: "election-timeout", support: honoured, note: "election ticks; etcd's bounds (>= 5 heartbeats, <= 50000 ms)", test: "TestParseEtcdCommandLine"},
	{name: "initial-election-tick-advance", support: honoured, note: "as etcd: a member starting as the only voter fast-forwards its election ticks; in a multi-member cluster, once more than one peer answers (within 5s), it fast-forwards to two ticks before an election", test: "TestInitialElectionTickAdvance"},
	{name: "listen-peer-urls", support: honoured, note: "", test: "TestClusterPutGetAndFailover"},
	{name: "listen-client-urls", support: honoured, note: "gRPC and /health, /metrics, /version", test: "TestClusterPutGetAndFailover"},
	{name: "max-snapshots", support: sameAsEtcd, note: "raftkv keeps raft snapshots as WAL records and deletes a received *.snap.db once installed, so it never holds more snapshot files than etcd's limit", test: "TestParseEtcdCommandLine"},
	{name: "max-wals", support: honoured, note: "0 keeps every WAL file; N never deletes below N files (TestReleaseKeep). raftkv deletes a file only once replay no longer needs it, which with its segment layout is rarer than etcd's purge: more than N files can remain", test: "TestMaxWALs"},
	{name: "quota-backend-bytes", support: honoured, note: "NOSPACE alarm and etcd's error over quota", test: "TestQuotaBackendBytesProcess"},
	{name: "backend-batch-interval", support: honoured, note: "store commit interval (raftkv's default is 1s, etcd's 100ms; the WAL is the durability source)", test: "TestParseEtcdCommandLine"},
	{name: "backend-batch-limit", support: honoured, note: "the store commits once this many entries are applied since the last commit (etcd counts backend operations, so a multi-put txn counts once here)", test: "TestBackendBatchLimit"},
	{name: "max-txn-ops", support: honoured, note: "a larger Txn answers etcd's \"too many operations in txn request\"", test: "TestSystemdCommandLine"},
	{name: "max-request-bytes", support: honoured, note: "", test: "TestRequestTooLargeAndNoLeader"},
	{name: "max-concurrent-streams", support: honoured, note: "gRPC MaxConcurrentStreams of the client port", test: "TestParseEtcdCommandLine"},
	{name: "grpc-keepalive-min-time", support: honoured, note: "gRPC keepalive enforcement policy: faster client pings are answered with GOAWAY", test: "TestGRPCKeepaliveEnforced"},
	{name: "grpc-keepalive-interval", support: honoured, note: "gRPC server keepalive ping interval", test: "TestParseEtcdCommandLine"},
	{name: "grpc-keepalive-timeout", support: honoured, note: "gRPC server keepalive timeout", test: "TestParseEtcdCommandLine"},

	// Clustering
	{name: "initial-advertise-peer-urls", support: honoured, note: "", test: "TestClusterPutGetAndFailover"},
	{name: "initial-cluster", support: honoured, note: "", test: "TestClusterPutGetAndFailover"},
	{name: "initial-cluster-state", support: honoured, note: "new or existing", test: "TestMemberAddRemove"},
	{name: "initial-cluster-token", support: honoured, note: "member and cluster IDs as etcd derives them", test: "TestClusterPutGetAndFailover"},
	{name: "advertise-client-urls", support: honoured, note: "required when --listen-client-urls is set, as etcd", test: "TestParseEtcdCommandLine"},
	{name: "discovery", support: refused, allowed: "", note: "discovery service bootstrap is left out: give --initial-cluster", test: "TestRefusedFlags"},
	{name: "discovery-fallback", support: refused, allowed: "proxy", note: "only acts with --discovery, which raftkv leaves out; \"exit\" asks for discovery behaviour", test: "TestRefusedFlags"},
	{name: "discovery-proxy", support: refused, allowed: "", note: "discovery is left out", test: "TestRefusedFlags"},
	{name: "discovery-srv", support: refused, allowed: "", note: "DNS SRV discovery is left out: give --initial-cluster", test: "TestRefusedFlags"},
	{name: "discovery-srv-name", support: refused, allowed: "", note: "DNS SRV discovery is left out", test: "TestRefusedFlags"},
	{name: "strict-reconfig-check", support: honoured, note: "member add/remove that would lose quorum of connected members answers etcd's \"etcdserver: unhealthy cluster\"", test: "TestStrictReconfigCheck"},
	{name: "pre-vote", support: honoured, note: "raft PreVote (etcd's default false)", test: "TestPreVote"},
	{name: "auto-compaction-retention", support: honoured, note: "periodic: hours or a duration; revision: a count; as etcd 3.4's compactor", test: "TestAutoCompactionPeriodic"},
	{name: "auto-compaction-mode", support: honoured, note: "periodic or revision", test: "TestAutoCompactionRevision"},
	{name: "enable-v2", support: refused, allowed: "false", note: "raftkv serves etcd's v3 API only; the v2 API is left out", test: "TestRefusedFlags"},

	// Security
	{name: "cert-file", support: honoured, note: "", test: "TestTLSFlagsWithEtcdctl"},
	{name: "key-file", support: honoured, note: "", test: "TestTLSFlagsWithEtcdctl"},
	{name: "client-cert-auth", support: honoured, note: "", test: "TestTLSFlagsWithEtcdctl"},
	{name: "client-crl-file", support: honoured, note: "a client certificate whose serial the list revokes is refused at the handshake (re-read at each one, as etcd)", test: "TestTLSCertificateChecks"},
	{name: "client-cert-allowed-hostname", support: honoured, note: "only client certificates valid for this host name are accepted", test: "TestTLSCertificateChecks"},
	{name: "trusted-ca-file", support: honoured, note: "", test: "TestTLSFlagsWithEtcdctl"},
	{name: "auto-tls", support: honoured, note: "", test: "TestAutoTLS"},
	{name: "peer-cert-file", support: honoured, note: "", test: "TestTLSFlagsWithEtcdctl"},
	{name: "peer-key-file", support: honoured, note: "", test: "TestTLSFlagsWithEtcdctl"},
	{name: "peer-client-cert-auth", support: honoured, note: "", test: "TestTLSFlagsWithEtcdctl"},
	{name: "peer-trusted-ca-file", support: honoured, note: "", test: "TestTLSFlagsWithEtcdctl"},
	{name: "peer-cert-allowed-cn", support: honoured, note: "only peer certificates with this common name are accepted", test: "TestTLSCertificateChecks"},
	{name: "peer-cert-allowed-hostname", support: honoured, note: "only peer certificates valid for this host name are accepted", test: "TestTLSCertificateChecks"},
	{name: "peer-auto-tls", support: honoured, note: "", test: "TestAutoTLS"},
	{name: "peer-crl-file", support: honoured, note: "a peer certificate whose serial the list revokes is refused at the handshake", test: "TestTLSCertificateChecks"},
	{name: "auth-token", support: honoured, note: "simple tokens valid on every member, or jwt with etcd's options (sign-method, priv-key, pub-key, ttl); a bad option stops the start naming it", test: "TestEtcdctlAuthJWT"},
	{name: "auth-token-ttl", support: honoured, note: "a simple token lives this long after its last use", test: "TestTokenStoreExpiryAndInvalidation"},
	{name: "bcrypt-cost", support: honoured, note: "4..31 (etcd warns and uses 10 outside it; raftkv refuses to start)", test: "TestAuthAndLimitFlags"},
	{name: "cipher-suites", support: honoured, note: "Go's TLS suite names, on the client and peer servers and peer connections", test: "TestParseEtcdCommandLine"},
	{name: "cors", support: honoured, note: "CORS headers on the client URLs' HTTP responses for the allowed origins (all with *), OPTIONS answered, as etcd's access controller", test: "TestAccessController"},
	{name: "host-whitelist", support: honoured, note: "over plain HTTP a Host not listed is refused with 421 and etcd's DNS-rebinding message", test: "TestAccessController"},

	// Profiling and monitoring
	{name: "enable-pprof", support: honoured, note: "/debug/pprof on the client and metrics URLs", test: "TestParseEtcdCommandLine"},
	{name: "metrics", support: refused, allowed: "basic", note: "\"extensive\" histograms are not exported", test: "TestRefusedFlags"},
	{name: "listen-metrics-urls", support: honoured, note: "", test: "TestSystemdCommandLine"},

	// Logging
	{name: "logger", support: honoured, note: "capnslog (default) or zap, with etcd's lines and JSON field names", test: "TestLogLines"},
	{name: "log-outputs", support: honoured, note: "default, stderr, stdout or files", test: "TestLogLines"},
	{name: "log-output", support: honoured, note: "etcd's deprecated spelling of --log-outputs", test: "TestParseEtcdCommandLine"},
	{name: "log-level", support: honoured, note: "debug, info, warn, error, panic, fatal", test: "TestLogLines"},
	{name: "debug", support: honoured, note: "same as --log-level debug", test: "TestParseEtcdCommandLine"},
	{name: "log-package-levels", support: honoured, note: "per-package levels for capnslog (ignored by zap, as etcd)", test: "TestLogLines"},

	// v2 proxy
	{name: "proxy", support: refused, allowed: "off", note: "the v2 proxy is left out", test: "TestRefusedFlags"},
	{name: "proxy-failure-wait", support: sameAsEtcd, note: "acts only with --proxy on/readonly, which is refused", test: "TestParseEtcdCommandLine"},
	{name: "proxy-refresh-interval", support: sameAsEtcd, note: "acts only with --proxy on/readonly, which is refused", test: "TestParseEtcdCommandLine"},
	{name: "proxy-dial-timeout", support: sameAsEtcd, note: "acts only with --proxy on/readonly, which is refused", test: "TestParseEtcdCommandLine"},
	{name: "proxy-write-timeout", support: sameAsEtcd, note: "acts only with --proxy on/readonly, which is refused", test: "TestParseEtcdCommandLine"},
	{name: "proxy-read-timeout", support: sameAsEtcd, note: "acts only with --proxy on/readonly, which is refused", test: "TestParseEtcdCommandLine"},

	// Experimental
	{name: "experimental-initial-corrupt-check", support: honoured, note: "a restarting member compares its HashKV with every peer's at its revision before serving; a mismatch stops it", test: "TestCorruptionCheck"},
	{name: "experimental-corrupt-check-time", support: honoured, note: "the leader compares hashes with every member at this interval and raises the CORRUPT alarm on a mismatch (keys then answer \"etcdserver: corrupt cluster\")", test: "TestCorruptionCheck"},
	{name: "experimental-enable-v2v3", support: refused, allowed: "", note: "the v2 API is left out", test: "TestRefusedFlags"},
	{name: "experimental-backend-bbolt-freelist-type", support: honoured, note: "array or map", test: "TestParseEtcdCommandLine"},
	{name: "experimental-enable-lease-checkpoint", support: honoured, note: "the leader checkpoints remaining TTLs through the log every 5 minutes and a new leader uses them; raftkv keeps them in its store, so they also survive a restart (etcd 3.4 only with the -persist flag)", test: "TestLeaseCheckpoint"},
	{name: "experimental-enable-lease-checkpoint-persist", support: honoured, note: "requires --experimental-enable-lease-checkpoint, as etcd; raftkv always persists checkpoints", test: "TestLeaseCheckpoint"},
	{name: "experimental-compaction-batch-limit", support: refused, allowed: "1000", note: "raftkv compacts in one store transaction; batching is not implemented", test: "TestRefusedFlags"},
	{name: "experimental-peer-skip-client-san-verification", support: honoured, note: "by default the peer listener refuses a client certificate whose IP/DNS SANs do not name the connecting address, as etcd; this skips that check", test: "TestTLSCertificateChecks"},
	{name: "experimental-watch-progress-notify-interval", support: honoured, note: "progress notifications to idle watchers that asked for them", test: "TestParseEtcdCommandLine"},
	{name: "experimental-warning-apply-duration", support: honoured, note: "an apply slower than this logs \"apply request took too long\"", test: "TestWarningApplyDuration"},

	// Unsafe
	{name: "unsafe-no-fsync", support: honoured, note: "the WAL and the store skip fsync (a machine crash can lose acknowledged writes), as etcd", test: "TestUnsafeNoFsync"},
	{name: "force-new-cluster", support: honoured, note: "restarts a member from its own data as a one-member cluster (uncommitted entries dropped, every other member removed through committed conf changes)", test: "TestForceNewCluster"},

	// Not listed by --help
	{name: "config-file", support: honoured, note: "etcd's YAML keys; other flags and ETCD_* variables are then ignored, as etcd", test: "TestSampleConfigFile"},
	{name: "version", support: honoured, note: "prints the raftkv and etcd API versions", test: "TestParseEtcdCommandLine"},
	{name: "enable-grpc-gateway", support: honoured, note: "the v3 API as JSON at /v3/... (and /v3beta/...) on the client URLs, etcd's field names; on by default, as etcd", test: "TestGRPCGateway"},
}

type support int

const (
	honoured support = iota + 1
	sameAsEtcd
	refused
)

func (s support) String() string {
	switch s {
	case honoured:
		return "honoured"
	case sameAsEtcd:
		return "accepted, same as etcd"
	case refused:
		return "refused"
	}
	return "?"
}

type etcdFlag struct {
	name    string
	support support
	allowed string // refused: the value that still starts (etcd's default)
	note    string
	test    string
}

// ignoredEtcdFlags are the flags etcd 3.4 accepts and ignores with a warning
// (etcdmain's ignored list: options of etcd 0.4).
var ignoredEtcdFlags = []string{"cluster-active-size", "cluster-remove-delay", "cluster-sync-interval",
	"config", "force", "max-result-buffer", "max-retry-attempts", "peer-heartbeat-interval",
	"peer-election-timeout", "retry-interval", "snapshot", "v", "vv"}

func lookupEtcdFlag(name string) (etcdFlag, bool) {
	for _, f := range etcdFlags {
		if f.name == name {
			return f, true
		}
	}
	return etcdFlag{}, false
}
