package raftkv

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"coordlab/engines/raftkv/testcerts"
)

// With --client-cert-auth and auth enabled, a request without a token is
// the user its client certificate names (common name), as etcd's
// AuthInfoFromTLS: root may do anything, a user only what its roles allow,
// a name that is no user nothing.
func TestTLSCommonNameIsUser(t *testing.T) {
	ca := testcerts.NewCA(t, t.TempDir(), "cluster")
	ms := startTLSCluster(t, 1, ca)
	waitFor(t, "a leader", func() bool { return ms[0].m.Server().Leader() != 0 })
	dial := func(cn string) *clientv3.Client {
		p := ca.Issue(t, cn)
		cli, err := clientv3.New(clientv3.Config{Endpoints: ms[0].m.ClientAddrs(), DialTimeout: 5 * time.Second,
			TLS: clientTLSConfig(t, ca.CertFile, &p), Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cli.Close() })
		return cli
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root := dial("root")
	steps := []func() error{
		func() error {
			_, err := root.UserAddWithOptions(ctx, "root", "", &clientv3.UserAddOptions{NoPassword: true})
			return err
		},
		func() error { _, err := root.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := root.RoleAdd(ctx, "a"); return err },
		func() error {
			_, err := root.RoleGrantPermission(ctx, "a", "alice/", clientv3.GetPrefixRangeEnd("alice/"), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error {
			_, err := root.UserAddWithOptions(ctx, "alice", "", &clientv3.UserAddOptions{NoPassword: true})
			return err
		},
		func() error { _, err := root.UserGrantRole(ctx, "alice", "a"); return err },
		func() error { _, err := root.AuthEnable(ctx); return err },
	}
	for i, f := range steps {
		if err := f(); err != nil {
			t.Fatalf("setup step %d: %v", i, err)
		}
	}
	if _, err := root.Put(ctx, "anything", "v"); err != nil {
		t.Fatalf("put as root (certificate): %v", err)
	}
	alice := dial("alice")
	if _, err := alice.Put(ctx, "alice/1", "v"); err != nil {
		t.Fatalf("put alice/1 as alice (certificate): %v", err)
	}
	if _, err := alice.Put(ctx, "anything", "v"); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("put outside alice/ as alice: %v, want permission denied", err)
	}
	if _, err := alice.UserList(ctx); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("user list as alice: %v, want permission denied", err)
	}
	if _, err := dial("mallory").Get(ctx, "alice/1"); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("get as a certificate naming no user: %v, want permission denied", err)
	}
}
