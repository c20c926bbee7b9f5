package faults

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"coordlab/cluster"
	"coordlab/history"
)

// Player plays a schedule on a runtime and records the faults in a history.
type Player struct {
	rt    cluster.Runtime
	h     *history.Writer
	clock history.Clock
	log   *slog.Logger
	nodes []string
	// current describes the fault in force, for progress lines.
	current atomic.Pointer[string]
	// Mechanism names how pause works in this runtime ("sigstop").
	mechanism string
	resolvers map[string]func(context.Context) (string, error)
}

// SetResolver makes target name (LockHolder) resolve through f when a
// fault starts. Call it before Play.
func (p *Player) SetResolver(name string, f func(context.Context) (string, error)) {
	if p.resolvers == nil {
		p.resolvers = map[string]func(context.Context) (string, error){}
	}
	p.resolvers[name] = f
}

// NewPlayer returns a player. clock must be the run's history clock: step
// times are offsets on it.
func NewPlayer(rt cluster.Runtime, h *history.Writer, clock history.Clock, nodes []string, log *slog.Logger) *Player {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Player{rt: rt, h: h, clock: clock, log: log.With("component", "nemesis"), nodes: nodes, mechanism: "sigstop"}
	if rt.Name() == "docker" {
		p.mechanism = "docker-pause"
	}
	none := "none"
	p.current.Store(&none)
	return p
}

// Current describes the fault in force ("none" between faults).
func (p *Player) Current() string { return *p.current.Load() }

func (p *Player) setCurrent(s string) { p.current.Store(&s) }

// undoTimeout bounds the end of one fault (a restart waits for the member
// to serve).
const undoTimeout = 30 * time.Second

// Play runs the steps, each at its time, and returns when the last one has
// ended or ctx is done. A fault the runtime refuses is recorded as info and
// the schedule goes on; only a history write error stops it.
func (p *Player) Play(ctx context.Context, s Schedule) error {
	for _, st := range s.Steps {
		if err := p.waitUntil(ctx, st.At); err != nil {
			return nil // cut short: Final undoes what is in force
		}
		undo, began, err := p.start(ctx, st.Fault)
		if err != nil {
			return err
		}
		// A start that waited (for the leader, for a lock holder) still
		// lasts its full Duration.
		if err := p.waitUntil(ctx, began+st.Duration); err != nil {
			return nil
		}
		// Undo even when the time limit falls during it: a half-undone
		// fault would be left to Final.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
		err = undo(uctx)
		cancel()
		if err != nil {
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

// record writes an invoke, runs do, and writes ok or info.
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
		l, err := p.rt.Leader(ctx)
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
func (p *Player) resolve(ctx context.Context, targets []string, pick int) ([]string, error) {
	out := slices.Clone(targets)
	for i, t := range out {
		switch f := p.resolvers[t]; {
		case t == Follower:
			l, err := p.leader(ctx)
			if err != nil {
				return nil, fmt.Errorf("faults: find the leader: %w", err)
			}
			fs := without(p.nodes, l)
			if len(fs) == 0 {
				return nil, errors.New("faults: no follower: the cluster has one member")
			}
			out[i] = fs[pick%len(fs)]
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

// start applies f and returns the function that undoes it.
func (p *Player) start(ctx context.Context, f Fault) (undo func(context.Context) error, began time.Duration, err error) {
	undo, err = p.startFault(ctx, f, &began)
	return undo, began, err
}

// startFault applies f; began receives the time it was applied (after its
// targets were resolved).
func (p *Player) startFault(ctx context.Context, f Fault, began *time.Duration) (undo func(context.Context) error, err error) {
	nop := func(context.Context) error { return nil }
	targets, rerr := p.resolve(ctx, f.Targets, f.Pick)
	*began = time.Duration(p.clock.Now())
	extra := map[string]string{}
	if f.Shape != "" {
		extra["shape"] = f.Shape
	}
	startF, stopF := faultOps(f.Kind)
	if rerr != nil {
		// Record the attempt, so the history shows the fault did not happen.
		err := p.record(ctx, startF, f.Targets, extra, func(context.Context) error { return rerr })
		return nop, err
	}
	desc := string(f.Kind)
	switch f.Kind {
	case KindPartition:
		g := f.Grudge
		if f.Shape == ShapeIsolateLeader || f.Shape == ShapeIsolateFollower {
			g = complete(targets, without(p.nodes, targets[0]))
		}
		extra["grudge"] = g.String()
		desc = "partition " + f.Shape + " (" + g.String() + ")"
		p.setCurrent(desc)
		if err := p.record(ctx, startF, targets, extra, func(ctx context.Context) error { return p.rt.Partition(ctx, g) }); err != nil {
			return nop, err
		}
		return func(ctx context.Context) error {
			defer p.setCurrent("none")
			return p.record(ctx, stopF, targets, map[string]string{"shape": f.Shape}, p.rt.Heal)
		}, nil
	case KindKill:
		p.setCurrent("kill " + strings.Join(targets, ","))
		if err := p.record(ctx, startF, targets, extra, func(ctx context.Context) error { return each(ctx, targets, p.rt.Kill) }); err != nil {
			return nop, err
		}
		return func(ctx context.Context) error {
			defer p.setCurrent("none")
			return p.record(ctx, stopF, targets, nil, func(ctx context.Context) error { return each(ctx, targets, p.rt.Restart) })
		}, nil
	case KindPause:
		extra["mechanism"] = p.mechanism
		p.setCurrent("pause " + strings.Join(targets, ","))
		if err := p.record(ctx, startF, targets, extra, func(ctx context.Context) error { return each(ctx, targets, p.rt.Pause) }); err != nil {
			return nop, err
		}
		return func(ctx context.Context) error {
			defer p.setCurrent("none")
			return p.record(ctx, stopF, targets, map[string]string{"mechanism": p.mechanism}, func(ctx context.Context) error { return each(ctx, targets, p.rt.Resume) })
		}, nil
	case KindLoss:
		extra["percent"] = strconv.Itoa(f.Percent)
		p.setCurrent(fmt.Sprintf("loss %d%% %s", f.Percent, strings.Join(targets, ",")))
		if err := p.record(ctx, startF, targets, extra, func(ctx context.Context) error { return p.rt.Loss(ctx, f.Percent, targets) }); err != nil {
			return nop, err
		}
		return func(ctx context.Context) error {
			defer p.setCurrent("none")
			return p.record(ctx, stopF, targets, nil, func(ctx context.Context) error { return p.rt.Loss(ctx, 0, targets) })
		}, nil
	}
	return nop, fmt.Errorf("faults: unknown fault kind %q", f.Kind)
}

// faultOps are the history names of a kind's start and stop.
func faultOps(k Kind) (start, stop string) {
	switch k {
	case KindPartition:
		return "start-partition", "stop-partition"
	case KindKill:
		return "kill", "restart"
	case KindPause:
		return "pause", "resume"
	case KindLoss:
		return "start-loss", "stop-loss"
	}
	return "start-" + string(k), "stop-" + string(k)
}

func each(ctx context.Context, names []string, f func(context.Context, string) error) error {
	var errs []error
	for _, n := range names {
		if err := f(ctx, n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Final undoes every fault the kinds can leave behind: heal, stop loss,
// resume and restart every member. Each is recorded (extra.final=true).
// It uses its own context, bounded by timeout, so it runs after a
// cancelled run too.
func (p *Player) Final(ctx context.Context, kinds []Kind, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	final := map[string]string{"final": "true"}
	var errs []error
	for _, k := range []Kind{KindPartition, KindLoss, KindPause, KindKill} { // heal before restarting
		if !slices.Contains(kinds, k) {
			continue
		}
		_, stopF := faultOps(k)
		var do func(context.Context) error
		switch k {
		case KindPartition:
			do = p.rt.Heal
		case KindLoss:
			do = func(ctx context.Context) error { return p.rt.Loss(ctx, 0, p.nodes) }
		case KindPause:
			do = func(ctx context.Context) error { return each(ctx, p.nodes, p.rt.Resume) }
		case KindKill:
			do = func(ctx context.Context) error { return each(ctx, p.nodes, p.rt.Restart) }
		default:
			continue
		}
		if err := p.record(ctx, stopF, p.nodes, final, do); err != nil {
			errs = append(errs, err)
		}
	}
	p.setCurrent("none")
	return errors.Join(errs...)
}
