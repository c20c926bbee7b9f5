package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyStoredRuns copies reports' stored runs into dir.
func copyStoredRuns(t *testing.T, dir string, names ...string) []string {
	t.Helper()
	var out []string
	for _, n := range names {
		src := filepath.Join("..", "..", "reports", "testdata", "runs", n)
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			dst := filepath.Join(dir, n, rel)
			if d.IsDir() {
				return os.MkdirAll(dst, 0o755)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(dst, b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, filepath.Join(dir, n))
	}
	return out
}

// TestReportOutWithoutRuns: `report RUN1 RUN2 --out DIR`, DIR holding no
// runs, writes the comparison there and succeeds.
func TestReportOutWithoutRuns(t *testing.T) {
	tmp := t.TempDir()
	runs := copyStoredRuns(t, filepath.Join(tmp, "results"), "etcd-linearizable", "etcd-serializable")
	out := filepath.Join(tmp, "cmp")
	var stdout, stderr bytes.Buffer
	code := execute(append(append([]string{"report"}, runs...), "--out", out), &stdout, &stderr)
	if code != exitValid {
		t.Fatalf("coordlab report %v --out %s: exit %d, stderr %q; want 0", runs, out, code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(out, "comparison.html")); err != nil {
		t.Errorf("no comparison.html in --out: %v", err)
	}
	for _, r := range runs {
		if _, err := os.Stat(filepath.Join(r, "report.html")); err != nil {
			t.Errorf("no report.html in %s: %v", r, err)
		}
	}
	if strings.Contains(stderr.String(), "no run directories") {
		t.Errorf("stderr %q", stderr.String())
	}
}

// A folder given as an argument that holds no runs is still an error.
func TestReportFolderWithoutRuns(t *testing.T) {
	empty := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := execute([]string{"report", empty}, &stdout, &stderr); code != exitFailed || !strings.Contains(stderr.String(), "no run directories") {
		t.Fatalf("coordlab report %s: exit %d, stderr %q; want 2 naming the missing runs", empty, code, stderr.String())
	}
}
