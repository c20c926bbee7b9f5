package workloads

import (
	"context"
	"errors"
	"time"

	"coordlab/client"
	"coordlab/history"
)

// recorder writes ops to the history with times from one clock.
type recorder struct {
	h     *history.Writer
	clock history.Clock
	stats *Stats

	readMode client.ReadMode
}

// call records inv as an invoke by process p on node, runs f with a
// deadline, and records the completion: f fills done (a copy of inv) with
// what it learned. The invoke time is taken before f sends anything and the
// completion time right after f returns. An error from f is fail when the
// op surely did not happen (client.IsDefinite, ErrFenced, or any error of an
// op with no effect: noEffect), info otherwise. The returned error is only a
// history write error.
func (r *recorder) call(ctx context.Context, process int, node string, inv history.Op, noEffect bool, timeout time.Duration,
	f func(ctx context.Context, done *history.Op) error) (history.Type, error) {
	inv.Process, inv.Node, inv.Type = process, node, history.Invoke
	if inv.F == history.FRead && r.readMode != 0 {
		inv.ReadMode = r.readMode.String()
	}
	done := inv
	done.Extra = cloneExtra(inv.Extra)
	inv.Time = r.clock.Now()
	if _, err := r.h.Append(inv); err != nil {
		return 0, err
	}
	cctx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		cctx, cancel = context.WithTimeout(ctx, timeout)
	}
	err := f(cctx, &done)
	done.Time = r.clock.Now()
	cancel()
	done.Type = history.OK
	switch {
	case err == nil:
		r.stats.OK.Add(1)
	case noEffect || errors.Is(err, ErrFenced) || errors.Is(err, ErrNotAttempted) || client.IsDefinite(err):
		done.Type = history.Fail
		done.Error = err.Error()
		r.stats.Fail.Add(1)
	default:
		done.Type = history.Info
		done.Error = err.Error()
		r.stats.Info.Add(1)
	}
	if _, err := r.h.Append(done); err != nil {
		return 0, err
	}
	return done.Type, nil
}

func cloneExtra(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// do is call for worker w with the op timeout: it retires w's process when
// the op ends info.
func (w *worker) do(ctx context.Context, inv history.Op, noEffect bool, f func(ctx context.Context, done *history.Op) error) (history.Type, error) {
	return w.doT(ctx, inv, noEffect, w.cfg.OpTimeout, f)
}

// doT is do with its own timeout (0: none, ctx alone bounds the op).
func (w *worker) doT(ctx context.Context, inv history.Op, noEffect bool, timeout time.Duration, f func(ctx context.Context, done *history.Op) error) (history.Type, error) {
	typ, err := w.rec.call(ctx, w.process, w.node, inv, noEffect, timeout, f)
	if err == nil && typ == history.Info {
		w.retire()
	}
	return typ, err
}
