package perf

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"coordlab/proctest"
)

var binDir string

func TestMain(m *testing.M) {
	dir, cleanup, err := proctest.Binaries("raftkv", "zab")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// TestMeasureBothEngines measures raftkv and zab in the local runtime with
// tiny settings: every point has ok operations, the passes alternate, the
// distributions cover every point, and each failover round kills the
// leader and sees a write succeed afterwards.
func TestMeasureBothEngines(t *testing.T) {
	cfg := Config{
		Targets: []string{"raftkv", "zab"}, Runtime: "local", BinDir: binDir, Dir: t.TempDir(),
		Warmup: 500 * time.Millisecond, Rewarm: 200 * time.Millisecond, Point: 400 * time.Millisecond,
		Clients: []int{1, 4}, Passes: 2, Keys: 20, FailoverRounds: 1, FailoverClients: 2,
		Progress: testWriter{t},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Measure(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Read(cfg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Targets) != 2 || back.Runtime != "local" {
		t.Fatalf("perf.json: %d targets, runtime %q; want 2, local", len(back.Targets), back.Runtime)
	}
	var order []string
	for _, v := range res.Order {
		order = append(order, v.Target)
	}
	if want := []string{"raftkv", "zab", "zab", "raftkv"}; !equal(order, want) {
		t.Errorf("visit order %v, want %v", order, want)
	}
	for _, tr := range res.Targets {
		if tr.Error != "" {
			t.Errorf("%s: %s", tr.Target, tr.Error)
		}
		if got, want := len(tr.Points), len(Ops)*len(cfg.Clients)*cfg.Passes; got != want {
			t.Errorf("%s: %d points, want %d", tr.Target, got, want)
		}
		for _, p := range tr.Points {
			if p.OK == 0 || p.Throughput <= 0 || p.Latency.P50 <= 0 || p.Latency.Max < p.Latency.P99 {
				t.Errorf("%s: point %+v: want ok operations with latencies", tr.Target, p)
			}
		}
		if len(tr.Dists) != len(Ops)*len(cfg.Clients) {
			t.Errorf("%s: %d distributions, want %d", tr.Target, len(tr.Dists), len(Ops)*len(cfg.Clients))
		}
		if len(tr.Failover) != 1 {
			t.Fatalf("%s: %d failover rounds, want 1", tr.Target, len(tr.Failover))
		}
		f := tr.Failover[0]
		if f.Error != "" || f.Killed != tr.Leader || f.FirstWriteMs < 0 || f.MaxStallMs < f.FirstWriteMs/2 || f.NewLeader == "" || f.NewLeader == f.Killed {
			t.Errorf("%s: failover %+v (leader was %s): want the leader killed, a write after it and a new leader", tr.Target, f, tr.Leader)
		}
	}
}

func equal(a, b []string) bool {
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

// testWriter logs each line written to it.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
