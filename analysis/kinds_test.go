package analysis

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestEveryAnomalyKindIsReportable checks each fixture history in testdata
// and fails for every kind in AnomalyKinds that no fixture produces: a kind
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
		workload, rest, _ := strings.Cut(name, "-")
		res := Check(readFixture(t, name), Options{Workload: workload, TimeLimit: 20 * time.Second, OutDir: t.TempDir()})
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
		if _, isKind := AnomalyKinds[want]; !isKind {
			want = rest // register-nonlinearizable, lock-token-order
		}
		if _, isKind := AnomalyKinds[want]; isKind && !got[want] {
			t.Errorf("%s: produced %v, want %q among them", name, sortedKeys(got), want)
		}
	}
	var missing []string
	for k := range AnomalyKinds {
		if len(producedBy[k]) == 0 {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d of %d anomaly kinds are produced by no fixture in testdata: %s", len(missing), len(AnomalyKinds), strings.Join(missing, ", "))
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
