package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"coordlab/client"
	"coordlab/cluster"
	"coordlab/faults"
	"coordlab/runfile"
	"coordlab/workloads"
)

// Spec is everything that defines a run (test.json's "spec"); its schema
// and defaults live in runfile, which reports and analysis read too.
type Spec = runfile.Spec

// Duration is a time.Duration that reads and writes JSON as "30s".
type Duration = runfile.Duration

// Runtimes the lab has.
var Runtimes = map[string]string{
	"local":  "members as processes: own network namespaces as root (all faults), loopback otherwise (kill, pause)",
	"docker": "every target as a container (our engines' images from `make images`, etcd's and ZooKeeper's built from the host's packages), on a private network (all faults as root)",
}

// Validate checks the spec (after WithDefaults); each message names the
// flag and the fix.
func Validate(s Spec) error {
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
	} else if _, err := faults.Generate(s.Seed, s.Nemesis, cluster.Names(s.Nodes), faultOptions(s)); err != nil {
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
	if wl, ok := workloads.Lookup(s.Workload); ok && strings.Contains(s.Nemesis, "lock-holder") && !wl.LockHolder {
		bad("--nemesis %s: pause-lock-holder needs a workload with a lock holder (--workload lock), not %s", s.Nemesis, s.Workload)
	}
	if s.Out == "" {
		bad("--out: want a directory")
	}
	if err := workloadConfig(s).WithDefaults().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrBadSpec, err))
	}
	return errors.Join(errs...)
}

func readMode(s Spec) client.ReadMode {
	m, err := client.ParseReadMode(s.ReadMode)
	if err != nil {
		return 0 // Validate reported it
	}
	return m
}

func workloadConfig(s Spec) workloads.Config {
	return workloads.Config{
		Workload: s.Workload, Concurrency: s.Concurrency, Rate: s.Rate, Keys: s.Keys, Seed: s.Seed,
		ReadMode: readMode(s), Unfenced: s.Unfenced, SessionTTL: time.Duration(s.SessionTTL),
		Hold: time.Duration(s.Hold), OpTimeout: time.Duration(s.OpTimeout),
	}
}

func faultOptions(s Spec) faults.Options {
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
	sched, err := json.Marshal(t.Schedule)
	if err != nil {
		return fmt.Errorf("run: encode the schedule: %w", err)
	}
	f := runfile.File{Spec: t.Spec, Schedule: sched, Started: t.Started, Network: t.Network, RunID: t.RunID, Versions: t.Versions, Dir: t.Dir}
	for _, m := range t.Members {
		f.Members = append(f.Members, runfile.Member{Name: m.Name, ID: m.ID, Host: m.Host, ClientPort: m.ClientPort,
			PeerPort: m.PeerPort, ElectionPort: m.ElectionPort, Dir: m.Dir})
	}
	return runfile.Write(dir, f)
}

// ReadTest reads dir/test.json.
func ReadTest(dir string) (Test, error) {
	f, err := runfile.Read(dir)
	if err != nil {
		return Test{}, err
	}
	t := Test{Spec: f.Spec, Started: f.Started, Network: f.Network, RunID: f.RunID, Versions: f.Versions, Dir: f.Dir}
	if len(f.Schedule) > 0 {
		if err := json.Unmarshal(f.Schedule, &t.Schedule); err != nil {
			return Test{}, fmt.Errorf("run: %s/test.json: schedule: %w", dir, err)
		}
	}
	for _, m := range f.Members {
		t.Members = append(t.Members, cluster.Member{Name: m.Name, ID: m.ID, Host: m.Host, ClientPort: m.ClientPort,
			PeerPort: m.PeerPort, ElectionPort: m.ElectionPort, Dir: m.Dir})
	}
	return t, nil
}
