package reports

import (
	"bytes"
	"fmt"
	"image/color"
	"image/png"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"coordlab/analysis"
)

// Figure is one rendered plot: the SVG shown in the page and the PNG
// written beside it as a fallback.
type Figure struct {
	Name  string // file stem: plots/<Name>.svg and .png
	Title string
	SVG   []byte
	PNG   []byte
}

// Plot size on a laptop screen: wide enough for a 60 s run at 1 px per
// 10 ms of resolution, short enough that three fit in one screen.
const (
	plotW = 26 * vg.Centimeter
	plotH = 10 * vg.Centimeter
)

var (
	colOK      = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	colFail    = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	colInfo    = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	colPending = color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}
	// series colours for comparisons (one per target), colour-blind safe.
	seriesColors = []color.RGBA{
		{R: 0x00, G: 0x72, B: 0xb2, A: 0xff}, {R: 0xe6, G: 0x9f, B: 0x00, A: 0xff},
		{R: 0x00, G: 0x9e, B: 0x73, A: 0xff}, {R: 0xcc, G: 0x79, B: 0xa7, A: 0xff},
		{R: 0x56, G: 0xb4, B: 0xe9, A: 0xff}, {R: 0xd5, G: 0x5e, B: 0x00, A: 0xff},
	}
)

// faultColor is the shade of a fault window, by fault kind.
// It is not premultiplied (NRGBA): the alpha only makes it translucent.
func faultColor(kind string) color.NRGBA {
	switch kind {
	case "partition":
		return color.NRGBA{R: 0xe8, G: 0x6a, B: 0x6a, A: 0x40}
	case "kill":
		return color.NRGBA{R: 0x90, G: 0x60, B: 0xc0, A: 0x40}
	case "pause":
		return color.NRGBA{R: 0x50, G: 0x90, B: 0xd0, A: 0x40}
	case "loss":
		return color.NRGBA{R: 0xd0, G: 0xb0, B: 0x20, A: 0x40}
	}
	return color.NRGBA{R: 0x90, G: 0x90, B: 0x90, A: 0x40}
}

// shade is a plotter that fills each fault window across the whole height
// of the plot and writes the fault's name at its top.
type shade struct {
	windows []analysis.FaultWindow
	endS    float64 // where an unfinished window ends (the end of the run)
}

func (s shade) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	sty := draw.TextStyle{
		Color:   color.Gray{Y: 0x30},
		Font:    font.From(plot.DefaultFont, vg.Points(shadePt)),
		XAlign:  draw.XLeft,
		YAlign:  draw.YTop,
		Handler: plot.DefaultTextHandler,
	}
	for i, w := range s.windows {
		x0s := float64(w.StartNs) / 1e9
		x1s := s.endS
		if w.EndNs >= 0 {
			x1s = float64(w.EndNs) / 1e9
		}
		x0, x1 := trX(x0s), trX(x1s)
		if x1 < c.Min.X || x0 > c.Max.X {
			continue
		}
		x0, x1 = max(x0, c.Min.X), min(x1, c.Max.X)
		if x1-x0 < 1 {
			x1 = x0 + 1 // a kill lasts an instant: still show it
		}
		c.FillPolygon(faultColor(w.Fault), []vg.Point{
			{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y},
		})
		label := w.Fault
		if w.Node != "" {
			label += " " + w.Node
		}
		// Stagger labels so adjacent windows stay readable.
		y := c.Max.Y - vg.Points(2) - vg.Length(i%3)*vg.Points(shadePt+2)
		c.FillText(sty, vg.Point{X: x0 + vg.Points(2), Y: y}, label)
	}
}

// Font sizes, in points of the SVG. A plot is drawn about 1.1 times its
// size on a laptop (1100 px wide for 26 cm), so 12 pt reads as 17 px.
const (
	titlePt  = 15
	labelPt  = 13
	tickPt   = 12
	legendPt = 13
	shadePt  = 11
)

// newPlot makes a plot with our axis style and font sizes.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(titlePt)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(labelPt)
		a.Tick.Label.Font.Size = vg.Points(tickPt)
	}
	p.Legend.TextStyle.Font.Size = vg.Points(legendPt)
	p.Legend.Padding = vg.Points(4)
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	return p
}

// drawWithLegend draws p on c with its legend outside the plot area, in a
// column on the right, level with the top of the plot area: a legend
// inside covers lines wherever the data happen to be.
func drawWithLegend(p *plot.Plot, c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	leg := p.Legend
	p.Legend = plot.NewLegend() // p draws no legend of its own
	defer func() { p.Legend = leg }()
	w := leg.Rectangle(c).Size().X
	if w == 0 {
		p.Draw(c)
		return
	}
	// Browsers draw the SVG's text in their own sans-serif, up to a fifth
	// wider than the metrics gonum measures with.
	w *= 1.2
	gap := vg.Points(10)
	p.Draw(draw.Crop(c, 0, -(w + 2*gap), 0, 0))
	// Level with the plot area: below the title.
	top := p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y + p.Title.Padding
	lc := draw.Crop(c, c.Size().X-w-gap, -gap, 0, -top)
	leg.Top, leg.Left = true, true
	leg.Draw(lc)
}

// render turns a plot into a Figure (SVG and PNG). The PNG is compressed
// for speed, not size: deflate at the default level was a third of the
// time of rendering a folder of runs.
func render(p *plot.Plot, name string) (Figure, error) {
	f := Figure{Name: name, Title: p.Title.Text}
	sc := vgsvg.New(plotW, plotH)
	drawWithLegend(p, draw.New(sc))
	var b bytes.Buffer
	if _, err := sc.WriteTo(&b); err != nil {
		return f, fmt.Errorf("reports: plot %s: %w", name, err)
	}
	f.SVG = b.Bytes()
	img := vgimg.NewWith(vgimg.UseWH(plotW, plotH), vgimg.UseDPI(96))
	drawWithLegend(p, draw.New(img))
	var pb bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&pb, img.Image()); err != nil {
		return f, fmt.Errorf("reports: plot %s: %w", name, err)
	}
	f.PNG = pb.Bytes()
	return f, nil
}

// runEndS is the end of the run in seconds: the last line of the history.
func runEndS(r *Run) float64 {
	if len(r.Ops) == 0 {
		return 1
	}
	return math.Max(1, float64(r.Ops[len(r.Ops)-1].Time)/1e9)
}

// latencyScatter plots every operation as a point at its invoke time, its
// height its latency (log scale), coloured by outcome, over the shaded
// fault windows.
func latencyScatter(r *Run) (Figure, error) {
	p := newPlot(fmt.Sprintf("Latency of every operation: %s, %s workload", r.Spec.Target, r.Spec.Workload),
		"time since run start (s)", "latency (ms, log)")
	logY(p)
	byType := map[string]plotter.XYs{}
	for _, pr := range r.Pairs {
		if pr.Done == nil {
			continue
		}
		byType[typeName(pr)] = append(byType[typeName(pr)], plotter.XY{X: float64(pr.Invoke.Time) / 1e9, Y: lg(pr.LatencyMs())})
	}
	p.Add(shade{windows: r.Results.Perf.Faults, endS: runEndS(r)})
	for _, t := range []struct {
		name string
		col  color.RGBA
	}{{"ok", colOK}, {"fail", colFail}, {"info", colInfo}} {
		xys := byType[t.name]
		if len(xys) == 0 {
			continue
		}
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return Figure{}, err
		}
		s.GlyphStyle.Color = t.col
		s.GlyphStyle.Radius = vg.Points(1.3)
		s.GlyphStyle.Shape = draw.CircleGlyph{}
		p.Add(s)
		p.Legend.Add(fmt.Sprintf("%s (%d)", t.name, len(xys)), s)
	}
	p.X.Min, p.X.Max = 0, runEndS(r)
	if len(byType) == 0 { // nothing completed: keep the axes valid
		p.Y.Min, p.Y.Max = lg(0.1), lg(1000)
	}
	return render(p, "latency")
}

// quantile returns the q-quantile of sorted xs.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// quantileSeries buckets OK ops by the second they completed in and
// returns p50, p99 and max latency per second, as lg(ms) for a logY plot.
func quantileSeries(r *Run) (p50, p99, pmax plotter.XYs) {
	buckets := map[int][]float64{}
	for _, pr := range r.Pairs {
		if pr.Done == nil || pr.Done.Type.String() != "ok" {
			continue
		}
		s := int(pr.Done.Time / 1e9)
		buckets[s] = append(buckets[s], pr.LatencyMs())
	}
	secs := make([]int, 0, len(buckets))
	for s := range buckets {
		secs = append(secs, s)
	}
	sort.Ints(secs)
	for _, s := range secs {
		xs := buckets[s]
		sort.Float64s(xs)
		x := float64(s) + 0.5
		p50 = append(p50, plotter.XY{X: x, Y: lg(quantile(xs, 0.5))})
		p99 = append(p99, plotter.XY{X: x, Y: lg(quantile(xs, 0.99))})
		pmax = append(pmax, plotter.XY{X: x, Y: lg(xs[len(xs)-1])})
	}
	return p50, p99, pmax
}

func addLine(p *plot.Plot, name string, xys plotter.XYs, col color.Color, dashed bool) error {
	if len(xys) == 0 {
		return nil
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	l.LineStyle.Color = col
	l.LineStyle.Width = vg.Points(1.2)
	if dashed {
		l.LineStyle.Dashes = []vg.Length{vg.Points(3), vg.Points(2)}
	}
	p.Add(l)
	p.Legend.Add(name, l)
	return nil
}

// latencyQuantiles plots p50, p99 and max latency of OK ops per second.
func latencyQuantiles(r *Run) (Figure, error) {
	p := newPlot("Latency quantiles per second (ok operations)", "time since run start (s)", "latency (ms, log)")
	logY(p)
	p.Add(shade{windows: r.Results.Perf.Faults, endS: runEndS(r)})
	p50, p99, pmax := quantileSeries(r)
	for _, s := range []struct {
		name string
		xys  plotter.XYs
		col  color.Color
	}{{"p50", p50, seriesColors[0]}, {"p99", p99, seriesColors[1]}, {"max", pmax, seriesColors[3]}} {
		if err := addLine(p, s.name, s.xys, s.col, false); err != nil {
			return Figure{}, err
		}
	}
	p.X.Min, p.X.Max = 0, runEndS(r)
	if len(p50) == 0 {
		p.Y.Min, p.Y.Max = lg(0.1), lg(1000)
	}
	return render(p, "quantiles")
}

// throughputSeries returns ok, fail and info completions per second.
func throughputSeries(r *Run) (ok, fail, info plotter.XYs) {
	for _, s := range r.Results.Perf.Throughput {
		x := float64(s.Second) + 0.5
		ok = append(ok, plotter.XY{X: x, Y: float64(s.OK)})
		fail = append(fail, plotter.XY{X: x, Y: float64(s.Fail)})
		info = append(info, plotter.XY{X: x, Y: float64(s.Info)})
	}
	return ok, fail, info
}

// throughput plots completions per second by outcome.
func throughput(r *Run) (Figure, error) {
	p := newPlot("Throughput", "time since run start (s)", "operations completed (ops/s)")
	p.Add(shade{windows: r.Results.Perf.Faults, endS: runEndS(r)})
	ok, fail, info := throughputSeries(r)
	for _, s := range []struct {
		name string
		xys  plotter.XYs
		col  color.Color
	}{{"ok", ok, colOK}, {"fail", fail, colFail}, {"info", info, colInfo}} {
		if err := addLine(p, s.name, s.xys, s.col, false); err != nil {
			return Figure{}, err
		}
	}
	p.X.Min, p.X.Max = 0, runEndS(r)
	p.Y.Min = 0
	if len(ok) == 0 {
		p.Y.Max = 1
	}
	return render(p, "throughput")
}

// unavailability draws, for each fault, the time from its start to the
// first successful write and read after it.
func unavailability(r *Run) (Figure, error) {
	p := newPlot("Unavailability after each fault", "fault (in order)", "time to first success (ms)")
	us := r.Results.Perf.Unavailability
	w, rd := make(plotter.Values, len(us)), make(plotter.Values, len(us))
	names := make([]string, len(us))
	for i, u := range us {
		w[i], rd[i] = math.Max(u.WriteMs, 0), math.Max(u.ReadMs, 0)
		names[i] = fmt.Sprintf("%d:%s", i+1, u.Fault)
	}
	if len(us) == 0 {
		p.Title.Text += " (no faults in this run)"
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
		return render(p, "unavailability")
	}
	bw := vg.Points(math.Max(4, math.Min(18, 300/float64(len(us)))))
	wb, err := plotter.NewBarChart(w, bw)
	if err != nil {
		return Figure{}, err
	}
	wb.Color, wb.Offset = seriesColors[0], -bw/2
	rb, err := plotter.NewBarChart(rd, bw)
	if err != nil {
		return Figure{}, err
	}
	rb.Color, rb.Offset = seriesColors[1], bw/2
	p.Add(wb, rb)
	p.Legend.Add("first ok write", wb)
	p.Legend.Add("first ok read", rb)
	p.NominalX(names...)
	p.Y.Min = 0
	return render(p, "unavailability")
}

// Latency axes are logarithmic. gonum's LogScale centres an axis label on
// the arithmetic middle of the range, which on a log axis sits near the top
// and pushes the plot area down; so a latency plot draws lg(ms) on a linear
// axis whose ticks are labelled in ms at each decade.

// lg is the y of a latency on a logY plot; a log axis cannot show 0, so
// latencies under 0.01 ms are drawn at 0.01 ms.
func lg(ms float64) float64 { return math.Log10(math.Max(ms, 0.01)) }

// logY makes p's y axis a log latency axis (values from lg).
func logY(p *plot.Plot) { p.Y.Tick.Marker = decadeTicks{} }

// decadeTicks label each decade (major) and its 2..9 multiples (minor) of
// an axis holding log10 values.
type decadeTicks struct{}

// A range of under two decades also labels the 2s and 5s.
func (decadeTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	few := max-min < 2
	for k := math.Floor(min); k <= math.Ceil(max); k++ {
		for m := 1.0; m < 10; m++ {
			v := k + math.Log10(m)
			if v < min || v > max {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || (few && (m == 2 || m == 5)) {
				t.Label = strconv.FormatFloat(m*math.Pow(10, k), 'g', 6, 64)
			}
			ts = append(ts, t)
		}
	}
	return ts
}

// RunFigures are the plots of a run page, in page order.
func RunFigures(r *Run) ([]Figure, error) {
	var out []Figure
	for _, f := range []func(*Run) (Figure, error){latencyScatter, latencyQuantiles, throughput, unavailability} {
		fig, err := f(r)
		if err != nil {
			return nil, err
		}
		out = append(out, fig)
	}
	return out, nil
}

// compareFigures overlays runs of the same workload and schedule: p99
// latency per second and ok throughput per second, one line per target,
// fault windows of the first run shaded (the schedule is the same), and the
// latency quantiles side by side.
func compareFigures(group string, runs []*Run) ([]Figure, error) {
	lat := newPlot("p99 latency per second: "+group, "time since run start (s)", "p99 latency (ms, log)")
	logY(lat)
	thr := newPlot("Throughput (ok ops/s): "+group, "time since run start (s)", "ok operations (ops/s)")
	end := 1.0
	for _, r := range runs {
		end = math.Max(end, runEndS(r))
	}
	if len(runs) > 0 {
		sh := shade{windows: runs[0].Results.Perf.Faults, endS: end}
		lat.Add(sh)
		thr.Add(sh)
	}
	anyLat := false
	for i, r := range runs {
		col := seriesColors[i%len(seriesColors)]
		_, p99, _ := quantileSeries(r)
		anyLat = anyLat || len(p99) > 0
		if err := addLine(lat, label(r), p99, col, false); err != nil {
			return nil, err
		}
		ok, _, _ := throughputSeries(r)
		if err := addLine(thr, label(r), ok, col, false); err != nil {
			return nil, err
		}
	}
	lat.X.Min, lat.X.Max, thr.X.Min, thr.X.Max = 0, end, 0, end
	thr.Y.Min = 0
	if !anyLat {
		lat.Y.Min, lat.Y.Max = lg(0.1), lg(1000)
	}
	slug := slugify(group)
	f1, err := render(lat, "cmp-"+slug+"-p99")
	if err != nil {
		return nil, err
	}
	f2, err := render(thr, "cmp-"+slug+"-throughput")
	if err != nil {
		return nil, err
	}

	q, err := percentilePlot("Latency by percentile (ok operations): "+group, runs)
	if err != nil {
		return nil, err
	}
	f3, err := render(q, "cmp-"+slug+"-quantiles")
	if err != nil {
		return nil, err
	}
	return []Figure{f1, f2, f3}, nil
}

// percentiles are the quantiles results.json keeps, where a percentile
// plot puts them: x = log10(1/(1-q)), as HdrHistogram's plots do, so each
// nine gets the same room; max sits one decade past p99.9.
var percentiles = []struct {
	name string
	x    float64
	of   func(analysis.Quantiles) float64
}{
	{"50%", math.Log10(2), func(q analysis.Quantiles) float64 { return q.P50 }},
	{"90%", 1, func(q analysis.Quantiles) float64 { return q.P90 }},
	{"99%", 2, func(q analysis.Quantiles) float64 { return q.P99 }},
	{"99.9%", 3, func(q analysis.Quantiles) float64 { return q.P999 }},
	{"max", 4, func(q analysis.Quantiles) float64 { return q.Max }},
}

// percentileTicks label the percentile axis at the quantiles only.
type percentileTicks struct{}

func (percentileTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for _, p := range percentiles {
		ts = append(ts, plot.Tick{Value: p.x, Label: p.name})
	}
	return ts
}

// percentilePlot draws each run's latency at the percentiles (log latency
// axis: a p99.9 of seconds must not flatten a p50 of a millisecond).
func percentilePlot(title string, runs []*Run) (*plot.Plot, error) {
	q := newPlot(title, "percentile (log scale of 1/(1-q))", "latency (ms, log)")
	q.X.Tick.Marker = percentileTicks{}
	logY(q)
	drawn := false
	for i, r := range runs {
		l := r.Results.Perf.Latency["all"]
		if l.Count == 0 {
			continue
		}
		var xys plotter.XYs
		for _, p := range percentiles {
			xys = append(xys, plotter.XY{X: p.x, Y: lg(p.of(l))})
		}
		col := seriesColors[i%len(seriesColors)]
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		line.LineStyle.Color, line.LineStyle.Width = col, vg.Points(1.5)
		points.GlyphStyle.Color, points.GlyphStyle.Radius, points.GlyphStyle.Shape = col, vg.Points(3), draw.CircleGlyph{}
		q.Add(line, points)
		q.Legend.Add(label(r), line, points)
		drawn = true
	}
	q.X.Min, q.X.Max = 0.2, 4.1
	if !drawn {
		q.Y.Min, q.Y.Max = lg(0.1), lg(1000)
	}
	return q, nil
}

// label names a run in a legend: its target and runtime.
func label(r *Run) string {
	s := r.Spec.Target
	if r.Spec.ReadMode != "" {
		s += " (" + r.Spec.ReadMode + ")"
	}
	return s
}

func slugify(s string) string {
	b := make([]byte, 0, len(s))
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b = append(b, c)
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		default:
			if len(b) > 0 && b[len(b)-1] != '-' {
				b = append(b, '-')
			}
		}
	}
	return string(bytes.TrimRight(b, "-"))
}
