package reports

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"coordlab/perf"
)

// PerfDir is the folder, under a bench's output, of the performance
// section's clusters and perf.json.
const PerfDir = "perf"

// fullWarmup is the warm-up ZooKeeper's JIT needs before its figures
// settle; a shorter one is named in the report.
const fullWarmup = 30 * time.Second

type perfCell struct {
	Ops    string // mean ok ops/s over the passes
	Passes string // each pass's ops/s, in pass order
	Ratio  string // mean against the baseline's mean
	Spread string // the per-pass ratios' range
	P50    string
	P99    string
	Errors int
	Error  string // the first error, as a tooltip
}

type perfRow struct {
	Target string
	Cells  []perfCell
}

type perfTable struct {
	Op      perf.Op
	About   string
	Clients []int
	Rows    []perfRow
}

type failRow struct {
	Target      string
	Rounds      []string
	MedianFirst string
	MedianStall string
	Ratio       string // median first write against the baseline's
	StallRatio  string
	Errors      []string
}

type perfView struct {
	Runtime, Network     string
	Nodes                int
	Warmup, Rewarm       string
	WarmupNote           string
	Point                string
	OpTimeout            string
	Passes               int
	ValueSize, Keys      int
	Elapsed              string
	Order                []string
	Base                 string
	Versions             []string
	Tables               []perfTable
	FailoverRounds       int
	FailoverClients      int
	FailRounds           []int
	Failover             []failRow
	Errors               []string
	Figures              []figView
	TargetsWithoutFigure []string
}

// loadPerf reads out/perf/perf.json and renders its view and figures;
// nil when the bench measured no performance section.
func loadPerf(out, baseline string) (*perfView, error) {
	res, err := perf.Read(filepath.Join(out, PerfDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	v := perfView{Runtime: res.Runtime, Network: res.Network, Nodes: res.Settings.Nodes, Warmup: res.Settings.Warmup,
		Rewarm: res.Settings.Rewarm, Point: res.Settings.Point, OpTimeout: res.Settings.OpTimeout, Passes: res.Settings.Passes, ValueSize: res.Settings.ValueSize,
		Keys: res.Settings.Keys, Elapsed: res.Elapsed, FailoverRounds: res.Settings.FailoverRounds, FailoverClients: res.Settings.FailoverClients}
	if w, err := time.ParseDuration(res.Settings.Warmup); err == nil && w < fullWarmup {
		v.WarmupNote = fmt.Sprintf("Each target had %s of warm-up load before its first pass, not the %s ZooKeeper's JIT needs to settle, so that make bench fits in 10 minutes: the JVM's first-pass figures may be low. coordlab bench --suite full (or --warmup 30s) warms each target for %s.", res.Settings.Warmup, fullWarmup, fullWarmup)
	}
	pass := 0
	for _, o := range res.Order {
		if o.Pass != pass {
			pass = o.Pass
			v.Order = append(v.Order, fmt.Sprintf("pass %d:", pass))
		}
		v.Order[len(v.Order)-1] += fmt.Sprintf(" %s (at %.0f s, after %s of warm-up)", o.Target, o.StartS, o.Warmup)
	}
	var base *perf.TargetResult
	for i := range res.Targets {
		t := &res.Targets[i]
		if t.Target == baseline && len(t.Points) > 0 {
			base = t
		}
		if t.Error != "" {
			v.Errors = append(v.Errors, t.Target+": "+t.Error)
		}
		if ver := t.Versions[t.Target]; ver != "" {
			v.Versions = append(v.Versions, t.Target+": "+ver)
		}
	}
	if base == nil {
		for i := range res.Targets {
			if len(res.Targets[i].Points) > 0 {
				base = &res.Targets[i]
				break
			}
		}
	}
	if base != nil {
		v.Base = base.Target
	}
	for _, op := range perf.Ops {
		tb := perfTable{Op: op, About: op.About(), Clients: res.Settings.Clients}
		for _, t := range res.Targets {
			r := perfRow{Target: t.Target}
			for _, n := range res.Settings.Clients {
				r.Cells = append(r.Cells, cell(t.PointsOf(op, n), base, op, n, t.Target == v.Base))
			}
			tb.Rows = append(tb.Rows, r)
		}
		v.Tables = append(v.Tables, tb)
	}
	for i := range res.Settings.FailoverRounds {
		v.FailRounds = append(v.FailRounds, i+1)
	}
	baseFirst, baseStall := -1.0, -1.0
	if base != nil {
		baseFirst, baseStall = failMedians(base.Failover)
	}
	for _, t := range res.Targets {
		fr := failRow{Target: t.Target}
		for _, f := range t.Failover {
			s := fmt.Sprintf("%s: %s / %s", f.Killed, fmtMs(f.FirstWriteMs), fmtMs(f.MaxStallMs))
			if f.Error != "" {
				fr.Errors = append(fr.Errors, fmt.Sprintf("round %d: %s", f.Round, f.Error))
			}
			fr.Rounds = append(fr.Rounds, s)
		}
		for len(fr.Rounds) < res.Settings.FailoverRounds {
			fr.Rounds = append(fr.Rounds, "–")
		}
		first, stall := failMedians(t.Failover)
		fr.MedianFirst, fr.MedianStall = fmtMs(first), fmtMs(stall)
		if len(t.Failover) == 0 {
			fr.MedianFirst, fr.MedianStall = "–", "–"
		}
		fr.Ratio, fr.StallRatio = ratioText(first, baseFirst), ratioText(stall, baseStall)
		v.Failover = append(v.Failover, fr)
	}
	figs, err := perfFigures(res)
	if err != nil {
		return nil, err
	}
	if v.Figures, err = writeFigures(out, figs); err != nil {
		return nil, err
	}
	return &v, nil
}

// cell is one target's figures at (op, n): the mean over its passes and
// each pass, and the ratio of the means against the baseline's, with the
// range of the per-pass ratios (pass i against the baseline's pass i:
// both measured in the same pass, minutes apart at most).
func cell(ps []perf.Point, base *perf.TargetResult, op perf.Op, n int, isBase bool) perfCell {
	if len(ps) == 0 {
		return perfCell{Ops: "–"}
	}
	var c perfCell
	var passes []string
	mean := 0.0
	var p50, p99 []float64
	for _, p := range ps {
		mean += p.Throughput
		passes = append(passes, strconv.FormatFloat(p.Throughput, 'f', 0, 64))
		c.Errors += p.Errors
		if c.Error == "" {
			c.Error = p.FirstError
		}
		p50, p99 = append(p50, p.Latency.P50), append(p99, p.Latency.P99)
	}
	mean /= float64(len(ps))
	c.Ops = strconv.FormatFloat(mean, 'f', 0, 64)
	c.Passes = strings.Join(passes, " / ")
	c.P50, c.P99 = spreadMs(p50), spreadMs(p99)
	if base == nil {
		return c
	}
	bps := base.PointsOf(op, n)
	bmean := 0.0
	for _, p := range bps {
		bmean += p.Throughput
	}
	if len(bps) == 0 || bmean <= 0 {
		return c
	}
	bmean /= float64(len(bps))
	if isBase {
		c.Ratio = "1×"
		return c
	}
	c.Ratio = strconv.FormatFloat(mean/bmean, 'f', 2, 64) + "×"
	var rs []float64
	for _, p := range ps {
		for _, b := range bps {
			if b.Pass == p.Pass && b.Throughput > 0 {
				rs = append(rs, p.Throughput/b.Throughput)
			}
		}
	}
	if len(rs) > 1 {
		c.Spread = strconv.FormatFloat(slices.Min(rs), 'f', 2, 64) + "–" + strconv.FormatFloat(slices.Max(rs), 'f', 2, 64)
	}
	return c
}

// spreadMs is "v" for one value, "min–max" for several.
func spreadMs(vs []float64) string {
	lo, hi := slices.Min(vs), slices.Max(vs)
	f := func(x float64) string {
		if x >= 100 {
			return strconv.FormatFloat(x, 'f', 0, 64)
		}
		return strconv.FormatFloat(x, 'f', 2, 64)
	}
	if len(vs) == 1 || f(lo) == f(hi) {
		return f(lo)
	}
	return f(lo) + "–" + f(hi)
}

func ratioText(v, base float64) string {
	if v < 0 || base <= 0 {
		return "–"
	}
	return strconv.FormatFloat(v/base, 'f', 2, 64) + "×"
}

// failMedians are the medians of the rounds' time to the first write
// (-1 when a round had none: a round that never recovered counts as the
// worst) and longest stall.
func failMedians(fs []perf.Failover) (first, stall float64) {
	if len(fs) == 0 {
		return -1, -1
	}
	var a, b []float64
	for _, f := range fs {
		x := f.FirstWriteMs
		if x < 0 {
			x = math.Inf(1)
		}
		a, b = append(a, x), append(b, f.MaxStallMs)
	}
	slices.Sort(a)
	slices.Sort(b)
	first, stall = a[(len(a)-1)/2], b[(len(b)-1)/2]
	if math.IsInf(first, 1) {
		first = -1
	}
	return first, stall
}

// perfFigures: for each operation, throughput against clients (the mean
// over the passes, bars from the lowest to the highest pass), then the
// latency distributions (log scale) at the fewest and the most clients.
func perfFigures(res perf.Results) ([]Figure, error) {
	var out []Figure
	cs := res.Settings.Clients
	for _, op := range perf.Ops {
		p := newPlot("Throughput against clients: "+string(op), "concurrent clients (log scale)", "ok operations (ops/s)")
		p.X.Tick.Marker = clientTicks(cs)
		for i, t := range res.Targets {
			var xys plotter.XYs
			var errs plotter.YErrors
			for _, n := range cs {
				ps := t.PointsOf(op, n)
				if len(ps) == 0 {
					continue
				}
				var v []float64
				for _, q := range ps {
					v = append(v, q.Throughput)
				}
				m := 0.0
				for _, x := range v {
					m += x
				}
				m /= float64(len(v))
				xys = append(xys, plotter.XY{X: math.Log2(float64(n)), Y: m})
				errs = append(errs, struct{ Low, High float64 }{m - slices.Min(v), slices.Max(v) - m})
			}
			if len(xys) == 0 {
				continue
			}
			col := seriesColors[i%len(seriesColors)]
			line, pts, err := plotter.NewLinePoints(xys)
			if err != nil {
				return nil, err
			}
			line.LineStyle.Color, line.LineStyle.Width = col, vg.Points(1.5)
			pts.GlyphStyle.Color, pts.GlyphStyle.Radius, pts.GlyphStyle.Shape = col, vg.Points(3), draw.CircleGlyph{}
			eb, err := plotter.NewYErrorBars(struct {
				plotter.XYer
				plotter.YErrorer
			}{xys, errs})
			if err != nil {
				return nil, err
			}
			eb.LineStyle.Color, eb.LineStyle.Width = col, vg.Points(1.2)
			p.Add(line, pts, eb)
			p.Legend.Add(t.Target, line, pts)
		}
		p.Y.Min = 0
		if len(cs) > 0 {
			p.X.Min, p.X.Max = math.Log2(float64(slices.Min(cs)))-0.3, math.Log2(float64(slices.Max(cs)))+0.3
		}
		f, err := render(p, "perf-"+string(op)+"-throughput")
		if err != nil {
			return nil, err
		}
		out = append(out, f)

		q := newPlot(fmt.Sprintf("Latency distribution: %s", op), "percentile (log scale of 1/(1-q))", "latency (ms, log)")
		q.X.Tick.Marker = distTicks{}
		logY(q)
		drawn := false
		ends := []int{}
		if len(cs) > 0 {
			ends = append(ends, slices.Min(cs))
			if slices.Max(cs) != slices.Min(cs) {
				ends = append(ends, slices.Max(cs))
			}
		}
		for i, t := range res.Targets {
			col := seriesColors[i%len(seriesColors)]
			for j, n := range ends {
				d, ok := t.Dist(op, n)
				if !ok {
					continue
				}
				var xys plotter.XYs
				for k, ms := range d.Ms {
					xys = append(xys, plotter.XY{X: distX(perf.DistQuantiles[k]), Y: lg(ms)})
				}
				name := fmt.Sprintf("%s, %d client%s", t.Target, n, map[bool]string{true: "", false: "s"}[n == 1])
				if err := addLine(q, name, xys, col, j == 1); err != nil {
					return nil, err
				}
				drawn = true
			}
		}
		q.X.Min, q.X.Max = 0.2, 4.6
		if !drawn {
			q.Y.Min, q.Y.Max = lg(0.1), lg(1000)
		}
		f, err = render(q, "perf-"+string(op)+"-latency")
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// distX places a quantile on the percentile axis: log10(1/(1-q)), the
// maximum half a decade past p99.99.
func distX(q float64) float64 {
	if q >= 1 {
		return 4.5
	}
	return math.Log10(1 / (1 - q))
}

type distTicks struct{}

func (distTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for _, q := range []struct {
		q    float64
		name string
	}{{0.5, "50%"}, {0.9, "90%"}, {0.99, "99%"}, {0.999, "99.9%"}, {0.9999, "99.99%"}, {1, "max"}} {
		ts = append(ts, plot.Tick{Value: distX(q.q), Label: q.name})
	}
	return ts
}

// clientTicks label a log2 axis at the measured client counts.
type clientTicks []int

func (c clientTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for _, n := range c {
		ts = append(ts, plot.Tick{Value: math.Log2(float64(n)), Label: strconv.Itoa(n)})
	}
	return ts
}
