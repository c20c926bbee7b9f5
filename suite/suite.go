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
	Groups   []Group  `json:"groups"`
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
					sp.Target, sp.Runtime, sp.Workload, sp.Nemesis = t, g.Runtime, w, n
					if m := g.ReadModes[t]; m != "" {
						sp.ReadMode = m
					}
					out = append(out, Run{Group: gi, Optional: g.Optional, Spec: sp})
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
