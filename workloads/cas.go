package workloads

import (
	"context"

	"coordlab/analysis"
	"coordlab/history"
)

// casWorkload: every thread contends on one key with compare-and-set (Jepsen's
// cas-register): half reads, half a cas from the value the thread last saw
// to a fresh unique value; a thread that has seen nothing writes once.
// Contention on one key is where a leader must order concurrent CAS.
var casWorkload = Workload{
	Name:  "cas",
	About: "every thread compare-and-sets one key from the value it last saw",
	New:   func(c Config) generator { return &casRegister{reg: register{cfg: c}} },
	Judge: analysis.Judge{
		Checkers:  []analysis.Checker{analysis.Linearizable(), analysis.SessionOrder()},
		Staleness: true,
		Reads:     analysis.RegisterReads, Writes: analysis.RegisterWrites,
	},
}

const casKey = "cas/0"

type casRegister struct{ reg register }

// nextCASOp chooses a read or a cas on casKey; a pure function of the
// thread's rand, what it last saw and the next unique value.
func nextCASOp(coin int, last map[string]string, next func() string) regOp {
	old, seen := last[casKey]
	switch {
	case coin == 0:
		return regOp{f: history.FRead, key: casKey}
	case !seen:
		return regOp{f: history.FWrite, key: casKey, value: next()}
	}
	return regOp{f: history.FCAS, key: casKey, old: old, value: next()}
}

func (g *casRegister) step(ctx context.Context, w *worker) error {
	if w.last == nil {
		w.last = map[string]string{}
	}
	return g.reg.run(ctx, w, nextCASOp(w.r.IntN(2), w.last, w.uniqueValue))
}

// final: the first thread of each member reads the key once.
func (g *casRegister) final(ctx context.Context, w *worker) error {
	if w.thread >= w.nodes || ctx.Err() != nil || w.ensureClient(ctx) != nil {
		return nil
	}
	if w.last == nil {
		w.last = map[string]string{}
	}
	return g.reg.run(ctx, w, regOp{f: history.FRead, key: casKey})
}
