package workloads

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"coordlab/analysis"
	"coordlab/history"
)

const configKey = "config"

var configWorkload = Workload{
	Name:  "config",
	About: "a publisher writes versions, subscribers read them",
	New:   func(c Config) generator { return &configCenter{cfg: c} },
	Judge: analysis.Judge{
		Checkers: []analysis.Checker{analysis.ConfigCenter()},
		Reads:    []string{history.FSubscribe},
		Writes:   []string{history.FPublish},
	},
}

// configCenter: thread 0 publishes versions 1, 2, 3... of a configuration
// (the value is the version number); the other threads subscribe by reading
// it. Versions only grow, even across the publisher's retired processes.
type configCenter struct {
	cfg     Config
	version atomic.Int64
}

func (g *configCenter) step(ctx context.Context, w *worker) error {
	if w.thread == 0 {
		return g.publish(ctx, w)
	}
	return g.subscribe(ctx, w)
}

func (g *configCenter) publish(ctx context.Context, w *worker) error {
	cl := w.cl
	v := strconv.FormatInt(g.version.Add(1), 10)
	_, err := w.do(ctx, history.Op{F: history.FPublish, Key: configKey, Value: history.Str(v)}, false, func(ctx context.Context, d *history.Op) error {
		r, err := cl.Put(ctx, configKey, v)
		d.Version = r.Version
		return err
	})
	if g.cfg.Rate == 0 {
		sleep(ctx, 10*time.Millisecond) // let subscribers see each version
	}
	return err
}

func (g *configCenter) subscribe(ctx context.Context, w *worker) error {
	cl := w.cl
	_, err := w.do(ctx, history.Op{F: history.FSubscribe, Key: configKey}, true, func(ctx context.Context, d *history.Op) error {
		r, err := cl.Get(ctx, configKey)
		if err != nil {
			return err
		}
		d.Found, d.Version = r.Found, r.Version
		if r.Found {
			d.Value = history.Str(r.Value)
		}
		return nil
	})
	return err
}

// final: every subscriber reads once more; they must converge on the last
// version published.
func (g *configCenter) final(ctx context.Context, w *worker) error {
	if w.thread == 0 || w.ensureClient(ctx) != nil {
		return nil
	}
	return g.subscribe(ctx, w)
}
