package suite

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultSuite(t *testing.T) {
	s, err := Load(filepath.Join("..", "suites", "default.json"))
	if err != nil {
		t.Fatal(err)
	}
	runs := s.Expand()
	// 2 groups x 2 targets x 3 workloads x 1 nemesis (partition and kill in
	// one schedule).
	if len(runs) != 12 {
		t.Fatalf("runs: got %d, want 12", len(runs))
	}
	checkOrder(t, runs)
	if !runs[6].Optional {
		t.Errorf("reference group is not optional: %+v", runs[6])
	}
	if s.Perf == nil || len(s.Perf.Targets) != 4 || s.Perf.Passes < 2 || s.Perf.FailoverRounds < 3 {
		t.Errorf("perf section %+v: want all four targets, at least 2 passes (A B B A) and 3 failover rounds", s.Perf)
	}
}

// TestFullSuite: every seed repeats every run; every nemesis; the full
// warm-up.
func TestFullSuite(t *testing.T) {
	s, err := Load(Resolve(filepath.Join("..", "suites", "full.json")))
	if err != nil {
		t.Fatal(err)
	}
	runs := s.Expand()
	if want := 3 * 2 * 2 * 3 * 6; len(runs) != want {
		t.Fatalf("runs: got %d, want %d", len(runs), want)
	}
	checkOrder(t, runs)
	seeds := map[int64]int{}
	nemeses := map[string]bool{}
	for _, r := range runs {
		seeds[r.Spec.Seed]++
		nemeses[r.Spec.Nemesis] = true
	}
	if len(seeds) != 3 || seeds[1] != len(runs)/3 {
		t.Errorf("seeds %v: want 1, 2, 3, each for a third of the runs", seeds)
	}
	for _, n := range []string{"partition", "kill", "pause", "loss", "latency", "clock"} {
		if !nemeses[n] {
			t.Errorf("no run under %s", n)
		}
	}
	if s.Perf == nil || time.Duration(s.Perf.Warmup) < 30*time.Second {
		t.Errorf("perf section %+v: want 30 s of warm-up", s.Perf)
	}
}

// checkOrder: targets of one pair run back to back, alternating which
// goes first; a pair shares workload, nemesis and seed; every run shares
// the runtime.
func checkOrder(t *testing.T, runs []Run) {
	t.Helper()
	if runs[0].Spec.Target != "raftkv" || runs[1].Spec.Target != "zab" || runs[2].Spec.Target != "zab" || runs[3].Spec.Target != "raftkv" {
		t.Errorf("order: %s %s %s %s, want raftkv zab zab raftkv", runs[0].Spec.Target, runs[1].Spec.Target, runs[2].Spec.Target, runs[3].Spec.Target)
	}
	for i := 0; i < len(runs); i += 2 {
		a, b := runs[i].Spec, runs[i+1].Spec
		if a.Workload != b.Workload || a.Nemesis != b.Nemesis || a.Seed != b.Seed {
			t.Errorf("runs %d and %d differ in workload/nemesis/seed: %+v vs %+v", i, i+1, a, b)
		}
	}
	for i, r := range runs {
		if r.Spec.Runtime != runs[0].Spec.Runtime {
			t.Errorf("run %d (%s) in runtime %s, run 0 in %s: every target must share the runtime", i, r.Spec.Target, r.Spec.Runtime, runs[0].Spec.Runtime)
		}
	}
}

func TestResolve(t *testing.T) {
	if got := Resolve("x/y.json"); got != "x/y.json" {
		t.Errorf("Resolve(x/y.json) = %s, want it as given", got)
	}
	t.Chdir("..")
	if got := Resolve("full"); got != filepath.Join("suites", "full.json") {
		t.Errorf("Resolve(full) = %s, want suites/full.json", got)
	}
	if _, err := Load(Resolve("nosuch")); err == nil || !strings.Contains(err.Error(), "default, full") {
		t.Errorf("Load(nosuch) = %v, want an error naming default and full", err)
	}
}

func TestBadSuites(t *testing.T) {
	cases := map[string]string{
		`{"name":"x","groups":[{"targets":["raftkv"],"runtime":"docker","workloads":["register"],"nemeses":["partition"],"typo":1}]}`: "unknown field",
		`{"name":"x","groups":[]}`: "at least one group",
		`{"name":"x","groups":[{"targets":["nope"],"runtime":"local","workloads":["register"],"nemeses":["none"]}]}`:                                                             "--target",
		`{"name":"x","groups":[{"targets":["etcd"],"runtime":"local","workloads":["register"],"nemeses":["sideways"]}]}`:                                                         "--nemesis",
		`{"name":"x","groups":[{"targets":["etcd"],"runtime":"local","workloads":["register"],"nemeses":["none"]}],"perf":{"targets":["consul"],"runtime":"local"}}`:             "perf: targets",
		`{"name":"x","groups":[{"targets":["etcd"],"runtime":"local","workloads":["register"],"nemeses":["none"]}],"perf":{"targets":["etcd"],"runtime":"vm"}}`:                  "perf: runtime",
		`{"name":"x","groups":[{"targets":["etcd"],"runtime":"local","workloads":["register"],"nemeses":["none"]}],"perf":{"targets":["etcd"],"runtime":"local","clients":[0]}}`: "clients",
	}
	for body, want := range cases {
		p := filepath.Join(t.TempDir(), "s.json")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%s) = %v, want an error containing %q", body, err, want)
		}
	}
}
