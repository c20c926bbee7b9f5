package raftkv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// TLSInfo is one side's TLS settings, client or peer, as etcd's flags give
// them (--cert-file, --key-file, --trusted-ca-file, --client-cert-auth,
// --auto-tls, and their --peer-* twins).
type TLSInfo struct {
	// CertFile and KeyFile are this member's PEM certificate and key. On the
	// peer side the same pair is also presented as the client certificate
	// when dialing other members, as etcd does, so it needs both the
	// serverAuth and clientAuth extended key usages (or none).
	CertFile string
	KeyFile  string
	// TrustedCAFile is the PEM CA bundle that verifies the other side's
	// certificates: clients' (with ClientCertAuth) on the server side, and on
	// the peer side also other members' server certificates.
	TrustedCAFile string
	// ClientCertAuth requires every connection to present a certificate
	// signed by TrustedCAFile; the TLS handshake fails otherwise.
	ClientCertAuth bool
	// AutoTLS makes a self-signed certificate in the data dir
	// (fixtures/client or fixtures/peer) when CertFile is empty. Peers then
	// do not verify each other's certificates (etcd's --peer-auto-tls does
	// the same): it encrypts, it does not authenticate.
	AutoTLS bool
	// CRLFile is a PEM or DER certificate revocation list (--client-crl-file,
	// --peer-crl-file): a connection presenting a certificate whose serial it
	// lists is refused. It is read at each handshake, as etcd does, so a new
	// list applies without a restart.
	CRLFile string
	// AllowedCN (--peer-cert-allowed-cn) and AllowedHostname
	// (--client-cert-allowed-hostname, --peer-cert-allowed-hostname) accept
	// only client certificates with that common name, or valid for that
	// host name; at most one of them.
	AllowedCN       string
	AllowedHostname string
	// SkipClientSANVerify turns off the peer listener's check that a
	// client certificate's IP or DNS SANs name the address it connects from
	// (--experimental-peer-skip-client-san-verification). Peer side only, as
	// etcd.
	SkipClientSANVerify bool
}

// Empty reports whether no certificate is configured.
func (t TLSInfo) Empty() bool { return t.CertFile == "" && t.KeyFile == "" && !t.AutoTLS }

// validate names what is wrong with the flags of one side (prefix "" or
// "peer-").
func (t TLSInfo) validate(prefix string) []error {
	var errs []error
	if (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, fmt.Errorf("--%scert-file and --%skey-file: give both or neither", prefix, prefix))
	}
	if t.AllowedCN != "" && t.AllowedHostname != "" {
		errs = append(errs, fmt.Errorf("--%scert-allowed-cn and --%scert-allowed-hostname are mutually exclusive (cn=%q, hostname=%q)", prefix, prefix, t.AllowedCN, t.AllowedHostname))
	}
	if (t.CRLFile != "" || t.AllowedCN != "" || t.AllowedHostname != "") && t.CertFile == "" && !t.AutoTLS {
		errs = append(errs, fmt.Errorf("--%scrl-file and the allowed-cn/hostname flags check TLS client certificates: give --%scert-file and --%skey-file", prefix, prefix, prefix))
	}
	if t.ClientCertAuth && t.TrustedCAFile == "" {
		errs = append(errs, fmt.Errorf("--%sclient-cert-auth needs --%strusted-ca-file (the CA that signs the certificates to accept)", prefix, prefix))
	}
	return errs
}

// tlsConfigs are one side's built configurations: server for its
// listeners, client for dialing (used on the peer side).
type tlsConfigs struct {
	server *tls.Config
	client *tls.Config
}

// build loads the files (or makes the self-signed pair in dir) and returns
// nil configs when t is Empty.
func (t TLSInfo) build(prefix, dir string, urls []string) (tlsConfigs, error) {
	if t.Empty() {
		return tlsConfigs{}, nil
	}
	certFile, keyFile := t.CertFile, t.KeyFile
	if certFile == "" && t.AutoTLS {
		var err error
		if certFile, keyFile, err = selfCert(dir, urls); err != nil {
			return tlsConfigs{}, fmt.Errorf("--%sauto-tls: %w", prefix, err)
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tlsConfigs{}, fmt.Errorf("--%scert-file %s / --%skey-file %s: %w", prefix, certFile, prefix, keyFile, err)
	}
	srv := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	cli := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.TrustedCAFile != "" {
		pem, err := os.ReadFile(t.TrustedCAFile)
		if err != nil {
			return tlsConfigs{}, fmt.Errorf("--%strusted-ca-file: %w", prefix, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return tlsConfigs{}, fmt.Errorf("--%strusted-ca-file %s: no PEM certificate in it", prefix, t.TrustedCAFile)
		}
		srv.ClientCAs = pool
		cli.RootCAs = pool
		srv.ClientAuth = tls.VerifyClientCertIfGiven
	}
	if t.ClientCertAuth {
		srv.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if t.CRLFile != "" || t.AllowedCN != "" || t.AllowedHostname != "" {
		if t.CRLFile != "" {
			if _, err := readCRL(t.CRLFile); err != nil {
				return tlsConfigs{}, fmt.Errorf("--%scrl-file: %w", prefix, err)
			}
		}
		srv.VerifyPeerCertificate = t.verifyClientCert
	}
	if t.AutoTLS && t.CertFile == "" {
		cli.InsecureSkipVerify = true // self-signed on every member: nothing to verify against
	}
	return tlsConfigs{server: srv, client: cli}, nil
}

// selfCert writes (once) a self-signed ECDSA certificate for the hosts of
// urls into dir and returns its files.
func selfCert(dir string, urls []string) (string, string, error) {
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err := os.Stat(certFile); err == nil {
		if _, err := os.Stat(keyFile); err == nil {
			return certFile, keyFile, nil
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"raftkv auto-tls"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil {
			continue
		}
		if ip := net.ParseIP(u.Hostname()); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if u.Hostname() != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, u.Hostname())
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", err
	}
	if err := writeFileSync(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})); err != nil {
		return "", "", err
	}
	if err := writeFileSync(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// isHTTPS reports whether u is an https:// URL.
func isHTTPS(u string) bool {
	pu, err := url.Parse(u)
	return err == nil && pu.Scheme == "https"
}

// verifyClientCert is etcd's extra client certificate checks: the CRL
// (every certificate presented), then the allowed CN or host name (the
// leaf of a verified chain).
func (t TLSInfo) verifyClientCert(raw [][]byte, chains [][]*x509.Certificate) error {
	if t.CRLFile != "" {
		crl, err := readCRL(t.CRLFile)
		if err != nil {
			return fmt.Errorf("transport: cannot read CRL %s: %w", t.CRLFile, err)
		}
		for _, der := range raw {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return err
			}
			for _, r := range crl.RevokedCertificateEntries {
				if r.SerialNumber.Cmp(c.SerialNumber) == 0 {
					return fmt.Errorf("transport: certificate serial number %x revoked", c.SerialNumber)
				}
			}
		}
	}
	if t.AllowedCN == "" && t.AllowedHostname == "" {
		return nil
	}
	for _, chain := range chains {
		if len(chain) == 0 {
			continue
		}
		if t.AllowedCN != "" && chain[0].Subject.CommonName == t.AllowedCN {
			return nil
		}
		if t.AllowedHostname != "" && chain[0].VerifyHostname(t.AllowedHostname) == nil {
			return nil
		}
	}
	return errors.New("client certificate authentication failed")
}

func readCRL(path string) (*x509.RevocationList, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	return x509.ParseRevocationList(b)
}

// withSANCheck is etcd's peer listener check (checkSAN): a client
// certificate that names IPs or DNS names must name the address the
// connection comes from (an IP SAN equal to it, or a DNS SAN that its
// reverse lookup gives or whose lookup gives it).
func withSANCheck(base *tls.Config) *tls.Config {
	c := base.Clone()
	c.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		per := base.Clone()
		prev := base.VerifyPeerCertificate
		remote := hello.Conn.RemoteAddr().String()
		per.VerifyPeerCertificate = func(raw [][]byte, chains [][]*x509.Certificate) error {
			if prev != nil {
				if err := prev(raw, chains); err != nil {
					return err
				}
			}
			if len(raw) == 0 {
				return nil
			}
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return checkCertSAN(ctx, leaf, remote)
		}
		return per, nil
	}
	return c
}

func checkCertSAN(ctx context.Context, cert *x509.Certificate, remoteAddr string) error {
	if len(cert.IPAddresses) == 0 && len(cert.DNSNames) == 0 {
		return nil
	}
	h, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return err
	}
	if len(cert.IPAddresses) > 0 {
		cerr := cert.VerifyHostname(h)
		if cerr == nil {
			return nil
		}
		if len(cert.DNSNames) == 0 {
			return cerr
		}
	}
	names, _ := net.DefaultResolver.LookupAddr(ctx, h)
	for _, n := range names {
		n = strings.TrimSuffix(n, ".")
		for _, d := range cert.DNSNames {
			if d == n || (strings.HasPrefix(d, "*.") && strings.HasSuffix(n, d[1:])) {
				return nil
			}
		}
	}
	for _, d := range cert.DNSNames {
		if strings.HasPrefix(d, "*.") {
			continue
		}
		addrs, _ := net.DefaultResolver.LookupHost(ctx, d)
		for _, a := range addrs {
			if a == h {
				return nil
			}
		}
	}
	return fmt.Errorf("tls: %q does not match any of DNSNames %q", h, cert.DNSNames)
}
