package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"coordlab/proctest"
)

var (
	warmup     = flag.Duration("warmup", 30*time.Second, "warm-up load per cluster before measuring (2s with -short)")
	measure    = flag.Duration("measure", 10*time.Second, "length of one measured run (2s with -short)")
	cpuProfile = flag.String("raftkv-cpuprofile", "", "if set, write a CPU profile of the raftkv leader during its first 64-client put run here")
	etcdBin    = flag.String("etcd", "/usr/bin/etcd", "the etcd 3.4 binary")
	raftkvArgs = flag.String("raftkv-args", "", "extra flags for the raftkv members, space-separated")
)

var raftkvBin string

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if b := os.Getenv("COORDLAB_BIN"); b != "" {
			raftkvBin = filepath.Join(b, "raftkv")
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "raftkv-bench-bin")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		raftkvBin = filepath.Join(dir, "raftkv")
		out, err := exec.Command("go", "build", "-o", raftkvBin, "coordlab/cmd/raftkv").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build raftkv: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// cluster is three members of one system on loopback.
type cluster struct {
	name       string
	bin        string
	args       [][]string // each member's command line, for restarts
	procs      []*proctest.Process
	clientURLs []string
	metricURLs []string
}

func startCluster(tb testing.TB, name, bin string, extra []string) *cluster {
	tb.Helper()
	c := &cluster{name: name, bin: bin}
	type ports struct{ client, peer, metrics int }
	var ps []ports
	var ic []string
	for i := range 3 {
		p := ports{proctest.FreePort(tb), proctest.FreePort(tb), proctest.FreePort(tb)}
		ps = append(ps, p)
		ic = append(ic, fmt.Sprintf("%s%d=http://127.0.0.1:%d", name, i, p.peer))
	}
	base := tb.TempDir()
	for i, p := range ps {
		cu := fmt.Sprintf("http://127.0.0.1:%d", p.client)
		mu := fmt.Sprintf("http://127.0.0.1:%d", p.metrics)
		args := []string{
			"--name", fmt.Sprintf("%s%d", name, i),
			"--data-dir", filepath.Join(base, fmt.Sprintf("m%d", i)),
			"--listen-client-urls", cu, "--advertise-client-urls", cu,
			"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", p.peer),
			"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", p.peer),
			"--initial-cluster", strings.Join(ic, ","),
			"--initial-cluster-token", name + "-bench",
			"--listen-metrics-urls", mu,
			"--log-level", "error",
		}
		args = append(args, extra...)
		c.args = append(c.args, args)
		c.procs = append(c.procs, nil)
		c.clientURLs = append(c.clientURLs, cu)
		c.metricURLs = append(c.metricURLs, mu)
		if err := c.launch(i); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Cleanup(c.stop)
	for i := range c.procs {
		if err := c.waitHealthy(i, 30*time.Second); err != nil {
			tb.Fatal(err)
		}
	}
	return c
}

// launch starts member i from its command line.
func (c *cluster) launch(i int) error {
	var o proctest.Options
	if os.Getenv("BENCH_LOG") != "" {
		o.Output = os.Stderr
	}
	pr, err := proctest.Launch(c.bin, c.args[i], o)
	if err != nil {
		return err
	}
	c.procs[i] = pr
	return nil
}

// waitHealthy waits until member i's /health says so.
func (c *cluster) waitHealthy(i int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get(c.metricURLs[i] + "/health")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.Contains(string(body), `"true"`) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %s not healthy within %v", c.name, c.metricURLs[i], limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *cluster) stop() {
	for _, p := range c.procs {
		p.Stop(10 * time.Second)
	}
}

func (c *cluster) clients(tb testing.TB, n int) []*clientv3.Client {
	tb.Helper()
	var out []*clientv3.Client
	for range n {
		cli, err := clientv3.New(clientv3.Config{Endpoints: c.clientURLs, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, cli)
	}
	return out
}

// result is one measured run.
type result struct {
	ops  float64 // per second
	p99  time.Duration
	errs int64
}

type workload struct {
	name    string
	clients int
	get     bool
}

// runLoad drives w against c for d and returns throughput and p99.
func runLoad(c *cluster, clis []*clientv3.Client, w workload, d time.Duration) result {
	value := strings.Repeat("v", 256)
	var mu sync.Mutex
	var lats []time.Duration
	var errs atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for g := range w.clients {
		cli := clis[g%len(clis)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			local := make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				key := fmt.Sprintf("key-%06d", r.IntN(100000))
				t0 := time.Now()
				var err error
				if w.get {
					_, err = cli.Get(ctx, key)
				} else {
					_, err = cli.Put(ctx, key, value)
				}
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
					}
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	slices.Sort(lats)
	res := result{ops: float64(len(lats)) / el.Seconds(), errs: errs.Load()}
	if len(lats) > 0 {
		res.p99 = lats[len(lats)*99/100]
	}
	return res
}

func leaderMetricsURL(c *cluster) (string, error) {
	i, err := c.leader()
	if err != nil {
		return "", err
	}
	return c.metricURLs[i], nil
}

// leader is the index of the member that says it leads.
func (c *cluster) leader() (int, error) {
	for i, cu := range c.clientURLs {
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{cu}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			return 0, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := cli.Status(ctx, cu)
		cancel()
		cli.Close()
		if err == nil && st.Leader == st.Header.MemberId {
			return i, nil
		}
	}
	return 0, errors.New("no leader found")
}

func profile(c *cluster, d time.Duration, path string) error {
	mu, err := leaderMetricsURL(c)
	if err != nil {
		return err
	}
	resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", mu, int(d.Seconds())))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

func BenchmarkRaftkvVsEtcd(b *testing.B) {
	if _, err := os.Stat(*etcdBin); err != nil {
		if os.Getenv("CI") == "true" {
			b.Fatalf("etcd not found at %s (install etcd-server)", *etcdBin)
		}
		b.Skipf("etcd not found at %s", *etcdBin)
	}
	wu, ms := *warmup, *measure
	if testing.Short() {
		wu, ms = 2*time.Second, 2*time.Second
	}
	rk := startCluster(b, "raftkv", raftkvBin, append([]string{"--enable-pprof"}, strings.Fields(*raftkvArgs)...))
	et := startCluster(b, "etcd", *etcdBin, nil)
	systems := []*cluster{rk, et}
	clis := map[*cluster][]*clientv3.Client{}
	for _, c := range systems {
		clis[c] = c.clients(b, 8)
		defer func() {
			for _, cli := range clis[c] {
				cli.Close()
			}
		}()
	}
	for _, c := range systems {
		r := runLoad(c, clis[c], workload{clients: 64}, wu)
		b.Logf("warm-up %s: %.0f puts/s", c.name, r.ops)
	}
	workloads := []workload{
		{name: "put1", clients: 1},
		{name: "put16", clients: 16},
		{name: "put64", clients: 64},
		{name: "get64", clients: 64, get: true},
	}
	for b.Loop() {
		fmt.Printf("%-6s %12s %10s %12s %10s %14s %s\n", "load", "raftkv op/s", "p99", "etcd op/s", "p99", "ratio(op/s)", "p99 ratio")
		for _, w := range workloads {
			order := []*cluster{rk, et, et, rk}
			res := map[*cluster][]result{}
			for i, c := range order {
				if *cpuProfile != "" && w.name == "put64" && i == 0 {
					go func() {
						if err := profile(c, ms-time.Second, *cpuProfile); err != nil {
							b.Logf("profile: %v", err)
						}
					}()
				}
				res[c] = append(res[c], runLoad(c, clis[c], w, ms))
			}
			a, e := res[rk], res[et]
			// Pair A1 with B1 (runs 1,2) and A2 with B2 (runs 4,3).
			r1, r2 := a[0].ops/e[0].ops, a[1].ops/e[1].ops
			ratio := (a[0].ops + a[1].ops) / (e[0].ops + e[1].ops)
			p99a := (a[0].p99 + a[1].p99) / 2
			p99e := (e[0].p99 + e[1].p99) / 2
			fmt.Printf("%-6s %12.0f %10v %12.0f %10v %8.2fx [%.2f..%.2f] %.2f  errors %d/%d\n", w.name,
				(a[0].ops+a[1].ops)/2, p99a.Round(10*time.Microsecond), (e[0].ops+e[1].ops)/2, p99e.Round(10*time.Microsecond),
				ratio, min(r1, r2), max(r1, r2), float64(p99a)/float64(p99e), a[0].errs+a[1].errs, e[0].errs+e[1].errs)
			b.ReportMetric((a[0].ops+a[1].ops)/2, "raftkv_"+w.name+"_ops/s")
			b.ReportMetric((e[0].ops+e[1].ops)/2, "etcd_"+w.name+"_ops/s")
			b.ReportMetric(ratio, "ratio_"+w.name)
			b.ReportMetric(float64(p99a.Microseconds())/1000, "raftkv_"+w.name+"_p99_ms")
			b.ReportMetric(float64(p99e.Microseconds())/1000, "etcd_"+w.name+"_p99_ms")
		}
	}
}
