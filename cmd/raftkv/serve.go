package main

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"coordlab/engines/raftkv"
	"coordlab/engines/raftkv/v3rpc"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

func run(args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	log := o.logger
	if os.Getenv("GOGC") == "" {
		// The heap is small next to the machine; trade a little memory for
		// less GC work per request.
		debug.SetGCPercent(200)
	}
	clientLns, err := listenAll("--listen-client-urls", o.listenClientURLs)
	if err != nil {
		return err
	}
	metricsLns, err := listenAll("--listen-metrics-urls", o.listenMetricsURLs)
	if err != nil {
		closeAll(clientLns)
		return err
	}
	var adminLns []net.Listener
	if o.adminListenURL != "" {
		if adminLns, err = listenAll("--admin-listen-url", []string{o.adminListenURL}); err != nil {
			closeAll(clientLns)
			closeAll(metricsLns)
			return err
		}
	}
	closeLns := func() {
		closeAll(clientLns)
		closeAll(metricsLns)
		closeAll(adminLns)
	}
	s, err := raftkv.New(o.member)
	if err != nil {
		closeLns()
		return oneLine(err)
	}
	if err := s.Start(); err != nil {
		closeLns()
		return oneLine(err)
	}
	opts := append(v3rpc.ServerOptions(s),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: false}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 2 * time.Hour, Timeout: 20 * time.Second}),
	)
	gs := grpc.NewServer(opts...)
	v3rpc.Register(gs, s)
	var h http.Handler = s.HTTPHandler()
	if o.enablePprof {
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
	var sniffers []*sniffer
	for _, ln := range clientLns {
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
	for _, ln := range metricsLns {
		serveHTTP(ln, h)
	}
	// The fault endpoint gets a listener and a handler of its own: nothing
	// on the client or metrics URLs can reach it.
	for _, ln := range adminLns {
		serveHTTP(ln, s.AdminHandler())
	}
	log.Info("serving client requests", "listen_client_urls", o.listenClientURLs, "listen_metrics_urls", o.listenMetricsURLs)
	if o.adminListenURL != "" {
		log.Warn("serving the unauthenticated fault endpoint /admin/clock", "admin_listen_url", o.adminListenURL)
	}

	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	var exitErr error
	select {
	case sig := <-sigc:
		log.Info("received signal; shutting down", "signal", sig.String())
	case <-s.Done():
		exitErr = s.Err()
		if errors.Is(exitErr, raftkv.ErrRemoved) {
			log.Warn("this member was removed from the cluster; exiting")
			exitErr = nil
		}
		if errors.Is(exitErr, raftkv.ErrWALFailed) {
			// Fenced, not dead: keep answering reads (and refusing writes)
			// until the operator restarts it after freeing space.
			sig := <-sigc
			log.Info("received signal; shutting down", "signal", sig.String())
		}
	}
	gs.Stop()
	for _, hs := range httpSrvs {
		_ = hs.Close()
	}
	for _, sn := range sniffers {
		sn.close()
	}
	s.Stop()
	wg.Wait()
	return exitErr
}

func listenAll(flagName string, urls []string) ([]net.Listener, error) {
	var lns []net.Listener
	for _, u := range urls {
		pu, err := url.Parse(u)
		if err != nil {
			closeAll(lns)
			return nil, fmt.Errorf("%s: %v", flagName, err)
		}
		ln, err := net.Listen("tcp", pu.Host)
		if err != nil {
			closeAll(lns)
			return nil, fmt.Errorf("%s %s: %v", flagName, u, err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		_ = ln.Close()
	}
}

// sniffer splits one listener in two by the first bytes of each connection:
// the HTTP/2 client preface ("PRI * HTTP/2.0") goes to gRPC, anything else to
// the HTTP/1 handler (/health, /metrics), as etcd serves both on the client URL.
type sniffer struct {
	ln   net.Listener
	grpc *chanListener
	http *chanListener
}

func newSniffer(ln net.Listener) *sniffer {
	return &sniffer{ln: ln, grpc: newChanListener(ln.Addr()), http: newChanListener(ln.Addr())}
}

func (s *sniffer) run() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			s.grpc.close()
			s.http.close()
			return
		}
		go s.route(c)
	}
}

func (s *sniffer) route(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	head, err := br.Peek(3)
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return
	}
	pc := &peekedConn{Conn: c, r: br}
	if string(head) == "PRI" {
		s.grpc.deliver(pc)
	} else {
		s.http.deliver(pc)
	}
}

func (s *sniffer) close() { _ = s.ln.Close() }

type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *peekedConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// chanListener is a net.Listener fed by the sniffer.
type chanListener struct {
	addr   net.Addr
	c      chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, c: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) deliver(c net.Conn) {
	select {
	case l.c <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.c:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) close()         { l.closed.Do(func() { close(l.done) }) }
func (l *chanListener) Close() error   { l.close(); return nil }
func (l *chanListener) Addr() net.Addr { return l.addr }
