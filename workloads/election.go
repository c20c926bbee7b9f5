package workloads

import (
	"context"
	"errors"
	"strconv"
	"time"

	"coordlab/analysis"
	"coordlab/client"
	"coordlab/history"
)

const electionName = "election"

var electionWorkload = Workload{
	Name:           "election",
	About:          "campaign, observe, resign",
	New:            func(c Config) generator { return &election{cfg: c} },
	MinConcurrency: 2,
	Judge: analysis.Judge{
		Checkers: []analysis.Checker{analysis.Election()},
		Reads:    []string{history.FObserve},
		Writes:   []string{history.FCampaign},
	},
}

// election: even threads are candidates (campaign, hold, resign), odd
// threads observe the leader.
type election struct{ cfg Config }

func (g *election) step(ctx context.Context, w *worker) error {
	cl := w.cl
	if w.thread%2 == 1 {
		_, err := w.do(ctx, history.Op{F: history.FObserve, Key: electionName}, true, func(ctx context.Context, d *history.Op) error {
			v, term, err := cl.Leader(ctx, electionName)
			if errors.Is(err, client.ErrNoLeader) {
				return nil // an answer: nobody leads (Value nil)
			}
			if err != nil {
				return err
			}
			d.Value, d.Version = history.Str(v), term
			return nil
		})
		sleep(ctx, 50*time.Millisecond)
		return err
	}
	if err := w.ensureSession(ctx); err != nil {
		w.closeClient()
		sleep(ctx, 100*time.Millisecond)
		return nil
	}
	sess := w.sess
	val := "p" + strconv.Itoa(w.process) + "-" + w.uniqueValue()
	var resign func(context.Context) error
	var term int64
	typ, err := w.doT(ctx, history.Op{F: history.FCampaign, Key: electionName, Value: history.Str(val)}, false, 3*g.cfg.SessionTTL+g.cfg.OpTimeout,
		func(ctx context.Context, d *history.Op) error {
			t, r, err := cl.Campaign(ctx, sess, electionName, val)
			if err != nil {
				return err
			}
			term, resign = t, r
			d.Version = t
			return nil
		})
	if err != nil || typ != history.OK {
		return err
	}
	sleep(ctx, g.cfg.Hold)
	_, err = w.do(ctx, history.Op{F: history.FResign, Key: electionName, Value: history.Str(val), Version: term}, false, func(ctx context.Context, d *history.Op) error {
		return resign(ctx)
	})
	return err
}

func (g *election) final(ctx context.Context, w *worker) error { return nil }
