package v3rpc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"

	_ "crypto/sha256" // SHA-256 for the *256 methods
	_ "crypto/sha512" // SHA-384 and SHA-512
)

// jwtSigner issues and verifies etcd's JWT tokens (--auth-token
// jwt,sign-method=...,pub-key=...,priv-key=...,ttl=...): claims username,
// revision (the auth revision when issued) and exp, signed with RS*, PS*,
// ES* or HS* as etcd's golang-jwt does. A token is valid on every member
// that has the key, with no state; an auth change makes it stale
// (ErrAuthOldRevision) and the client authenticates again.
type jwtSigner struct {
	alg  string
	hash crypto.Hash
	ttl  time.Duration
	priv crypto.Signer // nil: verify only (RS, PS, ES)
	pub  crypto.PublicKey
	hkey []byte // HS
}

var jwtHashes = map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}

// ParseAuthToken reads an --auth-token value: "simple" (or empty) gives
// simple tokens; "jwt,sign-method=RS256,pub-key=FILE,priv-key=FILE,ttl=5m"
// JWT tokens, as etcd 3.4 takes them. simpleTTL is --auth-token-ttl. Errors
// name the option at fault.
func ParseAuthToken(opts string, simpleTTL time.Duration) (*TokenStore, error) {
	parts := strings.Split(opts, ",")
	kind, kv := parts[0], map[string]string{}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return nil, fmt.Errorf("--auth-token: option %q is not key=value", p)
		}
		if _, dup := kv[k]; dup {
			return nil, fmt.Errorf("--auth-token: option %q given twice", k)
		}
		kv[k] = v
	}
	switch kind {
	case "", "simple":
		if len(kv) > 0 {
			return nil, fmt.Errorf("--auth-token simple takes no options, got %q", opts)
		}
		return NewTokenStore(simpleTTL), nil
	case "jwt":
		j, err := newJWTSigner(kv)
		if err != nil {
			return nil, fmt.Errorf("--auth-token jwt: %w", err)
		}
		return &TokenStore{jwt: j, now: time.Now}, nil
	}
	return nil, fmt.Errorf("--auth-token %q: auth: invalid auth options (want simple, or jwt with sign-method, pub-key, priv-key, ttl)", kind)
}

func newJWTSigner(kv map[string]string) (*jwtSigner, error) {
	for k := range kv {
		switch k {
		case "sign-method", "pub-key", "priv-key", "ttl":
		default:
			return nil, fmt.Errorf("unknown option %q (want sign-method, pub-key, priv-key, ttl)", k)
		}
	}
	j := &jwtSigner{alg: kv["sign-method"], ttl: 5 * time.Minute}
	if t := kv["ttl"]; t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("ttl=%q: want a duration such as 5m", t)
		}
		j.ttl = d
	}
	if len(j.alg) != 5 || jwtHashes[j.alg[2:]] == 0 || !strings.Contains("RS PS ES HS", j.alg[:2]) {
		return nil, fmt.Errorf("sign-method=%q: auth: invalid auth signature method (want RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, HS256, HS384 or HS512)", j.alg)
	}
	j.hash = jwtHashes[j.alg[2:]]
	read := func(opt string) ([]byte, error) {
		f := kv[opt]
		if f == "" {
			return nil, nil
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", opt, err)
		}
		return b, nil
	}
	privPEM, err := read("priv-key")
	if err != nil {
		return nil, err
	}
	pubPEM, err := read("pub-key")
	if err != nil {
		return nil, err
	}
	if j.alg[:2] == "HS" {
		if len(privPEM) == 0 {
			return nil, errors.New("auth: missing key data (HS methods sign with the priv-key file's bytes)")
		}
		j.hkey = privPEM
		return j, nil
	}
	if len(privPEM) > 0 {
		k, err := parsePEMKey(privPEM, true)
		if err != nil {
			return nil, fmt.Errorf("priv-key: %w", err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("priv-key: %T cannot sign", k)
		}
		j.priv, j.pub = s, s.Public()
	}
	if len(pubPEM) > 0 {
		k, err := parsePEMKey(pubPEM, false)
		if err != nil {
			return nil, fmt.Errorf("pub-key: %w", err)
		}
		if j.priv != nil {
			if eq, ok := j.pub.(interface{ Equal(crypto.PublicKey) bool }); ok && !eq.Equal(k) {
				return nil, errors.New("auth: public and private keys don't match")
			}
		}
		j.pub = k
	}
	if j.pub == nil {
		return nil, errors.New("auth: missing key data (give priv-key to sign, pub-key to verify only)")
	}
	_, isRSA := j.pub.(*rsa.PublicKey)
	_, isEC := j.pub.(*ecdsa.PublicKey)
	if (j.alg[:2] == "ES") != isEC || (j.alg[:2] != "ES" && !isRSA) {
		return nil, fmt.Errorf("sign-method=%s does not go with a %T key", j.alg, j.pub)
	}
	return j, nil
}

func parsePEMKey(b []byte, private bool) (any, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM data")
	}
	if private {
		if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
			return k, nil
		}
		if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
			return k, nil
		}
		return x509.ParseECPrivateKey(blk.Bytes)
	}
	if k, err := x509.ParsePKIXPublicKey(blk.Bytes); err == nil {
		return k, nil
	}
	if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
		return c.PublicKey, nil
	}
	return x509.ParsePKCS1PublicKey(blk.Bytes)
}

var b64 = base64.RawURLEncoding

// sign issues a token for user at auth revision rev.
func (j *jwtSigner) sign(user string, rev uint64, now time.Time) (string, error) {
	if j.hkey == nil && j.priv == nil {
		return "", errors.New("auth: token signing attempted with verify-only key")
	}
	hdr, _ := json.Marshal(map[string]string{"alg": j.alg, "typ": "JWT"})
	claims, _ := json.Marshal(map[string]any{"username": user, "revision": rev, "exp": now.Add(j.ttl).Unix()})
	signing := b64.EncodeToString(hdr) + "." + b64.EncodeToString(claims)
	h := j.hash.New()
	h.Write([]byte(signing))
	digest := h.Sum(nil)
	var sig []byte
	var err error
	switch j.alg[:2] {
	case "HS":
		m := hmac.New(j.hash.New, j.hkey)
		m.Write([]byte(signing))
		sig = m.Sum(nil)
	case "RS":
		sig, err = rsa.SignPKCS1v15(rand.Reader, j.priv.(*rsa.PrivateKey), j.hash, digest)
	case "PS":
		sig, err = rsa.SignPSS(rand.Reader, j.priv.(*rsa.PrivateKey), j.hash, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "ES":
		k := j.priv.(*ecdsa.PrivateKey)
		var r, s *big.Int
		if r, s, err = ecdsa.Sign(rand.Reader, k, digest); err == nil {
			n := (k.Curve.Params().BitSize + 7) / 8
			sig = make([]byte, 2*n)
			r.FillBytes(sig[:n])
			s.FillBytes(sig[n:])
		}
	}
	if err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	return signing + "." + b64.EncodeToString(sig), nil
}

// verify returns the user and auth revision of a valid, unexpired token.
func (j *jwtSigner) verify(token string, now time.Time) (string, uint64, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", 0, false
	}
	hdrB, err1 := b64.DecodeString(parts[0])
	claimsB, err2 := b64.DecodeString(parts[1])
	sig, err3 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return "", 0, false
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hdrB, &hdr) != nil || hdr.Alg != j.alg {
		return "", 0, false
	}
	signing := parts[0] + "." + parts[1]
	h := j.hash.New()
	h.Write([]byte(signing))
	digest := h.Sum(nil)
	ok := false
	switch j.alg[:2] {
	case "HS":
		m := hmac.New(j.hash.New, j.hkey)
		m.Write([]byte(signing))
		ok = hmac.Equal(sig, m.Sum(nil))
	case "RS":
		ok = rsa.VerifyPKCS1v15(j.pub.(*rsa.PublicKey), j.hash, digest, sig) == nil
	case "PS":
		ok = rsa.VerifyPSS(j.pub.(*rsa.PublicKey), j.hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
	case "ES":
		k := j.pub.(*ecdsa.PublicKey)
		n := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) == 2*n {
			ok = ecdsa.Verify(k, digest, new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:]))
		}
	}
	if !ok {
		return "", 0, false
	}
	var c struct {
		Username *string  `json:"username"`
		Revision *float64 `json:"revision"`
		Exp      *float64 `json:"exp"`
	}
	if json.Unmarshal(claimsB, &c) != nil || c.Username == nil || c.Revision == nil || *c.Revision < 0 {
		return "", 0, false
	}
	if c.Exp != nil && now.Unix() > int64(*c.Exp) {
		return "", 0, false
	}
	return *c.Username, uint64(*c.Revision), true
}
