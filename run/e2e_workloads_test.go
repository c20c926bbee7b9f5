package run

import (
	"testing"
	"time"

	"coordlab/analysis"
)

// targets are the four systems every workload runs against.
var targets = []string{"raftkv", "zab", "etcd", "zookeeper"}

// needAny is needOurs for our engines, needTarget for the others.
func needAny(t *testing.T, target string) {
	t.Helper()
	if target == "raftkv" || target == "zab" {
		needOurs(t)
		return
	}
	needTarget(t, target)
}

// strongMode is the read mode that promises fresh reads on target's API.
func strongMode(target string) string {
	if target == "zab" || target == "zookeeper" {
		return "sync"
	}
	return "linearizable"
}

// weakMode is the read mode that serves from the member's own state.
func weakMode(target string) string {
	if target == "zab" || target == "zookeeper" {
		return "local"
	}
	return "serializable"
}

// observeSpec runs workload with the read mode mode while one follower at
// a time is cut off from the others (3 s cuts, 1 s apart), so that clients
// of the cut-off member read while the majority moves on. A case that
// must find an anomaly and its control differ only in the read mode: the
// same seed, so the same schedule.
func observeSpec(target, workload, mode string) Spec {
	return Spec{Target: target, Workload: workload, Nemesis: "partition-isolate-follower", ReadMode: mode, Seed: 5,
		TimeLimit: Duration(12 * time.Second), Interval: Duration(time.Second), FaultFor: Duration(3 * time.Second),
		Rate: 300, Concurrency: 12, SessionTTL: Duration(2 * time.Second), Hold: Duration(300 * time.Millisecond)}
}

// TestWorkloadsEveryTarget: the election, config and watch workloads
// against each of the four targets, with the read mode that promises fresh
// reads, under the partitions that make the weak mode stale: each checker
// judges the history valid. These are also the controls of
// TestStaleObservations.
func TestWorkloadsEveryTarget(t *testing.T) {
	for _, target := range targets {
		for _, workload := range []string{"election", "config", "watch"} {
			t.Run(target+"/"+workload, func(t *testing.T) {
				needAny(t, target)
				t.Parallel()
				r := e2e(t, observeSpec(target, workload, strongMode(target)))
				c, ok := r.Checkers[workload]
				if !ok {
					t.Fatalf("no %s checker in the results: %+v", workload, r.Checkers)
				}
				if r.Valid != analysis.Valid || c.Valid != analysis.Valid {
					t.Fatalf("verdict %s, %s checker %s (%q, %+v); want valid", r.Valid, workload, c.Valid, c.Note, c.Anomalies)
				}
				if len(c.Checked) == 0 {
					t.Fatalf("%s checker checked nothing: %+v", workload, c)
				}
			})
		}
	}
}

// TestStaleObservations: the anomaly each observation checker exists for,
// shown on the real systems with the weak read mode and the schedule of
// the valid controls above: etcd's serializable observe of an election
// returns a deposed leader, and ZooKeeper's unsynced getData of a
// configuration returns an old version.
func TestStaleObservations(t *testing.T) {
	cases := []struct{ target, workload, kind string }{
		{"etcd", "election", "stale-leader"},
		{"zookeeper", "config", "config-stale"},
	}
	for _, c := range cases {
		t.Run(c.target+"/"+c.workload, func(t *testing.T) {
			needTarget(t, c.target)
			t.Parallel()
			r := eventually(t, observeSpec(c.target, c.workload, weakMode(c.target)), func(r analysis.Results) bool {
				return hasKind(r.Checkers[c.workload], c.kind)
			})
			if ch := r.Checkers[c.workload]; ch.Valid != analysis.Invalid || !hasKind(ch, c.kind) {
				t.Fatalf("%s checker %s with kinds of %+v; want invalid with %s", c.workload, ch.Valid, ch.Anomalies, c.kind)
			}
		})
	}
}
