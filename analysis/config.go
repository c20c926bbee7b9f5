package analysis

import (
	"fmt"
	"sort"
	"strconv"

	"coordlab/history"
)

// configVersion parses a publish/subscribe value as a config version.
func configVersion(v *string) (int64, bool) {
	if v == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(*v, 10, 64)
	return n, err == nil
}

// checkConfig checks a configuration center: one writer publishes increasing
// versions (Value, decimal); subscribers read them (subscribe OK, Value).
//   - config-backwards: a subscriber saw an older version after a newer one;
//   - config-phantom: a subscriber saw a version nobody published;
//   - config-stale: a subscribe that began after the publish of version v
//     was acknowledged returned an older version (in any read mode: a
//     serializable or unsynced read that does is what those modes allow;
//     the explanation names the mode);
//   - config-not-converged: a subscriber's last read, begun after the final
//     heal (the last nemesis line) and after the last acknowledged publish
//     completed, is not the
//     last acknowledged version (or a later one whose publish is
//     indeterminate).
func checkConfig(calls, nemesis []*call, defaultMode string) CheckerResult {
	// The final heal: the last nemesis line; reads before it may be cut off.
	var healed int64
	for _, n := range nemesis {
		healed = max(healed, n.start, n.res().Time)
	}
	res := CheckerResult{Valid: Valid, Checked: map[string]int{}}
	published := map[int64]*call{}
	var lastAcked *call
	var maxAttempted int64
	for _, c := range calls {
		if c.f != history.FPublish || c.typ == history.Fail {
			continue
		}
		v, ok := configVersion(c.inv.Value)
		if !ok {
			continue
		}
		published[v] = c
		maxAttempted = max(maxAttempted, v)
		if c.ok() {
			if lv, _ := configVersion(lastAcked.valueOrNil()); lastAcked == nil || v > lv {
				lastAcked = c
			}
		}
	}
	acked := newPublished(calls)
	bySub := map[int][]*call{}
	for _, c := range calls {
		if c.f == history.FSubscribe && c.ok() {
			bySub[c.process] = append(bySub[c.process], c)
		}
	}
	res.Checked["publishes"] = len(published)
	res.Checked["subscribers"] = len(bySub)
	if len(bySub) == 0 {
		res.Valid, res.Note = Unknown, "no successful subscribe to check"
		return res
	}
	add := func(kind string, p int, expl string, cs ...*call) {
		var ops []int64
		for _, c := range cs {
			ops = append(ops, c.indexes()...)
		}
		proc := p
		res.Anomalies = append(res.Anomalies, Anomaly{Kind: kind, Process: &proc, Key: cs[len(cs)-1].key, Ops: ops, Explanation: expl})
	}
	var lastAckedV int64
	if lastAcked != nil {
		lastAckedV, _ = configVersion(lastAcked.inv.Value)
	}
	procs := make([]int, 0, len(bySub))
	for p := range bySub {
		procs = append(procs, p)
	}
	sort.Ints(procs)
	converged := 0
	for _, p := range procs {
		subs := bySub[p]
		sort.Slice(subs, func(i, j int) bool { return subs[i].start < subs[j].start })
		var best *call
		var bestV int64
		for _, s := range subs {
			v, ok := configVersion(s.comp.Value)
			if !ok {
				if s.comp.Value == nil {
					v = 0 // nothing published yet
				} else {
					add("config-phantom", p, fmt.Sprintf("p%d read config %q (#%d), which is not a version number", p, *s.comp.Value, s.inv.Index), s)
					continue
				}
			}
			if v != 0 && published[v] == nil {
				add("config-phantom", p, fmt.Sprintf("p%d read config version %d (#%d), which nobody published", p, v, s.inv.Index), s)
			}
			if w := acked.before(s.start); w != nil {
				if wv, _ := configVersion(w.inv.Value); v < wv {
					add("config-stale", p, fmt.Sprintf("p%d read config version %d (#%d%s) although version %d had been published (#%d) %s before the read began", p, v, s.inv.Index, modeNote(s, defaultMode), wv, w.inv.Index, fmtNs(s.start-w.end)), w, s)
				}
			}
			if best != nil && v < bestV {
				add("config-backwards", p, fmt.Sprintf("p%d read config version %d (#%d) after version %d (#%d)", p, v, s.inv.Index, bestV, best.inv.Index), best, s)
			}
			if best == nil || v >= bestV {
				best, bestV = s, v
			}
		}
		last := subs[len(subs)-1]
		if lastAcked == nil || last.start <= lastAcked.end || last.start <= healed {
			continue // no read after the last publish and the final heal: convergence not observable
		}
		v, _ := configVersion(last.comp.Value)
		if v < lastAckedV || v > maxAttempted {
			add("config-not-converged", p, fmt.Sprintf("p%d's last read (#%d), begun after the last acknowledged publish of version %d (#%d) completed, returned version %d", p, last.inv.Index, lastAckedV, lastAcked.inv.Index, v), lastAcked, last)
			continue
		}
		converged++
	}
	res.Checked["converged"] = converged
	if len(res.Anomalies) > 0 {
		res.Valid = Invalid
	} else if lastAcked != nil && converged == 0 {
		res.Valid, res.Note = Unknown, "no subscriber read after the last acknowledged publish: convergence not observed"
	}
	return res
}

// publishedBy answers which version was the newest acknowledged at a time:
// ends are acknowledged publishes' completion times in order, newest[i] the
// publish of the highest version among the first i+1.
type publishedBy struct {
	ends   []int64
	newest []*call
}

func newPublished(calls []*call) publishedBy {
	var acked []*call
	for _, c := range calls {
		if _, ok := configVersion(c.inv.Value); ok && c.f == history.FPublish && c.ok() {
			acked = append(acked, c)
		}
	}
	sort.Slice(acked, func(i, j int) bool { return acked[i].end < acked[j].end })
	var p publishedBy
	var best *call
	var bestV int64
	for _, c := range acked {
		if v, _ := configVersion(c.inv.Value); best == nil || v > bestV {
			best, bestV = c, v
		}
		p.ends = append(p.ends, c.end)
		p.newest = append(p.newest, best)
	}
	return p
}

// before is the publish of the newest version acknowledged before t, or nil.
func (p publishedBy) before(t int64) *call {
	n := sort.Search(len(p.ends), func(i int) bool { return p.ends[i] >= t })
	if n == 0 {
		return nil
	}
	return p.newest[n-1]
}

func (c *call) valueOrNil() *string {
	if c == nil {
		return nil
	}
	return c.inv.Value
}
