package workloads

import (
	"context"
	"strconv"
	"time"

	"coordlab/analysis"
	"coordlab/client"
	"coordlab/history"
)

const watchPrefix = "w/"

// watchDrain is how long watchers keep receiving after the writers stop.
const watchDrain = 2 * time.Second

var watchWorkload = Workload{
	Name:  "watch",
	About: "writers on a prefix, watchers record every event",
	New:   newWatch,
	Judge: analysis.Judge{
		Checkers: []analysis.Checker{analysis.Watch()},
		Reads:    []string{history.FRead},
		Writes:   []string{history.FPut, history.FDelete},
	},
}

// watchLoad: threads 0..W-1 watch the prefix w/ (W = max(1, Concurrency/4));
// the others put (90%) or delete (10%) keys under it with unique values.
type watchLoad struct {
	cfg      Config
	watchers int
}

func newWatch(cfg Config) generator {
	return &watchLoad{cfg: cfg, watchers: max(1, cfg.Concurrency/4)}
}

func (g *watchLoad) step(ctx context.Context, w *worker) error {
	if w.thread < g.watchers {
		return g.watch(ctx, w)
	}
	key := watchPrefix + strconv.Itoa(w.r.IntN(g.cfg.Keys))
	cl := w.cl
	if w.r.IntN(10) == 0 {
		_, err := w.do(ctx, history.Op{F: history.FDelete, Key: key}, false, func(ctx context.Context, d *history.Op) error {
			return cl.Delete(ctx, key)
		})
		return err
	}
	val := w.uniqueValue()
	_, err := w.do(ctx, history.Op{F: history.FPut, Key: key, Value: history.Str(val)}, false, func(ctx context.Context, d *history.Op) error {
		v, err := cl.Put(ctx, key, val)
		d.Version = v.Version
		return err
	})
	return err
}

// watch is one watch op: it runs until the run ends (plus watchDrain) or
// the watch breaks, and completes with every event received. The next one
// resumes after the last version seen, or at the oldest revision the server
// still has when it answered that the start was compacted.
func (g *watchLoad) watch(ctx context.Context, w *worker) error {
	if ctx.Err() != nil {
		return nil
	}
	from := w.watchFrom
	cl := w.cl
	clock := w.rec.clock
	_, err := w.doT(ctx, history.Op{F: history.FWatch, Key: watchPrefix, Version: from}, true, 0, func(ctx context.Context, d *history.Op) error {
		wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		defer cancel()
		ch, err := cl.Watch(wctx, watchPrefix, from)
		if err != nil {
			return err
		}
		var drain <-chan time.Time
		done := ctx.Done()
		ended := "run end"
	loop:
		for {
			select {
			case ev, ok := <-ch:
				if !ok {
					ended = "channel closed"
					break loop
				}
				d.Events = append(d.Events, toEvent(ev, clock.Now()))
				if ev.Type == client.EventError || ev.Type == client.EventCompacted {
					ended = ev.Type.String()
					if ev.Type == client.EventCompacted && ev.Revision > from {
						// The history before Revision is gone (etcd's
						// compact revision; ZooKeeper keeps none): the
						// next watch starts where the server can still
						// deliver, or it would be told the same again.
						from = ev.Revision
					}
					break loop
				}
				if ev.Version > 0 && ev.Type != client.EventProgress {
					from = ev.Version + 1
				}
			case <-done:
				done = nil
				t := time.NewTimer(watchDrain)
				defer t.Stop()
				drain = t.C
			case <-drain:
				break loop
			}
		}
		d.Ended = ended
		return nil
	})
	w.watchFrom = from
	return err
}

func toEvent(ev client.WatchEvent, now int64) history.Event {
	e := history.Event{Type: ev.Type.String(), Key: ev.Key, Version: ev.Version, CreateVersion: ev.CreateVersion,
		PrevValue: ev.PrevValue, Created: ev.Created, Time: now}
	switch ev.Type {
	case client.EventPut, client.EventDelete:
		// The events of one txn share its revision (etcd mod_revision,
		// ZooKeeper zxid); a response may batch several txns.
		e.Txn = ev.Version
		if ev.Type == client.EventPut {
			e.Value = history.Str(ev.Value)
		}
	case client.EventProgress:
		e.Version = ev.Revision
	case client.EventError, client.EventCompacted:
		if ev.Err != nil {
			e.Value = history.Str(ev.Err.Error())
		}
	}
	return e
}

// final: writers' first threads read every key once, for the end state.
func (g *watchLoad) final(ctx context.Context, w *worker) error {
	if w.thread != g.watchers || w.ensureClient(ctx) != nil {
		return nil
	}
	cl := w.cl
	for k := range g.cfg.Keys {
		key := watchPrefix + strconv.Itoa(k)
		if _, err := w.do(ctx, history.Op{F: history.FRead, Key: key}, true, func(ctx context.Context, d *history.Op) error {
			v, err := cl.Get(ctx, key)
			if err != nil {
				return err
			}
			d.Found, d.Version = v.Found, v.Version
			if v.Found {
				d.Value = history.Str(v.Value)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}
