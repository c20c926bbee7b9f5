package v3rpc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// writeKeys writes a private key (PKCS#8) and its public key (PKIX) as PEM
// files and returns their paths.
func writeKeys(t *testing.T, priv any, pub any) (privFile, pubFile string) {
	t.Helper()
	dir := t.TempDir()
	pd, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	ud, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	privFile, pubFile = filepath.Join(dir, "priv.pem"), filepath.Join(dir, "pub.pem")
	for f, b := range map[string]*pem.Block{privFile: {Type: "PRIVATE KEY", Bytes: pd}, pubFile: {Type: "PUBLIC KEY", Bytes: ud}} {
		if err := os.WriteFile(f, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return privFile, pubFile
}

func TestJWTSignAndVerify(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rPriv, rPub := writeKeys(t, rk, &rk.PublicKey)
	ePriv, ePub := writeKeys(t, ek, &ek.PublicKey)
	hmacKey := filepath.Join(t.TempDir(), "hmac")
	if err := os.WriteFile(hmacKey, []byte("a shared secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	for _, opts := range []string{
		"jwt,sign-method=RS256,priv-key=" + rPriv + ",pub-key=" + rPub,
		"jwt,sign-method=PS384,priv-key=" + rPriv,
		"jwt,sign-method=ES256,priv-key=" + ePriv + ",pub-key=" + ePub + ",ttl=1m",
		"jwt,sign-method=HS512,priv-key=" + hmacKey,
	} {
		ts, err := ParseAuthToken(opts, 0)
		if err != nil {
			t.Fatalf("ParseAuthToken(%s): %v", opts, err)
		}
		ts.now = func() time.Time { return now }
		if ts.Simple() {
			t.Fatalf("%s: a simple token store", opts)
		}
		tok, err := ts.Issue("", "alice", 7)
		if err != nil {
			t.Fatalf("%s: issue: %v", opts, err)
		}
		if strings.Count(tok, ".") != 2 {
			t.Fatalf("%s: token %q is not header.claims.signature", opts, tok)
		}
		if u, rev, ok := ts.jwt.verify(tok, now.Add(30*time.Second)); !ok || u != "alice" || rev != 7 {
			t.Fatalf("%s: verify: %q %d %v, want alice 7", opts, u, rev, ok)
		}
		if _, _, ok := ts.jwt.verify(tok, now.Add(6*time.Minute)); ok {
			t.Fatalf("%s: token valid after its ttl", opts)
		}
		parts := strings.Split(tok, ".")
		forged := parts[0] + "." + b64.EncodeToString([]byte(`{"exp":9999999999,"revision":7,"username":"root"}`)) + "." + parts[2]
		if _, _, ok := ts.jwt.verify(forged, now); ok {
			t.Fatalf("%s: a token with claims changed verifies", opts)
		}
	}
	// A verify-only member (public key alone) refuses to sign but verifies.
	signer, err := ParseAuthToken("jwt,sign-method=RS256,priv-key="+rPriv, 0)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := ParseAuthToken("jwt,sign-method=RS256,pub-key="+rPub, 0)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := signer.Issue("", "bob", 3)
	if err != nil {
		t.Fatal(err)
	}
	if u, _, ok := verifier.jwt.verify(tok, time.Now()); !ok || u != "bob" {
		t.Fatalf("verify-only member: %q %v, want bob", u, ok)
	}
	if _, err := verifier.Issue("", "bob", 3); err == nil || !strings.Contains(err.Error(), "verify-only key") {
		t.Fatalf("verify-only member signing: %v, want etcd's verify-only error", err)
	}
	// Another algorithm with the same key, or another key, does not verify.
	other, err := ParseAuthToken("jwt,sign-method=HS256,priv-key="+hmacKey, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := other.jwt.verify(tok, time.Now()); ok {
		t.Fatal("an RS256 token verifies under HS256")
	}
	for opts, want := range map[string]string{
		"jwt,sign-method=ES256,priv-key=" + rPriv:                      "does not go with",
		"jwt,sign-method=RS256,priv-key=" + rPriv + ",pub-key=" + ePub: "don't match",
		"jwt,sign-method=RS256":                                        "missing key data",
		"jwt,sign-method=XX256,priv-key=" + rPriv:                      "invalid auth signature method",
		"jwt,sign-method=RS256,priv-key=" + rPriv + ",ttl=soon":        "ttl",
	} {
		if _, err := ParseAuthToken(opts, 0); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseAuthToken(%s): %v, want an error containing %q", opts, err, want)
		}
	}
}

// clientv3 against JWT tokens: they carry the auth revision they were
// issued at, so an auth change makes them stale and clientv3 gets a new
// one (ErrAuthOldRevision), as with etcd.
func TestClientv3JWT(t *testing.T) {
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := writeKeys(t, ek, &ek.PublicKey)
	b := newMemBackend(t)
	if b.tokens, err = ParseAuthToken("jwt,sign-method=ES256,priv-key="+priv, 0); err != nil {
		t.Fatal(err)
	}
	ts := newTestServerWith(t, DefaultConfig(), b, nil)
	enableAuth(t, ts.client(t))
	ctx := testCtx(t)
	u := userClient(t, ts, "u", "upw")
	if _, err := u.Put(ctx, "k/1", "v"); err != nil {
		t.Fatalf("put as u with a JWT: %v", err)
	}
	root := userClient(t, ts, "root", "rootpw")
	if _, err := root.RoleGrantPermission(ctx, "rw", "j", "", clientv3.PermissionType(clientv3.PermRead)); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Put(ctx, "k/2", "v"); err != nil {
		t.Fatalf("put as u after an auth change: %v", err)
	}
	if _, err := u.Put(ctx, "x", "v"); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("put x as u: %v, want permission denied", err)
	}
	if _, err := clientv3.New(clientv3.Config{Endpoints: []string{ts.addr}, Username: "u", Password: "no", DialTimeout: 5 * time.Second, Logger: zap.NewNop()}); !errors.Is(err, rpctypes.ErrAuthFailed) {
		t.Fatalf("wrong password: %v, want %v", err, rpctypes.ErrAuthFailed)
	}
}
