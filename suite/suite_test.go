package suite

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultSuite(t *testing.T) {
	s, err := Load(filepath.Join("..", "suites", "default.json"))
	if err != nil {
		t.Fatal(err)
	}
	runs := s.Expand()
	// 2 groups x 2 targets x 3 workloads x 2 nemeses.
	if len(runs) != 24 {
		t.Fatalf("runs: got %d, want 24", len(runs))
	}
	// Targets of one pair run back to back, alternating which goes first.
	if runs[0].Spec.Target != "raftkv" || runs[1].Spec.Target != "zab" || runs[2].Spec.Target != "zab" || runs[3].Spec.Target != "raftkv" {
		t.Errorf("order: %s %s %s %s, want raftkv zab zab raftkv", runs[0].Spec.Target, runs[1].Spec.Target, runs[2].Spec.Target, runs[3].Spec.Target)
	}
	for i := 0; i < len(runs); i += 2 {
		a, b := runs[i].Spec, runs[i+1].Spec
		if a.Workload != b.Workload || a.Nemesis != b.Nemesis || a.Seed != b.Seed {
			t.Errorf("runs %d and %d differ in workload/nemesis/seed: %+v vs %+v", i, i+1, a, b)
		}
	}
	if !runs[12].Optional {
		t.Errorf("reference group is not optional: %+v", runs[12])
	}
	// Like with like: the references run in the same runtime as our engines.
	for i, r := range runs {
		if r.Spec.Runtime != runs[0].Spec.Runtime {
			t.Errorf("run %d (%s) in runtime %s, run 0 in %s: every target must share the runtime", i, r.Spec.Target, r.Spec.Runtime, runs[0].Spec.Runtime)
		}
	}
}

func TestBadSuites(t *testing.T) {
	cases := map[string]string{
		`{"name":"x","groups":[{"targets":["raftkv"],"runtime":"docker","workloads":["register"],"nemeses":["partition"],"typo":1}]}`: "unknown field",
		`{"name":"x","groups":[]}`: "at least one group",
		`{"name":"x","groups":[{"targets":["nope"],"runtime":"local","workloads":["register"],"nemeses":["none"]}]}`:     "--target",
		`{"name":"x","groups":[{"targets":["etcd"],"runtime":"local","workloads":["register"],"nemeses":["sideways"]}]}`: "--nemesis",
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
