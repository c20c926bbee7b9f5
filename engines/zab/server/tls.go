package server

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// ClientTLS is the TLS of the secure client port, ZooKeeper 3.8's ssl.*
// settings (each also read as the zookeeper.ssl.* system property).
type ClientTLS struct {
	// KeyStoreLocation is the server's key and certificate chain
	// (ssl.keyStore.location): a PEM file (PKCS#8, PKCS#1 or SEC 1 key and
	// CERTIFICATE blocks, leaf first) or a PKCS#12 file.
	KeyStoreLocation string
	// KeyStorePassword opens a PKCS#12 key store (ssl.keyStore.password, or
	// the first line of the file ssl.keyStore.passwordPath).
	KeyStorePassword string
	// KeyStoreType is PEM, PKCS12 or JKS (ssl.keyStore.type); empty infers
	// it from the file name (.pem, .p12/.pfx, .jks) as ZooKeeper does. A JKS
	// store is refused with the keytool command that converts it.
	KeyStoreType string
	// TrustStoreLocation holds the CAs that sign client certificates
	// (ssl.trustStore.location), PEM or PKCS#12 as the key store. Required
	// unless ClientAuth is none.
	TrustStoreLocation string
	// TrustStorePassword and TrustStoreType are the trust store's
	// (ssl.trustStore.password or .passwordPath, ssl.trustStore.type).
	TrustStorePassword string
	TrustStoreType     string
	// ClientAuth is none, want or need (ssl.clientAuth). Empty means need,
	// ZooKeeper's default: a client without a certificate the trust store
	// verifies fails the handshake.
	ClientAuth string
	// Protocol is the TLS version (ssl.protocol): TLSv1.2 (ZooKeeper 3.8's
	// default, used when empty), TLSv1.3 or TLS (both).
	Protocol string
	// EnabledProtocols are the versions served (ssl.enabledProtocols,
	// comma separated); empty means Protocol alone, as ZooKeeper.
	EnabledProtocols []string
	// CipherSuites restricts the TLS 1.2 cipher suites (ssl.ciphersuites,
	// IANA/Java names such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256). Go
	// cannot restrict TLS 1.3's, so with TLSv1.3 enabled the list must name
	// all three of them. Empty means Go's secure defaults.
	CipherSuites []string
	// NoHostnameVerification turns off checking a client certificate
	// against the client's address (ssl.hostnameVerification=false or
	// ssl.clientHostnameVerification=false). ZooKeeper checks by default:
	// the certificate must name the client's IP address, or the name a
	// reverse lookup of it gives.
	NoHostnameVerification bool
}

// Default for ClientTLS.Protocol.
const defaultTLSProtocol = "TLSv1.2"

var tlsVersions = map[string][]uint16{
	"TLSv1.2": {tls.VersionTLS12},
	"TLSv1.3": {tls.VersionTLS13},
	"TLS":     {tls.VersionTLS12, tls.VersionTLS13},
}

// clientAuthMode maps ssl.clientAuth to Go's.
func clientAuthMode(v string) (tls.ClientAuthType, error) {
	switch strings.ToLower(v) {
	case "", "need":
		return tls.RequireAndVerifyClientCert, nil
	case "want":
		return tls.VerifyClientCertIfGiven, nil
	case "none":
		return tls.NoClientCert, nil
	}
	return 0, fmt.Errorf("ssl.clientAuth: want none, want or need, got %q", v)
}

// serverTLS builds the tls.Config of the secure client port from c.SSL,
// reading the stores; every error names the setting and what to do.
func (c *Config) serverTLS() (*tls.Config, error) {
	t := c.SSL
	if t.KeyStoreLocation == "" {
		return nil, errors.New("ssl.keyStore.location: required with secureClientPort (the server's key and certificate, PEM or PKCS12)")
	}
	cert, err := loadKeyStore(t.KeyStoreLocation, t.KeyStorePassword, t.KeyStoreType)
	if err != nil {
		return nil, err
	}
	auth, err := clientAuthMode(t.ClientAuth)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: auth}
	if t.TrustStoreLocation != "" {
		if cfg.ClientCAs, err = loadTrustStore(t.TrustStoreLocation, t.TrustStorePassword, t.TrustStoreType); err != nil {
			return nil, err
		}
	} else if auth != tls.NoClientCert {
		return nil, fmt.Errorf("ssl.trustStore.location: required with ssl.clientAuth=%s (the CAs that sign client certificates); set it, or ssl.clientAuth=none to accept clients without certificates", strings.ToLower(orDefault(t.ClientAuth, "need")))
	}
	protos := t.EnabledProtocols
	key := "ssl.enabledProtocols"
	if len(protos) == 0 {
		protos, key = []string{orDefault(t.Protocol, defaultTLSProtocol)}, "ssl.protocol"
	}
	for _, p := range protos {
		vs, ok := tlsVersions[p]
		if !ok {
			return nil, fmt.Errorf("%s: %q is not supported by zab; use TLSv1.2, TLSv1.3 or TLS (both)", key, p)
		}
		for _, v := range vs {
			if cfg.MinVersion == 0 || v < cfg.MinVersion {
				cfg.MinVersion = v
			}
			if v > cfg.MaxVersion {
				cfg.MaxVersion = v
			}
		}
	}
	if len(t.CipherSuites) > 0 {
		if cfg.CipherSuites, err = cipherSuites(t.CipherSuites, cfg.MaxVersion == tls.VersionTLS13, cfg.MinVersion == tls.VersionTLS13); err != nil {
			return nil, err
		}
	}
	if auth != tls.NoClientCert && !t.NoHostnameVerification {
		// The client's address is known per connection only.
		base := cfg
		cfg = base.Clone()
		cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			per := base.Clone()
			per.VerifyPeerCertificate = verifyClientHost(hello.Conn.RemoteAddr())
			return per, nil
		}
	}
	return cfg, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// cipherSuites maps ssl.ciphersuites names to Go's ids. tls13 says TLS 1.3
// is enabled (Go always offers all its TLS 1.3 suites, so the list must
// name them); only13 that no TLS 1.2 suite is needed.
func cipherSuites(names []string, tls13, only13 bool) ([]uint16, error) {
	var ids []uint16
	var named13 []uint16
	for _, n := range names {
		found := false
		for _, s := range tls.CipherSuites() {
			if s.Name != n {
				continue
			}
			found = true
			if slices.Contains(s.SupportedVersions, tls.VersionTLS13) {
				named13 = append(named13, s.ID)
			} else {
				ids = append(ids, s.ID)
			}
		}
		if found {
			continue
		}
		for _, s := range tls.InsecureCipherSuites() {
			if s.Name == n {
				return nil, fmt.Errorf("ssl.ciphersuites: %s is insecure and not served by zab; remove it", n)
			}
		}
		return nil, fmt.Errorf("ssl.ciphersuites: unknown cipher suite %q (zab knows the IANA names Go implements, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)", n)
	}
	if tls13 {
		for _, s := range tls.CipherSuites() {
			if slices.Contains(s.SupportedVersions, tls.VersionTLS13) && !slices.Contains(named13, s.ID) {
				return nil, fmt.Errorf("ssl.ciphersuites: TLSv1.3 is enabled and zab cannot restrict its cipher suites, so the list must name %s too; add it, or enable TLSv1.2 only (ssl.enabledProtocols=TLSv1.2)", s.Name)
			}
		}
	}
	if len(ids) == 0 && !only13 {
		return nil, errors.New("ssl.ciphersuites: no TLS 1.2 cipher suite listed while TLSv1.2 is enabled; add one (e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)")
	}
	return ids, nil
}

// verifyClientHost checks, after the chain verified, that the client's
// certificate names its address: the IP itself, else a name a reverse
// lookup gives (ZooKeeper's ZKTrustManager does the same).
func verifyClientHost(remote net.Addr) func([][]byte, [][]*x509.Certificate) error {
	return func(_ [][]byte, chains [][]*x509.Certificate) error {
		if len(chains) == 0 || len(chains[0]) == 0 {
			return nil // no certificate (clientAuth=want): nothing to check
		}
		leaf := chains[0][0]
		host, _, err := net.SplitHostPort(remote.String())
		if err != nil {
			return fmt.Errorf("client address %s: %v", remote, err)
		}
		if leaf.VerifyHostname(host) == nil {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		names, _ := net.DefaultResolver.LookupAddr(ctx, host)
		for _, n := range names {
			if leaf.VerifyHostname(strings.TrimSuffix(n, ".")) == nil {
				return nil
			}
		}
		return fmt.Errorf("client certificate %q does not name the client's address %s (nor %v); issue it with that IP or name as a subject alternative name, or set ssl.hostnameVerification=false", leaf.Subject, host, names)
	}
}

// storeType resolves a store's type from its setting or file name.
func storeType(setting, location, typ string) (string, error) {
	if typ != "" {
		switch t := strings.ToUpper(typ); t {
		case "PEM", "PKCS12", "JKS":
			return t, nil
		}
		return "", fmt.Errorf("%s.type: %q is not supported by zab; use PEM or PKCS12", setting, typ)
	}
	switch strings.ToLower(filepath.Ext(location)) {
	case ".pem", ".crt", ".key":
		return "PEM", nil
	case ".p12", ".pfx", ".pkcs12":
		return "PKCS12", nil
	case ".jks":
		return "JKS", nil
	}
	return "", fmt.Errorf("%s.type: not set and %s has no known extension (.pem, .p12, .pfx, .jks); set %s.type=PEM or PKCS12", setting, location, setting)
}

// readStore reads a store file, refusing Java's own formats: JKS and
// JCEKS files (zab cannot read them) get the keytool command that turns
// them into PKCS#12. A file of type JKS that is really PKCS#12 (keytool
// writes PKCS#12 by default since Java 9, whatever the name) is read as
// PKCS#12.
func readStore(setting, location, typ string) ([]byte, string, error) {
	b, err := os.ReadFile(location)
	if err != nil {
		return nil, "", fmt.Errorf("%s.location: %v", setting, err)
	}
	if bytes.HasPrefix(b, []byte{0xfe, 0xed, 0xfe, 0xed}) || bytes.HasPrefix(b, []byte{0xce, 0xce, 0xce, 0xce}) {
		return nil, "", fmt.Errorf("%s.location: %s is a Java KeyStore (JKS), which zab cannot read; convert it with "+
			"keytool -importkeystore -srckeystore %s -destkeystore store.p12 -deststoretype PKCS12 and set %s.location to store.p12 (or use PEM, %s.type=PEM)",
			setting, location, location, setting, setting)
	}
	if typ == "JKS" {
		if len(b) > 0 && b[0] == 0x30 { // DER SEQUENCE: PKCS#12
			return b, "PKCS12", nil
		}
		return nil, "", fmt.Errorf("%s.location: %s is not a JKS or PKCS12 store; zab reads PEM and PKCS12", setting, location)
	}
	return b, typ, nil
}

// loadKeyStore reads the server's key and certificate chain.
func loadKeyStore(location, password, typ string) (tls.Certificate, error) {
	const setting = "ssl.keyStore"
	typ, err := storeType(setting, location, typ)
	if err != nil {
		return tls.Certificate{}, err
	}
	b, typ, err := readStore(setting, location, typ)
	if err != nil {
		return tls.Certificate{}, err
	}
	var key crypto.PrivateKey
	var chain []*x509.Certificate
	switch typ {
	case "PKCS12":
		k, leaf, cas, err := pkcs12.DecodeChain(b, password)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("%s.location: %s: %v (is ssl.keyStore.password right?)", setting, location, err)
		}
		key, chain = k, append([]*x509.Certificate{leaf}, cas...)
	case "PEM":
		for rest := b; ; {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			switch blk.Type {
			case "CERTIFICATE":
				c, err := x509.ParseCertificate(blk.Bytes)
				if err != nil {
					return tls.Certificate{}, fmt.Errorf("%s.location: %s: certificate: %v", setting, location, err)
				}
				chain = append(chain, c)
			case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
				if key != nil {
					return tls.Certificate{}, fmt.Errorf("%s.location: %s holds more than one private key; keep the server's only", setting, location)
				}
				if key, err = parsePEMKey(blk); err != nil {
					return tls.Certificate{}, fmt.Errorf("%s.location: %s: %v", setting, location, err)
				}
			case "ENCRYPTED PRIVATE KEY":
				return tls.Certificate{}, fmt.Errorf("%s.location: %s: an encrypted PEM key is not supported by zab; decrypt it "+
					"(openssl pkcs8 -in key.pem -out plain.pem) and keep the file readable by the server only, or use a PKCS12 key store", setting, location)
			}
		}
	}
	if key == nil {
		return tls.Certificate{}, fmt.Errorf("%s.location: %s holds no private key", setting, location)
	}
	if len(chain) == 0 {
		return tls.Certificate{}, fmt.Errorf("%s.location: %s holds no certificate", setting, location)
	}
	pub, ok := key.(interface{ Public() crypto.PublicKey })
	if !ok {
		return tls.Certificate{}, fmt.Errorf("%s.location: %s: unsupported key type %T", setting, location, key)
	}
	if eq, ok := pub.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(chain[0].PublicKey) {
		return tls.Certificate{}, fmt.Errorf("%s.location: %s: the first certificate is not the private key's; put the server's certificate first, then its CA chain", setting, location)
	}
	out := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		out.Certificate = append(out.Certificate, c.Raw)
	}
	return out, nil
}

func parsePEMKey(blk *pem.Block) (crypto.PrivateKey, error) {
	switch blk.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(blk.Bytes)
	}
	return x509.ParsePKCS8PrivateKey(blk.Bytes)
}

// loadTrustStore reads the CAs client certificates must chain to.
func loadTrustStore(location, password, typ string) (*x509.CertPool, error) {
	const setting = "ssl.trustStore"
	typ, err := storeType(setting, location, typ)
	if err != nil {
		return nil, err
	}
	b, typ, err := readStore(setting, location, typ)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	switch typ {
	case "PKCS12":
		if certs, err = pkcs12.DecodeTrustStore(b, password); err != nil {
			return nil, fmt.Errorf("%s.location: %s: %v (a PKCS12 trust store holds trusted certificates only, as keytool -importcert writes; is ssl.trustStore.password right?)", setting, location, err)
		}
	case "PEM":
		for rest := b; ; {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s.location: %s: certificate: %v", setting, location, err)
			}
			certs = append(certs, c)
		}
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s.location: %s holds no certificate", setting, location)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// readPasswordPath reads a password file (ssl.*.passwordPath): its content
// without the trailing newline, as ZooKeeper's SecretUtils.
func readPasswordPath(key, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %v", key, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
