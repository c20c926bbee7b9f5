package reports

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"coordlab/perf"
)

// copyRuns copies the stored runs of testdata/runs into a temporary results
// folder (rendering writes beside them) and returns it.
func copyRuns(t testing.TB, names ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, n := range names {
		src := filepath.Join("testdata", "runs", n)
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			dst := filepath.Join(root, n, rel)
			if d.IsDir() {
				return os.MkdirAll(dst, 0o755)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(dst, b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func renderAll(t testing.TB, root string) []*Run {
	t.Helper()
	dirs, err := FindRuns(root)
	if err != nil {
		t.Fatal(err)
	}
	var runs []*Run
	for _, d := range dirs {
		r, err := Load(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := RenderRun(r); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	if err := RenderComparison(runs, root, "etcd"); err != nil {
		t.Fatal(err)
	}
	if err := RenderIndex(root); err != nil {
		t.Fatal(err)
	}
	return runs
}

var (
	hrefOp = regexp.MustCompile(`href="#(op-\d+)"`)
	idAttr = regexp.MustCompile(`id="([^"]+)"`)
)

// TestRenderedHTML checks the pages as files: verdicts, plots, and that
// every link to an operation lands on an element of the same page.
func TestRenderedHTML(t *testing.T) {
	root := copyRuns(t, "etcd-serializable", "etcd-linearizable")
	renderAll(t, root)
	cases := []struct {
		page      string
		verdict   string
		plots     int
		opLinks   bool // anomalies link into the timeline
		contains  []string
		forbidden []string
	}{
		{"etcd-serializable/report.html", "Invalid: 5 anomalies (stale-read).", 4, true,
			[]string{"linearizable-r_0.html", "serializable", "partition", "session-order"}, nil},
		{"etcd-linearizable/report.html", "Valid: no anomaly in", 4, false,
			[]string{"linearizable", "session-order"}, []string{`class="anomaly"`}},
		{"comparison.html", "", 3, false,
			[]string{"etcd (serializable)", "etcd (linearizable)", "register · nemesis partition · seed 1", "etcd-serializable/report.html"}, []string{"not like with like", "not comparable"}},
		{"index.html", "", 0, false, []string{"etcd-serializable/report.html", "etcd-linearizable/report.html", "invalid", "valid"}, nil},
	}
	for _, c := range cases {
		t.Run(c.page, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(root, c.page))
			if err != nil {
				t.Fatal(err)
			}
			s := string(b)
			if c.verdict != "" && !strings.Contains(s, c.verdict) {
				t.Errorf("verdict %q not on the page", c.verdict)
			}
			if got := strings.Count(s, `<img class="plot"`); got != c.plots {
				t.Errorf("plots: got %d, want %d", got, c.plots)
			}
			for _, w := range c.contains {
				if !strings.Contains(s, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range c.forbidden {
				if strings.Contains(s, w) {
					t.Errorf("page has %q", w)
				}
			}
			ids := map[string]bool{}
			for _, m := range idAttr.FindAllStringSubmatch(s, -1) {
				ids[m[1]] = true
			}
			links := hrefOp.FindAllStringSubmatch(s, -1)
			if c.opLinks && len(links) == 0 {
				t.Errorf("no links from anomalies to operations")
			}
			for _, m := range links {
				if !ids[m[1]] {
					t.Errorf("link #%s resolves to nothing on the page", m[1])
				}
			}
		})
	}
	// The comparison's ratios are against etcd (the baseline): the baseline's
	// own row reads 1.00×.
	b, _ := os.ReadFile(filepath.Join(root, "comparison.html"))
	if !strings.Contains(string(b), "1.00×, 1.00×") {
		t.Errorf("comparison lacks the baseline's 1.00× ratios")
	}
}

// TestRunWithoutResultsSaysHow: a run dir that was never checked gets an
// error naming the command that fixes it.
func TestRunWithoutResultsSaysHow(t *testing.T) {
	root := copyRuns(t, "etcd-linearizable")
	dir := filepath.Join(root, "etcd-linearizable")
	os.Remove(filepath.Join(dir, "results.json"))
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "coordlab check") {
		t.Fatalf("Load without results.json = %v, want an error naming `coordlab check`", err)
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a run directory") {
		t.Fatalf("Load of an empty dir = %v", err)
	}
}

// harness opens a page in an iframe and reports what a reader sees: the
// verdict text, how many plots actually rendered (decoded with a width),
// and which in-page operation links resolve.
const harness = `<!DOCTYPE html><html><body><pre id="out">loading</pre>
<iframe id="f" src="%s" style="width:1280px;height:900px"></iframe>
<script>
document.getElementById('f').onload = function () {
  var d = this.contentDocument, out = [];
  var v = d.getElementById('verdict');
  out.push('verdict=' + (v ? v.innerText.trim() : ''));
  var imgs = d.querySelectorAll('img.plot'), drawn = 0;
  var wait = function () {
    drawn = 0;
    for (var i = 0; i < imgs.length; i++) if (imgs[i].complete && imgs[i].naturalWidth > 0) drawn++;
    if (drawn < imgs.length) { setTimeout(wait, 100); return; }
    out.push('plots=' + imgs.length + ' drawn=' + drawn);
    var links = d.querySelectorAll('a[href^="#op-"]'), bad = 0;
    for (var j = 0; j < links.length; j++) if (!d.getElementById(links[j].getAttribute('href').slice(1))) bad++;
    out.push('oplinks=' + links.length + ' unresolved=' + bad);
    document.getElementById('out').textContent = out.join('\n');
  };
  wait();
};
</script></body></html>`

var outRe = regexp.MustCompile(`(?s)<pre id="out">(.*?)</pre>`)

// TestChromium opens the pages in headless Chromium as a reader would and
// saves screenshots under results/artifacts/. It needs Debian's chromium
// (make test installs it); without it the test skips, and fails under CI.
func TestChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium not found under CI=true: scripts/setup.sh installs Debian's chromium")
		}
		t.Skip("chromium not installed (apt-get install chromium)")
	}
	root := copyRuns(t, "etcd-serializable", "etcd-linearizable")
	renderAll(t, root)
	artifacts, err := filepath.Abs(filepath.Join("..", "results", "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		page, verdict string
		plots         int
		minLinks      int
	}{
		{"etcd-serializable/report.html", "Invalid: 5 anomalies (stale-read).", 4, 5},
		{"etcd-linearizable/report.html", "Valid: no anomaly in", 4, 0},
		{"comparison.html", "", 3, 0},
	}
	for _, c := range cases {
		t.Run(c.page, func(t *testing.T) {
			page := filepath.Join(root, c.page)
			h := filepath.Join(root, "harness-"+strings.ReplaceAll(c.page, "/", "-"))
			if err := os.WriteFile(h, []byte(fmt.Sprintf(harness, "file://"+page)), 0o644); err != nil {
				t.Fatal(err)
			}
			out := runChromium(t, chromium, "--allow-file-access-from-files", "--virtual-time-budget=20000", "--dump-dom", "file://"+h)
			m := outRe.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("harness output missing from the DOM:\n%.2000s", out)
			}
			got := m[1]
			t.Logf("chromium sees:\n%s", got)
			if !strings.Contains(got, "verdict="+c.verdict) {
				t.Errorf("verdict: want %q in %q", c.verdict, got)
			}
			if want := fmt.Sprintf("plots=%d drawn=%d", c.plots, c.plots); !strings.Contains(got, want) {
				t.Errorf("plots: want %q in %q", want, got)
			}
			var links, bad int
			if _, err := fmt.Sscanf(got[strings.Index(got, "oplinks="):], "oplinks=%d unresolved=%d", &links, &bad); err != nil {
				t.Fatalf("parse %q: %v", got, err)
			}
			if links < c.minLinks || bad != 0 {
				t.Errorf("operation links: %d (want ≥ %d), unresolved %d (want 0)", links, c.minLinks, bad)
			}
			shot := filepath.Join(artifacts, strings.ReplaceAll(strings.TrimSuffix(c.page, ".html"), "/", "-")+".png")
			runChromium(t, chromium, "--hide-scrollbars", "--window-size=1366,2400", "--screenshot="+shot, "file://"+page)
			if st, err := os.Stat(shot); err != nil || st.Size() < 10000 {
				t.Errorf("screenshot %s: %v (size %v)", shot, err, st)
			}
			t.Logf("screenshot: %s", shot)
		})
	}
}

// plotHarness shows one plot as the pages do: the page's style, the plot
// at the width the page gives it.
const plotHarness = `<!DOCTYPE html><html><head><style>%s</style></head><body><img class="plot" src="%s"></body></html>`

// TestChromiumPlots screenshots every plot of the run pages and the
// comparison in headless Chromium at a laptop's width (1366 px), one PNG
// per plot under results/artifacts/plots/, for a person to look at.
func TestChromiumPlots(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium not found under CI=true: scripts/setup.sh installs Debian's chromium")
		}
		t.Skip("chromium not installed (apt-get install chromium)")
	}
	root := copyRuns(t, "etcd-serializable", "etcd-linearizable")
	renderAll(t, root)
	artifacts, err := filepath.Abs(filepath.Join("..", "results", "artifacts", "plots"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	svgs, err := filepath.Glob(filepath.Join(root, "*", "plots", "*.svg"))
	if err != nil {
		t.Fatal(err)
	}
	cmp, _ := filepath.Glob(filepath.Join(root, "plots", "*.svg"))
	svgs = append(svgs, cmp...)
	if len(svgs) < 8+3 {
		t.Fatalf("plots: %v, want 4 per run page and 3 on the comparison", svgs)
	}
	for _, svg := range svgs {
		rel, _ := filepath.Rel(root, svg)
		name := strings.ReplaceAll(strings.TrimSuffix(rel, ".svg"), string(filepath.Separator), "-")
		h := filepath.Join(root, "plot-"+name+".html")
		if err := os.WriteFile(h, []byte(fmt.Sprintf(plotHarness, css(), "file://"+svg)), 0o644); err != nil {
			t.Fatal(err)
		}
		shot := filepath.Join(artifacts, name+".png")
		runChromium(t, chromium, "--hide-scrollbars", "--allow-file-access-from-files", "--window-size=1366,460", "--screenshot="+shot, "file://"+h)
		if st, err := os.Stat(shot); err != nil || st.Size() < 5000 {
			t.Errorf("screenshot %s: %v (size %v)", shot, err, st)
		}
	}
	t.Logf("%d plot screenshots in %s", len(svgs), artifacts)
}

func runChromium(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir()}, args...)
	cmd := exec.CommandContext(ctx, bin, all...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v", args, err)
	}
	return string(out)
}

// BenchmarkReport20Runs renders a folder of 20 runs (run pages, comparison,
// index) as `coordlab report` does; the target is under 10 s.
func BenchmarkReport20Runs(b *testing.B) {
	var names []string
	for i := 0; i < 10; i++ {
		names = append(names, "etcd-serializable", "etcd-linearizable")
	}
	src := copyRuns(b, "etcd-serializable", "etcd-linearizable")
	root := b.TempDir()
	for i, n := range names {
		if err := os.CopyFS(filepath.Join(root, fmt.Sprintf("run%02d", i)), os.DirFS(filepath.Join(src, n))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		renderAll(b, root)
	}
}

// TestComparisonMarksUnlikeRuns: runs of one group that differ in more than
// the target (here the runtime and the rate) get no ratio, and the page
// says loudly what differs.
func TestComparisonMarksUnlikeRuns(t *testing.T) {
	root := copyRuns(t, "etcd-serializable", "etcd-linearizable")
	p := filepath.Join(root, "etcd-serializable", "test.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), `"runtime": "local"`, `"runtime": "docker"`, 1)
	s = strings.Replace(s, `"rate": 200`, `"rate": 150`, 1)
	if s == string(b) || !strings.Contains(s, `"runtime": "docker"`) || !strings.Contains(s, `"rate": 150`) {
		t.Fatalf("test.json did not have the fields this test edits:\n%s", b)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	renderAll(t, root)
	page, err := os.ReadFile(filepath.Join(root, "comparison.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"not like with like", "runtime (docker vs local)", "rate (150 vs 200)", "not comparable"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("comparison.html lacks %q", want)
		}
	}
}

// TestComparisonPerfSection renders a bench's perf.json at the top of the
// comparison: throughput per pass with ratios against etcd and their
// per-pass range, the short warm-up named, failover medians, and the
// throughput and latency-distribution plots of every operation.
func TestComparisonPerfSection(t *testing.T) {
	root := copyRuns(t, "etcd-serializable", "etcd-linearizable")
	res := perf.Results{
		Runtime: "docker", Network: "bridge", Elapsed: "4m0s",
		Settings: perf.Settings{Targets: []string{"etcd", "zab"}, Nodes: 3, Warmup: "10s", Rewarm: "2s", Point: "1.5s",
			Clients: []int{1, 16}, Passes: 2, ValueSize: 256, Keys: 1000, FailoverRounds: 3, FailoverClients: 6},
		Order: []perf.Visit{{Pass: 1, Target: "etcd", Warmup: "10s"}, {Pass: 1, Target: "zab", StartS: 30, Warmup: "10s"},
			{Pass: 2, Target: "zab", StartS: 60, Warmup: "2s"}, {Pass: 2, Target: "etcd", StartS: 80, Warmup: "2s"}},
	}
	// etcd: 1000 and 1000 ops/s; zab: 400 and 600 (ratio 0.50, range
	// 0.40-0.60) for every point.
	for ti, name := range res.Settings.Targets {
		tr := perf.TargetResult{Target: name}
		for _, op := range perf.Ops {
			for _, n := range res.Settings.Clients {
				for pass := 1; pass <= 2; pass++ {
					thr := 1000.0
					if ti == 1 {
						thr = 200 + 200*float64(pass)
					}
					tr.Points = append(tr.Points, perf.Point{Op: op, Clients: n, Pass: pass, OK: int(thr), Seconds: 1, Throughput: thr,
						Latency: perf.Quantiles{Count: int(thr), P50: 1, P90: 2, P99: 5, P999: 9, Max: 12}})
				}
				tr.Dists = append(tr.Dists, perf.Distribution{Op: op, Clients: n, Count: 2000, Ms: []float64{1, 1.5, 2, 3, 5, 6, 9, 11, 12}})
			}
		}
		for r := 1; r <= 3; r++ {
			first := 1000.0 * float64(r) // etcd median 2000
			if ti == 1 {
				first = 500 * float64(r) // zab median 1000: 0.50×
			}
			tr.Failover = append(tr.Failover, perf.Failover{Round: r, Killed: "n1", NewLeader: "n2", FirstWriteMs: first, MaxStallMs: first + 100, Writers: 4})
		}
		res.Targets = append(res.Targets, tr)
	}
	if err := os.MkdirAll(filepath.Join(root, PerfDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := res.Write(filepath.Join(root, PerfDir)); err != nil {
		t.Fatal(err)
	}
	renderAll(t, root)
	b, err := os.ReadFile(filepath.Join(root, "comparison.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{`id="perf"`, "Short warm-up", "10s of warm-up load", "<b>1000</b>", "<b>500</b>", "400 / 600",
		"<b>0.50×</b>", "0.40–0.60", "read-linearizable", "Failover under write load", "<b>2000</b>", "<b>1000</b>", "0.50×, 0.52×",
		"Correctness under faults"} {
		if !strings.Contains(page, want) {
			t.Errorf("comparison.html lacks %q", want)
		}
	}
	if strings.Index(page, `id="perf"`) > strings.Index(page, "Correctness under faults") {
		t.Error("the performance section is not on top")
	}
	for _, op := range perf.Ops {
		for _, kind := range []string{"throughput", "latency"} {
			if _, err := os.Stat(filepath.Join(root, "plots", "perf-"+string(op)+"-"+kind+".svg")); err != nil {
				t.Errorf("plot: %v", err)
			}
		}
	}
}

// TestComparisonSaysSampleTooSmall: a run with few ok operations is marked
// as too small to judge, with the count.
func TestComparisonSaysSampleTooSmall(t *testing.T) {
	root := copyRuns(t, "etcd-serializable", "etcd-linearizable")
	p := filepath.Join(root, "etcd-serializable", "results.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), `"ok": 1862`, `"ok": 12`, 1)
	if s == string(b) {
		t.Fatalf("results.json did not have the count this test edits:\n%.400s", b)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	renderAll(t, root)
	page, err := os.ReadFile(filepath.Join(root, "comparison.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "sample too small: only 12 ok operations") {
		t.Errorf("comparison.html does not say the sample of 12 ok operations is too small")
	}
	if strings.Count(string(page), "sample too small") != 1 {
		t.Errorf("comparison.html marks %d runs as too small, want 1", strings.Count(string(page), "sample too small"))
	}
}
