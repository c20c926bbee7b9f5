package raftkv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"coordlab/engines/raftkv/v3rpc"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// Member is a Server with what a raftkv process serves around it: etcd's v3
// gRPC API and HTTP endpoints on the client URLs, the HTTP endpoints on the
// metrics URLs, and the lab's fault endpoint on the admin URL. cmd/raftkv is
// flags -> Config -> Run; tests and benchmarks start members in-process the
// same way (NewMember, then Serve in a goroutine).
type Member struct {
	cfg        Config
	s          *Server
	clientLns  []net.Listener
	metricsLns []net.Listener
	// clientTLS[i] and metricsTLS[i]: serve that listener over TLS.
	clientTLS  []bool
	metricsTLS []bool
	adminLns   []net.Listener
}

// Run starts the member described by cfg and serves it until ctx ends (then
// it stops cleanly and returns nil), the member is removed from the cluster
// (nil), or its raft loop fails (the error). A member fenced by a WAL it
// cannot write (ErrWALFailed) keeps serving reads until ctx ends, and Run then
// returns that error.
func Run(ctx context.Context, cfg Config) error {
	m, err := NewMember(cfg)
	if err != nil {
		return err
	}
	return m.Serve(ctx)
}

// NewMember listens on cfg's client, metrics and admin URLs, opens the
// member's data dir and starts its raft loop; Serve serves the listeners.
func NewMember(cfg Config) (*Member, error) {
	if len(cfg.ListenClientURLs) == 0 && len(cfg.ClientListeners) == 0 {
		return nil, errors.New("--listen-client-urls: need at least one URL")
	}
	m := &Member{cfg: cfg}
	var err error
	if m.clientLns, err = listenAll("--listen-client-urls", cfg.ListenClientURLs, cfg.ClientListeners); err != nil {
		return nil, err
	}
	if m.metricsLns, err = listenAll("--listen-metrics-urls", cfg.ListenMetricsURLs, nil); err != nil {
		m.closeListeners()
		return nil, err
	}
	for range cfg.ClientListeners {
		m.clientTLS = append(m.clientTLS, !cfg.ClientTLS.Empty())
	}
	for _, u := range cfg.ListenClientURLs {
		m.clientTLS = append(m.clientTLS, isHTTPS(u))
	}
	for _, u := range cfg.ListenMetricsURLs {
		m.metricsTLS = append(m.metricsTLS, isHTTPS(u))
	}
	if cfg.AdminListenURL != "" {
		if m.adminLns, err = listenAll("--admin-listen-url", []string{cfg.AdminListenURL}, nil); err != nil {
			m.closeListeners()
			return nil, err
		}
	}
	if m.s, err = New(cfg); err != nil {
		m.closeListeners()
		return nil, err
	}
	if err := m.s.Start(); err != nil {
		m.closeListeners()
		return nil, err
	}
	return m, nil
}

// Server is the member's raft server.
func (m *Member) Server() *Server { return m.s }

// ClientAddrs are the addresses the client listeners are bound to (useful
// with port 0).
func (m *Member) ClientAddrs() []string {
	var out []string
	for _, ln := range m.clientLns {
		out = append(out, ln.Addr().String())
	}
	return out
}

func (m *Member) closeListeners() {
	for _, lns := range [][]net.Listener{m.clientLns, m.metricsLns, m.adminLns} {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}
}

// Serve serves the member's listeners until ctx ends or the member stops
// (see Run), then stops the gRPC and HTTP servers and the member and
// returns once every goroutine it started has exited.
func (m *Member) Serve(ctx context.Context) error {
	s, log := m.s, m.s.log
	c := m.cfg
	opts := append(v3rpc.ServerOptions(s), grpcServerOptions(c)...)
	gs := grpc.NewServer(opts...)
	rc := v3rpc.DefaultConfig()
	if c.MaxTxnOps > 0 {
		rc.MaxTxnOps = c.MaxTxnOps
	}
	if c.WatchProgressNotifyInterval > 0 {
		rc.ProgressNotifyInterval = c.WatchProgressNotifyInterval
	}
	v3rpc.RegisterWithConfig(gs, s, rc)
	var h http.Handler = s.HTTPHandler()
	if m.cfg.EnablePprof {
		mux := http.NewServeMux()
		mux.Handle("/", h)
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		h = mux
	}
	var wg sync.WaitGroup
	var httpSrvs []*http.Server
	serveHTTP := func(ln net.Listener, h http.Handler) {
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
		httpSrvs = append(httpSrvs, hs)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = hs.Serve(ln)
		}()
	}
	serveTLS := func(ln net.Listener, h http.Handler) {
		// One HTTP server for both, as etcd serves its secure client URLs:
		// HTTP/2 requests with a gRPC content type go to the gRPC server,
		// the rest (HTTP/1.1 or 2) to h. ALPN offers h2 and http/1.1.
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
			TLSConfig: s.clientTLS.server.Clone(),
			ErrorLog:  slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
		httpSrvs = append(httpSrvs, hs)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = hs.ServeTLS(ln, "", "")
		}()
	}
	metricsH := h
	var gwy *gateway
	if m.cfg.EnableGRPCGateway {
		gctx, gcancel := context.WithCancel(context.Background())
		defer gcancel()
		var err error
		if gwy, err = newGateway(gctx, gs); err != nil {
			s.Stop()
			m.closeListeners()
			return fmt.Errorf("grpc gateway: %w", err)
		}
		h = gwy.handler(h)
	}
	h = accessController(m.cfg, log, h)
	grpcOrHTTP := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			gs.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
	var sniffers []*sniffer
	for i, ln := range m.clientLns {
		if m.clientTLS[i] {
			serveTLS(ln, grpcOrHTTP)
			continue
		}
		sn := newSniffer(ln)
		sniffers = append(sniffers, sn)
		wg.Add(2)
		go func() {
			defer wg.Done()
			_ = gs.Serve(sn.grpc)
		}()
		go func() {
			defer wg.Done()
			sn.run()
		}()
		serveHTTP(sn.http, h)
	}
	for i, ln := range m.metricsLns {
		if m.metricsTLS[i] {
			serveTLS(ln, metricsH)
			continue
		}
		serveHTTP(ln, metricsH)
	}
	// The fault endpoint gets a listener and a handler of its own: nothing
	// on the client or metrics URLs can reach it.
	for _, ln := range m.adminLns {
		serveHTTP(ln, s.AdminHandler())
	}
	readyDone := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-s.Ready():
		case <-readyDone:
			return
		}
		// etcd logs these once the member has published itself (ReadyNotify).
		log.Info("ready to serve client requests")
		for i, ln := range m.clientLns {
			if m.clientTLS[i] {
				log.Info("serving client traffic securely", "address", ln.Addr().String())
			} else {
				log.Info("serving client traffic insecurely; this is strongly discouraged!", "address", ln.Addr().String())
			}
		}
	}()
	if m.cfg.AdminListenURL != "" {
		log.Warn("serving the unauthenticated fault endpoint /admin/clock", "admin_listen_url", m.cfg.AdminListenURL)
	}

	var exitErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "cause", context.Cause(ctx))
	case <-s.Done():
		exitErr = s.Err()
		if errors.Is(exitErr, ErrRemoved) {
			log.Warn("this member was removed from the cluster; exiting")
			exitErr = nil
		}
		if errors.Is(exitErr, ErrWALFailed) {
			// Fenced, not dead: keep answering reads (and refusing writes)
			// until the operator restarts it after freeing space.
			<-ctx.Done()
			log.Info("shutting down", "cause", context.Cause(ctx))
		}
	}
	close(readyDone)
	if gwy != nil {
		_ = gwy.close()
	}
	gs.Stop()
	for _, hs := range httpSrvs {
		_ = hs.Close()
	}
	for _, sn := range sniffers {
		sn.close()
	}
	for _, ln := range m.metricsLns {
		_ = ln.Close()
	}
	for _, ln := range m.adminLns {
		_ = ln.Close()
	}
	s.Stop()
	wg.Wait()
	return exitErr
}

// listenAll listens on every URL (and adds the given listeners).
func listenAll(flagName string, urls []string, given []net.Listener) ([]net.Listener, error) {
	lns := append([]net.Listener(nil), given...)
	closeAll := func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}
	for _, u := range urls {
		pu, err := url.Parse(u)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("%s: %v", flagName, err)
		}
		ln, err := net.Listen("tcp", pu.Host)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("%s %s: %v", flagName, u, err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// grpcServerOptions are etcd's keepalive settings and stream limit for the
// client port (--grpc-keepalive-min-time, --grpc-keepalive-interval,
// --grpc-keepalive-timeout, --max-concurrent-streams), as etcd's v3rpc.Server
// sets them: a client pinging more often than the min time is sent GOAWAY
// (too_many_pings), and pings without an active stream count as too many.
func grpcServerOptions(c Config) []grpc.ServerOption {
	streams := c.MaxConcurrentStreams
	if streams == 0 {
		streams = math.MaxUint32
	}
	opts := []grpc.ServerOption{grpc.MaxConcurrentStreams(streams)}
	if c.GRPCKeepaliveMinTime > 0 {
		opts = append(opts, grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: c.GRPCKeepaliveMinTime, PermitWithoutStream: false}))
	}
	if c.GRPCKeepaliveInterval > 0 && c.GRPCKeepaliveTimeout > 0 {
		opts = append(opts, grpc.KeepaliveParams(keepalive.ServerParameters{Time: c.GRPCKeepaliveInterval, Timeout: c.GRPCKeepaliveTimeout}))
	}
	return opts
}

// accessController is etcd 3.4's for the client URLs' HTTP endpoints:
// over plain HTTP a Host not in --host-whitelist is refused with 421 and
// etcd's DNS-rebinding message; CORS headers go to every response when
// --cors allows "*" (the default), else to an allowed Origin; OPTIONS is
// answered 200 at once.
func accessController(c Config, log *slog.Logger, next http.Handler) http.Handler {
	allowAll := func(list []string) bool { return len(list) == 0 || slices.Contains(list, "*") }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil && !allowAll(c.HostWhitelist) {
			host := r.Host
			if h, _, err := net.SplitHostPort(r.Host); err == nil {
				host = h
			}
			if !slices.Contains(c.HostWhitelist, host) {
				log.Warn("rejecting HTTP request to prevent DNS rebinding attacks", "host", host)
				http.Error(w, fmt.Sprintf(`
etcd received your request, but the Host header was unrecognized.

To fix this, choose one of the following options:
- Enable TLS, then any HTTPS request will be allowed.
- Add the hostname you want to use to the whitelist in settings.
  - e.g. etcd --host-whitelist %q

This requirement has been added to help prevent "DNS Rebinding" attacks (CVE-2018-5702).
`, host), http.StatusMisdirectedRequest)
				return
			}
		}
		origin := ""
		if allowAll(c.CORS) {
			origin = "*"
		} else if o := r.Header.Get("Origin"); o != "" && slices.Contains(c.CORS, o) {
			origin = o
		}
		if origin != "" {
			w.Header().Add("Access-Control-Allow-Methods", "POST, GET, OPTIONS, PUT, DELETE")
			w.Header().Add("Access-Control-Allow-Origin", origin)
			w.Header().Add("Access-Control-Allow-Headers", "accept, content-type, authorization")
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusOK)
			return
		}
		next.ServeHTTP(w, r)
	})
}
