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
