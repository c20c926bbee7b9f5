package raftkv

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/authpb"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"coordlab/engines/raftkv/mvcc"
	"coordlab/testpki"
)

// With --client-cert-auth and auth enabled, a request without a token is
// the user its client certificate names (common name), as etcd's
// AuthInfoFromTLS: root may do anything, a user only what its roles allow,
// a name that is no user nothing.
func TestTLSCommonNameIsUser(t *testing.T) {
	ca := testpki.NewCA(t, t.TempDir(), "cluster")
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

// The auth store is data of the store file: a member that was down while
// auth was set up gets users, roles and the enabled flag in the snapshot
// the leader sends, and keeps them across its restart; an expiring lease
// is revoked by the leader (as root) with auth on.
func TestAuthTravelsInSnapshot(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) {
		cfg.SnapshotCount = 20
		cfg.SnapshotCatchUpEntries = 5
		cfg.BatchInterval = 50 * time.Millisecond
	})
	lead := c.waitLeader()
	lag := (lead + 1) % 3
	c.stop(lag)
	s := c.servers[lead]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	asRoot := &pb.RequestHeader{Username: mvcc.RootUser, AuthRevision: mvcc.MemberAuth.Revision}
	for i, req := range []*pb.InternalRaftRequest{
		{AuthUserAdd: &pb.AuthUserAddRequest{Name: "root", Options: &authpb.UserAddOptions{NoPassword: true}}},
		{AuthUserGrantRole: &pb.AuthUserGrantRoleRequest{User: "root", Role: "root"}},
		{AuthRoleAdd: &pb.AuthRoleAddRequest{Name: "r"}},
		{AuthRoleGrantPermission: &pb.AuthRoleGrantPermissionRequest{Name: "r", Perm: &authpb.Permission{PermType: authpb.READWRITE, Key: []byte("k"), RangeEnd: []byte("l")}}},
		{AuthUserAdd: &pb.AuthUserAddRequest{Name: "u", Options: &authpb.UserAddOptions{NoPassword: true}}},
		{AuthUserGrantRole: &pb.AuthUserGrantRoleRequest{User: "u", Role: "r"}},
		{AuthEnable: &pb.AuthEnableRequest{}},
		{Header: proto.Clone(asRoot).(*pb.RequestHeader), LeaseGrant: &pb.LeaseGrantRequest{ID: 77, TTL: 1}},
		{Header: proto.Clone(asRoot).(*pb.RequestHeader), Put: &pb.PutRequest{Key: []byte("leased"), Value: []byte("v"), Lease: 77}},
	} {
		if _, err := s.Propose(ctx, req); err != nil {
			t.Fatalf("setup step %d: %v", i, err)
		}
	}
	for i := range 60 {
		req := &pb.InternalRaftRequest{Header: proto.Clone(asRoot).(*pb.RequestHeader), Put: &pb.PutRequest{Key: []byte(fmt.Sprintf("k%02d", i)), Value: []byte("v")}}
		if _, err := s.Propose(ctx, req); err != nil {
			t.Fatalf("put %d as root: %v", i, err)
		}
	}
	if _, err := put(ctx, s, "k99", "v"); !errors.Is(err, rpctypes.ErrGRPCUserEmpty) {
		t.Fatalf("put without a user with auth on: %v, want user name is empty", err)
	}
	check := func(when string) {
		t.Helper()
		st := c.servers[lag].Store()
		rev := st.AuthRevision()
		if !st.AuthEnabled() {
			t.Fatalf("%s: auth not enabled on the lagging member", when)
		}
		if err := st.IsPutPermitted(mvcc.AuthInfo{Username: "u", Revision: rev}, []byte("k5")); err != nil {
			t.Fatalf("%s: u writing k5: %v", when, err)
		}
		if err := st.IsPutPermitted(mvcc.AuthInfo{Username: "u", Revision: rev}, []byte("x")); !errors.Is(err, rpctypes.ErrGRPCPermissionDenied) {
			t.Fatalf("%s: u writing x: %v, want permission denied", when, err)
		}
	}
	c.start(lag)
	waitFor(t, "lagging member to install a snapshot", func() bool {
		return counterValue(t, c.servers[lag], "raftkv_server_snapshots_applied_total") >= 1
	})
	check("after the snapshot")
	c.stop(lag)
	c.start(lag)
	waitFor(t, "the restarted member to apply the store", func() bool {
		st := c.servers[lag].Store()
		return st != nil && st.AuthEnabled()
	})
	check("after a restart")
	waitFor(t, "the leader to revoke the expired lease", func() bool {
		_, ok := s.Store().Lease(77)
		return !ok
	})
	// A revoke refused for lack of permission leaves the lease to expire.
	for _, req := range []*pb.InternalRaftRequest{
		{Header: proto.Clone(asRoot).(*pb.RequestHeader), LeaseGrant: &pb.LeaseGrantRequest{ID: 78, TTL: 3}},
		{Header: proto.Clone(asRoot).(*pb.RequestHeader), Put: &pb.PutRequest{Key: []byte("x"), Value: []byte("v"), Lease: 78}},
	} {
		if _, err := s.Propose(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	asU := &pb.RequestHeader{Username: "u", AuthRevision: s.Store().AuthRevision()}
	if _, err := s.Propose(ctx, &pb.InternalRaftRequest{Header: asU, LeaseRevoke: &pb.LeaseRevokeRequest{ID: 78}}); !errors.Is(err, rpctypes.ErrGRPCPermissionDenied) {
		t.Fatalf("revoke of a lease holding x as u: %v, want permission denied", err)
	}
	if _, ok := s.Store().Lease(78); !ok {
		t.Fatal("lease 78 gone after a refused revoke")
	}
	waitFor(t, "the refused lease to expire anyway", func() bool {
		_, ok := s.Store().Lease(78)
		return !ok
	})
}
