package server

import (
	"strconv"
	"strings"
)

// What zab does with each setting ZooKeeper 3.8 documents (zookeeperAdmin.md
// of branch-3.8, plus the few its other guides name: dynamicConfigFile,
// peerType, nio.sessionlessCnxnTimeout, the log4j properties zkServer.sh
// passes). docs/COMPATIBILITY.md is rendered from this table and a test
// keeps the two, and the list of documented keys, in step.

// SettingStatus is what zab does with a ZooKeeper setting.
type SettingStatus int

const (
	// Honoured: zab does what the setting asks (values it cannot give are
	// refused at start, see Accept).
	Honoured SettingStatus = iota
	// Refused: zab stops at start naming the setting, unless its value
	// asks for ZooKeeper's default behaviour (Accept), which zab has.
	Refused
	// Inert: tuning of ZooKeeper's own machinery (threads, caches, buffers,
	// file preallocation, logging) that zab does not have; no request,
	// reply, watch, session or file a client or tool sees depends on it.
	// Accepted, and named in the start-up log line.
	Inert
)

func (s SettingStatus) String() string {
	switch s {
	case Honoured:
		return "honoured"
	case Refused:
		return "refused"
	}
	return "inert"
}

// ZooKeeperSetting is one documented ZooKeeper 3.8 setting.
type ZooKeeperSetting struct {
	// Key is the zoo.cfg key (ZooKeeper also reads an unknown zoo.cfg key K
	// as the system property zookeeper.K).
	Key string
	// Property is the Java system property (-D in SERVER_JVMFLAGS or
	// JVMFLAGS), "" when ZooKeeper reads it from zoo.cfg only.
	Property string
	Status   SettingStatus
	// Accept reports whether a value is one zab can serve as asked; nil
	// accepts every value (Honoured: the setting's own parser checks it).
	// For Refused settings it accepts the values that ask for ZooKeeper's
	// default behaviour.
	Accept func(v string) bool
	// Note says how zab honours it, why it is refused, or why it is inert.
	Note string
	// Tests names the tests that show it honoured (comma separated).
	Tests string
}

func oneOf(vals ...string) func(string) bool {
	return func(v string) bool {
		v = strings.ToLower(strings.TrimSpace(v))
		for _, a := range vals {
			if v == strings.ToLower(a) {
				return true
			}
		}
		return false
	}
}

// atMost accepts integers <= n (ZooKeeper's "0 or less: off").
func atMost(n int64) func(string) bool {
	return func(v string) bool {
		i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		return err == nil && i <= n
	}
}

func offBool(v string) bool { return oneOf("false")(v) }
func onBool(v string) bool  { return oneOf("true")(v) }
func empty(v string) bool   { return strings.TrimSpace(v) == "" }
func never(string) bool     { return false }

const (
	noObservers  = "zab has no observers (server.N:observer is refused)"
	noQuorumTLS  = "TLS between members is " + notSupported + " (keep the quorum and election ports on a network only the members reach)"
	noSASL       = "SASL and Kerberos are " + notSupported + " (zab has the digest and ip schemes)"
	noAdmin      = "zab has no AdminServer (the four-letter words and zab.httpAddress serve its state); Debian's packaged ZooKeeper 3.8 serves none either: its class path lacks servlet-api, so ZooKeeper falls back to no AdminServer"
	tuning       = "ZooKeeper-internal tuning"
	clientSide   = "a client property (zkEnv.sh passes JVMFLAGS to clients too); the server does not read it"
	noThrottling = "request and connection throttling is " + notSupported + "; zab bounds each connection's queue (zab.clientQueueLen) instead"
)

// ZooKeeperSettings is the table, in zookeeperAdmin.md's order.
var ZooKeeperSettings = []ZooKeeperSetting{
	{Key: "clientPort", Status: Honoured, Note: "client port", Tests: "TestLoadConfig, TestZkCliSameAsZooKeeper"},
	{Key: "secureClientPort", Status: Honoured, Note: "TLS client port", Tests: "TestZkCliTLS"},
	{Key: "observerMasterPort", Status: Refused, Accept: never, Note: noObservers},
	{Key: "dataDir", Status: Honoured, Note: "snapshots, epoch files, myid", Tests: "TestRestartAll"},
	{Key: "tickTime", Status: Honoured, Note: "session bounds default to 2 and 20 ticks as in ZooKeeper", Tests: "TestLoadConfig"},
	{Key: "dataLogDir", Status: Honoured, Note: "txn log directory", Tests: "TestLoadConfig"},
	{Key: "globalOutstandingLimit", Property: "zookeeper.globalOutstandingLimit", Status: Inert, Note: tuning + ": zab bounds outstanding work per connection (zab.clientQueueLen) and per proposal window"},
	{Key: "preAllocSize", Property: "zookeeper.preAllocSize", Status: Inert, Note: tuning + ": txn log file preallocation; zab's log has its own format"},
	{Key: "snapCount", Property: "zookeeper.snapCount", Status: Honoured, Note: "txns between snapshots (zab.snapshotTxns; ZooKeeper snapshots at a random point between snapCount/2 and snapCount)", Tests: "TestSnapCount"},
	{Key: "commitLogCount", Property: "zookeeper.commitLogCount", Status: Honoured, Note: "committed txns kept to sync a follower with DIFF (zab's default is 10000, ZooKeeper's 500)", Tests: "TestSnapSyncAfterLongOutage"},
	{Key: "snapSizeLimitInKb", Property: "zookeeper.snapSizeLimitInKb", Status: Inert, Note: tuning + ": when the leader prefers SNAP to DIFF; zab chooses by commitLogCount"},
	{Key: "txnLogSizeLimitInKb", Property: "zookeeper.txnLogSizeLimitInKb", Status: Inert, Note: tuning + ": txn log file roll-over size"},
	{Key: "maxCnxns", Property: "zookeeper.maxCnxns", Status: Honoured, Tests: "TestMaxCnxns"},
	{Key: "maxClientCnxns", Status: Honoured, Note: "per client IP", Tests: "TestInProcessEnsemble"},
	{Key: "clientPortAddress", Status: Honoured, Note: "client bind address; zab's default is 127.0.0.1 where ZooKeeper binds every address", Tests: "TestLoadConfig"},
	{Key: "minSessionTimeout", Status: Honoured, Tests: "TestLoadConfig"},
	{Key: "maxSessionTimeout", Status: Honoured, Tests: "TestLoadConfig"},
	{Key: "fsync.warningthresholdms", Property: "zookeeper.fsync.warningthresholdms", Status: Inert, Note: tuning + ": a log-line threshold"},
	{Key: "maxResponseCacheSize", Property: "zookeeper.maxResponseCacheSize", Status: Inert, Note: tuning + ": serialized-reply cache"},
	{Key: "maxGetChildrenResponseCacheSize", Property: "zookeeper.maxGetChildrenResponseCacheSize", Status: Inert, Note: tuning + ": serialized-reply cache"},
	{Key: "autopurge.snapRetainCount", Status: Refused, Accept: atMost(3), Note: "zab keeps the newest 3 snapshots (ZooKeeper's minimum and default) and the log they need"},
	{Key: "autopurge.purgeInterval", Status: Inert, Note: "zab removes all but the newest 3 snapshots at every snapshot, whatever the interval (ZooKeeper keeps them all at the default 0); only disk use differs"},
	{Key: "syncEnabled", Property: "zookeeper.observer.syncEnabled", Status: Inert, Note: "applies to observers only; " + noObservers},
	{Key: "extendedTypesEnabled", Property: "zookeeper.extendedTypesEnabled", Status: Honoured, Note: "TTL nodes only when true (Unimplemented otherwise)", Tests: "TestTTLNeedsExtendedTypes, TestZkCliSameAsZooKeeper, TestEnsembleWithGoZK"},
	{Key: "emulate353TTLNodes", Property: "zookeeper.emulate353TTLNodes", Status: Refused, Accept: offBool, Note: "ZooKeeper 3.5.3's TTL encoding is " + notSupported},
	{Key: "watchManagerName", Property: "zookeeper.watchManagerName", Status: Inert, Note: tuning + ": the watch manager's data structure; watches behave the same"},
	{Key: "watcherCleanThreadsNum", Property: "zookeeper.watcherCleanThreadsNum", Status: Inert, Note: tuning},
	{Key: "watcherCleanThreshold", Property: "zookeeper.watcherCleanThreshold", Status: Inert, Note: tuning},
	{Key: "watcherCleanIntervalInSeconds", Property: "zookeeper.watcherCleanIntervalInSeconds", Status: Inert, Note: tuning},
	{Key: "maxInProcessingDeadWatchers", Property: "zookeeper.maxInProcessingDeadWatchers", Status: Inert, Note: tuning},
	{Key: "bitHashCacheSize", Property: "zookeeper.bitHashCacheSize", Status: Inert, Note: tuning},
	{Key: "fastleader.minNotificationInterval", Property: "zookeeper.fastleader.minNotificationInterval", Status: Inert, Note: tuning + ": election resend pacing; zab's election runs in ticks"},
	{Key: "fastleader.maxNotificationInterval", Property: "zookeeper.fastleader.maxNotificationInterval", Status: Inert, Note: tuning + ": election resend pacing; zab's election runs in ticks"},
	{Key: "connectionMaxTokens", Property: "zookeeper.connection_throttle_tokens", Status: Refused, Accept: atMost(0), Note: noThrottling},
	{Key: "connectionTokenFillTime", Property: "zookeeper.connection_throttle_fill_time", Status: Inert, Note: "used only with connectionMaxTokens, refused above 0"},
	{Key: "connectionTokenFillCount", Property: "zookeeper.connection_throttle_fill_count", Status: Inert, Note: "used only with connectionMaxTokens, refused above 0"},
	{Key: "connectionFreezeTime", Property: "zookeeper.connection_throttle_freeze_time", Status: Inert, Note: "used only with connectionMaxTokens, refused above 0"},
	{Key: "connectionDropIncrease", Property: "zookeeper.connection_throttle_drop_increase", Status: Inert, Note: "used only with connectionMaxTokens, refused above 0"},
	{Key: "connectionDropDecrease", Property: "zookeeper.connection_throttle_drop_decrease", Status: Inert, Note: "used only with connectionMaxTokens, refused above 0"},
	{Key: "connectionDecreaseRatio", Property: "zookeeper.connection_throttle_decrease_ratio", Status: Inert, Note: "used only with connectionMaxTokens, refused above 0"},
	{Key: "zookeeper.connection_throttle_weight_enabled", Property: "zookeeper.connection_throttle_weight_enabled", Status: Inert, Note: "used only with connectionMaxTokens, refused above 0"},
	{Key: "zookeeper.connection_throttle_global_session_weight", Property: "zookeeper.connection_throttle_global_session_weight", Status: Inert, Note: "used only with connectionMaxTokens, refused above 0"},
	{Key: "zookeeper.connection_throttle_local_session_weight", Property: "zookeeper.connection_throttle_local_session_weight", Status: Inert, Note: "used only with connectionMaxTokens, refused above 0"},
	{Key: "zookeeper.connection_throttle_renew_session_weight", Property: "zookeeper.connection_throttle_renew_session_weight", Status: Inert, Note: "used only with connectionMaxTokens, refused above 0"},
	{Key: "clientPortListenBacklog", Status: Inert, Note: tuning + ": the listen backlog (zab uses the system's)"},
	{Key: "serverCnxnFactory", Property: "zookeeper.serverCnxnFactory", Status: Honoured, Note: "Netty or NIO, and NIO without TLS as ZooKeeper", Tests: "TestZkCliTLS, TestLoadConfig"},
	{Key: "flushDelay", Property: "zookeeper.flushDelay", Status: Inert, Note: tuning + ": group-commit pacing; zab batches every proposal since the last fsync"},
	{Key: "maxWriteQueuePollTime", Property: "zookeeper.maxWriteQueuePollTime", Status: Inert, Note: tuning + ": group-commit pacing"},
	{Key: "maxBatchSize", Property: "zookeeper.maxBatchSize", Status: Inert, Note: tuning + ": group-commit size (zab.maxBatchTxns)"},
	{Key: "enforceQuota", Property: "zookeeper.enforceQuota", Status: Refused, Accept: offBool, Note: "enforcing quotas is " + notSupported + "; with false (the default) zab keeps the quota statistics and, like ZooKeeper, does not stop a write over the limit", Tests: "TestZkCliSameAsZooKeeper"},
	{Key: "requestThrottleLimit", Property: "zookeeper.request_throttle_max_requests", Status: Refused, Accept: atMost(0), Note: noThrottling},
	{Key: "requestThrottleStallTime", Property: "zookeeper.request_throttle_stall_time", Status: Inert, Note: "used only with requestThrottleLimit, refused above 0"},
	{Key: "requestThrottleDropStale", Property: "zookeeper.request_throttle_drop_stale", Status: Inert, Note: "used only with requestThrottleLimit, refused above 0"},
	{Key: "requestStaleLatencyCheck", Property: "zookeeper.request_stale_latency_check", Status: Refused, Accept: offBool, Note: "dropping requests that waited too long is " + notSupported},
	{Key: "requestStaleConnectionCheck", Property: "zookeeper.request_stale_connection_check", Status: Inert, Note: tuning + ": a check in ZooKeeper's request throttler, which zab does not have"},
	{Key: "zookeeper.request_throttler.shutdownTimeout", Property: "zookeeper.request_throttler.shutdownTimeout", Status: Inert, Note: "used only with requestThrottleLimit, refused above 0"},
	{Key: "advancedFlowControlEnabled", Property: "zookeeper.netty.advancedFlowControl.enabled", Status: Inert, Note: tuning + ": Netty read pacing"},
	{Key: "enableEagerACLCheck", Property: "zookeeper.enableEagerACLCheck", Status: Refused, Accept: offBool, Note: "the eager ACL check is " + notSupported},
	{Key: "maxConcurrentSnapSyncs", Property: "zookeeper.leader.maxConcurrentSnapSyncs", Status: Inert, Note: tuning + ": sync concurrency"},
	{Key: "maxConcurrentDiffSyncs", Property: "zookeeper.leader.maxConcurrentDiffSyncs", Status: Inert, Note: tuning + ": sync concurrency"},
	{Key: "digest.enabled", Property: "zookeeper.digest.enabled", Status: Inert, Note: "ZooKeeper's self-check of tree digests; zab checks its log and snapshots with CRCs instead"},
	{Key: "snapshot.compression.method", Property: "zookeeper.snapshot.compression.method", Status: Inert, Note: "snapshot file encoding; zab's snapshots have their own format"},
	{Key: "snapshot.trust.empty", Property: "zookeeper.snapshot.trust.empty", Status: Inert, Note: "zab starts from its log without a snapshot in any case"},
	{Key: "audit.enable", Property: "zookeeper.audit.enable", Status: Refused, Accept: offBool, Note: "the audit log is " + notSupported},
	{Key: "audit.impl.class", Property: "zookeeper.audit.impl.class", Status: Inert, Note: "used only with audit.enable, refused when true"},
	{Key: "largeRequestMaxBytes", Property: "zookeeper.largeRequestMaxBytes", Status: Inert, Note: "used only with largeRequestThreshold, refused when set"},
	{Key: "largeRequestThreshold", Property: "zookeeper.largeRequestThreshold", Status: Refused, Accept: atMost(-1), Note: "throttling large requests is " + notSupported + " (jute.maxbuffer bounds each request)"},
	{Key: "outstandingHandshake.limit", Property: "zookeeper.netty.server.outstandingHandshake.limit", Status: Refused, Accept: atMost(0), Note: "limiting concurrent TLS handshakes is " + notSupported},
	{Key: "netty.server.earlyDropSecureConnectionHandshakes", Property: "zookeeper.netty.server.earlyDropSecureConnectionHandshakes", Status: Refused, Accept: offBool, Note: "dropping TLS handshakes early is " + notSupported},
	{Key: "throttledOpWaitTime", Property: "zookeeper.throttled_op_wait_time", Status: Refused, Accept: atMost(0), Note: noThrottling},
	{Key: "learner.closeSocketAsync", Property: "zookeeper.learner.closeSocketAsync", Status: Inert, Note: tuning},
	{Key: "leader.closeSocketAsync", Property: "zookeeper.leader.closeSocketAsync", Status: Inert, Note: tuning},
	{Key: "learner.asyncSending", Property: "zookeeper.learner.asyncSending", Status: Inert, Note: tuning},
	{Key: "forward_learner_requests_to_commit_processor_disabled", Property: "zookeeper.forward_learner_requests_to_commit_processor_disabled", Status: Inert, Note: tuning},
	{Key: "electionAlg", Status: Honoured, Accept: oneOf("3"), Note: "3 only, as ZooKeeper 3.8 (zab's fast leader election)", Tests: "TestZooKeeperSettingsEnforced"},
	{Key: "maxTimeToWaitForEpoch", Property: "zookeeper.leader.maxTimeToWaitForEpoch", Status: Inert, Note: "zab waits initLimit ticks for the epoch quorum"},
	{Key: "initLimit", Status: Honoured, Tests: "TestLoadConfig"},
	{Key: "connectToLearnerMasterLimit", Status: Inert, Note: "applies to observers only; " + noObservers},
	{Key: "leaderServes", Property: "zookeeper.leaderServes", Status: Refused, Accept: oneOf("yes", "true"), Note: "a leader that serves no clients is " + notSupported},
	{Key: "server.x", Status: Honoured, Note: "participants (observers refused), ;clientAddr:port too", Tests: "TestLoadConfig, TestDynamicConfigFile"},
	{Key: "syncLimit", Status: Honoured, Tests: "TestLoadConfig"},
	{Key: "group.x", Status: Refused, Accept: never, Note: "hierarchical quorums are " + notSupported},
	{Key: "weight.x", Status: Refused, Accept: never, Note: "hierarchical quorums are " + notSupported},
	{Key: "cnxTimeout", Status: Inert, Note: tuning + ": election connect timeout"},
	{Key: "quorumCnxnTimeoutMs", Status: Inert, Note: tuning + ": quorum connect timeout"},
	{Key: "standaloneEnabled", Status: Honoured, Note: "false runs one server line as an ensemble", Tests: "TestDynamicConfigFile"},
	{Key: "reconfigEnabled", Status: Refused, Accept: offBool, Note: "dynamic reconfiguration is " + notSupported + "; with false (ZooKeeper's default) reconfig gets \"Reconfig is disabled\" as from ZooKeeper; TestZkCliConfigEnsemble"},
	{Key: "dynamicConfigFile", Status: Honoured, Note: "server.N lines from the file, version from its name", Tests: "TestDynamicConfigFile, TestZkCliConfigEnsemble"},
	{Key: "4lw.commands.whitelist", Property: "zookeeper.4lw.commands.whitelist", Status: Honoured, Tests: "TestFourLetterWordAllowed"},
	{Key: "tcpKeepAlive", Property: "zookeeper.tcpKeepAlive", Status: Inert, Note: "zab's quorum connections use TCP keep-alive in any case"},
	{Key: "clientTcpKeepAlive", Property: "zookeeper.clientTcpKeepAlive", Status: Inert, Note: "zab's client connections use TCP keep-alive in any case"},
	{Key: "electionPortBindRetry", Property: "zookeeper.electionPortBindRetry", Status: Inert, Note: "zab runs election over the quorum port and binds no election port"},
	{Key: "observer.reconnectDelayMs", Property: "zookeeper.observer.reconnectDelayMs", Status: Inert, Note: "applies to observers only; " + noObservers},
	{Key: "observer.election.DelayMs", Property: "zookeeper.observer.election.DelayMs", Status: Inert, Note: "applies to observers only; " + noObservers},
	{Key: "localSessionsEnabled", Status: Refused, Accept: offBool, Note: "local sessions are " + notSupported},
	{Key: "localSessionsUpgradingEnabled", Status: Inert, Note: "used only with localSessionsEnabled, refused when true"},
	{Key: "DigestAuthenticationProvider.enabled", Property: "zookeeper.DigestAuthenticationProvider.enabled", Status: Refused, Accept: onBool, Note: "turning the digest scheme off is " + notSupported},
	{Key: "DigestAuthenticationProvider.superDigest", Property: "zookeeper.DigestAuthenticationProvider.superDigest", Status: Honoured, Tests: "TestZkCliSuperuser"},
	{Key: "DigestAuthenticationProvider.digestAlg", Property: "zookeeper.DigestAuthenticationProvider.digestAlg", Status: Refused, Accept: oneOf("SHA1", "SHA-1"), Note: "digests other than SHA1 are " + notSupported},
	{Key: "X509AuthenticationProvider.superUser", Property: "zookeeper.X509AuthenticationProvider.superUser", Status: Refused, Accept: empty, Note: "the x509 scheme is " + notSupported},
	{Key: "zookeeper.superUser", Property: "zookeeper.superUser", Status: Refused, Accept: empty, Note: noSASL},
	{Key: "ssl.authProvider", Property: "zookeeper.ssl.authProvider", Status: Refused, Accept: empty, Note: "the x509 scheme is " + notSupported + " (client certificates are checked, not turned into ids)"},
	{Key: "zookeeper.ensembleAuthName", Property: "zookeeper.ensembleAuthName", Status: Refused, Accept: empty, Note: "the ensemble auth scheme is " + notSupported},
	{Key: "sessionRequireClientSASLAuth", Property: "zookeeper.sessionRequireClientSASLAuth", Status: Refused, Accept: offBool, Note: noSASL},
	{Key: "enforce.auth.enabled", Property: "zookeeper.enforce.auth.enabled", Status: Refused, Accept: offBool, Note: "refusing sessions without an authenticated scheme is " + notSupported},
	{Key: "enforce.auth.schemes", Property: "zookeeper.enforce.auth.schemes", Status: Inert, Note: "used only with enforce.auth.enabled, refused when true"},
	{Key: "sslQuorum", Property: "zookeeper.sslQuorum", Status: Refused, Accept: offBool, Note: noQuorumTLS},
	{Key: "ssl.keyStore.location", Property: "zookeeper.ssl.keyStore.location", Status: Honoured, Note: "PEM or PKCS12", Tests: "TestZkCliTLS"},
	{Key: "ssl.keyStore.password", Property: "zookeeper.ssl.keyStore.password", Status: Honoured, Tests: "TestZkCliTLS"},
	{Key: "ssl.quorum.keyStore.location", Property: "zookeeper.ssl.quorum.keyStore.location", Status: Refused, Accept: empty, Note: noQuorumTLS},
	{Key: "ssl.quorum.keyStore.password", Property: "zookeeper.ssl.quorum.keyStore.password", Status: Refused, Accept: empty, Note: noQuorumTLS},
	{Key: "ssl.keyStore.passwordPath", Property: "zookeeper.ssl.keyStore.passwordPath", Status: Honoured, Tests: "TestTLSZooCfg"},
	{Key: "ssl.quorum.keyStore.passwordPath", Property: "zookeeper.ssl.quorum.keyStore.passwordPath", Status: Refused, Accept: empty, Note: noQuorumTLS},
	{Key: "ssl.keyStore.type", Property: "zookeeper.ssl.keyStore.type", Status: Honoured, Note: "PEM or PKCS12 (JKS refused)", Tests: "TestZkCliTLS"},
	{Key: "ssl.quorum.keyStore.type", Property: "zookeeper.ssl.quorum.keyStore.type", Status: Refused, Accept: empty, Note: noQuorumTLS},
	{Key: "ssl.trustStore.location", Property: "zookeeper.ssl.trustStore.location", Status: Honoured, Tests: "TestZkCliTLS"},
	{Key: "ssl.trustStore.password", Property: "zookeeper.ssl.trustStore.password", Status: Honoured, Tests: "TestZkCliTLS"},
	{Key: "ssl.quorum.trustStore.location", Property: "zookeeper.ssl.quorum.trustStore.location", Status: Refused, Accept: empty, Note: noQuorumTLS},
	{Key: "ssl.quorum.trustStore.password", Property: "zookeeper.ssl.quorum.trustStore.password", Status: Refused, Accept: empty, Note: noQuorumTLS},
	{Key: "ssl.trustStore.passwordPath", Property: "zookeeper.ssl.trustStore.passwordPath", Status: Honoured, Tests: "TestTLSZooCfg"},
	{Key: "ssl.quorum.trustStore.passwordPath", Property: "zookeeper.ssl.quorum.trustStore.passwordPath", Status: Refused, Accept: empty, Note: noQuorumTLS},
	{Key: "ssl.trustStore.type", Property: "zookeeper.ssl.trustStore.type", Status: Honoured, Tests: "TestZkCliTLS"},
	{Key: "ssl.quorum.trustStore.type", Property: "zookeeper.ssl.quorum.trustStore.type", Status: Refused, Accept: empty, Note: noQuorumTLS},
	{Key: "ssl.protocol", Property: "zookeeper.ssl.protocol", Status: Honoured, Tests: "TestTLSZooCfg"},
	{Key: "ssl.quorum.protocol", Property: "zookeeper.ssl.quorum.protocol", Status: Refused, Accept: empty, Note: noQuorumTLS},
	{Key: "ssl.enabledProtocols", Property: "zookeeper.ssl.enabledProtocols", Status: Honoured, Tests: "TestTLSZooCfg"},
	{Key: "ssl.quorum.enabledProtocols", Property: "zookeeper.ssl.quorum.enabledProtocols", Status: Refused, Accept: empty, Note: noQuorumTLS},
	{Key: "ssl.ciphersuites", Property: "zookeeper.ssl.ciphersuites", Status: Honoured, Tests: "TestTLSZooCfg"},
	{Key: "ssl.quorum.ciphersuites", Property: "zookeeper.ssl.quorum.ciphersuites", Status: Refused, Accept: empty, Note: noQuorumTLS},
	{Key: "ssl.context.supplier.class", Property: "zookeeper.ssl.context.supplier.class", Status: Refused, Accept: empty, Note: "Java SSLContext suppliers have no counterpart; give the stores with ssl.keyStore.* and ssl.trustStore.*"},
	{Key: "ssl.quorum.context.supplier.class", Property: "zookeeper.ssl.quorum.context.supplier.class", Status: Refused, Accept: empty, Note: noQuorumTLS},
	{Key: "ssl.hostnameVerification", Property: "zookeeper.ssl.hostnameVerification", Status: Honoured, Tests: "TestTLSZooCfg"},
	{Key: "ssl.quorum.hostnameVerification", Property: "zookeeper.ssl.quorum.hostnameVerification", Status: Refused, Accept: oneOf("", "false"), Note: noQuorumTLS},
	{Key: "ssl.allowReverseDnsLookup", Property: "zookeeper.ssl.allowReverseDnsLookup", Status: Refused, Accept: oneOf("", "false"), Note: "reverse DNS in hostname verification is " + notSupported},
	{Key: "ssl.quorum.allowReverseDnsLookup", Property: "zookeeper.ssl.quorum.allowReverseDnsLookup", Status: Refused, Accept: oneOf("", "false"), Note: noQuorumTLS},
	{Key: "ssl.crl", Property: "zookeeper.ssl.crl", Status: Refused, Accept: offBool, Note: "certificate revocation lists are " + notSupported},
	{Key: "ssl.quorum.crl", Property: "zookeeper.ssl.quorum.crl", Status: Refused, Accept: oneOf("", "false"), Note: noQuorumTLS},
	{Key: "ssl.ocsp", Property: "zookeeper.ssl.ocsp", Status: Refused, Accept: offBool, Note: "OCSP is " + notSupported},
	{Key: "ssl.quorum.ocsp", Property: "zookeeper.ssl.quorum.ocsp", Status: Refused, Accept: oneOf("", "false"), Note: noQuorumTLS},
	{Key: "ssl.clientAuth", Property: "zookeeper.ssl.clientAuth", Status: Honoured, Note: "none, want or need", Tests: "TestZkCliTLS"},
	{Key: "ssl.quorum.clientAuth", Property: "zookeeper.ssl.quorum.clientAuth", Status: Refused, Accept: oneOf("", "none"), Note: noQuorumTLS},
	{Key: "ssl.handshakeDetectionTimeoutMillis", Property: "zookeeper.ssl.handshakeDetectionTimeoutMillis", Status: Inert, Note: "applies to portUnification, which zab refuses"},
	{Key: "ssl.quorum.handshakeDetectionTimeoutMillis", Property: "zookeeper.ssl.quorum.handshakeDetectionTimeoutMillis", Status: Inert, Note: "applies to sslQuorum, which zab refuses"},
	{Key: "sslQuorumReloadCertFiles", Status: Inert, Note: "applies to sslQuorum, which zab refuses"},
	{Key: "client.certReload", Property: "zookeeper.client.certReload", Status: Refused, Accept: offBool, Note: "reloading certificates while running is " + notSupported + "; restart the member"},
	{Key: "client.portUnification", Property: "zookeeper.client.portUnification", Status: Refused, Accept: offBool, Note: "TLS and plaintext on one client port is " + notSupported + " (serve TLS on secureClientPort)"},
	{Key: "portUnification", Property: "zookeeper.portUnification", Status: Refused, Accept: offBool, Note: "TLS and plaintext on one quorum port is " + notSupported},
	{Key: "authProvider", Property: "zookeeper.authProvider", Status: Honoured, Note: "the digest and ip providers only, others refused", Tests: "TestSecuritySettingsFailClosed"},
	{Key: "kerberos.removeHostFromPrincipal", Property: "zookeeper.kerberos.removeHostFromPrincipal", Status: Inert, Note: "SASL only; " + noSASL},
	{Key: "kerberos.removeRealmFromPrincipal", Property: "zookeeper.kerberos.removeRealmFromPrincipal", Status: Inert, Note: "SASL only; " + noSASL},
	{Key: "kerberos.canonicalizeHostNames", Property: "zookeeper.kerberos.canonicalizeHostNames", Status: Inert, Note: "SASL only; " + noSASL},
	{Key: "multiAddress.enabled", Property: "zookeeper.multiAddress.enabled", Status: Refused, Accept: offBool, Note: "several addresses per member are " + notSupported},
	{Key: "multiAddress.reachabilityCheckTimeoutMs", Property: "zookeeper.multiAddress.reachabilityCheckTimeoutMs", Status: Inert, Note: "used only with multiAddress.enabled, refused when true"},
	{Key: "multiAddress.reachabilityCheckEnabled", Property: "zookeeper.multiAddress.reachabilityCheckEnabled", Status: Inert, Note: "used only with multiAddress.enabled, refused when true"},
	{Key: "fips-mode", Property: "zookeeper.fips-mode", Status: Inert, Note: "selects Java's FIPS hostname verifier; zab's verification is Go's, which FIPS mode does not change"},
	{Key: "readonlymode.enabled", Property: "readonlymode.enabled", Status: Refused, Accept: offBool, Note: "ZooKeeper's read-only mode for partitioned members is " + notSupported},
	{Key: "zookeeper.follower.skipLearnerRequestToNextProcessor", Property: "zookeeper.follower.skipLearnerRequestToNextProcessor", Status: Inert, Note: tuning},
	{Key: "forceSync", Property: "zookeeper.forceSync", Status: Inert, Note: "zab always fsyncs before acknowledging; no only asks ZooKeeper to trade that durability for speed"},
	{Key: "jute.maxbuffer", Property: "jute.maxbuffer", Status: Honoured, Note: "largest request", Tests: "TestJuteMaxBuffer"},
	{Key: "jute.maxbuffer.extrasize", Property: "zookeeper.jute.maxbuffer.extrasize", Status: Inert, Note: "slack for ZooKeeper's own txn headers; zab checks the client frame against jute.maxbuffer alone"},
	{Key: "skipACL", Property: "zookeeper.skipACL", Status: Refused, Accept: oneOf("no", "false"), Note: "skipping every ACL check is " + notSupported},
	{Key: "quorumListenOnAllIPs", Status: Refused, Accept: offBool, Note: "zab binds the quorum port on the member's server.N host only"},
	{Key: "zookeeper.nio.numSelectorThreads", Property: "zookeeper.nio.numSelectorThreads", Status: Inert, Note: tuning},
	{Key: "zookeeper.nio.numWorkerThreads", Property: "zookeeper.nio.numWorkerThreads", Status: Inert, Note: tuning},
	{Key: "zookeeper.commitProcessor.numWorkerThreads", Property: "zookeeper.commitProcessor.numWorkerThreads", Status: Inert, Note: tuning},
	{Key: "zookeeper.commitProcessor.maxReadBatchSize", Property: "zookeeper.commitProcessor.maxReadBatchSize", Status: Inert, Note: tuning},
	{Key: "zookeeper.commitProcessor.maxCommitBatchSize", Property: "zookeeper.commitProcessor.maxCommitBatchSize", Status: Inert, Note: tuning},
	{Key: "znode.container.checkIntervalMs", Property: "zookeeper.znode.container.checkIntervalMs", Status: Honoured, Note: "how often the leader reaps empty containers and expired TTL nodes; unset, zab reaps every 4 tickTimes where ZooKeeper waits 60 s", Tests: "TestContainerCheckInterval"},
	{Key: "znode.container.maxPerMinute", Property: "zookeeper.znode.container.maxPerMinute", Status: Inert, Note: tuning + ": reaping rate"},
	{Key: "znode.container.maxNeverUsedIntervalMs", Property: "zookeeper.znode.container.maxNeverUsedIntervalMs", Status: Refused, Accept: atMost(0), Note: "reaping containers that never had a child is " + notSupported + " (nor does ZooKeeper at the default 0)"},
	{Key: "zookeeper.messageTracker.BufferSize", Property: "zookeeper.messageTracker.BufferSize", Status: Inert, Note: "a debugging log of quorum messages"},
	{Key: "zookeeper.messageTracker.Enabled", Property: "zookeeper.messageTracker.Enabled", Status: Inert, Note: "a debugging log of quorum messages"},
	{Key: "admin.forceHttps", Property: "zookeeper.admin.forceHttps", Status: Inert, Note: noAdmin},
	{Key: "admin.portUnification", Property: "zookeeper.admin.portUnification", Status: Inert, Note: noAdmin},
	{Key: "admin.enableServer", Property: "zookeeper.admin.enableServer", Status: Inert, Note: noAdmin},
	{Key: "admin.serverAddress", Property: "zookeeper.admin.serverAddress", Status: Inert, Note: noAdmin},
	{Key: "admin.serverPort", Property: "zookeeper.admin.serverPort", Status: Inert, Note: noAdmin},
	{Key: "admin.idleTimeout", Property: "zookeeper.admin.idleTimeout", Status: Inert, Note: noAdmin},
	{Key: "admin.commandURL", Property: "zookeeper.admin.commandURL", Status: Inert, Note: noAdmin},
	{Key: "metricsProvider.className", Status: Refused, Accept: oneOf("", "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider", "org.apache.zookeeper.metrics.impl.NullMetricsProvider"),
		Note: "the Prometheus exporter is " + notSupported + " (zab.httpAddress serves zab's own /metrics); Debian's packaged ZooKeeper lacks it too and does not start with it"},
	{Key: "metricsProvider.httpHost", Status: Inert, Note: "used only with the Prometheus metricsProvider.className, refused"},
	{Key: "metricsProvider.httpPort", Status: Inert, Note: "used only with the Prometheus metricsProvider.className, refused"},
	{Key: "metricsProvider.exportJvmInfo", Status: Inert, Note: "used only with the Prometheus metricsProvider.className, refused"},
	{Key: "metricsProvider.numWorkerThreads", Status: Inert, Note: "used only with the Prometheus metricsProvider.className, refused"},
	{Key: "metricsProvider.maxQueueSize", Status: Inert, Note: "used only with the Prometheus metricsProvider.className, refused"},
	{Key: "metricsProvider.workerShutdownTimeoutMs", Status: Inert, Note: "used only with the Prometheus metricsProvider.className, refused"},
	// Named outside zookeeperAdmin.md.
	{Key: "peerType", Status: Honoured, Accept: oneOf("participant"), Note: "participant only; " + noObservers, Tests: "TestZooKeeperSettingsEnforced"},
	{Key: "nio.sessionlessCnxnTimeout", Property: "zookeeper.nio.sessionlessCnxnTimeout", Status: Honoured, Tests: "TestSilentConnectionsAreClosed"},
	{Key: "secureClientPortAddress", Status: Honoured, Tests: "TestLoadConfig"},
	{Key: "ssl.clientHostnameVerification", Property: "zookeeper.ssl.clientHostnameVerification", Status: Honoured, Tests: "TestTLSZooCfg"},
	{Key: "ssl.sslProvider", Property: "zookeeper.ssl.sslProvider", Status: Inert, Note: "selects Java's TLS engine; zab's is Go's"},
	{Key: "quorum.auth.enableSasl", Property: "quorum.auth.enableSasl", Status: Refused, Accept: offBool, Note: noSASL},
	{Key: "quorum.auth.learnerRequireSasl", Property: "quorum.auth.learnerRequireSasl", Status: Refused, Accept: offBool, Note: noSASL},
	{Key: "quorum.auth.serverRequireSasl", Property: "quorum.auth.serverRequireSasl", Status: Refused, Accept: offBool, Note: noSASL},
	{Key: "quorum.auth.kerberos.servicePrincipal", Property: "quorum.auth.kerberos.servicePrincipal", Status: Inert, Note: "SASL only; " + noSASL},
	{Key: "quorum.auth.learner.saslLoginContext", Property: "quorum.auth.learner.saslLoginContext", Status: Inert, Note: "SASL only; " + noSASL},
	{Key: "quorum.auth.server.saslLoginContext", Property: "quorum.auth.server.saslLoginContext", Status: Inert, Note: "SASL only; " + noSASL},
	{Key: "quorum.cnxn.threads.size", Property: "quorum.cnxn.threads.size", Status: Inert, Note: "SASL only; " + noSASL},
	{Key: "initialConfig", Status: Refused, Accept: never, Note: "a ZooKeeper-internal key, not a user setting"},
	{Key: "syncPeriod", Status: Inert, Note: tuning},
	{Key: "learnerMasterPort", Status: Refused, Accept: never, Note: noObservers},
	// System properties ZooKeeper 3.8's server code reads that the guide does not list.
	{Key: "zookeeper.commitProcessor.shutdownTimeout", Property: "zookeeper.commitProcessor.shutdownTimeout", Status: Inert, Note: tuning},
	{Key: "zookeeper.intBufferStartingSizeBytes", Property: "zookeeper.intBufferStartingSizeBytes", Status: Inert, Note: tuning},
	{Key: "zookeeper.leader.ackLoggingFrequency", Property: "zookeeper.leader.ackLoggingFrequency", Status: Inert, Note: tuning},
	{Key: "zookeeper.leaderConnectDelayDuringRetryMs", Property: "zookeeper.leaderConnectDelayDuringRetryMs", Status: Inert, Note: tuning},
	{Key: "zookeeper.nio.directBufferBytes", Property: "zookeeper.nio.directBufferBytes", Status: Inert, Note: tuning},
	{Key: "zookeeper.nio.shutdownTimeout", Property: "zookeeper.nio.shutdownTimeout", Status: Inert, Note: tuning},
	{Key: "zookeeper.snapshotSizeFactor", Property: "zookeeper.snapshotSizeFactor", Status: Inert, Note: tuning},
	{Key: "zookeeper.forceSnapshotSync", Property: "zookeeper.forceSnapshotSync", Status: Inert, Note: tuning},
	{Key: "zookeeper.admin.httpVersion", Property: "zookeeper.admin.httpVersion", Status: Inert, Note: noAdmin},
	{Key: "zookeeper.jmx.log4j.mbean", Property: "zookeeper.jmx.log4j.mbean", Status: Inert, Note: "JMX; zab has none"},
	{Key: "zookeeper.observerMaster.sizeLimit", Property: "zookeeper.observerMaster.sizeLimit", Status: Inert, Note: "applies to observers only; " + noObservers},
	{Key: "zookeeper.pathStats.enabled", Property: "zookeeper.pathStats.enabled", Status: Inert, Note: "request path statistics for the AdminServer's monitor; " + noAdmin},
	{Key: "zookeeper.pathStats.delay", Property: "zookeeper.pathStats.delay", Status: Inert, Note: "request path statistics for the AdminServer's monitor; " + noAdmin},
	{Key: "zookeeper.pathStats.initialDelay", Property: "zookeeper.pathStats.initialDelay", Status: Inert, Note: "request path statistics for the AdminServer's monitor; " + noAdmin},
	{Key: "zookeeper.pathStats.maxDepth", Property: "zookeeper.pathStats.maxDepth", Status: Inert, Note: "request path statistics for the AdminServer's monitor; " + noAdmin},
	{Key: "zookeeper.pathStats.sampleRate", Property: "zookeeper.pathStats.sampleRate", Status: Inert, Note: "request path statistics for the AdminServer's monitor; " + noAdmin},
	{Key: "zookeeper.pathStats.slotCapacity", Property: "zookeeper.pathStats.slotCapacity", Status: Inert, Note: "request path statistics for the AdminServer's monitor; " + noAdmin},
	{Key: "zookeeper.pathStats.slotDuration", Property: "zookeeper.pathStats.slotDuration", Status: Inert, Note: "request path statistics for the AdminServer's monitor; " + noAdmin},
	{Key: "zookeeper.pathStats.topPathMax", Property: "zookeeper.pathStats.topPathMax", Status: Inert, Note: "request path statistics for the AdminServer's monitor; " + noAdmin},
	{Key: "zookeeper.kerberos.minReLoginTimeMs", Property: "zookeeper.kerberos.minReLoginTimeMs", Status: Inert, Note: "SASL only; " + noSASL},
	{Key: "zookeeper.kinit", Property: "zookeeper.kinit", Status: Inert, Note: "SASL only; " + noSASL},
	{Key: "zookeeper.sasl.serverconfig", Property: "zookeeper.sasl.serverconfig", Status: Inert, Note: "SASL only; " + noSASL},
	{Key: "zookeeper.security.auth_to_local", Property: "zookeeper.security.auth_to_local", Status: Inert, Note: "SASL only; " + noSASL},
	{Key: "zookeeper.server.principal", Property: "zookeeper.server.principal", Status: Inert, Note: "SASL only; " + noSASL},
	{Key: "zookeeper.server.realm", Property: "zookeeper.server.realm", Status: Inert, Note: "SASL only; " + noSASL},
	{Key: "zookeeper.requireKerberosConfig", Property: "zookeeper.requireKerberosConfig", Status: Inert, Note: "SASL only; " + noSASL},
	{Key: "zookeeper.client.secure", Property: "zookeeper.client.secure", Status: Inert, Note: clientSide},
	{Key: "zookeeper.clientCnxnSocket", Property: "zookeeper.clientCnxnSocket", Status: Inert, Note: clientSide},
	{Key: "zookeeper.disableAutoWatchReset", Property: "zookeeper.disableAutoWatchReset", Status: Inert, Note: clientSide},
	{Key: "zookeeper.request.timeout", Property: "zookeeper.request.timeout", Status: Inert, Note: clientSide},
	{Key: "zookeeper.sasl.client", Property: "zookeeper.sasl.client", Status: Inert, Note: clientSide},
	{Key: "zookeeper.sasl.client.canonicalize.hostname", Property: "zookeeper.sasl.client.canonicalize.hostname", Status: Inert, Note: clientSide},
	{Key: "zookeeper.sasl.client.username", Property: "zookeeper.sasl.client.username", Status: Inert, Note: clientSide},
	{Key: "zookeeper.sasl.clientconfig", Property: "zookeeper.sasl.clientconfig", Status: Inert, Note: clientSide},
	{Key: "zookeeper.SASLAuthenticationProvider.superPassword", Property: "zookeeper.SASLAuthenticationProvider.superPassword", Status: Refused, Accept: empty, Note: noSASL},
	{Key: "zookeeper.allowSaslFailedClients", Property: "zookeeper.allowSaslFailedClients", Status: Refused, Accept: offBool, Note: noSASL},
	{Key: "zookeeper.letAnySaslUserDoX", Property: "zookeeper.letAnySaslUserDoX", Status: Refused, Accept: empty, Note: noSASL},
	{Key: "zookeeper.closeSessionTxn.enabled", Property: "zookeeper.closeSessionTxn.enabled", Status: Refused, Accept: onBool, Note: "ZooKeeper 3.5's close-session txn without the ephemeral list is " + notSupported},
	{Key: "datadir.autocreate", Property: "zookeeper.datadir.autocreate", Status: Honoured, Note: "false (zkServer.sh with ZOO_DATADIR_AUTOCREATE_DISABLE) refuses to start without dataDir and dataLogDir; zab's own subdirectories are still made", Tests: "TestDataDirAutocreate"},
	{Key: "zookeeper.db.autocreate", Property: "zookeeper.db.autocreate", Status: Refused, Accept: onBool, Note: "zab starts an empty database in an empty dataDir; requiring an initialize file is " + notSupported},
	{Key: "zookeeper.controllerPort", Property: "zookeeper.controllerPort", Status: Refused, Accept: empty, Note: "ZooKeeper's test controller is " + notSupported},
	{Key: "zookeeper.testingonly.initialZxid", Property: "zookeeper.testingonly.initialZxid", Status: Refused, Accept: empty, Note: "a ZooKeeper test hook"},
	{Key: "zookeeper.log.dir", Property: "zookeeper.log.dir", Status: Inert, Note: "log4j setting zkServer.sh passes; zab logs to standard error"},
	{Key: "zookeeper.log.file", Property: "zookeeper.log.file", Status: Inert, Note: "log4j setting zkServer.sh passes; zab logs to standard error"},
	{Key: "zookeeper.root.logger", Property: "zookeeper.root.logger", Status: Inert, Note: "log4j setting zkServer.sh passes; zab logs to standard error (ZAB_LOG_LEVEL sets the level)"},
	{Key: "zookeeper.console.threshold", Property: "zookeeper.console.threshold", Status: Inert, Note: "log4j setting; zab logs to standard error (ZAB_LOG_LEVEL sets the level)"},
	{Key: "zookeeper.log.threshold", Property: "zookeeper.log.threshold", Status: Inert, Note: "log4j setting; zab logs to standard error (ZAB_LOG_LEVEL sets the level)"},
	{Key: "zookeeper.jmx.log4j.disable", Property: "zookeeper.jmx.log4j.disable", Status: Inert, Note: "JMX; zab has none"},
}
