package reports

import (
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"coordlab/analysis"
	"coordlab/history"
	"coordlab/runfile"
)

type compareCell struct {
	Verdict string
	Class   string
	Link    string
}

type compareRow struct {
	Label          string
	Link           string
	Verdict        string
	Class          string
	Anomalies      int
	OK, Fail, Info int
	Throughput     float64 // ok ops per second of run
	Lat            analysis.Quantiles
	UnavailW       float64 // mean ms to first ok write after a fault; -1 none
	UnavailR       float64
	BaseThroughput float64
	BaseP99        float64
	// Unlike is set when the run differs from the group's base in more
	// than the target: no ratio is shown for it.
	Unlike bool
	// Small says why the run's sample is too small to judge ("" when it
	// is not).
	Small string
}

type unavailRow struct {
	N     int
	Fault string
	Cells []string
}

type compareGroup struct {
	ID   string
	Name string
	// Unlike lists how runs of the group differ in anything but the
	// target (and read mode): their ratios are not shown.
	Unlike  []string
	Base    string        // label of the run the group's ratios are against
	Cells   []compareCell // one per target, in Targets order
	Rows    []compareRow
	Unavail []unavailRow
	Figures []figView
}

type comparePage struct {
	CSS      template.CSS
	Baseline string
	Targets  []string
	Runs     []*Run
	Groups   []compareGroup
	// Perf is the performance section (nil when the bench measured none).
	Perf *perfView
}

// groupKey is what runs must share to be compared: workload, nemesis and
// seed (the same seed makes the same fault schedule), plus the lock
// workload's fencing.
func groupKey(r *Run) string {
	k := fmt.Sprintf("%s · nemesis %s · seed %d", r.Spec.Workload, r.Spec.Nemesis, r.Spec.Seed)
	if r.Spec.Unfenced {
		k += " · unfenced"
	}
	return k
}

// unlike lists what, besides the target and its read mode, differs between
// two runs' specs and the lab that ran them: a comparison means something
// only when the runtime, cluster size, load, fault schedule and duration
// are the same.
func unlike(a, b *Run) []string {
	var d []string
	diff := func(name string, x, y any) {
		if x != y {
			d = append(d, fmt.Sprintf("%s (%v vs %v)", name, y, x))
		}
	}
	sa, sb := a.Spec, b.Spec
	diff("runtime", sa.Runtime, sb.Runtime)
	if sa.Runtime == "local" && sb.Runtime == "local" {
		diff("network", a.Network, b.Network)
	}
	diff("nodes", sa.Nodes, sb.Nodes)
	diff("time limit", sa.TimeLimit, sb.TimeLimit)
	diff("concurrency", sa.Concurrency, sb.Concurrency)
	diff("rate", sa.Rate, sb.Rate)
	diff("keys", sa.Keys, sb.Keys)
	diff("nemesis interval", sa.Interval, sb.Interval)
	diff("nemesis duration", sa.FaultFor, sb.FaultFor)
	diff("loss percent", sa.LossPercent, sb.LossPercent)
	diff("session TTL", sa.SessionTTL, sb.SessionTTL)
	diff("hold", sa.Hold, sb.Hold)
	diff("op timeout", sa.OpTimeout, sb.OpTimeout)
	diff("coordlab's Go", a.Versions["go"], b.Versions["go"])
	return d
}

func anomalyCount(res analysis.Results) int {
	n := 0
	for _, c := range res.Checkers {
		n += len(c.Anomalies)
	}
	return n
}

func meanUnavail(us []analysis.Unavailability, read bool) float64 {
	sum, n := 0.0, 0
	for _, u := range us {
		v := u.WriteMs
		if read {
			v = u.ReadMs
		}
		if v >= 0 {
			sum += v
			n++
		}
	}
	if n == 0 {
		return -1
	}
	return sum / float64(n)
}

// RenderComparison writes out/comparison.html (and its plots under
// out/plots) comparing runs side by side, grouped by workload and fault
// schedule, with ratios against the baseline target ("" = the first
// target of each group). When out/perf/perf.json exists (coordlab bench's
// performance section), the page opens with it.
func RenderComparison(runs []*Run, out, baseline string) error {
	if len(runs) == 0 {
		return fmt.Errorf("reports: nothing to compare: no runs")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	targetSet := map[string]bool{}
	groups := map[string][]*Run{}
	var order []string
	for _, r := range runs {
		targetSet[label(r)] = true
		k := groupKey(r)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	sort.Strings(order)
	targets := make([]string, 0, len(targetSet))
	for t := range targetSet {
		targets = append(targets, t)
	}
	sort.Strings(targets)
	page := comparePage{CSS: css(), Baseline: baseline, Targets: targets, Runs: runs}
	if page.Baseline == "" {
		page.Baseline = "the first target"
	}
	var err error
	if page.Perf, err = loadPerf(out, baseline); err != nil {
		return err
	}
	for gi, k := range order {
		rs := groups[k]
		sort.SliceStable(rs, func(i, j int) bool { return label(rs[i]) < label(rs[j]) })
		g := compareGroup{ID: fmt.Sprintf("g%d", gi+1), Name: k}
		byTarget := map[string]*Run{}
		for _, r := range rs {
			byTarget[label(r)] = r
		}
		base := rs[0]
		for _, r := range rs {
			if r.Spec.Target == baseline || label(r) == baseline {
				base = r
				break
			}
		}
		for _, t := range targets {
			r := byTarget[t]
			if r == nil {
				g.Cells = append(g.Cells, compareCell{})
				continue
			}
			g.Cells = append(g.Cells, compareCell{Verdict: r.Results.Valid.String(), Class: verdictClass(r.Results.Valid), Link: relLink(out, r)})
		}
		g.Base = label(base)
		baseRow := row(out, base)
		for _, r := range rs {
			cr := row(out, r)
			cr.BaseThroughput, cr.BaseP99 = baseRow.Throughput, baseRow.Lat.P99
			if d := unlike(base, r); len(d) > 0 {
				cr.Unlike = true
				g.Unlike = append(g.Unlike, fmt.Sprintf("%s differs from %s in %s", label(r), label(base), strings.Join(d, ", ")))
			}
			g.Rows = append(g.Rows, cr)
		}
		nFaults := 0
		for _, r := range rs {
			nFaults = max(nFaults, len(r.Results.Perf.Unavailability))
		}
		for i := 0; i < nFaults; i++ {
			ur := unavailRow{N: i + 1}
			for _, r := range rs {
				us := r.Results.Perf.Unavailability
				if i >= len(us) {
					ur.Cells = append(ur.Cells, "–")
					continue
				}
				ur.Fault = us[i].Fault
				ur.Cells = append(ur.Cells, fmtMs(us[i].WriteMs)+" / "+fmtMs(us[i].ReadMs))
			}
			g.Unavail = append(g.Unavail, ur)
		}
		figs, err := compareFigures(k, rs)
		if err != nil {
			return err
		}
		if g.Figures, err = writeFigures(out, figs); err != nil {
			return err
		}
		page.Groups = append(page.Groups, g)
	}
	return writePage(filepath.Join(out, "comparison.html"), "compare.html", page)
}

func fmtMs(v float64) string {
	if v < 0 {
		return "never"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func row(out string, r *Run) compareRow {
	res := r.Results
	cr := compareRow{
		Label: label(r), Link: relLink(out, r), Verdict: res.Valid.String(), Class: verdictClass(res.Valid),
		Anomalies: anomalyCount(res), OK: res.Counts.OK, Fail: res.Counts.Fail, Info: res.Counts.Info,
		Lat:      res.Perf.Latency["all"],
		UnavailW: meanUnavail(res.Perf.Unavailability, false), UnavailR: meanUnavail(res.Perf.Unavailability, true),
	}
	cr.Throughput = float64(res.Counts.OK) / runEndS(r)
	cr.Small = smallSample(r)
	return cr
}

// Sample sizes under which a run's verdict and figures say little: ok
// operations in all, and ok acquisitions for a lock workload (each is one
// holder the lock checker can compare with the others).
const (
	minOKOps      = 50
	minOKAcquires = 20
)

// smallSample says why r's sample is too small to judge, or "".
func smallSample(r *Run) string {
	if r.Results.Counts.OK < minOKOps {
		return fmt.Sprintf("only %d ok operations (fewer than %d): too few to judge", r.Results.Counts.OK, minOKOps)
	}
	if r.Spec.Workload != "lock" {
		return ""
	}
	n, last := 0, int64(0)
	for _, p := range r.Pairs {
		if p.Invoke.F == history.FAcquire && p.Done != nil && p.Done.Type == history.OK {
			n++
			last = max(last, p.Done.Time)
		}
	}
	if n >= minOKAcquires {
		return ""
	}
	why := fmt.Sprintf("only %d ok acquisitions (fewer than %d): too few to judge this lock", n, minOKAcquires)
	end := time.Duration(r.Spec.TimeLimit)
	if gap := end - time.Duration(last); end > 0 && gap > end/3 {
		why += fmt.Sprintf("; none in the last %.0f s of the %.0f s run: the lock had not recovered from the fault when the run ended", gap.Seconds(), end.Seconds())
	}
	return why
}

// relLink is the run page's path from out.
func relLink(out string, r *Run) string {
	rel, err := filepath.Rel(out, filepath.Join(r.Dir, "report.html"))
	if err != nil {
		return filepath.Join(r.Dir, "report.html")
	}
	return filepath.ToSlash(rel)
}

type indexRow struct {
	Started string
	Spec    Spec
	Verdict string
	Class   string
	Ops     int
	Name    string
	Link    string
}

type indexPage struct {
	CSS        template.CSS
	Runs       []indexRow
	Comparison bool
}

// RenderIndex writes root/index.html listing every run under root, newest
// first, with its verdict. It reads only test.json and results.json.
func RenderIndex(root string) error {
	dirs, err := FindRuns(root)
	if err != nil {
		return err
	}
	page := indexPage{CSS: css()}
	if _, err := os.Stat(filepath.Join(root, "comparison.html")); err == nil {
		page.Comparison = true
	}
	for _, d := range dirs {
		tf, err := runfile.Read(d)
		if err != nil {
			return fmt.Errorf("reports: %w", err)
		}
		ir := indexRow{Started: tf.Started.Format("2006-01-02 15:04:05"), Spec: tf.Spec, Name: filepath.Base(d), Verdict: "not checked", Class: "unknown"}
		if res, err := analysis.ReadResults(filepath.Join(d, "results.json")); err == nil {
			ir.Verdict, ir.Class, ir.Ops = res.Valid.String(), verdictClass(res.Valid), res.Counts.Ops
		}
		rel, _ := filepath.Rel(root, filepath.Join(d, "report.html"))
		ir.Link = filepath.ToSlash(rel)
		page.Runs = append(page.Runs, ir)
	}
	return writePage(filepath.Join(root, "index.html"), "index.html", page)
}
