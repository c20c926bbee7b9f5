// Package suite reads a benchmark suite, a JSON file in suites/ that a
// person reads and edits, and expands it into the run specs `coordlab bench`
// runs: every target of a group on the same workloads under the same seeded
// fault schedule, so their runs can be compared side by side.
//
// Caveats:
//   - Runs are ordered so that the targets of one (workload, nemesis) pair
//     run back to back, alternating which goes first (A B, then B A), so a
//     machine that drifts during the suite affects every target alike.
//   - Unknown fields in the file are errors, so a typo cannot silently drop
//     a setting.
package suite

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"coordlab/cluster"
	"coordlab/run"
	"coordlab/runfile"
)

// Suite is a suite file.
type Suite struct {
	Name  string `json:"name"`
	About string `json:"about,omitempty"`
	// Defaults apply to every run; a field the file does not set keeps
	// runfile.Default's value, the same as `coordlab run` without its flag.
	Defaults run.Spec `json:"defaults"`
	// Seeds, when set, repeats every run once per seed (each seed is its
	// own fault schedule); otherwise the runs use Defaults' seed.
	Seeds  []int64 `json:"seeds,omitempty"`
	Groups []Group `json:"groups"`
	// Perf, when set, is the performance section `coordlab bench` measures
	// before the correctness runs.
	Perf *Perf `json:"perf,omitempty"`
}

// Perf is the performance section of a suite (package perf): unthrottled
// writes and reads at several client counts, and failover under load.
// Unset fields take perf.Config's defaults.
type Perf struct {
	About   string   `json:"about,omitempty"`
	Targets []string `json:"targets"`
	Runtime string   `json:"runtime"`
	// Warmup is the load before each target's first measured point
	// (ZooKeeper's JIT needs about 30 s); Rewarm before its later passes.
	Warmup run.Duration `json:"warmup"`
	Rewarm run.Duration `json:"rewarm"`
	// Point is how long each (operation, clients) point is measured.
	Point           run.Duration `json:"point"`
	Clients         []int        `json:"clients"`
	Passes          int          `json:"passes"`
	ValueSize       int          `json:"value_size,omitempty"`
	Keys            int          `json:"keys,omitempty"`
	FailoverRounds  int          `json:"failover_rounds"`
	FailoverClients int          `json:"failover_clients,omitempty"`
}

// Group is a set of targets that run the same workloads and nemeses.
type Group struct {
	About     string   `json:"about,omitempty"`
	Targets   []string `json:"targets"`
	Runtime   string   `json:"runtime"`
	Workloads []string `json:"workloads"`
	Nemeses   []string `json:"nemeses"`
	// ReadModes, per target, override the default read mode.
	ReadModes map[string]string `json:"read_modes,omitempty"`
	// Optional groups are skipped (with a note) when a target's program is
	// not installed, instead of failing the suite.
	Optional bool `json:"optional,omitempty"`
}

// Run is one run of an expanded suite.
type Run struct {
	Group    int // index in Suite.Groups
	Optional bool
	Spec     run.Spec
}

// Load reads and validates a suite file.
func Load(path string) (Suite, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			have, _ := filepath.Glob(filepath.Join(Dir, "*.json"))
			for i, h := range have {
				have[i] = strings.TrimSuffix(filepath.Base(h), ".json")
			}
			return Suite{}, fmt.Errorf("suite: %s: no such file: give a suite file, or the name of one in %s/ (%s), from the repository's root", path, Dir, strings.Join(have, ", "))
		}
		return Suite{}, fmt.Errorf("suite: %w", err)
	}
	s := Suite{Defaults: runfile.Default()}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Suite{}, fmt.Errorf("suite: %s: %w", path, err)
	}
	if err := s.Validate(); err != nil {
		return Suite{}, fmt.Errorf("suite: %s: %w", path, err)
	}
	return s, nil
}

// Validate checks every group and the spec of every run it expands to.
func (s Suite) Validate() error {
	var errs []error
	if len(s.Groups) == 0 {
		errs = append(errs, errors.New("groups: want at least one group"))
	}
	if p := s.Perf; p != nil {
		if len(p.Targets) == 0 {
			errs = append(errs, errors.New("perf: targets: want at least one"))
		}
		for _, t := range p.Targets {
			if _, err := cluster.NewTarget(t, cluster.TargetOptions{}); err != nil {
				errs = append(errs, fmt.Errorf("perf: targets: %w", err))
			}
		}
		if _, ok := run.Runtimes[p.Runtime]; !ok {
			errs = append(errs, fmt.Errorf("perf: runtime %q: want local or docker", p.Runtime))
		}
		if p.Warmup < 0 || p.Rewarm < 0 || p.Point < 0 || p.Passes < 0 || p.FailoverRounds < 0 {
			errs = append(errs, errors.New("perf: warmup, rewarm, point, passes, failover_rounds: want >= 0"))
		}
		for _, n := range p.Clients {
			if n < 1 {
				errs = append(errs, fmt.Errorf("perf: clients %v: want counts >= 1", p.Clients))
				break
			}
		}
	}
	for i, g := range s.Groups {
		if len(g.Targets) == 0 || len(g.Workloads) == 0 || len(g.Nemeses) == 0 {
			errs = append(errs, fmt.Errorf("groups[%d]: want targets, workloads and nemeses (each at least one)", i))
		}
	}
	for _, r := range s.Expand() {
		if err := run.Validate(r.Spec.WithDefaults()); err != nil {
			errs = append(errs, fmt.Errorf("groups[%d] %s/%s/%s: %w", r.Group, r.Spec.Target, r.Spec.Workload, r.Spec.Nemesis, err))
		}
	}
	return errors.Join(errs...)
}

// Expand returns the runs of the suite in the order they run.
func (s Suite) Expand() []Run {
	var out []Run
	flip := false
	seeds := s.Seeds
	if len(seeds) == 0 {
		seeds = []int64{s.Defaults.Seed}
	}
	for _, seed := range seeds {
		for gi, g := range s.Groups {
			for _, w := range g.Workloads {
				for _, n := range g.Nemeses {
					targets := g.Targets
					if flip {
						targets = reversed(targets)
					}
					flip = !flip
					for _, t := range targets {
						sp := s.Defaults
						sp.Target, sp.Runtime, sp.Workload, sp.Nemesis, sp.Seed = t, g.Runtime, w, n, seed
						if m := g.ReadModes[t]; m != "" {
							sp.ReadMode = m
						}
						out = append(out, Run{Group: gi, Optional: g.Optional, Spec: sp})
					}
				}
			}
		}
	}
	return out
}

func reversed(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[len(xs)-1-i] = x
	}
	return out
}

// Dir is where suites named without a path live.
const Dir = "suites"

// Resolve turns a suite name ("full") into its file in Dir
// ("suites/full.json"); a path (with a separator or ending in .json) is
// returned as given.
// A name is looked up in ./suites, then in the suites folder beside the
// folder of the running executable (bin/coordlab finds the repository's
// suites from anywhere).
func Resolve(nameOrPath string) string {
	if strings.ContainsRune(nameOrPath, filepath.Separator) || strings.HasSuffix(nameOrPath, ".json") {
		return nameOrPath
	}
	local := filepath.Join(Dir, nameOrPath+".json")
	if _, err := os.Stat(local); err == nil {
		return local
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(filepath.Dir(exe)), Dir, nameOrPath+".json")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return local
}
