package server

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"
)

// superSecret is the superDigest of "super:secret", computed with
// printf %s super:secret | openssl dgst -binary -sha1 | base64.
const superSecret = "super:lK75jTNcA+U9vtVEw5vB51mj/w4="

// TestSuperDigestSources: the superuser's digest is read where ZooKeeper
// users put it (the -D system property in SERVER_JVMFLAGS or JVMFLAGS, as
// zkServer.sh passes them, or zoo.cfg), later sources override earlier
// ones, and a value that could never match stops the server.
func TestSuperDigestSources(t *testing.T) {
	other := "admin:" + strings.Repeat("A", 27) + "="
	tests := []struct {
		name      string
		cfg       string
		serverJVM string
		jvm       string
		flags     []string
		want      string
		err       string
	}{
		{name: "SERVER_JVMFLAGS", serverJVM: "-Xmx512m -Dzookeeper.DigestAuthenticationProvider.superDigest=" + superSecret, want: superSecret},
		{name: "JVMFLAGS quoted", jvm: `"-Dzookeeper.DigestAuthenticationProvider.superDigest=` + superSecret + `" -Dlog4j.configuration=x`, want: superSecret},
		{name: "JVMFLAGS after SERVER_JVMFLAGS", serverJVM: "-Dzookeeper.DigestAuthenticationProvider.superDigest=" + other, jvm: "-Dzookeeper.DigestAuthenticationProvider.superDigest=" + superSecret, want: superSecret},
		{name: "zoo.cfg key", cfg: "DigestAuthenticationProvider.superDigest=" + superSecret, want: superSecret},
		{name: "zoo.cfg property name", cfg: "zookeeper.DigestAuthenticationProvider.superDigest=" + superSecret, want: superSecret},
		{name: "zoo.cfg over env", cfg: "DigestAuthenticationProvider.superDigest=" + superSecret, serverJVM: "-Dzookeeper.DigestAuthenticationProvider.superDigest=" + other, want: superSecret},
		{name: "flag over zoo.cfg", cfg: "DigestAuthenticationProvider.superDigest=" + other, flags: []string{"--super-digest", superSecret}, want: superSecret},
		{name: "unset", want: ""},
		{name: "password instead of digest", cfg: "DigestAuthenticationProvider.superDigest=super:secret", err: `DigestAuthenticationProvider.superDigest: want user:base64(sha1("user:password"))`},
		{name: "no user", serverJVM: "-Dzookeeper.DigestAuthenticationProvider.superDigest=lK75jTNcA+U9vtVEw5vB51mj/w4=", err: "DigestAuthenticationProvider.superDigest: want user:base64"},
		{name: "env refusal", serverJVM: "-Dzookeeper.sessionRequireClientSASLAuth=true", err: "SERVER_JVMFLAGS: -Dzookeeper.sessionRequireClientSASLAuth=true: SASL client authentication is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SERVER_JVMFLAGS", tt.serverJVM)
			t.Setenv("JVMFLAGS", tt.jvm)
			dir := t.TempDir()
			p := writeCfg(t, dir, "dataDir="+dir+"\n"+tt.cfg+"\n")
			c, _, err := LoadConfig(append([]string{"--config", p}, tt.flags...), io.Discard)
			if err == nil {
				err = c.Validate()
			}
			if tt.err != "" {
				if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an ErrConfig containing %q", err, tt.err)
				}
				return
			}
			if err != nil || c.SuperDigest != tt.want {
				t.Fatalf("got SuperDigest %q, err %v; want %q", c.SuperDigest, err, tt.want)
			}
		})
	}
}

// aclClient is one go-zk session of the ACL tests with the ids it added.
func aclClient(t *testing.T, addr string, auth ...string) *zk.Conn {
	t.Helper()
	c := zkConnect(t, addr)
	for _, a := range auth {
		if err := c.AddAuth("digest", []byte(a)); err != nil {
			t.Fatalf("addauth digest %s: %v", a, err)
		}
	}
	return c
}

// TestACLEveryOp checks each client operation against ZooKeeper 3.8's
// rule for it (the permission PrepRequestProcessor or FinalRequestProcessor
// checks, on the node or its parent) under each ACL scheme, allowed and
// denied. For every (op, scheme) the tester's session matches an id of the
// scheme: "allowed" grants exactly the permission the op needs, "denied"
// grants that id every other permission and gives the needed one only to an
// id of the same scheme that does not match, so a denial shows both the
// permission and the matching rule.
func TestACLEveryOp(t *testing.T) {
	s := startInProcess(t, 1, func(c *Config) { c.SuperDigest = superSecret })[0]
	addr := s.cfg.ClientAddr()
	admin := aclClient(t, addr, "super:secret")
	tester := aclClient(t, addr, "alice:pw")

	type scheme struct {
		name        string
		match, miss zk.ACL // an id the tester has, one of the same scheme it lacks
	}
	schemes := []scheme{
		{"digest", zk.DigestACL(0, "alice", "pw")[0], zk.DigestACL(0, "alice", "wrong")[0]},
		{"ip", zk.ACL{Scheme: "ip", ID: "127.0.0.0/8"}, zk.ACL{Scheme: "ip", ID: "10.0.0.0/8"}},
		{"ip exact", zk.ACL{Scheme: "ip", ID: "127.0.0.1"}, zk.ACL{Scheme: "ip", ID: "127.0.0.2"}},
		// world has one id: denied is world:anyone without the permission.
		{"world", zk.ACL{Scheme: "world", ID: "anyone"}, zk.ACL{}},
	}
	type op struct {
		name   string
		perm   int32 // granted in the allowed case
		need   int32 // permissions any of which allow the op (0: perm)
		parent bool  // the permission is checked on the parent
		run    func(c *zk.Conn, node string) error
	}
	ops := []op{
		{"getData", zk.PermRead, 0, false, func(c *zk.Conn, n string) error { _, _, err := c.Get(n); return err }},
		{"getChildren", zk.PermRead, 0, false, func(c *zk.Conn, n string) error { _, _, err := c.Children(n); return err }},
		{"getACL", zk.PermRead, zk.PermRead | zk.PermAdmin, false, func(c *zk.Conn, n string) error { _, _, err := c.GetACL(n); return err }},
		{"getACL with ADMIN", zk.PermAdmin, zk.PermRead | zk.PermAdmin, false, func(c *zk.Conn, n string) error { _, _, err := c.GetACL(n); return err }},
		{"setData", zk.PermWrite, 0, false, func(c *zk.Conn, n string) error { _, err := c.Set(n, []byte("v"), -1); return err }},
		{"setACL", zk.PermAdmin, 0, false, func(c *zk.Conn, n string) error {
			_, err := c.SetACL(n, zk.WorldACL(zk.PermRead), -1)
			return err
		}},
		{"create", zk.PermCreate, 0, true, func(c *zk.Conn, n string) error {
			_, err := c.Create(n+"/new", nil, 0, zk.WorldACL(zk.PermAll))
			return err
		}},
		{"delete", zk.PermDelete, 0, true, func(c *zk.Conn, n string) error { return c.Delete(n+"/kid", -1) }},
		{"multi check", zk.PermRead, 0, false, func(c *zk.Conn, n string) error {
			return multiErr(c.Multi(&zk.CheckVersionRequest{Path: n, Version: -1}))
		}},
		{"multi setData", zk.PermWrite, 0, false, func(c *zk.Conn, n string) error {
			return multiErr(c.Multi(&zk.SetDataRequest{Path: n, Data: []byte("m"), Version: -1}))
		}},
		{"multi create", zk.PermCreate, 0, true, func(c *zk.Conn, n string) error {
			return multiErr(c.Multi(&zk.CreateRequest{Path: n + "/m", Acl: zk.WorldACL(zk.PermAll)}))
		}},
		{"multi delete", zk.PermDelete, 0, true, func(c *zk.Conn, n string) error {
			return multiErr(c.Multi(&zk.DeleteRequest{Path: n + "/kid", Version: -1}))
		}},
		// exists and sync check no ACL in ZooKeeper 3.8.
		{"exists", 0, 0, false, func(c *zk.Conn, n string) error { _, _, err := c.Exists(n); return err }},
		{"sync", 0, 0, false, func(c *zk.Conn, n string) error { _, err := c.Sync(n); return err }},
	}
	if _, err := admin.Create("/t", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	i := 0
	for _, o := range ops {
		for _, sc := range schemes {
			for _, allowed := range []bool{true, false} {
				i++
				node := fmt.Sprintf("/t/%d", i)
				var acl []zk.ACL
				grant := func(a zk.ACL, perms int32) {
					if perms != 0 {
						a.Perms = perms
						acl = append(acl, a)
					}
				}
				need := o.need
				if need == 0 {
					need = o.perm
				}
				switch {
				case allowed:
					grant(sc.match, o.perm)
				case sc.name == "world":
					grant(sc.match, zk.PermAll&^need)
				default:
					grant(sc.match, zk.PermAll&^need)
					grant(sc.miss, zk.PermAll)
				}
				if len(acl) == 0 { // exists/sync allowed: an ACL that grants the tester nothing
					if sc.miss.Scheme != "" {
						grant(sc.miss, zk.PermAll)
					} else {
						grant(zk.DigestACL(0, "nobody", "x")[0], zk.PermAll)
					}
				}
				target := node
				if o.parent {
					// The node the op changes is created by the superuser
					// below a parent carrying the ACL under test.
					if _, err := admin.Create(node, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
						t.Fatal(err)
					}
					if _, err := admin.Create(node+"/kid", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
						t.Fatal(err)
					}
					if _, err := admin.SetACL(node, acl, -1); err != nil {
						t.Fatal(err)
					}
				} else if _, err := admin.Create(node, []byte("d"), 0, acl); err != nil {
					t.Fatalf("superuser create %s with %v: %v", node, acl, err)
				}
				err := o.run(tester, target)
				want := error(nil)
				if !allowed && o.perm != 0 {
					want = zk.ErrNoAuth
				}
				if !errors.Is(err, want) && err != want {
					t.Errorf("%s, %s ACL %v, allowed=%v: got %v, want %v", o.name, sc.name, acl, allowed, err, want)
				}
				// The superuser passes every check, whatever the ACL.
				if o.perm != 0 && !allowed {
					if err := o.run(admin, target); err != nil && !errors.Is(err, zk.ErrNodeExists) {
						t.Errorf("%s as superuser on %s ACL %v: %v", o.name, sc.name, acl, err)
					}
				}
			}
		}
	}
}

// multiErr is the error of a multi: the call's, or the first op's.
func multiErr(res []zk.MultiResponse, err error) error {
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Error != nil {
			return r.Error
		}
	}
	return nil
}

// TestACLAuthSchemeAndRefusals: the auth scheme stands for the session's
// authenticated ids (InvalidACL without one), a wrong password and a wrong
// superuser password get NOAUTH, getACL hides digests from a reader without
// ADMIN, and the connection's ip id is what ip ACLs match.
func TestACLAuthSchemeAndRefusals(t *testing.T) {
	s := startInProcess(t, 1, func(c *Config) { c.SuperDigest = superSecret })[0]
	addr := s.cfg.ClientAddr()
	alice := aclClient(t, addr, "alice:pw")
	alice2 := aclClient(t, addr, "alice:pw")
	wrong := aclClient(t, addr, "alice:wrong")
	wrongSuper := aclClient(t, addr, "super:notsecret")
	anon := aclClient(t, addr)
	super := aclClient(t, addr, "super:secret")

	// auth: expands to alice's digest id; world keeps READ.
	authACL := []zk.ACL{{Perms: zk.PermAll, Scheme: "auth"}, {Perms: zk.PermRead, Scheme: "world", ID: "anyone"}}
	if _, err := alice.Create("/a", []byte("x"), 0, authACL); err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Create("/anon", nil, 0, zk.AuthACL(zk.PermAll)); !errors.Is(err, zk.ErrInvalidACL) {
		t.Fatalf("auth ACL from a session without ids: %v, want ErrInvalidACL", err)
	}
	if _, err := anon.SetACL("/a", zk.AuthACL(zk.PermAll), -1); !errors.Is(err, zk.ErrInvalidACL) {
		t.Fatalf("setACL auth from a session without ids: %v, want ErrInvalidACL (checked before ADMIN)", err)
	}
	full, _, err := alice.GetACL("/a")
	wantDigest := zk.DigestACL(zk.PermAll, "alice", "pw")[0]
	if err != nil || len(full) != 2 || full[0] != wantDigest {
		t.Fatalf("getACL as owner: %v %v; want %v first", full, err, wantDigest)
	}
	redacted, _, err := anon.GetACL("/a")
	if err != nil || len(redacted) != 2 || redacted[0].ID != "alice:x" || redacted[0].Scheme != "digest" {
		t.Fatalf("getACL with READ only: %v %v; want digest alice:x", redacted, err)
	}
	if _, err := alice2.Set("/a", []byte("y"), -1); err != nil {
		t.Fatalf("another session of alice: %v", err)
	}
	for name, c := range map[string]*zk.Conn{"wrong password": wrong, "wrong superuser password": wrongSuper, "no auth": anon} {
		if _, err := c.Set("/a", []byte("z"), -1); !errors.Is(err, zk.ErrNoAuth) {
			t.Errorf("%s: setData %v, want ErrNoAuth", name, err)
		}
	}
	// A node only alice may read: the superuser reads it, nobody else.
	if _, err := alice.Create("/secret", []byte("s"), 0, zk.AuthACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*zk.Conn{"wrong password": wrong, "wrong superuser password": wrongSuper, "no auth": anon} {
		if _, _, err := c.Get("/secret"); !errors.Is(err, zk.ErrNoAuth) {
			t.Errorf("%s: getData %v, want ErrNoAuth", name, err)
		}
	}
	if d, _, err := super.Get("/secret"); err != nil || string(d) != "s" {
		t.Fatalf("superuser read: %q %v", d, err)
	}
	// The superuser's digest itself is an ordinary id: auth expands to it
	// (the super id is no ACL scheme).
	if _, err := super.Create("/bysuper", nil, 0, zk.AuthACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if acl, _, _ := super.GetACL("/bysuper"); len(acl) != 1 || acl[0].ID != superSecret {
		t.Fatalf("auth ACL of the superuser: %v, want digest %s only", acl, superSecret)
	}
}

// TestACLThroughFollower: a follower forwards its client's ids (ip,
// digest, super) with each write, so the leader's checks see the client,
// not the follower.
func TestACLThroughFollower(t *testing.T) {
	ss := startInProcess(t, 3, func(c *Config) { c.SuperDigest = superSecret })
	leader := waitLeader(t, ss)
	var follower *Server
	for _, s := range ss {
		if s != leader {
			follower = s
			break
		}
	}
	addr := follower.cfg.ClientAddr()
	anon := aclClient(t, addr)
	super := aclClient(t, addr, "super:secret")
	if _, err := anon.Create("/lo", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "127.0.0.0/8"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Set("/lo", []byte("x"), -1); err != nil {
		t.Fatalf("ip ACL matching the client, through a follower: %v", err)
	}
	if _, err := super.Create("/ten", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "10.0.0.0/8"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Set("/ten", []byte("x"), -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("ip ACL not matching the client, through a follower: %v, want ErrNoAuth", err)
	}
	if _, err := super.Set("/ten", []byte("x"), -1); err != nil {
		t.Fatalf("superuser through a follower: %v", err)
	}
	if _, err := anon.Create("/ten/kid", nil, 0, zk.WorldACL(zk.PermAll)); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("create below a parent without CREATE for the client: %v, want ErrNoAuth", err)
	}
}
