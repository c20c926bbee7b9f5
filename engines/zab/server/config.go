package server

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Member is one `server.N=host:quorumPort:electionPort[:role][;clientAddr:port]`
// line of zoo.cfg.
type Member struct {
	// ID is N, the member's myid (positive).
	ID uint64
	// Host is the address peers dial and this member binds and dials from.
	Host string
	// QuorumPort is the TCP port of the peer transport (ZooKeeper's 2888).
	QuorumPort int
	// ElectionPort is accepted for compatibility and must be valid; zab runs
	// election over the quorum port, so it is not bound.
	ElectionPort int
	// Observer is true for `:observer`. zab has no observers: Validate
	// rejects it.
	Observer bool
	// ClientAddr is the optional `;host:port` client address of the member.
	ClientAddr string
}

// QuorumAddr is host:quorumPort.
func (m Member) QuorumAddr() string {
	return net.JoinHostPort(m.Host, strconv.Itoa(m.QuorumPort))
}

// Config is everything one zab member needs. Fields mirror zoo.cfg; each
// comment gives the zoo.cfg key, the flag, the unit and the default.
type Config struct {
	// ID is this member's id (`myid` file in DataDir, --myid). Required when
	// Servers is not empty; 1 for a standalone member.
	ID uint64
	// TickTime is the basic time unit (tickTime, --tick-time, ms in zoo.cfg).
	// Default 2000 ms, as ZooKeeper's sample config (its code default is
	// 3000 ms).
	TickTime time.Duration
	// InitLimit is how many ticks discovery and sync may take (initLimit,
	// --init-limit). Default 10.
	InitLimit int
	// SyncLimit is how many ticks a follower may lag or be silent before it
	// is dropped (syncLimit, --sync-limit). Default 5.
	SyncLimit int
	// DataDir holds snapshots, the epoch files and myid (dataDir,
	// --data-dir). Required.
	DataDir string
	// DataLogDir holds the txn log (dataLogDir, --data-log-dir). Default
	// DataDir.
	DataLogDir string
	// ClientPort is the client TCP port (clientPort, --client-port). Default
	// 2181, or the port of this member's `;clientAddr` in its server line.
	ClientPort int
	// ClientPortAddress is the client bind address (clientPortAddress,
	// --client-port-address). Default 127.0.0.1: bind to loopback unless told.
	ClientPortAddress string
	// Servers are the ensemble members (server.N, --server N=spec). Empty
	// means a standalone single member. With DynamicConfigFile they come
	// from that file, as in ZooKeeper 3.5+.
	Servers []Member
	// DynamicConfigFile is the file holding the server.N lines
	// (dynamicConfigFile); ZooKeeper's name for it ends in
	// .dynamic.<hex version>, which gives ConfigVersion.
	DynamicConfigFile string
	// ConfigVersion is the membership's version (hex in the dynamic file's
	// name, 0 for server.N lines in zoo.cfg); /zookeeper/config ends with
	// version=<hex>, as ZooKeeper's.
	ConfigVersion int64
	// StandaloneEnabled (standaloneEnabled, default true): a single
	// server.N line runs standalone, as ZooKeeper; false runs it as a
	// one-member ensemble (srvr says leader, /zookeeper/config lists it).
	StandaloneEnabled bool
	// ExtendedTypesEnabled allows TTL nodes (extendedTypesEnabled, the
	// zookeeper.extendedTypesEnabled system property, default false:
	// creates with a TTL mode are ZUNIMPLEMENTED, as in ZooKeeper). As in
	// ZooKeeper, member ids must then be at most 254.
	ExtendedTypesEnabled bool
	// ContainerCheckInterval is how often the leader reaps empty containers
	// and expired TTL nodes (znode.container.checkIntervalMs, ZooKeeper's
	// zookeeper.znode.container.checkIntervalMs). 0 means every 4 tickTimes
	// (ZooKeeper's default is 60 s).
	ContainerCheckInterval time.Duration
	// NoDataDirAutocreate refuses to start when DataDir or DataLogDir is
	// missing instead of creating it (ZooKeeper's
	// zookeeper.datadir.autocreate=false, which zkServer.sh passes when
	// ZOO_DATADIR_AUTOCREATE_DISABLE is set).
	NoDataDirAutocreate bool
	// MinSessionTimeout clamps negotiated session timeouts from below
	// (minSessionTimeout, ms). Default 2*TickTime.
	MinSessionTimeout time.Duration
	// MaxSessionTimeout clamps from above (maxSessionTimeout, ms). Default
	// 20*TickTime.
	MaxSessionTimeout time.Duration
	// MaxClientCnxns limits concurrent client connections per remote IP
	// (maxClientCnxns). 0 means no limit. Default 60; a connection over the
	// limit is closed at accept.
	MaxClientCnxns int
	// MaxCnxns limits concurrent client connections in total (maxCnxns,
	// ZooKeeper 3.6+'s zookeeper.maxCnxns). 0 (the default) or less means no
	// limit; a connection over the limit is closed at accept, as ZooKeeper.
	MaxCnxns int
	// SessionlessCnxnTimeout closes a client connection that has not sent
	// its ConnectRequest within it (nio.sessionlessCnxnTimeout, ms,
	// ZooKeeper's zookeeper.nio.sessionlessCnxnTimeout). 0 means 10 s,
	// ZooKeeper's default.
	SessionlessCnxnTimeout time.Duration
	// FourLetterWords are the 4lw commands answered on the client port
	// (4lw.commands.whitelist, comma separated, `*` = all implemented).
	// Default srvr, as ZooKeeper 3.5.3+.
	FourLetterWords []string
	// JuteMaxBuffer is the largest client frame in bytes (jute.maxbuffer).
	// Default 0xfffff. Larger frames close the connection.
	JuteMaxBuffer int
	// HTTPAddr is our own read-only HTTP address for /health, /metrics and
	// /debug/pprof (zab.httpAddress, --http-addr). Empty disables it. It
	// serves nothing that changes the server: /admin/clock is not there.
	HTTPAddr string
	// AdminAddr is the HTTP address of /admin/clock, which shifts the
	// session clock (and so can expire every session at once); it has no
	// authentication, so it has a listener of its own, off by default
	// (zab.adminAddress, --admin-addr). A value without a host (":7000")
	// binds 127.0.0.1; name a host to listen elsewhere. It must differ from
	// the client, quorum, election and HTTP addresses.
	AdminAddr string
	// SnapshotTxns is how many committed txns between snapshots
	// (zab.snapshotTxns, --snapshot-txns). Default 100000.
	SnapshotTxns int
	// CommitLogCount is how many committed txns the leader keeps in memory
	// to sync a lagging follower with DIFF; one further behind gets a SNAP
	// (commitLogCount, --commit-log-count; ZooKeeper's default is 500).
	// Default 10000.
	CommitLogCount int
	// MaxBatchTxns bounds the txns in one PROPOSAL message and in one batch
	// of committed txns applied per loop iteration (zab.maxBatchTxns, the
	// core's MaxBatchEntries). Default 1024; the rest follow in the next
	// message or batch. One fsync covers every proposal made since the
	// previous one; the core's window of 1000 outstanding proposals bounds it.
	MaxBatchTxns int
	// PeerQueueLen bounds each peer's outgoing message queue
	// (zab.peerQueueLen). Default 8192. When full the connection is dropped
	// and the core recovers through re-sync, as after a network fault.
	PeerQueueLen int
	// ClientQueueLen bounds each client connection's outgoing replies and
	// pending requests (zab.clientQueueLen). Default 4096. A client that
	// exceeds it is disconnected.
	ClientQueueLen int
	// SecureClientPort is the TLS client port (secureClientPort,
	// --secure-client-port), served with SSL on the same request path as
	// ClientPort. 0 (the default) serves no TLS. When zoo.cfg sets it and no
	// clientPort, as ZooKeeper, only the TLS port is served (ClientPort 0).
	SecureClientPort int
	// SecureClientPortAddress is its bind address (secureClientPortAddress,
	// --secure-client-port-address). Default ClientPortAddress.
	SecureClientPortAddress string
	// ServerCnxnFactory is ZooKeeper's connection factory class
	// (serverCnxnFactory), accepted for compatibility: empty or
	// org.apache.zookeeper.server.NettyServerCnxnFactory (which ZooKeeper
	// requires for TLS), or NIOServerCnxnFactory without secureClientPort.
	ServerCnxnFactory string
	// SSL is the secure client port's TLS (ssl.* keys).
	SSL ClientTLS
	// SuperDigest makes one digest identity the superuser, which passes
	// every ACL check: "user:base64(sha1(user:password))", the id a client's
	// `addauth digest user:password` must yield exactly. It is ZooKeeper's
	// zookeeper.DigestAuthenticationProvider.superDigest system property:
	// read as a -D option from the SERVER_JVMFLAGS and JVMFLAGS environment
	// (as zkServer.sh passes them), as the zoo.cfg key
	// DigestAuthenticationProvider.superDigest (with or without the
	// "zookeeper." prefix) or --super-digest. Default off.
	SuperDigest string
	// Logger receives the server's logs; nil discards.
	Logger *slog.Logger
}

// DefaultConfig returns a Config with every default filled in except
// DataDir, ID and Servers.
func DefaultConfig() Config {
	return Config{
		TickTime:          2000 * time.Millisecond,
		InitLimit:         10,
		SyncLimit:         5,
		ClientPort:        2181,
		ClientPortAddress: "127.0.0.1",
		MaxClientCnxns:    60,
		FourLetterWords:   []string{"srvr"},
		JuteMaxBuffer:     0xfffff,
		SnapshotTxns:      100000,
		CommitLogCount:    10000,
		MaxBatchTxns:      1024,
		PeerQueueLen:      8192,
		ClientQueueLen:    4096,
		StandaloneEnabled: true,
	}
}

// reapTicks is ContainerCheckInterval in loop ticks (ticksPerTickTime per
// tickTime), at least 1.
func (c *Config) reapTicks() int64 {
	if c.ContainerCheckInterval <= 0 || c.TickTime <= 0 {
		return 4 * ticksPerTickTime
	}
	return max(1, int64(c.ContainerCheckInterval*ticksPerTickTime/c.TickTime))
}

// Distributed reports whether the member runs as an ensemble member, as
// ZooKeeper's QuorumPeerConfig.isDistributed: more than one server, or one
// with standaloneEnabled=false.
func (c *Config) Distributed() bool {
	return len(c.Servers) > 1 || len(c.Servers) == 1 && !c.StandaloneEnabled
}

// QuorumConfig is the membership as ZooKeeper prints it in
// /zookeeper/config (zkCli's config) and in the conf four-letter word
// (QuorumMaj.toString): one server.N=host:quorumPort:electionPort:participant
// line per member, with ;clientHost:clientPort when its server line gives
// one, then version=<hex>, no newline at the end. Empty when standalone.
func (c *Config) QuorumConfig() string {
	if !c.Distributed() {
		return ""
	}
	var b strings.Builder
	for _, m := range c.Servers {
		fmt.Fprintf(&b, "server.%d=%s:%d:%d:participant", m.ID, m.Host, m.QuorumPort, m.ElectionPort)
		if m.ClientAddr != "" {
			b.WriteString(";" + m.ClientAddr)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "version=%x", c.ConfigVersion)
	return b.String()
}

// FourLetterWordsImplemented lists the 4lw commands the server answers.
var FourLetterWordsImplemented = []string{"conf", "cons", "crst", "dirs", "isro", "mntr", "ruok", "srst", "srvr", "stat", "wchc", "wchp", "wchs"}

// MinSession returns the effective minimum session timeout.
func (c *Config) MinSession() time.Duration {
	if c.MinSessionTimeout > 0 {
		return c.MinSessionTimeout
	}
	return 2 * c.TickTime
}

// MaxSession returns the effective maximum session timeout.
func (c *Config) MaxSession() time.Duration {
	if c.MaxSessionTimeout > 0 {
		return c.MaxSessionTimeout
	}
	return 20 * c.TickTime
}

// LogDir returns DataLogDir, or DataDir when unset.
func (c *Config) LogDir() string {
	if c.DataLogDir != "" {
		return c.DataLogDir
	}
	return c.DataDir
}

// ClientAddr is clientPortAddress:clientPort.
func (c *Config) ClientAddr() string {
	return net.JoinHostPort(c.ClientPortAddress, strconv.Itoa(c.ClientPort))
}

// SecureClientAddr is secureClientPortAddress:secureClientPort.
func (c *Config) SecureClientAddr() string {
	return net.JoinHostPort(c.secureHost(), strconv.Itoa(c.SecureClientPort))
}

func (c *Config) secureHost() string {
	if c.SecureClientPortAddress != "" {
		return c.SecureClientPortAddress
	}
	return c.ClientPortAddress
}

// ZooKeeper's connection factories (serverCnxnFactory).
const (
	nettyFactory = "org.apache.zookeeper.server.NettyServerCnxnFactory"
	nioFactory   = "org.apache.zookeeper.server.NIOServerCnxnFactory"
)

// Self returns this member's server line, if any.
func (c *Config) Self() (Member, bool) {
	for _, m := range c.Servers {
		if m.ID == c.ID {
			return m, true
		}
	}
	return Member{}, false
}

// FourLetterWordAllowed reports whether cmd is whitelisted and implemented.
func (c *Config) FourLetterWordAllowed(cmd string) bool {
	if !slices.Contains(FourLetterWordsImplemented, cmd) {
		return false
	}
	return slices.Contains(c.FourLetterWords, "*") || slices.Contains(c.FourLetterWords, cmd)
}

// Validate checks every rule and names the setting of each broken one.
func (c *Config) Validate() error {
	var errs []string
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Sprintf(format, args...))
	}
	if c.TickTime <= 0 {
		bad("tickTime: want > 0 ms, got %d", c.TickTime.Milliseconds())
	}
	if c.InitLimit <= 0 {
		bad("initLimit: want > 0 ticks, got %d", c.InitLimit)
	}
	if c.SyncLimit <= 0 {
		bad("syncLimit: want > 0 ticks, got %d", c.SyncLimit)
	}
	// Every timeout is a number of ticks; none may overflow (a tickTime
	// given as a duration, e.g. 2000000h, can be absurdly long).
	if ticks := max(c.InitLimit, c.SyncLimit, 20); c.TickTime > 0 && c.TickTime > time.Duration(math.MaxInt64)/time.Duration(ticks) {
		bad("tickTime: %v × %d ticks (initLimit, syncLimit or the 20-tick session bound) overflows; give tickTime in ms, e.g. 2000", c.TickTime, ticks)
	}
	if c.DataDir == "" {
		bad("dataDir: required (set dataDir= in zoo.cfg or --data-dir)")
	}
	if c.ClientPort < 0 || c.ClientPort > 65535 || c.ClientPort == 0 && c.SecureClientPort == 0 {
		bad("clientPort: want 1..65535, got %d", c.ClientPort)
	}
	if c.SecureClientPort < 0 || c.SecureClientPort > 65535 {
		bad("secureClientPort: want 1..65535, got %d", c.SecureClientPort)
	}
	switch c.ServerCnxnFactory {
	case "", nettyFactory:
	case nioFactory:
		if c.SecureClientPort != 0 {
			bad("serverCnxnFactory=%s: ZooKeeper's NIO factory has no TLS, so secureClientPort needs serverCnxnFactory=%s (or no serverCnxnFactory)", nioFactory, nettyFactory)
		}
	default:
		bad("serverCnxnFactory: want %s or %s, got %q", nettyFactory, nioFactory, c.ServerCnxnFactory)
	}
	if c.SecureClientPort != 0 {
		if c.SecureClientPort == c.ClientPort && hostsOverlap(c.secureHost(), c.ClientPortAddress) {
			bad("secureClientPort: %d is also clientPort; give TLS a port of its own", c.SecureClientPort)
		}
		if _, err := c.serverTLS(); err != nil {
			bad("%v", err)
		}
	}
	if c.ClientPortAddress == "" {
		bad("clientPortAddress: must not be empty")
	}
	if c.MinSessionTimeout < 0 || c.MaxSessionTimeout < 0 {
		bad("minSessionTimeout/maxSessionTimeout: want >= 0 ms")
	}
	if c.MinSession() > c.MaxSession() {
		bad("minSessionTimeout (%d ms) > maxSessionTimeout (%d ms): make min <= max",
			c.MinSession().Milliseconds(), c.MaxSession().Milliseconds())
	}
	if c.MaxClientCnxns < 0 {
		bad("maxClientCnxns: want >= 0 (0 = unlimited), got %d", c.MaxClientCnxns)
	}
	for _, w := range c.FourLetterWords {
		if w != "*" && !slices.Contains(FourLetterWordsImplemented, w) && !slices.Contains(fourLetterWordsKnown, w) {
			bad("4lw.commands.whitelist: unknown command %q (zab implements %s)", w, strings.Join(FourLetterWordsImplemented, ","))
		}
	}
	if c.JuteMaxBuffer < 1024 {
		bad("jute.maxbuffer: want >= 1024 bytes, got %d", c.JuteMaxBuffer)
	}
	if c.SnapshotTxns <= 0 {
		bad("zab.snapshotTxns: want > 0, got %d", c.SnapshotTxns)
	}
	if c.CommitLogCount <= 0 {
		bad("commitLogCount: want > 0, got %d", c.CommitLogCount)
	}
	if c.MaxBatchTxns <= 0 {
		bad("zab.maxBatchTxns: want > 0, got %d", c.MaxBatchTxns)
	}
	if c.PeerQueueLen <= 0 {
		bad("zab.peerQueueLen: want > 0, got %d", c.PeerQueueLen)
	}
	if c.ClientQueueLen <= 0 {
		bad("zab.clientQueueLen: want > 0, got %d", c.ClientQueueLen)
	}
	if c.SuperDigest != "" {
		if msg := checkSuperDigest(c.SuperDigest); msg != "" {
			bad("%s", msg)
		}
	}
	if c.HTTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
			bad("zab.httpAddress: want host:port, got %q", c.HTTPAddr)
		}
	}
	if c.AdminAddr != "" {
		if msg := c.checkAdminAddr(); msg != "" {
			bad("%s", msg)
		}
	}
	seen := map[uint64]bool{}
	for _, m := range c.Servers {
		if seen[m.ID] {
			bad("server.%d: listed twice", m.ID)
		}
		seen[m.ID] = true
		if m.Observer {
			bad("server.%d: observers are not supported by zab; remove :observer", m.ID)
		}
	}
	if c.NoDataDirAutocreate && c.DataDir != "" {
		for _, d := range []string{c.DataDir, c.LogDir()} {
			if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
				bad("missing data directory %s, automatic data directory creation is disabled (zookeeper.datadir.autocreate is false); create it first", d)
			}
		}
	}
	if c.ExtendedTypesEnabled && c.ID > maxExtendedServerID {
		// EphemeralType.validateServerId: the id shares the session id's
		// top byte with the TTL marker.
		bad("extendedTypesEnabled: member ids must be at most %d with TTL nodes (ZooKeeper's rule), got myid %d", maxExtendedServerID, c.ID)
	}
	if len(c.Servers) > 0 {
		if c.ID == 0 {
			bad("myid: missing; write this member's id to %s (e.g. echo 1 > %s) or pass --myid",
				filepath.Join(c.DataDir, "myid"), filepath.Join(c.DataDir, "myid"))
		} else if !seen[c.ID] {
			bad("myid: %d has no server.%d line", c.ID, c.ID)
		}
	} else if c.ID == 0 {
		c.ID = 1
	}
	if len(errs) == 0 {
		return nil
	}
	// One line, naming every broken setting.
	return fmt.Errorf("%w: %s", ErrConfig, strings.Join(errs, "; "))
}

// maxExtendedServerID is ZooKeeper's EphemeralType.MAX_EXTENDED_SERVER_ID.
const maxExtendedServerID = 254

// checkSuperDigest returns what is wrong with a superDigest value, or "".
// ZooKeeper compares it with the digest id of each addauth, so a value that
// is not user:base64(sha1) would silently never match.
func checkSuperDigest(v string) string {
	user, sum, ok := strings.Cut(v, ":")
	raw, err := base64.StdEncoding.DecodeString(sum)
	if ok && user != "" && err == nil && len(raw) == sha1.Size {
		return ""
	}
	return fmt.Sprintf("DigestAuthenticationProvider.superDigest: want user:base64(sha1(\"user:password\")), e.g. super:%s for super:secret "+
		"(printf %%s super:secret | openssl dgst -binary -sha1 | base64), got %q", superDigestExample, v)
}

// superDigestExample is the digest of "super:secret".
const superDigestExample = "lK75jTNcA+U9vtVEw5vB51mj/w4="

// AdminListenAddr is the address the /admin/clock listener binds: AdminAddr
// with 127.0.0.1 for a missing host. Empty when AdminAddr is.
func (c *Config) AdminListenAddr() string {
	if c.AdminAddr == "" {
		return ""
	}
	h, p, err := net.SplitHostPort(c.AdminAddr)
	if err != nil {
		return c.AdminAddr
	}
	if h == "" {
		h = "127.0.0.1"
	}
	return net.JoinHostPort(h, p)
}

// checkAdminAddr returns what is wrong with AdminAddr, or "". The admin
// endpoint must have a port of its own: sharing one with the client, quorum,
// election or HTTP address would either fail to bind or, worse, put the
// clock on an address other programs are given.
func (c *Config) checkAdminAddr() string {
	h, p, err := net.SplitHostPort(c.AdminAddr)
	if err != nil {
		return fmt.Sprintf("zab.adminAddress: want [host]:port (e.g. :7000 for 127.0.0.1:7000), got %q", c.AdminAddr)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("zab.adminAddress: want a port 0..65535, got %q", p)
	}
	if h == "" {
		h = "127.0.0.1"
	}
	if n == 0 { // an ephemeral port cannot collide
		return ""
	}
	type other struct{ name, host, port string }
	others := []other{{"clientPort", c.ClientPortAddress, strconv.Itoa(c.ClientPort)}}
	if c.SecureClientPort != 0 {
		others = append(others, other{"secureClientPort", c.secureHost(), strconv.Itoa(c.SecureClientPort)})
	}
	if c.HTTPAddr != "" {
		if hh, hp, err := net.SplitHostPort(c.HTTPAddr); err == nil {
			others = append(others, other{"zab.httpAddress", hh, hp})
		}
	}
	if self, ok := c.Self(); ok {
		others = append(others,
			other{fmt.Sprintf("server.%d quorum port", self.ID), self.Host, strconv.Itoa(self.QuorumPort)},
			other{fmt.Sprintf("server.%d election port", self.ID), self.Host, strconv.Itoa(self.ElectionPort)})
	}
	for _, o := range others {
		if o.port == p && hostsOverlap(h, o.host) {
			return fmt.Sprintf("zab.adminAddress: %s is also the %s; give the admin endpoint a port of its own", c.AdminAddr, o.name)
		}
	}
	return ""
}

// hostsOverlap reports whether listeners on hosts a and b with one port
// would clash: the same host, or either one a wildcard.
func hostsOverlap(a, b string) bool {
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return a == b || wild(a) || wild(b)
}

// fourLetterWordsKnown are ZooKeeper commands zab does not implement; they may
// appear in a whitelist (a ZooKeeper user's zoo.cfg) and are then refused at
// run time like a non-whitelisted command.
var fourLetterWordsKnown = []string{"dump", "envi", "gtmk", "hash", "stmk"}

// setting is one zoo.cfg key and its flag.
type setting struct {
	key   string // zoo.cfg key
	flag  string // flag name
	usage string
	set   func(c *Config, v string) error
}

func positiveInt(v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("want a positive integer, got %q", v)
	}
	return n, nil
}

func nonNegInt(v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want an integer >= 0, got %q", v)
	}
	return n, nil
}

// millis parses zoo.cfg's integer milliseconds, or a Go duration ("2s") as
// flags may use.
func millis(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 || n > math.MaxInt64/int64(time.Millisecond) {
			return 0, fmt.Errorf("want a positive number of milliseconds, got %q", v)
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("want a positive number of milliseconds (or a duration like 2s), got %q", v)
	}
	return d, nil
}

func port(v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 || n > 65535 {
		return 0, fmt.Errorf("want a port 1..65535, got %q", v)
	}
	return n, nil
}

var settings = []setting{
	{"myid", "myid", "this member's id (default: the myid file in dataDir)", func(c *Config, v string) error {
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil || n == 0 {
			return fmt.Errorf("want a positive integer, got %q", v)
		}
		c.ID = n
		return nil
	}},
	{"tickTime", "tick-time", "basic time unit in ms (default 2000)", func(c *Config, v string) (err error) {
		c.TickTime, err = millis(v)
		return err
	}},
	{"initLimit", "init-limit", "ticks allowed for discovery and sync (default 10)", func(c *Config, v string) (err error) {
		c.InitLimit, err = positiveInt(v)
		return err
	}},
	{"syncLimit", "sync-limit", "ticks a follower may lag (default 5)", func(c *Config, v string) (err error) {
		c.SyncLimit, err = positiveInt(v)
		return err
	}},
	{"dataDir", "data-dir", "snapshots, epoch files and myid", func(c *Config, v string) error {
		c.DataDir = strings.TrimSpace(v)
		return nil
	}},
	{"dataLogDir", "data-log-dir", "txn log directory (default dataDir)", func(c *Config, v string) error {
		c.DataLogDir = strings.TrimSpace(v)
		return nil
	}},
	{"clientPort", "client-port", "client port (default 2181)", func(c *Config, v string) (err error) {
		c.ClientPort, err = port(v)
		return err
	}},
	{"clientPortAddress", "client-port-address", "client bind address (default 127.0.0.1)", func(c *Config, v string) error {
		v = strings.TrimSpace(v)
		if v == "" {
			return fmt.Errorf("want an address, got empty")
		}
		c.ClientPortAddress = v
		return nil
	}},
	{"minSessionTimeout", "min-session-timeout", "minimum session timeout in ms (default 2*tickTime)", func(c *Config, v string) (err error) {
		c.MinSessionTimeout, err = millis(v)
		return err
	}},
	{"maxSessionTimeout", "max-session-timeout", "maximum session timeout in ms (default 20*tickTime)", func(c *Config, v string) (err error) {
		c.MaxSessionTimeout, err = millis(v)
		return err
	}},
	{"maxClientCnxns", "max-client-cnxns", "connections per client IP, 0 = unlimited (default 60)", func(c *Config, v string) (err error) {
		c.MaxClientCnxns, err = nonNegInt(v)
		return err
	}},
	{"maxCnxns", "max-cnxns", "client connections in total, 0 = unlimited (default 0)", func(c *Config, v string) (err error) {
		c.MaxCnxns, err = nonNegInt(v)
		return err
	}},
	{"nio.sessionlessCnxnTimeout", "sessionless-cnxn-timeout", "ms a new client connection has to send its ConnectRequest (default 10000)", func(c *Config, v string) (err error) {
		c.SessionlessCnxnTimeout, err = millis(v)
		return err
	}},
	{"4lw.commands.whitelist", "4lw-whitelist", "comma-separated four-letter words, * = all (default srvr)", func(c *Config, v string) error {
		c.FourLetterWords = nil
		for w := range strings.SplitSeq(v, ",") {
			if w = strings.TrimSpace(w); w != "" {
				c.FourLetterWords = append(c.FourLetterWords, w)
			}
		}
		return nil
	}},
	{"jute.maxbuffer", "jute-maxbuffer", "largest client frame in bytes (default 1048575)", func(c *Config, v string) error {
		v = strings.TrimSpace(v)
		n, err := strconv.ParseInt(v, 0, 64)
		if err != nil || n <= 0 || n > 1<<30 {
			return fmt.Errorf("want a byte count 1..2^30, got %q", v)
		}
		c.JuteMaxBuffer = int(n)
		return nil
	}},
	{"zab.httpAddress", "http-addr", "HTTP address for /health, /metrics and /debug/pprof (default off)", func(c *Config, v string) error {
		c.HTTPAddr = strings.TrimSpace(v)
		return nil
	}},
	{"zab.adminAddress", "admin-addr", "HTTP address for POST /admin/clock, unauthenticated; :port binds 127.0.0.1 (default off)", func(c *Config, v string) error {
		c.AdminAddr = strings.TrimSpace(v)
		return nil
	}},
	{"zab.snapshotTxns", "snapshot-txns", "committed txns between snapshots (default 100000)", func(c *Config, v string) (err error) {
		c.SnapshotTxns, err = positiveInt(v)
		return err
	}},
	{"commitLogCount", "commit-log-count", "committed txns kept for DIFF sync (default 10000)", func(c *Config, v string) (err error) {
		c.CommitLogCount, err = positiveInt(v)
		return err
	}},
	{"zab.maxBatchTxns", "max-batch-txns", "txns per PROPOSAL message and apply batch (default 1024)", func(c *Config, v string) (err error) {
		c.MaxBatchTxns, err = positiveInt(v)
		return err
	}},
	{"zab.peerQueueLen", "peer-queue-len", "messages queued per peer (default 8192)", func(c *Config, v string) (err error) {
		c.PeerQueueLen, err = positiveInt(v)
		return err
	}},
	{"zab.clientQueueLen", "client-queue-len", "replies queued per client (default 4096)", func(c *Config, v string) (err error) {
		c.ClientQueueLen, err = positiveInt(v)
		return err
	}},
	{"secureClientPort", "secure-client-port", "TLS client port (default off)", func(c *Config, v string) (err error) {
		c.SecureClientPort, err = port(v)
		return err
	}},
	{"secureClientPortAddress", "secure-client-port-address", "TLS client bind address (default clientPortAddress)", func(c *Config, v string) error {
		if v = strings.TrimSpace(v); v == "" {
			return fmt.Errorf("want an address, got empty")
		}
		c.SecureClientPortAddress = v
		return nil
	}},
	{"serverCnxnFactory", "server-cnxn-factory", "ZooKeeper's connection factory class, for compatibility", func(c *Config, v string) error {
		c.ServerCnxnFactory = strings.TrimSpace(v)
		return nil
	}},
	{"ssl.keyStore.location", "ssl-keystore", "TLS key store: key and certificate chain, PEM or PKCS12", func(c *Config, v string) error {
		c.SSL.KeyStoreLocation = strings.TrimSpace(v)
		return nil
	}},
	{"ssl.keyStore.password", "ssl-keystore-password", "TLS key store password", func(c *Config, v string) error {
		c.SSL.KeyStorePassword = v
		return nil
	}},
	{"ssl.keyStore.passwordPath", "ssl-keystore-password-path", "file holding the TLS key store password", func(c *Config, v string) (err error) {
		c.SSL.KeyStorePassword, err = readPasswordPath("ssl.keyStore.passwordPath", strings.TrimSpace(v))
		return err
	}},
	{"ssl.keyStore.type", "ssl-keystore-type", "PEM or PKCS12 (default: from the file name)", func(c *Config, v string) error {
		c.SSL.KeyStoreType = strings.TrimSpace(v)
		return nil
	}},
	{"ssl.trustStore.location", "ssl-truststore", "CAs of client certificates, PEM or PKCS12", func(c *Config, v string) error {
		c.SSL.TrustStoreLocation = strings.TrimSpace(v)
		return nil
	}},
	{"ssl.trustStore.password", "ssl-truststore-password", "TLS trust store password", func(c *Config, v string) error {
		c.SSL.TrustStorePassword = v
		return nil
	}},
	{"ssl.trustStore.passwordPath", "ssl-truststore-password-path", "file holding the TLS trust store password", func(c *Config, v string) (err error) {
		c.SSL.TrustStorePassword, err = readPasswordPath("ssl.trustStore.passwordPath", strings.TrimSpace(v))
		return err
	}},
	{"ssl.trustStore.type", "ssl-truststore-type", "PEM or PKCS12 (default: from the file name)", func(c *Config, v string) error {
		c.SSL.TrustStoreType = strings.TrimSpace(v)
		return nil
	}},
	{"ssl.clientAuth", "ssl-client-auth", "none, want or need a client certificate (default need)", func(c *Config, v string) error {
		v = strings.TrimSpace(v)
		if _, err := clientAuthMode(v); err != nil {
			return errors.New("want none, want or need, got " + strconv.Quote(v))
		}
		c.SSL.ClientAuth = v
		return nil
	}},
	{"ssl.protocol", "ssl-protocol", "TLSv1.2, TLSv1.3 or TLS (default TLSv1.2)", func(c *Config, v string) error {
		c.SSL.Protocol = strings.TrimSpace(v)
		return nil
	}},
	{"ssl.enabledProtocols", "ssl-enabled-protocols", "comma-separated TLS versions (default ssl.protocol)", func(c *Config, v string) error {
		c.SSL.EnabledProtocols = commaList(v)
		return nil
	}},
	{"ssl.ciphersuites", "ssl-ciphersuites", "comma-separated cipher suites (default Go's secure ones)", func(c *Config, v string) error {
		c.SSL.CipherSuites = commaList(v)
		return nil
	}},
	{"ssl.hostnameVerification", "ssl-hostname-verification", "check client certificates against the client's address (default true)", func(c *Config, v string) error {
		on, err := parseBool(v)
		if !on {
			c.SSL.NoHostnameVerification = true
		}
		return err
	}},
	{"ssl.clientHostnameVerification", "ssl-client-hostname-verification", "as ssl.hostnameVerification, for client certificates only (default true)", func(c *Config, v string) error {
		on, err := parseBool(v)
		if !on {
			c.SSL.NoHostnameVerification = true
		}
		return err
	}},
	{"standaloneEnabled", "standalone-enabled", "true: a single server.N line runs standalone; false: as a one-member ensemble (default true)", func(c *Config, v string) (err error) {
		c.StandaloneEnabled, err = parseBool(v)
		return err
	}},
	{"reconfigEnabled", "reconfig-enabled", "false only: reconfig is answered \"Reconfig is disabled\" (default false)", func(c *Config, v string) error {
		on, err := parseBool(v)
		if err != nil {
			return err
		}
		if on {
			return errors.New("true: dynamic reconfiguration is " + notSupported + " (with false, ZooKeeper's default, reconfig requests get \"Reconfig is disabled\" as from ZooKeeper); " +
				"remove it or set it to false and change members by editing every member's server.N lines and restarting them, " + orZooKeeper)
		}
		return nil
	}},
	{"snapCount", "snap-count", "committed txns between snapshots, as zab.snapshotTxns (default 100000)", func(c *Config, v string) (err error) {
		c.SnapshotTxns, err = positiveInt(v)
		if c.SnapshotTxns == 1 {
			c.SnapshotTxns = 2 // ZooKeeper's minimum
		}
		return err
	}},
	{"extendedTypesEnabled", "extended-types-enabled", "allow TTL nodes (default false: creates with a TTL are Unimplemented)", func(c *Config, v string) (err error) {
		c.ExtendedTypesEnabled, err = parseBool(v)
		return err
	}},
	{"znode.container.checkIntervalMs", "container-check-interval", "ms between reaps of empty containers and expired TTL nodes (default 4 tickTimes)", func(c *Config, v string) (err error) {
		c.ContainerCheckInterval, err = millis(v)
		return err
	}},
	{"datadir.autocreate", "datadir-autocreate", "false: refuse to start when dataDir or dataLogDir is missing (default true)", func(c *Config, v string) error {
		on, err := parseBool(v)
		c.NoDataDirAutocreate = !on
		return err
	}},
	{"dynamicConfigFile", "dynamic-config-file", "file with the server.N lines; a name ending .dynamic.<hex> gives the config version", func(c *Config, v string) error {
		if v = strings.TrimSpace(v); v == "" {
			return errors.New("want a file name, got empty")
		}
		c.DynamicConfigFile = v
		return nil
	}},
	{superDigestKey, "super-digest", "superuser digest id user:base64(sha1(user:password)), passes every ACL check (default off)", func(c *Config, v string) error {
		c.SuperDigest = strings.TrimSpace(v)
		return nil
	}},
}

// superDigestKey is the zoo.cfg key of Config.SuperDigest; ZooKeeper's
// system property adds the "zookeeper." prefix.
const superDigestKey = "DigestAuthenticationProvider.superDigest"

func commaList(v string) []string {
	var out []string
	for w := range strings.SplitSeq(v, ",") {
		if w = strings.TrimSpace(w); w != "" {
			out = append(out, w)
		}
	}
	return out
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return true, fmt.Errorf("want true or false, got %q", v)
}

func findSetting(key string) *setting {
	// A system property (ZooKeeperSettings) reaches its zoo.cfg key's parser.
	if zs := lookupZooKeeperSetting(key); zs != nil && zs.Property != "" {
		key = zs.Key
	}
	for i := range settings {
		if settings[i].key == key {
			return &settings[i]
		}
	}
	return nil
}

// parseMember parses the value of server.N.
func parseMember(id uint64, v string) (Member, error) {
	m := Member{ID: id}
	v = strings.TrimSpace(v)
	addr, client, hasClient := strings.Cut(v, ";")
	if hasClient {
		client = strings.TrimSpace(client)
		if _, p, err := net.SplitHostPort(client); err == nil {
			if _, err := port(p); err != nil {
				return m, fmt.Errorf("client address %q: %v", client, err)
			}
			m.ClientAddr = client
		} else if _, err := port(client); err == nil {
			m.ClientAddr = net.JoinHostPort("0.0.0.0", client)
		} else {
			return m, fmt.Errorf("client address: want host:port, got %q", client)
		}
	}
	parts := strings.Split(addr, ":")
	if len(parts) < 3 || len(parts) > 4 {
		return m, fmt.Errorf("want host:quorumPort:electionPort[:participant|observer][;clientHost:clientPort], got %q", v)
	}
	m.Host = strings.TrimSpace(parts[0])
	if m.Host == "" {
		return m, fmt.Errorf("empty host in %q", v)
	}
	var err error
	if m.QuorumPort, err = port(parts[1]); err != nil {
		return m, fmt.Errorf("quorum port: %v", err)
	}
	if m.ElectionPort, err = port(parts[2]); err != nil {
		return m, fmt.Errorf("election port: %v", err)
	}
	if len(parts) == 4 {
		switch strings.TrimSpace(parts[3]) {
		case "participant":
		case "observer":
			m.Observer = true
		default:
			return m, fmt.Errorf("role: want participant or observer, got %q", parts[3])
		}
	}
	return m, nil
}

// setKey applies one zoo.cfg key=value to c. ignored collects settings
// ZooKeeper knows that zab does not use.
func setKey(c *Config, key, value string, ignored *[]string) error {
	if rest, ok := strings.CutPrefix(key, "server."); ok {
		id, err := strconv.ParseUint(rest, 10, 64)
		if err != nil || id == 0 {
			return fmt.Errorf("%s: want server.N with N a positive integer", key)
		}
		m, err := parseMember(id, value)
		if err != nil {
			return fmt.Errorf("%s: %v", key, err)
		}
		c.Servers = slices.DeleteFunc(c.Servers, func(o Member) bool { return o.ID == id })
		c.Servers = append(c.Servers, m)
		sort.Slice(c.Servers, func(i, j int) bool { return c.Servers[i].ID < c.Servers[j].ID })
		return nil
	}
	if err := refuseUnprotected(key, value); err != nil {
		return err
	}
	if strings.HasPrefix(key, "group.") || strings.HasPrefix(key, "weight.") {
		return fmt.Errorf("%s: hierarchical quorums (group.N, weight.N) are %s: every zab member has one vote in one majority; remove the group and weight lines, %s", key, notSupported, orZooKeeper)
	}
	zs := lookupZooKeeperSetting(key)
	if zs != nil && zs.Accept != nil && !zs.Accept(value) {
		what := "remove it"
		if zs.Status == Honoured {
			what = "use a value zab supports"
		}
		return fmt.Errorf("%s=%s: %s; %s, %s", key, strings.TrimSpace(value), zs.Note, what, orZooKeeper)
	}
	if s := findSetting(key); s != nil {
		if err := s.set(c, value); err != nil {
			return fmt.Errorf("%s: %v", key, err)
		}
		return nil
	}
	if zs != nil {
		if zs.Status == Inert {
			*ignored = append(*ignored, key)
		}
		return nil
	}
	if k, ok := strings.CutPrefix(key, "zookeeper."); ok && (findSetting(k) != nil || lookupZooKeeperSetting(k) != nil) {
		// ZooKeeper reads this key from zoo.cfg only: as a system property
		// it changes nothing there either.
		return fmt.Errorf("%s: ZooKeeper does not read this name; set %s in zoo.cfg", key, k)
	}
	return fmt.Errorf("%s: unknown setting (not a ZooKeeper 3.8 or zab setting; check the spelling)", key)
}

// lookupZooKeeperSetting finds key in ZooKeeperSettings by its zoo.cfg key,
// its system property, or zookeeper.<key> (ZooKeeper reads an unknown
// zoo.cfg key K as the system property zookeeper.K, so both names reach
// the same setting).
func lookupZooKeeperSetting(key string) *ZooKeeperSetting {
	if strings.HasPrefix(key, "authProvider.") || strings.HasPrefix(key, "zookeeper.authProvider.") {
		key = "authProvider"
	}
	for i := range ZooKeeperSettings {
		z := &ZooKeeperSettings[i]
		if z.Key == key || z.Property != "" && (z.Property == key || "zookeeper."+z.Key == key) {
			return z
		}
	}
	// A zoo.cfg key K that is only a property: ZooKeeper sets zookeeper.K.
	for i := range ZooKeeperSettings {
		if z := &ZooKeeperSettings[i]; z.Property != "" && z.Property == "zookeeper."+key {
			return z
		}
	}
	return nil
}

// zab serves clients in plaintext (clientPort) and with TLS
// (secureClientPort), and members in plaintext; it knows the digest and ip
// authentication schemes. A setting that asks ZooKeeper for more (TLS
// between members, SASL, refusing unauthenticated sessions, certificate
// revocation checks) must stop zab from starting: warning and serving
// without the protection asked for would fail open. Explicit "off" values
// are accepted (and ignored, with the warning of every ignored setting).
const (
	notSupported = "not supported by zab yet"
	orZooKeeper  = "or run ZooKeeper"
)

// boolSecurity are ZooKeeper's boolean security switches, by zoo.cfg key
// (ZooKeeper also reads a key with a "zookeeper." prefix as the same system
// property), and what true would ask for.
var boolSecurity = map[string]string{
	"sslQuorum":                      "TLS between members is " + notSupported + " (keep the quorum and election ports on a network only the members reach)",
	"portUnification":                "TLS and plaintext on one client port is " + notSupported + " (serve TLS on secureClientPort)",
	"quorum.auth.enableSasl":         "SASL authentication between members is " + notSupported,
	"quorum.auth.learnerRequireSasl": "SASL authentication between members is " + notSupported,
	"quorum.auth.serverRequireSasl":  "SASL authentication between members is " + notSupported,
	"sessionRequireClientSASLAuth":   "SASL client authentication is " + notSupported,
	"enforce.auth.enabled":           "refusing sessions without an authenticated scheme (enforce.auth.schemes) is " + notSupported,
	"ssl.crl":                        "checking client certificates against revocation lists is " + notSupported,
	"ssl.ocsp":                       "checking client certificates with OCSP is " + notSupported,
}

// sslIgnored are ssl.* settings that ask for nothing zab must give: Java
// tuning with no Go counterpart.
var sslIgnored = []string{"ssl.sslProvider", "ssl.handshakeDetectionTimeoutMillis"}

// builtinAuthProviders are authProvider.N values zab already provides.
var builtinAuthProviders = []string{
	"org.apache.zookeeper.server.auth.DigestAuthenticationProvider",
	"org.apache.zookeeper.server.auth.IPAuthenticationProvider",
}

// refuseUnprotected returns an error naming key and what to do when the
// setting asks for protection zab does not give, or nil.
func refuseUnprotected(key, value string) error {
	if zs := lookupZooKeeperSetting(key); zs != nil && zs.Status == Inert {
		return nil // applies only with a setting refused on its own
	}
	k := strings.TrimPrefix(key, "zookeeper.")
	v := strings.TrimSpace(value)
	if what, ok := boolSecurity[k]; ok {
		switch strings.ToLower(v) {
		case "false":
			return nil
		case "true":
			return fmt.Errorf("%s=true: %s; remove it or set it to false, %s", key, what, orZooKeeper)
		}
		return fmt.Errorf("%s: want true or false, got %q (%s)", key, value, what)
	}
	switch {
	case k != key && (k == "secureClientPort" || k == "secureClientPortAddress"):
		// Not a system property in ZooKeeper: it would serve no TLS.
		return fmt.Errorf("%s: ZooKeeper does not read this name; the zoo.cfg key is %s", key, k)
	case strings.HasPrefix(k, "ssl.quorum."):
		switch strings.ToLower(v) {
		case "", "false", "none":
			return nil // an option turned off asks for nothing
		}
		return fmt.Errorf("%s: TLS between members is %s (zab serves TLS to clients only, on secureClientPort); remove the ssl.quorum.* settings and keep the quorum and election ports on a network only the members reach, %s", key, notSupported, orZooKeeper)
	case strings.HasPrefix(k, "ssl."):
		if findSetting(key) != nil || slices.Contains(sslIgnored, k) {
			return nil
		}
		switch strings.ToLower(v) {
		case "", "false", "none":
			return nil
		}
		return fmt.Errorf("%s: this TLS setting is %s (zab honours ssl.keyStore.*, ssl.trustStore.*, ssl.clientAuth, ssl.protocol, ssl.enabledProtocols, ssl.ciphersuites and ssl.hostnameVerification); remove it, %s", key, notSupported, orZooKeeper)
	case strings.HasPrefix(k, "authProvider."):
		if slices.Contains(builtinAuthProviders, v) {
			return nil
		}
		return fmt.Errorf("%s=%s: that authentication provider is %s (zab has the digest and ip schemes only); remove it, %s", key, v, notSupported, orZooKeeper)
	}
	return nil
}

// splitProperty splits a Java-properties line at the first '=', ':' or
// whitespace, as java.util.Properties (which ZooKeeper uses) does.
func splitProperty(line string) (key, value string) {
	i := strings.IndexAny(line, "=: \t")
	if i < 0 {
		return line, ""
	}
	key = line[:i]
	rest := strings.TrimLeft(line[i:], " \t")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = rest[1:]
	}
	return key, strings.TrimSpace(rest)
}

// ParseZooCfg reads zoo.cfg from r into c (over whatever c already holds) and
// returns the keys ZooKeeper knows but zab ignores. name is used in errors.
func ParseZooCfg(c *Config, r io.Reader, name string) (ignored []string, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		key, value := splitProperty(line)
		if err := setKey(c, key, value, &ignored); err != nil {
			return ignored, fmt.Errorf("%w: %s:%d: %v", ErrConfig, name, lineNo, err)
		}
	}
	if err := sc.Err(); err != nil {
		return ignored, fmt.Errorf("zab: read %s: %w", name, err)
	}
	return ignored, nil
}

// readMyID reads dataDir/myid.
func readMyID(dataDir string) (uint64, bool, error) {
	p := filepath.Join(dataDir, "myid")
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("zab: read %s: %w", p, err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n == 0 {
		return 0, false, fmt.Errorf("%w: %s: want a positive integer, got %q", ErrConfig, p, strings.TrimSpace(string(b)))
	}
	return n, true, nil
}

// serverFlag collects repeated --server N=spec flags.
type serverFlag struct{ specs []string }

func (s *serverFlag) String() string     { return strings.Join(s.specs, " ") }
func (s *serverFlag) Set(v string) error { s.specs = append(s.specs, v); return nil }

// LoadConfig builds a Config from command-line args: --config zoo.cfg (read
// first), then the myid file, then flags, which override the file. It returns
// the ignored zoo.cfg keys so the caller can log one warning line naming
// them. The result is not yet validated.
func LoadConfig(args []string, stderr io.Writer) (Config, []string, error) {
	fs := flag.NewFlagSet("zab", flag.ContinueOnError)
	// Parse errors become one returned line; only --help prints usage.
	fs.SetOutput(io.Discard)
	cfgPath := fs.String("config", "", "ZooKeeper zoo.cfg to read (flags override it)")
	vals := map[string]*string{}
	for _, s := range settings {
		vals[s.flag] = fs.String(s.flag, "", s.usage+" [zoo.cfg: "+s.key+"]")
	}
	var servers serverFlag
	fs.Var(&servers, "server", "ensemble member N=host:quorumPort:electionPort[;clientHost:clientPort], repeatable [zoo.cfg: server.N]")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: zab --config zoo.cfg [flags]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fs.Usage()
		}
		return Config{}, nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if fs.NArg() > 0 {
		// zkServer.sh style: a bare zoo.cfg path is accepted too.
		if fs.NArg() == 1 && *cfgPath == "" {
			*cfgPath = fs.Arg(0)
		} else {
			return Config{}, nil, fmt.Errorf("%w: unexpected arguments %q; use --config zoo.cfg", ErrConfig, fs.Args())
		}
	}
	c := DefaultConfig()
	var ignored []string
	// System properties first: zoo.cfg and flags override them.
	for _, env := range []string{"SERVER_JVMFLAGS", "JVMFLAGS"} {
		if err := applyJVMFlags(&c, env, os.Getenv(env), &ignored); err != nil {
			return c, ignored, err
		}
	}
	if *cfgPath != "" {
		f, err := os.Open(*cfgPath)
		if err != nil {
			return c, nil, fmt.Errorf("%w: --config: %v", ErrConfig, err)
		}
		ignored, err = ParseZooCfg(&c, f, *cfgPath)
		f.Close()
		if err != nil {
			return c, ignored, err
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, s := range settings {
		if !set[s.flag] {
			continue
		}
		if err := s.set(&c, *vals[s.flag]); err != nil {
			return c, ignored, fmt.Errorf("%w: --%s: %v", ErrConfig, s.flag, err)
		}
	}
	for _, spec := range servers.specs {
		k, v, ok := strings.Cut(spec, "=")
		if !ok {
			return c, ignored, fmt.Errorf("%w: --server: want N=host:quorumPort:electionPort, got %q", ErrConfig, spec)
		}
		var dummy []string
		if err := setKey(&c, "server."+k, v, &dummy); err != nil {
			return c, ignored, fmt.Errorf("%w: --server: %v", ErrConfig, err)
		}
	}
	if !set["myid"] && c.DataDir != "" {
		id, ok, err := readMyID(c.DataDir)
		if err != nil {
			return c, ignored, err
		}
		if ok {
			c.ID = id
		}
	}
	if c.DynamicConfigFile != "" {
		if err := loadDynamicConfig(&c, *cfgPath); err != nil {
			return c, ignored, err
		}
	}
	// As ZooKeeper: with secureClientPort and no clientPort, only the TLS
	// port is served.
	if c.SecureClientPort != 0 && !set["client-port"] && !cfgHas(*cfgPath, "clientPort") {
		c.ClientPort = 0
	}
	// A member's `;clientAddr:port` gives the client port when neither the
	// file nor a flag set clientPort/clientPortAddress.
	if self, ok := c.Self(); ok && self.ClientAddr != "" {
		h, p, _ := net.SplitHostPort(self.ClientAddr)
		if !set["client-port"] && !cfgHas(*cfgPath, "clientPort") {
			c.ClientPort, _ = strconv.Atoi(p)
		}
		if !set["client-port-address"] && !cfgHas(*cfgPath, "clientPortAddress") {
			c.ClientPortAddress = h
		}
	}
	return c, ignored, nil
}

// applyJVMFlags applies the -Dzookeeper.* system properties of a JVM
// option string (the value of the environment variable name) as zoo.cfg
// keys, as a ZooKeeper started by zkServer.sh would see them. Other options
// (-Xmx, -Dlog4j..., ...) are the JVM's and are skipped; zookeeper.*
// properties zab does not use are listed as ignored, and the security
// refusals apply to them as to zoo.cfg.
func applyJVMFlags(c *Config, name, flags string, ignored *[]string) error {
	for _, tok := range strings.Fields(flags) {
		tok = strings.Trim(tok, `"'`)
		prop, ok := strings.CutPrefix(tok, "-D")
		if !ok {
			continue
		}
		key, value, _ := strings.Cut(prop, "=")
		if !strings.HasPrefix(key, "zookeeper.") {
			// jute.maxbuffer, readonlymode.enabled, quorum.auth.*: the
			// properties ZooKeeper reads without the prefix. Others are
			// the JVM's (-Dlog4j..., -Djava...).
			if zs := lookupZooKeeperSetting(key); zs == nil || zs.Property != key {
				continue
			}
		}
		if err := setKey(c, key, value, ignored); err != nil {
			return fmt.Errorf("%w: %s: -D%v", ErrConfig, name, err)
		}
	}
	return nil
}

// cfgHas reports whether the zoo.cfg at path sets key. Read errors count as
// "no": the file was already read once successfully.
func cfgHas(path, key string) bool {
	if path == "" {
		return false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		if k, _ := splitProperty(line); k == key {
			return true
		}
	}
	return false
}

// loadDynamicConfig reads the server.N lines of c.DynamicConfigFile, as
// ZooKeeper 3.8's QuorumPeerConfig.parse: zoo.cfg must then hold no
// server.N lines, the file only server.N lines (no version= inside: the
// version is the hex suffix of the file's name, 0 without one), and a
// <zoo.cfg>.dynamic.next file (a reconfiguration ZooKeeper had not
// finished) stops the start, since zab cannot finish it.
func loadDynamicConfig(c *Config, cfgPath string) error {
	name := c.DynamicConfigFile
	if len(c.Servers) > 0 {
		return fmt.Errorf("%w: server.%d: must be in the dynamic config file %s, not in zoo.cfg (as ZooKeeper: move every server.N line there)", ErrConfig, c.Servers[0].ID, name)
	}
	if cfgPath != "" {
		next := cfgPath + ".dynamic.next"
		if _, err := os.Stat(next); err == nil {
			return fmt.Errorf("%w: %s exists: a ZooKeeper reconfiguration was not finished and zab has no dynamic reconfiguration to finish it; "+
				"finish it with ZooKeeper, or write the membership you want into %s and remove %s", ErrConfig, next, name, next)
		}
	}
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("%w: dynamicConfigFile: %v", ErrConfig, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		key, value := splitProperty(line)
		switch {
		case key == "version":
			return fmt.Errorf("%w: %s:%d: version: the dynamic file must not hold its version (ZooKeeper's rule); name the file <name>.dynamic.<hex version> instead", ErrConfig, name, lineNo)
		case strings.HasPrefix(key, "server."), strings.HasPrefix(key, "group."), strings.HasPrefix(key, "weight."):
			var none []string
			if err := setKey(c, key, value, &none); err != nil {
				return fmt.Errorf("%w: %s:%d: %v", ErrConfig, name, lineNo, err)
			}
		default:
			return fmt.Errorf("%w: %s:%d: %s: a dynamic config file holds only server.N lines", ErrConfig, name, lineNo, key)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("zab: read %s: %w", name, err)
	}
	c.ConfigVersion = 0
	// QuorumPeerConfig.getVersionFromFilename: the hex after the last dot.
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		if v, err := strconv.ParseInt(name[i+1:], 16, 64); err == nil {
			c.ConfigVersion = v
		}
	}
	return nil
}
