package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// These tests build the reference images and run them with the docker
// CLI on a private network of their own. Without a Docker engine, or
// without Debian's etcd and ZooKeeper, they skip locally and fail under
// CI=true: CI must run them.

var (
	dockerOnce sync.Once
	dockerErr  error
	builtMu    sync.Mutex
	built      = map[string]string{}
)

func needDocker(t *testing.T) {
	t.Helper()
	dockerOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		dockerErr = CheckDocker(ctx)
	})
	if dockerErr != nil {
		unavailable(t, dockerErr)
	}
}

func unavailable(t *testing.T, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("under CI=true this test must run: %v", err)
	}
	t.Skipf("skipping: %v", err)
}

// image builds (once per test binary) and returns name's tag.
func image(t *testing.T, name string) string {
	t.Helper()
	needDocker(t)
	builtMu.Lock()
	defer builtMu.Unlock()
	if tag := built[name]; tag != "" {
		return tag
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	tag, fresh, err := Build(ctx, name, Options{DockerDir: "../docker"})
	if errors.Is(err, ErrNotInstalled) {
		unavailable(t, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	size, _ := exec.Command("docker", "image", "inspect", "-f", "{{.Size}}", tag).Output()
	t.Logf("%s: %s (built: %v, %v), %s bytes", name, tag, fresh, time.Since(start).Round(time.Millisecond), strings.TrimSpace(string(size)))
	built[name] = tag
	return tag
}

// lab is one test's docker network and containers, all labelled so the
// cleanup removes exactly them.
type lab struct {
	t      *testing.T
	id     string
	net    string
	prefix [3]byte // 10.x.y
}

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{t: t, id: fmt.Sprintf("clab-imgtest-%d-%06d", os.Getpid(), rand.IntN(1e6))}
	t.Cleanup(l.cleanup)
	var last string
	for try := 0; try < 8; try++ {
		l.prefix = [3]byte{10, 79, byte(rand.IntN(250) + 1)}
		subnet := fmt.Sprintf("%d.%d.%d.0/24", l.prefix[0], l.prefix[1], l.prefix[2])
		out, err := exec.Command("docker", "network", "create", "--subnet", subnet, "--label", "coordlab.test="+l.id, l.id).CombinedOutput()
		if err == nil {
			l.net = l.id
			return l
		}
		last = strings.TrimSpace(string(out)) // most likely the subnet overlaps another network
	}
	t.Fatalf("docker network create: %s", last)
	return nil
}

func (l *lab) ip(i int) string {
	return fmt.Sprintf("%d.%d.%d.%d", l.prefix[0], l.prefix[1], l.prefix[2], 10+i)
}

func (l *lab) name(i int) string { return l.id + "-n" + strconv.Itoa(i) }

// run starts member i of image img with docker run options opts and the
// container's args.
func (l *lab) run(i int, img string, opts []string, args ...string) {
	l.t.Helper()
	cmd := append([]string{"run", "-d", "--name", l.name(i), "--hostname", "n" + strconv.Itoa(i),
		"--label", "coordlab.test=" + l.id, "--network", l.net, "--ip", l.ip(i)}, opts...)
	cmd = append(append(cmd, img), args...)
	if out, err := exec.Command("docker", cmd...).CombinedOutput(); err != nil {
		l.t.Fatalf("docker %s: %v: %s", strings.Join(cmd, " "), err, out)
	}
}

func (l *lab) docker(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// logs returns member i's output, for failure messages.
func (l *lab) logs(i int) string {
	out, _ := exec.Command("docker", "logs", "--tail", "30", l.name(i)).CombinedOutput()
	return string(out)
}

func (l *lab) cleanup() {
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=coordlab.test="+l.id).Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		if out, err := exec.Command("docker", append([]string{"rm", "-f", "-v"}, ids...)...).CombinedOutput(); err != nil {
			l.t.Errorf("docker rm: %v: %s", err, out)
		}
	}
	if l.net != "" {
		if out, err := exec.Command("docker", "network", "rm", l.net).CombinedOutput(); err != nil {
			l.t.Errorf("docker network rm: %v: %s", err, out)
		}
	}
}

// until retries f until it succeeds or ctx ends, and returns f's last error.
func until(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// etcdArgs are the flags of member i of an n-member etcd cluster at the
// lab's static addresses, data in /data (a tmpfs or volume).
func etcdArgs(l *lab, i, n int) []string {
	var initial []string
	for j := 1; j <= n; j++ {
		initial = append(initial, fmt.Sprintf("n%d=http://%s:2380", j, l.ip(j)))
	}
	return []string{
		"--name", "n" + strconv.Itoa(i), "--data-dir", "/data/etcd",
		"--listen-client-urls", "http://0.0.0.0:2379", "--advertise-client-urls", "http://" + l.ip(i) + ":2379",
		"--listen-peer-urls", "http://0.0.0.0:2380", "--initial-advertise-peer-urls", "http://" + l.ip(i) + ":2380",
		"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
		"--initial-cluster-token", l.id, "--logger", "zap", "--log-outputs", "stderr",
	}
}

func etcdClient(t *testing.T, endpoints ...string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// etcdGet reads key linearizably from one endpoint and returns its value.
// etcdGet is a linearizable get, tried again while the member cannot
// answer (a loaded machine can delay a read past one attempt's timeout).
func etcdGet(ctx context.Context, c *clientv3.Client, key string) (string, error) {
	var r *clientv3.GetResponse
	err := until(ctx, func() error {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		var err error
		r, err = c.Get(rctx, key)
		return err
	})
	if err != nil {
		return "", err
	}
	if len(r.Kvs) != 1 {
		return "", fmt.Errorf("get %s: %d keys", key, len(r.Kvs))
	}
	return string(r.Kvs[0].Value), nil
}

func etcdPut(ctx context.Context, c *clientv3.Client, key, val string) error {
	return until(ctx, func() error {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		_, err := c.Put(pctx, key, val)
		return err
	})
}

func TestEtcdSingleMember(t *testing.T) {
	img := image(t, "etcd")
	l := newLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	l.run(1, img, []string{"--tmpfs", "/data"}, etcdArgs(l, 1, 1)...)
	c := etcdClient(t, l.ip(1)+":2379")
	if err := etcdPut(ctx, c, "greeting", "hello"); err != nil {
		t.Fatalf("put: %v\n%s", err, l.logs(1))
	}
	t.Logf("etcd: start to first put %v", time.Since(start).Round(time.Millisecond))
	if v, err := etcdGet(ctx, c, "greeting"); err != nil || v != "hello" {
		t.Fatalf("get greeting = %q, %v", v, err)
	}
}

// TestEtcdDefaultCommand runs the image with no arguments: the default
// command must start a working single member.
func TestEtcdDefaultCommand(t *testing.T) {
	img := image(t, "etcd")
	l := newLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l.run(1, img, nil)
	c := etcdClient(t, l.ip(1)+":2379")
	if err := etcdPut(ctx, c, "k", "v"); err != nil {
		t.Fatalf("put: %v\n%s", err, l.logs(1))
	}
}

func TestEtcdThreeMembersKillRestart(t *testing.T) {
	img := image(t, "etcd")
	l := newLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for i := 1; i <= 3; i++ {
		// A named volume per member keeps the data across a kill and
		// restart of the same container (rm -v removes it).
		l.run(i, img, []string{"-v", "/data"}, etcdArgs(l, i, 3)...)
	}
	all := etcdClient(t, l.ip(1)+":2379", l.ip(2)+":2379", l.ip(3)+":2379")
	if err := etcdPut(ctx, all, "k", "v1"); err != nil {
		t.Fatalf("put: %v\n%s", err, l.logs(1))
	}
	ml, err := all.MemberList(ctx)
	if err != nil || len(ml.Members) != 3 {
		t.Fatalf("member list: %v, %v", ml, err)
	}
	for i := 1; i <= 3; i++ {
		c := etcdClient(t, l.ip(i)+":2379")
		if v, err := etcdGet(ctx, c, "k"); err != nil || v != "v1" {
			t.Fatalf("n%d: get k = %q, %v", i, v, err)
		}
	}
	// SIGKILL one member: the other two keep a quorum; a restart of the
	// same container rejoins with its data and catches up.
	l.docker("kill", "-s", "KILL", l.name(3))
	if err := etcdPut(ctx, all, "k", "v2"); err != nil {
		t.Fatalf("put with n3 down: %v", err)
	}
	start := time.Now()
	l.docker("start", l.name(3))
	c3 := etcdClient(t, l.ip(3)+":2379")
	if err := until(ctx, func() error {
		v, err := etcdGet(ctx, c3, "k")
		if err == nil && v != "v2" {
			err = fmt.Errorf("n3 reads %q", v)
		}
		return err
	}); err != nil {
		t.Fatalf("n3 after restart: %v\n%s", err, l.logs(3))
	}
	t.Logf("etcd: restart to serving the latest value %v", time.Since(start).Round(time.Millisecond))
}

// zooCfg is the configuration of an n-member ensemble at the lab's static
// addresses (n = 1: standalone).
func zooCfg(l *lab, n int) string {
	var b strings.Builder
	b.WriteString("tickTime=1000\ninitLimit=10\nsyncLimit=5\ndataDir=/data\nclientPort=2181\n")
	b.WriteString("maxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\n")
	if n > 1 {
		b.WriteString("standaloneEnabled=false\nreconfigEnabled=false\n")
		for j := 1; j <= n; j++ {
			fmt.Fprintf(&b, "server.%d=%s:2888:3888\n", j, l.ip(j))
		}
	}
	return b.String()
}

// zkMember writes member i's zoo.cfg and myid under a host directory and
// returns the docker run options that mount them: the configuration
// read-only at /conf, the data directory at /data.
func zkMember(t *testing.T, l *lab, i, n int, extra ...string) []string {
	t.Helper()
	dir := t.TempDir()
	conf, data := filepath.Join(dir, "conf"), filepath.Join(dir, "data")
	for _, d := range []string{conf, data} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(conf, "zoo.cfg"), []byte(zooCfg(l, n)+strings.Join(extra, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "myid"), []byte(strconv.Itoa(i)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"-v", conf + ":/conf:ro", "-v", data + ":/data"}
}

// fourLetter sends a four-letter word and returns the answer.
func fourLetter(ctx context.Context, addr, word string) (string, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c, word); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// zkServing waits until the member at addr serves: `srvr` names its mode
// (a member outside a quorum answers "not currently serving").
func zkServing(ctx context.Context, addr string) (mode string, err error) {
	err = until(ctx, func() error {
		out, err := fourLetter(ctx, addr, "srvr")
		if err != nil {
			return err
		}
		for _, line := range strings.Split(out, "\n") {
			if m, ok := strings.CutPrefix(line, "Mode: "); ok {
				mode = strings.TrimSpace(m)
				return nil
			}
		}
		return fmt.Errorf("srvr: %q", out)
	})
	return mode, err
}

func zkConnect(t *testing.T, ctx context.Context, addr string) *zk.Conn {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogger(zkLog{t}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				return c
			}
		case <-ctx.Done():
			t.Fatalf("zk session with %s: %v", addr, ctx.Err())
		}
	}
}

type zkLog struct{ t *testing.T }

func (zkLog) Printf(string, ...any) {}

// TestZooKeeperStandalone binds the client port on a name that only the
// container's /etc/hosts knows (--add-host): the JVM resolves it through
// glibc's files source.
func TestZooKeeperStandalone(t *testing.T) {
	img := image(t, "zookeeper")
	l := newLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	opts := zkMember(t, l, 1, 1, "clientPortAddress=zk-hosts-only\n")
	l.run(1, img, append(opts, "--add-host", "zk-hosts-only:"+l.ip(1)))
	addr := l.ip(1) + ":2181"
	mode, err := zkServing(ctx, addr)
	if err != nil {
		t.Fatalf("n1 not serving: %v\n%s", err, l.logs(1))
	}
	t.Logf("zookeeper standalone: docker run to serving (%s) %v", mode, time.Since(start).Round(time.Millisecond))
	if mode != "standalone" {
		t.Fatalf("mode %q, want standalone", mode)
	}
	c := zkConnect(t, ctx, addr)
	if _, err := c.Create("/greeting", []byte("hello"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if b, _, err := c.Get("/greeting"); err != nil || string(b) != "hello" {
		t.Fatalf("get /greeting = %q, %v", b, err)
	}
	if strings.Contains(l.logs(1), "ERROR") {
		t.Errorf("server logged an error:\n%s", l.logs(1))
	}
}

func TestZooKeeperEnsembleKillPauseRestart(t *testing.T) {
	img := image(t, "zookeeper")
	l := newLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	for i := 1; i <= 3; i++ {
		l.run(i, img, zkMember(t, l, i, 3))
	}
	modes := map[string]int{}
	leader, followers := 0, []int{}
	for i := 1; i <= 3; i++ {
		mode, err := zkServing(ctx, l.ip(i)+":2181")
		if err != nil {
			t.Fatalf("n%d not serving: %v\n%s", i, err, l.logs(i))
		}
		modes[mode]++
		if mode == "leader" {
			leader = i
		} else {
			followers = append(followers, i)
		}
	}
	t.Logf("zookeeper 3 members: docker run to all serving %v (%v)", time.Since(start).Round(time.Millisecond), modes)
	if modes["leader"] != 1 || modes["follower"] != 2 {
		t.Fatalf("modes %v, want one leader and two followers", modes)
	}
	// The writer talks to the leader; the faults hit the followers, so
	// the quorum (leader and one follower) holds throughout.
	cw := zkConnect(t, ctx, l.ip(leader)+":2181")
	if _, err := cw.Create("/k", []byte("v1"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	syncGet := func(c *zk.Conn) (string, error) {
		if _, err := c.Sync("/k"); err != nil {
			return "", err
		}
		b, _, err := c.Get("/k")
		return string(b), err
	}
	paused, killed := followers[0], followers[1]
	cr := zkConnect(t, ctx, l.ip(killed)+":2181")
	if v, err := syncGet(cr); err != nil || v != "v1" {
		t.Fatalf("n%d reads %q, %v", killed, v, err)
	}

	// Pause freezes the JVM (cgroup freezer): its sessions and quorum
	// links stall; after unpause it serves again.
	l.docker("pause", l.name(paused))
	if _, err := cw.Set("/k", []byte("v2"), -1); err != nil {
		t.Fatalf("set with n%d paused: %v", paused, err)
	}
	l.docker("unpause", l.name(paused))
	if _, err := zkServing(ctx, l.ip(paused)+":2181"); err != nil {
		t.Fatalf("n%d after unpause: %v\n%s", paused, err, l.logs(paused))
	}

	// SIGKILL gives the JVM no chance to run shutdown hooks; a restart of
	// the same container replays its transaction log from /data and
	// rejoins.
	l.docker("kill", "-s", "KILL", l.name(killed))
	if _, err := cw.Set("/k", []byte("v3"), -1); err != nil {
		t.Fatalf("set with n%d killed: %v", killed, err)
	}
	restart := time.Now()
	l.docker("start", l.name(killed))
	if _, err := zkServing(ctx, l.ip(killed)+":2181"); err != nil {
		t.Fatalf("n%d after restart: %v\n%s", killed, err, l.logs(killed))
	}
	t.Logf("zookeeper: restart of a killed member to serving %v", time.Since(restart).Round(time.Millisecond))
	cr2 := zkConnect(t, ctx, l.ip(killed)+":2181")
	if v, err := syncGet(cr2); err != nil || v != "v3" {
		t.Fatalf("n%d after restart reads %q, %v", killed, v, err)
	}
	for i := 1; i <= 3; i++ {
		if logs := l.logs(i); strings.Contains(logs, "UnsatisfiedLinkError") || strings.Contains(logs, "NoClassDefFoundError") {
			t.Errorf("n%d: the image lacks a file the server loads:\n%s", i, logs)
		}
	}
}
