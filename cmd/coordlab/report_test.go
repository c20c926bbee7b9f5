package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
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

// `coordlab check DIR` prints the verdict and writes DIR/report.html.
func TestCheckWritesReport(t *testing.T) {
	dirs := copyStoredRuns(t, t.TempDir(), "etcd-linearizable")
	var stdout, stderr bytes.Buffer
	code := execute([]string{"check", dirs[0]}, &stdout, &stderr)
	if code != exitValid || !strings.Contains(stdout.String(), "verdict: valid") {
		t.Fatalf("check: exit %d, stdout %q, stderr %q; want 0 and the verdict", code, stdout.String(), stderr.String())
	}
	page := filepath.Join(dirs[0], "report.html")
	if _, err := os.Stat(page); err != nil || !strings.Contains(stdout.String(), "report: "+page) {
		t.Errorf("report.html: %v; stdout %q: want it written and its path printed", err, stdout.String())
	}
}

// `coordlab run` prints the verdict and writes report.html into its run
// directory. It starts a one-member etcd on loopback for two seconds.
func TestRunWritesReport(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd")
	}
	if _, err := exec.LookPath("etcd"); err != nil {
		t.Skip("etcd is not installed (Debian's etcd-server)")
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := execute([]string{"run", "--target", "etcd", "--nodes", "1", "--network", "loopback", "--time-limit", "2s",
		"--concurrency", "2", "--out", out}, &stdout, &stderr)
	if code == exitFailed {
		t.Fatalf("run: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	pages, err := filepath.Glob(filepath.Join(out, "*", "report.html"))
	if err != nil || len(pages) != 1 {
		t.Fatalf("report.html in the run dir: %v %v; stdout %q", pages, err, stdout.String())
	}
	for _, want := range []string{"verdict: ", "report: " + pages[0]} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout %q: want %q", stdout.String(), want)
		}
	}
}
