package analysis

import (
	"sort"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"coordlab/history"
)

// Latencies are recorded in microseconds, from 1 µs to 1 h, 3 significant
// digits; quantiles are reported in ms.
const (
	latMinUs = 1
	latMaxUs = 3600 * 1e6
)

func newLatencyHist() *hdrhistogram.Histogram { return hdrhistogram.New(latMinUs, latMaxUs, 3) }

func quantilesOf(h *hdrhistogram.Histogram, scale float64) Quantiles {
	if h.TotalCount() == 0 {
		return Quantiles{}
	}
	q := func(p float64) float64 { return float64(h.ValueAtQuantile(p)) * scale }
	return Quantiles{
		Count: h.TotalCount(),
		Mean:  h.Mean() * scale,
		P50:   q(50), P90: q(90), P99: q(99), P999: q(99.9),
		Max: float64(h.Max()) * scale,
	}
}

func recordClamped(h *hdrhistogram.Histogram, v int64) {
	v = max(v, h.LowestTrackableValue())
	v = min(v, h.HighestTrackableValue())
	_ = h.RecordValue(v) // in range by construction
}

// faultEnd maps a fault's start f to its end f.
func faultEnd(f string) (end, name string, ok bool) {
	switch {
	case strings.HasPrefix(f, "start-"):
		n := strings.TrimPrefix(f, "start-")
		return "stop-" + n, n, true
	case f == "kill":
		return "restart", "kill", true
	case f == "pause":
		return "resume", "pause", true
	}
	return "", "", false
}

func computePerf(calls, nemesis []*call, j Judge) Perf {
	p := Perf{Latency: map[string]Quantiles{}, Throughput: []Second{}, Faults: []FaultWindow{}, Unavailability: []Unavailability{}}
	hists := map[string]*hdrhistogram.Histogram{"all": newLatencyHist()}
	var seconds []Second
	bump := func(t int64, typ history.Type) {
		s := int(t / 1e9)
		if s < 0 {
			return
		}
		for len(seconds) <= s {
			seconds = append(seconds, Second{Second: len(seconds)})
		}
		switch typ {
		case history.OK:
			seconds[s].OK++
		case history.Fail:
			seconds[s].Fail++
		case history.Info:
			seconds[s].Info++
		}
	}
	for _, c := range calls {
		if c.comp == nil {
			continue
		}
		bump(c.comp.Time, c.typ)
		if !c.ok() {
			continue
		}
		h, ok := hists[c.f]
		if !ok {
			h = newLatencyHist()
			hists[c.f] = h
		}
		us := (c.end - c.start) / 1e3
		recordClamped(h, us)
		recordClamped(hists["all"], us)
	}
	for f, h := range hists {
		if h.TotalCount() > 0 {
			p.Latency[f] = quantilesOf(h, 1e-3)
		}
	}
	if seconds != nil {
		p.Throughput = seconds
	}

	// Fault windows: each start opens a window closed by the next matching end.
	openW := map[string][]int{} // end f -> indexes into p.Faults
	for _, n := range nemesis {
		if end, name, ok := faultEnd(n.f); ok {
			w := FaultWindow{Fault: name, StartF: n.f, Node: n.res().Node, StartNs: n.start, EndNs: -1, Ops: n.indexes(), Extra: n.res().Extra}
			openW[end] = append(openW[end], len(p.Faults))
			p.Faults = append(p.Faults, w)
			continue
		}
		if q := openW[n.f]; len(q) > 0 {
			w := &p.Faults[q[0]]
			w.EndNs = n.start
			w.Ops = append(w.Ops, n.indexes()...)
			openW[n.f] = q[1:]
		}
	}

	// Unavailability: fault start to the first OK write / read invoked after it.
	ok := make([]*call, 0, len(calls))
	for _, c := range calls {
		if c.ok() {
			ok = append(ok, c)
		}
	}
	sort.Slice(ok, func(i, j int) bool { return ok[i].start < ok[j].start })
	for _, w := range p.Faults {
		u := Unavailability{Fault: w.Fault, StartNs: w.StartNs, FirstWriteNs: -1, FirstReadNs: -1, WriteMs: -1, ReadMs: -1}
		i := sort.Search(len(ok), func(i int) bool { return ok[i].start >= w.StartNs })
		for _, c := range ok[i:] { // earliest completion among ops invoked after the start
			if j.isWrite(c.f) && (u.FirstWriteNs < 0 || c.end < u.FirstWriteNs) {
				u.FirstWriteNs, u.WriteMs = c.end, float64(c.end-w.StartNs)/1e6
			}
			if j.isRead(c.f) && (u.FirstReadNs < 0 || c.end < u.FirstReadNs) {
				u.FirstReadNs, u.ReadMs = c.end, float64(c.end-w.StartNs)/1e6
			}
		}
		p.Unavailability = append(p.Unavailability, u)
	}
	return p
}
