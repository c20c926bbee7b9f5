package perf

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Op is what a measured point does.
type Op string

// The operations measured, in page order.
const (
	// Write: a put of a ValueSize-byte value (etcd Put; ZooKeeper setData,
	// create the first time) to a key drawn from Keys.
	Write Op = "write"
	// ReadLinearizable: etcd's default Range (read index); ZooKeeper's
	// sync followed by getData.
	ReadLinearizable Op = "read-linearizable"
	// ReadLocal: etcd's serializable Range; ZooKeeper's plain getData, both
	// served by the member the client talks to.
	ReadLocal Op = "read-local"
)

// Ops lists every Op in page order.
var Ops = []Op{Write, ReadLinearizable, ReadLocal}

// About says in a line what an Op is on each API.
func (o Op) About() string {
	switch o {
	case Write:
		return "put (etcd) / setData (ZooKeeper)"
	case ReadLinearizable:
		return "linearizable Range (etcd) / sync + getData (ZooKeeper)"
	case ReadLocal:
		return "serializable Range (etcd) / getData (ZooKeeper)"
	}
	return string(o)
}

// FileName is the results file under Config.Dir.
const FileName = "perf.json"

// Results is perf.json: what was measured, with the settings that
// measured it.
type Results struct {
	Settings Settings  `json:"settings"`
	Started  time.Time `json:"started"`
	// Elapsed is the wall time of the whole measurement, start to stop.
	Elapsed string `json:"elapsed"`
	// Runtime and Network that ran every target (the same for all).
	Runtime string `json:"runtime"`
	Network string `json:"network,omitempty"`
	// Order is the sequence of visits: each target measured once per
	// pass, the passes in alternating order (A B C D, D C B A, ...).
	Order   []Visit        `json:"order"`
	Targets []TargetResult `json:"targets"`
}

// Settings are the Config fields that shape the figures.
type Settings struct {
	Targets         []string `json:"targets"`
	Nodes           int      `json:"nodes"`
	Warmup          string   `json:"warmup"`
	Rewarm          string   `json:"rewarm"`
	Point           string   `json:"point"`
	Clients         []int    `json:"clients"`
	Passes          int      `json:"passes"`
	ValueSize       int      `json:"value_size"`
	Keys            int      `json:"keys"`
	OpTimeout       string   `json:"op_timeout"`
	FailoverRounds  int      `json:"failover_rounds"`
	FailoverClients int      `json:"failover_clients"`
}

// Visit is one target's turn in a pass.
type Visit struct {
	Pass   int     `json:"pass"`
	Target string  `json:"target"`
	StartS float64 `json:"start_s"` // seconds since Started
	Warmup string  `json:"warmup"`  // the load it had just before
}

// TargetResult is every figure of one target.
type TargetResult struct {
	Target   string            `json:"target"`
	Versions map[string]string `json:"versions,omitempty"`
	// Leader is the member that led when the cluster started; the
	// one-client points talk to a follower (see Config).
	Leader string `json:"leader,omitempty"`
	// Error says why the target has no (or not every) figure.
	Error    string         `json:"error,omitempty"`
	Points   []Point        `json:"points"`
	Dists    []Distribution `json:"distributions"`
	Failover []Failover     `json:"failover"`
}

// Point is one measured point: Clients clients doing Op as fast as each
// gets answers, for Config.Point, in one pass.
type Point struct {
	Op      Op      `json:"op"`
	Clients int     `json:"clients"`
	Pass    int     `json:"pass"`
	OK      int     `json:"ok"`
	Errors  int     `json:"errors"`
	Seconds float64 `json:"seconds"`
	// Throughput is OK per second.
	Throughput float64   `json:"throughput"`
	Latency    Quantiles `json:"latency_ms"`
	// FirstError is one error message, for the report, when Errors > 0.
	FirstError string `json:"first_error,omitempty"`
}

// Quantiles of the latency of ok operations, in milliseconds.
type Quantiles struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

// DistQuantiles are the quantiles a Distribution holds (1 = the maximum).
var DistQuantiles = []float64{0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 1}

// Distribution is the latency distribution of one (Op, Clients) over every
// pass: the latency (ms) at each of DistQuantiles.
type Distribution struct {
	Op      Op        `json:"op"`
	Clients int       `json:"clients"`
	Count   int       `json:"count"`
	Ms      []float64 `json:"ms"`
}

// Failover is one round: SIGKILL of the leader under write load.
type Failover struct {
	Round  int    `json:"round"`
	Killed string `json:"killed"`
	// NewLeader is the member that led after the round ("" unknown).
	NewLeader string `json:"new_leader,omitempty"`
	// FirstWriteMs is from the SIGKILL to the first ok write invoked after
	// it; -1 when none succeeded within the round's bound.
	FirstWriteMs float64 `json:"first_write_ms"`
	// MaxStallMs is the longest time any writer on a surviving member went
	// without an ok write, across the kill.
	MaxStallMs float64 `json:"max_stall_ms"`
	Writers    int     `json:"writers"`
	Error      string  `json:"error,omitempty"`
}

// quantiles computes Quantiles of latencies (ms), sorting them in place.
func quantiles(ms []float64) Quantiles {
	if len(ms) == 0 {
		return Quantiles{}
	}
	slices.Sort(ms)
	sum := 0.0
	for _, v := range ms {
		sum += v
	}
	return Quantiles{Count: len(ms), Mean: sum / float64(len(ms)), P50: at(ms, 0.5), P90: at(ms, 0.9),
		P99: at(ms, 0.99), P999: at(ms, 0.999), Max: ms[len(ms)-1]}
}

// at is the q-quantile of sorted (nearest rank).
func at(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Write writes r to dir/perf.json.
func (r Results) Write(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("perf: encode results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("perf: %w", err)
	}
	return nil
}

// Read reads dir/perf.json.
func Read(dir string) (Results, error) {
	var r Results
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		return r, fmt.Errorf("perf: %w", err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("perf: %s: %w", filepath.Join(dir, FileName), err)
	}
	return r, nil
}

// PointsOf returns the target's points of op with n clients, by pass.
func (t TargetResult) PointsOf(op Op, n int) []Point {
	var out []Point
	for _, p := range t.Points {
		if p.Op == op && p.Clients == n {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b Point) int { return a.Pass - b.Pass })
	return out
}

// Dist returns the target's distribution of op with n clients.
func (t TargetResult) Dist(op Op, n int) (Distribution, bool) {
	for _, d := range t.Dists {
		if d.Op == op && d.Clients == n {
			return d, true
		}
	}
	return Distribution{}, false
}
