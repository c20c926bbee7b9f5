package faults

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"coordlab/cluster"
	"coordlab/history"
)

// Player plays a schedule on a runtime and records the faults in a history.
type Player struct {
	env   Env // without On
	h     *history.Writer
	clock history.Clock
	log   *slog.Logger
	// current describes the fault in force, for progress lines.
	current   atomic.Pointer[string]
	resolvers map[string]func(context.Context) (string, error)

	mu sync.Mutex
	// refused counts the starts the runtime or target refused, by error.
	refused map[string]int
}

// NewPlayer returns a player for the cluster rt runs target on. clock must
// be the run's history clock: step times are offsets on it.
func NewPlayer(rt cluster.Runtime, target string, h *history.Writer, clock history.Clock, nodes []string, log *slog.Logger) *Player {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Player{
		env: Env{Runtime: rt, Firewall: cluster.NewFirewall(rt), Target: target, Nodes: slices.Clone(nodes)},
		h:   h, clock: clock, log: log.With("component", "nemesis"), refused: map[string]int{},
	}
	none := "none"
	p.current.Store(&none)
	return p
}

// SetResolver makes target name (LockHolder) resolve through f when a
// fault starts. Call it before Play.
func (p *Player) SetResolver(name string, f func(context.Context) (string, error)) {
	if p.resolvers == nil {
		p.resolvers = map[string]func(context.Context) (string, error){}
	}
	p.resolvers[name] = f
}

// Current describes the fault in force ("none" between faults).
func (p *Player) Current() string { return *p.current.Load() }

func (p *Player) setCurrent(s string) { p.current.Store(&s) }

// Refused returns, for each error a fault start ended with ("clock skew:
// not supported for etcd"), how many starts ended with it. The history has
// each one as an info op; the run prints these at its end.
func (p *Player) Refused() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.refused)
}

// undoTimeout bounds the end of one fault (a restart waits for the member
// to serve).
const undoTimeout = 30 * time.Second

// Play runs the steps, each at its time, and returns when the last one has
// ended or ctx is done; a fault in force when ctx ends is undone before
// Play returns, so each start has its stop. A fault the runtime refuses is
// recorded as info and the schedule goes on; only a history write error
// stops it.
func (p *Player) Play(ctx context.Context, s Schedule) error {
	for _, st := range s.Steps {
		if err := p.waitUntil(ctx, st.At); err != nil {
			return nil
		}
		undo, began, err := p.start(ctx, st.Fault)
		if err != nil {
			return err
		}
		// A start that waited (for the leader, for a lock holder) still
		// lasts its full Duration.
		cut := p.waitUntil(ctx, began+st.Duration) != nil
		// Undo even when the time limit falls during it: a half-undone
		// fault would be left to Final.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
		err = undo(uctx)
		cancel()
		if err != nil || cut {
			return err
		}
	}
	return nil
}

func (p *Player) waitUntil(ctx context.Context, at time.Duration) error {
	d := at - time.Duration(p.clock.Now())
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// record writes an invoke, runs do, and writes ok, or info with the error.
// The error returned is the history's.
func (p *Player) record(ctx context.Context, f string, targets []string, extra map[string]string, do func(context.Context) error) error {
	op := history.Op{Process: history.NemesisProcess, Type: history.Invoke, F: f,
		Node: strings.Join(targets, ","), Extra: extra, Time: p.clock.Now()}
	if _, err := p.h.Append(op); err != nil {
		return err
	}
	err := do(ctx)
	op.Time = p.clock.Now()
	op.Type = history.OK
	if err != nil {
		op.Type = history.Info
		op.Error = err.Error()
		// Also in extra: analysis copies a fault's extra into its window
		// in results.json, where the report shows it.
		op.Extra = maps.Clone(op.Extra)
		if op.Extra == nil {
			op.Extra = map[string]string{}
		}
		op.Extra["error"] = op.Error
		p.log.Warn("fault not applied", "op", f, "node", op.Node, "err", err)
	} else {
		p.log.Info("fault", "op", f, "node", op.Node)
	}
	_, werr := p.h.Append(op)
	return werr
}

// leader asks the runtime for the leader, polling every 200ms for up to
// 5s: right after a fault heals the cluster may still be electing one.
func (p *Player) leader(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		l, err := p.env.Runtime.Leader(ctx)
		if err == nil {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return "", err
		case <-t.C:
		}
	}
}

// resolve replaces Leader, Follower and resolver targets with names.
func (p *Player) resolve(ctx context.Context, on On) ([]string, error) {
	out := slices.Clone(on.Targets)
	for i, t := range out {
		switch f := p.resolvers[t]; {
		case t == Follower:
			l, err := p.leader(ctx)
			if err != nil {
				return nil, fmt.Errorf("faults: find the leader: %w", err)
			}
			fs := without(p.env.Nodes, l)
			if len(fs) == 0 {
				return nil, errors.New("faults: no follower: the cluster has one member")
			}
			out[i] = fs[on.Pick%len(fs)]
		case t == Leader:
			l, err := p.leader(ctx)
			if err != nil {
				return nil, fmt.Errorf("faults: find the leader: %w", err)
			}
			out[i] = l
		case t == LockHolder && f == nil:
			return nil, fmt.Errorf("faults: %s: no resolver (the lock workload provides it)", t)
		case f != nil:
			n, err := f(ctx)
			if err != nil {
				return nil, fmt.Errorf("faults: find the %s: %w", t, err)
			}
			out[i] = n
		}
	}
	return out, nil
}

// start resolves f's targets, records and applies it, and returns what
// records and undoes it; began is when it was applied (after its targets
// were resolved). The error is the history's.
func (p *Player) start(ctx context.Context, f Fault) (undo Undo, began time.Duration, err error) {
	nop := func(context.Context) error { return nil }
	var on On
	if t, ok := f.(targeted); ok {
		on = t.on()
	}
	names, rerr := p.resolve(ctx, on)
	began = time.Duration(p.clock.Now())
	env := p.env
	env.On = names
	startF, stopF := ops(f)
	extra := params(f)
	if rerr != nil {
		names = on.Targets // record the attempt with what the schedule said
	} else if d, ok := f.(Describer); ok {
		maps.Copy(extra, d.Describe(env))
	}
	p.setCurrent(f.Kind() + " " + strings.Join(names, ",") + fmtExtra(extra))
	// The ok op carries extra as it is once the start returns; the stop
	// carries the parameters alone.
	stopExtra := maps.Clone(extra)
	env.Note = func(k, v string) {
		if old := extra[k]; old != "" {
			v = old + "; " + v
		}
		extra[k] = v
	}
	var faultUndo Undo
	werr := p.record(ctx, startF, names, extra, func(ctx context.Context) error {
		err := rerr
		if err == nil {
			faultUndo, err = f.Start(ctx, env)
		}
		if err != nil {
			p.mu.Lock()
			p.refused[err.Error()]++
			p.mu.Unlock()
		}
		return err
	})
	if werr != nil {
		return nop, began, werr
	}
	if faultUndo == nil {
		// Nothing is in force: close the fault's window at once, so that
		// a later stop of the same kind cannot be taken for this one's.
		p.setCurrent("none")
		stopExtra["undo"] = "none: the start failed"
		return nop, began, p.record(ctx, stopF, names, stopExtra, nop)
	}
	return func(ctx context.Context) error {
		defer p.setCurrent("none")
		return p.record(ctx, stopF, names, stopExtra, faultUndo)
	}, began, nil
}

// Final undoes every fault the kinds can leave behind, on every member,
// in table order: heal, stop loss and latency, resume, restart, reset
// clocks. Each is recorded (extra.final=true). It uses its own context, bounded by
// timeout, so it runs after a cancelled run too.
func (p *Player) Final(ctx context.Context, kinds []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	env := p.env
	env.On = p.env.Nodes
	var errs []error
	for _, e := range table {
		f := e.new()
		h, ok := f.(Healer)
		if !ok || !slices.Contains(kinds, f.Kind()) {
			continue
		}
		_, stopF := ops(f)
		do := func(ctx context.Context) error { return h.Heal(ctx, env) }
		if err := p.record(ctx, stopF, env.On, map[string]string{"final": "true"}, do); err != nil {
			errs = append(errs, err)
		}
	}
	p.setCurrent("none")
	return errors.Join(errs...)
}
