// Package testpki makes throw-away certificate authorities and
// certificates for the TLS tests of both engines: a CA, leaf certificates
// it signs (usable by a server and by a client, as etcd's peer
// certificates are), written as the files each system reads: separate PEM
// certificate and key files (etcd's --cert-file/--key-file), one PEM file
// with key and chain, and PKCS#12 key and trust stores (ZooKeeper's
// ssl.keyStore and ssl.trustStore).
package testpki

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
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// Cert is a key and its certificate, with the CA certificate that signed
// it (itself, for a CA).
type Cert struct {
	Key  *ecdsa.PrivateKey
	Cert *x509.Certificate
	CA   *x509.Certificate
}

// CA is a self-signed certificate authority whose certificate is written to
// CertFile; the certificates it issues with Issue go to the same directory.
type CA struct {
	Key      *ecdsa.PrivateKey
	Cert     *x509.Certificate
	CertFile string
	dir      string
}

// Pair is a certificate and its key, as PEM files.
type Pair struct {
	CertFile, KeyFile string
}

// NewCA makes a CA named name and writes its certificate to
// dir/<name>-ca.pem.
func NewCA(t testing.TB, dir, name string) *CA {
	t.Helper()
	c := newCert(t, name, nil, nil, nil)
	ca := &CA{Key: c.Key, Cert: c.Cert, CertFile: filepath.Join(dir, name+"-ca.pem"), dir: dir}
	WriteFile(t, ca.CertFile, PEM("CERTIFICATE", c.Cert.Raw))
	return ca
}

// Issue makes a certificate for 127.0.0.1 and localhost with common name
// cn and writes it and its key (SEC 1) to <dir>/<cn>.pem and
// <dir>/<cn>-key.pem.
func (ca *CA) Issue(t testing.TB, cn string) Pair {
	t.Helper()
	return ca.writePair(t, cn, ca.IssueFor(t, cn, []net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"}))
}

// writePair writes c and its key (SEC 1) to <dir>/<cn>.pem and
// <dir>/<cn>-key.pem.
func (ca *CA) writePair(t testing.TB, cn string, c *Cert) Pair {
	t.Helper()
	kb, err := x509.MarshalECPrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	p := Pair{CertFile: filepath.Join(ca.dir, cn+".pem"), KeyFile: filepath.Join(ca.dir, cn+"-key.pem")}
	WriteFile(t, p.CertFile, PEM("CERTIFICATE", c.Cert.Raw))
	WriteFile(t, p.KeyFile, PEM("EC PRIVATE KEY", kb))
	return p
}

// IssuePairFor is Issue with the given IP SANs (and no DNS names) instead
// of 127.0.0.1 and localhost.
func (ca *CA) IssuePairFor(t testing.TB, cn string, ips ...string) Pair {
	t.Helper()
	var addrs []net.IP
	for _, ip := range ips {
		addrs = append(addrs, net.ParseIP(ip))
	}
	return ca.writePair(t, cn, ca.IssueFor(t, cn, addrs, nil))
}

// Revoke writes a CRL signed by ca listing the pairs' certificates to
// <dir>/<name>.crl and returns its path.
func (ca *CA) Revoke(t testing.TB, name string, pairs ...Pair) string {
	t.Helper()
	var revoked []x509.RevocationListEntry
	for _, p := range pairs {
		b, err := os.ReadFile(p.CertFile)
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: no PEM block", p.CertFile)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		revoked = append(revoked, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: time.Now()})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(time.Now().UnixNano()), ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour),
		RevokedCertificateEntries: revoked,
	}, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return WriteFile(t, filepath.Join(ca.dir, name+".crl"), PEM("X509 CRL", der))
}

// IssueFor makes a certificate with common name cn for the given addresses
// and names, without writing it.
func (ca *CA) IssueFor(t testing.TB, cn string, ips []net.IP, dns []string) *Cert {
	t.Helper()
	return newCert(t, cn, &Cert{Key: ca.Key, Cert: ca.Cert, CA: ca.Cert}, ips, dns)
}

func newCert(t testing.TB, cn string, ca *Cert, ips []net.IP, dns []string) *Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"coordlab test"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  ips,
		DNSNames:     dns,
	}
	parent, signer := tmpl, key
	if ca == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
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
	out := &Cert{Key: key, Cert: cert, CA: cert}
	if ca != nil {
		out.CA = ca.Cert
	}
	return out
}

// TLS is the certificate as a tls.Certificate (leaf and CA).
func (c *Cert) TLS() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.Cert.Raw, c.CA.Raw}, PrivateKey: c.Key, Leaf: c.Cert}
}

// WritePEM writes the key (PKCS#8) and the chain (leaf, CA) as one PEM
// file, the layout of ZooKeeper's PEM key stores, and returns path.
func (c *Cert) WritePEM(t testing.TB, path string) string {
	t.Helper()
	k, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	b := PEM("PRIVATE KEY", k)
	b = append(b, PEM("CERTIFICATE", c.Cert.Raw)...)
	if c.CA != c.Cert {
		b = append(b, PEM("CERTIFICATE", c.CA.Raw)...)
	}
	return WriteFile(t, path, b)
}

// WriteP12 writes a PKCS#12 key store (key, leaf, CA) with password, in
// the modern encoding Java 17's keytool writes (AES, PBKDF2, HMAC-SHA256),
// and returns path.
func (c *Cert) WriteP12(t testing.TB, path, password string) string {
	t.Helper()
	b, err := pkcs12.Modern.Encode(c.Key, c.Cert, []*x509.Certificate{c.CA}, password)
	if err != nil {
		t.Fatal(err)
	}
	return WriteFile(t, path, b)
}

// WriteTrustP12 writes the CA's certificate as a PKCS#12 trust store, as
// keytool -importcert does, and returns path.
func (ca *CA) WriteTrustP12(t testing.TB, path, password string) string {
	t.Helper()
	b, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{ca.Cert}, password)
	if err != nil {
		t.Fatal(err)
	}
	return WriteFile(t, path, b)
}

// PEM encodes der as one PEM block of type typ.
func PEM(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// WriteFile writes b to path (mode 0600) and returns path.
func WriteFile(t testing.TB, path string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
