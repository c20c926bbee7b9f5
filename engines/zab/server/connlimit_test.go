package server

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"coordlab/proctest"
)

// waitClosedByServer reads c until the server closes it, failing after
// within.
func waitClosedByServer(t *testing.T, c net.Conn, within time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	var b [1]byte
	_, err := c.Read(b[:])
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection %s still open after %v", c.LocalAddr(), within)
	}
	if err != io.EOF && !isConnReset(err) {
		t.Fatalf("connection %s: read %v, want EOF", c.LocalAddr(), err)
	}
}

func isConnReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// 60 sockets from one address that never send a byte fill maxClientCnxns;
// they are closed after the sessionless timeout, counted in mntr, and a
// real client gets in.
func TestSilentConnectionsAreClosed(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TickTime = 100 * time.Millisecond
	cfg.DataDir = t.TempDir()
	cfg.ClientPort = proctest.FreePort(t)
	cfg.SessionlessCnxnTimeout = time.Second
	cfg.FourLetterWords = []string{"mntr", "srvr"}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Stop()
	waitLeader(t, []*Server{s})
	var silent []net.Conn
	for range cfg.MaxClientCnxns {
		c, err := net.Dial("tcp", s.ClientAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	// The address is now at its limit: one more is closed at accept. (Its
	// rejection is counted before the accept loop takes the next socket.)
	extra, err := net.Dial("tcp", s.ClientAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	waitClosedByServer(t, extra, 10*time.Second)
	if s.ConnectionsRejected() < 1 {
		t.Fatalf("ConnectionsRejected = %d after a connection over maxClientCnxns", s.ConnectionsRejected())
	}
	for _, c := range silent {
		waitClosedByServer(t, c, 30*time.Second)
	}
	// The readers count each expiry before releasing its slot; wait for the
	// slots so the next dial is not refused by a slot still held.
	deadline := time.Now().Add(10 * time.Second)
	for s.SessionlessExpired() < int64(len(silent)) {
		if time.Now().After(deadline) {
			t.Fatalf("SessionlessExpired = %d, want %d", s.SessionlessExpired(), len(silent))
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := zkConnect(t, s.ClientAddr())
	if _, _, err := c.Exists("/"); err != nil {
		t.Fatal(err)
	}
	out := fourLW(t, s.ClientAddr(), "mntr")
	if !strings.Contains(out, "zk_sessionless_connections_expired\t60\n") {
		t.Fatalf("mntr does not count the 60 silent connections:\n%s", out)
	}
}

// maxCnxns bounds connections from every address together; the one over
// it is closed at accept, and a slot frees when a connection closes.
func TestMaxCnxns(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TickTime = 100 * time.Millisecond
	cfg.DataDir = t.TempDir()
	cfg.ClientPort = proctest.FreePort(t)
	cfg.MaxCnxns = 5
	cfg.FourLetterWords = []string{"ruok"}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Stop()
	waitLeader(t, []*Server{s})
	var conns []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", s.ClientAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	zc := zkConnect(t, s.ClientAddr()) // the fifth
	if _, _, err := zc.Exists("/"); err != nil {
		t.Fatal(err)
	}
	extra, err := net.Dial("tcp", s.ClientAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	waitClosedByServer(t, extra, 10*time.Second)
	if got := s.ConnectionsRejected(); got != 1 {
		t.Fatalf("ConnectionsRejected = %d, want 1", got)
	}
	// Free one slot: a new connection is served.
	conns[0].Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", s.ClientAddr())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("ruok"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		c.Close()
		if string(b) == "imok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no connection accepted after one of the maxCnxns closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestZooCfgConnectionLimits(t *testing.T) {
	c := DefaultConfig()
	ignored, err := ParseZooCfg(&c, strings.NewReader("maxCnxns=7\nnio.sessionlessCnxnTimeout=1500\n"), "zoo.cfg")
	if err != nil || len(ignored) != 0 {
		t.Fatalf("parse: %v (ignored %v)", err, ignored)
	}
	if c.MaxCnxns != 7 || c.SessionlessCnxnTimeout != 1500*time.Millisecond {
		t.Fatalf("MaxCnxns=%d SessionlessCnxnTimeout=%v, want 7 and 1.5s", c.MaxCnxns, c.SessionlessCnxnTimeout)
	}
	if _, err := ParseZooCfg(&c, strings.NewReader("maxCnxns=-1\n"), "zoo.cfg"); !errors.Is(err, ErrConfig) {
		t.Fatalf("maxCnxns=-1: %v, want ErrConfig", err)
	}
	if d := DefaultConfig(); d.sessionlessTimeout() != 10*time.Second {
		t.Fatalf("default sessionless timeout %v, want ZooKeeper's 10s", d.sessionlessTimeout())
	}
}
