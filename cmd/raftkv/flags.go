package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"coordlab/engines/raftkv"
)

// options is everything the flags set: the member's Config plus the
// process's logging.
type options struct {
	member   raftkv.Config
	logger   *slog.Logger
	logLevel *slog.LevelVar
}

// flagValues holds the parsed flags; newFlagSet registers each of
// etcdFlags (names, defaults and units as etcd 3.4) plus raftkv's own
// --admin-listen-url.
type flagValues struct {
	name, dataDir, walDir                            string
	lcu, acu, lpu, apu, lmu, alu                     string
	ic, ics, ict                                     string
	hb, et                                           uint
	tickAdvance                                      bool
	maxSnapshots, maxWALs                            uint
	mrb, maxTxnOps                                   uint
	qbb                                              int64
	sc                                               uint64
	bbi                                              time.Duration
	maxStreams                                       uint64
	kaMin, kaInterval, kaTimeout                     time.Duration
	strictReconfig, preVote                          bool
	acRetention, acMode                              string
	certFile, keyFile, caFile                        string
	clientCertAuth, autoTLS                          bool
	peerCertFile, peerKeyFile, peerCAFile            string
	peerClientCertAuth, peerAutoTLS                  bool
	cipherSuites                                     string
	clientCRL, clientHost, peerCRL, peerCN, peerHost string
	pprof                                            bool
	logger, logOutputs, logOutput, level, pkgLvl     string
	debug                                            bool
	initialCorrupt                                   bool
	corruptTime                                      time.Duration
	freelist                                         string
	watchProgress                                    time.Duration
	forceNew                                         bool
	warnApply                                        time.Duration
	skipSAN                                          bool
	cors, hostWhitelist                              string
	batchLimit                                       int
	noFsync                                          bool
	leaseCP, leaseCPPersist                          bool
	gateway                                          bool
	configFile                                       string
	version                                          bool
	setAuth                                          func(*raftkv.Config) // authflags.go
}

func newFlagSet() (*flag.FlagSet, *flagValues) {
	fs := flag.NewFlagSet("raftkv", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	v := &flagValues{}
	fs.StringVar(&v.configFile, "config-file", "", "Path to the server configuration file (etcd's YAML keys). Other command line flags and environment variables are then ignored.")
	fs.BoolVar(&v.version, "version", false, "Print the version and exit.")
	v.setAuth = authFlags(fs)
	// member
	fs.StringVar(&v.name, "name", "default", "Human-readable name for this member.")
	fs.StringVar(&v.dataDir, "data-dir", "", "Path to the data directory (default ${name}.etcd).")
	fs.StringVar(&v.walDir, "wal-dir", "", "Path to the dedicated wal directory.")
	fs.Uint64Var(&v.sc, "snapshot-count", 100000, "Number of committed transactions to trigger a snapshot to disk.")
	fs.UintVar(&v.hb, "heartbeat-interval", 100, "Time (in milliseconds) of a heartbeat interval.")
	fs.UintVar(&v.et, "election-timeout", 1000, "Time (in milliseconds) for an election to timeout.")
	fs.BoolVar(&v.tickAdvance, "initial-election-tick-advance", true, "Whether to fast-forward initial election ticks on boot for faster election.")
	fs.StringVar(&v.lpu, "listen-peer-urls", "http://localhost:2380", "List of URLs to listen on for peer traffic.")
	fs.StringVar(&v.lcu, "listen-client-urls", "http://localhost:2379", "List of URLs to listen on for client traffic.")
	fs.UintVar(&v.maxSnapshots, "max-snapshots", 5, "Maximum number of snapshot files to retain (0 is unlimited).")
	fs.UintVar(&v.maxWALs, "max-wals", 5, "Maximum number of wal files to retain (0 is unlimited).")
	fs.Int64Var(&v.qbb, "quota-backend-bytes", 0, "Raise alarms when backend size exceeds the given quota (0 defaults to low space quota).")
	// etcd's default is 100ms; each store commit costs two fsyncs during which
	// nothing is applied, so raftkv commits less often (the raft WAL, fsynced
	// per batch, stays the source of durability; a restart replays at most
	// this much of it).
	fs.DurationVar(&v.bbi, "backend-batch-interval", time.Second, "Maximum time before committing the backend transaction (etcd's default is 100ms).")
	fs.IntVar(&v.batchLimit, "backend-batch-limit", 0, "BackendBatchLimit is the maximum operations before commit the backend transaction.")
	fs.UintVar(&v.maxTxnOps, "max-txn-ops", 128, "Maximum number of operations permitted in a transaction.")
	fs.UintVar(&v.mrb, "max-request-bytes", 1572864, "Maximum client request size in bytes the server will accept.")
	fs.Uint64Var(&v.maxStreams, "max-concurrent-streams", math.MaxUint32, "Maximum concurrent streams that each client can open at a time.")
	fs.DurationVar(&v.kaMin, "grpc-keepalive-min-time", 5*time.Second, "Minimum duration interval that a client should wait before pinging server.")
	fs.DurationVar(&v.kaInterval, "grpc-keepalive-interval", 2*time.Hour, "Frequency duration of server-to-client ping to check if a connection is alive (0 to disable).")
	fs.DurationVar(&v.kaTimeout, "grpc-keepalive-timeout", 20*time.Second, "Additional duration of wait before closing a non-responsive connection (0 to disable).")
	// clustering
	fs.StringVar(&v.apu, "initial-advertise-peer-urls", "http://localhost:2380", "List of this member's peer URLs to advertise to the rest of the cluster.")
	fs.StringVar(&v.ic, "initial-cluster", "", "Initial cluster configuration for bootstrapping (default ${name}=${initial-advertise-peer-urls}).")
	fs.StringVar(&v.ics, "initial-cluster-state", "new", "Initial cluster state ('new' or 'existing').")
	fs.StringVar(&v.ict, "initial-cluster-token", "etcd-cluster", "Initial cluster token for the etcd cluster during bootstrap.")
	fs.StringVar(&v.acu, "advertise-client-urls", "http://localhost:2379", "List of this member's client URLs to advertise to the public.")
	fs.String("discovery", "", "Discovery URL used to bootstrap the cluster (refused: not supported by raftkv).")
	fs.String("discovery-fallback", "proxy", "Expected behavior ('exit' or 'proxy') when discovery services fails (refused: discovery is not supported).")
	fs.String("discovery-proxy", "", "HTTP proxy to use for traffic to discovery service (refused).")
	fs.String("discovery-srv", "", "DNS srv domain used to bootstrap the cluster (refused).")
	fs.String("discovery-srv-name", "", "Suffix to the dns srv name queried when bootstrapping (refused).")
	fs.BoolVar(&v.strictReconfig, "strict-reconfig-check", true, "Reject reconfiguration requests that would cause quorum loss.")
	fs.BoolVar(&v.preVote, "pre-vote", false, "Enable to run an additional Raft election phase.")
	fs.StringVar(&v.acRetention, "auto-compaction-retention", "0", "Auto compaction retention length. 0 means disable auto compaction.")
	fs.StringVar(&v.acMode, "auto-compaction-mode", "periodic", "Interpret 'auto-compaction-retention' one of: periodic|revision.")
	fs.Bool("enable-v2", false, "Accept etcd V2 client requests (refused: raftkv serves the v3 API only).")
	// security
	fs.StringVar(&v.certFile, "cert-file", "", "Path to the client server TLS cert file.")
	fs.StringVar(&v.keyFile, "key-file", "", "Path to the client server TLS key file.")
	fs.BoolVar(&v.clientCertAuth, "client-cert-auth", false, "Enable client cert authentication.")
	fs.StringVar(&v.clientCRL, "client-crl-file", "", "Path to the client certificate revocation list file.")
	fs.StringVar(&v.clientHost, "client-cert-allowed-hostname", "", "Allowed TLS hostname for client cert authentication.")
	fs.StringVar(&v.caFile, "trusted-ca-file", "", "Path to the client server TLS trusted CA cert file.")
	fs.BoolVar(&v.autoTLS, "auto-tls", false, "Client TLS using generated certificates.")
	fs.StringVar(&v.peerCertFile, "peer-cert-file", "", "Path to the peer server TLS cert file.")
	fs.StringVar(&v.peerKeyFile, "peer-key-file", "", "Path to the peer server TLS key file.")
	fs.BoolVar(&v.peerClientCertAuth, "peer-client-cert-auth", false, "Enable peer client cert authentication.")
	fs.StringVar(&v.peerCAFile, "peer-trusted-ca-file", "", "Path to the peer server TLS trusted CA file.")
	fs.StringVar(&v.peerCN, "peer-cert-allowed-cn", "", "Required CN for client certs connecting to the peer endpoint.")
	fs.StringVar(&v.peerHost, "peer-cert-allowed-hostname", "", "Allowed TLS hostname for inter peer authentication.")
	fs.BoolVar(&v.peerAutoTLS, "peer-auto-tls", false, "Peer TLS using generated certificates.")
	fs.StringVar(&v.peerCRL, "peer-crl-file", "", "Path to the peer certificate revocation list file.")
	fs.StringVar(&v.cipherSuites, "cipher-suites", "", "Comma-separated list of supported TLS cipher suites between client/server and peers (empty will be auto-populated by Go).")
	fs.StringVar(&v.cors, "cors", "*", "Comma-separated whitelist of origins for CORS, or cross-origin resource sharing, (empty or * means allow all).")
	fs.StringVar(&v.hostWhitelist, "host-whitelist", "*", "Acceptable hostnames from HTTP client requests, if server is not secure (empty or * means allow all).")
	// profiling and monitoring
	fs.BoolVar(&v.pprof, "enable-pprof", false, "Enable runtime profiling data via HTTP server at /debug/pprof on the client and metrics URLs.")
	fs.String("metrics", "basic", "Set level of detail for exported metrics (only 'basic').")
	fs.StringVar(&v.lmu, "listen-metrics-urls", "", "List of URLs to listen on for the metrics and health endpoints.")
	// logging
	fs.StringVar(&v.logger, "logger", "capnslog", "Specify 'zap' for structured logging or 'capnslog'.")
	fs.StringVar(&v.logOutputs, "log-outputs", "default", "Where to log: 'default' (stderr), 'stderr', 'stdout', or file paths, comma-separated.")
	fs.StringVar(&v.logOutput, "log-output", "", "Deprecated spelling of --log-outputs.")
	fs.StringVar(&v.level, "log-level", "info", "Configures log level. Only supports debug, info, warn, error, panic, or fatal.")
	fs.BoolVar(&v.debug, "debug", false, "Enable debug-level logging (same as --log-level=debug).")
	fs.StringVar(&v.pkgLvl, "log-package-levels", "", "Specify a particular log level for each etcd package (eg: 'etcdmain=CRITICAL,etcdserver=DEBUG').")
	// v2 proxy
	fs.String("proxy", "off", "Proxy mode setting (refused unless 'off': the v2 proxy is not supported).")
	fs.Uint("proxy-failure-wait", 5000, "Time (in milliseconds) an endpoint will be held in a failed state (acts only with --proxy).")
	fs.Uint("proxy-refresh-interval", 30000, "Time (in milliseconds) of the endpoints refresh interval (acts only with --proxy).")
	fs.Uint("proxy-dial-timeout", 1000, "Time (in milliseconds) for a dial to timeout (acts only with --proxy).")
	fs.Uint("proxy-write-timeout", 5000, "Time (in milliseconds) for a write to timeout (acts only with --proxy).")
	fs.Uint("proxy-read-timeout", 0, "Time (in milliseconds) for a read to timeout (acts only with --proxy).")
	// experimental
	fs.BoolVar(&v.initialCorrupt, "experimental-initial-corrupt-check", false, "Enable to check data corruption before serving any client/peer traffic.")
	fs.DurationVar(&v.corruptTime, "experimental-corrupt-check-time", 0, "Duration of time between cluster corruption check passes.")
	fs.String("experimental-enable-v2v3", "", "Serve v2 requests through the v3 backend under a given prefix (refused).")
	fs.StringVar(&v.freelist, "experimental-backend-bbolt-freelist-type", "array", "The type of freelist that boltdb backend uses (array and map are supported types).")
	fs.BoolVar(&v.leaseCP, "experimental-enable-lease-checkpoint", false, "Enable leader to send regular checkpoints to other members to prevent reset of remaining TTL on leader change.")
	fs.BoolVar(&v.leaseCPPersist, "experimental-enable-lease-checkpoint-persist", false, "Enable persisting remainingTTL to prevent indefinite auto-renewal of long lived leases.")
	fs.Int("experimental-compaction-batch-limit", 1000, "The maximum revisions deleted in each compaction batch (refused unless 1000).")
	fs.BoolVar(&v.skipSAN, "experimental-peer-skip-client-san-verification", false, "Skip verification of SAN field in client certificate for peer connections.")
	fs.DurationVar(&v.watchProgress, "experimental-watch-progress-notify-interval", 10*time.Minute, "Duration of periodic watch progress notifications.")
	fs.DurationVar(&v.warnApply, "experimental-warning-apply-duration", 100*time.Millisecond, "Time duration after which a warning is generated if request takes more time.")
	fs.BoolVar(&v.gateway, "enable-grpc-gateway", true, "Enable GRPC gateway.")
	// unsafe
	fs.BoolVar(&v.noFsync, "unsafe-no-fsync", false, "Disables fsync, unsafe, will cause data loss.")
	fs.BoolVar(&v.forceNew, "force-new-cluster", false, "Force to create a new one-member cluster.")
	// raftkv's own
	fs.StringVar(&v.alu, "admin-listen-url", "", "URL to listen on for the lab's fault endpoint POST /admin/clock (lease clock skew), e.g. http://127.0.0.1:2382. Unauthenticated: keep it on loopback or a lab-only network. Off when empty; never served on the client, peer or metrics URLs.")
	for _, name := range ignoredEtcdFlags {
		fs.Var(&ignoredFlag{name: name}, name, "Ignored, as etcd 3.4 ignores it.")
	}
	return fs, v
}

// ignoredFlag is etcd's IgnoredFlag: accepted, with a warning, for old
// command lines.
type ignoredFlag struct {
	name string
	set  bool
}

func (f *ignoredFlag) IsBoolFlag() bool   { return true }
func (f *ignoredFlag) String() string     { return "" }
func (f *ignoredFlag) Set(s string) error { f.set = true; return nil }

// note is a log line decided while parsing, written once the logger exists.
type note struct {
	level slog.Level
	msg   string
	args  []any
}

// parseFlags reads etcd's command line and ETCD_* environment (or
// --config-file) the way etcd 3.4 does.
func parseFlags(args []string) (*options, error) {
	return parseFlagsEnv(args, os.Environ())
}

func parseFlagsEnv(args, environ []string) (*options, error) {
	fs, v := newFlagSet()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stdout)
			fs.PrintDefaults()
			os.Exit(0)
		}
		return nil, oneLine(err) // the flag package quotes nothing: "-\n" is a flag name
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%q is not a valid flag: every setting is a --flag", fs.Arg(0))
	}
	if v.version {
		fmt.Printf("raftkv Version: %s\netcd API Version: %s\nGo Version: %s\nGo OS/Arch: %s/%s\n",
			raftkv.Version, raftkv.ClusterVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		os.Exit(0)
	}
	env := map[string]string{}
	var envOrder []string
	for _, kv := range environ {
		k, val, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "ETCD_") {
			env[k] = val
			envOrder = append(envOrder, k)
		}
	}
	var notes []note
	if v.configFile == "" {
		v.configFile = env["ETCD_CONFIG_FILE"]
	}
	var set map[string]bool // flags given a value (command line, env or file)
	if v.configFile != "" {
		// etcd 3.4: the file alone configures the member.
		path := v.configFile
		fs, v = newFlagSet()
		var unknown []string
		var err error
		if set, unknown, err = loadConfigFile(fs, path); err != nil {
			return nil, err
		}
		v.configFile = path
		notes = append(notes, note{slog.LevelInfo, "loaded server configuration, other configuration command line flags and environment variables will be ignored if provided", []any{"path", path}})
		for _, k := range unknown {
			notes = append(notes, note{slog.LevelWarn, "ignored unknown key in the configuration file (etcd 3.4 ignores it too)", []any{"path", path, "key", k}})
		}
	} else {
		var err error
		if set, notes, err = setFromEnv(fs, env, envOrder); err != nil {
			return nil, err
		}
	}
	for _, name := range ignoredEtcdFlags {
		if set[name] {
			notes = append(notes, note{slog.LevelWarn, "flag is no longer supported", []any{"flag", "-" + name}})
		}
	}
	if err := checkRefused(fs); err != nil {
		return nil, err
	}
	return buildOptions(v, set, notes)
}

// checkRefused stops on any flag raftkv leaves out, set to ask for it.
func checkRefused(fs *flag.FlagSet) error {
	for _, f := range etcdFlags {
		if f.support != refused {
			continue
		}
		fl := fs.Lookup(f.name)
		if fl == nil {
			continue
		}
		val := fl.Value.String()
		if val == f.allowed || (f.allowed == "" && val == "") {
			continue
		}
		if d, err := time.ParseDuration(val); err == nil {
			if a, err := time.ParseDuration(f.allowed); err == nil && a == d {
				continue
			}
		}
		return fmt.Errorf("--%s=%s is not supported by raftkv: %s (remove the flag or set it to %q)", f.name, val, f.note, f.allowed)
	}
	return nil
}

// setFromEnv is etcd's pkg/flags.SetFlagsFromEnv: each flag not given on the
// command line takes ETCD_<FLAG> (upper case, dashes as underscores) when
// set; a variable for a flag that the command line also gives is an error;
// other ETCD_ variables draw a warning.
func setFromEnv(fs *flag.FlagSet, env map[string]string, order []string) (map[string]bool, []note, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var notes []note
	used := map[string]bool{}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		key := flagToEnv(f.Name)
		val := env[key]
		if set[f.Name] || val == "" || err != nil {
			return
		}
		used[key] = true
		if serr := fs.Set(f.Name, val); serr != nil {
			err = fmt.Errorf("invalid value %q for %s: %v", val, key, serr)
			return
		}
		notes = append(notes, note{slog.LevelInfo, "recognized and used environment variable", []any{"variable-name", key, "variable-value", val}})
	})
	if err != nil {
		return nil, nil, err
	}
	for _, k := range order {
		if used[k] || k == "ETCD_CONFIG_FILE" {
			continue
		}
		name := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(k, "ETCD_"), "_", "-"))
		if set[name] {
			return nil, nil, fmt.Errorf("conflicting environment variable %q is shadowed by corresponding command-line flag (either unset environment variable or disable flag)", k)
		}
		notes = append(notes, note{slog.LevelWarn, "unrecognized environment variable", []any{"environment-variable", k + "=" + env[k]}})
	}
	for _, k := range order {
		if used[k] {
			name := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(k, "ETCD_"), "_", "-"))
			set[name] = true
		}
	}
	return set, notes, nil
}

func flagToEnv(name string) string {
	return "ETCD_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// parseRetention is etcd 3.4's parseCompactionRetention: a plain integer is
// hours (periodic) or revisions (revision); anything else is a duration.
func parseRetention(mode, s string) (time.Duration, int64, error) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		if mode == "revision" {
			return 0, int64(n), nil
		}
		return time.Duration(n) * time.Hour, 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, 0, fmt.Errorf("--auto-compaction-retention: error parsing CompactionRetention %q: want hours, a duration like 30m, or (mode revision) a count", s)
	}
	if mode == "revision" {
		return 0, int64(d), nil // etcd takes the duration's nanoseconds as the count
	}
	return d, 0, nil
}

func buildOptions(v *flagValues, set map[string]bool, notes []note) (*options, error) {
	o := &options{}
	var lv slog.LevelVar
	l, ok := parseLevel(v.level)
	if !ok || strings.EqualFold(v.level, "notice") || strings.EqualFold(v.level, "trace") {
		return nil, fmt.Errorf("--log-level: want debug, info, warn, error, panic or fatal, got %q", v.level)
	}
	if v.debug {
		l = slog.LevelDebug
	}
	lv.Set(l)
	o.logLevel = &lv
	outputs := v.logOutputs
	if v.logOutput != "" && !set["log-outputs"] {
		outputs = v.logOutput
	}
	w, err := logWriter(outputs)
	if err != nil {
		return nil, err
	}
	pkgLvls, err := parsePackageLevels(v.pkgLvl)
	if err != nil {
		return nil, err
	}
	switch v.logger {
	case "zap":
		o.logger = slog.New(newLogHandler(w, true, &lv, nil))
	case "capnslog", "":
		o.logger = slog.New(newLogHandler(w, false, &lv, pkgLvls))
	default:
		return nil, fmt.Errorf("--logger: want zap or capnslog, got %q", v.logger)
	}
	for _, n := range notes {
		o.logger.Log(context.Background(), n.level, n.msg, n.args...)
	}

	c := raftkv.DefaultConfig()
	c.Name = v.name
	c.DataDir = v.dataDir
	if c.DataDir == "" {
		c.DataDir = v.name + ".etcd"
	}
	c.WALDir = v.walDir
	if c.ListenPeerURLs, err = urlList("--listen-peer-urls", v.lpu); err != nil {
		return nil, err
	}
	if c.PeerURLs, err = urlList("--initial-advertise-peer-urls", v.apu); err != nil {
		return nil, err
	}
	if c.ListenClientURLs, err = urlList("--listen-client-urls", v.lcu); err != nil {
		return nil, err
	}
	if v.configFile == "" && set["listen-client-urls"] && !set["advertise-client-urls"] {
		return nil, errors.New("--advertise-client-urls is required when --listen-client-urls is set explicitly")
	}
	if c.ClientURLs, err = urlList("--advertise-client-urls", v.acu); err != nil {
		return nil, err
	}
	if v.lmu != "" {
		if c.ListenMetricsURLs, err = urlList("--listen-metrics-urls", v.lmu); err != nil {
			return nil, err
		}
	}
	c.EnablePprof = v.pprof
	c.ClientTLS = raftkv.TLSInfo{CertFile: v.certFile, KeyFile: v.keyFile, TrustedCAFile: v.caFile,
		ClientCertAuth: v.clientCertAuth, AutoTLS: v.autoTLS, CRLFile: v.clientCRL, AllowedHostname: v.clientHost}
	c.PeerTLS = raftkv.TLSInfo{CertFile: v.peerCertFile, KeyFile: v.peerKeyFile, TrustedCAFile: v.peerCAFile,
		ClientCertAuth: v.peerClientCertAuth, AutoTLS: v.peerAutoTLS, CRLFile: v.peerCRL, AllowedCN: v.peerCN, AllowedHostname: v.peerHost,
		SkipClientSANVerify: v.skipSAN}
	for _, o := range splitList(v.cors) {
		if o == "*" {
			c.CORS = append(c.CORS, o)
			continue
		}
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("--cors: %q is not an origin URL like https://example.com, or *", o)
		}
		c.CORS = append(c.CORS, o)
	}
	c.HostWhitelist = splitList(v.hostWhitelist)
	if c.CipherSuites, err = cipherSuites(v.cipherSuites); err != nil {
		return nil, err
	}
	if v.alu != "" {
		us, err := urlList("--admin-listen-url", v.alu)
		if err != nil {
			return nil, err
		}
		if len(us) != 1 {
			return nil, fmt.Errorf("--admin-listen-url: want one URL, got %d", len(us))
		}
		c.AdminListenURL = us[0]
	}
	icStr := v.ic
	if icStr == "" {
		var parts []string
		for _, u := range c.PeerURLs {
			parts = append(parts, v.name+"="+u)
		}
		icStr = strings.Join(parts, ",")
	}
	if c.InitialCluster, err = parseInitialCluster(icStr); err != nil {
		return nil, err
	}
	if c.ClusterState, err = raftkv.ParseClusterState(v.ics); err != nil {
		return nil, err
	}
	c.ClusterToken = v.ict
	if v.hb == 0 {
		return nil, fmt.Errorf("--heartbeat-interval must be >0 (set to %dms)", v.hb)
	}
	if v.et < 5*v.hb {
		return nil, fmt.Errorf("--election-timeout[%vms] should be at least as 5 times as --heartbeat-interval[%vms]", v.et, v.hb)
	}
	if v.et > 50000 {
		return nil, fmt.Errorf("--election-timeout[%vms] is too long, and should be set less than 50000ms", v.et)
	}
	c.TickInterval = time.Duration(v.hb) * time.Millisecond
	c.ElectionTicks = int(v.et / v.hb)
	c.InitialElectionTickAdvance = v.tickAdvance
	c.SnapshotCount = v.sc
	c.QuotaBackendBytes = v.qbb
	if v.mrb > math.MaxInt32 {
		return nil, fmt.Errorf("--max-request-bytes: %d is more than %d", v.mrb, math.MaxInt32)
	}
	c.MaxRequestBytes = int(v.mrb)
	if v.maxTxnOps == 0 || v.maxTxnOps > math.MaxInt32 {
		return nil, fmt.Errorf("--max-txn-ops: want 1..%d, got %d", math.MaxInt32, v.maxTxnOps)
	}
	c.MaxTxnOps = int(v.maxTxnOps)
	if v.maxStreams == 0 || v.maxStreams > math.MaxUint32 {
		return nil, fmt.Errorf("--max-concurrent-streams: want 1..%d, got %d", uint64(math.MaxUint32), v.maxStreams)
	}
	c.MaxConcurrentStreams = uint32(v.maxStreams)
	if v.kaMin < 0 || v.kaInterval < 0 || v.kaTimeout < 0 {
		return nil, errors.New("--grpc-keepalive-min-time, --grpc-keepalive-interval, --grpc-keepalive-timeout: want >= 0")
	}
	c.GRPCKeepaliveMinTime, c.GRPCKeepaliveInterval, c.GRPCKeepaliveTimeout = v.kaMin, v.kaInterval, v.kaTimeout
	if v.maxWALs > math.MaxInt32 {
		return nil, fmt.Errorf("--max-wals: %d is too many", v.maxWALs)
	}
	c.MaxWALs = int(v.maxWALs)
	c.StrictReconfigCheck = v.strictReconfig
	c.PreVote = v.preVote
	switch v.acMode {
	case "periodic", "revision":
	default:
		return nil, fmt.Errorf("--auto-compaction-mode: unknown auto-compaction-mode %q (want periodic or revision)", v.acMode)
	}
	c.AutoCompactionMode = v.acMode
	if c.AutoCompactionRetention, c.AutoCompactionRevisions, err = parseRetention(v.acMode, v.acRetention); err != nil {
		return nil, err
	}
	c.BoltFreelistType = v.freelist
	if v.watchProgress <= 0 {
		return nil, fmt.Errorf("--experimental-watch-progress-notify-interval: want > 0, got %v", v.watchProgress)
	}
	c.WatchProgressNotifyInterval = v.watchProgress
	c.InitialCorruptCheck = v.initialCorrupt
	c.CorruptCheckTime = v.corruptTime
	c.ForceNewCluster = v.forceNew
	if v.warnApply <= 0 {
		return nil, fmt.Errorf("--experimental-warning-apply-duration: want > 0, got %v", v.warnApply)
	}
	c.WarningApplyDuration = v.warnApply
	if v.bbi < 0 {
		return nil, fmt.Errorf("--backend-batch-interval: want >= 0, got %v", v.bbi)
	}
	c.BatchInterval = v.bbi
	if v.batchLimit < 0 {
		return nil, fmt.Errorf("--backend-batch-limit: want >= 0, got %d", v.batchLimit)
	}
	c.BatchLimit = v.batchLimit
	c.UnsafeNoFsync = v.noFsync
	if v.leaseCPPersist && !v.leaseCP {
		return nil, errors.New("setting experimental-enable-lease-checkpoint-persist requires experimental-enable-lease-checkpoint")
	}
	if v.leaseCP && !v.leaseCPPersist {
		o.logger.Warn("Detected that checkpointing is enabled without persistence. Consider enabling experimental-enable-lease-checkpoint-persist " +
			"(raftkv keeps the checkpointed remaining TTL in its store either way, so it also survives a restart)")
	}
	c.LeaseCheckpoint = v.leaseCP
	c.EnableGRPCGateway = v.gateway
	v.setAuth(&c)
	c.Logger = o.logger
	o.member = c
	if err := c.Validate(); err != nil {
		return nil, oneLine(err)
	}
	return o, nil
}

// cipherSuites reads --cipher-suites: Go's names (as etcd's), comma-separated.
func cipherSuites(s string) ([]uint16, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	known := map[string]uint16{}
	for _, cs := range slices.Concat(tls.CipherSuites(), tls.InsecureCipherSuites()) {
		known[cs.Name] = cs.ID
	}
	var out []uint16
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		id, ok := known[n]
		if !ok {
			return nil, fmt.Errorf("--cipher-suites: unexpected TLS cipher suite %q (want Go's names, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)", n)
		}
		out = append(out, id)
	}
	return out, nil
}

// oneLine joins errors.Join's lines so a bad start prints one line.
func oneLine(err error) error {
	return errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
}

func urlList(flagName, s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		u, err := url.Parse(p)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("%s: %q is not a URL like http://127.0.0.1:2379", flagName, p)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: need at least one URL", flagName)
	}
	return out, nil
}

// parseInitialCluster reads "n1=http://a:2380,n2=http://b:2380" (a name may
// repeat to give several URLs).
func parseInitialCluster(s string) ([]raftkv.InitialMember, error) {
	var out []raftkv.InitialMember
	idx := map[string]int{}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		name, u, ok := strings.Cut(p, "=")
		if !ok || name == "" || u == "" {
			return nil, fmt.Errorf("--initial-cluster: %q is not name=url", p)
		}
		if _, err := urlList("--initial-cluster", u); err != nil {
			return nil, err
		}
		if i, ok := idx[name]; ok {
			out[i].PeerURLs = append(out[i].PeerURLs, u)
			continue
		}
		idx[name] = len(out)
		out = append(out, raftkv.InitialMember{Name: name, PeerURLs: []string{u}})
	}
	if len(out) == 0 {
		return nil, errors.New("--initial-cluster: empty")
	}
	return out, nil
}

func logWriter(outputs string) (io.Writer, error) {
	var ws []io.Writer
	for _, o := range strings.Split(outputs, ",") {
		switch o = strings.TrimSpace(o); o {
		case "", "default", "stderr":
			ws = append(ws, os.Stderr)
		case "stdout":
			ws = append(ws, os.Stdout)
		default:
			f, err := os.OpenFile(o, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
			if err != nil {
				return nil, fmt.Errorf("--log-outputs: %v", err)
			}
			ws = append(ws, f)
		}
	}
	if len(ws) == 1 {
		return ws[0], nil
	}
	return io.MultiWriter(ws...), nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
