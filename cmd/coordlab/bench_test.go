package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"coordlab/cluster"
	"coordlab/perf"
	"coordlab/proctest"
	"coordlab/runfile"
)

// tinySuite is the default suite's shape (our engines, then the references
// as an optional group, and a perf section over all four) at a size a test
// can afford: the same code path as `make bench`.
const tinySuite = `{
  "name": "tiny",
  "about": "coordlab bench's own test: the default suite's shape in seconds",
  "defaults": {"nodes": 3, "time_limit": "2s", "concurrency": 2, "rate": 20, "seed": 1, "check_time_limit": "10s"},
  "groups": [
    {"targets": ["raftkv", "zab"], "runtime": "docker", "workloads": ["register"], "nemeses": ["none"]},
    {"targets": ["etcd", "zookeeper"], "runtime": "docker", "workloads": ["register"], "nemeses": ["none"], "optional": true}
  ],
  "perf": {"targets": ["etcd", "raftkv", "zookeeper", "zab"], "runtime": "docker", "warmup": "1s", "rewarm": "0s",
    "point": "300ms", "clients": [1, 4], "passes": 2, "keys": 20, "failover_rounds": 1, "failover_clients": 2}
}`

// runBench runs `coordlab bench` on the tiny suite and returns its
// output and its folder; it fails the test unless bench exits 0 and ends
// with the path of a report that exists.
func runBench(t *testing.T) (string, string) {
	t.Helper()
	bin, cleanup, err := proctest.Binaries("raftkv", "zab")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	t.Chdir(filepath.Join("..", "..")) // as make bench runs it: docker/ holds the Dockerfiles
	dir := t.TempDir()
	suitePath := filepath.Join(dir, "tiny.json")
	if err := os.WriteFile(suitePath, []byte(tinySuite), 0o644); err != nil {
		t.Fatal(err)
	}
	// A relative --out, as make bench's default (results/bench-<time>).
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	out, err := filepath.Rel(wd, filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := execute([]string{"bench", "--suite", suitePath, "--out", out, "--bin-dir", bin}, &stdout, &stderr)
	if code != exitValid {
		t.Fatalf("coordlab bench: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	last := lines[len(lines)-1]
	report, ok := strings.CutPrefix(last, "report: ")
	if !ok {
		t.Fatalf("last line %q, want the report's path\nstdout:\n%s", last, stdout.String())
	}
	page, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("the report: %v", err)
	}
	for _, want := range []string{`id="perf"`, "Failover under write load", "Correctness under faults", "read-linearizable"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("%s lacks %q", report, want)
		}
	}
	return stdout.String(), out
}

// checkRuns checks every run of the bench ran in runtime and the
// performance section measured every installed target there.
func checkRuns(t *testing.T, out, runtime string) {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(out, "*", "test.json"))
	if err != nil || len(dirs) < 2 {
		t.Fatalf("runs in %s: %v, %v; want at least our engines' two", out, dirs, err)
	}
	for _, d := range dirs {
		f, err := runfile.Read(filepath.Dir(d))
		if err != nil {
			t.Fatal(err)
		}
		if f.Spec.Runtime != runtime {
			t.Errorf("%s ran in the %s runtime, want %s", d, f.Spec.Runtime, runtime)
		}
	}
	res, err := perf.Read(filepath.Join(out, "perf"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Runtime != runtime {
		t.Errorf("perf.json: runtime %s, want %s", res.Runtime, runtime)
	}
	for _, tr := range res.Targets {
		if tr.Error != "" || len(tr.Points) == 0 || len(tr.Failover) != 1 {
			t.Errorf("perf.json: %s: error %q, %d points, %d failover rounds; want points and one round", tr.Target, tr.Error, len(tr.Points), len(tr.Failover))
		}
	}
}

// TestBenchDocker runs the tiny suite where the Docker engine runs: the
// images are built when missing (or found), every run and the performance
// section run as containers, and bench ends with the report's path.
func TestBenchDocker(t *testing.T) {
	proctest.Need(t, exec.Command("docker", "info").Run() == nil, "a Docker engine (docker info)")
	stdout, out := runBench(t)
	if strings.Contains(stdout, "not running") {
		t.Errorf("bench fell back to the local runtime with Docker up:\n%s", stdout)
	}
	for _, name := range cluster.TargetNames() {
		if !regexp.MustCompile(`image ` + name + `: coordlab/` + name + `:\w+ \((built|present)\)`).MatchString(stdout) {
			t.Errorf("no line saying image %s was built or present:\n%s", name, stdout)
		}
		if err := exec.Command("docker", "image", "inspect", "coordlab/"+name+":latest").Run(); err != nil {
			t.Errorf("after bench, coordlab/%s:latest: %v", name, err)
		}
	}
	checkRuns(t, out, "docker")
}

// TestBenchWithoutDocker points the Docker client at a socket nobody
// serves: bench says so and runs everything in the local runtime.
func TestBenchWithoutDocker(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	stdout, out := runBench(t)
	if !strings.Contains(stdout, "bench: the Docker engine is not running") {
		t.Errorf("bench did not say it fell back to the local runtime:\n%s", stdout)
	}
	checkRuns(t, out, "local")
}

// TestBenchSuiteErrors: a suite name that does not exist names the ones
// that do; --warmup needs a perf section.
func TestBenchSuiteErrors(t *testing.T) {
	t.Chdir(filepath.Join("..", "..")) // suites/ is found from the repository's root
	dir := t.TempDir()
	noPerf := filepath.Join(dir, "noperf.json")
	var s map[string]any
	if err := json.Unmarshal([]byte(tinySuite), &s); err != nil {
		t.Fatal(err)
	}
	delete(s, "perf")
	b, _ := json.Marshal(s)
	if err := os.WriteFile(noPerf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"bench", "--suite", "nosuch", "--out", dir}, "default, full"},
		{[]string{"bench", "--suite", noPerf, "--warmup", "30s", "--out", dir}, "no perf section"},
		{[]string{"bench", "--suite", "full", "--warmup", "-1s", "--out", dir}, "want >= 0"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		if code := execute(c.args, &out, &errb); code != exitFailed || !strings.Contains(errb.String(), c.wantErr) {
			t.Errorf("coordlab %v: code %d, stderr %q; want %d and %q", c.args, code, errb.String(), exitFailed, c.wantErr)
		}
	}
}
