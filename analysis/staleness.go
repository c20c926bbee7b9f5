package analysis

import (
	"sort"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"coordlab/history"
)

// computeStaleness measures, per read mode (the read's ReadMode),
// how far behind each OK read was: the acknowledged writes to its key that
// completed before the read was invoked and have a version newer than the
// value read. Versions behind = how many such writes; ms behind = the read's
// invoke time minus the completion of the oldest of them. Reads without a
// version are not counted.
func computeStaleness(calls []*call, defaultMode string) map[string]Staleness {
	type write struct {
		end     int64
		version int64
	}
	writes := map[string][]write{}
	for _, c := range calls {
		if !c.ok() || c.comp.Version == 0 {
			continue
		}
		switch {
		case c.f == history.FWrite, c.f == history.FPut, c.f == history.FDelete,
			c.f == history.FCAS && c.casOK(), c.f == history.FPublish:
			writes[c.key] = append(writes[c.key], write{c.end, c.comp.Version})
		}
	}
	for k := range writes {
		ws := writes[k]
		sort.Slice(ws, func(i, j int) bool { return ws[i].end < ws[j].end })
	}
	type acc struct {
		reads, stale int
		versions, ms *hdrhistogram.Histogram
	}
	byMode := map[string]*acc{}
	for _, c := range calls {
		if !c.ok() || (c.f != history.FRead) {
			continue
		}
		if c.comp.Version == 0 && (c.comp.Found || c.comp.Value != nil) {
			continue // no version to compare
		}
		mode := readMode(c, defaultMode)
		a := byMode[mode]
		if a == nil {
			a = &acc{versions: hdrhistogram.New(1, 1e9, 3), ms: newLatencyHist()}
			byMode[mode] = a
		}
		a.reads++
		ws := writes[c.key]
		v := c.comp.Version
		if !c.comp.Found && c.comp.Value == nil {
			v = 0 // read of a missing key: behind every write
		}
		n := sort.Search(len(ws), func(i int) bool { return ws[i].end >= c.start })
		behind := 0
		oldest := int64(-1)
		for _, w := range ws[:n] {
			if w.version > v {
				behind++
				if oldest < 0 || w.end < oldest {
					oldest = w.end
				}
			}
		}
		if behind > 0 {
			a.stale++
			recordClamped(a.versions, int64(behind))
			recordClamped(a.ms, (c.start-oldest)/1e3)
		}
	}
	out := map[string]Staleness{}
	for mode, a := range byMode {
		s := Staleness{Reads: a.reads, Stale: a.stale, VersionsBehind: quantilesOf(a.versions, 1), MsBehind: quantilesOf(a.ms, 1e-3)}
		if a.reads > 0 {
			s.StaleFraction = float64(a.stale) / float64(a.reads)
		}
		out[mode] = s
	}
	return out
}
