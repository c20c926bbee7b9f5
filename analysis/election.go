package analysis

import (
	"fmt"
	"sort"

	"coordlab/history"
)

// modeNote names a read's mode for an explanation (", a serializable
// read"), or nothing for a linearizable or unrecorded one.
func modeNote(c *call, def string) string {
	if m := readMode(c, def); m != "" && m != "linearizable" {
		return ", a " + m + " read"
	}
	return ""
}

// readMode is the op's recorded read mode, else def.
func readMode(c *call, def string) string {
	if c.inv.ReadMode != "" {
		return c.inv.ReadMode
	}
	return def
}

// checkElection checks campaign/observe/resign ops per election (Key):
//   - two-leaders: two processes won the same term, or one term was seen
//     with two different values;
//   - term-order: a campaign that began after another had won got an older
//     term;
//   - phantom-leader: an observation names a (value, term) no campaign could
//     have produced;
//   - observe-backwards: one process observed an older term after a newer;
//   - stale-leader: an observe that began after a campaign won term t
//     returned a term older than t. Observations are judged as a user of
//     an election reads them, whatever the read mode: a serializable
//     (etcd) or local (ZooKeeper, no sync) observe that returns a deposed
//     leader is the anomaly those modes allow, and the explanation names
//     the mode.
func checkElection(calls []*call, defaultMode string) CheckerResult {
	res := CheckerResult{Valid: Valid, Checked: map[string]int{}}
	type termInfo struct {
		value string
		by    *call
	}
	byElection := map[string][]*call{}
	for _, c := range calls {
		switch c.f {
		case history.FCampaign, history.FObserve, history.FResign:
			byElection[c.key] = append(byElection[c.key], c)
		}
	}
	names := make([]string, 0, len(byElection))
	for n := range byElection {
		names = append(names, n)
	}
	sort.Strings(names)
	add := func(kind, name string, expl string, cs ...*call) {
		var ops []int64
		for _, c := range cs {
			ops = append(ops, c.indexes()...)
		}
		res.Anomalies = append(res.Anomalies, Anomaly{Kind: kind, Key: name, Ops: ops, Explanation: expl})
	}
	campaigns, observes := 0, 0
	for _, name := range names {
		cs := byElection[name]
		terms := map[int64]termInfo{}
		candidates := map[string]bool{} // values of every campaign not failed
		var won []*call
		for _, c := range cs {
			if c.f == history.FCampaign && c.typ != history.Fail {
				candidates[derefOr(c.inv.Value, "")] = true
			}
		}
		for _, c := range cs {
			if c.f != history.FCampaign || !c.ok() {
				continue
			}
			campaigns++
			won = append(won, c)
			t, v := c.comp.Version, derefOr(c.inv.Value, "")
			if prev, ok := terms[t]; ok {
				add("two-leaders", name, fmt.Sprintf("p%d (#%d) and p%d (#%d) both won term %d of %s", prev.by.process, prev.by.inv.Index, c.process, c.inv.Index, t, name), prev.by, c)
				continue
			}
			terms[t] = termInfo{v, c}
		}
		for _, a := range won {
			for _, b := range won {
				if a != b && a.end < b.start && b.comp.Version <= a.comp.Version {
					add("term-order", name, fmt.Sprintf("p%d won term %d (#%d) after p%d had already won term %d (#%d): terms must increase", b.process, b.comp.Version, b.inv.Index, a.process, a.comp.Version, a.inv.Index), a, b)
				}
			}
		}
		lastSeen := map[int]*call{}
		for _, c := range cs {
			if c.f != history.FObserve || !c.ok() || c.comp.Value == nil {
				continue
			}
			observes++
			t, v := c.comp.Version, *c.comp.Value
			if prev, ok := terms[t]; ok {
				if prev.value != v {
					add("two-leaders", name, fmt.Sprintf("term %d of %s was observed with value %q (#%d) but won with %q (#%d)", t, name, v, c.inv.Index, prev.value, prev.by.inv.Index), prev.by, c)
				}
			} else if !candidates[v] {
				add("phantom-leader", name, fmt.Sprintf("p%d observed leader %q in term %d (#%d), which no campaign proposed", c.process, v, t, c.inv.Index), c)
			} else {
				terms[t] = termInfo{v, c} // a win we only know from observation
			}
			if p, ok := lastSeen[c.process]; ok && t < p.comp.Version {
				add("observe-backwards", name, fmt.Sprintf("p%d observed term %d (#%d) after observing term %d (#%d)", c.process, t, c.inv.Index, p.comp.Version, p.inv.Index), p, c)
			}
			if p, ok := lastSeen[c.process]; !ok || t >= p.comp.Version {
				lastSeen[c.process] = c
			}
			for _, w := range won {
				if w.end < c.start && t < w.comp.Version {
					add("stale-leader", name, fmt.Sprintf("p%d observed term %d (#%d%s) although term %d had been won (#%d) %s before the observation began", c.process, t, c.inv.Index, modeNote(c, defaultMode), w.comp.Version, w.inv.Index, fmtNs(c.start-w.end)), w, c)
					break
				}
			}
		}
	}
	res.Checked["campaigns_won"] = campaigns
	res.Checked["observations"] = observes
	if campaigns+observes == 0 {
		res.Valid, res.Note = Unknown, "no successful campaign or observation to check"
		return res
	}
	if len(res.Anomalies) > 0 {
		res.Valid = Invalid
	}
	return res
}
