package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/go-zookeeper/zk"

	"coordlab/engines/zab/server/servertest"
	"coordlab/proctest"
)

var (
	warmup  = flag.Duration("zab.warmup", 30*time.Second, "warm-up per system before measuring (2s under -short)")
	measure = flag.Duration("zab.measure", 8*time.Second, "measurement window per workload and pass (2s under -short)")
	profOut = flag.String("zab.cpuprofile", "", "write the zab leader's CPU profile during setData/64 to this file (default: a temp file)")
)

const javaPath = "/usr/bin/java"

var zkJars = []string{"/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar"}

// system is one 3-member ensemble under test.
type system struct {
	name  string
	addrs []string
	stop  func()
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}

func startZab(b *testing.B, dir string) (*system, *servertest.Ensemble) {
	binDir := filepath.Join(dir, "bin")
	must(b, os.MkdirAll(binDir, 0o755))
	bin, err := servertest.Build(binDir)
	if err != nil {
		b.Fatal(err)
	}
	e, err := servertest.New(bin, filepath.Join(dir, "zab-members"), 3, servertest.Options{TickTime: 2000})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.StartAll(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := e.WaitServing(ctx); err != nil {
		e.StopAll()
		b.Fatal(err)
	}
	return &system{name: "zab", addrs: e.ClientAddrs(), stop: e.StopAll}, e
}

func startZooKeeper(b *testing.B, dir string) *system {
	for _, p := range append([]string{javaPath}, zkJars...) {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") == "true" {
				b.Fatalf("%s missing under CI=true: install Debian's zookeeper and openjdk-17-jre-headless (scripts/setup.sh)", p)
			}
			b.Skipf("ZooKeeper not installed (%s missing)", p)
		}
	}
	type zm struct{ id, client, quorum, elec int }
	var ms []zm
	for i := 1; i <= 3; i++ {
		m := zm{id: i}
		for _, p := range []*int{&m.client, &m.quorum, &m.elec} {
			port, err := servertest.FreePort()
			if err != nil {
				b.Fatal(err)
			}
			*p = port
		}
		ms = append(ms, m)
	}
	var procs []*proctest.Process
	var addrs []string
	for _, m := range ms {
		d := filepath.Join(dir, "zk", fmt.Sprintf("m%d", m.id))
		if err := os.MkdirAll(filepath.Join(d, "data"), 0o755); err != nil {
			b.Fatal(err)
		}
		var cfg strings.Builder
		fmt.Fprintf(&cfg, "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n", filepath.Join(d, "data"), m.client)
		fmt.Fprintf(&cfg, "maxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\nstandaloneEnabled=false\n")
		for _, o := range ms {
			fmt.Fprintf(&cfg, "server.%d=127.0.0.1:%d:%d\n", o.id, o.quorum, o.elec)
		}
		must(b, os.WriteFile(filepath.Join(d, "zoo.cfg"), []byte(cfg.String()), 0o644))
		must(b, os.WriteFile(filepath.Join(d, "data", "myid"), []byte(strconv.Itoa(m.id)+"\n"), 0o644))
		must(b, os.WriteFile(filepath.Join(d, "log4j.properties"), []byte("log4j.rootLogger=WARN, CONSOLE\nlog4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\nlog4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\nlog4j.appender.CONSOLE.layout.ConversionPattern=%d %-5p %m%n\n"), 0o644))
		logf, err := os.Create(filepath.Join(d, "zk.log"))
		if err != nil {
			b.Fatal(err)
		}
		p, err := proctest.Launch(javaPath, []string{"-Xmx512m", "-Dzookeeper.admin.enableServer=false",
			"-Dlog4j.configuration=file:" + filepath.Join(d, "log4j.properties"),
			"-cp", strings.Join(append([]string{d}, zkJars...), ":"),
			"org.apache.zookeeper.server.quorum.QuorumPeerMain", filepath.Join(d, "zoo.cfg")}, proctest.Options{Output: logf})
		logf.Close() // the child holds its own descriptor
		if err != nil {
			b.Fatal(err)
		}
		procs = append(procs, p)
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", m.client))
	}
	stop := func() {
		for _, p := range procs {
			p.Kill()
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		modes := 0
		for _, a := range addrs {
			out, _ := servertest.FourLetterWord(a, "srvr", time.Second)
			if strings.Contains(out, "Mode: leader") || strings.Contains(out, "Mode: follower") {
				modes++
			}
		}
		if modes == 3 {
			break
		}
		if time.Now().After(deadline) {
			stop()
			b.Fatalf("ZooKeeper ensemble not serving within 90s; logs in %s", filepath.Join(dir, "zk"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return &system{name: "zookeeper", addrs: addrs, stop: stop}
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// workload is one measured operation mix.
type workload struct {
	name    string
	clients int
	op      func(c *zk.Conn, path string, val []byte) error
}

var (
	opSet  = func(c *zk.Conn, p string, v []byte) error { _, err := c.Set(p, v, -1); return err }
	opGet  = func(c *zk.Conn, p string, _ []byte) error { _, _, err := c.Get(p); return err }
	opSync = func(c *zk.Conn, p string, _ []byte) error {
		if _, err := c.Sync(p); err != nil {
			return err
		}
		_, _, err := c.Get(p)
		return err
	}
)

var workloads = []workload{
	{"setData/1", 1, opSet},
	{"setData/16", 16, opSet},
	{"setData/64", 64, opSet},
	{"getData/16", 16, opGet},
	{"sync+getData/16", 16, opSync},
}

type result struct {
	opsPerSec float64
	p99       time.Duration
	errors    int64
}

// clients holds one session per simulated client, spread over the members.
type clients struct {
	conns []*zk.Conn
}

func openClients(b *testing.B, s *system, n int) *clients {
	cs := &clients{}
	for i := range n {
		c, ev, err := zk.Connect([]string{s.addrs[i%len(s.addrs)]}, 10*time.Second, zk.WithLogger(quiet{}))
		if err != nil {
			b.Fatal(err)
		}
		deadline := time.After(30 * time.Second)
	wait:
		for {
			select {
			case e := <-ev:
				if e.State == zk.StateHasSession {
					break wait
				}
			case <-deadline:
				b.Fatalf("%s: client %d got no session", s.name, i)
			}
		}
		go func() {
			for range ev {
			}
		}()
		cs.conns = append(cs.conns, c)
	}
	// One znode per client, 256 bytes, created through client 0.
	for i := range n {
		p := fmt.Sprintf("/bench-%d", i)
		if _, err := cs.conns[0].Create(p, make([]byte, 256), 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
			b.Fatal(err)
		}
	}
	return cs
}

func (cs *clients) close() {
	for _, c := range cs.conns {
		c.Close()
	}
}

// run drives w on the first w.clients sessions for d.
func run(cs *clients, w workload, d time.Duration) result {
	var total, errs atomic.Int64
	hists := make([]*hdrhistogram.Histogram, w.clients)
	var wg sync.WaitGroup
	stopAt := time.Now().Add(d)
	start := time.Now()
	for i := range w.clients {
		hists[i] = hdrhistogram.New(1, 60_000_000, 3)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := cs.conns[i]
			p := fmt.Sprintf("/bench-%d", i)
			val := make([]byte, 256)
			for n := 0; ; n++ {
				t0 := time.Now()
				if t0.After(stopAt) {
					return
				}
				val[0] = byte(n)
				if err := w.op(c, p, val); err != nil {
					errs.Add(1)
					continue
				}
				hists[i].RecordValue(time.Since(t0).Microseconds())
				total.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	h := hdrhistogram.New(1, 60_000_000, 3)
	for _, x := range hists {
		h.Merge(x)
	}
	return result{opsPerSec: float64(total.Load()) / el.Seconds(), p99: time.Duration(h.ValueAtQuantile(99)) * time.Microsecond, errors: errs.Load()}
}

// profile fetches a CPU profile of d from the zab member at httpAddr.
func profile(httpAddr string, d time.Duration, out string) error {
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", httpAddr, int(d.Seconds())))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

func BenchmarkZabVsZooKeeper(b *testing.B) {
	if testing.Short() {
		*warmup, *measure = 2*time.Second, 2*time.Second
	}
	dir := b.TempDir()
	zs, ens := startZab(b, dir)
	defer zs.stop()
	zks := startZooKeeper(b, dir)
	defer zks.stop()
	systems := []*system{zs, zks}
	maxClients := 64
	cls := map[string]*clients{}
	for _, s := range systems {
		cls[s.name] = openClients(b, s, maxClients)
		defer cls[s.name].close()
	}
	// Warm-up: writes at full concurrency on each system (JIT, page cache).
	for _, s := range systems {
		run(cls[s.name], workload{"warmup", maxClients, opSet}, *warmup)
	}
	leaderHTTP := ""
	for _, m := range ens.Members {
		if m.Mode() == "leader" {
			leaderHTTP = m.HTTPAddr()
		}
	}
	profPath := *profOut
	if profPath == "" {
		profPath = filepath.Join(os.TempDir(), "zab-leader-cpu.pprof")
	}
	type row struct {
		w        workload
		zab, zk  []result
		ratio    float64
		p99Ratio float64
	}
	var rows []row
	for b.Loop() {
		rows = rows[:0]
		for _, w := range workloads {
			r := row{w: w}
			// A B B A: zab, zookeeper, zookeeper, zab.
			for pass, s := range []*system{zs, zks, zks, zs} {
				var perr chan error
				if s == zs && w.name == "setData/64" && pass == 0 && leaderHTTP != "" {
					perr = make(chan error, 1)
					go func() { perr <- profile(leaderHTTP, *measure-time.Second, profPath) }()
				}
				res := run(cls[s.name], w, *measure)
				if perr != nil {
					if err := <-perr; err != nil {
						b.Logf("cpu profile: %v", err)
					}
				}
				if s == zs {
					r.zab = append(r.zab, res)
				} else {
					r.zk = append(r.zk, res)
				}
			}
			r.ratio = mean(r.zab, opsOf) / mean(r.zk, opsOf)
			r.p99Ratio = mean(r.zab, p99Of) / mean(r.zk, p99Of)
			rows = append(rows, r)
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\n%-16s %12s %12s %8s %10s %10s %9s %8s %8s\n", "workload", "zab ops/s", "zk ops/s", "ratio", "zab p99", "zk p99", "p99 ratio", "zab spr", "zk spr")
	for _, r := range rows {
		fmt.Fprintf(&out, "%-16s %12.0f %12.0f %8.2f %10s %10s %9.2f %7.1f%% %7.1f%%\n", r.w.name,
			mean(r.zab, opsOf), mean(r.zk, opsOf), r.ratio,
			time.Duration(mean(r.zab, p99Of)).Round(10*time.Microsecond), time.Duration(mean(r.zk, p99Of)).Round(10*time.Microsecond),
			r.p99Ratio, spread(r.zab), spread(r.zk))
		name := strings.NewReplacer("/", "-", "+", "-").Replace(r.w.name)
		b.ReportMetric(r.ratio, "ratio-"+name)
		b.ReportMetric(mean(r.zab, opsOf), "zab-ops/s-"+name)
		b.ReportMetric(mean(r.zk, opsOf), "zk-ops/s-"+name)
		var errs int64
		for _, x := range append(r.zab, r.zk...) {
			errs += x.errors
		}
		if errs > 0 {
			fmt.Fprintf(&out, "  (%s: %d failed ops)\n", r.w.name, errs)
		}
	}
	fmt.Fprintf(&out, "spread = |pass1-pass2| / mean; warm-up %v, window %v per pass; zab leader CPU profile: %s\n", *warmup, *measure, profPath)
	b.Log(out.String())
	fmt.Print(out.String())
	if top, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=25", profPath).CombinedOutput(); err == nil {
		fmt.Printf("zab leader CPU profile (setData/64):\n%s\n", top)
	}
}

func opsOf(r result) float64 { return r.opsPerSec }
func p99Of(r result) float64 { return float64(r.p99) }

func mean(rs []result, f func(result) float64) float64 {
	s := 0.0
	for _, r := range rs {
		s += f(r)
	}
	return s / float64(len(rs))
}

// spread is |a-b|/mean of the two passes of one system, in percent.
func spread(rs []result) float64 {
	if len(rs) != 2 {
		return math.NaN()
	}
	a, b := rs[0].opsPerSec, rs[1].opsPerSec
	m := (a + b) / 2
	if m == 0 {
		return 0
	}
	v := []float64{a, b}
	sort.Float64s(v)
	return 100 * (v[1] - v[0]) / m
}
