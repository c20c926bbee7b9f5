package workloads

import (
	"bytes"
	"context"
	"math/rand/v2"
	"reflect"
	"sync"
	"syscall"
	"testing"
	"time"

	"coordlab/analysis"
	"coordlab/client"
	"coordlab/history"
)

func deps(s *memStore, buf *bytes.Buffer) (Deps, *history.Writer) {
	h := history.NewWriter(buf)
	return Deps{
		Nodes: []string{"n1", "n2", "n3"},
		NewClient: func(ctx context.Context, node string) (client.Client, error) {
			return &memClient{s: s, node: node}, nil
		},
		History: h,
		Clock:   history.NewClock(),
		Stats:   &Stats{},
	}, h
}

// runFor runs a workload against the in-memory store for d and returns the
// history.
func runFor(t *testing.T, cfg Config, s *memStore, d time.Duration) []history.Op {
	t.Helper()
	var buf bytes.Buffer
	dp, h := deps(s, &buf)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := Run(ctx, cfg, dp, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	ops, err := history.ReadAll(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

// wellFormed checks that each process alternates invoke and completion, and
// that a process never invokes again after an info.
func wellFormed(t *testing.T, ops []history.Op) {
	t.Helper()
	open := map[int]history.Op{}
	retired := map[int]bool{}
	for _, o := range ops {
		switch o.Type {
		case history.Invoke:
			if _, busy := open[o.Process]; busy {
				t.Fatalf("process %d invokes op %d while op %d is open", o.Process, o.Index, open[o.Process].Index)
			}
			if retired[o.Process] {
				t.Fatalf("process %d invokes op %d after an info", o.Process, o.Index)
			}
			open[o.Process] = o
		default:
			inv, ok := open[o.Process]
			if !ok {
				t.Fatalf("completion %d of process %d without an invoke", o.Index, o.Process)
			}
			if inv.F != o.F || inv.Key != o.Key || o.Time < inv.Time {
				t.Fatalf("completion %+v does not match invoke %+v", o, inv)
			}
			delete(open, o.Process)
			if o.Type == history.Info {
				retired[o.Process] = true
			}
		}
	}
}

func TestRegisterValuesUniqueAndWellFormed(t *testing.T) {
	ops := runFor(t, Config{Workload: "register", Concurrency: 6, Rate: 2000, Seed: 3, ReadMode: client.Linearizable}, newMemStore(), 200*time.Millisecond)
	wellFormed(t, ops)
	seen := map[string]int64{}
	counts := map[string]int{}
	for _, o := range ops {
		if o.Type != history.Invoke {
			continue
		}
		counts[o.F]++
		if o.F == history.FWrite || o.F == history.FCAS {
			if prev, dup := seen[*o.Value]; dup {
				t.Fatalf("value %s written by ops %d and %d", *o.Value, prev, o.Index)
			}
			seen[*o.Value] = o.Index
		}
		if o.F == history.FRead && o.Type == history.Invoke && o.ReadMode != "linearizable" {
			t.Fatalf("read %d without read_mode: %+v", o.Index, o)
		}
	}
	if counts[history.FRead] == 0 || counts[history.FWrite] == 0 || counts[history.FCAS] == 0 {
		t.Fatalf("op mix %v: want reads, writes and cas", counts)
	}
}

func TestNextRegisterOpIsPure(t *testing.T) {
	gen := func() []regOp {
		r := rand.New(rand.NewPCG(9, 1))
		last := map[string]string{"r/0": "5"}
		n := 0
		var out []regOp
		for range 50 {
			out = append(out, nextRegisterOp(r, 3, last, func() string { n++; return string(rune('a' + n%26)) }))
		}
		return out
	}
	a, b := gen(), gen()
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed, different ops:\n%v\n%v", a, b)
	}
}

// TestRecorderTimes checks that each op's invoke time is taken before the
// client sees the request and its completion time after the client
// answered, on the run's one clock.
func TestRecorderTimes(t *testing.T) {
	s := newMemStore()
	var buf bytes.Buffer
	dp, h := deps(s, &buf)
	var mu sync.Mutex
	var inside []int64 // clock readings inside the client, in order per op
	s.hook = func(string) {
		mu.Lock()
		inside = append(inside, dp.Clock.Now())
		mu.Unlock()
	}
	rec := &recorder{h: h, clock: dp.Clock, stats: dp.Stats}
	cl := &memClient{s: s, node: "n1"}
	for range 100 {
		if _, err := rec.call(context.Background(), 0, "n1", history.Op{F: history.FWrite, Key: "k", Value: history.Str("v")}, false, time.Second,
			func(ctx context.Context, d *history.Op) error {
				_, err := cl.Put(ctx, "k", "v")
				return err
			}); err != nil {
			t.Fatal(err)
		}
	}
	h.Close()
	ops, err := history.ReadAll(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 200 || len(inside) != 100 {
		t.Fatalf("got %d ops and %d client calls, want 200 and 100", len(ops), len(inside))
	}
	for i := range 100 {
		inv, done := ops[2*i], ops[2*i+1]
		if !(inv.Time <= inside[i] && inside[i] <= done.Time) {
			t.Errorf("op %d: invoke %d, client saw it at %d, completion %d: want invoke <= client <= completion", i, inv.Time, inside[i], done.Time)
		}
	}
}

// TestInfoRetiresProcess makes every put indeterminate and checks the
// thread goes on as a fresh process.
func TestInfoRetiresProcess(t *testing.T) {
	s := newMemStore()
	s.fail = func(op string) error {
		if op == "put" {
			return client.Indefinite("put", "", "", client.ErrTimeout)
		}
		if op == "get" {
			return client.Indefinite("get", "", "", client.ErrTimeout)
		}
		return nil
	}
	ops := runFor(t, Config{Workload: "register", Concurrency: 2, Rate: 1000, Seed: 1}, s, 150*time.Millisecond)
	wellFormed(t, ops)
	infos, readFails := 0, 0
	procs := map[int]bool{}
	for _, o := range ops {
		procs[o.Process] = true
		if o.Type == history.Info {
			infos++
			if o.F != history.FWrite {
				t.Errorf("info for %s, want only writes to be indeterminate", o.F)
			}
		}
		if o.Type == history.Fail && o.F == history.FRead {
			readFails++
		}
	}
	if infos == 0 || readFails == 0 {
		t.Fatalf("infos %d, read fails %d: want both > 0", infos, readFails)
	}
	for p := range procs {
		if p > 1 && !procs[p-2] {
			t.Errorf("process %d without predecessor %d: want thread t to run t, t+2, t+4...", p, p-2)
		}
	}
	if len(procs) <= 2 {
		t.Fatalf("processes %v: want retirements to create new ones", procs)
	}
}

func TestLockFencedTokensGrow(t *testing.T) {
	for _, unfenced := range []bool{false, true} {
		ops := runFor(t, Config{Workload: "lock", Concurrency: 4, Seed: 2, Hold: time.Millisecond, Unfenced: unfenced}, newMemStore(), 200*time.Millisecond)
		wellFormed(t, ops)
		var acquires, writes, releases int
		last := int64(0)
		for _, o := range ops {
			if o.Type != history.OK {
				continue
			}
			switch o.F {
			case history.FAcquire:
				acquires++
				if o.Version <= last {
					t.Fatalf("token %d not above previous %d", o.Version, last)
				}
				last = o.Version
			case history.FFencedWrite:
				writes++
				if o.Fenced == unfenced {
					t.Fatalf("fenced-write with fenced %v, want %v: %+v", o.Fenced, !unfenced, o)
				}
			case history.FRelease:
				releases++
			}
		}
		if acquires == 0 || writes == 0 || releases == 0 {
			t.Fatalf("unfenced=%v: %d acquires, %d writes, %d releases; want all > 0", unfenced, acquires, writes, releases)
		}
	}
}

func TestOtherWorkloadsRun(t *testing.T) {
	for _, name := range []string{"watch", "election", "config"} {
		t.Run(name, func(t *testing.T) {
			want := map[string][]string{
				"watch":    {history.FWatch},
				"election": {history.FCampaign, history.FResign, history.FObserve},
				"config":   {history.FPublish, history.FSubscribe},
			}[name]
			// A loaded machine may complete no op of a kind in a short run:
			// run longer (up to ~10s) until every kind has completed once.
			var missing []string
			var oks map[string]int
			for d := 150 * time.Millisecond; d <= 10*time.Second; d *= 4 {
				ops := runFor(t, Config{Workload: name, Concurrency: 4, Rate: 500, Seed: 1, Hold: time.Millisecond}, newMemStore(), d)
				wellFormed(t, ops)
				oks = map[string]int{}
				for _, o := range ops {
					if o.Type == history.OK {
						oks[o.F]++
					}
				}
				missing = nil
				for _, f := range want {
					if oks[f] == 0 {
						missing = append(missing, f)
					}
				}
				if len(missing) == 0 {
					break
				}
			}
			if len(missing) > 0 {
				t.Errorf("no ok %v ops: %v", missing, oks)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Workload: "nope"}, "unknown workload"},
		{Config{Workload: "register", Concurrency: -1}, "--concurrency"},
		{Config{Workload: "register", Rate: -1}, "--rate"},
		{Config{Workload: "lock", Concurrency: 1}, "compete"},
	}
	for _, c := range cases {
		err := c.cfg.WithDefaults().Validate()
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
			t.Errorf("Validate(%+v) = %v, want an error naming %q", c.cfg, err, c.want)
		}
	}
}

// BenchmarkLoadGenerator measures the load generator alone: register ops
// against the in-memory client, history written to memory.
func BenchmarkLoadGenerator(b *testing.B) {
	s := newMemStore()
	var buf bytes.Buffer
	var total int64
	var elapsed time.Duration
	cpu0 := cpuTime(b)
	for b.Loop() {
		buf.Reset()
		dp, h := deps(s, &buf)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		start := time.Now()
		if err := Run(ctx, Config{Workload: "register", Concurrency: 10, Seed: 1}, dp, time.Second); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		cancel()
		h.Close()
		total += dp.Stats.OK.Load() + dp.Stats.Fail.Load() + dp.Stats.Info.Load()
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "ops/s")
	// On a shared machine the wall rate depends on the other tenants; the
	// CPU the process spent per op says what the generator can do alone.
	b.ReportMetric(float64(total)/(cpuTime(b)-cpu0).Seconds(), "ops/cpu-s")
}

// cpuTime is the user+system CPU time of this process.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestToEvent(t *testing.T) {
	prev := "a"
	cases := []struct {
		in   client.WatchEvent
		want history.Event
	}{
		{client.WatchEvent{Type: client.EventPut, Key: "w/1", Value: "b", Version: 7, CreateVersion: 3, PrevValue: &prev, Revision: 9},
			history.Event{Type: "put", Key: "w/1", Value: history.Str("b"), Version: 7, CreateVersion: 3, PrevValue: &prev, Txn: 7, Time: 5}},
		{client.WatchEvent{Type: client.EventDelete, Key: "w/1", Version: 8, Revision: 9},
			history.Event{Type: "delete", Key: "w/1", Version: 8, Txn: 8, Time: 5}},
		{client.WatchEvent{Type: client.EventProgress, Revision: 12},
			history.Event{Type: "progress", Version: 12, Time: 5}},
		{client.WatchEvent{Type: client.EventCompacted, Revision: 4, Err: client.ErrCompacted},
			history.Event{Type: "compacted", Value: history.Str(client.ErrCompacted.Error()), Time: 5}},
	}
	for _, c := range cases {
		if got := toEvent(c.in, 5); !reflect.DeepEqual(got, c.want) {
			t.Errorf("toEvent(%+v) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

// TestEveryWorkloadIsJudgedValid runs each workload of the table against
// the in-memory store (linearizable, one copy) and judges its history with
// the workload's own judge: a correct store must get a valid verdict, so a
// workload whose ops its checkers misread fails here.
func TestEveryWorkloadIsJudgedValid(t *testing.T) {
	for _, w := range Table {
		t.Run(w.Name, func(t *testing.T) {
			cfg := Config{Workload: w.Name, Concurrency: 4, Rate: 400, Seed: 3, Hold: time.Millisecond}
			ops := runFor(t, cfg, newMemStore(), 300*time.Millisecond)
			wellFormed(t, ops)
			j, _ := Lookup(w.Name)
			res := analysis.Check(ops, j.Judge, analysis.Options{TimeLimit: 30 * time.Second})
			if res.Workload != w.Name || res.Valid != analysis.Valid {
				for n, c := range res.Checkers {
					t.Logf("%s: %v %q %+v", n, c.Valid, c.Note, c.Anomalies)
				}
				t.Fatalf("workload %q: verdict %v (error %q), want valid on a linearizable store", res.Workload, res.Valid, res.Error)
			}
		})
	}
}

// TestWatchResumesAfterCompaction: a watch told its start was compacted
// resumes at the revision the server still has, instead of asking for the
// same start again (which a server with no history, like ZooKeeper,
// answers with the same compaction, round after round).
func TestWatchResumesAfterCompaction(t *testing.T) {
	s := newMemStore()
	s.watch = func(from int64) ([]client.WatchEvent, bool) {
		switch {
		case from == 0: // one change, then the watch breaks
			return []client.WatchEvent{{Type: client.EventPut, Key: "w/1", Value: "a", Version: 3, Revision: 3}}, true
		case from < 10:
			return []client.WatchEvent{{Type: client.EventCompacted, Revision: 10, Err: client.ErrCompacted}}, true
		default:
			return nil, false
		}
	}
	cfg := Config{Workload: "watch", Concurrency: 2, Rate: 50, Seed: 1}
	ops := runFor(t, cfg, s, 300*time.Millisecond)
	var starts []int64
	for _, o := range ops {
		if o.F == history.FWatch && o.Type == history.Invoke {
			starts = append(starts, o.Version)
		}
	}
	if want := []int64{0, 4, 10}; !reflect.DeepEqual(starts, want) {
		t.Fatalf("watch ops started from %v, want %v", starts, want)
	}
}
