package server

import (
	"bufio"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"coordlab/engines/zab/jute"
	"coordlab/proctest"
)

// benchSessions is how many sessions BenchmarkSessionMemory holds open
// (ZAB_BENCH_SESSIONS overrides it).
func benchSessions(b *testing.B) int {
	if v := os.Getenv("ZAB_BENCH_SESSIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("ZAB_BENCH_SESSIONS=%q: want a positive integer", v)
		}
		return n
	}
	return 5000
}

// openRawSession connects and completes the ConnectRequest handshake with
// nothing but a socket on the client side, so the client adds little to the
// memory measured.
func openRawSession(addr string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	req := &jute.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)}
	if _, err := c.Write(jute.AppendFrame(nil, req)); err != nil {
		c.Close()
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	payload, err := jute.ReadFrame(bufio.NewReaderSize(c, 64), nil, 0)
	if err != nil {
		c.Close()
		return nil, err
	}
	resp, err := jute.DecodeConnectResponse(payload)
	if err != nil || resp.SessionID == 0 {
		c.Close()
		return nil, err
	}
	c.SetReadDeadline(time.Time{})
	return c, nil
}

// memInUse is the Go heap and stack in use after a GC.
func memInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// rssBytes is the process's resident set (VmRSS), 0 if unknown.
func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				n, _ := strconv.ParseUint(f[0], 10, 64)
				return n << 10
			}
		}
	}
	return 0
}

// BenchmarkSessionMemory holds benchSessions sessions open on a standalone
// member (raw sockets that completed the handshake, then idle) and reports
// the memory each one costs: Go heap plus stacks in use, the resident set,
// and goroutines. The client sockets live in the same process and are
// included; they are a few hundred bytes each.
//
//	go test -run '^$' -bench SessionMemory -benchtime 1x ./engines/zab/server/
func BenchmarkSessionMemory(b *testing.B) {
	n := benchSessions(b)
	for range b.N {
		b.StopTimer()
		cfg := DefaultConfig()
		cfg.DataDir = b.TempDir()
		cfg.ClientPort = proctest.FreePort(b)
		cfg.MaxClientCnxns = 0
		s, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		s.Start()
		waitServingB(b, s)
		mem0, rss0, g0 := memInUse(), rssBytes(), runtime.NumGoroutine()
		b.StartTimer()
		conns := make([]net.Conn, 0, n)
		for range n {
			c, err := openRawSession(s.ClientAddr())
			if err != nil {
				b.Fatalf("session %d: %v", len(conns), err)
			}
			conns = append(conns, c)
		}
		b.StopTimer()
		mem1, rss1, g1 := memInUse(), rssBytes(), runtime.NumGoroutine()
		b.ReportMetric(float64(mem1-mem0)/float64(n), "heap+stack-B/session")
		if rss1 > rss0 {
			b.ReportMetric(float64(rss1-rss0)/float64(n), "rss-B/session")
		}
		b.ReportMetric(float64(g1-g0)/float64(n), "goroutines/session")
		for _, c := range conns {
			c.Close()
		}
		s.Stop()
	}
}

func waitServingB(b *testing.B, s *Server) {
	deadline := time.Now().Add(20 * time.Second)
	for !s.status().serving {
		if time.Now().After(deadline) {
			b.Fatal("standalone member not serving within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An idle session costs its reader goroutine, a 4 KiB read buffer and small
// structs: it used to cost 270 KB (a 4096-slot reply channel and two 64 KiB
// buffers allocated up front, and an idle writer goroutine).
func TestIdleSessionMemory(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.ClientPort = proctest.FreePort(t)
	cfg.MaxClientCnxns = 0
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Stop()
	waitLeader(t, []*Server{s})
	const n = 200
	mem0, g0 := memInUse(), runtime.NumGoroutine()
	for range n {
		c, err := openRawSession(s.ClientAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	perSession := float64(memInUse()-mem0) / n
	goroutines := float64(runtime.NumGoroutine()-g0) / n
	t.Logf("%.0f bytes and %.2f goroutines per idle session", perSession, goroutines)
	const limit = 32 << 10
	if perSession > limit {
		t.Fatalf("an idle session costs %.0f bytes of heap and stack, want at most %d", perSession, limit)
	}
	if goroutines > 1.05 {
		t.Fatalf("an idle session keeps %.2f goroutines, want 1 (its reader)", goroutines)
	}
}
