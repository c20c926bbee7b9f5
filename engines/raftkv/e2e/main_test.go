package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// raftkvBin is the path of the cmd/raftkv binary under test.
var raftkvBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if dir := os.Getenv("COORDLAB_BIN"); dir != "" {
		raftkvBin = filepath.Join(dir, "raftkv")
		return m.Run()
	}
	tmp, err := os.MkdirTemp("", "raftkv-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	raftkvBin = filepath.Join(tmp, "raftkv")
	cmd := exec.Command("go", "build", "-o", raftkvBin, "coordlab/cmd/raftkv")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: go build coordlab/cmd/raftkv:", err)
		return 1
	}
	return m.Run()
}
