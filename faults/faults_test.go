package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"coordlab/cluster"
	"coordlab/history"
)

var five = []string{"n1", "n2", "n3", "n4", "n5"}
var three = []string{"n1", "n2", "n3"}

func TestGenerateSameSeedSameSchedule(t *testing.T) {
	o := Options{TimeLimit: 60 * time.Second, Interval: 2 * time.Second, Duration: 3 * time.Second}
	a, err := Generate(7, "partition,kill,pause,loss", five, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(7, "partition,kill,pause,loss", five, o)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed, different schedules:\n%+v\n%+v", a, b)
	}
	c, err := Generate(8, "partition,kill,pause,loss", five, o)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a.Steps, c.Steps) {
		t.Fatalf("seeds 7 and 8 gave the same schedule: %+v", a.Steps)
	}
	if len(a.Steps) != 12 { // 60s / (2s+3s)
		t.Fatalf("got %d steps, want 12", len(a.Steps))
	}
	for i, s := range a.Steps {
		if want := time.Duration(i)*5*time.Second + 2*time.Second; s.At != want || s.Duration != 3*time.Second {
			t.Errorf("step %d at %s for %s, want at %s for 3s", i, s.At, s.Duration, want)
		}
	}
}

func TestGenerateNoneAndErrors(t *testing.T) {
	o := Options{TimeLimit: 10 * time.Second}
	s, err := Generate(1, "none", three, o)
	if err != nil || len(s.Steps) != 0 {
		t.Fatalf("none: %v steps, err %v; want 0, nil", len(s.Steps), err)
	}
	cases := []struct {
		spec  string
		nodes []string
		o     Options
		want  string
	}{
		{"partiton", three, o, "partiton"},
		{"partition-majorities-ring", three, o, "--nodes 5"},
		{"kill", three, Options{}, "--time-limit"},
		{"kill", three, Options{TimeLimit: time.Second, LossPercent: 101}, "--loss-percent"},
	}
	for _, c := range cases {
		_, err := Generate(1, c.spec, c.nodes, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Generate(%q) err = %v, want one naming %q", c.spec, err, c.want)
		}
	}
}

func symmetric(t *testing.T, g cluster.Grudge) {
	t.Helper()
	for d, srcs := range g {
		for _, s := range srcs {
			if !slices.Contains(g[s], d) {
				t.Errorf("grudge %s not symmetric: %s drops %s but not the reverse", g, d, s)
			}
			if s == d {
				t.Errorf("grudge %s: %s drops itself", g, d)
			}
		}
	}
}

func TestShapes(t *testing.T) {
	o := Options{LossPercent: 30}
	for seed := range uint64(20) {
		r := newRand(seed)
		g := drawIsolateOne(r, five, o).(Partition).Grudge
		symmetric(t, g)
		cut := 0
		for _, n := range five {
			if len(g[n]) == 4 {
				cut++
			}
		}
		if cut != 1 {
			t.Errorf("isolate-one %s: %d members cut from all, want 1", g, cut)
		}

		h := drawHalves(r, five, o).(Partition)
		symmetric(t, h.Grudge)
		if len(h.Targets) != 2 || len(h.Grudge[h.Targets[0]]) != 3 {
			t.Errorf("halves %s: minority %v, want 2 members each cut from 3", h.Grudge, h.Targets)
		}

		ring := drawMajoritiesRing(r, five, o).(Partition).Grudge
		symmetric(t, ring)
		seen := map[string]bool{}
		for _, n := range five {
			sees := 5 - len(ring[n])
			if sees < 3 {
				t.Errorf("majorities-ring %s: %s sees %d members, want a majority", ring, n, sees)
			}
			visible := slices.DeleteFunc(slices.Clone(five), func(x string) bool { return slices.Contains(ring[n], x) })
			seen[strings.Join(visible, ",")] = true
		}
		if len(seen) != 5 {
			t.Errorf("majorities-ring %s: %d distinct majorities, want 5", ring, len(seen))
		}

		b := drawBridge(r, three, o).(Partition)
		symmetric(t, b.Grudge)
		if br := b.Targets[0]; len(b.Grudge[br]) != 0 || len(b.Grudge) != 2 {
			t.Errorf("bridge %s with bridge %s: want the bridge to see everyone and the other two cut", b.Grudge, br)
		}
	}
}

// fakeRuntime records primitive calls.
type fakeRuntime struct {
	mu    sync.Mutex
	calls []string
	fail  map[string]error
	// noLeader makes the first noLeader Leader calls fail.
	noLeader int
	// admin maps member -> admin URL; absent members serve none.
	admin map[string]string
	// netns maps member -> network namespace path; absent members have
	// none.
	netns map[string]string
}

func (f *fakeRuntime) do(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	return f.fail[strings.Fields(call)[0]]
}

func (f *fakeRuntime) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeRuntime) Name() string { return "fake" }
func (f *fakeRuntime) Capabilities() cluster.Capabilities {
	return cluster.Capabilities{Kill: true, Pause: true, Firewall: true, PauseBy: "sigstop"}
}
func (f *fakeRuntime) Start(context.Context, cluster.Target, int) ([]cluster.Member, error) {
	return nil, nil
}

// Members: n1..n3 at 10.0.0.1..3.
func (f *fakeRuntime) Members() []cluster.Member {
	var ms []cluster.Member
	for i, n := range three {
		ms = append(ms, cluster.Member{Name: n, ID: i + 1, Host: "10.0.0." + strconv.Itoa(i+1)})
	}
	return ms
}
func (f *fakeRuntime) Signal(_ context.Context, n string, s cluster.Signal) error {
	return f.do(s.String() + " " + n)
}
func (f *fakeRuntime) Restart(_ context.Context, n string) error { return f.do("restart " + n) }
func (f *fakeRuntime) LoseUnsynced(_ context.Context, n string) (string, error) {
	if err := f.do("lose " + n); err != nil {
		return "", err
	}
	return "1 file (3 bytes written since their last fsync), 0 namespace ops", nil
}

// Firewall records the rules of the script, one line per rule.
func (f *fakeRuntime) Firewall(_ context.Context, n, script string) error {
	var rules []string
	for _, l := range strings.Split(script, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "ip saddr") {
			rules = append(rules, l)
		}
	}
	return f.do("firewall " + n + " [" + strings.Join(rules, "; ") + "]")
}
func (f *fakeRuntime) AdminURL(n string) (string, error) {
	if u, ok := f.admin[n]; ok {
		return u, nil
	}
	return "", fmt.Errorf("%w: fake %s", cluster.ErrNoAdmin, n)
}
func (f *fakeRuntime) Netns(_ context.Context, n string) (string, error) {
	if p, ok := f.netns[n]; ok {
		return p, nil
	}
	return "", fmt.Errorf("%w: fake %s has no namespace", cluster.ErrUnsupported, n)
}
func (f *fakeRuntime) Leader(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.noLeader > 0 {
		f.noLeader--
		return "", cluster.ErrNoLeader
	}
	return "n2", f.fail["leader"]
}
func (f *fakeRuntime) Stop(context.Context) error { return nil }

// nemesisOp is one history line, compared in tests.
type nemesisOp struct {
	f    string
	typ  history.Type
	node string
	at   time.Duration
}

// play runs sched (and Final for kinds, when given) and returns the ops.
func play(t *testing.T, p *Player, h *history.Writer, buf *bytes.Buffer, sched Schedule, kinds []string) []history.Op {
	t.Helper()
	if err := p.Play(context.Background(), sched); err != nil {
		t.Fatal(err)
	}
	if kinds != nil {
		if err := p.Final(context.Background(), kinds, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	h.Close()
	ops, err := history.ReadAll(buf)
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

func checkOps(t *testing.T, ops []history.Op, want []nemesisOp) {
	t.Helper()
	if len(ops) != len(want) {
		t.Fatalf("got %d ops, want %d: %+v", len(ops), len(want), ops)
	}
	for i, w := range want {
		o := ops[i]
		if o.F != w.f || o.Type != w.typ || o.Node != w.node || time.Duration(o.Time) != w.at || !o.IsNemesis() {
			t.Errorf("op %d = %s %s %s at %s, want %s %s %s at %s", i, o.F, o.Type, o.Node, time.Duration(o.Time), w.f, w.typ, w.node, w.at)
		}
	}
}

func TestPlayerUnderFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sched := Schedule{Steps: []Step{
			{At: 2 * time.Second, Duration: 3 * time.Second, Fault: Partition{On: On{Targets: []string{Leader}}, Shape: ShapeIsolateLeader}},
			{At: 7 * time.Second, Duration: 1 * time.Second, Fault: Kill{On{Targets: []string{"n3"}}}},
			{At: 9 * time.Second, Duration: 1 * time.Second, Fault: Pause{On{Targets: []string{"n1"}}}},
		}}
		rt := &fakeRuntime{fail: map[string]error{"stop": errors.New("no such process")}}
		var buf bytes.Buffer
		h := history.NewWriter(&buf)
		p := NewPlayer(rt, "raftkv", h, history.NewClock(), three, nil)
		ops := play(t, p, h, &buf, sched, []string{"partition", "kill", "pause"})
		checkOps(t, ops, []nemesisOp{
			{"start-partition", history.Invoke, "n2", 2 * time.Second},
			{"start-partition", history.OK, "n2", 2 * time.Second},
			{"stop-partition", history.Invoke, "n2", 5 * time.Second},
			{"stop-partition", history.OK, "n2", 5 * time.Second},
			{"kill", history.Invoke, "n3", 7 * time.Second},
			{"kill", history.OK, "n3", 7 * time.Second},
			{"restart", history.Invoke, "n3", 8 * time.Second},
			{"restart", history.OK, "n3", 8 * time.Second},
			{"pause", history.Invoke, "n1", 9 * time.Second},
			{"pause", history.Info, "n1", 9 * time.Second},
			{"resume", history.Invoke, "n1", 10 * time.Second},
			{"resume", history.OK, "n1", 10 * time.Second},
			{"stop-partition", history.Invoke, "n1,n2,n3", 10 * time.Second},
			{"stop-partition", history.OK, "n1,n2,n3", 10 * time.Second},
			{"resume", history.Invoke, "n1,n2,n3", 10 * time.Second},
			{"resume", history.OK, "n1,n2,n3", 10 * time.Second},
			{"restart", history.Invoke, "n1,n2,n3", 10 * time.Second},
			{"restart", history.OK, "n1,n2,n3", 10 * time.Second},
		})
		if g := ops[0].Extra["grudge"]; g != "n1<-n2; n2<-n1,n3; n3<-n2" {
			t.Errorf("isolate-leader grudge = %q, want n2 cut from n1 and n3", g)
		}
		if ops[0].Extra["shape"] != ShapeIsolateLeader || ops[2].Extra["shape"] != ShapeIsolateLeader {
			t.Errorf("partition start and stop extra %v, %v: want the shape on both", ops[0].Extra, ops[2].Extra)
		}
		if ops[9].Error == "" || ops[8].Extra["mechanism"] != "sigstop" {
			t.Errorf("refused pause %+v: want an error and the mechanism", ops[9])
		}
		if ops[17].Extra["final"] != "true" {
			t.Errorf("final restart extra %v, want final=true", ops[17].Extra)
		}
		want := []string{
			// The leader n2 is cut off: each member's table drops the other side.
			"firewall n1 [ip saddr { 10.0.0.2 } drop]",
			"firewall n2 [ip saddr { 10.0.0.1, 10.0.0.3 } drop]",
			"firewall n3 [ip saddr { 10.0.0.2 } drop]",
			"firewall n1 []", "firewall n2 []", "firewall n3 []", // heal
			"kill n3", "restart n3",
			"stop n1", "cont n1",
			// Final: the firewall is already clean, so the heal asks nothing.
			"cont n1", "cont n2", "cont n3",
			"restart n1", "restart n2", "restart n3",
		}
		if got := rt.called(); !reflect.DeepEqual(got, want) {
			t.Errorf("runtime calls\n%q\nwant\n%q", got, want)
		}
		if r := p.Refused(); r["no such process"] != 1 || len(r) != 1 {
			t.Errorf("Refused() = %v, want the refused pause once", r)
		}
	})
}

// TestPartitionAndLossShareTheTable: a loss during a partition keeps the
// partition, and a heal keeps the loss, because both live in one nft table.
func TestPartitionAndLossShareTheTable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &fakeRuntime{}
		var buf bytes.Buffer
		h := history.NewWriter(&buf)
		p := NewPlayer(rt, "raftkv", h, history.NewClock(), three, nil)
		env := p.env
		env.On = []string{"n1"}
		ctx := context.Background()
		undoLoss, err := Loss{Percent: 20}.Start(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		undoPart, err := Partition{Grudge: complete([]string{"n1"}, []string{"n2", "n3"})}.Start(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		if err := undoPart(ctx); err != nil {
			t.Fatal(err)
		}
		if err := undoLoss(ctx); err != nil {
			t.Fatal(err)
		}
		want := []string{
			"firewall n1 [ip saddr { 10.0.0.2, 10.0.0.3 } numgen random mod 100 < 20 drop]",
			"firewall n1 [ip saddr { 10.0.0.2, 10.0.0.3 } drop; ip saddr { 10.0.0.2, 10.0.0.3 } numgen random mod 100 < 20 drop]",
			"firewall n2 [ip saddr { 10.0.0.1 } drop]",
			"firewall n3 [ip saddr { 10.0.0.1 } drop]",
			"firewall n1 [ip saddr { 10.0.0.2, 10.0.0.3 } numgen random mod 100 < 20 drop]",
			"firewall n2 []", "firewall n3 []",
			"firewall n1 []",
		}
		if got := rt.called(); !reflect.DeepEqual(got, want) {
			t.Errorf("runtime calls\n%q\nwant\n%q", got, want)
		}
	})
}

// TestFailedStartClosesItsWindow: a start that leaves nothing in force
// (here a target that cannot be resolved) is followed at once by its stop,
// so the next stop of the kind cannot close the wrong window.
func TestFailedStartClosesItsWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sched := Schedule{Steps: []Step{
			{At: time.Second, Duration: 2 * time.Second, Fault: Pause{On{Targets: []string{LockHolder}}}},
			{At: 4 * time.Second, Duration: 2 * time.Second, Fault: Pause{On{Targets: []string{"n3"}}}},
		}}
		rt := &fakeRuntime{}
		var buf bytes.Buffer
		h := history.NewWriter(&buf)
		p := NewPlayer(rt, "raftkv", h, history.NewClock(), three, nil)
		ops := play(t, p, h, &buf, sched, nil)
		checkOps(t, ops, []nemesisOp{
			{"pause", history.Invoke, LockHolder, time.Second},
			{"pause", history.Info, LockHolder, time.Second},
			{"resume", history.Invoke, LockHolder, time.Second},
			{"resume", history.OK, LockHolder, time.Second},
			{"pause", history.Invoke, "n3", 4 * time.Second},
			{"pause", history.OK, "n3", 4 * time.Second},
			{"resume", history.Invoke, "n3", 6 * time.Second},
			{"resume", history.OK, "n3", 6 * time.Second},
		})
		if !strings.Contains(ops[1].Error, "no resolver") || ops[2].Extra["undo"] == "" {
			t.Errorf("failed start %+v then %+v: want the error, then a stop saying nothing was undone", ops[1], ops[2])
		}
		if got := rt.called(); !reflect.DeepEqual(got, []string{"stop n3", "cont n3"}) {
			t.Errorf("runtime calls %q, want only n3 paused and resumed", got)
		}
	})
}

// TestPlayCutShortUndoes: when the run ends during a fault, Play undoes it
// before returning, so every start has its stop.
func TestPlayCutShortUndoes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sched := Schedule{Steps: []Step{{At: time.Second, Duration: 10 * time.Second, Fault: Kill{On{Targets: []string{"n1"}}}}}}
		rt := &fakeRuntime{}
		var buf bytes.Buffer
		h := history.NewWriter(&buf)
		p := NewPlayer(rt, "raftkv", h, history.NewClock(), three, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := p.Play(ctx, sched); err != nil {
			t.Fatal(err)
		}
		h.Close()
		ops, err := history.ReadAll(&buf)
		if err != nil {
			t.Fatal(err)
		}
		checkOps(t, ops, []nemesisOp{
			{"kill", history.Invoke, "n1", time.Second},
			{"kill", history.OK, "n1", time.Second},
			{"restart", history.Invoke, "n1", 3 * time.Second},
			{"restart", history.OK, "n1", 3 * time.Second},
		})
		if p.Current() != "none" {
			t.Errorf("Current() = %q after Play, want none", p.Current())
		}
	})
}

func TestCheckCapabilities(t *testing.T) {
	pkgs, err := ParseSpec("partition,kill")
	if err != nil {
		t.Fatal(err)
	}
	err = CheckCapabilities(pkgs, cluster.Capabilities{Kill: true, Pause: true, Why: "partitions need root"})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "root") || !strings.Contains(err.Error(), "partition") {
		t.Fatalf("CheckCapabilities = %v, want ErrUnsupported naming the partition and root", err)
	}
	if err := CheckCapabilities([]string{"kill", "pause"}, cluster.Capabilities{Kill: true, Pause: true}); err != nil {
		t.Fatalf("kill,pause on a kill+pause runtime: %v", err)
	}
	if err := CheckCapabilities([]string{"loss"}, cluster.Capabilities{Kill: true, Why: "no netns"}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("loss without a firewall = %v, want ErrUnsupported", err)
	}
}

// TestScheduleJSON: a schedule of every package survives JSON, and a
// test.json written before faults were types still decodes.
func TestScheduleJSON(t *testing.T) {
	o := Options{TimeLimit: 200 * time.Second, Interval: time.Second, Duration: time.Second}
	s, err := Generate(3, strings.Join(PackageNames()[1:], ","), five, o) // all but "all"
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, st := range s.Steps {
		kinds[st.Fault.Kind()] = true
	}
	if len(kinds) != len(table) {
		t.Fatalf("schedule draws kinds %v, want all of %v", kinds, KindNames())
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Schedule
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, back) {
		t.Fatalf("round trip changed the schedule:\n%+v\n%+v", s, back)
	}

	old, err := os.ReadFile("../reports/testdata/runs/etcd-linearizable/test.json")
	if err != nil {
		t.Fatal(err)
	}
	var test struct {
		Schedule Schedule `json:"schedule"`
	}
	if err := json.Unmarshal(old, &test); err != nil {
		t.Fatalf("old test.json: %v", err)
	}
	want := Partition{On: On{Targets: []string{"n2"}}, Shape: ShapeHalves, Grudge: cluster.Grudge{"n1": {"n2"}, "n2": {"n1", "n3"}, "n3": {"n2"}}}
	if len(test.Schedule.Steps) != 1 || !reflect.DeepEqual(test.Schedule.Steps[0].Fault, want) {
		t.Fatalf("old schedule decoded as %+v, want one %+v", test.Schedule.Steps, want)
	}
	// The same seed and spec still give the same schedule.
	again, err := Generate(1, "partition", three, Options{TimeLimit: 12 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, test.Schedule) {
		t.Fatalf("seed 1 now gives %+v, the old run had %+v", again, test.Schedule)
	}
	var bad Schedule
	err = json.Unmarshal([]byte(`{"steps":[{"at_ns":1,"duration_ns":1,"fault":{"kind":"meteor"}}]}`), &bad)
	if err == nil || !strings.Contains(err.Error(), "meteor") || !strings.Contains(err.Error(), "partition") {
		t.Fatalf("unknown kind: err = %v, want one naming it and the known kinds", err)
	}
}

// TestParamsInHistory: each start and stop carries the fault's parameters.
func TestParamsInHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sched := Schedule{Steps: []Step{{At: time.Second, Duration: time.Second, Fault: Loss{On: On{Targets: []string{"n1", "n3"}}, Percent: 30}}}}
		rt := &fakeRuntime{}
		var buf bytes.Buffer
		h := history.NewWriter(&buf)
		p := NewPlayer(rt, "raftkv", h, history.NewClock(), three, nil)
		ops := play(t, p, h, &buf, sched, nil)
		checkOps(t, ops, []nemesisOp{
			{"start-loss", history.Invoke, "n1,n3", time.Second},
			{"start-loss", history.OK, "n1,n3", time.Second},
			{"stop-loss", history.Invoke, "n1,n3", 2 * time.Second},
			{"stop-loss", history.OK, "n1,n3", 2 * time.Second},
		})
		for _, o := range ops {
			if o.Extra["percent"] != "30" {
				t.Errorf("%s %s extra %v, want percent=30", o.F, o.Type, o.Extra)
			}
		}
	})
}

func TestPlayerResolvesTargets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sched := Schedule{Steps: []Step{
			{At: time.Second, Duration: 2 * time.Second, Fault: Partition{On: On{Targets: []string{Follower}, Pick: 1}, Shape: ShapeIsolateFollower}},
			{At: 4 * time.Second, Duration: 3 * time.Second, Fault: Pause{On{Targets: []string{LockHolder}}}},
		}}
		rt := &fakeRuntime{}
		var buf bytes.Buffer
		h := history.NewWriter(&buf)
		p := NewPlayer(rt, "raftkv", h, history.NewClock(), three, nil)
		p.SetResolver(LockHolder, func(ctx context.Context) (string, error) {
			// The holder shows up 1.5 s after the fault was due.
			select {
			case <-time.After(1500 * time.Millisecond):
				return "n3", nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		})
		ops := play(t, p, h, &buf, sched, nil)
		got := []string{}
		for _, o := range ops {
			if o.Type == history.OK {
				got = append(got, o.F+" "+o.Node+" @"+time.Duration(o.Time).String())
			}
		}
		want := []string{
			"start-partition n3 @1s", // leader n2; followers n1, n3; pick 1
			"stop-partition n3 @3s",
			"pause n3 @5.5s",  // waited for the holder
			"resume n3 @8.5s", // still lasts 3 s
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("nemesis ops %v, want %v", got, want)
		}
	})
}

// TestPlayerWaitsForALeader: right after a heal there may be no leader yet;
// a leader-targeted fault waits for one (up to 5 s).
func TestPlayerWaitsForALeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := &fakeRuntime{noLeader: 3}
		var buf bytes.Buffer
		h := history.NewWriter(&buf)
		p := NewPlayer(rt, "raftkv", h, history.NewClock(), three, nil)
		sched := Schedule{Steps: []Step{{At: time.Second, Duration: time.Second, Fault: Kill{On{Targets: []string{Leader}}}}}}
		ops := play(t, p, h, &buf, sched, nil)
		if len(ops) != 4 || ops[1].Type != history.OK || ops[1].Node != "n2" || time.Duration(ops[1].Time) != 1600*time.Millisecond {
			t.Fatalf("ops %+v, want kill n2 ok at 1.6s (after three polls)", ops)
		}
	})
}
