package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"coordlab/engines/zab/jute"
	"coordlab/proctest"
	"coordlab/testpki"
)

// tlsDialer is a go-zk dialer for the secure port with cert (none when
// nil) and roots.
func tlsDialer(cert *tls.Certificate, roots *x509.CertPool, maxVersion uint16) zk.Dialer {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		cfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MaxVersion: maxVersion}
		if cert != nil {
			// Send it whatever CAs the server asks for: Go's client would
			// otherwise send no certificate the server's CAs did not sign.
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
		}
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: cfg}
		return d.DialContext(context.Background(), network, address)
	}
}

func poolOf(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// tlsConnect opens a go-zk session over TLS and waits for it.
func tlsConnect(t *testing.T, addr string, cert *tls.Certificate, roots *x509.CertPool) *zk.Conn {
	t.Helper()
	return zkConnectDial(t, addr, 4*time.Second, tlsDialer(cert, roots, 0))
}

// tlsRefused dials addr over TLS with cert and requires the server to end
// the connection before answering a ConnectRequest: in TLS 1.2 the
// handshake fails, in TLS 1.3 the server's alert arrives on the first read.
func tlsRefused(t *testing.T, addr string, cert *tls.Certificate, roots *x509.CertPool, maxVersion uint16) error {
	t.Helper()
	c, err := tlsDialer(cert, roots, maxVersion)("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(jute.AppendFrame(nil, &jute.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)})); err != nil {
		return err
	}
	body, err := jute.ReadFrame(c, nil, 0)
	if err == nil {
		t.Fatalf("server answered a client it should refuse: %x", body)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("server neither answered nor closed: %v", err)
	}
	return err
}

func tlsServer(t *testing.T, f *TestTLSFiles, tweak func(*Config)) *Server {
	t.Helper()
	return startInProcess(t, 1, func(c *Config) {
		c.SecureClientPort = proctest.FreePort(t)
		c.SSL = ClientTLS{KeyStoreLocation: f.ServerPEM, TrustStoreLocation: f.CAPEM}
		if tweak != nil {
			tweak(c)
		}
	})[0]
}

// TestTLSClientPort: the secure port serves the same tree on the same
// request path as the plaintext one; with clientAuth=need (ZooKeeper's
// default) a client without a certificate, with one from another CA, or
// with one that does not name its address is refused, and the server keeps
// serving others.
func TestTLSClientPort(t *testing.T) {
	f := NewTestTLSFiles(t, t.TempDir())
	s := tlsServer(t, f, nil)
	roots := poolOf(f.CA.Cert)
	client := f.Client.TLS()
	c := tlsConnect(t, s.SecureClientAddr(), &client, roots)
	if _, err := c.Create("/tls", []byte("over tls"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	plain := zkConnect(t, s.ClientAddr())
	if d, _, err := plain.Get("/tls"); err != nil || string(d) != "over tls" {
		t.Fatalf("plaintext read of a TLS write: %q %v", d, err)
	}
	// ip ACLs see the TLS client's address as well.
	if _, err := c.Create("/lo", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "127.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set("/lo", []byte("x"), -1); err != nil {
		t.Fatalf("ip ACL over TLS: %v", err)
	}
	if out := fourLWTLS(t, s.SecureClientAddr(), &client, roots, "srvr"); !strings.Contains(out, "Mode: standalone") {
		t.Fatalf("srvr over TLS: %q", out)
	}

	stranger := f.Stranger.TLS()
	wrongHost := f.CA.IssueFor(t, "elsewhere", []net.IP{net.IPv4(10, 9, 9, 9)}, []string{"elsewhere.invalid"}).TLS()
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		tlsRefused(t, s.SecureClientAddr(), nil, roots, v)
		tlsRefused(t, s.SecureClientAddr(), &stranger, roots, v)
		tlsRefused(t, s.SecureClientAddr(), &wrongHost, roots, v)
	}
	// A plaintext client on the TLS port gets nothing either.
	nc, err := net.Dial("tcp", s.SecureClientAddr())
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	nc.Write(jute.AppendFrame(nil, &jute.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)}))
	if _, err := jute.ReadFrame(nc, nil, 0); err == nil {
		t.Fatal("plaintext ConnectRequest answered on the TLS port")
	}
	nc.Close()
	// The client does not trust a server whose CA it does not know.
	if err := tlsRefused(t, s.SecureClientAddr(), &client, poolOf(f.OtherCA.Cert), 0); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("client with another CA's roots: %v, want a certificate error", err)
	}
	if _, err := c.Set("/tls", []byte("still serving"), -1); err != nil {
		t.Fatalf("after refusals: %v", err)
	}
}

func fourLWTLS(t *testing.T, addr string, cert *tls.Certificate, roots *x509.CertPool, cmd string) string {
	t.Helper()
	c, err := tlsDialer(cert, roots, 0)("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte(cmd))
	b, _ := io.ReadAll(c)
	return string(b)
}

// TestTLSClientAuthModes: want takes clients without a certificate but
// verifies one that is given; none takes any; hostname verification can be
// turned off; PKCS#12 stores work as PEM ones; TLS-only serving binds no
// plaintext port.
func TestTLSClientAuthModes(t *testing.T) {
	f := NewTestTLSFiles(t, t.TempDir())
	roots := poolOf(f.CA.Cert)
	client, stranger := f.Client.TLS(), f.Stranger.TLS()
	wrongHost := f.CA.IssueFor(t, "elsewhere", []net.IP{net.IPv4(10, 9, 9, 9)}, nil).TLS()

	t.Run("want", func(t *testing.T) {
		s := tlsServer(t, f, func(c *Config) { c.SSL.ClientAuth = "want" })
		tlsConnect(t, s.SecureClientAddr(), nil, roots)
		tlsConnect(t, s.SecureClientAddr(), &client, roots)
		tlsRefused(t, s.SecureClientAddr(), &stranger, roots, 0)
	})
	t.Run("none", func(t *testing.T) {
		s := tlsServer(t, f, func(c *Config) { c.SSL = ClientTLS{KeyStoreLocation: f.ServerPEM, ClientAuth: "none"} })
		tlsConnect(t, s.SecureClientAddr(), nil, roots)
	})
	t.Run("hostname verification off", func(t *testing.T) {
		s := tlsServer(t, f, func(c *Config) { c.SSL.NoHostnameVerification = true })
		tlsConnect(t, s.SecureClientAddr(), &wrongHost, roots)
		tlsRefused(t, s.SecureClientAddr(), &stranger, roots, 0)
	})
	t.Run("PKCS12 stores, TLS only", func(t *testing.T) {
		s := tlsServer(t, f, func(c *Config) {
			c.ClientPort = 0
			c.SSL = ClientTLS{KeyStoreLocation: f.ServerP12, KeyStorePassword: f.Password, TrustStoreLocation: f.CAP12, TrustStorePassword: f.Password}
		})
		if s.ClientAddr() != "" {
			t.Fatalf("plaintext port bound at %s with clientPort 0", s.ClientAddr())
		}
		tlsConnect(t, s.SecureClientAddr(), &client, roots)
		tlsRefused(t, s.SecureClientAddr(), &stranger, roots, 0)
	})
	t.Run("TLSv1.3 only", func(t *testing.T) {
		s := tlsServer(t, f, func(c *Config) { c.SSL.EnabledProtocols = []string{"TLSv1.3"} })
		tlsConnect(t, s.SecureClientAddr(), &client, roots)
		if err := tlsRefused(t, s.SecureClientAddr(), &client, roots, tls.VersionTLS12); err == nil || !strings.Contains(err.Error(), "version") {
			t.Fatalf("TLS 1.2 client: %v, want a protocol version error", err)
		}
	})
}

// TestTLSConfigErrors: every bad TLS setting stops the server with an error
// naming the setting and what to do.
func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	f := NewTestTLSFiles(t, dir)
	jks := testpki.WriteFile(t, filepath.Join(dir, "keystore.jks"), append([]byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2}, make([]byte, 64)...))
	p12AsJKS := filepath.Join(dir, "pkcs12-named.jks")
	if b, err := os.ReadFile(f.ServerP12); err != nil {
		t.Fatal(err)
	} else {
		testpki.WriteFile(t, p12AsJKS, b)
	}
	encrypted := testpki.WriteFile(t, filepath.Join(dir, "enc.pem"), testpki.PEM("ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}))
	mismatch := filepath.Join(dir, "mismatch.pem")
	{
		a, _ := os.ReadFile(f.ClientPEM)
		b, _ := os.ReadFile(f.ServerPEM)
		key := a[:strings.Index(string(a), "-----BEGIN CERTIFICATE")]
		certs := b[strings.Index(string(b), "-----BEGIN CERTIFICATE"):]
		testpki.WriteFile(t, mismatch, append(append([]byte{}, key...), certs...))
	}
	noExt := testpki.WriteFile(t, filepath.Join(dir, "server.store"), []byte("x"))
	base := ClientTLS{KeyStoreLocation: f.ServerPEM, TrustStoreLocation: f.CAPEM}
	tests := []struct {
		name  string
		tweak func(*ClientTLS)
		err   string // "" = valid
	}{
		{"PEM", func(*ClientTLS) {}, ""},
		{"PKCS12 named .jks is read", func(c *ClientTLS) { c.KeyStoreLocation, c.KeyStorePassword = p12AsJKS, f.Password }, ""},
		{"no key store", func(c *ClientTLS) { c.KeyStoreLocation = "" }, "ssl.keyStore.location: required with secureClientPort"},
		{"JKS", func(c *ClientTLS) { c.KeyStoreLocation = jks }, "is a Java KeyStore (JKS), which zab cannot read; convert it with keytool -importkeystore -srckeystore " + jks + " -destkeystore store.p12 -deststoretype PKCS12"},
		{"JKS trust store", func(c *ClientTLS) { c.TrustStoreLocation, c.TrustStoreType = jks, "JKS" }, "ssl.trustStore.location: " + jks + " is a Java KeyStore (JKS)"},
		{"wrong PKCS12 password", func(c *ClientTLS) { c.KeyStoreLocation, c.KeyStorePassword = f.ServerP12, "wrong" }, "is ssl.keyStore.password right?"},
		{"encrypted PEM key", func(c *ClientTLS) { c.KeyStoreLocation = encrypted }, "an encrypted PEM key is not supported by zab"},
		{"key and certificate differ", func(c *ClientTLS) { c.KeyStoreLocation = mismatch }, "the first certificate is not the private key's"},
		{"unknown extension", func(c *ClientTLS) { c.KeyStoreLocation = noExt }, "ssl.keyStore.type: not set and " + noExt + " has no known extension"},
		{"BCFKS", func(c *ClientTLS) { c.KeyStoreType = "BCFKS" }, `ssl.keyStore.type: "BCFKS" is not supported by zab; use PEM or PKCS12`},
		{"missing file", func(c *ClientTLS) { c.KeyStoreLocation = filepath.Join(dir, "nope.pem") }, "ssl.keyStore.location: open "},
		{"need without trust store", func(c *ClientTLS) { c.TrustStoreLocation = "" }, "ssl.trustStore.location: required with ssl.clientAuth=need"},
		{"none without trust store", func(c *ClientTLS) { c.TrustStoreLocation, c.ClientAuth = "", "none" }, ""},
		{"bad clientAuth", func(c *ClientTLS) { c.ClientAuth = "maybe" }, `ssl.clientAuth: want none, want or need, got "maybe"`},
		{"TLSv1.1", func(c *ClientTLS) { c.Protocol = "TLSv1.1" }, `ssl.protocol: "TLSv1.1" is not supported by zab; use TLSv1.2, TLSv1.3 or TLS`},
		{"enabledProtocols", func(c *ClientTLS) { c.EnabledProtocols = []string{"TLSv1.2", "SSLv3"} }, `ssl.enabledProtocols: "SSLv3" is not supported`},
		{"ciphersuites 1.2", func(c *ClientTLS) { c.CipherSuites = []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"} }, ""},
		{"ciphersuites unknown", func(c *ClientTLS) { c.CipherSuites = []string{"TLS_FOO"} }, `ssl.ciphersuites: unknown cipher suite "TLS_FOO"`},
		{"ciphersuites insecure", func(c *ClientTLS) { c.CipherSuites = []string{"TLS_RSA_WITH_RC4_128_SHA"} }, "ssl.ciphersuites: TLS_RSA_WITH_RC4_128_SHA is insecure"},
		{"ciphersuites with 1.3 enabled", func(c *ClientTLS) {
			c.Protocol, c.CipherSuites = "TLS", []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}
		}, "TLSv1.3 is enabled and zab cannot restrict its cipher suites"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.DataDir = t.TempDir()
			c.SecureClientPort = 2281
			c.SSL = base
			tt.tweak(&c.SSL)
			err := c.Validate()
			if tt.err == "" {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("got %v, want an ErrConfig containing %q", err, tt.err)
			}
		})
	}
}

// TestTLSZooCfg: the TLS keys as a ZooKeeper 3.8 zoo.cfg (or the -D
// properties of SERVER_JVMFLAGS) spells them.
func TestTLSZooCfg(t *testing.T) {
	dir := t.TempDir()
	f := NewTestTLSFiles(t, dir)
	pwFile := testpki.WriteFile(t, filepath.Join(dir, "pw"), []byte(f.Password+"\n"))
	t.Setenv("SERVER_JVMFLAGS", "-Dzookeeper.ssl.trustStore.password="+f.Password)
	t.Setenv("JVMFLAGS", "")
	p := writeCfg(t, dir, strings.Join([]string{
		"dataDir=" + dir,
		"secureClientPort=2281",
		"secureClientPortAddress=127.0.0.2",
		"serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
		"ssl.keyStore.location=" + f.ServerP12,
		"ssl.keyStore.passwordPath=" + pwFile,
		"ssl.keyStore.type=PKCS12",
		"zookeeper.ssl.trustStore.location=" + f.CAP12,
		"ssl.clientAuth=want",
		"ssl.protocol=TLSv1.3",
		"ssl.enabledProtocols=TLSv1.2, TLSv1.3",
		"ssl.ciphersuites=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256",
		"ssl.hostnameVerification=false",
		"ssl.handshakeDetectionTimeoutMillis=5000",
		"ssl.quorum.hostnameVerification=false",
	}, "\n")+"\n")
	c, ignored, err := LoadConfig([]string{"--config", p}, io.Discard)
	if err == nil {
		err = c.Validate()
	}
	if err != nil {
		t.Fatal(err)
	}
	want := ClientTLS{
		KeyStoreLocation: f.ServerP12, KeyStorePassword: f.Password, KeyStoreType: "PKCS12",
		TrustStoreLocation: f.CAP12, TrustStorePassword: f.Password, ClientAuth: "want", Protocol: "TLSv1.3",
		EnabledProtocols:       []string{"TLSv1.2", "TLSv1.3"},
		CipherSuites:           []string{"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"},
		NoHostnameVerification: true,
	}
	if c.SecureClientPort != 2281 || c.SecureClientAddr() != "127.0.0.2:2281" || c.ClientPort != 0 || !equalTLS(c.SSL, want) {
		t.Fatalf("got port %d addr %s clientPort %d\n%+v\nwant %+v", c.SecureClientPort, c.SecureClientAddr(), c.ClientPort, c.SSL, want)
	}
	if !slices.Equal(ignored, []string{"ssl.handshakeDetectionTimeoutMillis"}) {
		t.Fatalf("ignored %q, want the handshake timeout only (ssl.quorum.hostnameVerification=false asks for what zab does)", ignored)
	}
	tc, err := c.serverTLS()
	if err != nil || tc.MinVersion != tls.VersionTLS12 || tc.MaxVersion != tls.VersionTLS13 || tc.ClientAuth != tls.VerifyClientCertIfGiven ||
		len(tc.CipherSuites) != 1 || tc.CipherSuites[0] != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 || tc.GetConfigForClient != nil {
		t.Fatalf("tls.Config %+v, %v", tc, err)
	}
	// With clientPort too, both are served.
	p = writeCfg(t, dir, "dataDir="+dir+"\nclientPort=2181\nsecureClientPort=2281\nssl.keyStore.location="+f.ServerPEM+"\nssl.clientAuth=none\n")
	c, _, err = LoadConfig([]string{"--config", p}, io.Discard)
	if err != nil || c.ClientPort != 2181 || c.Validate() != nil {
		t.Fatalf("clientPort with secureClientPort: %d %v %v", c.ClientPort, err, c.Validate())
	}
}

func equalTLS(a, b ClientTLS) bool {
	return a.KeyStoreLocation == b.KeyStoreLocation && a.KeyStorePassword == b.KeyStorePassword && a.KeyStoreType == b.KeyStoreType &&
		a.TrustStoreLocation == b.TrustStoreLocation && a.TrustStorePassword == b.TrustStorePassword && a.TrustStoreType == b.TrustStoreType &&
		a.ClientAuth == b.ClientAuth && a.Protocol == b.Protocol && strings.Join(a.EnabledProtocols, ",") == strings.Join(b.EnabledProtocols, ",") &&
		strings.Join(a.CipherSuites, ",") == strings.Join(b.CipherSuites, ",") && a.NoHostnameVerification == b.NoHostnameVerification
}
