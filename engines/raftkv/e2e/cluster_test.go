package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"coordlab/proctest"
)

const (
	etcdBin    = "/usr/bin/etcd"
	etcdctlBin = "/usr/bin/etcdctl"
)

// needTools skips the test when etcd or etcdctl is missing, except under
// CI=true, where it fails: CI installs them (scripts/setup.sh).
func needTools(t *testing.T) {
	t.Helper()
	for _, p := range []string{etcdBin, etcdctlBin} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing (install etcd-server and etcd-client): %v", p, err)
			}
			t.Skipf("%s is missing: %v", p, err)
		}
	}
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports, err := proctest.FreePorts("127.0.0.1", n)
	if err != nil {
		t.Fatal(err)
	}
	return ports
}

// member is one server process (raftkv or etcd).
type member struct {
	name      string
	clientURL string
	peerURL   string
	dataDir   string
	logPath   string
	bin       string
	args      []string
	proc      *proctest.Process // nil when down
}

func (m *member) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	m.proc, err = proctest.Launch(m.bin, m.args, proctest.Options{Output: logf})
	logf.Close() // the child holds its own descriptor
	if err != nil {
		t.Fatalf("start %s: %v", m.name, err)
	}
}

// stop kills the member (SIGKILL) and reaps it.
func (m *member) stop() {
	if m.proc == nil {
		return
	}
	m.proc.Kill()
	m.proc = nil
}

// cluster is a set of members of one system ("raftkv" or "etcd").
type cluster struct {
	system  string
	members []*member
}

// endpoints is the etcdctl --endpoints value: every member's host:port.
func (c *cluster) endpoints() string {
	var eps []string
	for _, m := range c.members {
		eps = append(eps, strings.TrimPrefix(m.clientURL, "http://"))
	}
	return strings.Join(eps, ",")
}

func (c *cluster) clientURLs() []string {
	var urls []string
	for _, m := range c.members {
		urls = append(urls, m.clientURL)
	}
	return urls
}

// startCluster starts n members of bin (raftkv or etcd, which take the same
// flags) on free loopback ports and waits until every member reports a
// leader.
func startCluster(t *testing.T, system, bin string, n int) *cluster {
	t.Helper()
	return startClusterArgs(t, system, bin, n)
}

// startClusterArgs is startCluster with extra flags for every member.
func startClusterArgs(t *testing.T, system, bin string, n int, extra ...string) *cluster {
	t.Helper()
	ports := freePorts(t, 2*n)
	dir := t.TempDir()
	c := &cluster{system: system}
	var initial []string
	for i := range n {
		m := &member{
			name:      fmt.Sprintf("m%d", i+1),
			clientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			peerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
			bin:       bin,
		}
		m.dataDir = filepath.Join(dir, m.name)
		m.logPath = filepath.Join(dir, m.name+".log")
		initial = append(initial, m.name+"="+m.peerURL)
		c.members = append(c.members, m)
	}
	for _, m := range c.members {
		m.args = []string{
			"--name", m.name,
			"--data-dir", m.dataDir,
			"--listen-client-urls", m.clientURL,
			"--advertise-client-urls", m.clientURL,
			"--listen-peer-urls", m.peerURL,
			"--initial-advertise-peer-urls", m.peerURL,
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-state", "new",
			"--initial-cluster-token", "e2e-" + system,
		}
		m.args = append(m.args, extra...)
		m.start(t)
	}
	t.Cleanup(func() {
		for _, m := range c.members {
			m.stop()
		}
		if t.Failed() {
			for _, m := range c.members {
				t.Logf("--- %s %s log (tail) ---\n%s", system, m.name, tail(m.logPath, 40))
			}
		}
	})
	c.waitReady(t)
	return c
}

// waitReady polls every member's Status until each reports a leader.
func (c *cluster) waitReady(t *testing.T) {
	t.Helper()
	cli := c.client(t)
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for _, m := range c.members {
		ep := strings.TrimPrefix(m.clientURL, "http://")
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := cli.Status(ctx, ep)
			cancel()
			if err == nil && st.Leader != 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s member %s not ready after 30s: status %v, err %v", c.system, m.name, st, err)
			}
			<-tick.C
		}
	}
}

// client is a clientv3 client over every member.
func (c *cluster) client(t *testing.T) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.clientURLs(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("clientv3.New: %v", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
