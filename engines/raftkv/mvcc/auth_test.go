package mvcc

import (
	"testing"

	"go.etcd.io/etcd/api/v3/authpb"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"golang.org/x/crypto/bcrypt"
)

// as sends req as user (at the store's current auth revision; "" sends it
// without credentials).
func (h *harness) as(user string, req *pb.InternalRaftRequest) (any, error) {
	if user != "" {
		req.Header = &pb.RequestHeader{Username: user, AuthRevision: h.s.AuthRevision()}
	}
	return h.apply(req)
}

func (h *harness) mustAs(user string, req *pb.InternalRaftRequest) {
	h.t.Helper()
	if _, err := h.as(user, req); err != nil {
		h.t.Fatalf("Apply(%v) as %q: %v", req, user, err)
	}
}

func userAdd(name string) *pb.InternalRaftRequest {
	h, err := bcrypt.GenerateFromPassword([]byte(name+"pw"), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return &pb.InternalRaftRequest{AuthUserAdd: &pb.AuthUserAddRequest{Name: name, HashedPassword: string(h)}}
}

func grantRole(user, role string) *pb.InternalRaftRequest {
	return &pb.InternalRaftRequest{AuthUserGrantRole: &pb.AuthUserGrantRoleRequest{User: user, Role: role}}
}

func grantPerm(role string, typ authpb.Permission_Type, key, end string) *pb.InternalRaftRequest {
	p := &authpb.Permission{PermType: typ, Key: []byte(key)}
	if end != "" {
		p.RangeEnd = []byte(end)
	}
	return &pb.InternalRaftRequest{AuthRoleGrantPermission: &pb.AuthRoleGrantPermissionRequest{Name: role, Perm: p}}
}

func enableAuth() *pb.InternalRaftRequest {
	return &pb.InternalRaftRequest{AuthEnable: &pb.AuthEnableRequest{}}
}

// setupAuth makes root (with role root) and user u with role r, enables auth.
func setupAuth(h *harness, perms ...*pb.InternalRaftRequest) {
	h.t.Helper()
	h.mustAs("", userAdd("root"))
	h.mustAs("", grantRole("root", "root"))
	h.mustAs("", userAdd("u"))
	h.mustAs("", &pb.InternalRaftRequest{AuthRoleAdd: &pb.AuthRoleAddRequest{Name: "r"}})
	for _, p := range perms {
		h.mustAs("", p)
	}
	h.mustAs("", grantRole("u", "r"))
	h.mustAs("", enableAuth())
}

func TestAuthEnableNeedsRootWithRootRole(t *testing.T) {
	h := newHarness(t)
	if rev := h.s.AuthRevision(); rev != 1 {
		t.Fatalf("fresh store: auth revision %d, want 1 (etcd's)", rev)
	}
	_, err := h.as("", enableAuth())
	wantErr(t, err, rpctypes.ErrGRPCRootUserNotExist)
	h.mustAs("", userAdd("root"))
	_, err = h.as("", enableAuth())
	wantErr(t, err, rpctypes.ErrGRPCRootRoleNotExist)
	// The role root need not exist to be granted, as in etcd.
	h.mustAs("", grantRole("root", "root"))
	h.mustAs("", enableAuth())
	if !h.s.AuthEnabled() {
		t.Fatal("auth not enabled after AuthEnable")
	}
	// Enabled: no credentials, no admin request.
	_, err = h.as("", userAdd("x"))
	wantErr(t, err, rpctypes.ErrGRPCUserEmpty)
	// Root rules while enabled.
	_, err = h.as("root", &pb.InternalRaftRequest{AuthUserDelete: &pb.AuthUserDeleteRequest{Name: "root"}})
	wantErr(t, err, rpctypes.ErrGRPCInvalidAuthMgmt)
	_, err = h.as("root", &pb.InternalRaftRequest{AuthUserRevokeRole: &pb.AuthUserRevokeRoleRequest{Name: "root", Role: "root"}})
	wantErr(t, err, rpctypes.ErrGRPCInvalidAuthMgmt)
	_, err = h.as("root", &pb.InternalRaftRequest{AuthRoleDelete: &pb.AuthRoleDeleteRequest{Role: "root"}})
	wantErr(t, err, rpctypes.ErrGRPCInvalidAuthMgmt)
	// Disabled again: the root user may go.
	h.mustAs("root", &pb.InternalRaftRequest{AuthDisable: &pb.AuthDisableRequest{}})
	h.mustAs("", &pb.InternalRaftRequest{AuthUserDelete: &pb.AuthUserDeleteRequest{Name: "root"}})
}

func TestAuthRevisionCountsChanges(t *testing.T) {
	h := newHarness(t)
	steps := []struct {
		req  *pb.InternalRaftRequest
		bump bool
	}{
		{userAdd("root"), true},
		{grantRole("root", "root"), true},
		{grantRole("root", "root"), false}, // already granted: no change
		{&pb.InternalRaftRequest{AuthRoleAdd: &pb.AuthRoleAddRequest{Name: "r"}}, true},
		{grantPerm("r", authpb.READ, "a", ""), true},
		{enableAuth(), false}, // etcd does not bump on enable
		{&pb.InternalRaftRequest{AuthDisable: &pb.AuthDisableRequest{}}, true},
		{&pb.InternalRaftRequest{AuthDisable: &pb.AuthDisableRequest{}}, false}, // already off
	}
	for i, st := range steps {
		before := h.s.AuthRevision()
		h.mustAs("root", st.req)
		after := h.s.AuthRevision()
		if (after == before+1) != st.bump || (after != before && after != before+1) {
			t.Fatalf("step %d %v: revision %d -> %d, want bump=%v", i, st.req, before, after, st.bump)
		}
	}
}

func TestAuthPermissionRanges(t *testing.T) {
	h := newHarness(t)
	setupAuth(h,
		grantPerm("r", authpb.READWRITE, "foo", "fop"), // prefix foo
		grantPerm("r", authpb.READ, "k", ""),           // the key k
		grantPerm("r", authpb.WRITE, "x", "\x00"),      // every key from x
		grantPerm("r", authpb.READ, "m", "n"),          // [m, n) and [n, o) together: [m, o)
		grantPerm("r", authpb.READ, "n", "o"),
	)
	u := AuthInfo{Username: "u", Revision: h.s.AuthRevision()}
	for _, c := range []struct {
		key, end string
		write    bool
		ok       bool
	}{
		{"foo", "", true, true},
		{"foo1", "", false, true},
		{"fop", "", true, false},
		{"fo", "", false, false},
		{"foo", "fop", false, true},    // the whole prefix
		{"foo", "foz", false, false},   // past it
		{"foo", "\x00", false, false},  // from foo on
		{"k", "", false, true},         // the single key
		{"k", "", true, false},         // read only
		{"k", "k\x00", false, true},    // the range holding only k
		{"k0", "", false, false},       // not a prefix
		{"x", "", true, true},          // from-key write
		{"zzzz", "", true, true},       //
		{"x", "\x00", true, true},      // the whole from-key range
		{"w", "\x00", true, false},     // starts below it
		{"x", "", false, false},        // write only
		{"m", "o", false, true},        // two adjacent ranges cover it
		{"m", "o\x00", false, false},   // one key past them
		{"ma", "nz", false, true},      //
		{"a", "", false, false},        // nothing
		{"\x00", "\x00", false, false}, // everything
		{"\x00", "\x00", true, false},  //
	} {
		var err error
		if c.write && c.end == "" {
			err = h.s.IsPutPermitted(u, []byte(c.key))
		} else if c.write {
			h.s.mu.RLock()
			err = h.s.isOpPermitted(u, []byte(c.key), []byte(c.end), true)
			h.s.mu.RUnlock()
		} else {
			var end []byte
			if c.end != "" {
				end = []byte(c.end)
			}
			err = h.s.IsRangePermitted(u, []byte(c.key), end)
		}
		if (err == nil) != c.ok {
			t.Errorf("key %q end %q write %v: err %v, want ok=%v", c.key, c.end, c.write, err, c.ok)
		}
		if err != nil && err != rpctypes.ErrGRPCPermissionDenied {
			t.Errorf("key %q end %q: err %v, want permission denied", c.key, c.end, err)
		}
	}
	// Root may do anything; an unknown user nothing; no credentials is "user name is empty".
	if err := h.s.IsRangePermitted(AuthInfo{Username: "root", Revision: u.Revision}, []byte("\x00"), []byte("\x00")); err != nil {
		t.Errorf("root reading everything: %v", err)
	}
	wantErr(t, h.s.IsPutPermitted(AuthInfo{Username: "nobody", Revision: u.Revision}, []byte("foo")), rpctypes.ErrGRPCPermissionDenied)
	wantErr(t, h.s.IsPutPermitted(AuthInfo{}, []byte("foo")), rpctypes.ErrGRPCUserEmpty)
	wantErr(t, h.s.IsAdminPermitted(u), rpctypes.ErrGRPCPermissionDenied)
	wantErr(t, h.s.IsAdminPermitted(AuthInfo{Username: "nobody"}), rpctypes.ErrGRPCUserNotFound)
	// A change makes older credentials stale.
	h.mustAs("root", grantPerm("r", authpb.READ, "b", ""))
	wantErr(t, h.s.IsRangePermitted(u, []byte("foo"), nil), rpctypes.ErrGRPCAuthOldRevision)
}

// Writes are checked when applied, with the credentials the proposer put in
// the entry's header: every op of a txn, nested ones included, and every
// key of a revoked lease.
func TestAuthAppliedWrites(t *testing.T) {
	h := newHarness(t)
	setupAuth(h, grantPerm("r", authpb.READWRITE, "foo", "fop"))
	put := func(k string) *pb.InternalRaftRequest {
		return &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte(k), Value: []byte("v")}}
	}
	h.mustAs("u", put("foo1"))
	_, err := h.as("u", put("bar"))
	wantErr(t, err, rpctypes.ErrGRPCPermissionDenied)
	_, err = h.as("", put("foo1"))
	wantErr(t, err, rpctypes.ErrGRPCUserEmpty)
	h.mustAs("root", put("bar"))

	txn := func(rt *pb.TxnRequest) *pb.InternalRaftRequest { return &pb.InternalRaftRequest{Txn: rt} }
	h.mustAs("u", txn(&pb.TxnRequest{Compare: []*pb.Compare{cmpVer("foo1", pb.Compare_EQUAL, 1)}, Success: []*pb.RequestOp{opPut("foo2", "x")}}))
	for name, rt := range map[string]*pb.TxnRequest{
		"compare":        {Compare: []*pb.Compare{cmpVer("bar", pb.Compare_EQUAL, 1)}, Success: []*pb.RequestOp{opPut("foo2", "x")}},
		"failure branch": {Success: []*pb.RequestOp{opPut("foo2", "x")}, Failure: []*pb.RequestOp{opPut("bar", "x")}},
		"nested txn":     {Success: []*pb.RequestOp{opTxn(&pb.TxnRequest{Failure: []*pb.RequestOp{opPut("bar", "x")}})}},
	} {
		if _, err := h.as("u", txn(rt)); err != rpctypes.ErrGRPCPermissionDenied {
			t.Errorf("txn touching bar in its %s: err %v, want permission denied", name, err)
		}
	}
	if kv := h.get("bar"); string(kv.Value) != "v" {
		t.Fatalf("bar = %q after refused txns, want v", kv.Value)
	}

	// A lease holding bar: u may neither revoke it nor attach foo keys to it.
	if _, err := h.grant(7, 100); err != nil {
		t.Fatal(err)
	}
	h.mustAs("root", &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte("bar"), Value: []byte("l"), Lease: 7}})
	_, err = h.as("u", &pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: 7}})
	wantErr(t, err, rpctypes.ErrGRPCPermissionDenied)
	_, err = h.as("u", &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte("foo3"), Value: []byte("l"), Lease: 7}})
	wantErr(t, err, rpctypes.ErrGRPCPermissionDenied)
	h.mustAs("root", &pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: 7}})

	// Reading another user or a role not held is refused; one's own is not.
	h.mustAs("u", &pb.InternalRaftRequest{AuthUserGet: &pb.AuthUserGetRequest{Name: "u"}})
	h.mustAs("u", &pb.InternalRaftRequest{AuthRoleGet: &pb.AuthRoleGetRequest{Role: "r"}})
	_, err = h.as("u", &pb.InternalRaftRequest{AuthUserGet: &pb.AuthUserGetRequest{Name: "root"}})
	wantErr(t, err, rpctypes.ErrGRPCPermissionDenied)
	_, err = h.as("u", &pb.InternalRaftRequest{AuthUserList: &pb.AuthUserListRequest{}})
	wantErr(t, err, rpctypes.ErrGRPCPermissionDenied)
}

// Users, roles, permissions and the enabled flag live in the store file:
// they survive a reopen (restart) exactly as committed.
func TestAuthSurvivesReopen(t *testing.T) {
	h := newHarness(t)
	setupAuth(h, grantPerm("r", authpb.READWRITE, "foo", "fop"))
	rev := h.s.AuthRevision()
	if err := h.s.Commit(); err != nil {
		t.Fatal(err)
	}
	h.reopen()
	if !h.s.AuthEnabled() || h.s.AuthRevision() != rev {
		t.Fatalf("after reopen: enabled %v revision %d, want true %d", h.s.AuthEnabled(), h.s.AuthRevision(), rev)
	}
	u, _ := h.s.AuthUser("u")
	if u == nil || len(u.Roles) != 1 || u.Roles[0] != "r" || bcrypt.CompareHashAndPassword(u.Password, []byte("upw")) != nil {
		t.Fatalf("user u after reopen: %v", u)
	}
	ai := AuthInfo{Username: "u", Revision: rev}
	if err := h.s.IsPutPermitted(ai, []byte("foo9")); err != nil {
		t.Fatalf("u writing foo9 after reopen: %v", err)
	}
	wantErr(t, h.s.IsPutPermitted(ai, []byte("bar")), rpctypes.ErrGRPCPermissionDenied)
}

func TestAuthAuthenticateToken(t *testing.T) {
	h := newHarness(t)
	auth := func(name string) (*pb.AuthenticateResponse, error) {
		resp, err := h.apply(&pb.InternalRaftRequest{Authenticate: &pb.InternalAuthenticateRequest{Name: name, SimpleToken: "abc"}})
		if err != nil {
			return nil, err
		}
		return resp.(*pb.AuthenticateResponse), nil
	}
	_, err := auth("root")
	wantErr(t, err, rpctypes.ErrGRPCAuthNotEnabled)
	setupAuth(h)
	resp, err := auth("u")
	if err != nil {
		t.Fatal(err)
	}
	if want := SimpleToken("abc", h.idx); resp.Token != want {
		t.Fatalf("token %q, want %q (prefix.index)", resp.Token, want)
	}
	_, err = auth("nobody")
	wantErr(t, err, rpctypes.ErrGRPCAuthFailed)
}

func TestAuthGrantPermissionValidation(t *testing.T) {
	h := newHarness(t)
	h.mustAs("", &pb.InternalRaftRequest{AuthRoleAdd: &pb.AuthRoleAddRequest{Name: "r"}})
	_, err := h.as("", grantPerm("r", authpb.READ, "b", "a"))
	wantErr(t, err, rpctypes.ErrGRPCInvalidAuthMgmt)
	_, err = h.as("", &pb.InternalRaftRequest{AuthRoleGrantPermission: &pb.AuthRoleGrantPermissionRequest{Name: "r"}})
	wantErr(t, err, rpctypes.ErrGRPCPermissionNotGiven)
	_, err = h.as("", grantPerm("nope", authpb.READ, "a", ""))
	wantErr(t, err, rpctypes.ErrGRPCRoleNotFound)
	// Granting the same key and range again changes its type.
	h.mustAs("", grantPerm("r", authpb.READ, "a", "b"))
	h.mustAs("", grantPerm("r", authpb.READWRITE, "a", "b"))
	resp := h.mustApply(&pb.InternalRaftRequest{AuthRoleGet: &pb.AuthRoleGetRequest{Role: "r"}}).(*pb.AuthRoleGetResponse)
	if len(resp.Perm) != 1 || resp.Perm[0].PermType != authpb.READWRITE {
		t.Fatalf("role r: %v, want one READWRITE permission", resp.Perm)
	}
	_, err = h.as("", &pb.InternalRaftRequest{AuthRoleRevokePermission: &pb.AuthRoleRevokePermissionRequest{Role: "r", Key: []byte("a")}})
	wantErr(t, err, rpctypes.ErrGRPCPermissionNotGranted)
}
