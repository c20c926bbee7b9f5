package faults

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"slices"
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
		g := drawIsolateOne(r, five, o).Grudge
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

		h := drawHalves(r, five, o)
		symmetric(t, h.Grudge)
		if len(h.Targets) != 2 || len(h.Grudge[h.Targets[0]]) != 3 {
			t.Errorf("halves %s: minority %v, want 2 members each cut from 3", h.Grudge, h.Targets)
		}

		ring := drawMajoritiesRing(r, five, o).Grudge
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

		b := drawBridge(r, three, o)
		symmetric(t, b.Grudge)
		if br := b.Targets[0]; len(b.Grudge[br]) != 0 || len(b.Grudge) != 2 {
			t.Errorf("bridge %s with bridge %s: want the bridge to see everyone and the other two cut", b.Grudge, br)
		}
	}
}

// fakeRuntime records fault calls.
type fakeRuntime struct {
	mu    sync.Mutex
	calls []string
	fail  map[string]error
	// noLeader makes the first noLeader Leader calls fail.
	noLeader int
}

func (f *fakeRuntime) do(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	return f.fail[strings.Fields(call)[0]]
}
func (f *fakeRuntime) Name() string { return "fake" }
func (f *fakeRuntime) Capabilities() cluster.Capabilities {
	return cluster.Capabilities{Kill: true, Pause: true, Partition: true, Loss: true}
}
func (f *fakeRuntime) Start(context.Context, cluster.Target, int) ([]cluster.Member, error) {
	return nil, nil
}
func (f *fakeRuntime) Members() []cluster.Member                 { return nil }
func (f *fakeRuntime) Kill(_ context.Context, n string) error    { return f.do("kill " + n) }
func (f *fakeRuntime) Restart(_ context.Context, n string) error { return f.do("restart " + n) }
func (f *fakeRuntime) Pause(_ context.Context, n string) error   { return f.do("pause " + n) }
func (f *fakeRuntime) Resume(_ context.Context, n string) error  { return f.do("resume " + n) }
func (f *fakeRuntime) Partition(_ context.Context, g cluster.Grudge) error {
	return f.do("partition " + g.String())
}
func (f *fakeRuntime) Heal(context.Context) error { return f.do("heal") }
func (f *fakeRuntime) Loss(_ context.Context, p int, n []string) error {
	return f.do("loss " + strings.Join(n, ","))
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

func TestPlayerUnderFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sched := Schedule{Steps: []Step{
			{At: 2 * time.Second, Duration: 3 * time.Second, Fault: Fault{Kind: KindPartition, Shape: ShapeIsolateLeader, Targets: []string{Leader}}},
			{At: 7 * time.Second, Duration: 1 * time.Second, Fault: Fault{Kind: KindKill, Targets: []string{"n3"}}},
			{At: 9 * time.Second, Duration: 1 * time.Second, Fault: Fault{Kind: KindPause, Targets: []string{"n1"}}},
		}}
		rt := &fakeRuntime{fail: map[string]error{"pause": errors.New("no such process")}}
		var buf bytes.Buffer
		h := history.NewWriter(&buf)
		clock := history.NewClock()
		p := NewPlayer(rt, h, clock, three, nil)
		if err := p.Play(context.Background(), sched); err != nil {
			t.Fatal(err)
		}
		if err := p.Final(context.Background(), []Kind{KindPartition, KindKill, KindPause}, time.Second); err != nil {
			t.Fatal(err)
		}
		h.Close()
		ops, err := history.ReadAll(&buf)
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			f    string
			typ  history.Type
			node string
			at   time.Duration
		}{
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
		}
		if len(ops) != len(want) {
			t.Fatalf("got %d ops, want %d: %+v", len(ops), len(want), ops)
		}
		for i, w := range want {
			o := ops[i]
			if o.F != w.f || o.Type != w.typ || o.Node != w.node || time.Duration(o.Time) != w.at || !o.IsNemesis() {
				t.Errorf("op %d = %s %s %s at %s, want %s %s %s at %s", i, o.F, o.Type, o.Node, time.Duration(o.Time), w.f, w.typ, w.node, w.at)
			}
		}
		if g := ops[0].Extra["grudge"]; g != "n1<-n2; n2<-n1,n3; n3<-n2" {
			t.Errorf("isolate-leader grudge = %q, want n2 cut from n1 and n3", g)
		}
		if ops[9].Error == "" {
			t.Errorf("refused pause has no error: %+v", ops[9])
		}
		if !slices.Contains(rt.calls, "partition n1<-n2; n2<-n1,n3; n3<-n2") {
			t.Errorf("runtime calls %v lack the leader partition", rt.calls)
		}
	})
}

func TestCheckCapabilities(t *testing.T) {
	pkgs, err := ParseSpec("partition,kill")
	if err != nil {
		t.Fatal(err)
	}
	err = CheckCapabilities(pkgs, cluster.Capabilities{Kill: true, Pause: true, Why: "partitions need root"})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "root") {
		t.Fatalf("CheckCapabilities = %v, want ErrUnsupported naming root", err)
	}
	if err := CheckCapabilities([]string{"kill", "pause"}, cluster.Capabilities{Kill: true, Pause: true}); err != nil {
		t.Fatalf("kill,pause on a kill+pause runtime: %v", err)
	}
}

func TestPlayerResolvesTargets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sched := Schedule{Steps: []Step{
			{At: time.Second, Duration: 2 * time.Second, Fault: Fault{Kind: KindPartition, Shape: ShapeIsolateFollower, Targets: []string{Follower}, Pick: 1}},
			{At: 4 * time.Second, Duration: 3 * time.Second, Fault: Fault{Kind: KindPause, Targets: []string{LockHolder}}},
		}}
		rt := &fakeRuntime{}
		var buf bytes.Buffer
		h := history.NewWriter(&buf)
		p := NewPlayer(rt, h, history.NewClock(), three, nil)
		p.SetResolver(LockHolder, func(ctx context.Context) (string, error) {
			// The holder shows up 1.5 s after the fault was due.
			select {
			case <-time.After(1500 * time.Millisecond):
				return "n3", nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		})
		if err := p.Play(context.Background(), sched); err != nil {
			t.Fatal(err)
		}
		h.Close()
		ops, err := history.ReadAll(&buf)
		if err != nil {
			t.Fatal(err)
		}
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
		p := NewPlayer(rt, h, history.NewClock(), three, nil)
		sched := Schedule{Steps: []Step{{At: time.Second, Duration: time.Second, Fault: Fault{Kind: KindKill, Targets: []string{Leader}}}}}
		if err := p.Play(context.Background(), sched); err != nil {
			t.Fatal(err)
		}
		h.Close()
		ops, err := history.ReadAll(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if len(ops) != 4 || ops[1].Type != history.OK || ops[1].Node != "n2" || time.Duration(ops[1].Time) != 1600*time.Millisecond {
			t.Fatalf("ops %+v, want kill n2 ok at 1.6s (after three polls)", ops)
		}
	})
}
