package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"coordlab/proctest"
)

// The lines tools wait for, as etcd 3.4 prints them with capnslog (its
// default logger) and with zap, at start and on leadership.
var (
	capnsWant = []string{
		"etcdserver: starting member ",
		"embed: listening for peers on 127.0.0.1:",
		" became leader at term ",
		"raft.node: ",
		"etcdserver: published {Name:logs ClientURLs:[",
		"etcdserver/membership: set the initial cluster version to 3.4",
		"etcdserver/api: enabled capabilities for version 3.4",
		"embed: ready to serve client requests",
		"embed: serving insecure client requests on 127.0.0.1:",
	}
	zapWant = []string{
		"starting local member",
		"published local member to cluster through raft",
		"ready to serve client requests",
		"enabled capabilities for version",
		"serving client traffic insecurely; this is strongly discouraged!",
		"started as single-node; fast-forwarding election ticks",
	}
)

func logsArgs(t *testing.T, extra ...string) []string {
	cu := fmt.Sprintf("http://127.0.0.1:%d", proctest.FreePort(t))
	pu := fmt.Sprintf("http://127.0.0.1:%d", proctest.FreePort(t))
	return append([]string{"--name", "logs", "--data-dir", filepath.Join(t.TempDir(), "d"),
		"--listen-client-urls", cu, "--advertise-client-urls", cu,
		"--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu, "--initial-cluster", "logs=" + pu}, extra...)
}

// runUntil starts bin with args until its output holds want (or 20s), and
// returns the output.
func runUntil(t *testing.T, bin string, args []string, want string) string {
	t.Helper()
	p := proctest.Start(t, bin, args...)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.Output(), want) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the lines logged right after
	p.Kill()
	return p.Output()
}

// TestLogLines: --logger capnslog (etcd 3.4's default) prints etcd's
// startup and leadership lines, and --logger zap etcd's JSON lines with
// its field names; when the real etcd 3.4 is installed, its own output is
// checked to contain the same lines, so they cannot drift from etcd's.
// --log-outputs writes to a file; --log-package-levels silences a package.
func TestLogLines(t *testing.T) {
	out := runUntil(t, binPath, logsArgs(t), "serving insecure client requests")
	for _, w := range capnsWant {
		if !strings.Contains(out, w) {
			t.Errorf("capnslog output lacks %q:\n%s", w, out)
		}
	}
	if etcd, err := exec.LookPath("etcd"); err == nil {
		real := runUntil(t, etcd, logsArgs(t), "serving insecure client requests")
		for _, w := range capnsWant {
			if !strings.Contains(real, w) {
				t.Errorf("the real etcd's capnslog output lacks %q (the expectation is not etcd's):\n%s", w, real)
			}
		}
	}

	logFile := filepath.Join(t.TempDir(), "raftkv.log")
	p := proctest.Start(t, binPath, logsArgs(t, "--logger", "zap", "--log-outputs", logFile)...)
	deadline := time.Now().Add(20 * time.Second)
	var b []byte
	for !strings.Contains(string(b), "serving client traffic insecurely") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		b, _ = os.ReadFile(logFile)
	}
	time.Sleep(200 * time.Millisecond)
	p.Kill()
	b, _ = os.ReadFile(logFile)
	if p.Output() != "" {
		t.Errorf("--log-outputs %s: the process printed to stderr too: %q", logFile, p.Output())
	}
	msgs := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("zap line is not JSON: %q", line)
		}
		for _, k := range []string{"level", "ts", "caller", "msg"} {
			if _, ok := rec[k]; !ok {
				t.Fatalf("zap line lacks %q: %q", k, line)
			}
		}
		msgs[rec["msg"].(string)] = true
		if rec["msg"] == "published local member to cluster through raft" {
			for _, k := range []string{"local-member-id", "local-member-attributes", "cluster-id"} {
				if _, ok := rec[k]; !ok {
					t.Errorf("published line lacks etcd's field %q: %q", k, line)
				}
			}
		}
	}
	for _, w := range zapWant {
		if !msgs[w] {
			t.Errorf("zap output lacks msg %q", w)
		}
	}

	quiet := runUntil(t, binPath, logsArgs(t, "--log-package-levels", "raft=ERROR,embed=WARNING"), "etcdserver/api: enabled capabilities")
	if strings.Contains(quiet, "became leader at term") || strings.Contains(quiet, "embed: ready to serve") {
		t.Errorf("--log-package-levels raft=ERROR,embed=WARNING still printed raft or embed info lines:\n%s", quiet)
	}
	if !strings.Contains(quiet, "etcdserver: published {Name:logs") {
		t.Errorf("--log-package-levels silenced etcdserver too:\n%s", quiet)
	}
}
