package analysis

import (
	"math"
	"testing"

	"coordlab/history"
)

// perfHistory: ten OK writes by process 0 with latencies 1..10 ms, one
// after the other from t=0 (so completions fall at 1, 3, 6, 10, 15, 21, 28,
// 36, 45, 55 ms... scaled below to land in known seconds), a failed read and
// an info write, and one partition from 2.0 s to 3.0 s.
func perfHistory() []history.Op {
	var ops []history.Op
	add := func(p int, typ history.Type, f string, tNs int64, extra map[string]string) {
		ops = append(ops, history.Op{Index: int64(len(ops)), Process: p, Type: typ, F: f, Key: "r/0", Time: tNs, Extra: extra})
	}
	const ms = int64(1e6)
	// Second 0: writes 1..5 ms long, starting every 100 ms.
	// Second 1: writes 6..10 ms long.
	for i := int64(1); i <= 10; i++ {
		start := (i-1)*200*ms + 10*ms
		add(0, history.Invoke, history.FWrite, start, nil)
		add(0, history.OK, history.FWrite, start+i*ms, nil)
	}
	// The partition starts at 2.0 s and stops at 3.0 s.
	add(history.NemesisProcess, history.Info, "start-partition", 2000*ms, map[string]string{"shape": "majority"})
	// A read that fails during it (second 2), an info write (second 2).
	add(1, history.Invoke, history.FRead, 2100*ms, nil)
	add(1, history.Fail, history.FRead, 2200*ms, nil)
	add(2, history.Invoke, history.FWrite, 2300*ms, nil)
	add(2, history.Info, history.FWrite, 2400*ms, nil)
	add(history.NemesisProcess, history.Info, "stop-partition", 3000*ms, nil)
	// First OK write invoked after the start completes at 3.5 s; first OK
	// read at 3.25 s.
	add(3, history.Invoke, history.FWrite, 3400*ms, nil)
	add(3, history.OK, history.FWrite, 3500*ms, nil)
	add(4, history.Invoke, history.FRead, 3200*ms, nil)
	add(4, history.OK, history.FRead, 3250*ms, nil)
	return ops
}

func near(got, want float64) bool { return math.Abs(got-want) <= 0.002*math.Max(1, math.Abs(want)) }

func TestPerfLatencyQuantiles(t *testing.T) {
	calls, nem, err := pairCalls(perfHistory())
	if err != nil {
		t.Fatal(err)
	}
	p := computePerf(calls, nem, registerJudge)
	w := p.Latency[history.FWrite]
	// Write latencies: 1..10 ms and 100 ms (the write after the partition).
	if w.Count != 11 || !near(w.Mean, (55+100)/11.0) || !near(w.P50, 6) || !near(w.P90, 10) || !near(w.Max, 100) {
		t.Errorf("write latency %+v: want count 11, mean %.3f, p50 6, p90 10, max 100", w, (55+100)/11.0)
	}
	r := p.Latency[history.FRead]
	if r.Count != 1 || !near(r.P50, 50) || !near(r.P999, 50) {
		t.Errorf("read latency %+v: want the one OK read of 50 ms (the failed read is not a latency)", r)
	}
	all := p.Latency["all"]
	if all.Count != 12 || !near(all.Max, 100) {
		t.Errorf("all latency %+v: want 12 OK ops, max 100 ms", all)
	}
}

func TestPerfThroughputPerSecond(t *testing.T) {
	calls, nem, err := pairCalls(perfHistory())
	if err != nil {
		t.Fatal(err)
	}
	got := computePerf(calls, nem, registerJudge).Throughput
	want := []Second{
		{Second: 0, OK: 5},            // writes completing at 11..816 ms
		{Second: 1, OK: 5},            // 1016..1819 ms
		{Second: 2, Fail: 1, Info: 1}, // the failed read, the info write
		{Second: 3, OK: 2},            // 3.25 s read, 3.5 s write
	}
	if len(got) != len(want) {
		t.Fatalf("throughput %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("second %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestPerfUnavailabilityPerFault(t *testing.T) {
	calls, nem, err := pairCalls(perfHistory())
	if err != nil {
		t.Fatal(err)
	}
	p := computePerf(calls, nem, registerJudge)
	if len(p.Faults) != 1 {
		t.Fatalf("fault windows %+v, want one partition", p.Faults)
	}
	f := p.Faults[0]
	if f.Fault != "partition" || f.StartNs != 2e9 || f.EndNs != 3e9 || len(f.Ops) != 2 {
		t.Errorf("window %+v: want partition from 2 s to 3 s citing its two lines", f)
	}
	if len(p.Unavailability) != 1 {
		t.Fatalf("unavailability %+v, want one row", p.Unavailability)
	}
	u := p.Unavailability[0]
	// First OK write invoked after the start: completes at 3.5 s (1500 ms
	// after); first OK read: completes at 3.25 s (1250 ms after).
	if u.FirstWriteNs != 3500e6 || !near(u.WriteMs, 1500) || u.FirstReadNs != 3250e6 || !near(u.ReadMs, 1250) {
		t.Errorf("unavailability %+v: want write 1500 ms, read 1250 ms", u)
	}
}

// A fault after which nothing succeeds says never (-1).
func TestPerfUnavailabilityNever(t *testing.T) {
	ops := []history.Op{
		{Index: 0, Process: 0, Type: history.Invoke, F: history.FWrite, Time: 0},
		{Index: 1, Process: 0, Type: history.OK, F: history.FWrite, Time: 1e6},
		{Index: 2, Process: history.NemesisProcess, Type: history.Info, F: "kill", Node: "n1", Time: 2e6},
		{Index: 3, Process: 0, Type: history.Invoke, F: history.FWrite, Time: 3e6},
		{Index: 4, Process: 0, Type: history.Info, F: history.FWrite, Time: 4e6},
	}
	calls, nem, err := pairCalls(ops)
	if err != nil {
		t.Fatal(err)
	}
	p := computePerf(calls, nem, registerJudge)
	if len(p.Faults) != 1 || p.Faults[0].EndNs != -1 || p.Faults[0].Node != "n1" {
		t.Errorf("windows %+v: want one kill of n1, never restarted (end -1)", p.Faults)
	}
	if u := p.Unavailability[0]; u.FirstWriteNs != -1 || u.WriteMs != -1 || u.ReadMs != -1 {
		t.Errorf("unavailability %+v: want never (-1) for writes and reads", u)
	}
}
