package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(body, "DIR", dir)), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name     string
		args     []string
		wantErr  string
		wantWarn string // substring of the line naming inert settings; "" = no such line
		env      string // SERVER_JVMFLAGS
	}{
		{"unknown setting", []string{"--config", write("a.cfg", "dataDir=DIR\nfoo=1\n")}, "a.cfg:2: foo: unknown setting", "", ""},
		{"invalid value", []string{"--config", write("b.cfg", "dataDir=DIR\nsyncLimit=-1\n")}, "syncLimit: want a positive integer", "", ""},
		{"unknown flag", []string{"--tick-tme", "5"}, "flag provided but not defined: -tick-tme", "", ""},
		{"inert settings then invalid", []string{"--config", write("c.cfg", "admin.serverPort=8080\npreAllocSize=1024\nsnapCount=5\n")},
			"dataDir: required", "settings=admin.serverPort,preAllocSize", ""},
		{"setting zab cannot honour", []string{"--config", write("h.cfg", "dataDir=DIR\nautopurge.snapRetainCount=10\n")},
			"h.cfg:2: autopurge.snapRetainCount=10: zab keeps the newest 3 snapshots", "", ""},
		{"protection asked for", []string{"--config", write("d.cfg", "dataDir=DIR\nquorum.auth.enableSasl=true\n")},
			"d.cfg:2: quorum.auth.enableSasl=true: SASL authentication between members is not supported by zab yet", "", ""},
		{"missing config file", []string{"--config", filepath.Join(dir, "nope.cfg")}, "--config: open", "", ""},
		{"TLS between members", []string{"--config", write("e.cfg", "dataDir=DIR\nsslQuorum=true\n")},
			"e.cfg:2: sslQuorum=true: TLS between members is not supported by zab yet (keep the quorum and election ports on a network only the members reach)", "", ""},
		{"TLS client port without a key store", []string{"--config", write("f.cfg", "dataDir=DIR\nsecureClientPort=2281\n")},
			"ssl.keyStore.location: required with secureClientPort", "", ""},
		{"missing key store file", []string{"--config", write("g.cfg", "dataDir=DIR\nsecureClientPort=2281\nssl.keyStore.location=DIR/ks.jks\n")},
			"ssl.keyStore.location: open", "", ""},
		{"superDigest from SERVER_JVMFLAGS", []string{"--data-dir", dir}, `DigestAuthenticationProvider.superDigest: want user:base64(sha1("user:password"))`, "",
			"-Xmx1g -Dzookeeper.DigestAuthenticationProvider.superDigest=super:secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SERVER_JVMFLAGS", tt.env)
			t.Setenv("JVMFLAGS", "")
			var stderr bytes.Buffer
			err := run(tt.args, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("run(%q) = %v, want error containing %q", tt.args, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			// No warning ever: a setting is honoured, refused (the error)
			// or inert (named in one info line).
			lines := strings.Count(stderr.String(), "tuning settings with no counterpart")
			if strings.Contains(stderr.String(), "level=WARN") || tt.wantWarn == "" && lines != 0 ||
				tt.wantWarn != "" && (lines != 1 || !strings.Contains(stderr.String(), tt.wantWarn)) {
				t.Fatalf("stderr %q: want no warning and %d inert-settings line(s) containing %q", stderr.String(), min(1, len(tt.wantWarn)), tt.wantWarn)
			}
		})
	}
}

// The binary exits non-zero with one line on stderr for a bad setting.
func TestBinaryExitsWithOneLine(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "zab")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cfg := filepath.Join(t.TempDir(), "zoo.cfg")
	if err := os.WriteFile(cfg, []byte("tickTime=fast\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("exit: %v, want a non-zero exit", err)
	}
	out := strings.TrimRight(stderr.String(), "\n")
	if strings.Count(out, "\n") != 0 || !strings.Contains(out, `tickTime: want a positive number of milliseconds (or a duration like 2s), got "fast"`) {
		t.Fatalf("stderr %q: want one line naming tickTime", stderr.String())
	}
	stderr.Reset()
	cmd = exec.Command(bin, "--tick-tme", "5")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil {
		t.Fatal("unknown flag: exit 0, want non-zero")
	}
	if out := strings.TrimRight(stderr.String(), "\n"); strings.Count(out, "\n") != 0 || !strings.Contains(out, "-tick-tme") {
		t.Fatalf("unknown flag: stderr %q, want one line naming it", stderr.String())
	}
	stderr.Reset()
	cmd = exec.Command(bin, "--help")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || !strings.Contains(stderr.String(), "usage: zab --config zoo.cfg") {
		t.Fatalf("--help: %v %q, want usage and exit 0", err, stderr.String())
	}
}
