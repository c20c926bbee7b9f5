package analysis

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Validity is a checker's verdict. When verdicts are combined the worst wins,
// with Unknown between Valid and Invalid.
type Validity int

const (
	// Valid: the checker looked at everything and found no anomaly.
	Valid Validity = 1 + iota
	// Unknown: the checker could not decide (budget exhausted, or nothing
	// to check that it could trust). Never a silent pass.
	Unknown
	// Invalid: at least one anomaly, with the ops that show it.
	Invalid
)

// String returns "valid", "unknown" or "invalid".
func (v Validity) String() string {
	switch v {
	case Valid:
		return "valid"
	case Unknown:
		return "unknown"
	case Invalid:
		return "invalid"
	}
	return fmt.Sprintf("Validity(%d)", int(v))
}

// Merge returns the worse of v and w (Invalid > Unknown > Valid); an unset
// Validity counts as nothing.
func (v Validity) Merge(w Validity) Validity {
	if v == 0 {
		return w
	}
	if w > v {
		return w
	}
	return v
}

// MarshalJSON writes true, false or "unknown".
func (v Validity) MarshalJSON() ([]byte, error) {
	switch v {
	case Valid:
		return []byte("true"), nil
	case Invalid:
		return []byte("false"), nil
	case Unknown:
		return []byte(`"unknown"`), nil
	}
	return nil, fmt.Errorf("analysis: cannot marshal validity %d: unset", int(v))
}

// UnmarshalJSON reads true, false or "unknown".
func (v *Validity) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true":
		*v = Valid
	case "false":
		*v = Invalid
	case `"unknown"`:
		*v = Unknown
	default:
		return fmt.Errorf("analysis: valid %s: want true, false or \"unknown\"", b)
	}
	return nil
}

// Results is results.json: the verdict, each checker's findings and the
// performance figures of one run. Its Go types are the schema reports reads.
type Results struct {
	Valid    Validity                 `json:"valid"`
	Workload string                   `json:"workload"`
	Checkers map[string]CheckerResult `json:"checkers"`
	// Staleness per read mode (key "linearizable", "local", ...; "" when
	// the reads carry no read mode).
	Staleness map[string]Staleness `json:"staleness,omitempty"`
	Perf      Perf                 `json:"perf"`
	Counts    Counts               `json:"counts"`
	// CheckTimeNs is how long the analysis took; PeakHeapBytes the largest
	// heap seen while it ran.
	CheckTimeNs   int64  `json:"check_time_ns"`
	PeakHeapBytes uint64 `json:"peak_heap_bytes"`
	// Budget is what the analysis was allowed.
	Budget Budget `json:"budget"`
	// Error says why the analysis could not run (a malformed history); the
	// verdict is then Unknown.
	Error string `json:"error,omitempty"`
}

// Budget is the time and memory the checkers were allowed.
type Budget struct {
	TimeLimitNs      int64  `json:"time_limit_ns"`
	KeyTimeLimitNs   int64  `json:"key_time_limit_ns"`
	MemoryLimitBytes uint64 `json:"memory_limit_bytes"`
	Exhausted        string `json:"exhausted,omitempty"` // "time" or "memory" when a checker gave up
}

// Counts are the op totals of the history (client ops, by completion type).
type Counts struct {
	Ops     int `json:"ops"` // client operations (invoke lines)
	OK      int `json:"ok"`
	Fail    int `json:"fail"`
	Info    int `json:"info"`
	Pending int `json:"pending"` // invoked, never completed
	Nemesis int `json:"nemesis"` // nemesis lines
}

// CheckerResult is what one checker found.
type CheckerResult struct {
	Valid     Validity  `json:"valid"`
	Anomalies []Anomaly `json:"anomalies"`
	// Note says why a verdict is Unknown, or what was checked.
	Note string `json:"note,omitempty"`
	// Checked counts what the checker examined (ops, keys, watchers...).
	Checked map[string]int `json:"checked,omitempty"`
	// Files are artefacts written next to results.json (porcupine
	// visualizations), relative to that directory.
	Files []string `json:"files,omitempty"`
}

// Anomaly is one violation and the ops that show it.
type Anomaly struct {
	Kind        string  `json:"kind"` // e.g. "nonlinearizable", "stale-read", "two-holders", "watch-gap"
	Explanation string  `json:"explanation"`
	Ops         []int64 `json:"ops"`           // history indexes (invoke and completion lines) that show it
	Key         string  `json:"key,omitempty"` // key, lock, election or prefix concerned
	Process     *int    `json:"process,omitempty"`
	// Minimal is a smallest failing sub-history found by shrinking (op
	// indexes), for linearizability anomalies.
	Minimal []int64 `json:"minimal,omitempty"`
	// Visualization is the porcupine HTML file for this key, relative to
	// the directory of results.json.
	Visualization string `json:"visualization,omitempty"`
}

// Staleness describes how far behind reads were: a read is stale by the
// number of acknowledged writes to its key, completed before the read
// started, that the read does not reflect, and by the time since the first of
// them was acknowledged.
type Staleness struct {
	Reads          int       `json:"reads"`
	Stale          int       `json:"stale"`
	StaleFraction  float64   `json:"stale_fraction"`
	VersionsBehind Quantiles `json:"versions_behind"` // over stale reads; unit: versions (writes)
	MsBehind       Quantiles `json:"ms_behind"`       // over stale reads; unit: ms
}

// Quantiles of a distribution. For latency the unit is ms.
type Quantiles struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

// Perf holds the performance figures.
type Perf struct {
	// Latency per f of OK ops, in ms ("all" for every f together).
	Latency map[string]Quantiles `json:"latency"`
	// Throughput per second of run time (completions by second of their
	// completion time).
	Throughput []Second `json:"throughput"`
	// Faults are the nemesis windows (start to stop), for shading plots.
	Faults []FaultWindow `json:"faults"`
	// Unavailability per fault.
	Unavailability []Unavailability `json:"unavailability"`
}

// Second is one second of throughput.
type Second struct {
	Second int `json:"second"` // seconds since run start
	OK     int `json:"ok"`
	Fail   int `json:"fail"`
	Info   int `json:"info"`
}

// FaultWindow is one fault from its start line to its stop line.
type FaultWindow struct {
	Fault   string            `json:"fault"` // e.g. "partition", "kill" (the f without start-/stop-)
	StartF  string            `json:"start_f"`
	Node    string            `json:"node,omitempty"`
	StartNs int64             `json:"start_ns"`
	EndNs   int64             `json:"end_ns"` // -1 if never stopped
	Ops     []int64           `json:"ops"`    // the start and stop lines
	Extra   map[string]string `json:"extra,omitempty"`
}

// Unavailability is the time from a fault's start to the first successful
// write and the first successful read invoked after it (-1: none in the run).
type Unavailability struct {
	Fault        string  `json:"fault"`
	StartNs      int64   `json:"start_ns"`
	FirstWriteNs int64   `json:"first_write_ns"`
	FirstReadNs  int64   `json:"first_read_ns"`
	WriteMs      float64 `json:"write_ms"` // FirstWriteNs-StartNs in ms, -1 if none
	ReadMs       float64 `json:"read_ms"`
}

// WriteFile writes r as indented JSON to path (results.json).
func (r Results) WriteFile(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("analysis: encode results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("analysis: write %s: %w", path, err)
	}
	return nil
}

// ReadResults reads a results.json.
func ReadResults(path string) (Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Results{}, fmt.Errorf("analysis: read %s: %w", path, err)
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return Results{}, fmt.Errorf("analysis: decode %s: %w", path, err)
	}
	return r, nil
}

// Options configure Check.
type Options struct {
	// TimeLimit bounds the whole analysis; 0 means a run's default check
	// time limit (runfile.Default().CheckLimit). When
	// it runs out, unfinished checkers answer Unknown.
	TimeLimit time.Duration
	// KeyTimeLimit bounds porcupine on one key (or lock); 0 means
	// TimeLimit/4.
	KeyTimeLimit time.Duration
	// MemoryLimit bounds the Go heap while checking, in bytes; 0 means
	// DefaultMemoryLimit. Checkers stop and answer Unknown past it.
	MemoryLimit uint64
	// OutDir, when set, receives porcupine visualizations of failing keys
	// (linearizability-<key>.html); file names in Results are relative to it.
	OutDir string
	// ReadMode is the read mode of reads (read, observe, subscribe) whose
	// invoke records none (Op.ReadMode); "" means linearizable.
	ReadMode string
	// OneShotWatches says the system's watches are one-shot triggers that
	// the client re-arms after each event (ZooKeeper's getData/getChildren
	// watches). Such a watcher is promised order and the latest state, not
	// every change: changes made between an event and the re-arm are never
	// delivered. With it, the watch checker counts those missed changes
	// (Checked["missed_changes"]) instead of reporting each as a watch-gap,
	// and still reports every other watch anomaly.
	OneShotWatches bool
	// ShrinkBudget bounds the shrinking of each failing key's history; 0
	// means a tenth of the time left, at most 10 s.
	ShrinkBudget time.Duration
}

// DefaultMemoryLimit is Options.MemoryLimit's default.
const DefaultMemoryLimit = 4 << 30
