package v3rpc

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/metadata"
)

func TestTokenStoreExpiryAndInvalidation(t *testing.T) {
	now := time.Unix(1000, 0)
	ts := NewTokenStore(10 * time.Second)
	ts.now = func() time.Time { return now }
	ts.Assign("a.1", "alice")
	ts.Assign("b.2", "bob")
	now = now.Add(8 * time.Second)
	if u, ok := ts.lookup("a.1"); !ok || u != "alice" {
		t.Fatalf("a.1 after 8s: %q %v, want alice", u, ok)
	}
	now = now.Add(8 * time.Second) // 16s after assignment, 8s after its last use
	if _, ok := ts.lookup("a.1"); !ok {
		t.Fatal("a.1 expired 8s after its last use, want its TTL counted from the last use")
	}
	if _, ok := ts.lookup("b.2"); ok {
		t.Fatal("b.2 alive 16s after its only use, want expired")
	}
	ts.Assign("a.3", "alice")
	ts.Assign("c.4", "carol")
	ts.InvalidateUser("alice")
	for _, tok := range []string{"a.1", "a.3"} {
		if _, ok := ts.lookup(tok); ok {
			t.Fatalf("%s alive after InvalidateUser(alice)", tok)
		}
	}
	if _, ok := ts.lookup("c.4"); !ok {
		t.Fatal("c.4 of carol gone after InvalidateUser(alice)")
	}
	ts.Clear()
	if _, ok := ts.lookup("c.4"); ok {
		t.Fatal("c.4 alive after Clear")
	}
	for tok, want := range map[string]bool{"abc.12": true, "abc": false, ".12": false, "abc.x": false, "a.b.1": false} {
		if _, ok := tokenIndex(tok); ok != want {
			t.Errorf("tokenIndex(%q) ok = %v, want %v", tok, ok, want)
		}
	}
	if p := tokenPrefix(); len(p) != 16 || strings.Trim(p, tokenLetters) != "" {
		t.Fatalf("token prefix %q, want 16 letters", p)
	}
}

// enableAuth makes root (password rootpw) with the role root, a role rw on
// prefix k/ and user u (password upw) holding it, then enables auth.
func enableAuth(t *testing.T, cli *clientv3.Client) {
	t.Helper()
	ctx := testCtx(t)
	steps := []func() error{
		func() error { _, err := cli.UserAdd(ctx, "root", "rootpw"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.RoleAdd(ctx, "rw"); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, "rw", "k/", clientv3.GetPrefixRangeEnd("k/"), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := cli.UserAdd(ctx, "u", "upw"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "u", "rw"); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	}
	for i, f := range steps {
		if err := f(); err != nil {
			t.Fatalf("auth setup step %d: %v", i, err)
		}
	}
}

func userClient(t *testing.T, ts *testServer, user, password string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ts.addr}, Username: user, Password: password, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("clientv3.New as %s: %v", user, err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// clientv3 with a user name and password: its token works until the member
// forgets it (restart, TTL, disable), then clientv3 authenticates again on
// ErrInvalidAuthToken; a change of the auth store makes credentials stale
// (ErrAuthOldRevision) and clientv3 retries with a fresh token.
func TestClientv3AuthFlow(t *testing.T) {
	ts := newTestServer(t, DefaultConfig())
	enableAuth(t, ts.client(t))
	ctx := testCtx(t)
	if _, err := ts.client(t).Put(ctx, "k/1", "v"); !errors.Is(err, rpctypes.ErrUserEmpty) {
		t.Fatalf("put without credentials: %v, want %v", err, rpctypes.ErrUserEmpty)
	}
	if _, err := clientv3.New(clientv3.Config{Endpoints: []string{ts.addr}, Username: "u", Password: "bad", DialTimeout: 5 * time.Second, Logger: zap.NewNop()}); !errors.Is(err, rpctypes.ErrAuthFailed) {
		t.Fatalf("clientv3.New with a wrong password: %v, want %v", err, rpctypes.ErrAuthFailed)
	}
	u := userClient(t, ts, "u", "upw")
	if _, err := u.Put(ctx, "k/1", "v"); err != nil {
		t.Fatalf("put k/1 as u: %v", err)
	}
	if _, err := u.Get(ctx, "other"); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("get other as u: %v, want %v", err, rpctypes.ErrPermissionDenied)
	}
	// The member forgets every token: the client authenticates again.
	ts.b.tokens.Clear()
	if _, err := u.Put(ctx, "k/2", "v"); err != nil {
		t.Fatalf("put after the member forgot the token: %v", err)
	}
	// The auth store changes: the next request's credentials are stale for
	// a moment at most.
	root := userClient(t, ts, "root", "rootpw")
	if _, err := root.RoleGrantPermission(ctx, "rw", "j", "", clientv3.PermissionType(clientv3.PermRead)); err != nil {
		t.Fatal(err)
	}
	if resp, err := u.Get(ctx, "k/", clientv3.WithPrefix()); err != nil || len(resp.Kvs) != 2 {
		t.Fatalf("get k/ as u after an auth change: %v %v, want 2 keys", resp, err)
	}
	// A watch of a forbidden range is cancelled with etcd's reason.
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	wr := <-u.Watch(wctx, "other")
	if !wr.Canceled || !strings.Contains(wr.Err().Error(), "etcdserver: permission denied") {
		t.Fatalf("watch of other as u: canceled %v err %v, want permission denied", wr.Canceled, wr.Err())
	}
	// Raw tokens: a forged one is refused, a valid one works in metadata
	// "token" and, as later etcd releases accept, "authorization".
	raw := ts.client(t).ActiveConnection() // no credentials of its own
	if _, err := pb.NewKVClient(raw).Range(metadata.AppendToOutgoingContext(ctx, rpctypes.TokenFieldNameGRPC, "abcdefghijklmnop.999999999"), &pb.RangeRequest{Key: []byte("k/1")}); !sameStatus(err, rpctypes.ErrGRPCInvalidAuthToken) {
		t.Fatalf("range with a forged token: %v, want %v", err, rpctypes.ErrGRPCInvalidAuthToken)
	}
	ar, err := pb.NewAuthClient(raw).Authenticate(ctx, &pb.AuthenticateRequest{Name: "u", Password: "upw"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pb.NewKVClient(raw).Range(metadata.AppendToOutgoingContext(ctx, rpctypes.TokenFieldNameSwagger, ar.Token), &pb.RangeRequest{Key: []byte("k/1")}); err != nil {
		t.Fatalf("range with the token in authorization: %v", err)
	}
	// Admin-only calls.
	if _, err := u.Status(ctx, ts.addr); err != nil {
		t.Fatalf("status as u: %v (etcd 3.4.23 needs no credentials)", err)
	}
	if _, err := u.Defragment(ctx, ts.addr); err == nil || !strings.Contains(err.Error(), "auth: permission denied") {
		t.Fatalf("defragment as u: %v, want etcd's auth: permission denied", err)
	}
	if _, err := root.Defragment(ctx, ts.addr); err != nil {
		t.Fatalf("defragment as root: %v", err)
	}
	if _, err := u.MemberList(ctx); err != nil {
		t.Fatalf("member list as u: %v", err)
	}
	// Every membership change needs the root role, as in etcd.
	if _, err := u.MemberUpdate(ctx, 1, []string{"http://127.0.0.1:2380"}); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("member update as u: %v, want %v", err, rpctypes.ErrPermissionDenied)
	}
	if _, err := u.MemberPromote(ctx, 1); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("member promote as u: %v, want %v", err, rpctypes.ErrPermissionDenied)
	}
	if _, err := ts.client(t).MemberList(ctx); !errors.Is(err, rpctypes.ErrUserEmpty) {
		t.Fatalf("member list without credentials: %v, want %v", err, rpctypes.ErrUserEmpty)
	}
	// Leases: any user may grant; revoking needs write on the lease's keys.
	l, err := u.Grant(ctx, 100)
	if err != nil {
		t.Fatalf("lease grant as u: %v", err)
	}
	if _, err := root.Put(ctx, "other", "v", clientv3.WithLease(l.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Revoke(ctx, l.ID); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("revoke as u of a lease holding other: %v, want %v", err, rpctypes.ErrPermissionDenied)
	}
	if _, err := u.TimeToLive(ctx, l.ID, clientv3.WithAttachedKeys()); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("time-to-live with keys as u: %v, want %v", err, rpctypes.ErrPermissionDenied)
	}
	if _, err := root.Revoke(ctx, l.ID); err != nil {
		t.Fatalf("revoke as root: %v", err)
	}
	// Password change: old tokens die, the new password works.
	if _, err := root.UserChangePassword(ctx, "u", "upw2"); err != nil {
		t.Fatal(err)
	}
	if _, err := clientv3.New(clientv3.Config{Endpoints: []string{ts.addr}, Username: "u", Password: "upw", DialTimeout: 5 * time.Second, Logger: zap.NewNop()}); !errors.Is(err, rpctypes.ErrAuthFailed) {
		t.Fatalf("old password after the change: %v, want %v", err, rpctypes.ErrAuthFailed)
	}
	if _, err := userClient(t, ts, "u", "upw2").Get(ctx, "k/1"); err != nil {
		t.Fatalf("get as u with the new password: %v", err)
	}
	// Disable: everything is open again.
	if _, err := root.AuthDisable(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.client(t).Put(ctx, "other", "v"); err != nil {
		t.Fatalf("put without credentials after auth disable: %v", err)
	}
}
