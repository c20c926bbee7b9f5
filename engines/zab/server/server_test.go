package server

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"coordlab/proctest"
)

type quietZK struct{}

func (quietZK) Printf(string, ...any) {}

// startInProcess starts n servers in this process (so -race sees the
// loop, transport and connection goroutines).
func startInProcess(t *testing.T, n int, tweak func(*Config)) []*Server {
	t.Helper()
	ms := testMembers(t, n)
	var out []*Server
	for _, m := range ms {
		c := DefaultConfig()
		c.ID = m.ID
		c.TickTime = 100 * time.Millisecond
		c.DataDir = t.TempDir()
		c.ClientPort = proctest.FreePort(t)
		c.HTTPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(proctest.FreePort(t)))
		c.AdminAddr = ":0" // no host: loopback
		c.Servers = ms
		if tweak != nil {
			tweak(&c)
		}
		s, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		out = append(out, s)
	}
	t.Cleanup(func() {
		for _, s := range out {
			s.Stop()
		}
	})
	return out
}

func waitLeader(t *testing.T, ss []*Server) *Server {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var leader *Server
		serving := 0
		for _, s := range ss {
			v := s.status()
			if v.serving {
				serving++
			}
			if v.mode == "leader" || v.mode == "standalone" {
				leader = s
			}
		}
		if leader != nil && serving == len(ss) {
			return leader
		}
		time.Sleep(10 * time.Millisecond) // polling the published status
	}
	t.Fatal("no leader with every member serving within 20s")
	return nil
}

func zkConnect(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	return zkConnectTimeout(t, addr, 2*time.Second)
}

func zkConnectTimeout(t *testing.T, addr string, timeout time.Duration) *zk.Conn {
	t.Helper()
	return zkConnectDial(t, addr, timeout, nil)
}

// zkConnectDial opens a go-zk session through dial (nil: go-zk's plain
// TCP dialer) and waits until it is established.
func zkConnectDial(t *testing.T, addr string, timeout time.Duration, dial zk.Dialer) *zk.Conn {
	t.Helper()
	var c *zk.Conn
	var ev <-chan zk.Event
	var err error
	if dial == nil {
		c, ev, err = zk.Connect([]string{addr}, timeout, zk.WithLogger(quietZK{}))
	} else {
		c, ev, err = zk.Connect([]string{addr}, timeout, zk.WithLogger(quietZK{}), zk.WithDialer(dial))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				go func() {
					for range ev {
					}
				}()
				return c
			}
		case <-deadline:
			t.Fatalf("no session with %s", addr)
		}
	}
}

func fourLW(t *testing.T, addr, cmd string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte(cmd))
	b, _ := io.ReadAll(c)
	return string(b)
}

func TestInProcessEnsemble(t *testing.T) {
	ss := startInProcess(t, 3, func(c *Config) { c.MaxClientCnxns = 4 })
	leader := waitLeader(t, ss)
	var follower *Server
	for _, s := range ss {
		if s != leader {
			follower = s
		}
	}
	cf := zkConnect(t, follower.ClientAddr())
	cl := zkConnect(t, leader.ClientAddr())

	t.Run("write on follower, read on leader after sync", func(t *testing.T) {
		if _, err := cf.Create("/a", []byte("1"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		if _, err := cf.Set("/a", []byte("2"), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Sync("/a"); err != nil {
			t.Fatal(err)
		}
		d, st, err := cl.Get("/a")
		if err != nil || string(d) != "2" || st.Version != 1 {
			t.Fatalf("leader read: %q %+v %v", d, st, err)
		}
	})

	t.Run("whitelist", func(t *testing.T) {
		if got := fourLW(t, leader.ClientAddr(), "ruok"); got != "ruok is not executed because it is not in the whitelist.\n" {
			t.Fatalf("ruok with default whitelist: %q", got)
		}
		if got := fourLW(t, leader.ClientAddr(), "srvr"); !strings.Contains(got, "Mode: leader\n") {
			t.Fatalf("srvr: %q", got)
		}
	})

	t.Run("maxClientCnxns", func(t *testing.T) {
		// cl and cf are on different members; open 4 raw connections to
		// the follower's member next to cf: the 4th (5th in all) is refused.
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for i := range 4 {
			c, err := net.Dial("tcp", follower.ClientAddr())
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			if i < 3 {
				continue
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err == nil {
				t.Fatal("connection over maxClientCnxns was not closed")
			}
		}
	})

	t.Run("admin clock is not on the health address", func(t *testing.T) {
		// POST /admin/clock has no authentication and expires every
		// session: the health/metrics address must not serve it.
		resp, err := http.Post("http://"+leader.cfg.HTTPAddr+"/admin/clock", "application/json", strings.NewReader(`{"offset":"1h"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("POST /admin/clock on zab.httpAddress: status %d, want 404", resp.StatusCode)
		}
		if got := leader.clock.skew.Load(); got != 0 {
			t.Fatalf("clock offset %v after a refused POST, want 0", time.Duration(got))
		}
		for _, s := range ss {
			if h, _, _ := net.SplitHostPort(s.AdminAddr()); h != "127.0.0.1" {
				t.Fatalf("zab.adminAddress=:0 bound %q, want loopback", s.AdminAddr())
			}
		}
	})

	t.Run("admin clock skew expires sessions", func(t *testing.T) {
		url := "http://" + leader.AdminAddr() + "/admin/clock"
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"offset":"0s"`) {
			t.Fatalf("GET /admin/clock: %d %s", resp.StatusCode, b)
		}
		resp, err = http.Post(url, "application/json", strings.NewReader(`{"offset":"soon"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("bad offset: status %d, want 400", resp.StatusCode)
		}
		// A 200 ms session (the minimum at tickTime 100 ms) expires when the
		// leader's clock jumps 1 s; the 2 s sessions of cf and cl do not.
		c := zkConnectTimeout(t, follower.ClientAddr(), 200*time.Millisecond)
		if _, err := c.Create("/skew-eph", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		ok, _, w, err := cf.ExistsW("/skew-eph")
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		resp, err = http.Post(url, "application/json", strings.NewReader(`{"offset":"1s"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("set offset: status %d", resp.StatusCode)
		}
		defer func() {
			r, err := http.Post(url, "application/json", strings.NewReader(`{"offset":"0s"}`))
			if err == nil {
				r.Body.Close()
			}
		}()
		select {
		case ev := <-w:
			if ev.Type != zk.EventNodeDeleted {
				t.Fatalf("event %+v, want NodeDeleted", ev)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("ephemeral of a skew-expired session not deleted within 10s")
		}
	})

	t.Run("health and metrics", func(t *testing.T) {
		for _, s := range ss {
			resp, err := http.Get("http://" + s.cfg.HTTPAddr + "/health")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), `"health":true`) {
				t.Fatalf("health of %d: %d %s", s.cfg.ID, resp.StatusCode, b)
			}
		}
		resp, err := http.Get("http://" + leader.cfg.HTTPAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{"zab_is_leader 1", "zab_fsyncs_total", "zab_proposals_total"} {
			if !strings.Contains(string(b), want) {
				t.Fatalf("metrics lack %q", want)
			}
		}
	})

	// Stop is idempotent.
	for _, s := range ss {
		if err := s.Stop(); err != nil {
			t.Fatalf("stop %d: %v", s.cfg.ID, err)
		}
		if err := s.Stop(); err != nil {
			t.Fatalf("second stop %d: %v", s.cfg.ID, err)
		}
	}
}

func TestStandaloneRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	port := proctest.FreePort(t)
	start := func() *Server {
		c := DefaultConfig()
		c.TickTime = 100 * time.Millisecond
		c.DataDir = dir
		c.ClientPort = port
		c.SnapshotTxns = 7 // exercise snapshots and log compaction
		s, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		waitLeader(t, []*Server{s})
		return s
	}
	s := start()
	c := zkConnect(t, s.ClientAddr())
	for i := range 30 {
		if _, err := c.Create(fmt.Sprintf("/n%d", i), []byte{byte(i)}, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	s = start()
	defer s.Stop()
	if s.status().mode != "standalone" {
		t.Fatalf("mode %q, want standalone", s.status().mode)
	}
	c = zkConnect(t, s.ClientAddr())
	for i := range 30 {
		d, _, err := c.Get(fmt.Sprintf("/n%d", i))
		if err != nil || len(d) != 1 || d[0] != byte(i) {
			t.Fatalf("/n%d after restart: %v %v", i, d, err)
		}
	}
	snaps, _ := listSnapshots(snapDir(dir))
	if len(snaps) == 0 {
		t.Fatal("no snapshot written with SnapshotTxns=7")
	}
}

// A member that was down while the leader's committed log moved on is
// brought back by SNAP: it installs the leader's tree, and keeps it across
// its own restart.
func TestSnapSyncAfterLongOutage(t *testing.T) {
	var cfgs []Config
	ss := startInProcess(t, 3, func(c *Config) {
		c.CommitLogCount = 20
		cfgs = append(cfgs, *c)
	})
	leader := waitLeader(t, ss)
	var down int
	for i, s := range ss {
		if s != leader {
			down = i
			break
		}
	}
	if err := ss[down].Stop(); err != nil {
		t.Fatal(err)
	}
	c := zkConnect(t, leader.ClientAddr())
	for i := range 60 {
		if _, err := c.Create(fmt.Sprintf("/s%02d", i), []byte{byte(i)}, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 2 {
		s, err := New(cfgs[down])
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		ss[down] = s
		waitLeader(t, ss)
		cd := zkConnect(t, s.ClientAddr())
		if _, err := cd.Sync("/"); err != nil {
			t.Fatal(err)
		}
		for i := range 60 {
			d, _, err := cd.Get(fmt.Sprintf("/s%02d", i))
			if err != nil || len(d) != 1 || d[0] != byte(i) {
				t.Fatalf("round %d: /s%02d on the returning member: %v %v", round, i, d, err)
			}
		}
		if round == 0 {
			if snaps, _ := listSnapshots(snapDir(cfgs[down].DataDir)); len(snaps) == 0 {
				t.Fatal("returning member has no snapshot after a SNAP sync")
			}
		}
		cd.Close()
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
	}
}
