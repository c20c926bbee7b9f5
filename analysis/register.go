package analysis

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"

	"coordlab/history"
)

// Register model: one key's value, with CAS. States are comparable values,
// so porcupine's default == equality and caching apply.

type regState struct {
	found bool
	value string
}

type regKind int

const (
	regRead regKind = 1 + iota
	regWrite
	regCAS
	regDelete
)

type regInput struct {
	kind  regKind
	value string // write, cas: new value
	old   string // cas
}

type regOutput struct {
	unknown bool // info: any outcome
	ok      bool // cas: succeeded
	found   bool // read
	value   string
}

// registerModel returns the model; abort, when set, makes every step fail
// so a search that must stop unwinds at once, and sets *aborted.
func registerModel(abort *atomic.Bool, aborted *atomic.Bool) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return regState{} },
		Step: func(st, in, out any) (bool, any) {
			if abort.Load() {
				aborted.Store(true)
				return false, st
			}
			s, i, o := st.(regState), in.(regInput), out.(regOutput)
			switch i.kind {
			case regRead:
				return o.found == s.found && (!s.found || o.value == s.value), s
			case regWrite:
				return true, regState{true, i.value}
			case regDelete:
				return true, regState{}
			case regCAS:
				match := s.found && s.value == i.old
				if o.unknown {
					if match {
						return true, regState{true, i.value}
					}
					return true, s
				}
				if o.ok {
					return match, regState{true, i.value}
				}
				return !match, s
			}
			return false, s
		},
		DescribeOperation: func(in, out any) string {
			i, o := in.(regInput), out.(regOutput)
			switch i.kind {
			case regRead:
				if o.unknown {
					return "read() -> ?"
				}
				if !o.found {
					return "read() -> nil"
				}
				return fmt.Sprintf("read() -> %q", o.value)
			case regWrite:
				return fmt.Sprintf("write(%q)", i.value)
			case regDelete:
				return "delete()"
			default:
				r := fmt.Sprint(o.ok)
				if o.unknown {
					r = "?"
				}
				return fmt.Sprintf("cas(%q, %q) -> %s", i.old, i.value, r)
			}
		},
		DescribeState: func(st any) string {
			s := st.(regState)
			if !s.found {
				return "nil"
			}
			return fmt.Sprintf("%q", s.value)
		},
	}
}

// registerOps turns one key's calls into porcupine operations. Failed ops
// did not happen and are dropped; reads that did not complete OK constrain
// nothing and are dropped; indeterminate writes get an open end. It returns
// the calls kept, in the same order as the operations.
func registerOps(calls []*call) ([]porcupine.Operation, []*call) {
	var ops []porcupine.Operation
	var kept []*call
	clientIDs := map[int]int{}
	unobserved := unobservedInfoWrites(calls)
	for _, c := range calls {
		if c.typ == history.Fail || unobserved[c] {
			continue
		}
		var in regInput
		var out regOutput
		switch c.f {
		case history.FRead:
			if !c.ok() {
				continue
			}
			in.kind = regRead
			out.found = c.comp.Found
			out.value = derefOr(c.comp.Value, "")
			if c.comp.Value != nil && !c.comp.Found {
				out.found = true // writers that set Value but forgot Found
			}
		case history.FWrite, history.FPut:
			in.kind = regWrite
			in.value = derefOr(c.inv.Value, "")
		case history.FDelete:
			in.kind = regDelete
		case history.FCAS:
			in.kind = regCAS
			in.old = derefOr(c.inv.Old, "")
			in.value = derefOr(c.inv.Value, "")
			out.ok = c.ok() && c.casOK()
		default:
			continue
		}
		if !c.ok() {
			out.unknown = true
		}
		id, ok := clientIDs[c.process]
		if !ok {
			id = len(clientIDs)
			clientIDs[c.process] = id
		}
		ops = append(ops, porcupine.Operation{ClientId: id, Input: in, Output: out, Call: c.start, Return: c.end, Metadata: c.inv.Index})
		kept = append(kept, c)
	}
	return ops, kept
}

// unobservedInfoWrites finds indeterminate writes that porcupine can do
// without: open-ended ops are what makes its search explode. Dropping such a
// write W keeps the verdict exact when nothing can tell whether it happened:
//   - the check stays sound (never Valid wrongly): a linearization without W
//     plus W at the very end (its interval is open) is one with W;
//   - it stays complete (never Invalid wrongly) when no OK read returned W's
//     value, no cas compared against it, and no failed cas completed after W
//     was invoked (a failure W's value could explain): then removing W from
//     any linearization changes what no remaining op observes.
func unobservedInfoWrites(calls []*call) map[*call]bool {
	read := map[string]bool{}
	compared := map[string]bool{}
	var lastFailedCAS int64 = -1
	for _, c := range calls {
		switch {
		case c.f == history.FRead && c.ok() && c.comp.Found:
			read[derefOr(c.comp.Value, "")] = true
		case c.f == history.FCAS:
			compared[derefOr(c.inv.Old, "")] = true
			if c.ok() && !c.casOK() {
				lastFailedCAS = max(lastFailedCAS, c.end)
			}
		}
	}
	out := map[*call]bool{}
	for _, c := range calls {
		if c.typ != history.Info || (c.f != history.FWrite && c.f != history.FPut && c.f != history.FCAS) {
			continue
		}
		v := derefOr(c.inv.Value, "")
		if !read[v] && !compared[v] && lastFailedCAS < c.start {
			out[c] = true
		}
	}
	return out
}

// isRegisterF reports the fs the register checker reads.
func isRegisterF(f string) bool {
	switch f {
	case history.FRead, history.FWrite, history.FCAS, history.FDelete, history.FPut:
		return true
	}
	return false
}

type keyVerdict struct {
	key     string
	result  porcupine.CheckResult
	aborted bool
	ops     []porcupine.Operation
	calls   []*call
}

// checkLinearizable runs porcupine per key on a pool of workers. Each key
// gets keyLimit; abort stops every search (budget exhausted).
func checkLinearizable(b *budget, name string, byKey map[string][]*call, model func(abort, aborted *atomic.Bool) porcupine.Model, toOps func([]*call) ([]porcupine.Operation, []*call), wellFormed func(orig, cand []porcupine.Operation) bool, opts Options, workers int) CheckerResult {
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	verdicts := make([]keyVerdict, len(keys))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(keys) {
					return
				}
				k := keys[i]
				ops, kept := toOps(byKey[k])
				v := keyVerdict{key: k, ops: ops, calls: kept}
				if b.abort.Load() {
					v.result, v.aborted = porcupine.Unknown, true
					verdicts[i] = v
					continue
				}
				var aborted atomic.Bool
				m := model(&b.abort, &aborted)
				v.result = porcupine.CheckOperationsTimeout(m, ops, b.keyLimit())
				if aborted.Load() {
					v.result, v.aborted = porcupine.Unknown, true
				}
				verdicts[i] = v
			}
		})
	}
	wg.Wait()

	res := CheckerResult{Valid: Valid, Checked: map[string]int{"keys": len(keys)}}
	var unknownKeys []string
	nops := 0
	for _, v := range verdicts {
		nops += len(v.ops)
		switch v.result {
		case porcupine.Unknown:
			unknownKeys = append(unknownKeys, v.key)
		case porcupine.Illegal:
			res.Valid = Invalid
		}
	}
	res.Checked["ops"] = nops
	failing := 0
	for _, v := range verdicts {
		if v.result != porcupine.Illegal {
			continue
		}
		failing++
		a := Anomaly{Kind: "nonlinearizable", Key: v.key}
		minCalls := v.calls
		if failing <= 3 { // shrinking costs; the first few failing keys are enough to read
			minCalls = callsOf(shrink(b, model, wellFormed, v.ops, opts), v.calls, v.ops)
			for _, c := range minCalls {
				a.Minimal = append(a.Minimal, c.indexes()...)
			}
		}
		a.Kind, a.Explanation, a.Ops = explainRegister(name, v.key, minCalls, v.calls)
		if failing > 3 {
			a.Explanation += " (not shrunk: only the first 3 failing keys are)"
		}
		if opts.OutDir != "" && failing <= 5 {
			if file, err := visualize(b, model, v.ops, opts.OutDir, name, v.key); err == nil {
				a.Visualization = file
				res.Files = append(res.Files, file)
			} else {
				res.Note = strings.TrimSpace(res.Note + " visualization of " + v.key + " failed: " + err.Error())
			}
		}
		res.Anomalies = append(res.Anomalies, a)
	}
	if len(unknownKeys) > 0 {
		res.Valid = res.Valid.Merge(Unknown)
		res.Note = strings.TrimSpace(fmt.Sprintf("%s porcupine gave no answer within the budget on %d of %d keys (%s)", res.Note, len(unknownKeys), len(keys), strings.Join(firstN(unknownKeys, 5), ", ")))
	}
	return res
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(append([]string{}, s[:n]...), "...")
	}
	return s
}

// callsOf maps a subset of ops back to their calls (ops carry the invoke
// index in Metadata).
func callsOf(sub []porcupine.Operation, calls []*call, all []porcupine.Operation) []*call {
	byIndex := make(map[int64]*call, len(calls))
	for i, c := range calls {
		byIndex[all[i].Metadata.(int64)] = c
	}
	out := make([]*call, 0, len(sub))
	for _, op := range sub {
		out = append(out, byIndex[op.Metadata.(int64)])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].inv.Index < out[j].inv.Index })
	return out
}

// shrink drops ops while the history stays illegal: first chunks, halving
// their size, then single ops, until nothing more can go or the shrink
// budget ends. Any sub-history that porcupine calls Illegal is itself a proof
// of the anomaly, so the result is sound even when cut short.
//
// A candidate must keep the anomaly the original shows (wellFormed): if
// the original had a linearization, the candidate must still have one, so
// that the candidate's illegality proves the original's. Dropping an op
// that only observes never breaks that; dropping a write can (the read that
// returned its value, the compare that failed because of it), and
// wellFormed says when it cannot.
func shrink(b *budget, model func(abort, aborted *atomic.Bool) porcupine.Model, wellFormed func(orig, cand []porcupine.Operation) bool, ops []porcupine.Operation, opts Options) []porcupine.Operation {
	limit := opts.ShrinkBudget
	if limit == 0 {
		limit = min(b.remaining()/10, 10*time.Second)
	}
	deadline := time.Now().Add(limit)
	cur := append([]porcupine.Operation(nil), ops...)
	illegal := func(h []porcupine.Operation) bool {
		var aborted atomic.Bool
		m := model(&b.abort, &aborted)
		per := min(time.Until(deadline), time.Second)
		if per <= 0 {
			return false
		}
		r := porcupine.CheckOperationsTimeout(m, h, per)
		return r == porcupine.Illegal && !aborted.Load()
	}
	// Observations that cannot be what is wrong go first, in one check:
	// failed compare-and-sets (while they stay, rule 3 of registerWellFormed
	// pins every write they compare against).
	if obs := slices.DeleteFunc(slices.Clone(cur), failedCAS); len(obs) < len(cur) && len(obs) > 0 && wellFormed(ops, obs) && illegal(obs) {
		cur = obs
	}
	// Then the shortest illegal prefix in invocation order, by bisection:
	// it drops everything after the violation in a few checks. (Prefixes are
	// not monotone in general, so this finds an illegal prefix, not
	// necessarily the shortest; any illegal one will do.)
	sort.SliceStable(cur, func(i, j int) bool { return cur[i].Call < cur[j].Call })
	lo, hi := 1, len(cur) // cur[:hi] is illegal
	for lo < hi && time.Now().Before(deadline) {
		mid := (lo + hi) / 2
		if wellFormed(ops, cur[:mid]) && illegal(cur[:mid]) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	cur = cur[:hi]
	// Then chunks of halving size; the single-op pass repeats until nothing
	// more can go (dropping one op can make another droppable: the read that
	// needed its write is gone).
	for chunk := len(cur) / 2; chunk >= 1 && time.Now().Before(deadline); {
		changed := false
		for i := 0; i < len(cur) && time.Now().Before(deadline); {
			end := min(i+chunk, len(cur))
			cand := append(append([]porcupine.Operation(nil), cur[:i]...), cur[end:]...)
			if len(cand) > 0 && wellFormed(ops, cand) && illegal(cand) {
				cur, changed = cand, true
			} else {
				i += chunk
			}
		}
		if chunk > 1 {
			chunk /= 2
		} else if !changed {
			break
		}
	}
	return cur
}

// failedCAS reports a register cas that completed and lost.
func failedCAS(op porcupine.Operation) bool {
	i, ok := op.Input.(regInput)
	if !ok || i.kind != regCAS {
		return false
	}
	o := op.Output.(regOutput)
	return !o.ok && !o.unknown
}

// registerWellFormed says whether cand, a subset of orig, is illegal only if
// orig is. Take a linearization of orig and drop the missing ops: each
// remaining op still sees the state it saw if (values being unique per key)
// every value a remaining read returned, and every old value a remaining
// successful cas matched, is written by a remaining op; and, once a write
// is gone, no remaining failed cas compares against a value a remaining op
// writes (the write it failed against may be the one dropped), and no
// remaining read that found nothing lost a delete.
func registerWellFormed(orig, cand []porcupine.Operation) bool {
	isWrite := func(op porcupine.Operation) bool {
		i, o := op.Input.(regInput), op.Output.(regOutput)
		return i.kind == regWrite || i.kind == regDelete || (i.kind == regCAS && (o.ok || o.unknown))
	}
	written := map[string]bool{}
	writes, deletes := 0, 0
	for _, op := range cand {
		if i := op.Input.(regInput); isWrite(op) {
			written[i.value] = true
			writes++
			if i.kind == regDelete {
				deletes++
			}
		}
	}
	origWrites, origDeletes := 0, 0
	for _, op := range orig {
		if isWrite(op) {
			origWrites++
			if op.Input.(regInput).kind == regDelete {
				origDeletes++
			}
		}
	}
	for _, op := range cand {
		i, o := op.Input.(regInput), op.Output.(regOutput)
		if i.kind == regRead && o.found && !written[o.value] {
			return false
		}
		if i.kind == regRead && !o.found && deletes < origDeletes {
			return false // the dropped delete may be why it found nothing
		}
		if i.kind == regCAS && o.ok && !written[i.old] {
			return false
		}
		if writes < origWrites && i.kind == regCAS && !o.ok && !o.unknown && written[i.old] {
			return false
		}
	}
	return true
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// visualize writes porcupine's HTML for one key's history.
func visualize(b *budget, model func(abort, aborted *atomic.Bool) porcupine.Model, ops []porcupine.Operation, dir, checker, key string) (string, error) {
	var aborted atomic.Bool
	m := model(&b.abort, &aborted)
	_, info := porcupine.CheckOperationsVerbose(m, ops, max(time.Millisecond, min(10*time.Second, b.remaining())))
	if aborted.Load() {
		return "", fmt.Errorf("budget exhausted")
	}
	var buf bytes.Buffer
	if err := porcupine.Visualize(m, info, &buf); err != nil {
		return "", err
	}
	name := fmt.Sprintf("%s-%s.html", checker, unsafeFileChars.ReplaceAllString(key, "_"))
	if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("analysis: write visualization: %w", err)
	}
	return name, nil
}

// explainRegister names the anomaly shown by a minimal failing history:
// "stale-read" when an OK read returned a value older than a write
// acknowledged before the read began, "lost-write" when, in addition, no
// later read of the whole key history ever saw that write's value (or a
// value written after it), else "nonlinearizable".
//
// Ops are the minimal history's ops; when that is long (the key was not
// shrunk), only the stale read and the write it missed, if found.
func explainRegister(checker, key string, minimal, all []*call) (kind, explanation string, ops []int64) {
	const maxListed = 30
	lines := make([]string, 0, min(len(minimal), maxListed+1))
	for i, c := range minimal {
		if i == maxListed {
			lines = append(lines, fmt.Sprintf("... %d more", len(minimal)-maxListed))
			break
		}
		lines = append(lines, c.describe())
		ops = append(ops, c.indexes()...)
	}
	long := len(minimal) > maxListed
	kind = "nonlinearizable"
	head := fmt.Sprintf("no linearization of key %s exists", key)
	isWrite := func(w *call) bool {
		return w.ok() && (w.f == history.FWrite || w.f == history.FPut || (w.f == history.FCAS && w.casOK()))
	}
	for _, r := range minimal {
		if r.f != history.FRead || !r.ok() {
			continue
		}
		// The newest write acknowledged before the read began.
		var w *call
		for _, c := range all {
			if isWrite(c) && c.end < r.start && (w == nil || c.end > w.end) {
				w = c
			}
		}
		if w == nil {
			continue
		}
		wv := derefOr(w.inv.Value, "")
		if r.comp.Found && derefOr(r.comp.Value, "") == wv {
			continue
		}
		// Surely stale only if every write of the value read finished
		// before w began; one concurrent with or after w could be newer.
		newer := false
		for _, c := range all {
			if (c.f == history.FWrite || c.f == history.FPut || c.f == history.FCAS) && c.typ != history.Fail &&
				r.comp.Found && derefOr(c.inv.Value, "") == derefOr(r.comp.Value, "") && c.end >= w.start {
				newer = true
			}
		}
		if newer {
			continue
		}
		behind := 0
		if r.comp.Version > 0 {
			for _, c := range all {
				if isWrite(c) && c.end < r.start && c.comp.Version > r.comp.Version {
					behind++
				}
			}
		}
		kind = "stale-read"
		head = fmt.Sprintf("read #%d by p%d returned %s although write #%d of %q was acknowledged %s before the read began",
			r.inv.Index, r.process, readResult(r), w.inv.Index, wv, fmtNs(r.start-w.end))
		if behind > 0 {
			head += fmt.Sprintf(" (%d acknowledged writes behind)", behind)
		}
		if long {
			ops = append(w.indexes(), r.indexes()...)
		} else {
			ops = appendUnique(ops, w.indexes()...)
		}
		if !seenLater(all, w, r) {
			kind = "lost-write"
			head += fmt.Sprintf("; no later read observed %q or anything written after it", wv)
		}
		break
	}
	what := ". Minimal failing ops: "
	if long {
		what = ". Ops of the key: "
	}
	return kind, head + what + strings.Join(lines, "; "), ops
}

func appendUnique(s []int64, vs ...int64) []int64 {
	for _, v := range vs {
		if !slices.Contains(s, v) {
			s = append(s, v)
		}
	}
	return s
}

func readResult(r *call) string {
	if !r.comp.Found {
		return "nothing"
	}
	return fmt.Sprintf("%q", derefOr(r.comp.Value, ""))
}

// seenLater reports whether some OK read that began after w was acknowledged
// returned w's value or the value of a write invoked after w completed.
func seenLater(all []*call, w, stale *call) bool {
	later := map[string]bool{derefOr(w.inv.Value, ""): true}
	for _, c := range all {
		if (c.f == history.FWrite || c.f == history.FPut || c.f == history.FCAS) && c.typ != history.Fail && c.start > w.end {
			later[derefOr(c.inv.Value, "")] = true
		}
	}
	for _, c := range all {
		if c.f == history.FRead && c.ok() && c.start > w.end && c != stale && c.comp.Found && later[derefOr(c.comp.Value, "")] {
			return true
		}
	}
	return false
}

// byKeyCalls groups client calls whose f passes keep, by key.
func byKeyCalls(calls []*call, keep func(string) bool) map[string][]*call {
	m := map[string][]*call{}
	for _, c := range calls {
		if keep(c.f) {
			m[c.key] = append(m[c.key], c)
		}
	}
	return m
}
