package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"coordlab/proctest"
)

var binPath string

func TestMain(m *testing.M) {
	dir, cleanup, err := proctest.Binaries("raftkv")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "raftkv")
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// member is one raftkv process; proc is nil while it is down.
type member struct {
	args   []string
	client string
	proc   *proctest.Process
	output string // of the processes killed so far
}

func (m *member) start(t *testing.T) {
	t.Helper()
	m.proc = proctest.Start(t, binPath, m.args...)
}

func (m *member) kill() {
	if m.proc == nil {
		return
	}
	m.proc.Kill()
	m.output += m.proc.Output()
	m.proc = nil
}

// log is everything the member printed, across restarts.
func (m *member) log() string {
	if m.proc == nil {
		return m.output
	}
	return m.output + m.proc.Output()
}

func startMembers(t *testing.T, n int) []*member {
	t.Helper()
	base := t.TempDir()
	var ic []string
	type ports struct{ client, peer int }
	var ps []ports
	for i := range n {
		p := ports{proctest.FreePort(t), proctest.FreePort(t)}
		ps = append(ps, p)
		ic = append(ic, fmt.Sprintf("p%d=http://127.0.0.1:%d", i, p.peer))
	}
	var ms []*member
	for i, p := range ps {
		cu := fmt.Sprintf("http://127.0.0.1:%d", p.client)
		pu := fmt.Sprintf("http://127.0.0.1:%d", p.peer)
		m := &member{client: cu, args: []string{
			"--name", fmt.Sprintf("p%d", i), "--data-dir", filepath.Join(base, fmt.Sprintf("p%d", i)),
			"--listen-client-urls", cu, "--advertise-client-urls", cu,
			"--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu,
			"--initial-cluster", strings.Join(ic, ","), "--initial-cluster-token", "proc-test",
			"--heartbeat-interval", "50", "--election-timeout", "500",
			"--snapshot-count", "500", "--log-level", "warn",
		}}
		m.start(t)
		ms = append(ms, m)
	}
	t.Cleanup(func() {
		for _, m := range ms {
			m.kill()
		}
		if t.Failed() {
			for i, m := range ms {
				t.Logf("member %d output:\n%s", i, m.log())
			}
		}
	})
	return ms
}

func newClient(t *testing.T, endpoints ...string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// leaderIndex asks each member for its status until one says it leads.
func leaderIndex(t *testing.T, ms []*member) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for i, m := range ms {
			if m.proc == nil {
				continue
			}
			cli, err := clientv3.New(clientv3.Config{Endpoints: []string{m.client}, DialTimeout: time.Second, Logger: zap.NewNop()})
			if err != nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := cli.Status(ctx, m.client)
			cancel()
			cli.Close()
			if err == nil && st.Leader != 0 && st.Leader == st.Header.MemberId {
				return i
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no leader within 15s")
	return -1
}

// missingKeys reads every key under prefix through ep (linearizable) and
// returns how many of want are absent.
func missingKeys(t *testing.T, ep, prefix string, want map[string]bool) (int, error) {
	cli := newClient(t, ep)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return len(want), err
	}
	have := make(map[string]bool, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		have[string(kv.Key)] = true
	}
	missing := 0
	for k := range want {
		if !have[k] {
			missing++
		}
	}
	return missing, nil
}

// waitAllPresent waits until ep (which may be catching up) serves every key
// in want. Keys beyond want may exist: a write whose answer was lost in the
// failover may still have committed.
func waitAllPresent(t *testing.T, ep, prefix string, want map[string]bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var missing int
	var err error
	for time.Now().Before(deadline) {
		if missing, err = missingKeys(t, ep, prefix, want); err == nil && missing == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %d of %d acknowledged keys under %q missing (last err %v)", ep, missing, len(want), prefix, err)
}

func TestKillLeaderUnderWritesThenRestartAll(t *testing.T) {
	if testing.Short() {
		t.Skip("process cluster test")
	}
	ms := startMembers(t, 3)
	lead := leaderIndex(t, ms)
	var eps []string
	for _, m := range ms {
		eps = append(eps, m.client)
	}
	cli := newClient(t, eps...)

	// Writers put unique keys and record what was acknowledged.
	var mu sync.Mutex
	acked := map[string]bool{}
	var lastAck time.Time
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("acked/%d/%06d", g, n)
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_, err := cli.Put(ctx, k, "v")
				cancel()
				if err == nil {
					mu.Lock()
					acked[k] = true
					lastAck = time.Now()
					mu.Unlock()
				}
			}
		}()
	}
	ackedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	waitUntil := func(what string, cond func() bool) {
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out: %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitUntil("100 acknowledged writes", func() bool { return ackedCount() >= 100 })

	ms[lead].kill()
	killedAt := time.Now()
	before := ackedCount()
	waitUntil("a write acknowledged after the leader was killed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return lastAck.After(killedAt) && len(acked) > before
	})
	if took := time.Since(killedAt); took > 2*time.Second {
		t.Errorf("first write after killing the leader took %v, want < 2s", took)
	}
	waitUntil("more writes on the new leader", func() bool { return ackedCount() >= before+100 })

	// The killed member restarts from its data dir and catches up.
	ms[lead].start(t)
	close(stop)
	wg.Wait()
	mu.Lock()
	want := make(map[string]bool, len(acked))
	for k := range acked {
		want[k] = true
	}
	mu.Unlock()
	for _, m := range ms {
		waitAllPresent(t, m.client, "acked/", want) // no acknowledged write lost, on each member
	}

	// Kill every member and restart all: everything acknowledged is still there.
	for _, m := range ms {
		m.kill()
	}
	for _, m := range ms {
		m.start(t)
	}
	leaderIndex(t, ms)
	for _, m := range ms {
		waitAllPresent(t, m.client, "acked/", want)
	}
}
func TestBadFlagsExitWithOneLine(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--no-such-flag"}, "flag provided but not defined"},
		{"bad cluster state", []string{"--initial-cluster-state", "maybe"}, "--initial-cluster-state"},
		{"election too short", []string{"--heartbeat-interval", "100", "--election-timeout", "200"}, "--election-timeout"},
		{"name not in cluster", []string{"--name", "x", "--initial-cluster", "y=http://127.0.0.1:1"}, "no entry for --name"},
		{"data dir is a file", []string{"--data-dir", filepath.Join(blocker, "sub"), "--listen-client-urls", "http://127.0.0.1:0", "--advertise-client-urls", "http://127.0.0.1:0", "--listen-peer-urls", "http://127.0.0.1:0"}, "data dir"},
		{"listen without advertise", []string{"--listen-client-urls", "http://127.0.0.1:0"}, "--advertise-client-urls is required when --listen-client-urls is set explicitly"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command(binPath, tt.args...).CombinedOutput()
			if err == nil {
				t.Fatalf("raftkv %v exited 0, want non-zero", tt.args)
			}
			s := strings.TrimSpace(string(out))
			if strings.Count(s, "\n") != 0 || !strings.Contains(s, tt.want) {
				t.Fatalf("raftkv %v printed %q, want one line containing %q", tt.args, s, tt.want)
			}
		})
	}
}
