package raftkv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"coordlab/testpki"
)

type tlsMember struct {
	m      *Member
	cfg    Config
	cancel context.CancelFunc
	served chan error
}

// startTLSCluster starts n in-process members whose peer and client URLs are
// https with mutual authentication, certificates signed by ca.
func startTLSCluster(t *testing.T, n int, ca *testpki.CA) []*tlsMember {
	t.Helper()
	var peerLns, clientLns []net.Listener
	var initial []InitialMember
	for i := range n {
		peerLns = append(peerLns, freeListener(t))
		clientLns = append(clientLns, freeListener(t))
		initial = append(initial, InitialMember{Name: fmt.Sprintf("t%d", i), PeerURLs: []string{"https://" + peerLns[i].Addr().String()}})
	}
	var ms []*tlsMember
	for i := range n {
		cfg := memberConfig(t, initial[i].Name, initial[i].PeerURLs[0], initial, t.TempDir())
		cfg.PeerListener = peerLns[i]
		cfg.ListenClientURLs = nil
		cfg.ClientListeners = []net.Listener{clientLns[i]}
		cfg.ClientURLs = []string{"https://" + clientLns[i].Addr().String()}
		pp := ca.Issue(t, fmt.Sprintf("peer%d", i))
		cfg.PeerTLS = TLSInfo{CertFile: pp.CertFile, KeyFile: pp.KeyFile, TrustedCAFile: ca.CertFile, ClientCertAuth: true}
		sp := ca.Issue(t, fmt.Sprintf("server%d", i))
		cfg.ClientTLS = TLSInfo{CertFile: sp.CertFile, KeyFile: sp.KeyFile, TrustedCAFile: ca.CertFile, ClientCertAuth: true}
		m, err := NewMember(cfg)
		if err != nil {
			t.Fatalf("NewMember(%s): %v", cfg.Name, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		tm := &tlsMember{m: m, cfg: cfg, cancel: cancel, served: make(chan error, 1)}
		go func() { tm.served <- m.Serve(ctx) }()
		ms = append(ms, tm)
	}
	t.Cleanup(func() {
		for _, tm := range ms {
			tm.cancel()
			if err := <-tm.served; err != nil {
				t.Errorf("Serve: %v", err)
			}
		}
	})
	return ms
}

func clientTLSConfig(t *testing.T, caFile string, pair *testpki.Pair) *tls.Config {
	t.Helper()
	b, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(b)
	cfg := &tls.Config{RootCAs: pool}
	if pair != nil {
		cert, err := tls.LoadX509KeyPair(pair.CertFile, pair.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg
}

// A 3-member cluster with TLS on the peer and client URLs, both with
// certificate authentication: clientv3 with a certificate of the cluster's
// CA works through every member, /health answers over TLS, and a client or
// a peer without a certificate, or with one from another CA, is refused.
func TestTLSClusterMutualAuth(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "cluster")
	other := testpki.NewCA(t, dir, "other")
	ms := startTLSCluster(t, 3, ca)
	waitFor(t, "a leader known to every member", func() bool {
		lead := ms[0].m.Server().Leader()
		for _, tm := range ms {
			if l := tm.m.Server().Leader(); l == 0 || l != lead {
				return false
			}
		}
		return true
	})

	good := ca.Issue(t, "client")
	rogue := other.Issue(t, "rogue")
	dial := func(tc *tls.Config, eps ...string) *clientv3.Client {
		cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second, TLS: tc, Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cli.Close() })
		return cli
	}
	for i, tm := range ms {
		cli := dial(clientTLSConfig(t, ca.CertFile, &good), tm.m.ClientAddrs()...)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		key := fmt.Sprintf("k%d", i)
		if _, err := cli.Put(ctx, key, "v"); err != nil {
			cancel()
			t.Fatalf("put over TLS through member %d: %v", i, err)
		}
		resp, err := cli.Get(ctx, key)
		cancel()
		if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
			t.Fatalf("get over TLS through member %d: %v %v", i, resp, err)
		}
	}
	// A watch, a stream, works over the TLS server as well.
	wcli := dial(clientTLSConfig(t, ca.CertFile, &good), ms[1].m.ClientAddrs()...)
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	wch := wcli.Watch(wctx, "w")
	time.Sleep(50 * time.Millisecond) // let the watch register before the put; a miss fails below, not flakes silently
	if _, err := wcli.Put(wctx, "w", "1"); err != nil {
		t.Fatal(err)
	}
	if wr := <-wch; wr.Err() != nil || len(wr.Events) != 1 || string(wr.Events[0].Kv.Value) != "1" {
		t.Fatalf("watch over TLS: %+v %v", wr.Events, wr.Err())
	}

	for _, c := range []struct {
		name string
		tc   *tls.Config
	}{
		{"no client certificate", clientTLSConfig(t, ca.CertFile, nil)},
		{"a certificate from another CA", clientTLSConfig(t, ca.CertFile, &rogue)},
	} {
		t.Run("client with "+c.name, func(t *testing.T) {
			cli := dial(c.tc, ms[0].m.ClientAddrs()...)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			if _, err := cli.Put(ctx, "refused", "v"); err == nil {
				t.Fatal("put succeeded, want the TLS handshake refused")
			}
		})
	}

	// HTTP endpoints on the client URL, over TLS.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLSConfig(t, ca.CertFile, &good)}, Timeout: 10 * time.Second}
	resp, err := hc.Get("https://" + ms[0].m.ClientAddrs()[0] + "/health")
	if err != nil {
		t.Fatalf("GET /health over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /health over TLS: %s", resp.Status)
	}
	hc11 := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLSConfig(t, ca.CertFile, &good), TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}, Timeout: 10 * time.Second}
	resp, err = hc11.Get("https://" + ms[0].m.ClientAddrs()[0] + "/version")
	if err != nil {
		t.Fatalf("GET /version over TLS and HTTP/1.1: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 1 {
		t.Fatalf("GET /version over TLS and HTTP/1.1: %s %s", resp.Proto, resp.Status)
	}

	// The peer URL: a member's certificate gets /members; none, or another
	// CA's, does not get past the handshake.
	peerURL := ms[0].cfg.PeerURLs[0]
	for _, c := range []struct {
		name string
		pair *testpki.Pair
		ok   bool
	}{
		{"a certificate of the cluster's CA", &good, true},
		{"no certificate", nil, false},
		{"a certificate from another CA", &rogue, false},
	} {
		t.Run("peer with "+c.name, func(t *testing.T) {
			pc := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLSConfig(t, ca.CertFile, c.pair)}, Timeout: 10 * time.Second}
			defer pc.CloseIdleConnections()
			resp, err := pc.Get(peerURL + pathMembers)
			if !c.ok {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("GET %s: %s, want the TLS handshake refused", pathMembers, resp.Status)
				}
				return
			}
			if err != nil {
				t.Fatalf("GET %s: %v", pathMembers, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %s", pathMembers, resp.Status)
			}
		})
	}
	// Plain HTTP to the TLS peer URL gets nothing either.
	if resp, err := http.Get("http://" + strings.TrimPrefix(peerURL, "https://") + pathMembers); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatalf("plain HTTP GET %s on the TLS peer URL answered 200", pathMembers)
		}
	}
}

func TestTLSConfigErrors(t *testing.T) {
	base := func() Config {
		cfg := DefaultConfig()
		cfg.DataDir = t.TempDir()
		return cfg
	}
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"https client URL without a certificate", func(c *Config) { c.ListenClientURLs = []string{"https://127.0.0.1:2379"} },
			"TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:2379"},
		{"https peer URL without a certificate", func(c *Config) {
			c.PeerURLs = []string{"https://localhost:2380"}
			c.ListenPeerURLs = c.PeerURLs
			c.InitialCluster = []InitialMember{{Name: "default", PeerURLs: c.PeerURLs}}
		}, "TLS key/cert (--peer-cert-file, --peer-key-file) must be provided for peer url https://localhost:2380"},
		{"cert without key", func(c *Config) { c.ClientTLS.CertFile = "x.pem" }, "--cert-file and --key-file: give both or neither"},
		{"client cert auth without a CA", func(c *Config) { c.PeerTLS = TLSInfo{AutoTLS: true, ClientCertAuth: true} },
			"--peer-client-cert-auth needs --peer-trusted-ca-file"},
		{"https admin URL", func(c *Config) { c.AdminListenURL = "https://127.0.0.1:2382" }, "the admin endpoint is served over http:// only"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := base()
			c.edit(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate: %v, want an error containing %q", err, c.want)
			}
		})
	}
	cfg := base()
	cfg.ClientTLS = TLSInfo{CertFile: "/nonexistent/cert.pem", KeyFile: "/nonexistent/key.pem"}
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "--cert-file /nonexistent/cert.pem") {
		t.Fatalf("New with missing certificate files: %v, want an error naming --cert-file", err)
	}
}

// A member joins a TLS cluster (GET /members, then raft and lease traffic
// over TLS); one whose peer certificate comes from another CA cannot even
// learn the members.
func TestTLSJoin(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "cluster")
	other := testpki.NewCA(t, dir, "other")
	ms := startTLSCluster(t, 3, ca)
	var lead *Server
	waitFor(t, "a leader", func() bool {
		for _, tm := range ms {
			if s := tm.m.Server(); s.Leader() == s.ID() {
				lead = s
				return true
			}
		}
		return false
	})

	joinCfg := func(name string, pair testpki.Pair, caFile string) Config {
		peer := freeListener(t)
		peerURL := "https://" + peer.Addr().String()
		initial := append([]InitialMember(nil), ms[0].cfg.InitialCluster...)
		initial = append(initial, InitialMember{Name: name, PeerURLs: []string{peerURL}})
		cfg := memberConfig(t, name, peerURL, initial, t.TempDir())
		cfg.ClusterState = ClusterStateExisting
		cfg.PeerListener = peer
		cfg.ListenClientURLs = nil
		cfg.ClientListeners = []net.Listener{freeListener(t)}
		cfg.PeerTLS = TLSInfo{CertFile: pair.CertFile, KeyFile: pair.KeyFile, TrustedCAFile: caFile, ClientCertAuth: true}
		return cfg
	}

	rogue := joinCfg("rogue", other.Issue(t, "rogue-peer"), other.CertFile)
	if _, err := NewMember(rogue); err == nil || !strings.Contains(err.Error(), "join existing cluster") {
		t.Fatalf("joining with another CA's certificate: %v, want the join refused", err)
	}
	rogue.PeerListener.Close()
	for _, l := range rogue.ClientListeners {
		l.Close()
	}

	cfg := joinCfg("t3", ca.Issue(t, "peer3"), ca.CertFile)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := lead.AddMember(ctx, cfg.PeerURLs, false); err != nil {
		t.Fatalf("AddMember: %v", err)
	}
	waitFor(t, "every member applies the add", func() bool {
		for _, tm := range ms {
			if len(tm.m.Server().Members()) != 4 {
				return false
			}
		}
		return true
	})
	m, err := NewMember(cfg)
	if err != nil {
		t.Fatalf("NewMember(t3): %v", err)
	}
	sctx, scancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- m.Serve(sctx) }()
	defer func() {
		scancel()
		if err := <-served; err != nil {
			t.Errorf("Serve(t3): %v", err)
		}
	}()
	waitFor(t, "a put through the joined member", func() bool {
		_, err := put(ctx, m.Server(), "joined", "over-tls")
		return err == nil
	})
	mustGet(t, lead, "joined", "over-tls")
	// A lease keep-alive from the joined member is forwarded to the leader
	// over the peer TLS.
	if m.Server().Leader() != m.Server().ID() {
		cli, err := clientv3.New(clientv3.Config{Endpoints: m.ClientAddrs(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		g, err := cli.Grant(ctx, 30)
		if err != nil {
			t.Fatalf("grant: %v", err)
		}
		if _, err := cli.KeepAliveOnce(ctx, g.ID); err != nil {
			t.Fatalf("keep-alive through a follower over peer TLS: %v", err)
		}
	}
}
