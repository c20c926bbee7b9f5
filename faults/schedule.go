package faults

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Options time a schedule.
type Options struct {
	// Interval is the quiet time before each fault (default 5s).
	Interval time.Duration
	// Duration is how long each fault lasts (default 5s).
	Duration time.Duration
	// TimeLimit is the length of the run; no fault starts after
	// TimeLimit-Duration. Required.
	TimeLimit time.Duration
	// LossPercent is the loss package's drop rate (default 30).
	LossPercent int
}

// Validate checks the options (after defaults).
func (o Options) Validate() error {
	var errs []error
	if o.Interval <= 0 {
		errs = append(errs, fmt.Errorf("faults: --nemesis-interval: want > 0, got %s", o.Interval))
	}
	if o.Duration <= 0 {
		errs = append(errs, fmt.Errorf("faults: --nemesis-duration: want > 0, got %s", o.Duration))
	}
	if o.TimeLimit <= 0 {
		errs = append(errs, fmt.Errorf("faults: --time-limit: want > 0, got %s", o.TimeLimit))
	}
	if o.LossPercent < 1 || o.LossPercent > 100 {
		errs = append(errs, fmt.Errorf("faults: --loss-percent: want 1..100, got %d", o.LossPercent))
	}
	return errors.Join(errs...)
}

// WithDefaults fills zero fields.
func (o Options) WithDefaults() Options {
	if o.Interval == 0 {
		o.Interval = 5 * time.Second
	}
	if o.Duration == 0 {
		o.Duration = 5 * time.Second
	}
	if o.LossPercent == 0 {
		o.LossPercent = 30
	}
	return o
}

// Generate makes the schedule for spec on nodes. It is a pure function of
// its arguments: the same seed gives the same schedule.
func Generate(seed int64, spec string, nodes []string, o Options) (Schedule, error) {
	o = o.WithDefaults()
	if err := o.Validate(); err != nil {
		return Schedule{}, err
	}
	pkgs, err := ParseSpec(spec)
	if err != nil {
		return Schedule{}, err
	}
	if len(nodes) == 0 {
		return Schedule{}, errors.New("faults: no nodes")
	}
	draws := make([]Package, len(pkgs))
	for i, name := range pkgs {
		p, _, _ := lookupPackage(name) // ParseSpec checked the names
		if len(nodes) < p.MinNodes {
			return Schedule{}, fmt.Errorf("%w: %s: want --nodes %d or more, got %d", ErrBadSpec, name, p.MinNodes, len(nodes))
		}
		draws[i] = p
	}
	s := Schedule{Seed: seed, Spec: strings.Join(pkgs, ","), Nodes: nodes, Steps: []Step{}}
	if len(pkgs) == 0 {
		return s, nil
	}
	r := newRand(uint64(seed))
	for at := o.Interval; at+o.Duration <= o.TimeLimit; at += o.Interval + o.Duration {
		p := draws[r.IntN(len(draws))]
		s.Steps = append(s.Steps, Step{At: at, Duration: o.Duration, Fault: p.Draw(r, nodes, o)})
	}
	return s, nil
}
