package run

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	goruntime "runtime"
	"strings"
	"time"

	"coordlab/cluster"
)

// debianPackage is the package each reference system comes from.
var debianPackage = map[string]string{"etcd": "etcd-server", "zookeeper": "zookeeper"}

// versions says what ran, for test.json and the report: the Debian
// package version of a reference system, or the content hash of our
// engine's binary (our engines are built from this tree, so the hash names
// the build), and the Go toolchain of the lab.
func versions(ctx context.Context, spec Spec) map[string]string {
	v := map[string]string{"go": goruntime.Version()}
	if pkg, ok := debianPackage[spec.Target]; ok {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f", "${Version}", pkg).Output()
		if err == nil && len(out) > 0 {
			v[spec.Target] = "Debian " + pkg + " " + strings.TrimSpace(string(out))
		}
		return v
	}
	if path, err := cluster.OurBinary(spec.Target, spec.BinDir); err == nil {
		if sum, err := fileSHA256(path); err == nil {
			v[spec.Target] = "built here, sha256 " + sum[:12]
		}
	}
	return v
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
