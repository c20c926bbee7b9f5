package server_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"coordlab/engines/zab/server/servertest"
)

// superDigest is the superDigest of "super:secret"
// (printf %s super:secret | openssl dgst -binary -sha1 | base64).
const superDigest = "super:lK75jTNcA+U9vtVEw5vB51mj/w4="

func needZkCli(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/share/zookeeper/bin/zkCli.sh"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("zkCli.sh missing under CI=true: install Debian's zookeeper package (scripts/setup.sh)")
		}
		t.Skip("zkCli.sh not installed")
	}
}

// zkCliScript runs zkCli.sh against addr with the commands on its standard
// input (one session for all of them) and env added to its environment
// (CLIENT_JVMFLAGS, ...), and returns its output.
func zkCliScript(t *testing.T, addr string, env []string, commands ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/share/zookeeper/bin/zkCli.sh", "-server", addr)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(strings.Join(commands, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("zkCli %q: timed out\n%s", commands, out)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("zkCli %q: %v\n%s", commands, err, out)
	}
	return string(out)
}

// startMember starts a one-member zab with opts and returns its client
// address.
func startMember(t *testing.T, opts servertest.Options) *servertest.Ensemble {
	t.Helper()
	e, err := servertest.New(binary(t), t.TempDir(), 1, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.Cleanup(t)
	if err := e.StartAll(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := e.WaitServing(ctx); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestZkCliSuperuser: the superuser configured as zkServer.sh users do
// (-Dzookeeper.DigestAuthenticationProvider.superDigest in SERVER_JVMFLAGS)
// reads a node whose ACL admits only its owner; zkCli with a wrong
// password, the wrong superuser password or no addauth gets "Insufficient
// permission" (NOAUTH).
func TestZkCliSuperuser(t *testing.T) {
	t.Parallel()
	needZkCli(t)
	e := startMember(t, servertest.Options{
		Extra: []string{"maxSessionTimeout=30000"},
		Env:   []string{"SERVER_JVMFLAGS=-Xmx256m -Dzookeeper.DigestAuthenticationProvider.superDigest=" + superDigest},
	})
	addr := e.Members[0].ClientAddr()
	out := zkCliScript(t, addr, nil, "addauth digest alice:pw", "create /private data auth::cdrwa", "get /private")
	if !strings.Contains(out, "Created /private") || !strings.Contains(out, "\ndata\n") {
		t.Fatalf("owner create and read:\n%s", out)
	}
	for _, auth := range []string{"addauth digest alice:wrong", "addauth digest super:wrong", ""} {
		out := zkCliScript(t, addr, nil, auth, "get /private", "set /private x")
		if strings.Count(out, "Insufficient permission : /private") != 2 || strings.Contains(out, "\ndata\n") {
			t.Fatalf("%q: want NOAUTH for get and set:\n%s", auth, out)
		}
	}
	out = zkCliScript(t, addr, nil, "addauth digest super:secret", "get /private", "whoami", "setAcl /private world:anyone:r", "getAcl /private")
	if !strings.Contains(out, "\ndata\n") || !strings.Contains(out, "super: \n") || !strings.Contains(out, "'world,'anyone\n: r\n") {
		t.Fatalf("superuser: want the data, the super id and the new ACL:\n%s", out)
	}
}
