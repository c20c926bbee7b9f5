package raftkv

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// testCluster is n members on loopback with real sockets and temp data dirs.
type testCluster struct {
	t       *testing.T
	cfgs    []Config
	servers []*Server
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("RAFTKV_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func freeListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func memberConfig(t *testing.T, name string, peerURL string, initial []InitialMember, dir string) Config {
	cfg := DefaultConfig()
	cfg.Name = name
	cfg.DataDir = dir
	cfg.PeerURLs = []string{peerURL}
	cfg.ListenPeerURLs = []string{peerURL}
	cfg.ClientURLs = []string{"http://127.0.0.1:1"}
	cfg.InitialCluster = initial
	cfg.ClusterToken = "test-token"
	cfg.TickInterval = 20 * time.Millisecond
	cfg.ElectionTicks = 10
	cfg.RequestTimeout = 3 * time.Second
	cfg.Logger = testLogger(t).With("member", name)
	return cfg
}

func newTestCluster(t *testing.T, n int, tweak func(*Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t}
	var lns []net.Listener
	var initial []InitialMember
	for i := range n {
		ln := freeListener(t)
		lns = append(lns, ln)
		initial = append(initial, InitialMember{Name: fmt.Sprintf("m%d", i), PeerURLs: []string{"http://" + ln.Addr().String()}})
	}
	for i := range n {
		cfg := memberConfig(t, initial[i].Name, initial[i].PeerURLs[0], initial, t.TempDir())
		if tweak != nil {
			tweak(&cfg)
		}
		c.cfgs = append(c.cfgs, cfg)
		lns[i].Close() // Start listens on the URL again: the port stays ours on loopback
	}
	c.servers = make([]*Server, n)
	for i := range n {
		c.start(i)
	}
	t.Cleanup(c.stopAll)
	return c
}

func (c *testCluster) start(i int) {
	c.t.Helper()
	s, err := New(c.cfgs[i])
	if err != nil {
		c.t.Fatalf("New(%s): %v", c.cfgs[i].Name, err)
	}
	if err := s.Start(); err != nil {
		c.t.Fatalf("Start(%s): %v", c.cfgs[i].Name, err)
	}
	c.servers[i] = s
}

func (c *testCluster) stop(i int) {
	if s := c.servers[i]; s != nil {
		s.Stop()
		c.servers[i] = nil
	}
}

func (c *testCluster) stopAll() {
	for i := range c.servers {
		c.stop(i)
	}
}

// waitLeader waits until every running member agrees on one leader and
// returns its index.
func (c *testCluster) waitLeader() int {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var lead uint64
		agree := true
		for _, s := range c.servers {
			if s == nil {
				continue
			}
			l := s.Leader()
			if l == 0 || (lead != 0 && l != lead) {
				agree = false
				break
			}
			lead = l
		}
		if agree && lead != 0 {
			for i, s := range c.servers {
				if s != nil && s.ID() == lead {
					return i
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatalf("no agreed leader within 10s")
	return -1
}

func put(ctx context.Context, s *Server, k, v string) (*pb.PutResponse, error) {
	resp, err := s.Propose(ctx, &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte(k), Value: []byte(v)}})
	if err != nil {
		return nil, err
	}
	return resp.(*pb.PutResponse), nil
}

// get does a linearizable read on s.
func get(ctx context.Context, s *Server, k string) (string, bool, error) {
	if err := s.LinearizableRead(ctx); err != nil {
		return "", false, err
	}
	resp, err := s.Store().Range(&pb.RangeRequest{Key: []byte(k)})
	if err != nil {
		return "", false, err
	}
	if len(resp.Kvs) == 0 {
		return "", false, nil
	}
	return string(resp.Kvs[0].Value), true, nil
}

func mustPut(t *testing.T, s *Server, k, v string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := put(ctx, s, k, v); err != nil {
		t.Fatalf("put %s=%s on %x: %v", k, v, s.ID(), err)
	}
}

func mustGet(t *testing.T, s *Server, k, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, ok, err := get(ctx, s, k)
	if err != nil || !ok || got != want {
		t.Fatalf("get %s on %x: got %q ok=%v err=%v, want %q", k, s.ID(), got, ok, err, want)
	}
}

func TestClusterPutGetAndFailover(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	lead := c.waitLeader()
	follower := (lead + 1) % 3
	mustPut(t, c.servers[lead], "a", "1")
	mustPut(t, c.servers[follower], "b", "2") // forwarded through raft
	for _, s := range c.servers {
		mustGet(t, s, "a", "1")
		mustGet(t, s, "b", "2")
	}
	// Kill the leader: the others elect a new one and keep serving.
	c.stop(lead)
	newLead := c.waitLeader()
	if newLead == lead {
		t.Fatalf("stopped member %d still leader", lead)
	}
	mustPut(t, c.servers[newLead], "c", "3")
	// Restart from the data dir: it catches up.
	c.start(lead)
	c.waitLeader()
	mustGet(t, c.servers[lead], "c", "3")
	mustGet(t, c.servers[lead], "a", "1")
	// IDs are etcd's: derived from the peer URLs and token.
	for i, s := range c.servers {
		want := MemberID(c.cfgs[i].PeerURLs, "test-token", nil)
		if s.ID() != want {
			t.Fatalf("member %d id %x, want %x", i, s.ID(), want)
		}
	}
}
