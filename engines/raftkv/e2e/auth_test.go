package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// ctlAny runs etcdctl and returns its stdout, its "Error:" lines and, when
// it failed, its exit status: what a user sees, without client logs.
func ctlAny(t *testing.T, endpoints, stdin string, args ...string) string {
	t.Helper()
	out, errb, err := runCtl(endpoints, stdin, args...)
	var b strings.Builder
	b.WriteString(out)
	for _, l := range strings.Split(errb, "\n") {
		if strings.HasPrefix(l, "Error:") {
			b.WriteString(l + "\n")
		}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		fmt.Fprintf(&b, "[exit %d]\n", ee.ExitCode())
	} else if err != nil {
		t.Fatalf("etcdctl %s: %v", strings.Join(args, " "), err)
	}
	return b.String()
}

// ctlCombined runs etcdctl (at most 20 s) and returns stdout and stderr
// together, for the messages etcdctl prints on stderr.
func ctlCombined(endpoints string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, etcdctlBin, append([]string{"--endpoints=" + endpoints}, args...)...)
	cmd.Env = append(os.Environ(), "ETCDCTL_API=3")
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// authSession sets up and uses auth with etcdctl against one system and
// returns the transcript: every command and what it printed.
func authSession(t *testing.T, endpoints string) string {
	t.Helper()
	var tr strings.Builder
	step := func(stdin string, args ...string) {
		t.Helper()
		fmt.Fprintf(&tr, "$ etcdctl %s\n%s", strings.Join(args, " "), ctlAny(t, endpoints, stdin, args...))
	}
	root := "--user=root:rootpw"
	u1 := "--user=u1:pw1"
	step("", "auth", "enable") // no root user yet
	step("", "user", "add", "root:rootpw")
	step("", "auth", "enable") // etcdctl adds the role root and grants it
	step("", "role", "list", root)
	step("", "user", "get", "root", root)
	step("", "put", "a", "b")                   // no user
	step("", "put", "a", "b", "--user=root:no") // wrong password
	step("", "get", "a", "--user=nobody:x")     // no such user
	step("", "put", "a", "b", root)
	step("", "role", "add", "r1", root)
	step("", "role", "grant-permission", "r1", "readwrite", "foo", "--prefix=true", root)
	step("", "role", "grant-permission", "r1", "read", "/x", "/y", root)
	step("", "role", "grant-permission", "r1", "write", "zz", "--from-key", root)
	step("", "role", "grant-permission", "r1", "read", "k1", root)
	step("", "role", "get", "r1", root)
	step("", "user", "add", "u1:pw1", root)
	step("", "user", "grant-role", "u1", "r1", root)
	step("", "user", "get", "u1", "--detail", root)
	step("", "put", "foo1", "v", u1)
	step("", "put", "bar", "v", u1)
	step("", "put", "zzz", "v", u1)
	step("", "put", "k1", "v", u1) // read only
	step("", "get", "foo1", u1)
	step("", "get", "zzz", u1) // write only
	step("", "get", "bar", u1)
	step("", "get", "--prefix", "foo", u1)
	step("", "get", "--prefix", "fo", u1)
	step("", "get", "--from-key", "foo", u1)
	step("", "del", "foo1", "--prev-kv", u1)
	step("", "put", "foo1", "v2", u1)
	step("value(\"foo1\") = \"v2\"\n\nput foo2 x\n\nput bar x\n\n", "txn", u1) // forbidden failure branch
	step("value(\"bar\") = \"v\"\n\nput foo2 x\n\n\n", "txn", u1)              // forbidden compare
	step("value(\"foo1\") = \"v2\"\n\nput foo2 x\n\nget foo1\n\n", "txn", u1)  // allowed
	step("", "user", "get", "u1", u1)
	step("", "user", "get", "root", u1)
	step("", "role", "get", "r1", u1)
	step("", "user", "list", u1)
	step("", "role", "add", "r2", u1)
	step("", "auth", "disable", u1)
	step("", "user", "delete", "root", root)
	step("", "user", "revoke-role", "root", "root", root)
	step("", "role", "delete", "root", root)
	step("", "user", "add", "u1:x", root)
	step("", "role", "add", "r1", root)
	step("", "user", "grant-role", "u1", "nope", root)
	step("", "user", "revoke-role", "u1", "nope", root)
	step("", "user", "delete", "nope", root)
	step("", "role", "revoke-permission", "r1", "qqq", root)
	step("", "role", "revoke-permission", "r1", "/x", "/y", root)
	step("", "role", "get", "r1", root)
	step("", "user", "add", "u2:pw2", root)
	step("", "user", "list", root)
	step("", "user", "delete", "u2", root)
	step("", "get", "foo1", "--user=u2:pw2")
	step("pw9\n", "user", "passwd", "u1", "--interactive=false", root)
	step("", "get", "foo1", u1)
	step("", "get", "foo1", "--user=u1:pw9")
	step("pw1\n", "user", "passwd", "u1", "--interactive=false", root)
	step("", "user", "add", "nopw", "--no-password", root)
	step("", "user", "get", "nopw", root)
	step("", "get", "foo1", "--user=nopw:x")
	step("", "auth", "disable", root)
	step("", "get", "foo1")
	step("", "user", "list")
	step("", "auth", "enable")
	step("", "get", "foo1")
	return tr.String()
}

// TestEtcdctlAuthJWT: with --auth-token jwt (the same ES256 key for both),
// the etcdctl auth session prints the same against raftkv and etcd.
func TestEtcdctlAuthJWT(t *testing.T) {
	needTools(t)
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "jwt.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	flag := []string{"--auth-token", "jwt,sign-method=ES256,priv-key=" + keyFile + ",ttl=10m"}
	rk := startClusterArgs(t, "raftkv", raftkvBin, 3, flag...)
	et := startClusterArgs(t, "etcd", etcdBin, 1, flag...)
	got := authSession(t, rk.endpoints())
	want := authSession(t, et.endpoints())
	if got != want {
		t.Errorf("etcdctl auth session with JWTs differs from etcd's\n%s", lineDiff(want, got))
	}
}

// TestEtcdctlAuth drives authentication with etcdctl: the same session
// against a raftkv cluster and a real etcd prints the same thing; a watch
// of a forbidden key is refused; users, roles and the enabled flag survive
// a restart of every member.
func TestEtcdctlAuth(t *testing.T) {
	needTools(t)
	t.Parallel()
	rk := startCluster(t, "raftkv", raftkvBin, 3)
	et := startCluster(t, "etcd", etcdBin, 1)
	got := authSession(t, rk.endpoints())
	want := authSession(t, et.endpoints())
	if got != want {
		t.Errorf("etcdctl auth session differs from etcd's\n%s", lineDiff(want, got))
	}

	eps := rk.endpoints()
	u1 := "--user=u1:pw1"
	for _, c := range []*cluster{rk, et} {
		if out, want := ctlCombined(c.endpoints(), "watch", "bar", u1), "watch was canceled (rpc error: code = PermissionDenied desc = etcdserver: permission denied)"; !strings.Contains(out, want) {
			t.Errorf("%s: watch of a forbidden key printed %q, want %q", c.system, out, want)
		}
	}
	// A permitted watch sees a put.
	done := make(chan string, 1)
	go func() { done <- runLines(t, eps, 3, "watch", "--prefix", "foo", u1) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctl(t, eps, "", "put", "foo9", "w", u1)
		select {
		case out := <-done:
			if out != "PUT\nfoo9\nw\n" {
				t.Fatalf("watch --prefix foo as u1 printed %q", out)
			}
		case <-time.After(500 * time.Millisecond):
			if time.Now().Before(deadline) {
				continue
			}
			t.Fatal("watch --prefix foo as u1 saw no put in 20s")
		}
		break
	}
	// Maintenance needs root, with etcd's unconverted error.
	if out := ctlCombined(strings.Split(eps, ",")[0], "defrag", u1); !strings.Contains(out, "(rpc error: code = Unknown desc = auth: permission denied)") {
		t.Errorf("defrag as u1 printed %q, want etcd's auth: permission denied", out)
	}

	// Restart every member: auth stays enabled, with its users and roles.
	for _, m := range rk.members {
		m.stop()
	}
	for _, m := range rk.members {
		m.start(t)
	}
	rk.waitReady(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "foo1"}, "Error: etcdserver: user name is empty\n[exit 1]\n"},
		{[]string{"get", "foo1", u1}, "foo1\nv2\n"},
		{[]string{"get", "bar", u1}, "Error: etcdserver: permission denied\n[exit 1]\n"},
		{[]string{"role", "get", "r1", "--user=root:rootpw"}, "Role r1\nKV Read:\n\t[foo, fop) (prefix foo)\n\tk1\nKV Write:\n\t[foo, fop) (prefix foo)\n\t[zz, <open ended>\n"},
	} {
		if out := ctlAny(t, eps, "", c.args...); out != c.want {
			t.Errorf("after restart: etcdctl %s printed %q, want %q", strings.Join(c.args, " "), out, c.want)
		}
	}
}

// TestClientv3AuthAcrossMembers: a token minted by one member is valid on
// every member (the Authenticate entry is applied everywhere), and a
// clientv3 client with a user name and password keeps working when the
// leader is killed.
func TestClientv3AuthAcrossMembers(t *testing.T) {
	needTools(t)
	t.Parallel()
	c := startCluster(t, "raftkv", raftkvBin, 3)
	eps := c.endpoints()
	ctl(t, eps, "", "user", "add", "root:rootpw")
	ctl(t, eps, "", "auth", "enable")
	ctl(t, eps, "", "role", "add", "w", "--user=root:rootpw")
	ctl(t, eps, "", "role", "grant-permission", "w", "readwrite", "k/", "--prefix=true", "--user=root:rootpw")
	ctl(t, eps, "", "user", "add", "app:apppw", "--user=root:rootpw")
	ctl(t, eps, "", "user", "grant-role", "app", "w", "--user=root:rootpw")

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// One token, from the first member, used on each member.
	conn := func(m *member) *grpc.ClientConn {
		cc, err := grpc.NewClient(strings.TrimPrefix(m.clientURL, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cc.Close() })
		return cc
	}
	ar, err := pb.NewAuthClient(conn(c.members[0])).Authenticate(ctx, &pb.AuthenticateRequest{Name: "app", Password: "apppw"})
	if err != nil {
		t.Fatalf("authenticate on %s: %v", c.members[0].name, err)
	}
	if i := strings.LastIndex(ar.Token, "."); len(ar.Token) < 18 || i != 16 {
		t.Fatalf("token %q is not etcd's simple token <16 letters>.<index>", ar.Token)
	}
	tctx := metadata.AppendToOutgoingContext(ctx, rpctypes.TokenFieldNameGRPC, ar.Token)
	for i, m := range c.members {
		kv := pb.NewKVClient(conn(m))
		key := fmt.Sprintf("k/%d", i)
		if _, err := kv.Put(tctx, &pb.PutRequest{Key: []byte(key), Value: []byte("v")}); err != nil {
			t.Fatalf("put %s with the token of %s on %s: %v", key, c.members[0].name, m.name, err)
		}
		if _, err := kv.Range(tctx, &pb.RangeRequest{Key: []byte("other")}); !sameGRPC(err, rpctypes.ErrGRPCPermissionDenied) {
			t.Fatalf("range of a forbidden key on %s: %v, want permission denied", m.name, err)
		}
		if _, err := kv.Range(metadata.AppendToOutgoingContext(ctx, rpctypes.TokenFieldNameGRPC, "forged.1"), &pb.RangeRequest{Key: []byte(key)}); !sameGRPC(err, rpctypes.ErrGRPCInvalidAuthToken) {
			t.Fatalf("range with a forged token on %s: %v, want invalid auth token", m.name, err)
		}
	}

	cli, err := clientv3.New(clientv3.Config{Endpoints: c.clientURLs(), Username: "app", Password: "apppw", DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	acked := 0
	for i := range 60 {
		if i == 20 {
			leader := c.leader(t, cli)
			t.Logf("killing leader %s", leader.name)
			leader.stop()
		}
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := cli.Put(pctx, fmt.Sprintf("k/c%02d", i), "v")
		pcancel()
		if err == nil {
			acked++
		} else if errors.Is(err, rpctypes.ErrPermissionDenied) || errors.Is(err, rpctypes.ErrAuthFailed) {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if acked < 50 {
		t.Fatalf("only %d of 60 puts acknowledged across the leader kill", acked)
	}
	resp, err := cli.Get(ctx, "k/c", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatalf("get after the leader kill: %v", err)
	}
	if resp.Count < int64(acked) {
		t.Fatalf("%d keys k/c*, want at least the %d acknowledged", resp.Count, acked)
	}
	if _, err := cli.Put(ctx, "outside", "v"); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("put outside k/: %v, want permission denied", err)
	}
}

// sameGRPC reports whether err carries the code and message of want.
func sameGRPC(err, want error) bool {
	return err != nil && rpctypes.ErrorDesc(err) == rpctypes.ErrorDesc(want) && strings.Contains(err.Error(), rpctypes.ErrorDesc(want))
}
