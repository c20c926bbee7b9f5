package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/moby/moby/client"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"coordlab/cluster"
)

// testImages maps target name to the image built for this test run.
var testImages map[string]string

// binDir holds the engines built for this run (targets look there).
var binDir string

// TestMain builds the engines and their images once. Without a Docker
// engine the tests skip locally and fail under CI=true: CI must run them.
func TestMain(m *testing.M) {
	SetEnv()
	if err := exec.Command("docker", "info").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "cluster/docker: docker info failed under CI=true: the Docker engine must run for these tests:", err)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "cluster/docker: skipping: docker info failed:", err)
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "clab-docker-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	defer func() { os.RemoveAll(dir); os.Exit(code) }()
	if testImages, err = buildImages(dir); err != nil {
		fmt.Fprintln(os.Stderr, "cluster/docker:", err)
		return
	}
	binDir = dir
	code = m.Run()
}

func buildImages(dir string) (map[string]string, error) {
	root, err := filepath.Abs("../..")
	if err != nil {
		return nil, err
	}
	for _, e := range []string{"raftkv", "zab"} {
		cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, e), "./cmd/"+e)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %v\n%s", e, err, out)
		}
	}
	cmd := exec.Command(filepath.Join(root, "scripts/images.sh"), dir)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("scripts/images.sh: %v", err)
	}
	imgs := map[string]string{}
	for _, line := range strings.Fields(string(out)) {
		if k, v, ok := strings.Cut(line, "="); ok {
			imgs[k] = v
		}
	}
	return imgs, nil
}

func newRuntime(t *testing.T) *Runtime {
	t.Helper()
	ctx := context.Background()
	r, err := New(ctx, Config{Dir: t.TempDir(), Images: testImages})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
		leftovers(t, LabelRun+"="+r.RunID())
	})
	return r
}

// leftovers fails t if a container or network labelled label remains, or
// the host has our nft table (the firewall lives in the containers'
// namespaces only).
func leftovers(t *testing.T, label string) {
	t.Helper()
	for _, what := range [][]string{{"ps", "-aq"}, {"network", "ls", "-q"}} {
		out, err := exec.Command("docker", append(what, "--filter", "label="+label)...).Output()
		if err != nil || strings.TrimSpace(string(out)) != "" {
			t.Errorf("docker %s left after Stop: %q (%v)", what[0], out, err)
		}
	}
	if out, err := exec.Command("nft", "list", "tables").Output(); err == nil && strings.Contains(string(out), "coordlab") {
		t.Errorf("the host has a coordlab nft table: %s", out)
	}
}

// writer is a client pinned to one member.
type writer interface {
	write(ctx context.Context, key, val string) error
	close()
}

type etcdWriter struct{ c *clientv3.Client }

func (w etcdWriter) write(ctx context.Context, k, v string) error {
	_, err := w.c.Put(ctx, k, v)
	return err
}
func (w etcdWriter) close() { w.c.Close() }

type zkWriter struct{ c *zk.Conn }

func (w zkWriter) write(ctx context.Context, k, v string) error {
	// go-zookeeper has no contexts: its requests time out with the session.
	_, err := w.c.Create("/"+k, []byte(v), 0, zk.WorldACL(zk.PermAll))
	return err
}
func (w zkWriter) close() { w.c.Close() }

func dial(t *testing.T, target cluster.Target, m cluster.Member) writer {
	t.Helper()
	if target.Protocol() == cluster.ProtocolEtcd {
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{m.ClientAddr()}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		return etcdWriter{c}
	}
	c, _, err := zk.Connect([]string{m.ClientAddr()}, 4*time.Second, zk.WithLogger(nopLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	return zkWriter{c}
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// TestPartitionLeader starts a 3-member cluster of every target in Docker
// (our engines and the real etcd and ZooKeeper), cuts the leader off from
// the other two, and checks what must happen: the majority elects a new
// leader and takes writes, the minority refuses them (and a ZooKeeper
// member outside a quorum stops serving); after healing the old leader
// takes writes again; a killed member restarts with its data, its
// firewall re-installed, and serves again.
func TestPartitionLeader(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"raftkv", "zab", "etcd", "zookeeper"} {
		t.Run(name, func(t *testing.T) {
			// Each cluster has its own network and run id; in parallel
			// the four take the time of the slowest (ZooKeeper's JVMs).
			t.Parallel()
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			target, err := cluster.NewTarget(name, cluster.TargetOptions{BinDir: binDir})
			if err != nil {
				t.Fatal(err)
			}
			r := newRuntime(t)
			ms, err := r.Start(ctx, target, 3)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d members up in %s", len(ms), time.Since(start).Round(time.Millisecond))
			if reference(target) {
				checkCommandLine(t, r, target, ms)
			}
			old, err := r.Leader(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var rest []cluster.Member
			var oldM cluster.Member
			g := cluster.Grudge{}
			for _, m := range ms {
				if m.Name == old {
					oldM = m
					continue
				}
				rest = append(rest, m)
				g[m.Name] = []string{old}
				g[old] = append(g[old], m.Name)
			}
			fw := cluster.NewFirewall(r)
			if err := fw.Partition(ctx, g); err != nil {
				t.Fatal(err)
			}
			// The majority elects a leader of its own.
			var newLeader string
			deadline := time.Now().Add(30 * time.Second)
			for newLeader == "" && time.Now().Before(deadline) {
				if l, err := cluster.FindLeader(ctx, target, rest); err == nil {
					newLeader = l
				} else {
					time.Sleep(200 * time.Millisecond)
				}
			}
			if newLeader == "" {
				t.Fatalf("no leader among %v within 30s of cutting %s off", names(rest), old)
			}
			maj := dial(t, target, rest[0])
			defer maj.close()
			if err := retryWrite(ctx, maj, "majority", "1", 20*time.Second); err != nil {
				t.Fatalf("majority side (%s) refused a write: %v", rest[0].Name, err)
			}
			// The minority must not accept a write.
			minority := dial(t, target, oldM)
			wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
			err = minority.write(wctx, "minority", "1")
			wcancel()
			minority.close()
			if err == nil {
				t.Fatalf("the isolated old leader %s accepted a write", old)
			}
			t.Logf("old leader %s cut off; %s leads the majority; minority write refused: %v", old, newLeader, err)
			if target.Protocol() == cluster.ProtocolZooKeeper {
				// Outside a quorum a member stops serving: srvr answers
				// "not currently serving requests".
				var perr error
				for deadline := time.Now().Add(30 * time.Second); perr == nil && time.Now().Before(deadline); {
					if _, perr = target.Probe(ctx, oldM); perr == nil {
						time.Sleep(200 * time.Millisecond)
					}
				}
				if perr == nil {
					t.Fatalf("the isolated %s still serves 30s after the cut", old)
				}
				t.Logf("the isolated %s stopped serving: %v", old, perr)
			}
			// A restart makes a new namespace: the member's rules must be
			// installed there again (a majority member, which serves once
			// it is back).
			if err := r.Signal(ctx, rest[1].Name, cluster.SignalKill); err != nil {
				t.Fatal(err)
			}
			if err := r.Restart(ctx, rest[1].Name); err != nil {
				t.Fatal(err)
			}
			if table := nftTable(t, r, rest[1].Name); !strings.Contains(table, oldM.Host) {
				t.Fatalf("after a restart, %s's table does not drop %s:\n%s", rest[1].Name, oldM.Host, table)
			}
			if err := fw.Heal(ctx); err != nil {
				t.Fatal(err)
			}
			healed := dial(t, target, oldM)
			defer healed.close()
			if err := retryWrite(ctx, healed, "healed", "1", 30*time.Second); err != nil {
				t.Fatalf("after heal, %s refused writes: %v", old, err)
			}
			// Kill and restart the new leader: it comes back with its data
			// and takes writes again.
			if err := r.Signal(ctx, newLeader, cluster.SignalKill); err != nil {
				t.Fatal(err)
			}
			if err := r.Restart(ctx, newLeader); err != nil {
				t.Fatal(err)
			}
			var back cluster.Member
			for _, m := range ms {
				if m.Name == newLeader {
					back = m
				}
			}
			again := dial(t, target, back)
			defer again.close()
			if err := retryWrite(ctx, again, "restarted", "1", 30*time.Second); err != nil {
				t.Fatalf("after its restart, %s refused writes: %v", newLeader, err)
			}
			t.Logf("%s: whole test in %s", name, time.Since(start).Round(time.Millisecond))
		})
	}
}

// checkCommandLine checks that a reference system's containers run the
// local runtime's command line: the target's program as entrypoint, with
// the same arguments.
func checkCommandLine(t *testing.T, r *Runtime, target cluster.Target, ms []cluster.Member) {
	t.Helper()
	for _, m := range ms {
		want, err := target.Command(m, ms)
		if err != nil {
			t.Fatal(err)
		}
		r.mu.Lock()
		id := r.byName[m.Name].ctr.GetContainerID()
		r.mu.Unlock()
		info, err := r.api.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := append([]string{info.Container.Path}, info.Container.Args...)
		if w := append([]string{want.Path}, want.Args...); !slices.Equal(got, w) {
			t.Fatalf("%s runs %q, want the local runtime's %q", m.Name, got, w)
		}
	}
}

func retryWrite(ctx context.Context, w writer, key, val string, d time.Duration) error {
	deadline := time.Now().Add(d)
	var err error
	for i := 0; time.Now().Before(deadline); i++ {
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err = w.write(wctx, fmt.Sprintf("%s-%d", key, i), val)
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

func names(ms []cluster.Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return slices.Clip(out)
}

func TestMissingImage(t *testing.T) {
	ctx := context.Background()
	// A reference image is built from the Dockerfile in DockerDir: without
	// one the error names the file.
	etcd, err := cluster.NewTarget("etcd", cluster.TargetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(ctx, Config{Dir: t.TempDir(), DockerDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop(ctx)
	if _, err := r.Start(ctx, etcd, 3); err == nil || !strings.Contains(err.Error(), "etcd.Dockerfile") {
		t.Fatalf("Start(etcd) without its Dockerfile = %v, want an error naming etcd.Dockerfile", err)
	}
	r2, err := New(ctx, Config{Dir: t.TempDir(), Images: map[string]string{"raftkv": "coordlab/raftkv:does-not-exist"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Stop(ctx)
	raftkv, _ := cluster.NewTarget("raftkv", cluster.TargetOptions{BinDir: binDir})
	if _, err := r2.Start(ctx, raftkv, 3); err == nil || !strings.Contains(err.Error(), "make images") {
		t.Fatalf("Start with a missing image = %v, want an error saying `make images`", err)
	}
	leftovers(t, LabelRun+"="+r.RunID())
	leftovers(t, LabelRun+"="+r2.RunID())
}

// TestFindDockerDir: the Dockerfiles are found from a working directory
// inside the repository (here cluster/docker), and a name with none says
// what to do.
func TestFindDockerDir(t *testing.T) {
	want, err := filepath.Abs("../../docker")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"etcd", "zookeeper"} {
		if got, err := findDockerDir(name); err != nil || got != want {
			t.Errorf("findDockerDir(%s) = %q, %v; want %q", name, got, err, want)
		}
	}
	if _, err := findDockerDir("no-such-image"); !errors.Is(err, ErrNoImage) || !strings.Contains(err.Error(), "no-such-image.Dockerfile") {
		t.Errorf("findDockerDir(no-such-image) = %v, want ErrNoImage naming the Dockerfile", err)
	}
}

// nftTable lists our table in the member's container namespace.
func nftTable(t *testing.T, r *Runtime, name string) string {
	t.Helper()
	r.mu.Lock()
	m := r.byName[name]
	r.mu.Unlock()
	info, err := r.api.ContainerInspect(context.Background(), m.ctr.GetContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(info.Container.State.Pid), "-n", "nft", "list", "table", "inet", "coordlab").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list table in %s: %v\n%s", name, err, out)
	}
	return string(out)
}

// TestRestartLogsOnce: a member's log holds the output of each start of
// its container once; following the container again after a restart must
// not copy the earlier starts' output again.
func TestRestartLogsOnce(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	etcd, err := cluster.NewTarget("etcd", cluster.TargetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := newRuntime(t)
	ms, err := r.Start(ctx, etcd, 1)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := r.Signal(ctx, ms[0].Name, cluster.SignalKill); err != nil {
			t.Fatal(err)
		}
		if err := r.Restart(ctx, ms[0].Name); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(ms[0].LogPath())
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "starting an etcd server"); n != 3 {
		t.Fatalf("the log of 3 starts says \"starting an etcd server\" %d times, want 3", n)
	}
}
