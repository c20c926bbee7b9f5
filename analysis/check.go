package analysis

import (
	"fmt"
	"runtime"
	"time"

	"coordlab/history"
)

// Workloads Check knows.
var Workloads = []string{"register", "lock", "watch", "election", "config"}

// Check analyses a history and returns the verdict, the anomalies and the
// performance figures. It never returns Valid for what it could not check:
// a malformed history, an unknown workload or an exhausted budget give
// Unknown (with Results.Error or the checker's Note saying why).
func Check(ops []history.Op, opts Options) (res Results) {
	start := time.Now()
	b := newBudget(opts)
	res = Results{Workload: opts.Workload, Checkers: map[string]CheckerResult{}}
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
	if res.Workload == "" {
		res.Workload = inferWorkload(calls)
	}
	workers := runtime.GOMAXPROCS(0)
	switch res.Workload {
	case "register":
		byKey := byKeyCalls(calls, isRegisterF)
		res.Checkers["linearizable"] = checkLinearizable(b, "linearizable", byKey,
			registerModel, registerOps, registerWellFormed, opts, workers)
		res.Checkers["session-order"] = checkSessionOrder(calls)
		res.Staleness = computeStaleness(calls, opts.ReadMode)
	case "lock":
		res.Checkers["lock"] = checkLock(b, calls, opts, workers)
	case "watch":
		res.Checkers["watch"] = checkWatch(calls, opts.OneShotWatches)
	case "election":
		res.Checkers["election"] = checkElection(calls, opts.ReadMode)
	case "config":
		res.Checkers["config"] = checkConfig(calls, nemesis)
	default:
		res.Checkers["workload"] = CheckerResult{Valid: Unknown, Note: fmt.Sprintf("unknown workload %q: want one of %v", res.Workload, Workloads)}
	}
	b.close() // the budget covers the checkers; perf figures are linear and always computed
	res.Perf = computePerf(calls, nemesis)
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

// inferWorkload picks the workload from the fs present.
func inferWorkload(calls []*call) string {
	seen := map[string]bool{}
	for _, c := range calls {
		seen[c.f] = true
	}
	switch {
	case seen[history.FAcquire] || seen[history.FFencedWrite]:
		return "lock"
	case seen[history.FWatch]:
		return "watch"
	case seen[history.FCampaign] || seen[history.FObserve]:
		return "election"
	case seen[history.FPublish] || seen[history.FSubscribe]:
		return "config"
	}
	return "register"
}
