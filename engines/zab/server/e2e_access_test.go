package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"coordlab/engines/zab/server"
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
	killGroup(cmd)
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

// killGroup makes cmd's context cancel kill zkCli.sh and the JVM it
// starts (its own process group), so a hung client cannot hold the test.
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
}

// startMember starts a one-member zab with opts.
func startMember(t *testing.T, opts servertest.Options) *servertest.Ensemble {
	t.Helper()
	e, _ := startMembers(t, 1, opts)
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

// debianTLSClassPath is Debian's zkCli.sh class path plus the two Netty
// jars its zookeeper.jar manifest leaves out and ClientCnxnSocketNetty
// needs (netty-resolver, netty-codec): without them Debian's zkCli.sh
// reaches no TLS port, ZooKeeper's either (NoClassDefFoundError:
// io/netty/resolver/AddressResolverGroup, shown only as ConnectionLoss).
// zkCli.sh puts CLIENT_JVMFLAGS after its own -cp, so a -cp there wins.
const debianTLSClassPath = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/netty-resolver.jar:/usr/share/java/netty-codec.jar"

// zkCliTLS is the CLIENT_JVMFLAGS a ZooKeeper user sets for zkCli.sh over
// TLS (Netty client socket, client.secure) with the given stores; empty
// locations are left out.
func zkCliTLS(keyStore, keyType, trustStore, trustType, password string) []string {
	flags := []string{
		"-cp", debianTLSClassPath,
		"-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
		"-Dzookeeper.client.secure=true",
	}
	if keyStore != "" {
		flags = append(flags, "-Dzookeeper.ssl.keyStore.location="+keyStore, "-Dzookeeper.ssl.keyStore.type="+keyType, "-Dzookeeper.ssl.keyStore.password="+password)
	}
	if trustStore != "" {
		flags = append(flags, "-Dzookeeper.ssl.trustStore.location="+trustStore, "-Dzookeeper.ssl.trustStore.type="+trustType, "-Dzookeeper.ssl.trustStore.password="+password)
	}
	return []string{"CLIENT_JVMFLAGS=" + strings.Join(flags, " ")}
}

// TestZkCliTLS: zkCli.sh set up as a ZooKeeper 3.8 user would for
// secureClientPort (PKCS12 and PEM stores) works against zab's TLS port; a
// zkCli without a client certificate, or with one from another CA, gets no
// session. The server's own stores are PKCS12 (zoo.cfg as for ZooKeeper).
func TestZkCliTLS(t *testing.T) {
	t.Parallel()
	needZkCli(t)
	dir := t.TempDir()
	f := server.NewTestTLSFiles(t, dir)
	port, err := servertest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	e := startMember(t, servertest.Options{Extra: []string{
		"maxSessionTimeout=30000",
		fmt.Sprintf("secureClientPort=%d", port),
		"serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
		"ssl.keyStore.location=" + f.ServerP12,
		"ssl.keyStore.password=" + f.Password,
		"ssl.trustStore.location=" + f.CAP12,
		"ssl.trustStore.password=" + f.Password,
	}})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p12 := zkCliTLS(f.ClientP12, "PKCS12", f.CAP12, "PKCS12", f.Password)
	out := zkCliScript(t, addr, p12, "create /tls hello", "get /tls", "whoami")
	if !strings.Contains(out, "Created /tls") || !strings.Contains(out, "\nhello\n") || !strings.Contains(out, "ip: 127.0.0.1\n") {
		t.Fatalf("zkCli over TLS with PKCS12 stores:\n%s", out)
	}
	pemEnv := zkCliTLS(f.ClientPEM, "PEM", f.CAPEM, "PEM", "")
	out = zkCliScript(t, addr, pemEnv, "set /tls world", "get /tls")
	if !strings.Contains(out, "\nworld\n") {
		t.Fatalf("zkCli over TLS with PEM stores:\n%s", out)
	}
	// The plaintext port serves the same tree.
	if out := zkCli(t, e.Members[0].ClientAddr(), "get", "/tls"); !strings.Contains(out, "\nworld\n") {
		t.Fatalf("plaintext read:\n%s", out)
	}
	for name, env := range map[string][]string{
		"no client certificate": zkCliTLS("", "", f.CAP12, "PKCS12", f.Password),
		"another CA":            zkCliTLS(f.StrangerP12, "PKCS12", f.CAP12, "PKCS12", f.Password),
	} {
		out := zkCliTimeout(t, addr, env, "get", "/tls")
		if strings.Contains(out, "world") || !strings.Contains(out, "ConnectionLoss") {
			t.Errorf("%s: want no session (ConnectionLoss):\n%s", name, out)
		}
	}
}

// zkCliTimeout runs one zkCli.sh command with a 5 s session timeout, so a
// client that never gets a session gives up.
func zkCliTimeout(t *testing.T, addr string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/share/zookeeper/bin/zkCli.sh", append([]string{"-timeout", "5000", "-server", addr}, args...)...)
	killGroup(cmd)
	cmd.Env = append(os.Environ(), env...)
	out, _ := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("zkCli %q: timed out\n%s", args, out)
	}
	return string(out)
}
