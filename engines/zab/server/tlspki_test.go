package server

import (
	"net"
	"path/filepath"
	"testing"

	"coordlab/testpki"
)

// TestTLSFiles are the usual set: a CA, server and client certificates for
// 127.0.0.1 in PEM and PKCS#12, and a client certificate from another CA.
type TestTLSFiles struct {
	CA, OtherCA              *testpki.CA
	Server, Client, Stranger *testpki.Cert

	ServerPEM, ServerP12, CAPEM, CAP12 string
	ClientPEM, ClientP12               string
	StrangerPEM, StrangerP12           string
	OtherCAPEM                         string
	Password                           string
}

// NewTestTLSFiles writes the set under dir.
func NewTestTLSFiles(t testing.TB, dir string) *TestTLSFiles {
	t.Helper()
	lo := []net.IP{net.IPv4(127, 0, 0, 1)}
	f := &TestTLSFiles{Password: "changeit"}
	f.CA = testpki.NewCA(t, dir, "zab")
	f.OtherCA = testpki.NewCA(t, dir, "another")
	f.Server = f.CA.IssueFor(t, "zab server", lo, []string{"localhost"})
	f.Client = f.CA.IssueFor(t, "zab client", lo, []string{"localhost"})
	f.Stranger = f.OtherCA.IssueFor(t, "stranger", lo, []string{"localhost"})
	p := func(name string) string { return filepath.Join(dir, name) }
	f.ServerPEM = f.Server.WritePEM(t, p("server.pem"))
	f.ServerP12 = f.Server.WriteP12(t, p("server.p12"), f.Password)
	f.CAPEM = f.CA.CertFile
	f.CAP12 = f.CA.WriteTrustP12(t, p("truststore.p12"), f.Password)
	f.ClientPEM = f.Client.WritePEM(t, p("client.pem"))
	f.ClientP12 = f.Client.WriteP12(t, p("client.p12"), f.Password)
	f.StrangerPEM = f.Stranger.WritePEM(t, p("stranger.pem"))
	f.StrangerP12 = f.Stranger.WriteP12(t, p("stranger.p12"), f.Password)
	f.OtherCAPEM = f.OtherCA.CertFile
	return f
}
