package znode

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"coordlab/engines/zab/jute"
)

const zooKeeperJar = "/usr/share/java/zookeeper.jar" // Debian's zookeeper package

// startZooKeeper runs a fresh standalone ZooKeeper 3.8 on a free loopback
// port and returns its address. Without Java or ZooKeeper it skips, or
// fails under CI=true.
func startZooKeeper(t *testing.T) string {
	t.Helper()
	java, err := exec.LookPath("java")
	if err == nil {
		_, err = os.Stat(zooKeeperJar)
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ZooKeeper differential test needs java and %s (scripts/setup.sh installs them): %v", zooKeeperJar, err)
		}
		t.Skipf("no ZooKeeper here (%v); CI runs this test", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	conf := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"admin.enableServer=false\n4lw.commands.whitelist=ruok\n", filepath.Join(dir, "data"), port)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(java, "-Xmx256m", "-cp", zooKeeperJar, "org.apache.zookeeper.server.ZooKeeperServerMain", cfg)
	logf, err := os.Create(filepath.Join(dir, "zookeeper.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ZooKeeper: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	// Ready when ruok answers imok; poll with a deadline.
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, err := zk.FLWRuok([]string{addr}, time.Second)[0], error(nil)
		if ok && err == nil {
			return addr
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("ZooKeeper at %s not ready after 60 s; its log:\n%s", addr, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitSession waits until go-zk has a session (it retries while ZooKeeper
// answers ruok but does not serve sessions yet).
func waitSession(t *testing.T, events <-chan zk.Event) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return
			}
		case <-timeout:
			t.Fatal("go-zk got no ZooKeeper session within 60 s")
		}
	}
}

// testLogger sends go-zk's log lines to the test log.
type testLogger struct{ t *testing.T }

func (l testLogger) Printf(format string, args ...any) { l.t.Logf("go-zk: "+format, args...) }

var zkErrCodes = map[error]jute.Code{
	zk.ErrNoNode: jute.ZNONODE, zk.ErrNodeExists: jute.ZNODEEXISTS, zk.ErrBadVersion: jute.ZBADVERSION,
	zk.ErrNotEmpty: jute.ZNOTEMPTY, zk.ErrNoChildrenForEphemerals: jute.ZNOCHILDRENFOREPHEMERALS,
	zk.ErrBadArguments: jute.ZBADARGUMENTS, zk.ErrInvalidACL: jute.ZINVALIDACL, zk.ErrNoAuth: jute.ZNOAUTH,
	zk.ErrAPIError: jute.ZAPIERROR, zk.ErrSessionExpired: jute.ZSESSIONEXPIRED,
}

func mustDigest(t *testing.T, userPassword string) jute.Id {
	t.Helper()
	return DigestID(userPassword)
}

func zkCode(t *testing.T, err error) jute.Code {
	t.Helper()
	if err == nil {
		return jute.ZOK
	}
	for e, c := range zkErrCodes {
		if errors.Is(err, e) {
			return c
		}
	}
	var n int32 // go-zk has no error value for some codes (ZRUNTIMEINCONSISTENCY)
	if _, scanErr := fmt.Sscanf(err.Error(), "unknown error: %d", &n); scanErr == nil {
		return jute.Code(n)
	}
	t.Fatalf("ZooKeeper returned an error outside the differential test's map: %v", err)
	return 0
}

// sameStat compares everything but ctime and mtime (ZooKeeper's clock).
func sameStat(a jute.Stat, b *zk.Stat) bool {
	return a.Czxid == b.Czxid && a.Mzxid == b.Mzxid && a.Pzxid == b.Pzxid && a.Version == b.Version &&
		a.Cversion == b.Cversion && a.Aversion == b.Aversion && a.EphemeralOwner == b.EphemeralOwner &&
		a.DataLength == b.DataLength && a.NumChildren == b.NumChildren
}

// TestAgainstZooKeeper runs the same seeded random writes against a real
// ZooKeeper 3.8 (through go-zookeeper/zk) and against a Tree, and compares
// every result code, created name and zxid-bearing Stat field, then the
// whole tree. It is the check that Stat and error semantics are
// ZooKeeper's, not just what the notes say.
func TestAgainstZooKeeper(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a JVM")
	}
	addr := startZooKeeper(t)
	seed := uint64(time.Now().UnixNano())
	if *modelSeed != 0 {
		seed = *modelSeed
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d (rerun with -znode.seed=%d): %s", seed, seed, fmt.Sprintf(format, args...))
	}
	c, events, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(testLogger{t}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitSession(t, events)
	sid := SessionID(c.SessionID())
	h := newHarness(t)
	h.session(sid) // zxid 1 on both
	// The connection authenticates as alice (auth is not a txn).
	if err := c.AddAuth("digest", []byte("alice:pw")); err != nil {
		t.Fatal(err)
	}
	alice := DigestID("alice:pw")
	auth := []jute.Id{alice}
	// ACLs to set, as go-zk and as jute sees them.
	acls := []struct {
		zk   []zk.ACL
		jute []jute.ACL
	}{
		{zk.WorldACL(zk.PermAll), jute.OpenACLUnsafe()},
		{zk.WorldACL(zk.PermRead), []jute.ACL{{Perms: jute.PermRead, ID: jute.WorldAnyone}}},
		{zk.WorldACL(zk.PermRead | zk.PermCreate), []jute.ACL{{Perms: jute.PermRead | jute.PermCreate, ID: jute.WorldAnyone}}},
		{zk.WorldACL(zk.PermWrite), []jute.ACL{{Perms: jute.PermWrite, ID: jute.WorldAnyone}}},
		{zk.DigestACL(zk.PermAll, "alice", "pw"), []jute.ACL{{Perms: jute.PermAll, ID: alice}}},
		{zk.DigestACL(zk.PermRead, "bob", "pw"), []jute.ACL{{Perms: jute.PermRead, ID: mustDigest(t, "bob:pw")}}},
		{zk.AuthACL(zk.PermAll), []jute.ACL{{Perms: jute.PermAll, ID: jute.Id{Scheme: "auth"}}}},
	}

	paths := []string{"/"}
	pick := func() string {
		p := paths[rng.IntN(len(paths))]
		if rng.IntN(3) == 0 && p != "/" {
			return p
		}
		return childPath(p, string(rune('a'+rng.IntN(3))))
	}
	version := func(path string) int32 {
		if rng.IntN(3) == 0 {
			return -1
		}
		if st, err := h.tree.Exists(path, nil, 0); err == nil && rng.IntN(2) == 0 {
			return st.Version
		}
		return int32(rng.IntN(2))
	}
	checkPath := func(step int, p string) {
		t.Helper()
		ok, zst, err := c.Exists(p)
		if err != nil {
			fail("step %d: ZooKeeper exists %q: %v", step, p, err)
		}
		st, ourErr := h.tree.Exists(p, nil, 0)
		if ok != (ourErr == nil) || ok && !sameStat(st, zst) {
			fail("step %d: %s: ZooKeeper exists=%v %+v\ntree exists=%v %+v", step, p, ok, zst, ourErr == nil, st)
		}
		zdata, _, zerr := c.Get(p)
		data, _, err := h.tree.GetData(p, auth, 0)
		if zkCode(t, zerr) != jute.CodeOf(err) || string(zdata) != string(data) {
			fail("step %d: get %s: ZooKeeper %q %v, tree %q %v", step, p, zdata, zerr, data, err)
		}
	}
	type op struct {
		typ     jute.Op
		path    string
		data    []byte
		flags   int32
		version int32
		acl     int // index into acls
	}
	randOp := func() op {
		o := op{path: pick(), data: []byte(fmt.Sprint(rng.IntN(10)))}
		if rng.IntN(3) == 0 {
			o.acl = rng.IntN(len(acls))
		}
		switch rng.IntN(6) {
		case 0, 1:
			o.typ, o.flags = jute.OpCreate, int32(rng.IntN(4))
		case 2:
			o.typ, o.version = jute.OpDelete, version(o.path)
		case 3, 4:
			o.typ, o.version = jute.OpSetData, version(o.path)
		default:
			o.typ, o.version = jute.OpCheck, version(o.path)
		}
		if o.path == "/" && o.typ != jute.OpCheck && o.typ != jute.OpSetData {
			o.typ = jute.OpSetData
		}
		return o
	}
	body := func(o op) jute.Record {
		switch o.typ {
		case jute.OpCreate:
			return &jute.CreateRequest{Path: o.path, Data: o.data, ACL: acls[o.acl].jute, Flags: o.flags}
		case jute.OpDelete:
			return &jute.DeleteRequest{Path: o.path, Version: o.version}
		case jute.OpSetData:
			return &jute.SetDataRequest{Path: o.path, Data: o.data, Version: o.version}
		}
		return &jute.CheckVersionRequest{Path: o.path, Version: o.version}
	}
	zkOp := func(o op) any {
		switch o.typ {
		case jute.OpCreate:
			return &zk.CreateRequest{Path: o.path, Data: o.data, Acl: acls[o.acl].zk, Flags: o.flags}
		case jute.OpDelete:
			return &zk.DeleteRequest{Path: o.path, Version: o.version}
		case jute.OpSetData:
			return &zk.SetDataRequest{Path: o.path, Data: o.data, Version: o.version}
		}
		return &zk.CheckVersionRequest{Path: o.path, Version: o.version}
	}
	const steps = 200
	for step := 0; step < steps; step++ {
		var touched []string
		if rng.IntN(5) == 0 {
			n := 1 + rng.IntN(3)
			var ops []op
			var zops []any
			mr := &jute.MultiRequest{}
			for range n {
				o := randOp()
				if o.typ == jute.OpCheck && o.path == "/" {
					o.path = "/a"
				}
				ops = append(ops, o)
				zops = append(zops, zkOp(o))
				mr.Ops = append(mr.Ops, jute.MultiOp{Type: o.typ, Body: body(o)})
				touched = append(touched, o.path, parentOf(o.path))
			}
			zres, zerr := c.Multi(zops...)
			res, _ := h.write(sid, jute.OpMulti, mr, auth...)
			if zkCode(t, zerr) != jute.ZOK && len(zres) == 0 {
				fail("step %d: multi failed without per-op results: %v", step, zerr)
			}
			for i := range ops {
				if got, want := res.Multi[i].Err, zkCode(t, zres[i].Error); got != want {
					fail("step %d multi op %d (%v %s): tree %v, ZooKeeper %v", step, i, ops[i].typ, ops[i].path, got, want)
				}
				if ops[i].typ == jute.OpCreate && zerr == nil {
					if res.Multi[i].Path != zres[i].String {
						fail("step %d multi create: tree %q, ZooKeeper %q", step, res.Multi[i].Path, zres[i].String)
					}
					paths = append(paths, zres[i].String)
					touched = append(touched, zres[i].String)
				}
			}
		} else if rng.IntN(8) == 0 {
			p := pick()
			a := rng.IntN(len(acls))
			v := int32(-1)
			if st, err := h.tree.Exists(p, nil, 0); err == nil && rng.IntN(2) == 0 {
				v = st.Aversion + int32(rng.IntN(2))
			}
			_, zerr := c.SetACL(p, acls[a].zk, v)
			res, _ := h.write(sid, jute.OpSetACL, &jute.SetACLRequest{Path: p, ACL: acls[a].jute, Version: v}, auth...)
			if got, want := res.Err, zkCode(t, zerr); got != want {
				fail("step %d setACL %s acl %d version %d: tree %v, ZooKeeper %v", step, p, a, v, got, want)
			}
			touched = append(touched, p)
		} else {
			o := randOp()
			touched = append(touched, o.path)
			if o.path != "/" {
				touched = append(touched, parentOf(o.path))
			}
			var zerr error
			var zname string
			switch o.typ {
			case jute.OpCreate:
				zname, zerr = c.Create(o.path, o.data, o.flags, acls[o.acl].zk)
			case jute.OpDelete:
				zerr = c.Delete(o.path, o.version)
			case jute.OpSetData:
				_, zerr = c.Set(o.path, o.data, o.version)
			case jute.OpCheck: // go-zk has no standalone check: send it as a one-op multi on both sides
				o.typ = jute.OpMulti
				_, zerr = c.Multi(&zk.CheckVersionRequest{Path: o.path, Version: o.version})
			}
			var res Result
			if o.typ == jute.OpMulti {
				res, _ = h.write(sid, jute.OpMulti, &jute.MultiRequest{Ops: []jute.MultiOp{{Type: jute.OpCheck, Body: &jute.CheckVersionRequest{Path: o.path, Version: o.version}}}}, auth...)
				res.Err = res.Multi[0].Err
			} else {
				res, _ = h.write(sid, o.typ, body(o), auth...)
			}
			if got, want := res.Err, zkCode(t, zerr); got != want {
				fail("step %d %v %s (version %d flags %d): tree %v, ZooKeeper %v", step, o.typ, o.path, o.version, o.flags, got, want)
			}
			if o.typ == jute.OpCreate && zerr == nil {
				if res.Path != zname {
					fail("step %d create: tree %q, ZooKeeper %q", step, res.Path, zname)
				}
				paths = append(paths, zname)
				touched = append(touched, zname)
			}
		}
		for _, p := range touched {
			checkPath(step, p)
		}
	}

	// Close the session on both (its ephemerals go), open another, and
	// compare the whole tree.
	c.Close()
	h.write(sid, jute.OpCloseSession, nil)
	c2, events2, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(testLogger{t}))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	waitSession(t, events2)
	h.session(SessionID(c2.SessionID()))
	if err := c2.AddAuth("digest", []byte("alice:pw")); err != nil {
		t.Fatal(err)
	}
	var walk func(p string)
	count := 0
	walk = func(p string) {
		kids, zst, zerr := c2.Children(p)
		ours, st, err := h.tree.Children(p, auth, 0)
		if zkCode(t, zerr) != jute.CodeOf(err) {
			fail("children %s: ZooKeeper %v, tree %v", p, zerr, err)
		}
		if zerr != nil { // no READ for alice: compare the Stat, walk the tree's list
			_, zst, _ = c2.Exists(p)
			st, _ = h.tree.Exists(p, nil, 0)
			ours, _, _ = h.tree.Children(p, []jute.Id{{Scheme: "super"}}, 0)
			kids = slices.Clone(ours)
		}
		slices.Sort(kids)
		if !slices.Equal(kids, ours) || !sameStat(st, zst) {
			fail("%s: ZooKeeper %v %+v\ntree %v %+v", p, kids, zst, ours, st)
		}
		count++
		for _, k := range kids {
			walk(strings.TrimSuffix(p, "/") + "/" + k)
		}
	}
	walk("/")
	if count != h.tree.NodeCount() {
		fail("ZooKeeper has %d nodes, the tree %d", count, h.tree.NodeCount())
	}
	t.Logf("seed %d: %d steps, %d nodes, last zxid %v, all equal", seed, steps, count, h.tree.LastZxid())
}
