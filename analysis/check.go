package analysis

import (
	"fmt"
	"runtime"
	"time"

	"coordlab/history"
)

// Check analyses a history with a workload's judge and returns the
// verdict, the anomalies and the performance figures. It never returns
// Valid for what it could not check: a malformed history, a judge without
// checkers or an exhausted budget give Unknown (with Results.Error or the
// checker's Note saying why).
func Check(ops []history.Op, j Judge, opts Options) (res Results) {
	start := time.Now()
	b := newBudget(opts)
	res = Results{Workload: j.Workload, Checkers: map[string]CheckerResult{}}
	defer func() {
		b.close()
		res.CheckTimeNs = int64(time.Since(start))
		res.PeakHeapBytes = b.peak.Load()
		res.Budget = b.report()
	}()

	calls, nemesis, err := pairCalls(ops)
	if err != nil {
		res.Valid, res.Error = Unknown, err.Error()
		res.Perf = Perf{Latency: map[string]Quantiles{}, Throughput: []Second{}, Faults: []FaultWindow{}, Unavailability: []Unavailability{}}
		return res
	}
	res.Counts = countOps(calls, nemesis)
	if len(j.Checkers) == 0 {
		res.Error = fmt.Sprintf("no checkers for workload %q: nothing judged the history", j.Workload)
	}
	in := &input{calls: calls, nemesis: nemesis, budget: b, opts: opts, workers: runtime.GOMAXPROCS(0)}
	for _, c := range j.Checkers {
		res.Checkers[c.Name] = c.run(in)
	}
	if j.Staleness {
		res.Staleness = computeStaleness(calls, opts.ReadMode)
	}
	b.close() // the budget covers the checkers; perf figures are linear and always computed
	res.Perf = computePerf(calls, nemesis, j)
	for _, c := range res.Checkers {
		res.Valid = res.Valid.Merge(c.Valid)
	}
	if res.Valid == 0 {
		res.Valid = Unknown
	}
	return res
}

func countOps(calls, nemesis []*call) Counts {
	var c Counts
	for _, x := range calls {
		c.Ops++
		switch {
		case x.comp == nil:
			c.Pending++
		case x.typ == history.OK:
			c.OK++
		case x.typ == history.Fail:
			c.Fail++
		default:
			c.Info++
		}
	}
	for _, n := range nemesis {
		c.Nemesis += len(n.indexes())
	}
	return c
}
