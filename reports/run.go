package reports

import (
	"embed"
	"encoding/base64"
	"fmt"
	"html"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"coordlab/analysis"
	"coordlab/history"
)

//go:embed templates
var templateFS embed.FS

var funcs = template.FuncMap{
	"ms": func(v float64) string {
		if math.IsNaN(v) {
			return "–"
		}
		return strconv.FormatFloat(v, 'f', 2, 64)
	},
	"never": func(v float64) string {
		if v < 0 {
			return "never"
		}
		return strconv.FormatFloat(v, 'f', 1, 64)
	},
	"secs": func(ns int64) string { return strconv.FormatFloat(float64(ns)/1e9, 'f', 2, 64) },
	"pct":  func(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + " %" },
	"inc":  func(i int) int { return i + 1 },
	"ratio": func(v, base float64) template.HTML {
		if base <= 0 || v < 0 || math.IsNaN(v) || math.IsNaN(base) {
			return "–"
		}
		return template.HTML(strconv.FormatFloat(v/base, 'f', 2, 64) + "×")
	},
}

var pages = template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html"))

func css() template.CSS {
	b, err := templateFS.ReadFile("templates/style.css")
	if err != nil {
		panic(err) // embedded at build time: cannot be missing
	}
	return template.CSS(b)
}

// figView is a figure as a page shows it: the SVG inline, as a data URI, so
// the page needs no other file; the PNG and SVG beside it as fallbacks.
type figView struct {
	Title   string
	Data    template.URL
	PNG     string
	SVGFile string
}

type checkerView struct {
	Name      string
	Valid     string
	Class     string
	Note      string
	Files     []string
	Anomalies []analysis.Anomaly
}

type anomalyView struct {
	ID            string
	Checker       string
	Kind          string
	Key           string
	Explanation   string
	Visualization string
	Minimal       []int64
	Ops           []opView
}

type opView struct {
	Index   int64
	Time    string
	Process string
	Type    string
	F       string
	Key     string
	Value   string
	Version string
	Node    string
	Error   string
}

type quantRow struct {
	Name string
	Q    analysis.Quantiles
}

type staleRow struct {
	Name string
	S    analysis.Staleness
}

type runPage struct {
	CSS          template.CSS
	Run          *Run
	Verdict      string
	VerdictClass string
	VerdictLine  string
	CheckTime    string
	Checkers     []checkerView
	Anomalies    []anomalyView
	Figures      []figView
	Latency      []quantRow
	Staleness    []staleRow
	Timeline     template.HTML
	TimelineNote string
}

func verdictClass(v analysis.Validity) string {
	switch v {
	case analysis.Valid:
		return "valid"
	case analysis.Invalid:
		return "invalid"
	}
	return "unknown"
}

// VerdictLine says the run's verdict in one line.
func VerdictLine(r *Run) string {
	res := r.Results
	switch res.Valid {
	case analysis.Valid:
		return fmt.Sprintf("Valid: no anomaly in %d operations (%s).", res.Counts.Ops, strings.Join(checkerNames(res), ", "))
	case analysis.Invalid:
		n, kinds := 0, map[string]bool{}
		var names []string
		for _, name := range checkerNames(res) {
			c := res.Checkers[name]
			n += len(c.Anomalies)
			for _, a := range c.Anomalies {
				if !kinds[a.Kind] {
					kinds[a.Kind] = true
					names = append(names, a.Kind)
				}
			}
		}
		return fmt.Sprintf("Invalid: %d anomal%s (%s).", n, plural(n, "y", "ies"), strings.Join(names, ", "))
	}
	why := res.Error
	if why == "" && res.Budget.Exhausted != "" {
		why = "the checker ran out of " + res.Budget.Exhausted
	}
	if why == "" {
		for _, name := range checkerNames(res) {
			if c := res.Checkers[name]; c.Valid == analysis.Unknown && c.Note != "" {
				why = name + ": " + c.Note
				break
			}
		}
	}
	return "Unknown: " + why + "."
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func checkerNames(res analysis.Results) []string {
	names := make([]string, 0, len(res.Checkers))
	for n := range res.Checkers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func viewOp(op history.Op) opView {
	v := opView{
		Index: op.Index, Time: strconv.FormatFloat(float64(op.Time)/1e9, 'f', 3, 64),
		Process: strconv.Itoa(op.Process), Type: op.Type.String(), F: op.F, Key: op.Key,
		Node: op.Node, Error: op.Error,
	}
	if op.IsNemesis() {
		v.Process = "nemesis"
	}
	if op.Value != nil {
		v.Value = *op.Value
	}
	if op.Old != nil {
		v.Value = *op.Old + " → " + v.Value
	}
	if op.Type == history.OK && strings.HasPrefix(op.F, "read") && !op.Found && op.Value == nil {
		v.Value = "(none)"
	}
	if op.Version != 0 {
		v.Version = strconv.FormatInt(op.Version, 10)
	}
	if len(op.Events) > 0 {
		v.Value = fmt.Sprintf("%d events", len(op.Events))
	}
	return v
}

// RenderRun writes the run page, dir/report.html, and its plots under
// dir/plots/.
func RenderRun(r *Run) error {
	res := r.Results
	page := runPage{
		CSS: css(), Run: r, Verdict: res.Valid.String(), VerdictClass: verdictClass(res.Valid),
		VerdictLine: VerdictLine(r), CheckTime: time.Duration(res.CheckTimeNs).Round(time.Millisecond).String(),
	}
	byIndex := make(map[int64]history.Op, len(r.Ops))
	for _, op := range r.Ops {
		byIndex[op.Index] = op
	}
	highlight := map[int64]bool{}
	for _, name := range checkerNames(res) {
		c := res.Checkers[name]
		page.Checkers = append(page.Checkers, checkerView{
			Name: name, Valid: c.Valid.String(), Class: verdictClass(c.Valid), Note: c.Note, Files: c.Files, Anomalies: c.Anomalies,
		})
		for i, a := range c.Anomalies {
			av := anomalyView{
				ID: fmt.Sprintf("anomaly-%s-%d", slugify(name), i+1), Checker: name, Kind: a.Kind, Key: a.Key,
				Explanation: a.Explanation, Visualization: a.Visualization, Minimal: a.Minimal,
			}
			for _, idx := range a.Ops {
				highlight[idx] = true
				if op, ok := byIndex[idx]; ok {
					av.Ops = append(av.Ops, viewOp(op))
				}
			}
			page.Anomalies = append(page.Anomalies, av)
		}
	}
	figs, err := RunFigures(r)
	if err != nil {
		return err
	}
	if page.Figures, err = writeFigures(r.Dir, figs); err != nil {
		return err
	}
	fs := make([]string, 0, len(res.Perf.Latency))
	for f := range res.Perf.Latency {
		fs = append(fs, f)
	}
	sort.Strings(fs)
	for _, f := range fs {
		page.Latency = append(page.Latency, quantRow{f, res.Perf.Latency[f]})
	}
	modes := make([]string, 0, len(res.Staleness))
	for m := range res.Staleness {
		modes = append(modes, m)
	}
	sort.Strings(modes)
	for _, m := range modes {
		name := m
		if name == "" {
			name = "(default)"
		}
		page.Staleness = append(page.Staleness, staleRow{name, res.Staleness[m]})
	}
	page.Timeline, page.TimelineNote = timeline(r, highlight)
	return writePage(filepath.Join(r.Dir, "report.html"), "run.html", page)
}

// writeFigures writes each figure's SVG and PNG under dir/plots and returns
// the views a page shows, with paths relative to dir.
func writeFigures(dir string, figs []Figure) ([]figView, error) {
	if err := os.MkdirAll(filepath.Join(dir, "plots"), 0o755); err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	var out []figView
	for _, f := range figs {
		svg, png := filepath.Join("plots", f.Name+".svg"), filepath.Join("plots", f.Name+".png")
		if err := os.WriteFile(filepath.Join(dir, svg), f.SVG, 0o644); err != nil {
			return nil, fmt.Errorf("reports: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, png), f.PNG, 0o644); err != nil {
			return nil, fmt.Errorf("reports: %w", err)
		}
		out = append(out, figView{
			Title: f.Title, PNG: png, SVGFile: svg,
			Data: template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(f.SVG)),
		})
	}
	return out, nil
}

func writePage(path, tmpl string, data any) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	if err := pages.ExecuteTemplate(f, tmpl, data); err != nil {
		f.Close()
		return fmt.Errorf("reports: render %s: %w", path, err)
	}
	return f.Close()
}

// Timeline geometry: pixels per second of run time and per process column.
const (
	tlPxPerS   = 60.0
	tlColW     = 74
	tlMaxBoxes = 20000 // beyond this the timeline keeps anomaly ops and a sample
)

// timeline renders the per-process timeline (as Jepsen's timeline.html):
// one column per process, each op a box from invoke to completion, with an
// anchor op-<index> for both its invoke and completion lines so anomaly
// links land on it.
func timeline(r *Run, highlight map[int64]bool) (template.HTML, string) {
	procs := map[int]bool{}
	for _, p := range r.Pairs {
		procs[p.Invoke.Process] = true
	}
	ids := make([]int, 0, len(procs))
	for p := range procs {
		ids = append(ids, p)
	}
	sort.Ints(ids)
	col := make(map[int]int, len(ids))
	for i, p := range ids {
		col[p] = i + 1 // column 0 is the nemesis
	}
	endS := runEndS(r)
	y := func(ns int64) float64 { return 22 + float64(ns)/1e9*tlPxPerS }
	height := y(int64(endS*1e9)) + 20
	var b strings.Builder
	fmt.Fprintf(&b, `<div class="tl" style="height:%.0fpx;width:%dpx">`, height, (len(ids)+1)*tlColW+40)
	for s := 0; s <= int(endS); s++ {
		fmt.Fprintf(&b, `<div class="tick" style="top:%.0fpx">%ds</div>`, y(int64(s)*1e9), s)
	}
	fmt.Fprintf(&b, `<div class="head" style="left:%dpx">nemesis</div>`, 40)
	for _, p := range ids {
		fmt.Fprintf(&b, `<div class="head" style="left:%dpx">p%d</div>`, 40+col[p]*tlColW, p)
	}
	// Nemesis events: a box per fault window, plus anchors for every line.
	fmt.Fprintf(&b, `<div class="col" style="left:%dpx;width:%dpx;height:%.0fpx">`, 40, tlColW, height-22)
	for _, w := range r.Results.Perf.Faults {
		end := w.EndNs
		if end < 0 {
			end = int64(endS * 1e9)
		}
		top, h := y(w.StartNs)-22, math.Max(2, float64(end-w.StartNs)/1e9*tlPxPerS)
		id := ""
		if len(w.Ops) > 0 {
			id = fmt.Sprintf(` id="op-%d"`, w.Ops[0])
		}
		fmt.Fprintf(&b, `<div class="op nemesis"%s style="top:%.0fpx;height:%.0fpx" title="%s">%s`, id, top, h,
			html.EscapeString(fmt.Sprintf("%s %s %s", w.Fault, w.Node, fmtExtra(w.Extra))), html.EscapeString(w.Fault))
		for _, o := range w.Ops[min(1, len(w.Ops)):] {
			fmt.Fprintf(&b, `<span id="op-%d"></span>`, o)
		}
		b.WriteString(`</div>`)
	}
	b.WriteString(`</div>`)
	// Client ops, one column each process.
	shown, every := 0, 1
	if len(r.Pairs) > tlMaxBoxes {
		every = (len(r.Pairs) + tlMaxBoxes - 1) / tlMaxBoxes
	}
	byCol := map[int][]Pair{}
	for i, p := range r.Pairs {
		hl := highlight[p.Invoke.Index] || (p.Done != nil && highlight[p.Done.Index])
		if i%every != 0 && !hl {
			continue
		}
		byCol[col[p.Invoke.Process]] = append(byCol[col[p.Invoke.Process]], p)
	}
	for _, pid := range ids {
		c := col[pid]
		fmt.Fprintf(&b, `<div class="col" style="left:%dpx;width:%dpx;height:%.0fpx">`, 40+c*tlColW, tlColW, height-22)
		for _, p := range byCol[c] {
			end := int64(endS * 1e9)
			if p.Done != nil {
				end = p.Done.Time
			}
			top, h := y(p.Invoke.Time)-22, math.Max(2, float64(end-p.Invoke.Time)/1e9*tlPxPerS)
			cls := typeName(p)
			if highlight[p.Invoke.Index] || (p.Done != nil && highlight[p.Done.Index]) {
				cls += " hl"
			}
			v := viewOp(*p.Invoke)
			if p.Done != nil {
				v = viewOp(*p.Done)
			}
			title := fmt.Sprintf("op %d: p%d %s %s %s %s (%s) %.1f ms %s", p.Invoke.Index, pid, p.Invoke.F, v.Key, v.Value,
				typeName(p), v.Node, p.LatencyMs(), v.Error)
			fmt.Fprintf(&b, `<div class="op %s" id="op-%d" style="top:%.0fpx;height:%.0fpx" title="%s">%s %s`, cls,
				p.Invoke.Index, top, h, html.EscapeString(title), html.EscapeString(p.Invoke.F), html.EscapeString(v.Value))
			if p.Done != nil {
				fmt.Fprintf(&b, `<span id="op-%d"></span>`, p.Done.Index)
			}
			b.WriteString(`</div>`)
			shown++
		}
		b.WriteString(`</div>`)
	}
	b.WriteString(`</div>`)
	note := fmt.Sprintf("%d operations.", shown)
	if every > 1 {
		note = fmt.Sprintf("%d of %d operations: every %dth, and every operation an anomaly names.", shown, len(r.Pairs), every)
	}
	return template.HTML(b.String()), note
}

func fmtExtra(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, " ")
}

// typeName is the completion type (ok, fail, info), or "pending".
func typeName(p Pair) string {
	if p.Pending() {
		return "pending"
	}
	return p.Done.Type.String()
}
