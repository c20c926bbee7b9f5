package raftkv

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"coordlab/testpki"
)

// handshake dials a TLS server built from info with the client pair and
// reports the handshake's error (nil: accepted).
func handshake(t *testing.T, info TLSInfo, ca *testpki.CA, client testpki.Pair) error {
	t.Helper()
	cfgs, err := info.build("", filepath.Join(t.TempDir(), "fixtures"), []string{"https://127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	srvCfg := cfgs.server
	if !info.SkipClientSANVerify {
		srvCfg = withSANCheck(srvCfg) // as the peer listener
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srvCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srvErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer c.Close()
		srvErr <- c.(*tls.Conn).Handshake()
	}()
	cert, err := tls.LoadX509KeyPair(client.CertFile, client.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := os.ReadFile(ca.CertFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: "127.0.0.1"})
	if err == nil {
		_, _ = c.Read(make([]byte, 1)) // TLS 1.3: the server's verdict arrives after the client's handshake
		c.Close()
	}
	return <-srvErr
}

// TestTLSCertificateChecks: --client-crl-file / --peer-crl-file refuse a
// revoked client certificate; --peer-cert-allowed-cn and the
// allowed-hostname flags accept only matching ones, and the peer listener
// refuses a client certificate whose SANs do not name the address it comes
// from unless --experimental-peer-skip-client-san-verification, as etcd's
// listeners do.
func TestTLSCertificateChecks(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "ca")
	srv := ca.Issue(t, "server")
	good := ca.Issue(t, "good")
	bad := ca.Issue(t, "bad")
	crl := ca.Revoke(t, "revoked", bad)
	elsewhere := ca.IssuePairFor(t, "elsewhere", "10.1.2.3")
	base := TLSInfo{CertFile: srv.CertFile, KeyFile: srv.KeyFile, TrustedCAFile: ca.CertFile, ClientCertAuth: true}
	for _, c := range []struct {
		name   string
		tweak  func(*TLSInfo)
		client testpki.Pair
		ok     bool
	}{
		{"no checks", func(*TLSInfo) {}, bad, true},
		{"crl, good cert", func(i *TLSInfo) { i.CRLFile = crl }, good, true},
		{"crl, revoked cert", func(i *TLSInfo) { i.CRLFile = crl }, bad, false},
		{"allowed cn matches", func(i *TLSInfo) { i.AllowedCN = "good" }, good, true},
		{"allowed cn differs", func(i *TLSInfo) { i.AllowedCN = "good" }, bad, false},
		{"allowed hostname matches", func(i *TLSInfo) { i.AllowedHostname = "localhost" }, good, true},
		{"allowed hostname differs", func(i *TLSInfo) { i.AllowedHostname = "etcd.example" }, good, false},
		{"peer SAN names another address", func(*TLSInfo) {}, elsewhere, false},
		{"peer SAN check skipped", func(i *TLSInfo) { i.SkipClientSANVerify = true }, elsewhere, true},
	} {
		info := base
		c.tweak(&info)
		err := handshake(t, info, ca, c.client)
		if (err == nil) != c.ok {
			t.Errorf("%s: handshake error %v, want accepted=%v", c.name, err, c.ok)
		}
	}
	if errs := (TLSInfo{CertFile: "a", KeyFile: "b", AllowedCN: "x", AllowedHostname: "y"}).validate("peer-"); len(errs) == 0 {
		t.Error("allowed CN and hostname together: no error")
	}
}
