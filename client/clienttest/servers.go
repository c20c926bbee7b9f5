package clienttest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
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
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Server is a real server process started for a test.
type Server struct {
	Addr string // host:port clients use
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
}

// Pause stops the process (SIGSTOP); Resume continues it (SIGCONT).
func (s *Server) Pause() error {
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	return waitStopped(s.cmd.Process.Pid, 5*time.Second)
}

// waitStopped returns once every thread of pid is stopped: SIGSTOP is
// delivered asynchronously, and a JVM thread still running for a few more
// milliseconds can answer a request the test means to leave unanswered.
func waitStopped(pid int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		if err != nil {
			return err
		}
		stopped := len(tasks) > 0
		for _, t := range tasks {
			b, err := os.ReadFile(t)
			if err != nil {
				continue // the thread exited
			}
			// The state follows the ")" that closes the command name.
			if i := bytes.LastIndexByte(b, ')'); i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
				stopped = false
				break
			}
		}
		if stopped {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("clienttest: process %d not stopped %s after SIGSTOP", pid, limit)
		}
		time.Sleep(time.Millisecond)
	}
}
func (s *Server) Resume() error { return s.cmd.Process.Signal(syscall.SIGCONT) }

// Log returns what the server printed so far.
func (s *Server) Log() string { return s.log.String() }

func (s *Server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	_ = s.cmd.Process.Kill()
	<-s.done
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func start(t testing.TB, addr string, name string, args ...string) *Server {
	t.Helper()
	cmd := exec.Command(name, args...)
	buf := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = buf, buf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	s := &Server{Addr: addr, cmd: cmd, log: buf, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(s.stop)
	return s
}

// waitListening polls until addr accepts TCP connections, the process exits,
// or 30 s pass.
func (s *Server) waitListening(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-s.done:
			t.Fatalf("server exited before listening on %s; log:\n%s", s.Addr, s.Log())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not listening on %s after 30s; log:\n%s", s.Addr, s.Log())
		}
	}
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
	s := start(t, "127.0.0.1:"+strconv.Itoa(cport), EtcdBinary,
		"--name", "n1", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", curl, "--advertise-client-urls", curl,
		"--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
		"--initial-cluster", "n1="+purl, "--initial-cluster-state", "new",
		"--heartbeat-interval", "50", "--election-timeout", "500",
		"--log-level", "warn")
	s.waitListening(t)
	return s
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
	s := start(t, "127.0.0.1:"+strconv.Itoa(port), java,
		"-Xmx256m", "-Dzookeeper.admin.enableServer=false", "-Dzookeeper.jmx.log4j.disable=true",
		"-cp", ZooKeeperJar, "org.apache.zookeeper.server.ZooKeeperServerMain", cfgPath)
	s.waitListening(t)
	s.waitRuok(t)
	return s
}

// waitRuok polls the four-letter word srvr until the server reports its
// mode: a listening ZooKeeper (even one answering ruok) may still refuse
// sessions ("not currently serving requests").
func (s *Server) waitRuok(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, werr := c.Write([]byte("srvr"))
			out, _ := io.ReadAll(c)
			c.Close()
			if werr == nil && strings.Contains(string(out), "Mode: ") {
				return
			}
		}
		select {
		case <-s.done:
			t.Fatalf("zookeeper exited; log:\n%s", s.Log())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("zookeeper not serving on %s after 30s; log:\n%s", s.Addr, s.Log())
		}
	}
}
