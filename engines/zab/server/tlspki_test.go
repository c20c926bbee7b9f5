package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// TestPKI is a throw-away PKI for TLS tests: a CA, a server certificate
// for 127.0.0.1/localhost, client certificates, and a second CA nobody
// trusts. Its files are written under Dir.
type TestPKI struct {
	Dir string
	t   testing.TB
}

// TestCert is a key and certificate with the CA that signed it.
type TestCert struct {
	Key  *ecdsa.PrivateKey
	Cert *x509.Certificate
	CA   *x509.Certificate
}

// TLS is the cert as a tls.Certificate (leaf and CA).
func (c *TestCert) TLS() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.Cert.Raw, c.CA.Raw}, PrivateKey: c.Key, Leaf: c.Cert}
}

var serialNo atomic.Int64

// NewTestCA makes a self-signed CA.
func NewTestCA(t testing.TB, name string) *TestCert {
	t.Helper()
	return newTestCert(t, name, nil, nil, nil)
}

// Issue makes a leaf certificate signed by ca for the given IPs and names.
func (ca *TestCert) Issue(t testing.TB, name string, ips []net.IP, dns []string) *TestCert {
	t.Helper()
	return newTestCert(t, name, ca, ips, dns)
}

func newTestCert(t testing.TB, name string, ca *TestCert, ips []net.IP, dns []string) *TestCert {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serialNo.Add(1)),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"coordlab test"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  ips,
		DNSNames:     dns,
	}
	parent, signer := tmpl, key
	if ca == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		parent, signer = ca.Cert, ca.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	out := &TestCert{Key: key, Cert: cert, CA: cert}
	if ca != nil {
		out.CA = ca.Cert
	}
	return out
}

func writeTestFile(t testing.TB, path string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pemBlock(typ string, b []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b})
}

// WritePEM writes the key (PKCS#8) and the chain (leaf, CA) as one PEM
// file, the layout of ZooKeeper's PEM key stores.
func (c *TestCert) WritePEM(t testing.TB, path string) string {
	t.Helper()
	k, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	b := pemBlock("PRIVATE KEY", k)
	b = append(b, pemBlock("CERTIFICATE", c.Cert.Raw)...)
	if c.CA != c.Cert {
		b = append(b, pemBlock("CERTIFICATE", c.CA.Raw)...)
	}
	return writeTestFile(t, path, b)
}

// WriteCAPEM writes the certificate alone, a PEM trust store.
func (c *TestCert) WriteCAPEM(t testing.TB, path string) string {
	t.Helper()
	return writeTestFile(t, path, pemBlock("CERTIFICATE", c.Cert.Raw))
}

// WriteP12 writes a PKCS#12 key store (key, leaf, CA) with password, in
// the modern encoding Java 17's keytool writes (AES, PBKDF2, HMAC-SHA256).
func (c *TestCert) WriteP12(t testing.TB, path, password string) string {
	t.Helper()
	b, err := pkcs12.Modern.Encode(c.Key, c.Cert, []*x509.Certificate{c.CA}, password)
	if err != nil {
		t.Fatal(err)
	}
	return writeTestFile(t, path, b)
}

// WriteTrustP12 writes the certificate as a PKCS#12 trust store, as
// keytool -importcert does.
func (c *TestCert) WriteTrustP12(t testing.TB, path, password string) string {
	t.Helper()
	b, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{c.Cert}, password)
	if err != nil {
		t.Fatal(err)
	}
	return writeTestFile(t, path, b)
}

// TestTLSFiles are the usual set: a CA, server and client certificates for
// 127.0.0.1 in PEM and PKCS#12, and a client certificate from another CA.
type TestTLSFiles struct {
	CA, Server, Client, OtherCA, Stranger *TestCert

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
	f.CA = NewTestCA(t, "zab test CA")
	f.OtherCA = NewTestCA(t, "another CA")
	f.Server = f.CA.Issue(t, "zab server", lo, []string{"localhost"})
	f.Client = f.CA.Issue(t, "zab client", lo, []string{"localhost"})
	f.Stranger = f.OtherCA.Issue(t, "stranger", lo, []string{"localhost"})
	p := func(name string) string { return filepath.Join(dir, name) }
	f.ServerPEM = f.Server.WritePEM(t, p("server.pem"))
	f.ServerP12 = f.Server.WriteP12(t, p("server.p12"), f.Password)
	f.CAPEM = f.CA.WriteCAPEM(t, p("ca.pem"))
	f.CAP12 = f.CA.WriteTrustP12(t, p("truststore.p12"), f.Password)
	f.ClientPEM = f.Client.WritePEM(t, p("client.pem"))
	f.ClientP12 = f.Client.WriteP12(t, p("client.p12"), f.Password)
	f.StrangerPEM = f.Stranger.WritePEM(t, p("stranger.pem"))
	f.StrangerP12 = f.Stranger.WriteP12(t, p("stranger.p12"), f.Password)
	f.OtherCAPEM = f.OtherCA.WriteCAPEM(t, p("other-ca.pem"))
	return f
}
