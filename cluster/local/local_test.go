package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"coordlab/cluster"
	"coordlab/lazyfs"
	"coordlab/proctest"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func TestBelongsAndRunOf(t *testing.T) {
	cases := []struct {
		name string
		run  string
		want bool
	}{
		{"clababc123n1", "abc123", true},
		{"clababc123n12", "abc123", true},
		{"clababc123v3", "abc123", true},
		{"clababc123sw", "abc123", true},
		{"clababc123h", "abc123", true},
		{"clababc123hs", "abc123", true},
		{"clababc123x", "abc123", false},
		{"clababc123n", "abc123", false},
		{"clababc1234n1", "abc123", false},
		{"clababc124n1", "abc123", false},
		{"eth0", "abc123", false},
	}
	for _, c := range cases {
		if got := belongs(c.name, c.run); got != c.want {
			t.Errorf("belongs(%q, %q) = %v, want %v", c.name, c.run, got, c.want)
		}
		wantRun := ""
		if c.want {
			wantRun = c.run
		} else if c.name == "clababc124n1" {
			wantRun = "abc124" // another run's name
		}
		if got := runOf(c.name); got != wantRun {
			t.Errorf("runOf(%q) = %q, want %q", c.name, got, wantRun)
		}
	}
	if got := runOf("clabABC123n1"); got != "" {
		t.Errorf("runOf with upper-case hex = %q, want \"\"", got)
	}
}

func TestLoopbackRefusesPartition(t *testing.T) {
	r, err := New(Config{Dir: t.TempDir(), Mode: ModeLoopback})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Firewall(context.Background(), "n1", cluster.NFTScript([]string{"127.0.0.12"}, 0, nil))
	if !errors.Is(err, cluster.ErrUnsupported) || !strings.Contains(err.Error(), "root") {
		t.Fatalf("Firewall on loopback = %v, want ErrUnsupported naming root", err)
	}
	if _, err := r.Netns(context.Background(), "n1"); !errors.Is(err, cluster.ErrUnsupported) || !strings.Contains(err.Error(), "root") {
		t.Fatalf("Netns on loopback = %v, want ErrUnsupported naming root", err)
	}
	if c := r.Capabilities(); c.Firewall || !c.Kill || !c.Pause || c.PauseBy != "sigstop" {
		t.Fatalf("loopback capabilities = %+v", c)
	}
}

func etcdClient(t *testing.T, m cluster.Member) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{m.ClientAddr()}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func put(c *clientv3.Client, key, val string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, err := c.Put(ctx, key, val)
	return err
}

// putEventually retries until the put succeeds or the deadline passes.
func putEventually(t *testing.T, c *clientv3.Client, key, val string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := put(c, key, val, 2*time.Second)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("put %s via %v: %v", key, c.Endpoints(), err)
		}
	}
}

// sameNetns says whether two paths name the same network namespace.
func sameNetns(t *testing.T, a, b string) bool {
	t.Helper()
	var sa, sb syscall.Stat_t
	if err := syscall.Stat(a, &sa); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(b, &sb); err != nil {
		t.Fatal(err)
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// TestEtcdNetns starts a real 3-member etcd in network namespaces,
// partitions one member away (its writes time out while the majority
// commits), heals, kills and restarts, and checks nothing is left behind.
func TestEtcdNetns(t *testing.T) {
	proctest.Need(t, os.Geteuid() == 0, "root")
	_, err := exec.LookPath("nft")
	proctest.Need(t, err == nil, "nft")
	tgt, err := cluster.NewTarget("etcd", cluster.TargetOptions{ClusterToken: "test"})
	if err != nil {
		t.Fatal(err)
	}
	proctest.Need(t, tgt.Check() == nil, "etcd (apt-get install etcd-server)")

	ctx := context.Background()
	r, err := New(Config{Dir: t.TempDir(), Mode: ModeNetns})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := r.Start(ctx, tgt, 3)
	if err != nil {
		t.Fatal(err)
	}
	run := r.RunID()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			r.Stop(ctx)
		}
	})
	for _, m := range ms {
		if !strings.HasPrefix(m.Host, "10.77.") {
			t.Fatalf("member %s host %s, want 10.77.x.y", m.Name, m.Host)
		}
	}
	c1, c2 := etcdClient(t, ms[0]), etcdClient(t, ms[1])
	putEventually(t, c1, "k", "before")

	// Netns names the namespace the member's process runs in.
	p, err := r.Netns(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if got := sameNetns(t, p, fmt.Sprintf("/proc/%d/ns/net", r.byName["n1"].proc.cmd.Process.Pid)); !got {
		t.Fatalf("Netns(n1) = %s, not the namespace n1's process runs in", p)
	}

	// Isolate n1.
	g := cluster.Grudge{"n1": {"n2", "n3"}, "n2": {"n1"}, "n3": {"n1"}}
	fw := cluster.NewFirewall(r)
	if err := fw.Partition(ctx, g); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ip", "netns", "exec", nsName(run, 1), "nft", "list", "table", "inet", "coordlab").CombinedOutput()
	if err != nil || !strings.Contains(string(out), ms[1].Host) {
		t.Fatalf("nft table in n1 after partition: %v\n%s", err, out)
	}
	putEventually(t, c2, "k", "majority")
	if err := put(c1, "k", "minority", 3*time.Second); err == nil {
		t.Fatalf("put through isolated n1 succeeded, want a timeout")
	}
	if err := fw.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	putEventually(t, c1, "k", "healed")

	// Kill and restart n2 with its data.
	if err := r.Signal(ctx, "n2", cluster.SignalKill); err != nil {
		t.Fatal(err)
	}
	putEventually(t, c1, "k", "two-of-three")
	if err := r.Restart(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	ctxg, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var got *clientv3.GetResponse
	for {
		got, err = c2.Get(ctxg, "k")
		if err == nil && len(got.Kvs) == 1 && string(got.Kvs[0].Value) == "two-of-three" {
			break
		}
		if ctxg.Err() != nil {
			t.Fatalf("restarted n2 never served the write made while it was down: %v %v", err, got)
		}
	}
	if _, err := r.Leader(ctx); err != nil {
		t.Fatalf("Leader: %v", err)
	}
	// Pause and resume are accepted.
	if err := r.Signal(ctx, "n3", cluster.SignalStop); err != nil {
		t.Fatal(err)
	}
	if err := r.Signal(ctx, "n3", cluster.SignalCont); err != nil {
		t.Fatal(err)
	}

	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if err := r.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	nss, err := listNetns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	links, err := listLinks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range append(nss, links...) {
		if belongs(n, run) {
			t.Errorf("left behind after Stop: %s", n)
		}
	}
	if _, err := os.Stat(StateDir + "/runs/" + run + ".json"); !os.IsNotExist(err) {
		t.Errorf("run record left behind: %v", err)
	}
}

// TestSweep creates the names of a dead run and checks Sweep removes them
// and nothing else.
func TestSweep(t *testing.T) {
	proctest.Need(t, os.Geteuid() == 0, "root")
	ctx := context.Background()
	id, err := newRunID()
	if err != nil {
		t.Fatal(err)
	}
	nw := &network{run: id, subnet: 249, n: 1}
	// Pretend a dead owner: a record with a pid that does not exist.
	if err := withLock(func() error {
		return os.WriteFile(StateDir+"/runs/"+id+".json", []byte(`{"id":"`+id+`","subnet":249,"pid":2147483000}`), 0o644)
	}); err != nil {
		t.Fatal(err)
	}
	if err := nw.setup(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeRun(ctx, id) })
	removed, err := Sweep(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range removed {
		found = found || r == id
	}
	if !found {
		t.Fatalf("Sweep removed %v, want it to include %s", removed, id)
	}
	nss, err := listNetns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nss {
		if belongs(n, id) {
			t.Errorf("Sweep left %s", n)
		}
	}
}

// TestZooKeeperNetns starts the real ZooKeeper (3 members, netns), kills
// the leader and expects the other two to elect a new one.
func TestZooKeeperNetns(t *testing.T) {
	proctest.Need(t, os.Geteuid() == 0, "root")
	tgt, err := cluster.NewTarget("zookeeper", cluster.TargetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	proctest.Need(t, tgt.Check() == nil, "ZooKeeper (apt-get install zookeeper)")
	ctx := context.Background()
	r, err := New(Config{Dir: t.TempDir(), Mode: ModeNetns})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Start(ctx, tgt, 3); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Stop(ctx) })
	old, err := r.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Signal(ctx, old, cluster.SignalKill); err != nil {
		t.Fatal(err)
	}
	ctxw, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		l, err := r.Leader(ctxw)
		if err == nil {
			if l == old {
				t.Fatalf("killed member %s still leader", old)
			}
			break
		}
		if ctxw.Err() != nil {
			t.Fatalf("no new leader after killing %s: %v", old, err)
		}
	}
}

// TestEtcdLoopback runs the no-root mode: members on 127.0.0.x with free
// ports; kill and restart work, partitions are refused.
func TestEtcdLoopback(t *testing.T) {
	tgt, err := cluster.NewTarget("etcd", cluster.TargetOptions{ClusterToken: "loopback"})
	if err != nil {
		t.Fatal(err)
	}
	proctest.Need(t, tgt.Check() == nil, "etcd (apt-get install etcd-server)")
	ctx := context.Background()
	r, err := New(Config{Dir: t.TempDir(), Mode: ModeLoopback})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := r.Start(ctx, tgt, 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Stop(ctx) })
	for _, m := range ms {
		if !strings.HasPrefix(m.Host, "127.0.0.") || m.ClientPort == 2379 {
			t.Fatalf("member %+v: want a 127.0.0.x address and a free port", m)
		}
	}
	leader, err := r.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Signal(ctx, leader, cluster.SignalKill); err != nil {
		t.Fatal(err)
	}
	other := ms[0]
	if other.Name == leader {
		other = ms[1]
	}
	putEventually(t, etcdClient(t, other), "k", "after-kill")
	if err := r.Restart(ctx, leader); err != nil {
		t.Fatal(err)
	}
	// A pause is in force when Signal returns: every thread is stopped.
	if err := r.Signal(ctx, other.Name, cluster.SignalStop); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	pid := r.byName[other.Name].proc.cmd.Process.Pid
	r.mu.Unlock()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("threads of %d: %v %v", pid, tasks, err)
	}
	for _, task := range tasks {
		b, err := os.ReadFile(task)
		if err != nil {
			continue // exited
		}
		if i := bytes.LastIndexByte(b, ')'); i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
			t.Errorf("thread %s still running after the pause returned: %s", task, b)
		}
	}
	if err := r.Signal(ctx, other.Name, cluster.SignalCont); err != nil {
		t.Fatal(err)
	}
	if err := cluster.NewFirewall(r).Partition(ctx, cluster.Grudge{"n1": {"n2"}}); !errors.Is(err, cluster.ErrUnsupported) {
		t.Fatalf("Partition in loopback mode = %v, want ErrUnsupported", err)
	}
}

// TestEtcdLazyFS: with Config.LazyFS each data directory is a lazyfs
// mount; LoseUnsynced refuses a running member, drops a killed one's
// unsynced data (etcd fsyncs what it acknowledges, so an acknowledged put
// survives), the member restarts on what is left, and Stop unmounts
// everything, leaving the data in place.
func TestEtcdLazyFS(t *testing.T) {
	proctest.Need(t, os.Geteuid() == 0, "root")
	_, err := os.Stat("/dev/fuse")
	proctest.Need(t, err == nil, "/dev/fuse")
	tgt, err := cluster.NewTarget("etcd", cluster.TargetOptions{ClusterToken: "lazyfs"})
	if err != nil {
		t.Fatal(err)
	}
	proctest.Need(t, tgt.Check() == nil, "etcd (apt-get install etcd-server)")
	ctx := context.Background()
	dir := t.TempDir()
	r, err := New(Config{Dir: dir, Mode: ModeLoopback, LazyFS: true})
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Capabilities(); !c.LoseUnsynced {
		t.Fatalf("capabilities %+v: want LoseUnsynced as root with /dev/fuse", c)
	}
	ms, err := r.Start(ctx, tgt, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Stop(ctx) })
	m := ms[0]
	mounted, err := lazyfs.Mounted()
	if err != nil || !slices.Contains(mounted, m.DataDir()) {
		t.Fatalf("lazyfs mounts %v (%v): want %s", mounted, err, m.DataDir())
	}
	c := etcdClient(t, m)
	putEventually(t, c, "k", "acknowledged")
	if _, err := r.LoseUnsynced(ctx, m.Name); err == nil || !strings.Contains(err.Error(), "kill it first") {
		t.Fatalf("LoseUnsynced on a running member = %v, want a refusal", err)
	}
	if err := r.Signal(ctx, m.Name, cluster.SignalKill); err != nil {
		t.Fatal(err)
	}
	lost, err := r.LoseUnsynced(ctx, m.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("lost %s", lost)
	if err := r.Restart(ctx, m.Name); err != nil {
		t.Fatal(err)
	}
	gctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		resp, err := c.Get(gctx, "k")
		if err == nil {
			if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "acknowledged" {
				t.Fatalf("after the loss k = %v, want the acknowledged put", resp.Kvs)
			}
			break
		}
		if gctx.Err() != nil {
			t.Fatalf("get after restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if mounted, err := lazyfs.Mounted(); err != nil || slices.ContainsFunc(mounted, func(p string) bool { return strings.HasPrefix(p, dir) }) {
		t.Fatalf("mounts after Stop: %v, %v", mounted, err)
	}
	if _, err := os.Stat(filepath.Join(m.DataDir(), "member", "wal")); err != nil {
		t.Errorf("the data directory after Stop: %v, want etcd's data in place", err)
	}
	if left, _ := filepath.Glob(filepath.Join(m.Dir, ".*lazyfs-trash")); len(left) != 0 {
		t.Errorf("trash left after Stop: %v", left)
	}
}
