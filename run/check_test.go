package run

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"coordlab/analysis"
)

// The runs stored in reports' testdata were written with read modes, cas
// outcomes and revisions as Extra strings; checked again today, they get
// the verdicts and anomalies they got then.
func TestCheckStoredRuns(t *testing.T) {
	for _, name := range []string{"etcd-linearizable", "etcd-serializable"} {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join("..", "reports", "testdata", "runs", name)
			dir := t.TempDir()
			for _, f := range []string{"test.json", "history.jsonl"} {
				b, err := os.ReadFile(filepath.Join(src, f))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := analysis.ReadResults(filepath.Join(src, "results.json"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := CheckDir(dir, 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if got.Valid != want.Valid || got.Workload != want.Workload || got.Counts != want.Counts {
				t.Errorf("valid %v workload %q counts %+v; stored %v %q %+v", got.Valid, got.Workload, got.Counts, want.Valid, want.Workload, want.Counts)
			}
			for n, wc := range want.Checkers {
				gc := got.Checkers[n]
				if gc.Valid != wc.Valid || len(gc.Anomalies) != len(wc.Anomalies) {
					t.Errorf("%s: %v with %d anomalies; stored %v with %d", n, gc.Valid, len(gc.Anomalies), wc.Valid, len(wc.Anomalies))
				}
				// Kinds are not compared: how a shrunk failing history is
				// named has changed since these were stored (a stale read
				// of r/2 is now named nonlinearizable).
				for i := range min(len(gc.Anomalies), len(wc.Anomalies)) {
					if gc.Anomalies[i].Key != wc.Anomalies[i].Key {
						t.Errorf("%s anomaly %d: key %s, stored %s", n, i, gc.Anomalies[i].Key, wc.Anomalies[i].Key)
					}
				}
			}
			if len(got.Staleness) != len(want.Staleness) {
				t.Errorf("staleness %+v; stored %+v", got.Staleness, want.Staleness)
			}
			for m, ws := range want.Staleness {
				if gs := got.Staleness[m]; gs.Reads != ws.Reads || gs.Stale != ws.Stale {
					t.Errorf("staleness[%s] %+v; stored %+v", m, gs, ws)
				}
			}
		})
	}
}
