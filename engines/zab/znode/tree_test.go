package znode

import (
	"errors"
	"testing"

	"coordlab/engines/zab/jute"
)

const (
	s1 SessionID = 0x0100002c73070000
	s2 SessionID = 0x0100002c73070001
)

func TestCreateErrors(t *testing.T) {
	tests := []struct {
		name  string
		op    jute.Op
		path  string
		acl   []jute.ACL
		flags int32
		ttl   int64
		want  jute.Code
	}{
		{"ok", jute.OpCreate, "/new", nil, 0, 0, jute.ZOK},
		{"exists", jute.OpCreate, "/p", nil, 0, 0, jute.ZNODEEXISTS},
		{"no parent", jute.OpCreate, "/nope/x", nil, 0, 0, jute.ZNONODE},
		{"relative path", jute.OpCreate, "p", nil, 0, 0, jute.ZBADARGUMENTS},
		{"trailing slash", jute.OpCreate, "/p/", nil, 0, 0, jute.ZBADARGUMENTS},
		{"trailing slash sequential ok", jute.OpCreate, "/p/", nil, jute.FlagPersistentSequential, 0, jute.ZOK},
		{"double slash", jute.OpCreate, "/p//x", nil, 0, 0, jute.ZBADARGUMENTS},
		{"dot component", jute.OpCreate, "/p/.", nil, 0, 0, jute.ZBADARGUMENTS},
		{"dotdot component", jute.OpCreate, "/p/../x", nil, 0, 0, jute.ZBADARGUMENTS},
		{"nul", jute.OpCreate, "/p\x00", nil, 0, 0, jute.ZBADARGUMENTS},
		{"root", jute.OpCreate, "/", nil, 0, 0, jute.ZBADARGUMENTS},
		{"under ephemeral", jute.OpCreate, "/e/x", nil, 0, 0, jute.ZNOCHILDRENFOREPHEMERALS},
		{"empty acl", jute.OpCreate, "/x", []jute.ACL{}, 0, 0, jute.ZINVALIDACL},
		{"bad world id", jute.OpCreate, "/x", []jute.ACL{{Perms: 31, ID: jute.Id{Scheme: "world", ID: "me"}}}, 0, 0, jute.ZINVALIDACL},
		{"unknown scheme", jute.OpCreate, "/x", []jute.ACL{{Perms: 31, ID: jute.Id{Scheme: "sasl", ID: "u"}}}, 0, 0, jute.ZINVALIDACL},
		{"ip scheme", jute.OpCreate, "/x", []jute.ACL{{Perms: 31, ID: jute.Id{Scheme: "ip", ID: "10.0.0.0/8"}}}, 0, 0, jute.ZOK},
		{"bad ip", jute.OpCreate, "/x", []jute.ACL{{Perms: 31, ID: jute.Id{Scheme: "ip", ID: "10.0.0.300"}}}, 0, 0, jute.ZINVALIDACL},
		{"auth scheme without auth", jute.OpCreate, "/x", []jute.ACL{{Perms: 31, ID: jute.Id{Scheme: "auth"}}}, 0, 0, jute.ZINVALIDACL},
		{"bad flags", jute.OpCreate, "/x", nil, 9, 0, jute.ZBADARGUMENTS},
		{"container flag on create", jute.OpCreate, "/x", nil, jute.FlagContainer, 0, jute.ZOK},
		{"ttl flag on create", jute.OpCreate, "/x", nil, jute.FlagPersistentWithTTL, 0, jute.ZBADARGUMENTS},
		{"ttl op without ttl flag", jute.OpCreateTTL, "/t", nil, jute.FlagPersistent, 1000, jute.ZBADARGUMENTS},
		{"container", jute.OpCreateContainer, "/c", nil, jute.FlagContainer, 0, jute.ZOK},
		{"ttl", jute.OpCreateTTL, "/t", nil, jute.FlagPersistentWithTTL, 1000, jute.ZOK},
		{"ttl zero", jute.OpCreateTTL, "/t", nil, jute.FlagPersistentWithTTL, 0, jute.ZBADARGUMENTS},
		{"ttl too big", jute.OpCreateTTL, "/t", nil, jute.FlagPersistentWithTTL, MaxTTL + 1, jute.ZBADARGUMENTS},
		{"under /zookeeper is allowed", jute.OpCreate, "/zookeeper/x", nil, 0, 0, jute.ZOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.session(s1)
			h.mustCreate(s1, "/p", "", 0)
			h.mustCreate(s1, "/e", "", jute.FlagEphemeral)
			acl := tt.acl
			if acl == nil {
				acl = jute.OpenACLUnsafe()
			}
			var body jute.Record = &jute.CreateRequest{Path: tt.path, ACL: acl, Flags: tt.flags}
			if tt.op == jute.OpCreateTTL {
				body = &jute.CreateTTLRequest{Path: tt.path, ACL: acl, Flags: tt.flags, TTL: tt.ttl}
			}
			before := h.zxid
			res, _ := h.write(s1, tt.op, body)
			if res.Err != tt.want {
				t.Fatalf("create %q flags %d: got %v, want %v", tt.path, tt.flags, res.Err, tt.want)
			}
			if h.zxid != before+1 {
				t.Fatalf("zxid went %v -> %v: a failed write must still use one zxid", before, h.zxid)
			}
		})
	}
}

// TestCreateModes checks every create opcode with every CreateMode flag
// against what ZooKeeper 3.8 does (PrepRequestProcessor.pRequest2Txn and
// DataTree.processTxn): the opcode makes the node's kind, the flags its
// sequence suffix, and a TTL mode is valid with createTTL only (the
// harness enables extended types; TestTTLNeedsExtendedTypes covers the
// default).
func TestCreateModes(t *testing.T) {
	const bad = NodeKind(255) // ZBADARGUMENTS
	type want struct {
		kind NodeKind
		seq  bool
	}
	p, e, c, ttl := want{KindPersistent, false}, want{KindEphemeral, false}, want{KindContainer, false}, want{KindTTL, false}
	seq := func(w want) want { w.seq = true; return w }
	no := want{kind: bad}
	// Indexed by flag 0..7.
	table := map[jute.Op][8]want{
		jute.OpCreate:          {p, e, seq(p), seq(e), p, no, no, no},
		jute.OpCreate2:         {p, e, seq(p), seq(e), p, no, no, no},
		jute.OpCreateContainer: {c, c, seq(c), seq(c), c, no, no, no},
		jute.OpCreateTTL:       {no, no, no, no, no, ttl, seq(ttl), no},
	}
	for op, row := range table {
		for flags, w := range row {
			h := newHarness(t)
			h.session(s1)
			var body jute.Record = &jute.CreateRequest{Path: "/n", ACL: jute.OpenACLUnsafe(), Flags: int32(flags)}
			if op == jute.OpCreateTTL {
				body = &jute.CreateTTLRequest{Path: "/n", ACL: jute.OpenACLUnsafe(), Flags: int32(flags), TTL: 1000}
			}
			res, _ := h.write(s1, op, body)
			if w.kind == bad {
				if res.Err != jute.ZBADARGUMENTS {
					t.Errorf("%v flags %d: %v, want ZBADARGUMENTS", op, flags, res.Err)
				}
				continue
			}
			wantPath := "/n"
			if w.seq {
				wantPath += SequenceSuffix(0)
			}
			if res.Err != jute.ZOK || res.Path != wantPath {
				t.Errorf("%v flags %d: %v %q, want ZOK %q", op, flags, res.Err, res.Path, wantPath)
				continue
			}
			if got := h.tree.nodes[wantPath].kind; got != w.kind {
				t.Errorf("%v flags %d: made a %v node, want %v", op, flags, got, w.kind)
			}
		}
	}
}

// TestTTLNeedsExtendedTypes: without zookeeper.extendedTypesEnabled (the
// default) every create with a TTL mode is ZUNIMPLEMENTED, as ZooKeeper
// 3.8's validateCreateRequest answers (zkCli's create -t prints
// "KeeperErrorCode = Unimplemented"); other modes are unaffected.
func TestTTLNeedsExtendedTypes(t *testing.T) {
	h := newHarness(t)
	h.tree.SetExtendedTypes(false)
	h.session(s1)
	for _, tt := range []struct {
		op   jute.Op
		body jute.Record
		want jute.Code
	}{
		{jute.OpCreateTTL, &jute.CreateTTLRequest{Path: "/t", ACL: jute.OpenACLUnsafe(), Flags: jute.FlagPersistentWithTTL, TTL: 1000}, jute.ZUNIMPLEMENTED},
		{jute.OpCreateTTL, &jute.CreateTTLRequest{Path: "/t", ACL: jute.OpenACLUnsafe(), Flags: jute.FlagPersistentSequentialWithTTL, TTL: 0}, jute.ZUNIMPLEMENTED},
		{jute.OpCreate, &jute.CreateRequest{Path: "/t", ACL: jute.OpenACLUnsafe(), Flags: jute.FlagPersistentWithTTL}, jute.ZUNIMPLEMENTED},
		{jute.OpCreateTTL, &jute.CreateTTLRequest{Path: "/t", ACL: jute.OpenACLUnsafe(), Flags: jute.FlagPersistent, TTL: 1000}, jute.ZBADARGUMENTS},
		{jute.OpCreateContainer, &jute.CreateRequest{Path: "/c", ACL: jute.OpenACLUnsafe(), Flags: jute.FlagContainer}, jute.ZOK},
	} {
		if res, _ := h.write(s1, tt.op, tt.body); res.Err != tt.want {
			t.Errorf("%v %+v: %v, want %v", tt.op, tt.body, res.Err, tt.want)
		}
	}
}

// TestStat checks every Stat field through create, setData, setACL, child
// create and child delete, as ZooKeeper fills them.
func TestStat(t *testing.T) {
	h := newHarness(t)
	// A fresh tree, as a fresh ZooKeeper reports it: cversion is
	// 2*creates - numChildren, and "/" and /zookeeper got their children
	// without a create.
	for path, want := range map[string]jute.Stat{
		"/":          {Cversion: -1, NumChildren: 1},
		"/zookeeper": {Cversion: -2, NumChildren: 2},
	} {
		if got := h.stat(path); got != want {
			t.Errorf("fresh %s: %+v, want %+v", path, got, want)
		}
	}
	h.session(s1) // zxid 1
	h.now = 1000
	h.mustCreate(s1, "/a", "hello", 0) // zxid 2
	want := jute.Stat{Czxid: 2, Mzxid: 2, Ctime: 1000, Mtime: 1000, DataLength: 5, Pzxid: 2}
	if got := h.stat("/a"); got != want {
		t.Fatalf("after create: %+v\nwant %+v", got, want)
	}
	h.now = 2000
	res, _ := h.write(s1, jute.OpSetData, &jute.SetDataRequest{Path: "/a", Data: []byte("hi"), Version: 0}) // 3
	want.Mzxid, want.Mtime, want.Version, want.DataLength = 3, 2000, 1, 2
	if res.Err != jute.ZOK || res.Stat != want {
		t.Fatalf("setData result %v %+v\nwant %+v", res.Err, res.Stat, want)
	}
	h.now = 3000
	res, _ = h.write(s1, jute.OpSetACL, &jute.SetACLRequest{Path: "/a", ACL: jute.OpenACLUnsafe(), Version: 0}) // 4
	want.Aversion = 1
	if res.Err != jute.ZOK || res.Stat != want {
		t.Fatalf("setACL result %v %+v\nwant %+v", res.Err, res.Stat, want)
	}
	h.mustCreate(s1, "/a/b", "", jute.FlagEphemeral) // 5
	want.Cversion, want.NumChildren, want.Pzxid = 1, 1, 5
	if got := h.stat("/a"); got != want {
		t.Fatalf("after child create: %+v\nwant %+v", got, want)
	}
	if got := h.stat("/a/b"); got.EphemeralOwner != int64(s1) || got.Czxid != 5 || got.Ctime != 3000 {
		t.Fatalf("ephemeral child stat %+v: want owner %x, czxid 5, ctime 3000", got, s1)
	}
	h.write(s1, jute.OpDelete, &jute.DeleteRequest{Path: "/a/b", Version: -1}) // 6
	want.NumChildren, want.Pzxid, want.Cversion = 0, 6, 2
	if got := h.stat("/a"); got != want {
		t.Fatalf("after child delete: %+v\nwant %+v (reported cversion counts the create and the delete)", got, want)
	}
	// Null data stays null (zkCli prints "null"), empty stays empty.
	h.write(s1, jute.OpSetData, &jute.SetDataRequest{Path: "/a", Data: nil, Version: -1})
	if d, st, _ := h.tree.GetData("/a", nil, 0); d != nil || st.DataLength != 0 {
		t.Errorf("after setData(nil): data %#v length %d, want nil, 0", d, st.DataLength)
	}
	h.write(s1, jute.OpSetData, &jute.SetDataRequest{Path: "/a", Data: []byte{}, Version: -1})
	if d, _, _ := h.tree.GetData("/a", nil, 0); d == nil {
		t.Error("after setData(empty): data is nil, want empty")
	}
	if h.tree.LastZxid() != 8 {
		t.Fatalf("LastZxid = %v, want 8", h.tree.LastZxid())
	}
}

func TestVersionChecks(t *testing.T) {
	h := newHarness(t)
	h.session(s1)
	h.mustCreate(s1, "/v", "", 0)
	h.mustCreate(s1, "/v/c", "", 0)
	tests := []struct {
		name string
		op   jute.Op
		body jute.Record
		want jute.Code
	}{
		{"setData stale", jute.OpSetData, &jute.SetDataRequest{Path: "/v", Version: 5}, jute.ZBADVERSION},
		{"setData any", jute.OpSetData, &jute.SetDataRequest{Path: "/v", Version: -1}, jute.ZOK},
		{"setData current", jute.OpSetData, &jute.SetDataRequest{Path: "/v", Version: 1}, jute.ZOK},
		{"setData missing", jute.OpSetData, &jute.SetDataRequest{Path: "/nope", Version: -1}, jute.ZNONODE},
		{"delete stale", jute.OpDelete, &jute.DeleteRequest{Path: "/v/c", Version: 3}, jute.ZBADVERSION},
		{"delete not empty", jute.OpDelete, &jute.DeleteRequest{Path: "/v", Version: -1}, jute.ZNOTEMPTY},
		{"delete missing", jute.OpDelete, &jute.DeleteRequest{Path: "/v/zz", Version: -1}, jute.ZNONODE},
		{"delete root", jute.OpDelete, &jute.DeleteRequest{Path: "/", Version: -1}, jute.ZBADARGUMENTS},
		{"delete /zookeeper", jute.OpDelete, &jute.DeleteRequest{Path: "/zookeeper/quota", Version: -1}, jute.ZBADARGUMENTS},
		{"setACL stale", jute.OpSetACL, &jute.SetACLRequest{Path: "/v", ACL: jute.OpenACLUnsafe(), Version: 4}, jute.ZBADVERSION},
		{"check stale", jute.OpCheck, &jute.CheckVersionRequest{Path: "/v", Version: 0}, jute.ZBADVERSION},
		{"check ok", jute.OpCheck, &jute.CheckVersionRequest{Path: "/v", Version: 2}, jute.ZOK},
		{"delete ok", jute.OpDelete, &jute.DeleteRequest{Path: "/v/c", Version: 0}, jute.ZOK},
	}
	for _, tt := range tests { // in order: each step sees the previous ones
		res, _ := h.write(s1, tt.op, tt.body)
		if res.Err != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, res.Err, tt.want)
		}
	}
	if got := h.stat("/v").Version; got != 2 {
		t.Errorf("/v version = %d, want 2", got)
	}
	if v, err := nextVersion(-2, -1); v != 0 || err != nil {
		t.Errorf("nextVersion(-2) = %d, %v; want 0 (skip -1 on wrap)", v, err)
	}
}

// TestSequentialNames follows the wire notes' observation on ZooKeeper
// 3.8.0: 3 sequential creates, 1 plain create and 1 delete under an empty
// parent, then the next suffix is 0000000004.
func TestSequentialNames(t *testing.T) {
	h := newHarness(t)
	h.session(s1)
	h.mustCreate(s1, "/q", "", 0)
	var names []string
	for range 3 {
		names = append(names, h.mustCreate(s1, "/q/n-", "", jute.FlagPersistentSequential))
	}
	h.mustCreate(s1, "/q/plain", "", 0)
	h.write(s1, jute.OpDelete, &jute.DeleteRequest{Path: names[0], Version: -1})
	if got := h.stat("/q").Cversion; got != 5 {
		t.Errorf("/q cversion = %d, want 5 (4 creates + 1 delete, as the notes observed)", got)
	}
	next := h.mustCreate(s1, "/q/n-", "", jute.FlagEphemeralSequential)
	want := []string{"/q/n-0000000000", "/q/n-0000000001", "/q/n-0000000002"}
	for i := range want {
		if names[i] != want[i] {
			t.Errorf("name %d = %q, want %q", i, names[i], want[i])
		}
	}
	if next != "/q/n-0000000004" {
		t.Errorf("next sequential = %q, want /q/n-0000000004", next)
	}
	// A trailing-slash prefix names the child by number alone.
	if got := h.mustCreate(s1, "/q/", "", jute.FlagPersistentSequential); got != "/q/0000000005" {
		t.Errorf("create /q/ sequential = %q, want /q/0000000005", got)
	}
	for _, tt := range []struct {
		n    int32
		want string
	}{{0, "0000000000"}, {42, "0000000042"}, {2147483647, "2147483647"}, {-1, "-000000001"}, {-2147483648, "-2147483648"}} {
		if got := SequenceSuffix(tt.n); got != tt.want {
			t.Errorf("SequenceSuffix(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestEphemeralsAndSessions(t *testing.T) {
	h := newHarness(t)
	h.session(s1)
	h.session(s2)
	h.mustCreate(s1, "/app", "", 0)
	h.mustCreate(s1, "/app/e1", "", jute.FlagEphemeral)
	h.mustCreate(s1, "/app/e2-", "", jute.FlagEphemeralSequential)
	h.mustCreate(s2, "/app/other", "", jute.FlagEphemeral)
	if got := h.tree.Ephemerals(s1, "/app"); len(got) != 2 || got[0] != "/app/e1" || got[1] != "/app/e2-0000000001" {
		t.Fatalf("Ephemerals(s1) = %v", got)
	}
	if res := h.create(s1, "/app/e1/child", "", 0); res.Err != jute.ZNOCHILDRENFOREPHEMERALS {
		t.Fatalf("child of ephemeral: %v, want ZNOCHILDRENFOREPHEMERALS", res.Err)
	}
	// Watches on the ephemerals fire when the session closes.
	h.tree.GetData("/app/e1", nil, 7)
	h.tree.Children("/app", nil, 8)
	res, ev := h.write(s1, jute.OpCloseSession, nil)
	if res.Err != jute.ZOK {
		t.Fatalf("close session: %v", res.Err)
	}
	if h.exists("/app/e1") || h.exists("/app/e2-0000000001") || !h.exists("/app/other") {
		t.Fatalf("after close: e1 %v e2 %v other %v; want only other left", h.exists("/app/e1"), h.exists("/app/e2-0000000001"), h.exists("/app/other"))
	}
	wantEv := []WatchEvent{
		{Conn: 7, Type: jute.EventNodeDeleted, Path: "/app/e1", Zxid: h.zxid},
		{Conn: 8, Type: jute.EventNodeChildrenChanged, Path: "/app", Zxid: h.zxid},
	}
	if !equalEvents(ev, wantEv) {
		t.Fatalf("close events %v\nwant %v", ev, wantEv)
	}
	if h.tree.HasSession(s1) || !h.tree.HasSession(s2) {
		t.Fatal("session s1 should be gone and s2 alive")
	}
	if res := h.create(s1, "/app/late", "", 0); res.Err != jute.ZSESSIONEXPIRED {
		t.Fatalf("write from a closed session: %v, want ZSESSIONEXPIRED", res.Err)
	}
	if got := h.tree.Sessions(); len(got) != 1 || got[0] != (Session{ID: s2, Timeout: 10000}) {
		t.Fatalf("Sessions() = %v", got)
	}
}

func equalEvents(a, b []WatchEvent) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMulti(t *testing.T) {
	h := newHarness(t)
	h.session(s1)
	h.mustCreate(s1, "/cap", "v0", 0)
	digest := h.tree.Digest()

	// The captured go-zk multi: create /cap/m, then check /cap version 99.
	multi := &jute.MultiRequest{Ops: []jute.MultiOp{
		{Type: jute.OpCreate, Body: &jute.CreateRequest{Path: "/cap/m", Data: []byte("m"), ACL: jute.OpenACLUnsafe()}},
		{Type: jute.OpCheck, Body: &jute.CheckVersionRequest{Path: "/cap", Version: 99}},
		{Type: jute.OpSetData, Body: &jute.SetDataRequest{Path: "/cap", Version: -1}},
	}}
	before := h.zxid
	res, ev := h.write(s1, jute.OpMulti, multi)
	wantCodes := []jute.Code{jute.ZOK, jute.ZBADVERSION, jute.ZRUNTIMEINCONSISTENCY}
	if res.Err != jute.ZOK || len(res.Multi) != 3 {
		t.Fatalf("failed multi result %+v", res)
	}
	for i, c := range wantCodes {
		if res.Multi[i].Err != c {
			t.Errorf("op %d: %v, want %v", i, res.Multi[i].Err, c)
		}
	}
	if h.exists("/cap/m") || len(ev) != 0 {
		t.Fatalf("failed multi changed the tree (exists %v) or fired %v", h.exists("/cap/m"), ev)
	}
	if h.zxid != before+1 || h.tree.Digest() == digest {
		// the digest covers LastZxid, so it moves, but nodes must not
		t.Fatalf("a failed multi must use one zxid")
	}
	st := h.stat("/cap")
	if st.Cversion != 0 || st.NumChildren != 0 || st.Version != 0 {
		t.Fatalf("/cap after failed multi %+v: nothing may change", st)
	}

	// A successful multi sees its own earlier ops.
	ok := &jute.MultiRequest{Ops: []jute.MultiOp{
		{Type: jute.OpCreate, Body: &jute.CreateRequest{Path: "/cap/x", Data: []byte("1"), ACL: jute.OpenACLUnsafe()}},
		{Type: jute.OpSetData, Body: &jute.SetDataRequest{Path: "/cap/x", Data: []byte("2"), Version: 0}},
		{Type: jute.OpCreate, Body: &jute.CreateRequest{Path: "/cap/s-", ACL: jute.OpenACLUnsafe(), Flags: jute.FlagPersistentSequential}},
		{Type: jute.OpCheck, Body: &jute.CheckVersionRequest{Path: "/cap/x", Version: 1}},
		{Type: jute.OpDelete, Body: &jute.DeleteRequest{Path: "/cap/x", Version: 1}},
	}}
	h.tree.Exists("/cap/x", nil, 3)
	res, ev = h.write(s1, jute.OpMulti, ok)
	for i, r := range res.Multi {
		if r.Err != jute.ZOK {
			t.Fatalf("op %d of good multi: %v", i, r.Err)
		}
	}
	if res.Multi[2].Path != "/cap/s-0000000001" || res.Multi[1].Stat.Version != 1 {
		t.Fatalf("multi results %+v", res.Multi)
	}
	if h.exists("/cap/x") || !h.exists("/cap/s-0000000001") {
		t.Fatal("multi effects missing")
	}
	// The exists watch fires once, for the create; the delete finds no watch left.
	if len(ev) != 1 || ev[0] != (WatchEvent{Conn: 3, Type: jute.EventNodeCreated, Path: "/cap/x", Zxid: h.zxid}) {
		t.Fatalf("multi events %v", ev)
	}
	if res, _ := h.write(s1, jute.OpMulti, &jute.MultiRequest{Ops: []jute.MultiOp{
		{Type: jute.OpGetData, Body: &jute.PathWatchRequest{Path: "/cap"}},
	}}); res.Multi[0].Err != jute.ZBADARGUMENTS {
		t.Fatalf("read op in a write multi: %+v, want ZBADARGUMENTS", res.Multi)
	}
}

// TestPending checks that Prepare sees changes prepared but not yet
// applied, as ZooKeeper's outstanding changes.
func TestPending(t *testing.T) {
	h := newHarness(t)
	h.session(s1)
	h.mustCreate(s1, "/p", "", 0)
	reqs := []struct {
		op   jute.Op
		body jute.Record
		want jute.Code
		path string
	}{
		{jute.OpCreate, &jute.CreateRequest{Path: "/p/a", ACL: jute.OpenACLUnsafe()}, jute.ZOK, "/p/a"},
		{jute.OpCreate, &jute.CreateRequest{Path: "/p/a", ACL: jute.OpenACLUnsafe()}, jute.ZNODEEXISTS, ""},
		{jute.OpSetData, &jute.SetDataRequest{Path: "/p/a", Version: 0}, jute.ZOK, ""},
		{jute.OpSetData, &jute.SetDataRequest{Path: "/p/a", Version: 0}, jute.ZBADVERSION, ""},
		{jute.OpCreate, &jute.CreateRequest{Path: "/p/s-", ACL: jute.OpenACLUnsafe(), Flags: 2}, jute.ZOK, "/p/s-0000000001"},
		{jute.OpCreate, &jute.CreateRequest{Path: "/p/s-", ACL: jute.OpenACLUnsafe(), Flags: 2}, jute.ZOK, "/p/s-0000000002"},
		{jute.OpDelete, &jute.DeleteRequest{Path: "/p", Version: -1}, jute.ZNOTEMPTY, ""},
		{jute.OpDelete, &jute.DeleteRequest{Path: "/p/a", Version: 1}, jute.ZOK, ""},
		{jute.OpSetData, &jute.SetDataRequest{Path: "/p/a", Version: -1}, jute.ZNONODE, ""},
		{jute.OpCloseSession, nil, jute.ZOK, ""},
		{jute.OpSetData, &jute.SetDataRequest{Path: "/p", Version: -1}, jute.ZSESSIONEXPIRED, ""},
	}
	var txns []Txn
	for i, r := range reqs {
		txn := h.prepare(Request{Op: r.op, Body: r.body, Session: s1, Cxid: int32(i)})
		got := jute.ZOK
		if txn.Type == TxnError {
			got = txn.Err
		}
		if got != r.want || txn.Path != r.path && r.path != "" {
			t.Fatalf("prepare %d (%v): %v %q, want %v %q", i, r.op, got, txn.Path, r.want, r.path)
		}
		txns = append(txns, txn)
	}
	if h.tree.PendingCount() != len(reqs) {
		t.Fatalf("PendingCount = %d, want %d", h.tree.PendingCount(), len(reqs))
	}
	for i, txn := range txns {
		res, _ := h.apply(txn)
		want := reqs[i].want
		if res.Err != want {
			t.Fatalf("apply %d: %v, want %v", i, res.Err, want)
		}
	}
	if h.tree.PendingCount() != 0 || len(h.tree.p.byPath) != 0 || len(h.tree.p.bySess) != 0 {
		t.Fatalf("pending not drained: %d txns, %d paths, %d sessions", h.tree.PendingCount(), len(h.tree.p.byPath), len(h.tree.p.bySess))
	}
	// ResetPending forgets a prepared create that was never proposed.
	h.session(s2)
	h.prepare(Request{Op: jute.OpCreate, Body: &jute.CreateRequest{Path: "/p/z", ACL: jute.OpenACLUnsafe()}, Session: s2})
	h.tree.ResetPending()
	if txn := h.prepare(Request{Op: jute.OpCreate, Body: &jute.CreateRequest{Path: "/p/z", ACL: jute.OpenACLUnsafe()}, Session: s2}); txn.Type != TxnCreate {
		t.Fatalf("after ResetPending: %+v, want a create", txn)
	}
	if _, err := h.tree.Prepare(&Request{Op: jute.OpGetData, Body: &jute.PathWatchRequest{Path: "/"}}); !errors.Is(err, ErrNotWrite) {
		t.Fatalf("Prepare(getData) err = %v, want ErrNotWrite", err)
	}
	if _, err := h.tree.Prepare(&Request{Op: jute.OpSetData, Body: &jute.PathRequest{Path: "/"}, Session: s2}); err == nil {
		t.Fatal("Prepare with the wrong body type succeeded")
	}
}

func TestACL(t *testing.T) {
	h := newHarness(t)
	h.session(s1)
	alice := DigestID("alice:secret")
	// base64(sha1("alice:secret")), computed independently.
	if alice != (jute.Id{Scheme: "digest", ID: "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="}) {
		t.Fatalf("DigestID = %v", alice)
	}
	// As DigestAuthenticationProvider.generateDigest: data without a colon
	// is all user, digested whole (base64(sha1("foo")), computed
	// independently).
	if got := DigestID("foo"); got != (jute.Id{Scheme: "digest", ID: "foo:C+7Hteo/D9vJXQ3UfzxbwnXaijM="}) {
		t.Fatalf("DigestID(foo) = %v", got)
	}
	bob := DigestID("bob:pw")
	wrongAlice := DigestID("alice:wrong")
	// auth scheme expands to the creator's digest id.
	res, _ := h.write(s1, jute.OpCreate, &jute.CreateRequest{Path: "/priv", Data: []byte("x"),
		ACL: []jute.ACL{{Perms: jute.PermAll, ID: jute.Id{Scheme: "auth"}}, {Perms: jute.PermRead, ID: jute.WorldAnyone}}}, alice)
	if res.Err != jute.ZOK {
		t.Fatalf("create with auth ACL: %v", res.Err)
	}
	acl, _, err := h.tree.GetACL("/priv", []jute.Id{alice})
	if err != nil || len(acl) != 2 || acl[0].ID != alice || acl[0].Perms != jute.PermAll {
		t.Fatalf("GetACL = %v, %v; want alice's digest with all perms first", acl, err)
	}
	// Without ADMIN (READ through world:anyone) the hash is hidden, as
	// ZooKeeper 3.8 answers: digest:alice:x.
	acl, _, err = h.tree.GetACL("/priv", nil)
	if err != nil || len(acl) != 2 || acl[0].ID != (jute.Id{Scheme: "digest", ID: "alice:x"}) || acl[1].ID != jute.WorldAnyone {
		t.Fatalf("GetACL without ADMIN = %v, %v; want digest:alice:x then world:anyone", acl, err)
	}
	tests := []struct {
		name string
		op   jute.Op
		body jute.Record
		auth []jute.Id
		want jute.Code
	}{
		{"anyone may read", jute.OpCheck, &jute.CheckVersionRequest{Path: "/priv", Version: -1}, nil, jute.ZOK},
		{"bob may not write", jute.OpSetData, &jute.SetDataRequest{Path: "/priv", Version: -1}, []jute.Id{bob}, jute.ZNOAUTH},
		{"wrong password may not write", jute.OpSetData, &jute.SetDataRequest{Path: "/priv", Version: -1}, []jute.Id{wrongAlice}, jute.ZNOAUTH},
		{"alice may write", jute.OpSetData, &jute.SetDataRequest{Path: "/priv", Version: -1}, []jute.Id{alice}, jute.ZOK},
		{"noauth before badversion", jute.OpSetACL, &jute.SetACLRequest{Path: "/priv", ACL: jute.OpenACLUnsafe(), Version: 7}, []jute.Id{bob}, jute.ZNOAUTH},
		{"bob may not create below", jute.OpCreate, &jute.CreateRequest{Path: "/priv/c", ACL: jute.OpenACLUnsafe()}, []jute.Id{bob}, jute.ZNOAUTH},
		{"alice creates below", jute.OpCreate, &jute.CreateRequest{Path: "/priv/c", ACL: []jute.ACL{{Perms: jute.PermAll, ID: bob}}}, []jute.Id{alice}, jute.ZOK},
		{"bob may not delete alice's child", jute.OpDelete, &jute.DeleteRequest{Path: "/priv/c", Version: -1}, []jute.Id{bob}, jute.ZNOAUTH},
		{"super bypasses", jute.OpDelete, &jute.DeleteRequest{Path: "/priv/c", Version: -1}, []jute.Id{{Scheme: "super", ID: "admin"}}, jute.ZOK},
	}
	for _, tt := range tests {
		res, _ := h.write(s1, tt.op, tt.body, tt.auth...)
		if res.Err != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, res.Err, tt.want)
		}
	}
	h.mustCreate(s1, "/closed", "", 0)
	h.write(s1, jute.OpSetACL, &jute.SetACLRequest{Path: "/closed", ACL: []jute.ACL{{Perms: jute.PermAdmin, ID: alice}}, Version: -1})
	if _, _, err := h.tree.GetData("/closed", []jute.Id{bob}, 0); !errors.Is(err, ErrNoAuth) {
		t.Errorf("GetData without READ: %v, want ErrNoAuth", err)
	}
	if _, _, err := h.tree.GetACL("/closed", []jute.Id{alice}); err != nil {
		t.Errorf("GetACL with ADMIN: %v", err)
	}
	// exists checks no ACL (ZooKeeper 3.8.0 answers it without READ).
	if _, err := h.tree.Exists("/closed", []jute.Id{bob}, 0); err != nil {
		t.Errorf("Exists without READ: %v, want nil", err)
	}
	// ip ACLs match the connection's ip id by address or prefix.
	h.write(s1, jute.OpCreate, &jute.CreateRequest{Path: "/lan", ACL: []jute.ACL{{Perms: jute.PermRead, ID: jute.Id{Scheme: "ip", ID: "10.1.0.0/16"}}}})
	for _, tt := range []struct {
		ip   string
		want error
	}{{"10.1.2.3", nil}, {"10.2.0.1", ErrNoAuth}, {"::ffff:10.1.0.9", nil}} {
		if _, _, err := h.tree.GetData("/lan", []jute.Id{{Scheme: "ip", ID: tt.ip}}, 0); !errors.Is(err, tt.want) && err != tt.want {
			t.Errorf("GetData from %s: %v, want %v", tt.ip, err, tt.want)
		}
	}
}
