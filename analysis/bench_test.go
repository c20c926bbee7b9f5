package analysis

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"coordlab/history"
)

// genRegister makes a linearizable register history: nOps operations over
// nKeys keys by nProcs concurrent processes. Each op is invoked, takes effect
// at a later step (its linearization point) and completes at a later step
// still; a fraction infoFrac completes as info (after taking effect or not),
// and its process is replaced by a fresh one, as the workloads do.
func genRegister(seed uint64, nOps, nKeys, nProcs int, infoFrac float64) []history.Op {
	rng := rand.New(rand.NewPCG(seed, 1))
	type inflight struct {
		op      history.Op
		applied bool
		result  history.Op
	}
	state := make([]*string, nKeys)
	version := int64(1)
	versions := make([]int64, nKeys)
	procs := make([]int, nProcs)
	for i := range procs {
		procs[i] = i
	}
	nextProc := nProcs
	busy := make([]*inflight, nProcs)
	var out []history.Op
	var t int64
	started := 0
	w := 0
	emit := func(op history.Op) {
		op.Index = int64(len(out))
		op.Time = t
		out = append(out, op)
	}
	for started < nOps || w > 0 {
		t += int64(1 + rng.IntN(1000))
		slot := rng.IntN(nProcs)
		f := busy[slot]
		switch {
		case f == nil:
			if started >= nOps {
				continue
			}
			started++
			w++
			k := rng.IntN(nKeys)
			op := history.Op{Process: procs[slot], Type: history.Invoke, Key: fmt.Sprintf("r/%d", k)}
			switch r := rng.IntN(10); {
			case r < 5:
				op.F = history.FRead
			case r < 8:
				op.F = history.FWrite
				op.Value = history.Str(fmt.Sprint(started))
			default:
				op.F = history.FCAS
				op.Old = history.Str(fmt.Sprint(rng.IntN(max(1, started))))
				if cur := state[k]; cur != nil && rng.IntN(2) == 0 {
					op.Old = history.Str(*cur)
				}
				op.Value = history.Str(fmt.Sprint(started))
			}
			emit(op)
			busy[slot] = &inflight{op: op}
		case !f.applied:
			f.applied = true
			k := 0
			fmt.Sscanf(f.op.Key, "r/%d", &k)
			res := f.op
			res.Type = history.OK
			switch f.op.F {
			case history.FRead:
				if state[k] != nil {
					res.Value, res.Found, res.Version = history.Str(*state[k]), true, versions[k]
				}
			case history.FWrite:
				version++
				state[k], versions[k], res.Version = f.op.Value, version, version
			case history.FCAS:
				if state[k] != nil && *state[k] == *f.op.Old {
					version++
					state[k], versions[k], res.Version = f.op.Value, version, version
					res.Applied = history.Bool(true)
				} else {
					res.Applied = history.Bool(false)
				}
			}
			f.result = res
		default:
			res := f.result
			if f.op.F != history.FRead && rng.Float64() < infoFrac {
				res = f.op
				res.Type = history.Info
				res.Error = "timeout"
				emit(res)
				procs[slot] = nextProc
				nextProc++
			} else {
				emit(res)
			}
			busy[slot] = nil
			w--
		}
	}
	return out
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestGeneratedHistoryIsValid(t *testing.T) {
	ops := genRegister(1, 5000, 10, 10, 0.01)
	res := Check(ops, registerJudge, Options{TimeLimit: 30 * time.Second})
	if res.Valid != Valid {
		t.Fatalf("generated linearizable history: %v\n%s", res.Valid, dump(res))
	}
	if res.Checkers["session-order"].Valid != Valid {
		t.Fatalf("session order: %+v", res.Checkers["session-order"])
	}
	if st := res.Staleness[""]; st.Stale != 0 {
		t.Fatalf("staleness on a linearizable history: %+v", st)
	}
	// Corrupt one read: it must now fail.
	for i := len(ops) - 1; i >= 0; i-- {
		if ops[i].F == history.FRead && ops[i].Type == history.OK && ops[i].Found {
			ops[i].Value = history.Str("never-written")
			break
		}
	}
	if res := Check(ops, registerJudge, Options{TimeLimit: 30 * time.Second}); res.Valid != Invalid {
		t.Fatalf("corrupted history: %v, want invalid", res.Valid)
	}
}

func TestBudgetExhaustedIsUnknown(t *testing.T) {
	ops := genRegister(2, 20000, 4, 20, 0.05)
	res := Check(ops, registerJudge, Options{TimeLimit: time.Millisecond, KeyTimeLimit: time.Millisecond})
	if res.Valid == Valid {
		t.Fatalf("a 1 ms budget on 20000 ops gave valid: must be unknown")
	}
	if res.Valid == Unknown && res.Checkers["linearizable"].Note == "" {
		t.Error("unknown without a note saying why")
	}
	mem := Check(ops, registerJudge, Options{MemoryLimit: 1})
	if mem.Checkers["linearizable"].Valid != Unknown || mem.Budget.Exhausted != "memory" {
		t.Fatalf("1-byte memory budget: linearizable %v, exhausted %q; want unknown, memory", mem.Checkers["linearizable"].Valid, mem.Budget.Exhausted)
	}
}

// BenchmarkCheckRegister100k: the target is under 5 s for 100,000
// operations over 100 keys by 20 processes.
func BenchmarkCheckRegister100k(b *testing.B) {
	ops := genRegister(42, 100000, 100, 20, 0.001)
	b.ReportAllocs()
	for b.Loop() {
		start, cpu0 := time.Now(), cpuTime()
		res := Check(ops, registerJudge, Options{TimeLimit: time.Minute})
		if res.Valid != Valid {
			b.Fatalf("valid = %v: %s", res.Valid, dump(res))
		}
		wall := time.Since(start).Seconds()
		b.ReportMetric(wall, "s/check")
		// CPU time too: on a shared machine the wall time includes waiting
		// for a core.
		b.ReportMetric((cpuTime() - cpu0).Seconds(), "cpu-s/check")
		b.ReportMetric(100000/wall, "ops/s")
	}
}
