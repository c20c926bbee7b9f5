package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"coordlab/client"
	"coordlab/cluster"
	"coordlab/faults"
	"coordlab/workloads"
)

// Duration is a time.Duration that reads and writes JSON as "30s".
type Duration time.Duration

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("run: duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("run: duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// Spec is everything that defines a run. Each field maps to one flag of
// `coordlab run`.
type Spec struct {
	Target      string   `json:"target"`            // raftkv, zab, etcd, zookeeper
	Runtime     string   `json:"runtime"`           // local
	Network     string   `json:"network"`           // local runtime: auto, netns, loopback
	Nodes       int      `json:"nodes"`             // 3 or 5 (default 3)
	Workload    string   `json:"workload"`          // register, lock, watch, election, config
	Nemesis     string   `json:"nemesis"`           // none, partition, kill, ... (comma list)
	TimeLimit   Duration `json:"time_limit"`        // length of the workload phase (default 30s)
	Concurrency int      `json:"concurrency"`       // worker threads (default 10)
	Rate        float64  `json:"rate"`              // total ops/s (default 200; 0 unlimited)
	ReadMode    string   `json:"read_mode"`         // linearizable|serializable (etcd), sync|local (ZooKeeper)
	Seed        int64    `json:"seed"`              // fault schedule and op choices (default 1)
	Out         string   `json:"out"`               // parent of run dirs (default results)
	Keys        int      `json:"keys"`              // register/watch keys (default 5)
	Interval    Duration `json:"nemesis_interval"`  // quiet time before each fault (default 5s)
	FaultFor    Duration `json:"nemesis_duration"`  // each fault's length (default 5s)
	LossPercent int      `json:"loss_percent"`      // loss package drop rate (default 30)
	Unfenced    bool     `json:"unfenced"`          // lock workload: plain put instead of fenced write
	SessionTTL  Duration `json:"session_ttl"`       // lock/election sessions (default 2s)
	Hold        Duration `json:"hold"`              // lock: time held before the write (default 200ms)
	OpTimeout   Duration `json:"op_timeout"`        // each op (default 2s)
	BinDir      string   `json:"bin_dir,omitempty"` // where raftkv and zab are
	CheckLimit  Duration `json:"check_time_limit"`  // analysis budget (default 60s)
}

// Runtimes the lab has.
var Runtimes = map[string]string{
	"local":  "members as processes: own network namespaces as root (all faults), loopback otherwise (kill, pause)",
	"docker": "every target as a container (our engines' images from `make images`, etcd's and ZooKeeper's built from the host's packages), on a private network (all faults as root)",
}

// WithDefaults fills zero fields.
func (s Spec) WithDefaults() Spec {
	if s.Runtime == "" {
		s.Runtime = "local"
	}
	if s.Network == "" {
		s.Network = "auto"
	}
	if s.Nodes == 0 {
		s.Nodes = 3
	}
	if s.Nemesis == "" {
		s.Nemesis = "none"
	}
	if s.TimeLimit == 0 {
		s.TimeLimit = Duration(30 * time.Second)
	}
	if s.Concurrency == 0 {
		s.Concurrency = 10
	}
	if s.Seed == 0 {
		s.Seed = 1
	}
	if s.Out == "" {
		s.Out = "results"
	}
	if s.Keys == 0 {
		s.Keys = 5
	}
	if s.Interval == 0 {
		s.Interval = Duration(5 * time.Second)
	}
	if s.FaultFor == 0 {
		s.FaultFor = Duration(5 * time.Second)
	}
	if s.LossPercent == 0 {
		s.LossPercent = 30
	}
	if s.SessionTTL == 0 {
		s.SessionTTL = Duration(2 * time.Second)
	}
	if s.Hold == 0 {
		s.Hold = Duration(200 * time.Millisecond)
	}
	if s.OpTimeout == 0 {
		s.OpTimeout = Duration(2 * time.Second)
	}
	if s.CheckLimit == 0 {
		s.CheckLimit = Duration(60 * time.Second)
	}
	if s.ReadMode == "" {
		switch s.Target {
		case "etcd", "raftkv":
			s.ReadMode = "linearizable"
		case "zookeeper", "zab":
			s.ReadMode = "sync"
		}
	}
	return s
}

// Validate checks the spec (after WithDefaults); each message names the
// flag and the fix.
func (s Spec) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrBadSpec}, a...)...))
	}
	t, terr := cluster.NewTarget(s.Target, cluster.TargetOptions{})
	if terr != nil {
		bad("--target %q: want one of %s", s.Target, strings.Join(cluster.TargetNames(), ", "))
	}
	if _, ok := Runtimes[s.Runtime]; !ok {
		bad("--runtime %q: want local or docker", s.Runtime)
	}
	if !slices.Contains([]string{"auto", "netns", "loopback"}, s.Network) {
		bad("--network %q: want auto, netns or loopback", s.Network)
	}
	if s.Nodes != 3 && s.Nodes != 5 && s.Nodes != 1 && s.Nodes != 7 {
		bad("--nodes: want 1, 3, 5 or 7, got %d", s.Nodes)
	}
	if !slices.Contains(workloads.Names(), s.Workload) {
		bad("--workload %q: want one of %s", s.Workload, strings.Join(workloads.Names(), ", "))
	}
	if _, err := faults.ParseSpec(s.Nemesis); err != nil {
		bad("--nemesis: %v", err)
	} else if _, err := faults.Generate(s.Seed, s.Nemesis, cluster.Names(s.Nodes), s.faultOptions()); err != nil {
		bad("--nemesis: %v", err)
	}
	if s.TimeLimit <= 0 {
		bad("--time-limit: want > 0, got %s", time.Duration(s.TimeLimit))
	}
	if s.Rate < 0 {
		bad("--rate: want >= 0 (0 = unlimited), got %g", s.Rate)
	}
	mode, merr := client.ParseReadMode(s.ReadMode)
	switch {
	case merr != nil:
		bad("--read-mode: %v", merr)
	case terr == nil && t.Protocol() == cluster.ProtocolEtcd && !mode.Etcd():
		bad("--read-mode %s: %s speaks the etcd API: want linearizable or serializable", s.ReadMode, s.Target)
	case terr == nil && t.Protocol() == cluster.ProtocolZooKeeper && !mode.ZooKeeper():
		bad("--read-mode %s: %s speaks the ZooKeeper API: want sync or local", s.ReadMode, s.Target)
	}
	if strings.Contains(s.Nemesis, "lock-holder") && s.Workload != "lock" {
		bad("--nemesis %s: pause-lock-holder needs --workload lock", s.Nemesis)
	}
	if s.Unfenced && s.Workload != "lock" {
		bad("--unfenced: only for --workload lock")
	}
	if s.Out == "" {
		bad("--out: want a directory")
	}
	if err := s.workloadConfig().WithDefaults().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrBadSpec, err))
	}
	return errors.Join(errs...)
}

func (s Spec) readMode() client.ReadMode {
	m, err := client.ParseReadMode(s.ReadMode)
	if err != nil {
		return 0 // Validate reported it
	}
	return m
}

func (s Spec) workloadConfig() workloads.Config {
	return workloads.Config{
		Workload: s.Workload, Concurrency: s.Concurrency, Rate: s.Rate, Keys: s.Keys, Seed: s.Seed,
		ReadMode: s.readMode(), Unfenced: s.Unfenced, SessionTTL: time.Duration(s.SessionTTL),
		Hold: time.Duration(s.Hold), OpTimeout: time.Duration(s.OpTimeout),
	}
}

func (s Spec) faultOptions() faults.Options {
	return faults.Options{Interval: time.Duration(s.Interval), Duration: time.Duration(s.FaultFor),
		TimeLimit: time.Duration(s.TimeLimit), LossPercent: s.LossPercent}
}

// Test is test.json: the spec and what the run derived from it.
type Test struct {
	Spec     Spec              `json:"spec"`
	Schedule faults.Schedule   `json:"schedule"`
	Started  time.Time         `json:"started"`
	Members  []cluster.Member  `json:"members,omitempty"`
	Network  string            `json:"network_mode,omitempty"` // netns or loopback
	RunID    string            `json:"run_id,omitempty"`       // names of the run's namespaces
	Versions map[string]string `json:"versions,omitempty"`     // what ran: package versions, binary hashes
	Dir      string            `json:"dir"`
}

// WriteTest writes test.json into dir.
func WriteTest(dir string, t Test) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return fmt.Errorf("run: encode test.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("run: write test.json: %w", err)
	}
	return nil
}

// ReadTest reads dir/test.json.
func ReadTest(dir string) (Test, error) {
	b, err := os.ReadFile(filepath.Join(dir, "test.json"))
	if err != nil {
		return Test{}, fmt.Errorf("run: %s is not a run directory: %w", dir, err)
	}
	var t Test
	if err := json.Unmarshal(b, &t); err != nil {
		return Test{}, fmt.Errorf("run: decode %s/test.json: %w", dir, err)
	}
	return t, nil
}
