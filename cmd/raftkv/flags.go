package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
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

// parseFlags reads etcd's flags (names, defaults and units as etcd 3.4).
func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("raftkv", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "default", "Human-readable name for this member.")
	dataDir := fs.String("data-dir", "", "Path to the data directory (default ${name}.etcd).")
	lcu := fs.String("listen-client-urls", "http://localhost:2379", "List of URLs to listen on for client traffic.")
	acu := fs.String("advertise-client-urls", "http://localhost:2379", "List of this member's client URLs to advertise to the public.")
	lpu := fs.String("listen-peer-urls", "http://localhost:2380", "List of URLs to listen on for peer traffic.")
	apu := fs.String("initial-advertise-peer-urls", "http://localhost:2380", "List of this member's peer URLs to advertise to the rest of the cluster.")
	ic := fs.String("initial-cluster", "", "Initial cluster configuration for bootstrapping (default ${name}=${initial-advertise-peer-urls}).")
	ics := fs.String("initial-cluster-state", "new", "Initial cluster state ('new' or 'existing').")
	ict := fs.String("initial-cluster-token", "etcd-cluster", "Initial cluster token for the etcd cluster during bootstrap.")
	hb := fs.Uint("heartbeat-interval", 100, "Time (in milliseconds) of a heartbeat interval.")
	et := fs.Uint("election-timeout", 1000, "Time (in milliseconds) for an election to timeout.")
	lmu := fs.String("listen-metrics-urls", "", "List of URLs to listen on for the metrics and health endpoints.")
	alu := fs.String("admin-listen-url", "", "URL to listen on for the lab's fault endpoint POST /admin/clock (lease clock skew), e.g. http://127.0.0.1:2382. Unauthenticated: keep it on loopback or a lab-only network. Off when empty; never served on the client, peer or metrics URLs.")
	mrb := fs.Uint("max-request-bytes", 1572864, "Maximum client request size in bytes the server will accept.")
	qbb := fs.Int64("quota-backend-bytes", 0, "Raise alarms when backend size exceeds the given quota (0 defaults to low space quota).")
	sc := fs.Uint64("snapshot-count", 100000, "Number of committed transactions to trigger a snapshot to disk.")
	logger := fs.String("logger", "zap", "Logger: 'zap' (structured; raftkv logs with log/slog JSON) or 'capnslog' (text).")
	level := fs.String("log-level", "info", "Log level: debug, info, warn, error.")
	// etcd's default is 100ms; each store commit costs two fsyncs during which
	// nothing is applied, so raftkv commits less often (the raft WAL, fsynced
	// per batch, stays the source of durability; a restart replays at most
	// this much of it).
	bbi := fs.Duration("backend-batch-interval", time.Second, "Maximum time before committing the backend transaction (etcd's batch interval; etcd's default is 100ms).")
	pprofOn := fs.Bool("enable-pprof", false, "Enable runtime profiling data via HTTP server at /debug/pprof on the client and metrics URLs.")
	certFile := fs.String("cert-file", "", "Path to the client server TLS cert file.")
	keyFile := fs.String("key-file", "", "Path to the client server TLS key file.")
	caFile := fs.String("trusted-ca-file", "", "Path to the client server TLS trusted CA cert file.")
	clientCertAuth := fs.Bool("client-cert-auth", false, "Enable client cert authentication.")
	autoTLS := fs.Bool("auto-tls", false, "Client TLS using generated certificates.")
	peerCertFile := fs.String("peer-cert-file", "", "Path to the peer server TLS cert file.")
	peerKeyFile := fs.String("peer-key-file", "", "Path to the peer server TLS key file.")
	peerCAFile := fs.String("peer-trusted-ca-file", "", "Path to the peer server TLS trusted CA file.")
	peerClientCertAuth := fs.Bool("peer-client-cert-auth", false, "Enable peer client cert authentication.")
	peerAutoTLS := fs.Bool("peer-auto-tls", false, "Peer TLS using generated certificates.")
	setAuth := authFlags(fs)
	setLimits := limitFlags(fs)
	outputs := fs.String("log-outputs", "default", "Where to log: 'default' (stderr), 'stderr', 'stdout', or file paths, comma-separated.")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stdout)
			fs.PrintDefaults()
			os.Exit(0)
		}
		return nil, oneLine(err) // the flag package quotes nothing: "-\n" is a flag name
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: every setting is a --flag", fs.Arg(0))
	}
	o := &options{}
	var lv slog.LevelVar
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return nil, fmt.Errorf("--log-level: want debug, info, warn or error, got %q", *level)
	}
	o.logLevel = &lv
	w, err := logWriter(*outputs)
	if err != nil {
		return nil, err
	}
	switch *logger {
	case "zap", "":
		o.logger = slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: &lv}))
	case "capnslog":
		o.logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: &lv}))
	default:
		return nil, fmt.Errorf("--logger: want zap or capnslog, got %q", *logger)
	}

	c := raftkv.DefaultConfig()
	c.Name = *name
	c.DataDir = *dataDir
	if c.DataDir == "" {
		c.DataDir = *name + ".etcd"
	}
	if c.ListenPeerURLs, err = urlList("--listen-peer-urls", *lpu); err != nil {
		return nil, err
	}
	if c.PeerURLs, err = urlList("--initial-advertise-peer-urls", *apu); err != nil {
		return nil, err
	}
	if c.ClientURLs, err = urlList("--advertise-client-urls", *acu); err != nil {
		return nil, err
	}
	if c.ListenClientURLs, err = urlList("--listen-client-urls", *lcu); err != nil {
		return nil, err
	}
	if *lmu != "" {
		if c.ListenMetricsURLs, err = urlList("--listen-metrics-urls", *lmu); err != nil {
			return nil, err
		}
	}
	c.EnablePprof = *pprofOn
	c.ClientTLS = raftkv.TLSInfo{CertFile: *certFile, KeyFile: *keyFile, TrustedCAFile: *caFile,
		ClientCertAuth: *clientCertAuth, AutoTLS: *autoTLS}
	c.PeerTLS = raftkv.TLSInfo{CertFile: *peerCertFile, KeyFile: *peerKeyFile, TrustedCAFile: *peerCAFile,
		ClientCertAuth: *peerClientCertAuth, AutoTLS: *peerAutoTLS}
	if *alu != "" {
		us, err := urlList("--admin-listen-url", *alu)
		if err != nil {
			return nil, err
		}
		if len(us) != 1 {
			return nil, fmt.Errorf("--admin-listen-url: want one URL, got %d", len(us))
		}
		c.AdminListenURL = us[0]
	}
	icStr := *ic
	if icStr == "" {
		var parts []string
		for _, u := range c.PeerURLs {
			parts = append(parts, *name+"="+u)
		}
		icStr = strings.Join(parts, ",")
	}
	if c.InitialCluster, err = parseInitialCluster(icStr); err != nil {
		return nil, err
	}
	if c.ClusterState, err = raftkv.ParseClusterState(*ics); err != nil {
		return nil, err
	}
	c.ClusterToken = *ict
	if *hb == 0 {
		return nil, errors.New("--heartbeat-interval: want > 0 ms")
	}
	if *et < 5**hb {
		return nil, fmt.Errorf("--election-timeout (%d ms) must be at least 5 times --heartbeat-interval (%d ms)", *et, *hb)
	}
	if *et > 50000 {
		return nil, fmt.Errorf("--election-timeout: %d ms is longer than 50000 ms", *et)
	}
	c.TickInterval = time.Duration(*hb) * time.Millisecond
	c.ElectionTicks = int(*et / *hb)
	c.SnapshotCount = *sc
	c.QuotaBackendBytes = *qbb
	c.MaxRequestBytes = int(*mrb)
	if *bbi < 0 {
		return nil, fmt.Errorf("--backend-batch-interval: want >= 0, got %v", *bbi)
	}
	c.BatchInterval = *bbi
	setAuth(&c)
	if err := setLimits(&c); err != nil {
		return nil, err
	}
	c.Logger = o.logger
	o.member = c
	if err := c.Validate(); err != nil {
		return nil, oneLine(err)
	}
	return o, nil
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
