package raftkv

import (
	"coordlab/engines/raftkv/v3rpc"
	"errors"
	"fmt"
	"golang.org/x/crypto/bcrypt"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ClusterState is etcd's --initial-cluster-state.
type ClusterState int

const (
	// ClusterStateNew bootstraps a new cluster from InitialCluster.
	ClusterStateNew ClusterState = 1 + iota
	// ClusterStateExisting joins a running cluster (after `member add`).
	ClusterStateExisting
)

func (c ClusterState) String() string {
	switch c {
	case ClusterStateNew:
		return "new"
	case ClusterStateExisting:
		return "existing"
	}
	return fmt.Sprintf("ClusterState(%d)", int(c))
}

// ParseClusterState parses "new" or "existing".
func ParseClusterState(s string) (ClusterState, error) {
	switch s {
	case "new":
		return ClusterStateNew, nil
	case "existing":
		return ClusterStateExisting, nil
	}
	return 0, fmt.Errorf("--initial-cluster-state: want new or existing, got %q", s)
}

// InitialMember is one name=url entry of --initial-cluster (urls grouped by name).
type InitialMember struct {
	Name     string
	PeerURLs []string
}

// Clock gives the lease clock. It is injectable so tests and the lab's clock-skew
// fault can move it.
type Clock interface {
	Now() time.Time
}

// Ticker is a running ticker (time.Ticker satisfies it through tickerAdapter).
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Config configures one member. Each field maps to one etcd flag where one exists.
type Config struct {
	// Name is the human-readable member name (--name). Default "default".
	Name string
	// DataDir holds member/wal, member/snap and member/meta.json (--data-dir).
	DataDir string
	// PeerURLs are this member's advertised peer URLs (--initial-advertise-peer-urls).
	// The first one's host, when an IP, is also the source address of outgoing
	// peer connections, so partitions by source address work.
	PeerURLs []string
	// ListenPeerURLs are where the peer server listens (--listen-peer-urls).
	// Ignored when PeerListener is set.
	ListenPeerURLs []string
	// PeerListener, if set, is used instead of listening on ListenPeerURLs (tests
	// pass a listener on a free port).
	PeerListener net.Listener
	// ClientURLs are the advertised client URLs (--advertise-client-urls),
	// published in the member list.
	ClientURLs []string
	// ListenClientURLs are where Run serves etcd's v3 gRPC API and the HTTP
	// endpoints (/health, /metrics, /version) (--listen-client-urls).
	// Default http://localhost:2379.
	ListenClientURLs []string
	// ClientListeners, if set, are served as client URLs too (tests pass
	// listeners on free ports).
	ClientListeners []net.Listener
	// ListenMetricsURLs are extra URLs for the HTTP endpoints only
	// (--listen-metrics-urls). Default none.
	ListenMetricsURLs []string
	// AdminListenURL serves the lab's fault endpoint POST /admin/clock, and
	// nothing else (--admin-listen-url). It is unauthenticated and can expire
	// every lease, so it is off when empty (the default) and never served on
	// the client, peer or metrics URLs.
	AdminListenURL string
	// ClientTLS is the TLS of the client and metrics URLs (--cert-file,
	// --key-file, --trusted-ca-file, --client-cert-auth, --auto-tls): https://
	// URLs in ListenClientURLs and ListenMetricsURLs are served with it, and
	// ClientListeners too when it is not Empty.
	ClientTLS TLSInfo
	// PeerTLS is the TLS of the peer URLs (--peer-cert-file, --peer-key-file,
	// --peer-trusted-ca-file, --peer-client-cert-auth, --peer-auto-tls): an
	// https:// listen peer URL is served with it (PeerListener too when it is
	// not Empty), and connections to https:// peer URLs present its
	// certificate and verify the other member's with its CA.
	PeerTLS TLSInfo
	// EnablePprof serves /debug/pprof on the client and metrics URLs
	// (--enable-pprof).
	EnablePprof bool
	// InitialCluster is --initial-cluster, grouped by name.
	InitialCluster []InitialMember
	// ClusterState is --initial-cluster-state. Default new.
	ClusterState ClusterState
	// ClusterToken is --initial-cluster-token. Default "etcd-cluster".
	ClusterToken string
	// TickInterval is one raft tick, the heartbeat interval (--heartbeat-interval).
	// Default 100ms.
	TickInterval time.Duration
	// ElectionTicks is the election timeout in ticks (--election-timeout divided by
	// --heartbeat-interval). Default 10; must be >= 5 * the heartbeat (1 tick) as
	// etcd requires election >= 5 * heartbeat.
	ElectionTicks int
	// SnapshotCount is the number of applied entries between raft snapshots
	// (--snapshot-count). Default 100000 (etcd 3.4).
	SnapshotCount uint64
	// SnapshotCatchUpEntries is how many entries stay in the log after compaction
	// for slow followers. Default 5000 (etcd).
	SnapshotCatchUpEntries uint64
	// MaxRequestBytes is --max-request-bytes. Default 1.5 MiB.
	MaxRequestBytes int
	// MaxPendingProposals bounds proposals waiting to apply; more answer
	// ErrGRPCTooManyRequests. Default 10000.
	MaxPendingProposals int
	// MaxApplyLag: when committed - applied exceeds it, new proposals answer
	// ErrGRPCTooManyRequests (etcd's maxGapBetweenApplyAndCommitIndex). Default 5000.
	MaxApplyLag uint64
	// PeerSendQueue is the number of marshalled messages queued per peer; when
	// full, messages are dropped (and logged) and raft retries. Default 4096.
	PeerSendQueue int
	// RecvQueue is the number of received peer messages waiting for the raft
	// loop; when full, messages are dropped and raft retries. Default 4096.
	RecvQueue int
	// RequestTimeout bounds a proposal or read when the client's context has no
	// earlier deadline. Default 5s + 2 election timeouts (etcd).
	RequestTimeout time.Duration
	// BatchInterval is the longest the store may hold applied entries before
	// Commit() (etcd's backend batch interval). 0 commits after every batch.
	// Default 0.
	BatchInterval time.Duration
	// LeaseCheckpoint: the leader records each lease's remaining TTL
	// through the log every 5 minutes, and a new leader uses it instead of
	// the full TTL (--experimental-enable-lease-checkpoint). The remaining
	// TTL is kept in the store, so it also survives a restart (etcd 3.4 keeps
	// it across restarts only with --experimental-enable-lease-checkpoint-persist).
	LeaseCheckpoint bool
	// UnsafeNoFsync turns off the WAL's and the store's fsyncs
	// (--unsafe-no-fsync): a machine crash can lose acknowledged writes.
	UnsafeNoFsync bool
	// BatchLimit commits the store once this many entries have been applied
	// since the last commit, before BatchInterval is up (etcd's
	// --backend-batch-limit, which counts the backend's operations). 0: no
	// limit.
	BatchLimit int
	// QuotaBackendBytes is --quota-backend-bytes: a put, txn with a put or
	// lease grant that would take the store's bytes in use (Store.SizeInUse)
	// past it raises the NOSPACE alarm and fails with etcd's "database space
	// exceeded". 0 means DefaultQuotaBackendBytes (2 GiB, etcd's default); a
	// negative value disables the quota (as etcd).
	QuotaBackendBytes int64
	// WALSegmentBytes is the preallocated size of one WAL segment file.
	// Default 64 MiB (etcd's). Tests on small file systems lower it.
	WALSegmentBytes int64
	// AuthToken is --auth-token: "simple" (etcd's default; also when
	// empty) or "jwt,sign-method=...,priv-key=...,pub-key=...,ttl=..."
	// (v3rpc.ParseAuthToken).
	AuthToken string
	// AuthTokenTTL is --auth-token-ttl: a simple token lives this long after
	// its last use. 0 means 300s (etcd's default).
	AuthTokenTTL time.Duration
	// BcryptCost is --bcrypt-cost, the cost of the password hashes this
	// member makes (4..31). 0 means 10 (etcd's default).
	BcryptCost int
	// InitialElectionTickAdvance fast-forwards the election ticks of a
	// member that starts as the only voter, so it elects itself at once
	// (--initial-election-tick-advance).
	InitialElectionTickAdvance bool
	// EnableGRPCGateway serves the v3 API as JSON at /v3/... on the client
	// URLs (--enable-grpc-gateway, etcd's default).
	EnableGRPCGateway bool
	// CORS lists the origins the client URLs' HTTP endpoints allow (--cors);
	// empty or "*" allows every origin (etcd's default).
	CORS []string
	// HostWhitelist lists the Host names an insecure client URL's HTTP
	// endpoints serve (--host-whitelist); empty or "*" serves any.
	HostWhitelist []string
	// WALDir, if set, holds the WAL instead of <DataDir>/member/wal
	// (--wal-dir).
	WALDir string
	// PreVote runs raft's pre-vote phase before an election (--pre-vote).
	// DefaultConfig sets it; etcd 3.4's flag default is false.
	PreVote bool
	// GRPCKeepaliveMinTime is the shortest interval a client may ping at;
	// faster pings close its connection (--grpc-keepalive-min-time). Default 5s.
	GRPCKeepaliveMinTime time.Duration
	// GRPCKeepaliveInterval: the server pings a connection idle this long
	// (--grpc-keepalive-interval; 0 disables). Default 2h.
	GRPCKeepaliveInterval time.Duration
	// GRPCKeepaliveTimeout: a ping unanswered this long closes the
	// connection (--grpc-keepalive-timeout). Default 20s.
	GRPCKeepaliveTimeout time.Duration
	// MaxConcurrentStreams bounds the gRPC streams of one client connection
	// (--max-concurrent-streams). 0 means math.MaxUint32 (etcd's default).
	MaxConcurrentStreams uint32
	// MaxTxnOps is the most operations one Txn branch may hold
	// (--max-txn-ops). 0 means 128.
	MaxTxnOps int
	// WatchProgressNotifyInterval is how often idle watchers that asked for
	// progress notifications get one (--experimental-watch-progress-notify-interval).
	// 0 means 10m.
	WatchProgressNotifyInterval time.Duration
	// CipherSuites limits the TLS cipher suites of the client and peer
	// servers and of peer connections (--cipher-suites). Empty: Go's.
	CipherSuites []uint16
	// BoltFreelistType is bbolt's freelist type, "array" or "map"
	// (--experimental-backend-bbolt-freelist-type). Empty means "map".
	BoltFreelistType string
	// StrictReconfigCheck refuses a member add or remove that would leave
	// the cluster without a quorum of started, connected members
	// (--strict-reconfig-check).
	StrictReconfigCheck bool
	// AutoCompactionMode is "periodic" or "revision" (--auto-compaction-mode).
	AutoCompactionMode string
	// AutoCompactionRetention: for periodic, how much history to keep (a
	// duration); for revision, how many revisions (--auto-compaction-retention).
	// 0 disables auto-compaction.
	AutoCompactionRetention time.Duration
	// AutoCompactionRevisions is the revision retention (mode revision).
	AutoCompactionRevisions int64
	// ForceNewCluster restarts from this member's data as a one-member
	// cluster: every other member is removed from the membership and the
	// change is committed by this member alone (--force-new-cluster).
	ForceNewCluster bool
	// InitialCorruptCheck compares this member's store hash with every peer's
	// at the same revision before serving; a mismatch stops the member
	// (--experimental-initial-corrupt-check).
	InitialCorruptCheck bool
	// CorruptCheckTime: the leader compares hashes with every member this
	// often and raises the CORRUPT alarm on a mismatch
	// (--experimental-corrupt-check-time). 0 disables.
	CorruptCheckTime time.Duration
	// MaxWALs is the most WAL files kept once a snapshot covers them
	// (--max-wals; 0 keeps all). A file still needed is never deleted.
	// DefaultConfig: 5.
	MaxWALs int
	// WarningApplyDuration: an apply slower than this logs etcd's
	// "apply request took too long" warning
	// (--experimental-warning-apply-duration). 0 means 100ms.
	WarningApplyDuration time.Duration
	// Logger receives state changes; nil discards.
	Logger *slog.Logger
	// Clock is the lease clock; nil means the wall clock.
	Clock Clock
	// NewTicker makes the raft ticker; nil means time.NewTicker.
	NewTicker func(time.Duration) Ticker
	// Registerer receives the Prometheus metrics; nil means a private registry.
	Registerer prometheus.Registerer
}

// DefaultQuotaBackendBytes is etcd's default --quota-backend-bytes, 2 GiB.
const DefaultQuotaBackendBytes = 2 << 30

// DefaultConfig returns etcd's defaults on loopback.
func DefaultConfig() Config {
	return Config{
		Name:                   "default",
		DataDir:                "default.etcd",
		PeerURLs:               []string{"http://localhost:2380"},
		ListenPeerURLs:         []string{"http://localhost:2380"},
		ClientURLs:             []string{"http://localhost:2379"},
		ListenClientURLs:       []string{"http://localhost:2379"},
		InitialCluster:         []InitialMember{{Name: "default", PeerURLs: []string{"http://localhost:2380"}}},
		ClusterState:           ClusterStateNew,
		ClusterToken:           "etcd-cluster",
		TickInterval:           100 * time.Millisecond,
		ElectionTicks:          10,
		SnapshotCount:          100000,
		SnapshotCatchUpEntries: 5000,
		MaxRequestBytes:        1572864,
		MaxPendingProposals:    10000,
		MaxApplyLag:            5000,
		PeerSendQueue:          4096,
		RecvQueue:              4096,
		PreVote:                true,
		StrictReconfigCheck:    true,
		AutoCompactionMode:     "periodic",
		GRPCKeepaliveMinTime:   5 * time.Second,
		GRPCKeepaliveInterval:  2 * time.Hour,
		GRPCKeepaliveTimeout:   20 * time.Second,
		MaxWALs:                5,
	}
}

// ElectionTimeout is TickInterval * ElectionTicks.
func (c *Config) ElectionTimeout() time.Duration {
	return c.TickInterval * time.Duration(c.ElectionTicks)
}

// checkInitialURLs is the check of a member's first start: its entry in
// --initial-cluster must be its --initial-advertise-peer-urls. A restart
// skips it, as etcd ignores --initial-cluster once the data dir has a WAL:
// after etcdctl member update the member restarts with its new URLs and
// the start script's old --initial-cluster.
func (c *Config) checkInitialURLs() error {
	for _, m := range c.InitialCluster {
		if m.Name == c.Name && !sameURLs(m.PeerURLs, c.PeerURLs) {
			return fmt.Errorf("--initial-cluster has %s=%v but --initial-advertise-peer-urls is %v; they must match",
				m.Name, m.PeerURLs, c.PeerURLs)
		}
	}
	return nil
}

// Validate names every broken rule.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Name == "" {
		bad("--name: must not be empty")
	}
	if c.DataDir == "" {
		bad("--data-dir: must not be empty")
	}
	peerSide := false
	checkURLs := func(flag string, us []string, need bool) {
		if need && len(us) == 0 {
			bad("%s: need at least one URL", flag)
		}
		for _, s := range us {
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("%s: %q is not an http://host:port URL", flag, s)
				continue
			}
			if u.Scheme == "https" && flag == "--admin-listen-url" {
				bad("%s: %q: the admin endpoint is served over http:// only; keep it on loopback", flag, s)
			} else if u.Scheme == "https" {
				if peerSide && c.PeerTLS.Empty() {
					bad("%s: TLS key/cert (--peer-cert-file, --peer-key-file) must be provided for peer url %s with HTTPS scheme", flag, s)
				}
				if !peerSide && c.ClientTLS.Empty() && flag != "--advertise-client-urls" {
					bad("%s: TLS key/cert (--cert-file, --key-file) must be provided for client url %s with HTTPS scheme", flag, s)
				}
			}
			if _, _, err := net.SplitHostPort(u.Host); err != nil {
				bad("%s: %q needs an explicit port", flag, s)
			}
		}
	}
	peerSide = true
	checkURLs("--initial-advertise-peer-urls", c.PeerURLs, true)
	if c.PeerListener == nil {
		checkURLs("--listen-peer-urls", c.ListenPeerURLs, true)
	}
	for _, m := range c.InitialCluster {
		checkURLs("--initial-cluster", m.PeerURLs, true)
	}
	peerSide = false
	errs = append(errs, c.ClientTLS.validate("")...)
	errs = append(errs, c.PeerTLS.validate("peer-")...)
	checkURLs("--advertise-client-urls", c.ClientURLs, false)
	checkURLs("--listen-client-urls", c.ListenClientURLs, false)
	checkURLs("--listen-metrics-urls", c.ListenMetricsURLs, false)
	if c.AdminListenURL != "" {
		checkURLs("--admin-listen-url", []string{c.AdminListenURL}, true)
	}
	if len(c.InitialCluster) == 0 {
		bad("--initial-cluster: must name at least this member")
	}
	found := false
	seen := map[string]bool{}
	for _, m := range c.InitialCluster {
		if seen[m.Name] {
			bad("--initial-cluster: name %q given twice; give each member one name", m.Name)
		}
		seen[m.Name] = true
		if m.Name == c.Name {
			found = true
		}
	}
	if !found && len(c.InitialCluster) > 0 {
		bad("--initial-cluster: has no entry for --name %q; add %s=<its peer URL>", c.Name, c.Name)
	}
	if c.ClusterState != ClusterStateNew && c.ClusterState != ClusterStateExisting {
		bad("--initial-cluster-state: want new or existing")
	}
	if c.ClusterToken == "" {
		bad("--initial-cluster-token: must not be empty")
	}
	if c.TickInterval <= 0 {
		bad("--heartbeat-interval: want > 0, got %v", c.TickInterval)
	}
	if c.ElectionTicks < 5 {
		bad("--election-timeout: want >= 5 * --heartbeat-interval, got %d heartbeats", c.ElectionTicks)
	}
	if c.SnapshotCount == 0 {
		bad("--snapshot-count: want > 0")
	}
	if c.MaxRequestBytes <= 0 {
		bad("--max-request-bytes: want > 0, got %d", c.MaxRequestBytes)
	}
	if c.MaxPendingProposals <= 0 {
		bad("MaxPendingProposals: want > 0, got %d", c.MaxPendingProposals)
	}
	if c.MaxApplyLag == 0 {
		bad("MaxApplyLag: want > 0")
	}
	if c.PeerSendQueue <= 0 || c.RecvQueue <= 0 {
		bad("PeerSendQueue and RecvQueue: want > 0, got %d and %d", c.PeerSendQueue, c.RecvQueue)
	}
	if c.WALSegmentBytes < 0 {
		bad("WALSegmentBytes: want >= 0 (0: 64 MiB), got %d", c.WALSegmentBytes)
	}
	if c.AutoCompactionMode != "" && c.AutoCompactionMode != "periodic" && c.AutoCompactionMode != "revision" {
		bad("--auto-compaction-mode: want periodic or revision, got %q", c.AutoCompactionMode)
	}
	if c.AutoCompactionRetention < 0 || c.AutoCompactionRevisions < 0 {
		bad("--auto-compaction-retention: want >= 0")
	}
	if c.BoltFreelistType != "" && c.BoltFreelistType != "array" && c.BoltFreelistType != "map" {
		bad("--experimental-backend-bbolt-freelist-type: want array or map, got %q", c.BoltFreelistType)
	}
	if c.MaxTxnOps < 0 {
		bad("--max-txn-ops: want > 0, got %d", c.MaxTxnOps)
	}
	if c.MaxWALs < 0 {
		bad("--max-wals: want >= 0 (0: keep all), got %d", c.MaxWALs)
	}
	if c.CorruptCheckTime < 0 {
		bad("--experimental-corrupt-check-time: want >= 0, got %v", c.CorruptCheckTime)
	}
	if c.BatchInterval < 0 {
		bad("BatchInterval: want >= 0, got %v", c.BatchInterval)
	}
	if _, err := v3rpc.ParseAuthToken(c.AuthToken, c.AuthTokenTTL); err != nil {
		errs = append(errs, err)
	}
	if c.AuthTokenTTL < 0 {
		bad("--auth-token-ttl: want >= 0 seconds, got %v", c.AuthTokenTTL)
	}
	if c.BcryptCost != 0 && (c.BcryptCost < bcrypt.MinCost || c.BcryptCost > bcrypt.MaxCost) {
		bad("--bcrypt-cost: want %d..%d, got %d (default %d)", bcrypt.MinCost, bcrypt.MaxCost, c.BcryptCost, bcrypt.DefaultCost)
	}
	return errors.Join(errs...)
}

func sameURLs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	sa, sb := sortedCopy(a), sortedCopy(b)
	for i := range sa {
		if sa[i] != sb[i] {
			return false
		}
	}
	return true
}
