package analysis_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"coordlab/analysis"
	"coordlab/workloads"
)

// The fixture histories in testdata are named <workload>-<what>.jsonl and
// judged here with the workloads table's judge of <workload>, as a run's
// would be.

var readFixture = analysis.ReadFixture

// judgeOf is the judge of the workload a fixture's name begins with.
func judgeOf(t *testing.T, fixture string) analysis.Judge {
	t.Helper()
	name, _, _ := strings.Cut(fixture, "-")
	w, ok := workloads.Lookup(name)
	if !ok {
		t.Fatalf("fixture %s: no workload %q in the table (want <workload>-<what>.jsonl)", fixture, name)
	}
	return w.Judge
}

func kinds(c analysis.CheckerResult) []string {
	var ks []string
	for _, a := range c.Anomalies {
		if !slices.Contains(ks, a.Kind) {
			ks = append(ks, a.Kind)
		}
	}
	sort.Strings(ks)
	return ks
}

func dump(r analysis.Results) string {
	b, _ := json.MarshalIndent(r.Checkers, "", "  ")
	return string(b)
}

func TestFixtures(t *testing.T) {
	tests := []struct {
		fixture string
		valid   analysis.Validity
		// checker -> its verdict and the anomaly kinds it must report
		checkers map[string]analysis.Validity
		kinds    map[string][]string
	}{
		{"register-valid", analysis.Valid, map[string]analysis.Validity{"linearizable": analysis.Valid, "session-order": analysis.Valid}, nil},
		{"register-stale-read", analysis.Invalid, map[string]analysis.Validity{"linearizable": analysis.Invalid, "session-order": analysis.Valid},
			map[string][]string{"linearizable": {"stale-read"}}},
		{"register-lost-write", analysis.Invalid, map[string]analysis.Validity{"linearizable": analysis.Invalid},
			map[string][]string{"linearizable": {"lost-write"}}},
		{"register-session-violation", analysis.Invalid, map[string]analysis.Validity{"linearizable": analysis.Invalid, "session-order": analysis.Invalid},
			map[string][]string{"session-order": {"read-your-writes"}}},
		{"lock-valid", analysis.Valid, map[string]analysis.Validity{"lock": analysis.Valid}, nil},
		{"lock-two-holders", analysis.Invalid, map[string]analysis.Validity{"lock": analysis.Invalid}, map[string][]string{"lock": {"two-holders"}}},
		{"lock-fenced", analysis.Valid, map[string]analysis.Validity{"lock": analysis.Valid}, nil},
		{"lock-zero-token", analysis.Valid, map[string]analysis.Validity{"lock": analysis.Valid}, nil},
		{"lock-fenced-early-write", analysis.Valid, map[string]analysis.Validity{"lock": analysis.Valid}, nil},
		{"lock-fence-broken", analysis.Invalid, map[string]analysis.Validity{"lock": analysis.Invalid}, map[string][]string{"lock": {"stale-write"}}},
		{"watch-valid", analysis.Valid, map[string]analysis.Validity{"watch": analysis.Valid}, nil},
		{"watch-gap", analysis.Invalid, map[string]analysis.Validity{"watch": analysis.Invalid}, map[string][]string{"watch": {"watch-gap"}}},
		{"watch-reordered", analysis.Invalid, map[string]analysis.Validity{"watch": analysis.Invalid}, map[string][]string{"watch": {"watch-reordered"}}},
		{"watch-duplicate", analysis.Invalid, map[string]analysis.Validity{"watch": analysis.Invalid}, map[string][]string{"watch": {"watch-duplicate"}}},
		{"watch-wrong-prev", analysis.Invalid, map[string]analysis.Validity{"watch": analysis.Invalid}, map[string][]string{"watch": {"watch-wrong-prev"}}},
		{"watch-progress-ahead", analysis.Invalid, map[string]analysis.Validity{"watch": analysis.Invalid}, map[string][]string{"watch": {"watch-progress-ahead"}}},
		{"watch-incomplete", analysis.Invalid, map[string]analysis.Validity{"watch": analysis.Invalid}, map[string][]string{"watch": {"watch-incomplete"}}},
		{"watch-compacted-start", analysis.Valid, map[string]analysis.Validity{"watch": analysis.Valid}, nil},
		{"election-valid", analysis.Valid, map[string]analysis.Validity{"election": analysis.Valid}, nil},
		{"election-two-leaders", analysis.Invalid, map[string]analysis.Validity{"election": analysis.Invalid}, map[string][]string{"election": {"two-leaders"}}},
		{"config-valid", analysis.Valid, map[string]analysis.Validity{"config": analysis.Valid}, nil},
		{"config-backwards", analysis.Invalid, map[string]analysis.Validity{"config": analysis.Invalid}, map[string][]string{"config": {"config-backwards"}}},
		{"config-stale", analysis.Invalid, map[string]analysis.Validity{"config": analysis.Invalid}, map[string][]string{"config": {"config-stale"}}},
		{"config-not-converged", analysis.Invalid, map[string]analysis.Validity{"config": analysis.Invalid}, map[string][]string{"config": {"config-not-converged"}}},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			ops := readFixture(t, tc.fixture)
			dir := t.TempDir()
			res := analysis.Check(ops, judgeOf(t, tc.fixture), analysis.Options{TimeLimit: 20 * time.Second, OutDir: dir})
			if res.Error != "" {
				t.Fatalf("analysis error: %s", res.Error)
			}
			if wantW := strings.SplitN(tc.fixture, "-", 2)[0]; res.Workload != wantW {
				t.Errorf("results name workload %q, want %q", res.Workload, wantW)
			}
			if res.Valid != tc.valid {
				t.Errorf("valid = %v, want %v; results:\n%s", res.Valid, tc.valid, dump(res))
			}
			for name, want := range tc.checkers {
				c, ok := res.Checkers[name]
				if !ok {
					t.Errorf("checker %q missing", name)
					continue
				}
				if c.Valid != want {
					t.Errorf("%s: valid = %v, want %v; anomalies %+v note %q", name, c.Valid, want, c.Anomalies, c.Note)
				}
				if want == analysis.Invalid {
					for _, a := range c.Anomalies {
						if len(a.Ops) == 0 || a.Explanation == "" {
							t.Errorf("%s: anomaly %+v lacks ops or explanation", name, a)
						}
						for _, i := range a.Ops {
							if i < 0 || i >= int64(len(ops)) {
								t.Errorf("%s: anomaly op index %d out of range", name, i)
							}
						}
					}
				}
			}
			for name, want := range tc.kinds {
				got := kinds(res.Checkers[name])
				for _, k := range want {
					if !slices.Contains(got, k) {
						t.Errorf("%s: anomaly kinds %v, want %q among them", name, got, k)
					}
				}
			}
		})
	}
}

// Every workload of the table has fixture histories: <name>-valid.jsonl,
// which its judge finds valid (and <name>-<kind>.jsonl for the anomalies,
// checked by TestEveryAnomalyKindIsReportable).
func TestEveryWorkloadHasFixtures(t *testing.T) {
	for _, w := range workloads.Table {
		if len(w.Judge.Checkers) == 0 {
			t.Errorf("workload %s: no checkers judge it", w.Name)
		}
		name := w.Name + "-valid"
		if _, err := os.Stat(filepath.Join("testdata", name+".jsonl")); err != nil {
			t.Errorf("workload %s: no testdata/%s.jsonl: %v", w.Name, name, err)
			continue
		}
		res := analysis.Check(readFixture(t, name), judgeOf(t, name), analysis.Options{TimeLimit: 20 * time.Second, OutDir: t.TempDir()})
		if res.Valid != analysis.Valid {
			t.Errorf("%s: %v (error %q), want valid; checkers:\n%s", name, res.Valid, res.Error, dump(res))
		}
	}
}

// TestEveryAnomalyKindIsReportable checks each fixture history in testdata
// and fails for every kind in analysis.AnomalyKinds that no fixture produces: a kind
// nothing can produce is a checker bug or a kind to remove. A fixture named
// <workload>-<kind>.jsonl must produce <kind>.
func TestEveryAnomalyKindIsReportable(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	producedBy := map[string][]string{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".jsonl")
		_, rest, _ := strings.Cut(name, "-")
		res := analysis.Check(readFixture(t, name), judgeOf(t, name), analysis.Options{TimeLimit: 20 * time.Second, OutDir: t.TempDir()})
		if res.Error != "" {
			t.Errorf("%s: analysis error: %s", name, res.Error)
			continue
		}
		got := map[string]bool{}
		for _, c := range res.Checkers {
			for _, a := range c.Anomalies {
				got[a.Kind] = true
				producedBy[a.Kind] = append(producedBy[a.Kind], name)
			}
		}
		want := name // watch-gap, lock-nonlinearizable
		if _, isKind := analysis.AnomalyKinds[want]; !isKind {
			want = rest // register-nonlinearizable, lock-token-order
		}
		if _, isKind := analysis.AnomalyKinds[want]; isKind && !got[want] {
			t.Errorf("%s: produced %v, want %q among them", name, sortedKeys(got), want)
		}
	}
	var missing []string
	for k := range analysis.AnomalyKinds {
		if len(producedBy[k]) == 0 {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d of %d anomaly kinds are produced by no fixture in testdata: %s", len(missing), len(analysis.AnomalyKinds), strings.Join(missing, ", "))
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
