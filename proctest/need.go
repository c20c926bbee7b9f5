package proctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Need skips the test when a requirement (root, nft, a Docker engine, a
// Debian package) is missing, but fails it under CI=true: CI must never
// pass by skipping what it was meant to run.
func Need(t testing.TB, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s is missing", what)
	}
	t.Skipf("%s missing", what)
}

// Binaries returns a directory that holds this module's commands
// (coordlab/cmd/<name>) for process tests: $COORDLAB_BIN when it is set
// (make test builds bin/ first), else a fresh build into a temporary
// directory, which cleanup removes.
func Binaries(names ...string) (dir string, cleanup func(), err error) {
	if b := os.Getenv("COORDLAB_BIN"); b != "" {
		return b, func() {}, nil
	}
	dir, err = os.MkdirTemp("", "coordlab-bin")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	for _, name := range names {
		// Static, as make build makes them: the images are FROM scratch.
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "coordlab/cmd/"+name)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			cleanup()
			return "", nil, fmt.Errorf("build %s: %v\n%s", name, err, out)
		}
	}
	return dir, cleanup, nil
}
