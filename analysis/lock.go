package analysis

import (
	"fmt"
	"sort"
	"strconv"
	"sync/atomic"

	"github.com/anishathalye/porcupine"

	"coordlab/history"
)

// The lock model: a lease lock guarding a register written with the
// holder's fencing token. Acquisitions carry strictly increasing tokens. A
// new acquisition may take the lock from a holder that never released it
// (its lease may have expired; the history cannot say when). What makes a
// write legal depends on whether the register checks the token:
//   - fenced (Op.Fenced): the register refuses older tokens, so
//     an accepted write must carry a token at least as new as every token
//     already written ("a write by a holder whose token is older than the one
//     already written" is the anomaly);
//   - unfenced (otherwise): nothing protects the register, so an accepted
//     write must come from the current holder with its current token; a
//     write by an old holder after a new one acquired the lock is two
//     holders overlapping.
// A write the fence refused (Fail, or OK with Applied false) had no
// effect and constrains nothing.

type lockState struct {
	holder  int // process; -1 none
	token   int64
	written int64 // newest token written to the register
}

type lockKind int

const (
	lockAcquire lockKind = 1 + iota
	lockRelease
	lockWrite
)

type lockInput struct {
	kind    lockKind
	process int
	token   int64
	fenced  bool
}

type lockOutput struct {
	accepted bool // fenced write: the fence let it through
}

func lockModel(abort, aborted *atomic.Bool) porcupine.Model {
	return porcupine.Model{
		// Tokens may start at 0 (ZooKeeper's first sequence number).
		Init: func() any { return lockState{holder: -1, token: -1, written: -1} },
		Step: func(st, in, out any) (bool, any) {
			if abort.Load() {
				aborted.Store(true)
				return false, st
			}
			s, i, o := st.(lockState), in.(lockInput), out.(lockOutput)
			switch i.kind {
			case lockAcquire:
				return i.token > s.token, lockState{i.process, i.token, s.written}
			case lockRelease:
				if s.holder == i.process {
					s.holder = -1
				}
				return true, s // else the lock had already passed on
			case lockWrite:
				if !o.accepted {
					return true, s
				}
				ok := i.token >= s.written
				if !i.fenced {
					ok = s.holder == i.process && s.token == i.token
				}
				s.written = max(s.written, i.token)
				return ok, s
			}
			return false, s
		},
		DescribeOperation: func(in, out any) string {
			i, o := in.(lockInput), out.(lockOutput)
			switch i.kind {
			case lockAcquire:
				return fmt.Sprintf("acquire() -> %d", i.token)
			case lockRelease:
				return "release()"
			default:
				op := "unfenced-write"
				if i.fenced {
					op = "fenced-write"
				}
				if o.accepted {
					return fmt.Sprintf("%s(%d) ok", op, i.token)
				}
				return fmt.Sprintf("%s(%d) refused", op, i.token)
			}
		},
		DescribeState: func(st any) string {
			s := st.(lockState)
			if s.holder < 0 {
				return fmt.Sprintf("free (last token %d, register %d)", s.token, s.written)
			}
			return fmt.Sprintf("held with token %d (register %d)", s.token, s.written)
		},
	}
}

// fencedWrite reports whether a write was guarded by its token.
func isFenced(c *call) bool {
	return c.inv.Fenced
}

// lockWellFormed: every remaining accepted write keeps its writer's
// acquisition of that token. Dropping any other op only makes the model more
// permissive (a lower last token, an older register, a holder that stays),
// so a candidate that is illegal proves the original is.
func lockWellFormed(_, ops []porcupine.Operation) bool {
	type pt struct {
		p int
		t int64
	}
	acquired := map[pt]bool{}
	for _, op := range ops {
		if i := op.Input.(lockInput); i.kind == lockAcquire {
			acquired[pt{i.process, i.token}] = true
		}
	}
	for _, op := range ops {
		i, o := op.Input.(lockInput), op.Output.(lockOutput)
		if i.kind != lockWrite {
			continue
		}
		if o.accepted && !acquired[pt{i.process, i.token}] {
			return false
		}
	}
	return true
}

// writeToken is a fenced write's token: Version, else Value parsed.
func writeToken(c *call) int64 {
	for _, op := range []*history.Op{c.comp, c.inv} {
		if op == nil {
			continue
		}
		if op.Version != 0 {
			return op.Version
		}
		if op.Value != nil {
			if t, err := strconv.ParseInt(*op.Value, 10, 64); err == nil {
				return t
			}
		}
	}
	return 0
}

func lockOps(calls []*call) ([]porcupine.Operation, []*call) {
	var ops []porcupine.Operation
	var kept []*call
	ids := map[int]int{}
	for _, c := range calls {
		if !c.ok() { // failed ops did not happen; indeterminate ones constrain nothing the model can use
			continue
		}
		in := lockInput{process: c.process}
		var out lockOutput
		switch c.f {
		case history.FAcquire:
			in.kind, in.token = lockAcquire, c.comp.Version
		case history.FRelease:
			in.kind = lockRelease
		case history.FFencedWrite:
			in.kind, in.token, in.fenced = lockWrite, writeToken(c), isFenced(c)
			out.accepted = c.casOK()
		default:
			continue
		}
		id, ok := ids[c.process]
		if !ok {
			id = len(ids)
			ids[c.process] = id
		}
		ops = append(ops, porcupine.Operation{ClientId: id, Input: in, Output: out, Call: c.start, Return: c.end, Metadata: c.inv.Index})
		kept = append(kept, c)
	}
	return ops, kept
}

// lockCalls groups acquire/release/fenced-write calls by lock: a process's
// release and fenced writes belong to the lock of its latest acquire.
func lockCalls(calls []*call) map[string][]*call {
	cur := map[int]string{}
	out := map[string][]*call{}
	for _, c := range calls { // history order
		switch c.f {
		case history.FAcquire:
			cur[c.process] = c.key
			out[c.key] = append(out[c.key], c)
		case history.FRelease, history.FFencedWrite:
			name, ok := cur[c.process]
			if !ok {
				name = c.key
			}
			out[name] = append(out[name], c)
		}
	}
	return out
}

func checkLock(b *budget, calls []*call, opts Options, workers int) CheckerResult {
	byLock := lockCalls(calls)
	res := checkLinearizable(b, "lock", byLock, lockModel, lockOps, lockWellFormed, opts, workers)
	// Replace porcupine's generic explanation with the rule each violation
	// breaks, when one is found; keep porcupine's if none is.
	var rules []Anomaly
	names := make([]string, 0, len(byLock))
	for n := range byLock {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		rules = append(rules, lockRules(n, byLock[n])...)
	}
	if len(rules) > 0 {
		for i := range rules {
			for _, a := range res.Anomalies {
				if a.Key == rules[i].Key {
					rules[i].Visualization, rules[i].Minimal = a.Visualization, a.Minimal
				}
			}
		}
		res.Anomalies = rules
		res.Valid = Invalid
	}
	for i := range res.Anomalies {
		if res.Anomalies[i].Kind == "nonlinearizable" {
			res.Anomalies[i].Kind = "lock-nonlinearizable"
		}
	}
	return res
}

// lockRules finds the violations behind an illegal lock history and names
// them with their ops.
func lockRules(name string, calls []*call) []Anomaly {
	var acq, writes []*call
	for _, c := range calls {
		if !c.ok() {
			continue
		}
		switch c.f {
		case history.FAcquire:
			acq = append(acq, c)
		case history.FFencedWrite:
			if c.casOK() {
				writes = append(writes, c)
			}
		}
	}
	var out []Anomaly
	// Tokens follow acquisition order; equal tokens for two processes are two
	// holders at once.
	for _, a := range acq {
		for _, b := range acq {
			if a == b {
				continue
			}
			if a.end < b.start && b.comp.Version <= a.comp.Version {
				out = append(out, Anomaly{Kind: "token-order", Key: name, Ops: append(a.indexes(), b.indexes()...),
					Explanation: fmt.Sprintf("p%d acquired %s with token %d (#%d) after p%d's acquisition with token %d (#%d) had completed: tokens must increase", b.process, name, b.comp.Version, b.inv.Index, a.process, a.comp.Version, a.inv.Index)})
			}
			if a.inv.Index < b.inv.Index && a.process != b.process && a.comp.Version == b.comp.Version {
				out = append(out, Anomaly{Kind: "two-holders", Key: name, Ops: append(a.indexes(), b.indexes()...),
					Explanation: fmt.Sprintf("p%d (#%d) and p%d (#%d) both acquired %s with token %d", a.process, a.inv.Index, b.process, b.inv.Index, name, a.comp.Version)})
			}
		}
	}
	// An unguarded write accepted from a holder after a newer holder surely
	// held the lock; any write accepted with a token older than one already
	// written.
	for _, w := range writes {
		t := writeToken(w)
		for _, a := range acq {
			if !isFenced(w) && a.process != w.process && a.comp.Version > t && a.end < w.start {
				out = append(out, Anomaly{Kind: "two-holders", Key: name, Ops: append(a.indexes(), w.indexes()...),
					Explanation: fmt.Sprintf("p%d's write with token %d (#%d) was accepted after p%d had acquired %s with token %d (#%d, completed %s before the write began): two holders acted at once", w.process, t, w.inv.Index, a.process, name, a.comp.Version, a.inv.Index, fmtNs(w.start-a.end))})
				break
			}
		}
		for _, w2 := range writes {
			if t2 := writeToken(w2); t2 > t && w2.end < w.start {
				out = append(out, Anomaly{Kind: "stale-write", Key: name, Ops: append(w2.indexes(), w.indexes()...),
					Explanation: fmt.Sprintf("p%d's write with token %d (#%d) was accepted after a write with the newer token %d (#%d) had completed", w.process, t, w.inv.Index, t2, w2.inv.Index)})
				break
			}
		}
	}
	return out
}
