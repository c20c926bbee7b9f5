package run

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"coordlab/analysis"
	"coordlab/cluster"
	"coordlab/history"
	"coordlab/lazyfs"
	"coordlab/proctest"
)

func needTarget(t *testing.T, name string) {
	t.Helper()
	proctest.Need(t, os.Geteuid() == 0, "root (network namespaces for partitions)")
	_, err := exec.LookPath("nft")
	proctest.Need(t, err == nil, "nft (apt-get install nftables)")
	tg, err := cluster.NewTarget(name, cluster.TargetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Check(); err != nil {
		proctest.Need(t, false, err.Error())
	}
}

// binDir holds raftkv and zab: $COORDLAB_BIN, or built by TestMain.
var binDir, binErr = os.Getenv("COORDLAB_BIN"), error(nil)

func TestMain(m *testing.M) {
	code := func() int {
		if binDir == "" {
			dir, err := os.MkdirTemp("", "coordlab-bin-")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			defer os.RemoveAll(dir)
			binDir = dir
			out, err := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "coordlab/cmd/raftkv", "coordlab/cmd/zab").CombinedOutput()
			if err != nil {
				binErr = fmt.Errorf("go build ./cmd/raftkv ./cmd/zab: %v\n%s", err, out)
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// needOurs fails the test when our engines could not be built.
func needOurs(t *testing.T) {
	t.Helper()
	proctest.Need(t, os.Geteuid() == 0, "root (network namespaces for partitions)")
	if binErr != nil {
		t.Fatal(binErr)
	}
}

// e2e runs spec and returns the results; a run error fails the test. The
// run directory is kept (and logged) when the test fails.
func e2e(t *testing.T, s Spec) analysis.Results {
	t.Helper()
	return e2eRun(t, s, nil).Results
}

// e2eRun is e2e with the run's progress lines going to progress (nil
// discards), returning the outcome with its run directory.
func e2eRun(t *testing.T, s Spec, progress io.Writer) Outcome {
	t.Helper()
	dir, err := os.MkdirTemp("", "coordlab-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(dir)
		}
	})
	s.Out = dir
	s.BinDir = binDir
	if s.CheckLimit == 0 {
		s.CheckLimit = Duration(3 * time.Minute) // -race on a shared 2-core machine is slow
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	o, err := Run(ctx, Config{Spec: s, Progress: progress})
	if err != nil {
		t.Fatalf("run %+v: %v", s, err)
	}
	t.Logf("%s: verdict %s, ops %+v", o.Dir, o.Results.Valid, o.Results.Counts)
	for n, c := range o.Results.Checkers {
		if c.Note != "" {
			t.Logf("  %s: note: %.300s", n, c.Note)
		}
		for i, a := range c.Anomalies {
			if i < 2 {
				t.Logf("  %s: %s: %.300s", n, a.Kind, a.Explanation)
			}
		}
	}
	return o
}

// attempts is how often a test that expects a known anomaly runs before it
// gives up. Showing the anomaly once proves the lab finds it; the timing of
// a fault against a shared, loaded machine decides whether one short run
// does. Tests that expect a valid history run once: a retry would hide a
// false alarm.
const attempts = 3

// eventually runs spec until found says the results show the anomaly.
func eventually(t *testing.T, s Spec, found func(analysis.Results) bool) analysis.Results {
	t.Helper()
	var r analysis.Results
	for i := range attempts {
		r = e2e(t, s)
		if found(r) {
			return r
		}
		t.Logf("attempt %d of %d: anomaly not shown", i+1, attempts)
	}
	return r
}

func hasKind(c analysis.CheckerResult, kind string) bool {
	for _, a := range c.Anomalies {
		if a.Kind == kind {
			return true
		}
	}
	return false
}

// partitionSpec: register under partitions (2 s apart, 6 s each).
// Stale reads need a member left behind by a majority that goes on
// writing: isolating a follower makes that certain, where a random shape
// may cut the leader off and stall everyone instead.
func partitionSpec(target, nemesis, mode string) Spec {
	return Spec{Target: target, Workload: "register", Nemesis: nemesis, ReadMode: mode, Seed: 1,
		TimeLimit: Duration(16 * time.Second), Interval: Duration(2 * time.Second), FaultFor: Duration(6 * time.Second),
		Rate: 200, Concurrency: 10}
}

// zkLocalSpec: see TestZooKeeperLocalReads.
func zkLocalSpec(target string) Spec {
	s := partitionSpec(target, "partition-isolate-follower", "local")
	// A client of the cut-off follower reads until its first write blocks
	// (a write needs the leader; so does a new session after the op times
	// out), so stale reads come from many threads doing few ops each: 7
	// threads per member, on 3 keys that the majority keeps rewriting.
	// Short partitions (3 s, below ZooKeeper's 5 s follower timeout) one
	// second apart give four fresh windows in which those sessions live.
	s.Concurrency, s.Keys, s.Rate = 21, 3, 400
	s.Interval, s.FaultFor = Duration(time.Second), Duration(3*time.Second)
	return s
}

// TestEtcdSerializableReadsAreStale: etcd's serializable reads from a
// member cut off from the majority return old values.
func TestEtcdSerializableReadsAreStale(t *testing.T) {
	needTarget(t, "etcd")
	t.Parallel()
	r := eventually(t, partitionSpec("etcd", "partition-isolate-follower", "serializable"), func(r analysis.Results) bool {
		return r.Checkers["linearizable"].Valid == analysis.Invalid
	})
	lin := r.Checkers["linearizable"]
	if r.Valid != analysis.Invalid || lin.Valid != analysis.Invalid || !hasKind(lin, "stale-read") {
		t.Fatalf("verdict %s, linearizable %s with %d anomalies; want invalid with a stale-read", r.Valid, lin.Valid, len(lin.Anomalies))
	}
}

// TestEtcdLinearizableReadsUnderPartition: the same schedule with
// linearizable reads is valid.
func TestEtcdLinearizableReadsUnderPartition(t *testing.T) {
	needTarget(t, "etcd")
	t.Parallel()
	r := e2e(t, partitionSpec("etcd", "partition-isolate-follower", "linearizable"))
	if r.Valid != analysis.Valid {
		t.Fatalf("verdict %s (%+v), want valid", r.Valid, r.Checkers)
	}
}

// TestZooKeeperLocalReads: ZooKeeper's local reads fail linearizability
// under partition but keep session order, which is what ZooKeeper promises.
func TestZooKeeperLocalReads(t *testing.T) {
	needTarget(t, "zookeeper")
	t.Parallel()
	r := eventually(t, zkLocalSpec("zookeeper"), func(r analysis.Results) bool {
		return r.Checkers["linearizable"].Valid == analysis.Invalid
	})
	lin, so := r.Checkers["linearizable"], r.Checkers["session-order"]
	if lin.Valid != analysis.Invalid || so.Valid != analysis.Valid {
		t.Fatalf("linearizable %s, session-order %s; want invalid and valid", lin.Valid, so.Valid)
	}
}

// TestSyncReadsUnderPartition: the schedule of TestZooKeeperLocalReads and
// TestZabLocalReads with sync reads is valid.
func TestSyncReadsUnderPartition(t *testing.T) {
	for _, target := range []string{"zookeeper", "zab"} {
		t.Run(target, func(t *testing.T) {
			needAny(t, target)
			t.Parallel()
			s := zkLocalSpec(target)
			s.ReadMode = "sync"
			if r := e2e(t, s); r.Valid != analysis.Valid {
				t.Fatalf("verdict %s (%+v), want valid", r.Valid, r.Checkers)
			}
		})
	}
}

// lockSpec pauses the member of a fresh lock holder (a follower) at the
// start of its 4 s hold: the leader expires the holder's 2 s lease,
// another client acquires, and the holder's write, sent at the end of its
// hold, waits in the paused member and lands when it resumes.
func lockSpec(unfenced bool) Spec {
	return Spec{Target: "etcd", Workload: "lock", Nemesis: "pause-lock-holder", Unfenced: unfenced, Seed: 2,
		TimeLimit: Duration(20 * time.Second), Interval: Duration(time.Second), FaultFor: Duration(5 * time.Second),
		Hold: Duration(4 * time.Second), OpTimeout: Duration(10 * time.Second), Concurrency: 10, Rate: 200}
}

// TestEtcdLockUnfencedUnderPause reproduces Jepsen's etcd 3.4.3 finding: a
// holder whose lease expired while its member was paused still writes.
func TestEtcdLockUnfencedUnderPause(t *testing.T) {
	needTarget(t, "etcd")
	t.Parallel()
	r := eventually(t, lockSpec(true), func(r analysis.Results) bool { return r.Checkers["lock"].Valid == analysis.Invalid })
	if lock := r.Checkers["lock"]; lock.Valid != analysis.Invalid {
		t.Fatalf("lock checker %s, want invalid (two holders)", lock.Valid)
	}
}

// TestEtcdLockFencedUnderPause: with fencing tokens checked by the
// register, the same schedule is valid.
func TestEtcdLockFencedUnderPause(t *testing.T) {
	needTarget(t, "etcd")
	t.Parallel()
	r := e2e(t, lockSpec(false))
	if lock := r.Checkers["lock"]; lock.Valid != analysis.Valid {
		t.Fatalf("lock checker %s (%+v), want valid", lock.Valid, lock.Anomalies)
	}
}

// Our engines: the same pairs.

func TestRaftkvSerializableReadsAreStale(t *testing.T) {
	needOurs(t)
	t.Parallel()
	r := eventually(t, partitionSpec("raftkv", "partition-isolate-follower", "serializable"), func(r analysis.Results) bool {
		return r.Checkers["linearizable"].Valid == analysis.Invalid
	})
	if lin := r.Checkers["linearizable"]; lin.Valid != analysis.Invalid || !hasKind(lin, "stale-read") {
		t.Fatalf("linearizable %s with %d anomalies; want invalid with a stale-read", lin.Valid, len(lin.Anomalies))
	}
}

func TestRaftkvLinearizableReadsUnderPartition(t *testing.T) {
	needOurs(t)
	t.Parallel()
	if r := e2e(t, partitionSpec("raftkv", "partition-isolate-follower", "linearizable")); r.Valid != analysis.Valid {
		t.Fatalf("verdict %s (%+v), want valid", r.Valid, r.Checkers)
	}
}

func TestZabLocalReads(t *testing.T) {
	needOurs(t)
	t.Parallel()
	r := eventually(t, zkLocalSpec("zab"), func(r analysis.Results) bool {
		return r.Checkers["linearizable"].Valid == analysis.Invalid
	})
	if lin, so := r.Checkers["linearizable"], r.Checkers["session-order"]; lin.Valid != analysis.Invalid || so.Valid != analysis.Valid {
		t.Fatalf("linearizable %s, session-order %s; want invalid and valid", lin.Valid, so.Valid)
	}
}

func TestRaftkvLockUnderPause(t *testing.T) {
	needOurs(t)
	t.Parallel()
	for _, unfenced := range []bool{true, false} {
		s := lockSpec(unfenced)
		s.Target = "raftkv"
		var r analysis.Results
		if unfenced {
			r = eventually(t, s, func(r analysis.Results) bool { return r.Checkers["lock"].Valid == analysis.Invalid })
		} else {
			r = e2e(t, s)
		}
		want := analysis.Valid
		if unfenced {
			want = analysis.Invalid
		}
		if lock := r.Checkers["lock"]; lock.Valid != want {
			t.Errorf("unfenced=%v: lock checker %s, want %s", unfenced, lock.Valid, want)
		}
	}
}

// nemesisOps returns the nemesis ops of a run's history whose f is f.
func nemesisOps(t *testing.T, dir, f string) []history.Op {
	t.Helper()
	ops, err := history.Read(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []history.Op
	for _, o := range ops {
		if o.IsNemesis() && o.F == f {
			out = append(out, o)
		}
	}
	return out
}

// applied checks that the run started its faults of op f and none was
// refused, and returns how many started.
func applied(t *testing.T, dir, f string) int {
	t.Helper()
	n := 0
	for _, o := range nemesisOps(t, dir, f) {
		switch o.Type {
		case history.Info:
			t.Errorf("%s %s refused: %s", o.F, o.Node, o.Error)
		case history.OK:
			n++
		}
	}
	if n == 0 {
		t.Errorf("no %s applied in %s", f, dir)
	}
	return n
}

// clockSpec: register under clock skew, 2 s apart, 3 s each.
func clockSpec(target string) Spec {
	return Spec{Target: target, Workload: "register", Nemesis: "clock", Seed: 3,
		TimeLimit: Duration(12 * time.Second), Interval: Duration(2 * time.Second), FaultFor: Duration(3 * time.Second),
		Rate: 100, Concurrency: 5}
}

// TestClockSkewOurEngines: --nemesis clock skews our engines through
// their admin listeners (raftkv --admin-listen-url, zab
// zab.adminAddress); every start is applied and reported back by the
// member.
func TestClockSkewOurEngines(t *testing.T) {
	needOurs(t)
	for _, target := range []string{"raftkv", "zab"} {
		t.Run(target, func(t *testing.T) {
			o := e2eRun(t, clockSpec(target), nil)
			n := applied(t, o.Dir, "start-clock")
			t.Logf("%s: %d clock faults applied, verdict %s", target, n, o.Results.Valid)
		})
	}
}

// TestClockSkewUnsupportedForEtcd: the real etcd has no clock endpoint; the
// run goes on, but says so in the history and in its last lines.
func TestClockSkewUnsupportedForEtcd(t *testing.T) {
	needTarget(t, "etcd")
	t.Parallel()
	var progress bytes.Buffer
	o := e2eRun(t, clockSpec("etcd"), &progress)
	refused := 0
	for _, op := range nemesisOps(t, o.Dir, "start-clock") {
		if op.Type == history.OK {
			t.Errorf("clock skew applied to etcd: %+v", op)
		}
		if op.Type == history.Info && strings.Contains(op.Error, "clock skew: not supported for etcd") {
			refused++
		}
	}
	if refused == 0 {
		t.Errorf("history has no clock start refused with \"clock skew: not supported for etcd\"")
	}
	if !strings.Contains(progress.String(), "fault not applied") || !strings.Contains(progress.String(), "clock skew: not supported for etcd") {
		t.Errorf("the run did not tell the user; its output ends:\n%s", tail(progress.String(), 600))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// needDocker builds static engines and their images (tagged :latest, which
// the docker runtime runs) or skips without a Docker engine.
func needDocker(t *testing.T) {
	t.Helper()
	needOurs(t)
	proctest.Need(t, exec.Command("docker", "info").Run() == nil, "a Docker engine (docker info)")
	dockerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "coordlab-img-")
		if err != nil {
			dockerErr = err
			return
		}
		defer os.RemoveAll(dir)
		build := exec.Command("go", "build", "-trimpath", "-o", dir+string(filepath.Separator), "coordlab/cmd/raftkv", "coordlab/cmd/zab")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			dockerErr = fmt.Errorf("static build: %v\n%s", err, out)
			return
		}
		if out, err := exec.Command("../scripts/images.sh", dir).CombinedOutput(); err != nil {
			dockerErr = fmt.Errorf("scripts/images.sh: %v\n%s", err, out)
		}
	})
	if dockerErr != nil {
		t.Fatal(dockerErr)
	}
}

var (
	dockerOnce sync.Once
	dockerErr  error
)

// TestDockerRuntimePartition: raftkv as containers under partitions:
// every partition is applied inside the containers' namespaces, and
// linearizable reads stay valid.
func TestDockerRuntimePartition(t *testing.T) {
	needDocker(t)
	s := partitionSpec("raftkv", "partition", "linearizable")
	s.Runtime = "docker"
	o := e2eRun(t, s, nil)
	applied(t, o.Dir, "start-partition")
	if o.Results.Valid != analysis.Valid {
		t.Fatalf("verdict %s (%+v), want valid", o.Results.Valid, o.Results.Checkers)
	}
}

// TestDockerClockSkew: the clock fault reaches the admin listener bound on
// 0.0.0.0 inside each container, at the container's address.
func TestDockerClockSkew(t *testing.T) {
	needDocker(t)
	s := clockSpec("zab")
	s.Runtime = "docker"
	o := e2eRun(t, s, nil)
	applied(t, o.Dir, "start-clock")
}

// latencySpec: register under latency, 2 s apart, 4 s each. Seed 2 puts
// every window on all members (100 ms, 10 ms and 25 ms, ±20%).
func latencySpec(target string) Spec {
	return Spec{Target: target, Workload: "register", Nemesis: "latency", ReadMode: "linearizable", Seed: 2,
		TimeLimit: Duration(20 * time.Second), Interval: Duration(2 * time.Second), FaultFor: Duration(4 * time.Second),
		Rate: 100, Concurrency: 5}
}

// latencyWindow is one applied latency fault: from its start's ok to its
// stop's invoke, with its parameters.
type latencyWindow struct {
	from, to      int64
	nodes         int
	delay, jitter time.Duration
	writes        []time.Duration
}

// checkLatency checks that every latency start was applied with its
// parameters in the history, and that each write done entirely inside a
// window on all members took at least 2×(delay-jitter): a write commits
// only after the leader's append and a follower's answer, each delayed as
// it leaves its member. It logs write latency percentiles inside and
// outside the windows.
func checkLatency(t *testing.T, dir string, members int) {
	t.Helper()
	ops, err := history.Read(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var ws []*latencyWindow
	var open *latencyWindow
	invoked := map[int]history.Op{}
	var outside []time.Duration
	for _, o := range ops {
		switch {
		case o.IsNemesis() && o.F == "start-latency" && o.Type == history.OK:
			d, derr := time.ParseDuration(o.Extra["delay"])
			j, jerr := time.ParseDuration(o.Extra["jitter"])
			if derr != nil || jerr != nil || o.Extra["links"] != "peers" || o.Extra["mechanism"] != "nfqueue" {
				t.Errorf("start-latency without its parameters: %+v", o.Extra)
			}
			open = &latencyWindow{from: o.Time, to: -1, nodes: len(strings.Split(o.Node, ",")), delay: d, jitter: j}
			ws = append(ws, open)
		case o.IsNemesis() && o.F == "start-latency" && o.Type == history.Info:
			t.Errorf("latency refused on %s: %s", o.Node, o.Error)
		case o.IsNemesis() && o.F == "stop-latency" && o.Type == history.Invoke && open != nil:
			open.to, open = o.Time, nil
		case o.IsNemesis():
		case o.Type == history.Invoke:
			invoked[o.Process] = o
		case o.F == history.FWrite && o.Type == history.OK:
			inv := invoked[o.Process]
			lat := time.Duration(o.Time - inv.Time)
			in := false
			for _, w := range ws {
				if inv.Time >= w.from && (w.to < 0 || o.Time <= w.to) {
					w.writes, in = append(w.writes, lat), true
				}
			}
			if !in {
				outside = append(outside, lat)
			}
		}
	}
	if len(ws) == 0 {
		t.Fatalf("no latency applied in %s", dir)
	}
	t.Logf("writes outside latency windows: %s", pcts(outside))
	for _, w := range ws {
		t.Logf("writes under %s ± %s on %d members: %s", w.delay, w.jitter, w.nodes, pcts(w.writes))
		if w.nodes != members {
			continue
		}
		floor := 2 * (w.delay - w.jitter)
		for _, l := range w.writes {
			if l < floor {
				t.Errorf("a write under %s ± %s on every member took %s, less than %s: the delay was not applied", w.delay, w.jitter, l, floor)
				break
			}
		}
	}
}

// pcts renders the count and p50/p90/p99 of durations.
func pcts(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	p := func(q float64) time.Duration {
		return s[min(len(s)-1, int(q*float64(len(s))))].Round(100 * time.Microsecond)
	}
	return fmt.Sprintf("n=%d p50=%s p90=%s p99=%s", len(s), p(0.5), p(0.9), p(0.99))
}

// TestRaftkvLatency: --nemesis latency on raftkv in the local runtime: the
// history stays valid, every latency start is applied with its
// parameters, and writes under it are slower by at least the delay.
func TestRaftkvLatency(t *testing.T) {
	needOurs(t)
	o := e2eRun(t, latencySpec("raftkv"), nil)
	checkLatency(t, o.Dir, 3)
	if o.Results.Valid != analysis.Valid {
		t.Fatalf("verdict %s (%+v), want valid", o.Results.Valid, o.Results.Checkers)
	}
}

// TestDockerLatency: the latency fault's delayers open their sockets in
// the containers' namespaces (/proc/<pid>/ns/net) as well.
func TestDockerLatency(t *testing.T) {
	needDocker(t)
	s := latencySpec("raftkv")
	s.Runtime = "docker"
	o := e2eRun(t, s, nil)
	checkLatency(t, o.Dir, 3)
	if o.Results.Valid != analysis.Valid {
		t.Fatalf("verdict %s (%+v), want valid", o.Results.Valid, o.Results.Checkers)
	}
}

// needDockerReference skips without a Docker engine or the reference
// system's Debian package (failing under CI=true). The docker runtime
// builds the reference image itself from that package.
func needDockerReference(t *testing.T, name string) {
	t.Helper()
	needTarget(t, name)
	proctest.Need(t, exec.Command("docker", "info").Run() == nil, "a Docker engine (docker info)")
}

// TestDockerRuntimeReferences: the real etcd and ZooKeeper as containers,
// from the images the docker runtime builds out of this machine's
// packages, under partitions: every partition is applied inside the
// containers' namespaces, linearizable (etcd) and sync (ZooKeeper) reads
// stay valid, and the run leaves no container or network behind.
func TestDockerRuntimeReferences(t *testing.T) {
	for _, tc := range []struct{ target, mode string }{{"etcd", "linearizable"}, {"zookeeper", "sync"}} {
		t.Run(tc.target, func(t *testing.T) {
			needDockerReference(t, tc.target)
			s := partitionSpec(tc.target, "partition", tc.mode)
			s.Runtime = "docker"
			start := time.Now()
			o := e2eRun(t, s, nil)
			t.Logf("%s in docker: run and check in %s", tc.target, time.Since(start).Round(time.Millisecond))
			applied(t, o.Dir, "start-partition")
			if o.Results.Valid != analysis.Valid {
				t.Errorf("verdict %s (%+v), want valid", o.Results.Valid, o.Results.Checkers)
			}
			test, err := ReadTest(o.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if test.RunID == "" || test.Network != "bridge" {
				t.Fatalf("test.json: run id %q, network %q: want the docker runtime's", test.RunID, test.Network)
			}
			for _, what := range [][]string{{"ps", "-aq"}, {"network", "ls", "-q"}} {
				out, err := exec.Command("docker", append(what, "--filter", "label=coordlab.run="+test.RunID)...).Output()
				if err != nil || strings.TrimSpace(string(out)) != "" {
					t.Errorf("docker %s: the run left %q behind (%v)", what[0], out, err)
				}
			}
			// The firewall lives in the containers' namespaces only.
			if out, err := exec.Command("nft", "list", "tables").Output(); err != nil || strings.Contains(string(out), "coordlab") {
				t.Errorf("nft list tables on the host: %q (%v), want no coordlab table", out, err)
			}
		})
	}
}

// loseSpec: register under lose-unsynced, 2 s apart, 4 s each.
func loseSpec(target string) Spec {
	return Spec{Target: target, Workload: "register", Nemesis: "lose-unsynced", Seed: 4,
		TimeLimit: Duration(16 * time.Second), Interval: Duration(2 * time.Second), FaultFor: Duration(4 * time.Second),
		Rate: 100, Concurrency: 5}
}

// checkLoseUnsynced runs loseSpec: every member killed has its unsynced
// data dropped (extra.lost says what) and comes back, the history is
// valid since the target fsyncs what it acknowledges, and no lazyfs
// mount outlives the run.
func checkLoseUnsynced(t *testing.T, s Spec) {
	target := s.Target
	o := e2eRun(t, s, nil)
	n := applied(t, o.Dir, "lose-unsynced")
	for _, op := range nemesisOps(t, o.Dir, "lose-unsynced") {
		if op.Type == history.OK && !strings.HasPrefix(op.Extra["lost"], strings.Split(op.Node, ",")[0]+": ") {
			t.Errorf("lose-unsynced on %s: extra %v, want what was lost", op.Node, op.Extra)
		}
		if op.Type == history.OK {
			t.Logf("%s lost %s", target, op.Extra["lost"])
		}
	}
	if o.Results.Valid != analysis.Valid {
		t.Errorf("%s under lose-unsynced: verdict %s, want valid (it fsyncs before it acknowledges)", target, o.Results.Valid)
	}
	if ms, err := lazyfs.Mounted(); err != nil || slices.ContainsFunc(ms, func(m string) bool { return strings.HasPrefix(m, o.Dir) }) {
		t.Errorf("lazyfs mounts left after the run: %v, %v", ms, err)
	}
	applied(t, o.Dir, "restart") // every member came back
	t.Logf("%s: %d lose-unsynced faults applied", target, n)
}

// TestLoseUnsyncedOurEngines: raftkv and zab fsync before they
// acknowledge, so dropping what a killed member did not fsync loses no
// acknowledged write.
func TestLoseUnsyncedOurEngines(t *testing.T) {
	needOurs(t)
	for _, target := range []string{"raftkv", "zab"} {
		t.Run(target, func(t *testing.T) { checkLoseUnsynced(t, loseSpec(target)) })
	}
}

// TestLoseUnsyncedAllOurEngines: a power cut of the whole cluster (every
// member killed and rolled back to what it fsynced) loses no acknowledged
// write either: what a majority acknowledged, a majority had fsynced.
func TestLoseUnsyncedAllOurEngines(t *testing.T) {
	needOurs(t)
	for _, target := range []string{"raftkv", "zab"} {
		t.Run(target, func(t *testing.T) {
			s := loseSpec(target)
			s.Nemesis = "lose-unsynced-all"
			checkLoseUnsynced(t, s)
		})
	}
}

// TestLoseUnsyncedEtcd: the same for the real etcd.
func TestLoseUnsyncedEtcd(t *testing.T) {
	needTarget(t, "etcd")
	checkLoseUnsynced(t, loseSpec("etcd"))
}

// TestZooKeeperLosesItsUnsyncedSnapshot: the real ZooKeeper 3.8 writes
// the snapshot it takes at startup (ZooKeeperServer.loadData) without
// fsync, and its directory entry becomes durable with the next fsync of
// its transaction log. A member that loses power keeps an empty
// snapshot.0 and log files, and refuses to start again ("No snapshot
// found, but there are log entries"). No acknowledged write is lost; the
// member is, until someone intervenes.
func TestZooKeeperLosesItsUnsyncedSnapshot(t *testing.T) {
	needTarget(t, "zookeeper")
	s := loseSpec("zookeeper")
	s.TimeLimit = Duration(30 * time.Second) // room for the restarted JVM to give up
	o := e2eRun(t, s, nil)
	if o.Results.Valid != analysis.Valid {
		t.Errorf("verdict %s, want valid: the loss costs a member, not a write", o.Results.Valid)
	}
	var hit string
	for _, op := range nemesisOps(t, o.Dir, "lose-unsynced") {
		if op.Type == history.OK && strings.Contains(op.Extra["lost"], "version-2/snapshot.") {
			hit = op.Node
			break
		}
	}
	if hit == "" {
		t.Fatalf("no lose-unsynced dropped a snapshot: %v", nemesisOps(t, o.Dir, "lose-unsynced"))
	}
	b, err := os.ReadFile(filepath.Join(o.Dir, "nodes", hit, "output.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "No snapshot found, but there are log entries") {
		t.Errorf("%s lost its snapshot's data but its log does not show the refusal to start", hit)
	}
}

// TestDockerLoseUnsynced: the data directories are mounted on the host
// and bound into the containers; a killed container's unsynced data is
// dropped before its next start.
func TestDockerLoseUnsynced(t *testing.T) {
	needDocker(t)
	s := loseSpec("raftkv")
	s.Runtime = "docker"
	checkLoseUnsynced(t, s)
}
