package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"coordlab/analysis"
	"coordlab/history"
)

// Spec is the part of a run's test.json that reports show. It is decoded
// here rather than imported from package run so that reports depend only on
// the files a run leaves behind.
type Spec struct {
	Target      string  `json:"target"`
	Runtime     string  `json:"runtime"`
	Network     string  `json:"network"`
	Nodes       int     `json:"nodes"`
	Workload    string  `json:"workload"`
	Nemesis     string  `json:"nemesis"`
	TimeLimit   string  `json:"time_limit"`
	Concurrency int     `json:"concurrency"`
	Rate        float64 `json:"rate"`
	ReadMode    string  `json:"read_mode"`
	Seed        int64   `json:"seed"`
	Unfenced    bool    `json:"unfenced"`
}

// Member is a member as test.json lists it.
type Member struct {
	Name string `json:"name"`
	Host string `json:"host"`
	Dir  string `json:"dir"`
}

type testFile struct {
	Spec     Spec              `json:"spec"`
	Started  time.Time         `json:"started"`
	Members  []Member          `json:"members"`
	Network  string            `json:"network_mode"`
	Versions map[string]string `json:"versions"`
}

// Run is one run directory, loaded.
type Run struct {
	Dir     string
	Name    string // base name of Dir
	Spec    Spec
	Started time.Time
	Members []Member
	Network string
	// Versions says what ran (package versions, binary hashes).
	Versions map[string]string
	Ops      []history.Op
	Results  analysis.Results
	// Pairs are the client operations: each invoke with its completion
	// (nil while pending), in invoke order.
	Pairs []Pair
	// Logs are member log files, relative to Dir.
	Logs []string
}

// Pair is one client operation.
type Pair struct {
	Invoke history.Op
	Done   *history.Op
}

// LatencyMs is the completion time minus the invoke time, in ms; -1 when
// the op never completed.
func (p Pair) LatencyMs() float64 {
	if p.Done == nil {
		return -1
	}
	return float64(p.Done.Time-p.Invoke.Time) / 1e6
}

// Type is the completion type (ok, fail, info), or "pending".
func (p Pair) Type() string {
	if p.Done == nil {
		return "pending"
	}
	return p.Done.Type.String()
}

// Load reads a run directory: test.json, history.jsonl and results.json.
func Load(dir string) (*Run, error) {
	r := &Run{Dir: dir, Name: filepath.Base(filepath.Clean(dir))}
	b, err := os.ReadFile(filepath.Join(dir, "test.json"))
	if err != nil {
		return nil, fmt.Errorf("reports: %s is not a run directory (no test.json): %w", dir, err)
	}
	var tf testFile
	if err := json.Unmarshal(b, &tf); err != nil {
		return nil, fmt.Errorf("reports: %s/test.json: %w", dir, err)
	}
	r.Spec, r.Started, r.Members, r.Network, r.Versions = tf.Spec, tf.Started, tf.Members, tf.Network, tf.Versions
	if r.Ops, err = history.Read(filepath.Join(dir, "history.jsonl")); err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	if r.Results, err = analysis.ReadResults(filepath.Join(dir, "results.json")); err != nil {
		return nil, fmt.Errorf("reports: %w (run `coordlab check %s` first)", err, dir)
	}
	r.Pairs = pairs(r.Ops)
	logs, _ := filepath.Glob(filepath.Join(dir, "nodes", "*", "*.log"))
	for _, l := range logs {
		if rel, err := filepath.Rel(dir, l); err == nil {
			r.Logs = append(r.Logs, rel)
		}
	}
	sort.Strings(r.Logs)
	return r, nil
}

// pairs matches each client invoke with the next completion of its process.
func pairs(ops []history.Op) []Pair {
	var out []Pair
	open := map[int]int{} // process -> index in out
	for _, op := range ops {
		if op.IsNemesis() {
			continue
		}
		if op.Type == history.Invoke {
			open[op.Process] = len(out)
			out = append(out, Pair{Invoke: op})
			continue
		}
		if i, ok := open[op.Process]; ok {
			done := op
			out[i].Done = &done
			delete(open, op.Process)
		}
	}
	return out
}

// FindRuns returns the run directories under root (root itself if it is
// one), newest first by start time.
func FindRuns(root string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(root, "test.json")); err == nil {
		return []string{root}, nil
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	type found struct {
		dir     string
		started time.Time
	}
	var runs []found
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		d := filepath.Join(root, e.Name())
		b, err := os.ReadFile(filepath.Join(d, "test.json"))
		if err != nil {
			continue
		}
		var tf testFile
		if json.Unmarshal(b, &tf) != nil {
			continue
		}
		runs = append(runs, found{d, tf.Started})
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNoRuns, root)
	}
	sort.SliceStable(runs, func(i, j int) bool {
		if !runs[i].started.Equal(runs[j].started) {
			return runs[i].started.After(runs[j].started)
		}
		return runs[i].dir > runs[j].dir
	})
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.dir
	}
	return out, nil
}
