package v3rpc

import (
	"context"
	"crypto/rand"
	"strconv"
	"strings"
	"sync"
	"time"

	"coordlab/engines/raftkv/mvcc"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// Authenticator is the Backend ability behind etcd's authentication. The
// auth store itself (users, roles, permissions, enabled) is replicated data
// in mvcc.Store; what is local to a member lives here: its simple tokens,
// the bcrypt cost it hashes new passwords with, whether TLS client
// certificates name users. Without it the Auth service answers
// ErrAuthNotSupported.
type Authenticator interface {
	// AuthTokens is the member's simple-token table. The member's apply
	// loop fills it: every member assigns the token of an applied
	// Authenticate entry (mvcc.SimpleToken), so a token is valid on every
	// member, as in etcd.
	AuthTokens() *TokenStore
	// AuthOptions are the member's settings.
	AuthOptions() AuthOptions
	// AppliedIndex is the raft index of the last entry applied locally.
	AppliedIndex() uint64
}

// AuthOptions are a member's auth settings (etcd's flags).
type AuthOptions struct {
	// BcryptCost hashes passwords (--bcrypt-cost, default 10).
	BcryptCost int
	// ClientCertAuth: a request without a token is the user named by the
	// common name of its verified TLS client certificate
	// (--client-cert-auth).
	ClientCertAuth bool
}

// DefaultTokenTTL is etcd's --auth-token-ttl default.
const DefaultTokenTTL = 300 * time.Second

// TokenStore maps etcd simple tokens ("<16 letters>.<raft index>") to user
// names. A token lives TTL after its last use, as etcd's simple tokens do;
// tokens are not persisted (a restarted member knows only those of the
// Authenticate entries it applies again), and clients authenticate again
// when told a token is invalid. Safe for concurrent use.
type TokenStore struct {
	ttl time.Duration
	now func() time.Time
	jwt *jwtSigner // JWT tokens instead (ParseAuthToken); the table is unused

	mu        sync.Mutex
	tokens    map[string]tokenEntry
	lastSweep time.Time
}

type tokenEntry struct {
	user    string
	expires time.Time
}

// NewTokenStore makes a token table whose tokens expire ttl after their last
// use (DefaultTokenTTL when ttl <= 0).
func NewTokenStore(ttl time.Duration) *TokenStore {
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	return &TokenStore{ttl: ttl, now: time.Now, tokens: make(map[string]tokenEntry)}
}

// Simple reports whether the tokens are simple ones (else JWT).
func (t *TokenStore) Simple() bool { return t.jwt == nil }

// Issue gives user its token for an applied Authenticate entry whose store
// answer carried token (mvcc.SimpleToken; empty for JWT) at auth revision
// rev: a simple token is recorded and returned, a JWT is signed.
func (t *TokenStore) Issue(token, user string, rev uint64) (string, error) {
	if t.jwt != nil {
		return t.jwt.sign(user, rev, t.now())
	}
	t.Assign(token, user)
	return token, nil
}

// Assign records token for user (the apply loop, for an applied
// Authenticate entry).
func (t *TokenStore) Assign(token, user string) {
	if token == "" || t.jwt != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if now.Sub(t.lastSweep) >= time.Second {
		for k, e := range t.tokens {
			if now.After(e.expires) {
				delete(t.tokens, k)
			}
		}
		t.lastSweep = now
	}
	t.tokens[token] = tokenEntry{user: user, expires: now.Add(t.ttl)}
}

// InvalidateUser drops every token of user (its password changed, or it
// was deleted).
func (t *TokenStore) InvalidateUser(user string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, e := range t.tokens {
		if e.user == user {
			delete(t.tokens, k)
		}
	}
}

// Clear drops every token (auth was disabled).
func (t *TokenStore) Clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.tokens)
}

// lookup returns token's user and extends its life.
func (t *TokenStore) lookup(token string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.tokens[token]
	now := t.now()
	if !ok || now.After(e.expires) {
		delete(t.tokens, token)
		return "", false
	}
	e.expires = now.Add(t.ttl)
	t.tokens[token] = e
	return e.user, true
}

// tokenIndex is the raft index in a simple token, ok false when the token
// is not one.
func tokenIndex(token string) (uint64, bool) {
	prefix, idx, ok := strings.Cut(token, ".")
	if !ok || prefix == "" || strings.Contains(idx, ".") {
		return 0, false
	}
	n, err := strconv.ParseUint(idx, 10, 64)
	return n, err == nil
}

const tokenLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// tokenPrefix is etcd's simple token prefix: 16 random letters.
func tokenPrefix() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = tokenLetters[int(b[i])%len(tokenLetters)]
	}
	return string(b[:])
}

// authInfo is etcd's AuthInfoFromCtx: who sends the request. With auth
// off, or without a token (and no client certificate user), it is the zero
// AuthInfo. A token this member does not know answers
// ErrGRPCInvalidAuthToken (clientv3 then authenticates again). A token
// minted by an entry this member has not applied yet waits for it (etcd's
// index waiter), through a linearizable read.
func authInfo(ctx context.Context, b Backend) (mvcc.AuthInfo, error) {
	st := b.Store()
	if st == nil || !st.AuthEnabled() {
		return mvcc.AuthInfo{}, nil
	}
	a, ok := b.(Authenticator)
	if !ok {
		return mvcc.AuthInfo{}, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	ts := md.Get(rpctypes.TokenFieldNameGRPC)
	if len(ts) == 0 {
		ts = md.Get(rpctypes.TokenFieldNameSwagger)
	}
	if len(ts) == 0 {
		if a.AuthOptions().ClientCertAuth {
			if cn := certUser(ctx, md); cn != "" {
				return mvcc.AuthInfo{Username: cn, Revision: st.AuthRevision()}, nil
			}
		}
		return mvcc.AuthInfo{}, nil
	}
	token := ts[0]
	if tokens := a.AuthTokens(); !tokens.Simple() {
		user, rev, ok := tokens.jwt.verify(token, tokens.now())
		if !ok {
			return mvcc.AuthInfo{}, rpctypes.ErrGRPCInvalidAuthToken
		}
		return mvcc.AuthInfo{Username: user, Revision: rev}, nil
	}
	idx, ok := tokenIndex(token)
	if !ok {
		return mvcc.AuthInfo{}, rpctypes.ErrGRPCInvalidAuthToken
	}
	if idx > a.AppliedIndex() {
		if err := b.LinearizableRead(ctx); err != nil {
			return mvcc.AuthInfo{}, toGRPC(err)
		}
	}
	rev := st.AuthRevision()
	user, ok := a.AuthTokens().lookup(token)
	if !ok {
		return mvcc.AuthInfo{}, rpctypes.ErrGRPCInvalidAuthToken
	}
	return mvcc.AuthInfo{Username: user, Revision: rev}, nil
}

// certUser is etcd's AuthInfoFromTLS: the common name of the first verified
// client certificate chain, except on requests relayed by the gRPC gateway.
func certUser(ctx context.Context, md metadata.MD) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.AuthInfo == nil {
		return ""
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(md.Get("grpcgateway-accept")) > 0 {
		return ""
	}
	for _, chain := range ti.State.VerifiedChains {
		if len(chain) > 0 {
			return chain[0].Subject.CommonName
		}
	}
	return ""
}

// requireAuthInfo is etcd's: with auth enabled, the request must name a user.
func requireAuthInfo(ctx context.Context, b Backend) (mvcc.AuthInfo, error) {
	ai, err := authInfo(ctx, b)
	if err != nil {
		return ai, err
	}
	if st := b.Store(); st != nil && st.AuthEnabled() && ai.Username == "" {
		return ai, rpctypes.ErrGRPCUserEmpty
	}
	return ai, nil
}

// requireAdmin is etcd's IsAdminPermitted on the request's user.
func requireAdmin(ctx context.Context, b Backend) error {
	ai, err := authInfo(ctx, b)
	if err != nil {
		return err
	}
	st, err := storeOf(b)
	if err != nil {
		return err
	}
	return st.IsAdminPermitted(ai)
}

// rawAuthMsgs are the auth package's messages of the rpctypes errors the
// admin check gives.
var rawAuthMsgs = map[error]string{
	rpctypes.ErrGRPCUserEmpty:        "auth: user name is empty",
	rpctypes.ErrGRPCUserNotFound:     "auth: user not found",
	rpctypes.ErrGRPCPermissionDenied: "auth: permission denied",
	rpctypes.ErrGRPCInvalidAuthToken: "auth: invalid auth token",
	rpctypes.ErrGRPCAuthOldRevision:  "auth: revision in header is old",
}

// rawAuthErr is the error etcd's maintenance Defragment, Snapshot, Hash
// and HashKV send when the admin check fails: the auth package's error,
// not converted to its rpctypes value, so codes.Unknown with "auth: ...".
func rawAuthErr(err error) error {
	if m, ok := rawAuthMsgs[err]; ok {
		return statusUnknown(m)
	}
	return err
}

// checkPassword is etcd's CheckPassword: the user exists, has a password,
// and it matches. It returns the auth revision the user was read at.
func checkPassword(st *mvcc.Store, name, password string) (uint64, error) {
	if !st.AuthEnabled() {
		return 0, rpctypes.ErrGRPCAuthNotEnabled
	}
	u, rev := st.AuthUser(name)
	if u == nil {
		return 0, rpctypes.ErrGRPCAuthFailed
	}
	if u.GetOptions().GetNoPassword() {
		return 0, statusUnknown("auth: authentication failed, password was given for no password user")
	}
	if bcrypt.CompareHashAndPassword(u.Password, []byte(password)) != nil {
		return 0, rpctypes.ErrGRPCAuthFailed
	}
	return rev, nil
}
