package analysis

import (
	"fmt"
	"sort"

	"coordlab/history"
)

// observedVersion returns the version a call observed or produced, for
// session order: an OK read's Version, an OK write's new Version, an OK cas's
// Version (new on success, the read's on a loss). 0 = unknown.
func observedVersion(c *call) int64 {
	if !c.ok() {
		return 0
	}
	return c.comp.Version
}

func readRevision(c *call) int64 {
	if c.comp == nil {
		return 0
	}
	return c.comp.Revision
}

// checkSessionOrder checks, per process, what ZooKeeper promises every
// session (and etcd any client): reads never go backwards (per key by the
// value's version; across keys by the read's store revision when recorded)
// and a read after the process's own acknowledged write to the key sees that
// write or something later. Needs versions; without any it says Unknown.
func checkSessionOrder(calls []*call) CheckerResult {
	res := CheckerResult{Valid: Valid, Checked: map[string]int{}}
	byProc := map[int][]*call{}
	withVersion := 0
	for _, c := range calls {
		if !isRegisterF(c.f) || !c.ok() {
			continue
		}
		if c.comp.Version != 0 {
			withVersion++
		}
		byProc[c.process] = append(byProc[c.process], c)
	}
	res.Checked["ops"] = withVersion
	res.Checked["processes"] = len(byProc)
	if withVersion == 0 {
		if len(byProc) == 0 {
			res.Valid, res.Note = Unknown, "no completed register ops"
		} else {
			res.Valid, res.Note = Unknown, "ops carry no versions: session order cannot be checked"
		}
		return res
	}
	procs := make([]int, 0, len(byProc))
	for p := range byProc {
		procs = append(procs, p)
	}
	sort.Ints(procs)
	for _, p := range procs {
		cs := byProc[p]
		sort.Slice(cs, func(i, j int) bool { return cs[i].start < cs[j].start })
		type seen struct {
			version int64
			by      *call
			own     bool // the process's own write
		}
		last := map[string]seen{}
		var lastRev int64
		var lastRevBy *call
		for _, c := range cs {
			v := observedVersion(c)
			if v == 0 {
				continue
			}
			isRead := c.f == history.FRead || (c.f == history.FCAS && !c.casOK())
			if isRead {
				if prev, ok := last[c.key]; ok && v < prev.version {
					kind, what := "monotonic-reads", "an earlier read"
					if prev.own {
						kind, what = "read-your-writes", "its own acknowledged write"
					}
					proc := p
					res.Anomalies = append(res.Anomalies, Anomaly{
						Kind: kind, Key: c.key, Process: &proc,
						Ops: append(prev.by.indexes(), c.indexes()...),
						Explanation: fmt.Sprintf("p%d read %s at version %d (#%d) after %s at version %d (#%d)",
							p, c.key, v, c.inv.Index, what, prev.version, prev.by.inv.Index),
					})
				}
				if r := readRevision(c); r != 0 {
					if r < lastRev {
						proc := p
						res.Anomalies = append(res.Anomalies, Anomaly{
							Kind: "monotonic-reads", Key: c.key, Process: &proc,
							Ops:         append(lastRevBy.indexes(), c.indexes()...),
							Explanation: fmt.Sprintf("p%d read at store revision %d (#%d) after reading at revision %d (#%d)", p, r, c.inv.Index, lastRev, lastRevBy.inv.Index),
						})
					} else {
						lastRev, lastRevBy = r, c
					}
				}
			}
			if prev, ok := last[c.key]; !ok || v >= prev.version {
				last[c.key] = seen{version: v, by: c, own: !isRead}
			}
		}
	}
	if len(res.Anomalies) > 0 {
		res.Valid = Invalid
	}
	return res
}
