package workloads

import (
	"context"
	"errors"
	"strconv"
	"time"

	"coordlab/analysis"
	"coordlab/history"
)

// Names the lock workload uses.
const (
	lockName     = "lock"
	lockRegister = "lock-register"
)

var lockWorkload = Workload{
	Name:           "lock",
	About:          "acquire, write the fencing token into a register, release",
	New:            func(c Config) generator { return &lock{cfg: c} },
	MinConcurrency: 2,
	Fencing:        true,
	LockHolder:     true,
	Judge: analysis.Judge{
		Checkers: []analysis.Checker{analysis.Lock()},
		Reads:    []string{history.FRead},
		Writes:   []string{history.FAcquire, history.FFencedWrite},
	},
}

// lock: acquire with a session, hold, write the fencing token into a
// register, release.
type lock struct{ cfg Config }

// ensureSession opens the thread's session if it has none or it expired.
func (w *worker) ensureSession(ctx context.Context) error {
	if w.sess != nil {
		select {
		case <-w.sess.Done():
			w.sess = nil
		default:
			return nil
		}
	}
	sctx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
	defer cancel()
	s, err := w.cl.NewSession(sctx, w.cfg.SessionTTL)
	if err != nil {
		return err
	}
	w.sess = s
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (g *lock) step(ctx context.Context, w *worker) error {
	if err := w.ensureSession(ctx); err != nil {
		w.log.Debug("session", "node", w.node, "err", err)
		w.closeClient() // reconnect; not an op: nothing was attempted
		sleep(ctx, 100*time.Millisecond)
		return nil
	}
	cl, sess := w.cl, w.sess
	var (
		token  int64
		unlock func(context.Context) error
	)
	// Acquiring waits for the holder: allow a few session lifetimes.
	typ, err := w.doT(ctx, history.Op{F: history.FAcquire, Key: lockName}, false, 3*g.cfg.SessionTTL+g.cfg.OpTimeout,
		func(ctx context.Context, d *history.Op) error {
			t, u, err := cl.Lock(ctx, sess, lockName)
			if err != nil {
				return err
			}
			token, unlock = t, u
			d.Version = t
			return nil
		})
	if err != nil || typ != history.OK {
		return err
	}
	process := w.process
	w.shared.setHolder(w.node, process)
	defer w.shared.clearHolder(process)
	sleep(ctx, g.cfg.Hold)
	tok := strconv.FormatInt(token, 10)
	inv := history.Op{F: history.FFencedWrite, Key: lockRegister, Value: history.Str(tok), Version: token,
		Fenced: !g.cfg.Unfenced}
	typ, err = w.do(ctx, inv, false, func(ctx context.Context, d *history.Op) error {
		if g.cfg.Unfenced {
			_, err := cl.Put(ctx, lockRegister, tok)
			return err
		}
		return fencedWrite(ctx, w, token)
	})
	if err != nil || typ == history.Info {
		return err // an info retired the process: its session closes with it
	}
	_, err = w.do(ctx, history.Op{F: history.FRelease, Key: lockName, Version: token}, false, func(ctx context.Context, d *history.Op) error {
		return unlock(ctx)
	})
	return err
}

// fencedWrite writes token into the register unless it holds a newer one:
// read, compare, then compare-and-set against what was read, so a write
// that raced with a newer holder loses.
func fencedWrite(ctx context.Context, w *worker, token int64) error {
	cl := w.cl
	tok := strconv.FormatInt(token, 10)
	v, err := cl.Get(ctx, lockRegister)
	if err != nil {
		return errors.Join(ErrNotAttempted, err) // nothing written yet: a definite failure
	}
	if !v.Found {
		_, err := cl.Put(ctx, lockRegister, tok)
		return err
	}
	cur, perr := strconv.ParseInt(v.Value, 10, 64)
	if perr == nil && cur > token {
		return ErrFenced
	}
	ok, _, err := cl.CompareAndSet(ctx, lockRegister, v.Value, tok)
	if err != nil {
		return err
	}
	if !ok {
		return ErrFenced
	}
	return nil
}

func (g *lock) final(ctx context.Context, w *worker) error {
	if w.thread != 0 || w.ensureClient(ctx) != nil {
		return nil
	}
	cl := w.cl
	_, err := w.do(ctx, history.Op{F: history.FRead, Key: lockRegister}, true, func(ctx context.Context, d *history.Op) error {
		v, err := cl.Get(ctx, lockRegister)
		if err != nil {
			return err
		}
		d.Found, d.Version = v.Found, v.Version
		if v.Found {
			d.Value = history.Str(v.Value)
		}
		return nil
	})
	return err
}
