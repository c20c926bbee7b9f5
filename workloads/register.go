package workloads

import (
	"context"
	"math/rand/v2"
	"strconv"

	"coordlab/analysis"
	"coordlab/history"
)

var registerWorkload = Workload{
	Name:  "register",
	About: "read/write/cas on a few keys; unique values",
	New:   func(c Config) generator { return &register{cfg: c} },
	Judge: analysis.Judge{
		Checkers:  []analysis.Checker{analysis.Linearizable(), analysis.SessionOrder()},
		Staleness: true,
		Reads:     analysis.RegisterReads, Writes: analysis.RegisterWrites,
	},
}

// register: read, write and cas on Keys independent keys r/0..r/<Keys-1>.
type register struct{ cfg Config }

// regOp is one chosen register op.
type regOp struct {
	f, key, value, old string
}

// nextRegisterOp chooses the next op: a pure function of the thread's rand,
// the values the thread last saw per key, and the next unique value.
// Reads are half the ops, writes 30%, cas 20% (a cas needs a value seen on
// that key; without one it is a write).
func nextRegisterOp(r *rand.Rand, keys int, last map[string]string, next func() string) regOp {
	key := "r/" + strconv.Itoa(r.IntN(keys))
	switch p := r.IntN(10); {
	case p < 5:
		return regOp{f: history.FRead, key: key}
	case p < 8:
		return regOp{f: history.FWrite, key: key, value: next()}
	default:
		old, ok := last[key]
		if !ok {
			return regOp{f: history.FWrite, key: key, value: next()}
		}
		return regOp{f: history.FCAS, key: key, old: old, value: next()}
	}
}

func (g *register) step(ctx context.Context, w *worker) error {
	if w.last == nil {
		w.last = map[string]string{}
	}
	op := nextRegisterOp(w.r, g.cfg.Keys, w.last, w.uniqueValue)
	return g.run(ctx, w, op)
}

func (g *register) run(ctx context.Context, w *worker, op regOp) error {
	cl := w.cl
	switch op.f {
	case history.FRead:
		_, err := w.do(ctx, history.Op{F: history.FRead, Key: op.key}, true, func(ctx context.Context, d *history.Op) error {
			v, err := cl.Get(ctx, op.key)
			if err != nil {
				return err
			}
			d.Found, d.Version = v.Found, v.Version
			if v.Found {
				d.Value = history.Str(v.Value)
				w.last[op.key] = v.Value
			}
			if v.Revision != 0 {
				d.Revision = v.Revision
			}
			return nil
		})
		return err
	case history.FWrite:
		_, err := w.do(ctx, history.Op{F: history.FWrite, Key: op.key, Value: history.Str(op.value)}, false, func(ctx context.Context, d *history.Op) error {
			v, err := cl.Put(ctx, op.key, op.value)
			if err != nil {
				return err
			}
			d.Version = v.Version
			w.last[op.key] = op.value
			return nil
		})
		return err
	default:
		_, err := w.do(ctx, history.Op{F: history.FCAS, Key: op.key, Old: history.Str(op.old), Value: history.Str(op.value)}, false, func(ctx context.Context, d *history.Op) error {
			ok, v, err := cl.CompareAndSet(ctx, op.key, op.old, op.value)
			if err != nil {
				return err
			}
			d.Applied = history.Bool(ok)
			d.Version = v.Version
			if ok {
				w.last[op.key] = op.value
			} else if v.Found {
				w.last[op.key] = v.Value
			} else {
				delete(w.last, op.key)
			}
			return nil
		})
		return err
	}
}

// final: the first thread of each member reads every key once.
func (g *register) final(ctx context.Context, w *worker) error {
	if w.thread >= w.nodes {
		return nil
	}
	if w.last == nil {
		w.last = map[string]string{}
	}
	for k := range g.cfg.Keys {
		if ctx.Err() != nil || w.ensureClient(ctx) != nil {
			return nil
		}
		if err := g.run(ctx, w, regOp{f: history.FRead, key: "r/" + strconv.Itoa(k)}); err != nil {
			return err
		}
	}
	return nil
}
