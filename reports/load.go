package reports

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"coordlab/analysis"
	"coordlab/history"
	"coordlab/runfile"
)

// Spec is a run's spec, as test.json holds it.
type Spec = runfile.Spec

// Member is a member as test.json lists it.
type Member = runfile.Member

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

// Pair is one client operation: its invoke and its completion (nil while
// pending).
type Pair = runfile.Call

// Load reads a run directory: test.json, history.jsonl and results.json.
func Load(dir string) (*Run, error) {
	r := &Run{Dir: dir, Name: filepath.Base(filepath.Clean(dir))}
	tf, err := runfile.Read(dir)
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	r.Spec, r.Started, r.Members, r.Network, r.Versions = tf.Spec, tf.Started, tf.Members, tf.Network, tf.Versions
	if r.Ops, err = history.Read(filepath.Join(dir, "history.jsonl")); err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	if r.Results, err = analysis.ReadResults(filepath.Join(dir, "results.json")); err != nil {
		return nil, fmt.Errorf("reports: %w (run `coordlab check %s` first)", err, dir)
	}
	// A history that does not pair up is drawn as far as it pairs; its
	// results.json says why the verdict is unknown.
	r.Pairs, _, _ = runfile.Pair(r.Ops)
	logs, _ := filepath.Glob(filepath.Join(dir, "nodes", "*", "*.log"))
	for _, l := range logs {
		if rel, err := filepath.Rel(dir, l); err == nil {
			r.Logs = append(r.Logs, rel)
		}
	}
	sort.Strings(r.Logs)
	return r, nil
}

// FindRuns returns the run directories under root (root itself if it is
// one), newest first by start time.
func FindRuns(root string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(root, runfile.Name)); err == nil {
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
		tf, err := runfile.Read(d)
		if err != nil {
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
