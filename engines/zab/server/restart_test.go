package server

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"math/rand"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"coordlab/proctest"
)

// TestFullRestartTimeToServe measures how long a 5-member ensemble takes to
// serve again after all members restart at nearly the same time (start skew
// 0-60 ms). A member that decided to follow a non-leader used to wait
// initLimit before looking again. It is a measurement, not a check: run it
// with ZAB_RESTART_TRIALS=N; it logs each trial and the worst one.
func TestFullRestartTimeToServe(t *testing.T) {
	trials, _ := strconv.Atoi(os.Getenv("ZAB_RESTART_TRIALS"))
	if trials <= 0 {
		t.Skip("set ZAB_RESTART_TRIALS=N to measure")
	}
	ms := testMembers(t, 5)
	var cfgs []Config
	for _, m := range ms {
		c := DefaultConfig()
		c.ID = m.ID
		c.TickTime = 200 * time.Millisecond // initLimit = 2 s
		c.DataDir = t.TempDir()
		c.ClientPort = proctest.FreePort(t)
		c.Servers = ms
		cfgs = append(cfgs, c)
	}
	r := rand.New(rand.NewSource(1))
	var worst time.Duration
	slow := 0
	for trial := 0; trial < trials; trial++ {
		// Fresh ports each trial (a port freed by the last trial may be
		// taken by another process meanwhile); the data stays.
		ms := testMembers(t, 5)
		for i := range cfgs {
			cfgs[i].Servers, cfgs[i].ClientPort = ms, proctest.FreePort(t)
		}
		start := time.Now()
		var ss []*Server
		var logs bytes.Buffer
		for _, c := range cfgs {
			c.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &logs}, nil))
			time.Sleep(time.Duration(r.Intn(60)) * time.Millisecond)
			s, err := New(c)
			if err != nil {
				if !errors.Is(err, syscall.EADDRINUSE) {
					t.Fatal(err)
				}
				// A port picked by freePort was taken before the
				// member bound it (an outgoing connection's local port,
				// often): redo the trial on fresh ports.
				t.Logf("trial %d: %v; again on fresh ports", trial, err)
				break
			}
			s.Start()
			ss = append(ss, s)
		}
		if len(ss) < len(cfgs) {
			for _, s := range ss {
				s.Stop()
			}
			trial--
			continue
		}
		waitLeader(t, ss)
		d := time.Since(start)
		worst = max(worst, d)
		if d > time.Second {
			slow++
			if os.Getenv("ZAB_RESTART_LOGS") != "" {
				t.Logf("trial %d logs:\n%s", trial, logs.String())
			}
		}
		t.Logf("trial %d: all 5 serving after %v", trial, d.Round(time.Millisecond))
		for _, s := range ss {
			if err := s.Stop(); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("%d trials: worst %v, %d over 1 s (initLimit is 2 s)", trials, worst.Round(time.Millisecond), slow)
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
