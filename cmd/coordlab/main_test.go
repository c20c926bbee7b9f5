package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestExecute(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // in stdout
		wantErr  string // in stderr
	}{
		{"list", []string{"list"}, exitValid, "partition-isolate-follower", ""},
		{"bad target", []string{"run", "--target", "consul", "--out", "unused"}, exitFailed, "", "--target"},
		{"mode mismatch", []string{"run", "--target", "etcd", "--read-mode", "local"}, exitFailed, "", "etcd API"},
		{"check missing dir", []string{"check", "/nonexistent/run"}, exitFailed, "", "not a run directory"},
		{"unknown command", []string{"frobnicate"}, exitFailed, "", "unknown command"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := execute(c.args, &out, &errb)
			if code != c.wantCode || !strings.Contains(out.String(), c.wantOut) || !strings.Contains(errb.String(), c.wantErr) {
				t.Fatalf("coordlab %v: code %d, stdout %q, stderr %q; want code %d, stdout with %q, stderr with %q",
					c.args, code, out.String(), errb.String(), c.wantCode, c.wantOut, c.wantErr)
			}
		})
	}
}

// TestAddCommand checks the hook report.go uses to add its subcommand.
func TestAddCommand(t *testing.T) {
	saved := extraCommands
	t.Cleanup(func() { extraCommands = saved })
	addCommand(func() *cobra.Command { return &cobra.Command{Use: "extra", Run: func(*cobra.Command, []string) {}} })
	root := newRootCmd(&bytes.Buffer{}, &bytes.Buffer{})
	if c, _, err := root.Find([]string{"extra"}); err != nil || c.Name() != "extra" {
		t.Fatalf("root.Find(extra) = %v, %v; want the added command", c, err)
	}
}

// TestListAndHelpNameEachRuntime: `coordlab list` describes each runtime
// with its own capabilities (docker pauses with the cgroup freezer, local
// with SIGSTOP), and `run --help` offers every runtime.
func TestListAndHelpNameEachRuntime(t *testing.T) {
	var out, errb bytes.Buffer
	if code := execute([]string{"list"}, &out, &errb); code != exitValid {
		t.Fatalf("list: code %d, stderr %q", code, errb.String())
	}
	_, section, _ := strings.Cut(out.String(), "runtimes:\n")
	section, _, _ = strings.Cut(section, "workloads:")
	lines := strings.Split(section, "\n")
	here := map[string]string{} // runtime -> its "here:" line
	for i, l := range lines {
		for _, rt := range []string{"local", "docker"} {
			if strings.HasPrefix(l, "  "+rt+" ") && i+1 < len(lines) {
				here[rt] = lines[i+1]
			}
		}
	}
	if l := here["local"]; !strings.Contains(l, "pause by sigstop") || !strings.Contains(l, "kill") {
		t.Errorf("local runtime line %q: want its faults and pause by sigstop", l)
	}
	d := here["docker"]
	switch {
	case strings.Contains(d, "unavailable"):
		// No Docker engine here: saying so is the right answer.
	case !strings.Contains(d, "bridge network") || !strings.Contains(d, "pause by docker-pause"):
		t.Errorf("docker runtime line %q: want its own network and pause mechanism, not the local runtime's", d)
	}
	out.Reset()
	if code := execute([]string{"run", "--help"}, &out, &errb); code != exitValid {
		t.Fatalf("run --help: code %d", code)
	}
	var flag string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, "--runtime") {
			flag = l
		}
	}
	if !strings.Contains(flag, "docker") || !strings.Contains(flag, "local") {
		t.Errorf("run --help says %q, want both runtimes", flag)
	}
}
