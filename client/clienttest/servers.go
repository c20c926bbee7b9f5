package clienttest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"coordlab/proctest"
)

// Missing skips t, or fails it under CI=true, saying what to install.
func Missing(t testing.TB, what, install string) {
	t.Helper()
	msg := fmt.Sprintf("%s not available: install %s", what, install)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int { return proctest.FreePort(t) }

// Server is a real server process started for a test.
type Server struct {
	Addr string // host:port clients use
	p    *proctest.Process
}

// Pause stops the process (SIGSTOP) and returns once every thread is
// stopped; Resume continues it (SIGCONT).
func (s *Server) Pause() error  { return s.p.Pause() }
func (s *Server) Resume() error { return s.p.Resume() }

// Log returns what the server printed so far.
func (s *Server) Log() string { return s.p.Output() }

// start launches the server and waits until ready says it serves.
func start(t testing.TB, addr string, ready func() error, name string, args ...string) *Server {
	t.Helper()
	s := &Server{Addr: addr, p: proctest.Start(t, name, args...)}
	if err := s.p.WaitReady(30*time.Second, ready); err != nil {
		t.Fatal(err)
	}
	return s
}

// EtcdBinary is the real etcd the tests run.
const EtcdBinary = "/usr/bin/etcd"

// StartEtcd starts a single-member etcd on free loopback ports and returns
// it once it accepts connections (the caller waits for a first successful op).
func StartEtcd(t testing.TB) *Server {
	t.Helper()
	if _, err := os.Stat(EtcdBinary); err != nil {
		Missing(t, EtcdBinary, "the Debian package etcd-server")
	}
	dir := t.TempDir()
	cport, pport := FreePort(t), FreePort(t)
	curl := "http://127.0.0.1:" + strconv.Itoa(cport)
	purl := "http://127.0.0.1:" + strconv.Itoa(pport)
	addr := "127.0.0.1:" + strconv.Itoa(cport)
	return start(t, addr, proctest.Listening(addr), EtcdBinary,
		"--name", "n1", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", curl, "--advertise-client-urls", curl,
		"--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
		"--initial-cluster", "n1="+purl, "--initial-cluster-state", "new",
		"--heartbeat-interval", "50", "--election-timeout", "500",
		"--log-level", "warn")
}

// ZooKeeperJar is the jar of Debian's zookeeper package (its manifest
// carries the class path of its dependencies).
const ZooKeeperJar = "/usr/share/java/zookeeper.jar"

// StartZooKeeper starts a standalone ZooKeeper (ZooKeeperServerMain) on a
// free loopback port with tickTime 200 ms (sessions of 0.4 s to 4 s), the
// admin server off.
func StartZooKeeper(t testing.TB) *Server {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		Missing(t, "java", "the Debian package openjdk-17-jre-headless")
	}
	if _, err := os.Stat(ZooKeeperJar); err != nil {
		Missing(t, ZooKeeperJar, "the Debian package zookeeper")
	}
	dir := t.TempDir()
	port := FreePort(t)
	cfg := fmt.Sprintf("tickTime=200\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\nadmin.enableServer=false\n4lw.commands.whitelist=*\npreAllocSize=1024\nforceSync=no\n", filepath.Join(dir, "data"), port)
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// A listening ZooKeeper (even one answering ruok) may still refuse
	// sessions ("not currently serving requests"): wait for srvr's mode.
	addr := "127.0.0.1:" + strconv.Itoa(port)
	return start(t, addr, proctest.FourLetterWord(addr, "srvr", "Mode: "), java,
		"-Xmx256m", "-Dzookeeper.admin.enableServer=false", "-Dzookeeper.jmx.log4j.disable=true",
		"-cp", ZooKeeperJar, "org.apache.zookeeper.server.ZooKeeperServerMain", cfgPath)
}
