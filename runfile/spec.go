package runfile

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration that reads and writes JSON as "30s".
type Duration time.Duration

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("runfile: duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("runfile: duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// String returns the Go duration string ("30s").
func (d Duration) String() string { return time.Duration(d).String() }

// Spec is everything that defines a run; test.json's "spec". Each field
// maps to one flag of `coordlab run` and one key of a suite file's
// "defaults". Defaults are those of Default.
type Spec struct {
	Target      string   `json:"target"`            // raftkv, zab, etcd, zookeeper
	Runtime     string   `json:"runtime"`           // local, docker
	Network     string   `json:"network"`           // local runtime: auto, netns, loopback
	Nodes       int      `json:"nodes"`             // cluster size
	Workload    string   `json:"workload"`          // a name of the workloads table
	Nemesis     string   `json:"nemesis"`           // none, partition, kill, ... (comma list)
	TimeLimit   Duration `json:"time_limit"`        // length of the workload phase
	Concurrency int      `json:"concurrency"`       // worker threads
	Rate        float64  `json:"rate"`              // total ops/s; 0 unlimited
	ReadMode    string   `json:"read_mode"`         // linearizable|serializable (etcd), sync|local (ZooKeeper)
	Seed        int64    `json:"seed"`              // fault schedule and op choices
	Out         string   `json:"out"`               // parent of run dirs
	Keys        int      `json:"keys"`              // register/watch keys
	Interval    Duration `json:"nemesis_interval"`  // quiet time before each fault
	FaultFor    Duration `json:"nemesis_duration"`  // each fault's length
	LossPercent int      `json:"loss_percent"`      // loss package drop rate
	Unfenced    bool     `json:"unfenced"`          // lock workload: plain put instead of fenced write
	SessionTTL  Duration `json:"session_ttl"`       // lock/election sessions
	Hold        Duration `json:"hold"`              // lock: time held before the write
	OpTimeout   Duration `json:"op_timeout"`        // each op
	BinDir      string   `json:"bin_dir,omitempty"` // where raftkv and zab are ("" = next to coordlab, then $PATH)
	CheckLimit  Duration `json:"check_time_limit"`  // analysis budget
}

// Default returns the spec of a run nobody configured: the CLI's flag
// defaults and what a suite file's entries start from. Target is left
// empty (there is no default system), and ReadMode follows the target
// (WithDefaults).
func Default() Spec {
	return Spec{
		Runtime:     "local",
		Network:     "auto",
		Nodes:       3,
		Workload:    "register",
		Nemesis:     "none",
		TimeLimit:   Duration(30 * time.Second),
		Concurrency: 10,
		Rate:        200,
		Seed:        1,
		Out:         "results",
		Keys:        5,
		Interval:    Duration(5 * time.Second),
		FaultFor:    Duration(5 * time.Second),
		LossPercent: 30,
		SessionTTL:  Duration(2 * time.Second),
		Hold:        Duration(200 * time.Millisecond),
		OpTimeout:   Duration(2 * time.Second),
		CheckLimit:  Duration(60 * time.Second),
	}
}

// WithDefaults fills the zero fields whose zero means "unset" from Default,
// and the read mode from the target (linearizable for the etcd API, sync
// for ZooKeeper's). Rate, Unfenced and BinDir keep their zero: it means
// something (see the package caveats).
func (s Spec) WithDefaults() Spec {
	d := Default()
	fill := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	fillInt := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	fillDur := func(p *Duration, v Duration) {
		if *p == 0 {
			*p = v
		}
	}
	fill(&s.Runtime, d.Runtime)
	fill(&s.Network, d.Network)
	fillInt(&s.Nodes, d.Nodes)
	fill(&s.Workload, d.Workload)
	fill(&s.Nemesis, d.Nemesis)
	fillDur(&s.TimeLimit, d.TimeLimit)
	fillInt(&s.Concurrency, d.Concurrency)
	if s.Seed == 0 {
		s.Seed = d.Seed
	}
	fill(&s.Out, d.Out)
	fillInt(&s.Keys, d.Keys)
	fillDur(&s.Interval, d.Interval)
	fillDur(&s.FaultFor, d.FaultFor)
	fillInt(&s.LossPercent, d.LossPercent)
	fillDur(&s.SessionTTL, d.SessionTTL)
	fillDur(&s.Hold, d.Hold)
	fillDur(&s.OpTimeout, d.OpTimeout)
	fillDur(&s.CheckLimit, d.CheckLimit)
	if s.ReadMode == "" {
		s.ReadMode = DefaultReadMode(s.Target)
	}
	return s
}

// DefaultReadMode is the read mode a target's reads get when none is
// asked for: its linearizable one ("" for an unknown target).
func DefaultReadMode(target string) string {
	switch target {
	case "etcd", "raftkv":
		return "linearizable"
	case "zookeeper", "zab":
		return "sync"
	}
	return ""
}
