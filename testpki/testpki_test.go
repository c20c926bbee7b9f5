package testpki

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"

	"software.sslmate.com/src/go-pkcs12"
)

// The files verify as the systems will load them: the PEM pair chains to
// the CA for 127.0.0.1, a certificate from another CA does not, and the
// PKCS#12 stores decode with their password.
func TestFilesVerify(t *testing.T) {
	dir := t.TempDir()
	ca, other := NewCA(t, dir, "ca"), NewCA(t, dir, "other")
	roots := x509.NewCertPool()
	caPEM, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("the CA file holds no certificate")
	}
	for _, c := range []struct {
		ca   *CA
		want bool
	}{{ca, true}, {other, false}} {
		p := c.ca.Issue(t, "member")
		kp, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(kp.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1", KeyUsages: []x509.ExtKeyUsage{usage}})
			if (err == nil) != c.want {
				t.Errorf("certificate of %s verifies against ca for usage %v: %v, want %v", c.ca.Cert.Subject.CommonName, usage, err, c.want)
			}
		}
	}
	leaf := ca.IssueFor(t, "zk", nil, []string{"localhost"})
	ks, err := os.ReadFile(leaf.WriteP12(t, dir+"/ks.p12", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	if _, cert, _, err := pkcs12.DecodeChain(ks, "pw"); err != nil || cert.Subject.CommonName != "zk" {
		t.Errorf("key store: %v, %v", cert, err)
	}
	ts, err := os.ReadFile(ca.WriteTrustP12(t, dir+"/ts.p12", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	if certs, err := pkcs12.DecodeTrustStore(ts, "pw"); err != nil || len(certs) != 1 || !certs[0].Equal(ca.Cert) {
		t.Errorf("trust store: %d certificates, %v", len(certs), err)
	}
	if _, err := tls.X509KeyPair(readFile(t, leaf.WritePEM(t, dir+"/zk.pem")), readFile(t, dir+"/zk.pem")); err != nil {
		t.Errorf("combined PEM: %v", err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
