package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"coordlab/engines/zab/jute"
	"coordlab/engines/zab/server/servertest"
)

var (
	binOnce sync.Once
	binDir  string
	zabBin  string
	binErr  error
)

// binary builds cmd/zab once per test process, on first use, so that
// processes that run no process-level test (fuzz workers) build nothing.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "zab-e2e-bin")
		if binErr == nil {
			zabBin, binErr = servertest.Build(binDir)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return zabBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

func startEnsemble(t *testing.T, extra ...string) (*servertest.Ensemble, int) {
	t.Helper()
	return startEnsembleOpts(t, servertest.Options{Extra: extra})
}

func startEnsembleOpts(t *testing.T, opts servertest.Options) (*servertest.Ensemble, int) {
	t.Helper()
	return startMembers(t, 3, opts)
}

// startMembers starts an n-member zab with opts and waits until it serves;
// it returns the leader's index.
func startMembers(t *testing.T, n int, opts servertest.Options) (*servertest.Ensemble, int) {
	t.Helper()
	e, err := servertest.New(binary(t), t.TempDir(), n, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.Cleanup(t)
	if err := e.StartAll(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	leader, err := e.WaitServing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return e, leader
}

// connect opens a go-zk session to addrs and waits until it has a session.
func connect(t *testing.T, timeout time.Duration, addrs ...string) *zk.Conn {
	t.Helper()
	c, events := connectEvents(t, timeout, addrs...)
	go func() {
		for range events {
		}
	}()
	return c
}

// connectEvents is connect that also returns the session's event channel,
// on which go-zk delivers every watch event in arrival order.
func connectEvents(t *testing.T, timeout time.Duration, addrs ...string) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	c, events, err := zk.Connect(addrs, timeout, zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return c, events
			}
		case <-deadline:
			t.Fatalf("no session with %v within 15s", addrs)
		}
	}
}

var acl = zk.WorldACL(zk.PermAll)

func waitEvent(t *testing.T, ch <-chan zk.Event) zk.Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(15 * time.Second):
		t.Fatal("no watch event within 15s")
	}
	return zk.Event{}
}

func TestEnsembleWithGoZK(t *testing.T) {
	t.Parallel()
	// TTL nodes need ZooKeeper's system property, set as zkServer.sh users do.
	e, leader := startEnsembleOpts(t, servertest.Options{Env: []string{"SERVER_JVMFLAGS=-Xmx1g -Dzookeeper.extendedTypesEnabled=true"}})
	addrs := e.ClientAddrs()
	follower := 1
	if leader == 1 {
		follower = 2
	}
	cl := connect(t, 4*time.Second, e.Members[leader-1].ClientAddr())
	cf := connect(t, 4*time.Second, e.Members[follower-1].ClientAddr())

	t.Run("crud and versions", func(t *testing.T) {
		for _, c := range []*zk.Conn{cl, cf} {
			p := fmt.Sprintf("/crud-%d", c.SessionID())
			if got, err := c.Create(p, []byte("v0"), 0, acl); err != nil || got != p {
				t.Fatalf("create %s: %q %v", p, got, err)
			}
			if _, err := c.Create(p, nil, 0, acl); !errors.Is(err, zk.ErrNodeExists) {
				t.Fatalf("second create: %v, want ErrNodeExists", err)
			}
			data, st, err := c.Get(p)
			if err != nil || string(data) != "v0" || st.Version != 0 || st.DataLength != 2 {
				t.Fatalf("get: %q %+v %v", data, st, err)
			}
			st, err = c.Set(p, []byte("v1"), 0)
			if err != nil || st.Version != 1 {
				t.Fatalf("set v0->v1: %+v %v", st, err)
			}
			if _, err := c.Set(p, []byte("v2"), 0); !errors.Is(err, zk.ErrBadVersion) {
				t.Fatalf("stale set: %v, want ErrBadVersion", err)
			}
			if _, err := c.Create(p+"/child", nil, 0, acl); err != nil {
				t.Fatal(err)
			}
			if err := c.Delete(p, -1); !errors.Is(err, zk.ErrNotEmpty) {
				t.Fatalf("delete non-empty: %v, want ErrNotEmpty", err)
			}
			kids, st, err := c.Children(p)
			if err != nil || !slices.Equal(kids, []string{"child"}) || st.NumChildren != 1 {
				t.Fatalf("children: %v %+v %v", kids, st, err)
			}
			if err := c.Delete(p+"/child", 0); err != nil {
				t.Fatal(err)
			}
			if err := c.Delete(p, 1); err != nil {
				t.Fatal(err)
			}
			if ok, _, err := c.Exists(p); ok || err != nil {
				t.Fatalf("exists after delete: %v %v", ok, err)
			}
			if _, _, err := c.Get(p); !errors.Is(err, zk.ErrNoNode) {
				t.Fatalf("get deleted: %v, want ErrNoNode", err)
			}
		}
	})

	t.Run("read your writes across members with sync", func(t *testing.T) {
		if _, err := cl.Create("/ryw", []byte("x"), 0, acl); err != nil {
			t.Fatal(err)
		}
		if _, err := cf.Sync("/ryw"); err != nil {
			t.Fatal(err)
		}
		if data, _, err := cf.Get("/ryw"); err != nil || string(data) != "x" {
			t.Fatalf("follower read after sync: %q %v", data, err)
		}
	})

	t.Run("sequential naming", func(t *testing.T) {
		if _, err := cf.Create("/seq", nil, 0, acl); err != nil {
			t.Fatal(err)
		}
		var got []string
		for i := range 3 {
			c := []*zk.Conn{cl, cf}[i%2]
			p, err := c.Create("/seq/n-", nil, zk.FlagSequence, acl)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, p)
		}
		want := []string{"/seq/n-0000000000", "/seq/n-0000000001", "/seq/n-0000000002"}
		if !slices.Equal(got, want) {
			t.Fatalf("sequential names %v, want %v", got, want)
		}
	})

	t.Run("watches fire once and in order", func(t *testing.T) {
		for _, p := range []string{"/wa", "/wb"} {
			if _, err := cl.Create(p, nil, 0, acl); err != nil {
				t.Fatal(err)
			}
		}
		cw, events := connectEvents(t, 4*time.Second, e.Members[follower-1].ClientAddr())
		_, _, wa, err := cw.GetW("/wa")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := cw.GetW("/wb"); err != nil {
			t.Fatal(err)
		}
		_, _, wc, err := cw.ChildrenW("/wa")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/wa", "/wb", "/wa"} {
			if _, err := cl.Set(p, []byte("x"), -1); err != nil {
				t.Fatal(err)
			}
		}
		var order []string
		for len(order) < 2 {
			ev := waitEvent(t, events)
			if ev.Type == zk.EventNodeDataChanged {
				order = append(order, ev.Path)
			}
		}
		if !slices.Equal(order, []string{"/wa", "/wb"}) {
			t.Fatalf("events in order %v, want [/wa /wb]", order)
		}
		if _, err := cl.Create("/wa/kid", nil, 0, acl); err != nil {
			t.Fatal(err)
		}
		if ev := waitEvent(t, wc); ev.Type != zk.EventNodeChildrenChanged || ev.Path != "/wa" {
			t.Fatalf("child watch: %+v", ev)
		}
		// One-shot: the third Set (on /wa again) fired nothing. The sync
		// reply comes after any notification of a txn applied before it.
		if _, err := cw.Sync("/wa"); err != nil {
			t.Fatal(err)
		}
		for drained := false; !drained; {
			select {
			case ev := <-events:
				if ev.Type == zk.EventNodeDataChanged {
					t.Fatalf("one-shot watch fired twice: %+v", ev)
				}
			default:
				drained = true
			}
		}
		if ev := <-wa; ev.Type != zk.EventNodeDataChanged {
			t.Fatalf("watch channel of /wa: %+v", ev)
		}
		if _, ok := <-wa; ok {
			t.Fatal("watch channel of /wa delivered twice")
		}
		// exists watch on a missing node fires NodeCreated.
		ok, _, we, err := cf.ExistsW("/wnew")
		if err != nil || ok {
			t.Fatalf("existsW missing: %v %v", ok, err)
		}
		if _, err := cl.Create("/wnew", nil, 0, acl); err != nil {
			t.Fatal(err)
		}
		if ev := waitEvent(t, we); ev.Type != zk.EventNodeCreated || ev.Path != "/wnew" {
			t.Fatalf("exists watch: %+v", ev)
		}
	})

	t.Run("multi is atomic", func(t *testing.T) {
		_, err := cf.Multi(
			&zk.CreateRequest{Path: "/m1", Data: []byte("a"), Acl: acl},
			&zk.SetDataRequest{Path: "/m-missing", Data: nil, Version: -1},
		)
		if !errors.Is(err, zk.ErrNoNode) {
			t.Fatalf("failing multi: %v, want ErrNoNode", err)
		}
		if ok, _, _ := cl.Exists("/m1"); ok {
			t.Fatal("failed multi left /m1 behind")
		}
		res, err := cf.Multi(
			&zk.CreateRequest{Path: "/m1", Data: []byte("a"), Acl: acl},
			&zk.CreateRequest{Path: "/m2", Data: []byte("b"), Acl: acl},
			&zk.SetDataRequest{Path: "/m1", Data: []byte("c"), Version: 0},
			&zk.CheckVersionRequest{Path: "/m2", Version: 0},
		)
		if err != nil || len(res) != 4 || res[0].String != "/m1" || res[2].Stat == nil || res[2].Stat.Version != 1 {
			t.Fatalf("multi: %+v %v", res, err)
		}
		if _, err := cl.Sync("/m1"); err != nil {
			t.Fatal(err)
		}
		if d, _, err := cl.Get("/m1"); err != nil || string(d) != "c" {
			t.Fatalf("after multi /m1 = %q %v", d, err)
		}
	})

	t.Run("ephemerals gone after close", func(t *testing.T) {
		c := connect(t, 4*time.Second, addrs[2])
		if _, err := c.Create("/eph-close", nil, zk.FlagEphemeral, acl); err != nil {
			t.Fatal(err)
		}
		ok, _, w, err := cl.ExistsW("/eph-close")
		if err != nil || !ok {
			t.Fatalf("existsW: %v %v", ok, err)
		}
		c.Close()
		if ev := waitEvent(t, w); ev.Type != zk.EventNodeDeleted {
			t.Fatalf("after close: %+v, want NodeDeleted", ev)
		}
	})

	t.Run("ephemerals gone after expiry", func(t *testing.T) {
		for _, m := range e.Members {
			// A raw session on each member that stops talking must expire.
			path := fmt.Sprintf("/eph-expire-%d", m.ID)
			rawEphemeral(t, m.ClientAddr(), path)
			ok, _, w, err := cl.ExistsW(path)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				if ev := waitEvent(t, w); ev.Type != zk.EventNodeDeleted {
					t.Fatalf("after expiry: %+v, want NodeDeleted", ev)
				}
			}
		}
	})

	t.Run("lock recipe across members", func(t *testing.T) {
		const workers, rounds = 3, 5
		var holders, max atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for i := range workers {
			c := connect(t, 4*time.Second, addrs[i])
			wg.Add(1)
			go func() {
				defer wg.Done()
				l := zk.NewLock(c, "/lock", acl)
				for range rounds {
					if err := l.Lock(); err != nil {
						errs <- err
						return
					}
					n := holders.Add(1)
					if n > max.Load() {
						max.Store(n)
					}
					time.Sleep(2 * time.Millisecond) // hold the lock briefly so overlaps would show
					holders.Add(-1)
					if err := l.Unlock(); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if max.Load() != 1 {
			t.Fatalf("lock held by %d clients at once", max.Load())
		}
	})

	t.Run("leader election recipe", func(t *testing.T) {
		if _, err := cl.Create("/election", nil, 0, acl); err != nil {
			t.Fatal(err)
		}
		var conns []*zk.Conn
		var names []string
		for i := range 3 {
			c := connect(t, 4*time.Second, addrs[i])
			p, err := c.Create("/election/c-", []byte(fmt.Sprint(i)), zk.FlagEphemeral|zk.FlagSequence, acl)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			names = append(names, p)
		}
		leaderOf := func() string {
			if _, err := cl.Sync("/election"); err != nil {
				t.Fatal(err)
			}
			kids, _, err := cl.Children("/election")
			if err != nil || len(kids) == 0 {
				t.Fatalf("children: %v %v", kids, err)
			}
			slices.Sort(kids)
			return "/election/" + kids[0]
		}
		if got := leaderOf(); got != names[0] {
			t.Fatalf("leader %s, want %s", got, names[0])
		}
		// The second candidate watches the first; the first resigns.
		ok, _, w, err := conns[1].ExistsW(names[0])
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		conns[0].Close()
		if ev := waitEvent(t, w); ev.Type != zk.EventNodeDeleted {
			t.Fatalf("predecessor watch: %+v", ev)
		}
		if got := leaderOf(); got != names[1] {
			t.Fatalf("after resign leader %s, want %s", got, names[1])
		}
	})

	t.Run("containers and TTL nodes are reaped by the leader", func(t *testing.T) {
		if _, err := cf.CreateContainer("/ctr", nil, zk.FlagContainer, acl); err != nil {
			t.Fatal(err)
		}
		if _, err := cf.Create("/ctr/kid", nil, 0, acl); err != nil {
			t.Fatal(err)
		}
		if _, err := cf.CreateTTL("/ttl", nil, zk.FlagTTL, acl, 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		_, _, wc, err := cl.ExistsW("/ctr")
		if err != nil {
			t.Fatal(err)
		}
		_, _, wt, err := cl.ExistsW("/ttl")
		if err != nil {
			t.Fatal(err)
		}
		if err := cf.Delete("/ctr/kid", -1); err != nil {
			t.Fatal(err)
		}
		// The container is now empty and the TTL node unmodified: both go.
		for _, ch := range []<-chan zk.Event{wc, wt} {
			ev := waitEvent(t, ch)
			if ev.Type == zk.EventNodeDataChanged {
				ev = waitEvent(t, ch)
			}
			if ev.Type != zk.EventNodeDeleted {
				t.Fatalf("reaping: %+v, want NodeDeleted", ev)
			}
		}
	})

	t.Run("digest ACL with addauth through a follower", func(t *testing.T) {
		a := connect(t, 4*time.Second, e.Members[follower-1].ClientAddr())
		if err := a.AddAuth("digest", []byte("alice:secret")); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Create("/acl", []byte("private"), 0, zk.DigestACL(zk.PermAll, "alice", "secret")); err != nil {
			t.Fatal(err)
		}
		if d, _, err := a.Get("/acl"); err != nil || string(d) != "private" {
			t.Fatalf("owner read: %q %v", d, err)
		}
		if _, err := a.Set("/acl", []byte("still mine"), -1); err != nil {
			t.Fatalf("owner write (ACL checked on the leader with forwarded auth): %v", err)
		}
		if _, _, err := cl.Get("/acl"); !errors.Is(err, zk.ErrNoAuth) {
			t.Fatalf("stranger read: %v, want ErrNoAuth", err)
		}
		if _, err := cf.Set("/acl", nil, -1); !errors.Is(err, zk.ErrNoAuth) {
			t.Fatalf("stranger write: %v, want ErrNoAuth", err)
		}
	})

	t.Run("session timeout negotiation and reconnect", func(t *testing.T) {
		// tickTime 200 ms: timeouts clamp to [400 ms, 4000 ms].
		for _, tc := range []struct{ ask, want int32 }{{1, 400}, {1000, 1000}, {600000, 4000}} {
			resp, _ := rawConnect(t, addrs[0], &jute.ConnectRequest{TimeOut: tc.ask, Passwd: make([]byte, 16)})
			if resp.TimeOut != tc.want || resp.SessionID == 0 || len(resp.Passwd) != 16 {
				t.Fatalf("ask %d ms: got %+v, want timeout %d", tc.ask, resp, tc.want)
			}
		}
		first, c := rawConnect(t, addrs[0], &jute.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)})
		c.Close()
		// Same id and password on another member: the same session.
		again, _ := rawConnect(t, addrs[1], &jute.ConnectRequest{TimeOut: 4000, SessionID: first.SessionID, Passwd: first.Passwd, LastZxidSeen: 1})
		if again.SessionID != first.SessionID {
			t.Fatalf("reconnect elsewhere: session %#x, want %#x", again.SessionID, first.SessionID)
		}
		// A wrong password is answered as expired (session id 0).
		bad := append([]byte(nil), first.Passwd...)
		bad[0] ^= 1
		if r, _ := rawConnect(t, addrs[2], &jute.ConnectRequest{TimeOut: 4000, SessionID: first.SessionID, Passwd: bad}); r.SessionID != 0 || r.TimeOut != 0 {
			t.Fatalf("wrong password: %+v, want the expired answer", r)
		}
	})

	t.Run("four letter words", func(t *testing.T) {
		for _, m := range e.Members {
			if out, _ := servertest.FourLetterWord(m.ClientAddr(), "ruok", 2*time.Second); out != "imok" {
				t.Fatalf("ruok on %d: %q", m.ID, out)
			}
			out, _ := servertest.FourLetterWord(m.ClientAddr(), "mntr", 2*time.Second)
			if !strings.Contains(out, "zk_server_state\t") || !strings.Contains(out, "zk_znode_count\t") {
				t.Fatalf("mntr on %d: %q", m.ID, out)
			}
			out, _ = servertest.FourLetterWord(m.ClientAddr(), "conf", 2*time.Second)
			if !strings.Contains(out, fmt.Sprintf("serverId=%d\n", m.ID)) {
				t.Fatalf("conf on %d: %q", m.ID, out)
			}
		}
		stats, ok := zk.FLWSrvr(addrs, 2*time.Second)
		if !ok {
			t.Fatalf("go-zk FLWSrvr failed to parse: %+v", stats)
		}
		modes := map[zk.Mode]int{}
		for _, s := range stats {
			modes[s.Mode]++
		}
		if modes[zk.ModeLeader] != 1 || modes[zk.ModeFollower] != 2 {
			t.Fatalf("modes %v, want 1 leader and 2 followers", modes)
		}
	})

	t.Run("malformed frame closes only that connection", func(t *testing.T) {
		for _, bad := range [][]byte{
			{0x7f, 0xff, 0xff, 0xff},                         // oversized length
			{0, 0, 0, 4, 1, 2, 3, 4},                         // connect request too short
			{0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0, 0, 0, 0, 0}, // negative length
		} {
			c, err := net.Dial("tcp", addrs[0])
			if err != nil {
				t.Fatal(err)
			}
			c.Write(bad)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := c.Read(make([]byte, 64))
			if err == nil {
				t.Fatalf("garbage %x got %d bytes back, want the connection closed", bad, n)
			}
			c.Close()
		}
		if _, err := cl.Create("/after-garbage", nil, 0, acl); err != nil {
			t.Fatalf("other client affected: %v", err)
		}
	})
}

// rawConnect sends a ConnectRequest by hand and returns the response and
// the open connection (closed at the end of the test).
func rawConnect(t *testing.T, addr string, req *jute.ConnectRequest) (*jute.ConnectResponse, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := c.Write(jute.AppendFrame(nil, req)); err != nil {
		t.Fatal(err)
	}
	body, err := jute.ReadFrame(c, nil, 0)
	if err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	resp, err := jute.DecodeConnectResponse(body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, c
}

// rawEphemeral opens a session by hand (jute frames), creates an ephemeral
// node and drops the TCP connection without closing the session, so the
// session can only end by expiry.
func rawEphemeral(t *testing.T, addr, path string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := c.Write(jute.AppendFrame(nil, &jute.ConnectRequest{TimeOut: 400, Passwd: make([]byte, 16)})); err != nil {
		t.Fatal(err)
	}
	body, err := jute.ReadFrame(c, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := jute.DecodeConnectResponse(body)
	if err != nil || resp.SessionID == 0 {
		t.Fatalf("connect: %+v %v", resp, err)
	}
	req := jute.AppendRequest(nil, jute.RequestHeader{Xid: 1, Type: jute.OpCreate},
		&jute.CreateRequest{Path: path, ACL: jute.OpenACLUnsafe(), Flags: 1})
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	body, err = jute.ReadFrame(c, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	hdr, _, err := jute.DecodeReply(body, jute.OpCreate)
	if err != nil || hdr.Err != jute.ZOK {
		t.Fatalf("create %s: %+v %v", path, hdr, err)
	}
}

// zkCli runs Debian's zkCli.sh against addr with one command and returns
// its output. zkCli.sh exits 1 when the command fails (as against ZooKeeper),
// so callers check the output, not the exit status.
func zkCli(t *testing.T, addr string, args ...string) string {
	t.Helper()
	cmd := exec.Command("/usr/share/zookeeper/bin/zkCli.sh", append([]string{"-server", addr}, args...)...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("zkCli %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestZkCli(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/usr/share/zookeeper/bin/zkCli.sh"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("zkCli.sh missing under CI=true: install Debian's zookeeper package (scripts/setup.sh)")
		}
		t.Skip("zkCli.sh not installed")
	}
	// zkCli.sh asks for 30 s sessions; allow them, so its ephemerals do
	// not expire in the middle of the test.
	e, _ := startEnsemble(t, "maxSessionTimeout=30000")
	addr := e.Members[0].ClientAddr()
	if out := zkCli(t, addr, "create", "/cli", "hello"); !strings.Contains(out, "Created /cli") {
		t.Fatalf("create: %s", out)
	}
	if out := zkCli(t, addr, "create", "-e", "-s", "/cli/e-", "x"); !strings.Contains(out, "Created /cli/e-0000000000") {
		t.Fatalf("create -e -s: %s", out)
	}
	zkCli(t, addr, "create", "/cli/p", "1")
	// zkCli.sh exits without closing its session (as against ZooKeeper), so
	// the ephemeral stays until that session expires.
	if out := zkCli(t, addr, "ls", "/cli"); !strings.Contains(out, "[e-0000000000, p]") {
		t.Fatalf("ls: %s", out)
	}
	out := zkCli(t, e.Members[1].ClientAddr(), "get", "-s", "/cli")
	for _, want := range []string{"hello\n", "dataVersion = 0\n", "numChildren = 2\n", "ephemeralOwner = 0x0\n", "dataLength = 5\n", "cversion = 2\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("get -s: want %q in\n%s", want, out)
		}
	}
	zkCli(t, addr, "set", "/cli", "world")
	out = zkCli(t, addr, "stat", "/cli")
	if !strings.Contains(out, "dataVersion = 1\n") || !strings.Contains(out, "dataLength = 5\n") {
		t.Fatalf("stat after set: %s", out)
	}
	if out := zkCli(t, addr, "delete", "/cli"); !strings.Contains(out, "Node not empty: /cli") {
		t.Fatalf("delete non-empty: %s", out)
	}
	zkCli(t, addr, "create", "/cli/p/q", "")
	zkCli(t, addr, "deleteall", "/cli")
	if out := zkCli(t, addr, "ls", "/"); strings.Contains(out, "cli") {
		t.Fatalf("deleteall left /cli: %s", out)
	}
	if out := zkCli(t, addr, "delete", "/cli"); !strings.Contains(out, "Node does not exist: /cli") {
		t.Fatalf("delete missing: %s", out)
	}
}

// TestKillLeaderUnderWrites SIGKILLs the leader while clients write: a new
// leader serves within 2 s, no acknowledged write is lost, sessions survive
// and the killed member rejoins.
func TestKillLeaderUnderWrites(t *testing.T) {
	t.Parallel()
	// tickTime as the lab's zoo.cfg (1 s): failover must not wait for
	// syncLimit ticks of silence.
	e, leader := startEnsembleOpts(t, servertest.Options{TickTime: 1000})
	t0 := time.Now()
	step := func(what string) { t.Logf("%6.2fs %s", time.Since(t0).Seconds(), what) }
	var others []string
	for _, m := range e.Members {
		if m.ID != leader {
			others = append(others, m.ClientAddr())
		}
	}
	w := connect(t, 6*time.Second, e.ClientAddrs()...)
	obs := connect(t, 6*time.Second, others...)
	if _, err := w.Create("/k", nil, 0, acl); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Create("/k-eph", nil, zk.FlagEphemeral, acl); err != nil {
		t.Fatal(err)
	}
	sid := w.SessionID()
	// A client on the leader itself, with a watch: after the kill it must
	// reconnect elsewhere with its session and re-register the watch
	// (setWatches), which then fires.
	if _, err := w.Create("/k-watch", nil, 0, acl); err != nil {
		t.Fatal(err)
	}
	var wl *zk.Conn
	for range 20 {
		c := connect(t, 6*time.Second, e.ClientAddrs()...)
		if c.Server() == e.Members[leader-1].ClientAddr() {
			wl = c
			break
		}
		c.Close()
	}
	if wl == nil {
		t.Fatal("could not get a go-zk session on the leader in 20 tries")
	}
	wlSession := wl.SessionID()
	_, _, watch, err := wl.GetW("/k-watch")
	if err != nil {
		t.Fatal(err)
	}
	var acked []string
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p, err := w.Create(fmt.Sprintf("/k/n%06d", i), nil, 0, acl)
			if err == nil {
				acked = append(acked, p)
			}
		}
	}()
	time.Sleep(300 * time.Millisecond) // let writes flow before the fault
	step("writes flowing; killing the leader")
	killedAt := time.Now()
	e.Kill(leader)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	newLeader, err := e.WaitServing(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(killedAt)
	t.Logf("new leader %d serving %v after SIGKILL of %d", newLeader, elapsed, leader)
	// The figure is logged, not asserted (speed lives in benchmarks); the
	// 10 s WaitServing bound above is the liveness check.
	// Writes succeed again through the surviving members.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := obs.Create(fmt.Sprintf("/k/after-%d", time.Now().UnixNano()), nil, 0, acl); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no write succeeded within 10s after the new leader")
		}
	}
	step("writes succeed again")
	close(stop)
	<-done
	step("writer stopped")
	if _, err := obs.Set("/k-watch", []byte("changed"), -1); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, watch); ev.Type != zk.EventNodeDataChanged || ev.Path != "/k-watch" {
		t.Fatalf("watch across failover: %+v, want NodeDataChanged /k-watch", ev)
	}
	if wl.SessionID() != wlSession || wl.State() != zk.StateHasSession {
		t.Fatalf("leader's client: session %#x state %v, want %#x and a session", wl.SessionID(), wl.State(), wlSession)
	}
	if w.SessionID() != sid {
		t.Fatalf("writer session changed %#x -> %#x", sid, w.SessionID())
	}
	step("watch fired after failover")
	if err := e.Start(leader); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	_, err = e.WaitServing(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	step("killed member rejoined")
	// Every acknowledged write is on every member, the restarted one too.
	for _, m := range e.Members {
		c := connect(t, 6*time.Second, m.ClientAddr())
		if _, err := c.Sync("/k"); err != nil {
			t.Fatal(err)
		}
		kids, _, err := c.Children("/k")
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, k := range kids {
			have["/k/"+k] = true
		}
		for _, p := range acked {
			if !have[p] {
				t.Fatalf("member %d lost acknowledged write %s (%d acked, %d present)", m.ID, p, len(acked), len(kids))
			}
		}
		if ok, _, _ := c.Exists("/k-eph"); !ok {
			t.Fatalf("member %d: the surviving session's ephemeral is gone", m.ID)
		}
		c.Close()
	}
	t.Logf("%d acknowledged writes all present on 3 members", len(acked))
}

// TestRestartAll stops (SIGKILL) every member and restarts them: all
// acknowledged data is there.
func TestRestartAll(t *testing.T) {
	t.Parallel()
	e, _ := startEnsemble(t)
	c := connect(t, 4*time.Second, e.ClientAddrs()...)
	want := map[string]string{}
	for i := range 50 {
		p := fmt.Sprintf("/r%02d", i)
		if _, err := c.Create(p, []byte(p), 0, acl); err != nil {
			t.Fatal(err)
		}
		want[p] = p
	}
	if _, err := c.Set("/r00", []byte("changed"), 0); err != nil {
		t.Fatal(err)
	}
	want["/r00"] = "changed"
	c.Close()
	for _, m := range e.Members {
		e.Kill(m.ID)
	}
	if err := e.StartAll(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := e.WaitServing(ctx); err != nil {
		t.Fatal(err)
	}
	for _, m := range e.Members {
		c := connect(t, 4*time.Second, m.ClientAddr())
		for p, v := range want {
			d, _, err := c.Get(p)
			if err != nil || string(d) != v {
				t.Fatalf("member %d after restart: %s = %q %v, want %q", m.ID, p, d, err, v)
			}
		}
		c.Close()
	}
}
