package analysis

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"coordlab/history"
)

// ReadFixture is readFixture for the external fixture tests
// (fixtures_test.go, package analysis_test).
var ReadFixture = readFixture

func readFixture(t *testing.T, name string) []history.Op {
	t.Helper()
	ops, err := history.Read(filepath.Join("testdata", name+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

func kinds(c CheckerResult) []string {
	var ks []string
	for _, a := range c.Anomalies {
		if !slices.Contains(ks, a.Kind) {
			ks = append(ks, a.Kind)
		}
	}
	sort.Strings(ks)
	return ks
}

// Judges for the internal tests; the workloads table's are tested on every
// fixture by fixtures_test.go.
var (
	registerJudge = Judge{Workload: "register", Checkers: []Checker{Linearizable(), SessionOrder()}, Staleness: true, Reads: RegisterReads, Writes: RegisterWrites}
	watchJudge    = Judge{Workload: "watch", Checkers: []Checker{Watch()}}
	electionJudge = Judge{Workload: "election", Checkers: []Checker{Election()}}
)

func dump(r Results) string {
	b, _ := json.MarshalIndent(r.Checkers, "", "  ")
	return string(b)
}

// The split the lab must show on ZooKeeper local reads.
func TestStaleReadSplitsLinearizabilityFromSessionOrder(t *testing.T) {
	dir := t.TempDir()
	res := Check(readFixture(t, "register-stale-read"), registerJudge, Options{OutDir: dir})
	lin, sess := res.Checkers["linearizable"], res.Checkers["session-order"]
	if lin.Valid != Invalid || sess.Valid != Valid {
		t.Fatalf("linearizable %v, session-order %v; want invalid and valid", lin.Valid, sess.Valid)
	}
	a := lin.Anomalies[0]
	if a.Kind != "stale-read" || !slices.Contains(a.Ops, 4) || !slices.Contains(a.Ops, 7) {
		t.Errorf("anomaly %+v: want a stale read citing the write #4 and the read #7", a)
	}
	// Minimal failing sub-history: the two writes and the stale read.
	if len(a.Minimal) == 0 || len(a.Minimal) > 6 {
		t.Errorf("minimal sub-history %v: want at most 3 ops (6 lines)", a.Minimal)
	}
	if a.Visualization == "" {
		t.Fatal("no visualization for the failing key")
	}
	html, err := os.ReadFile(filepath.Join(dir, a.Visualization))
	if err != nil || !strings.Contains(string(html), "<html") {
		t.Errorf("visualization %s: %v (%d bytes)", a.Visualization, err, len(html))
	}
	st := res.Staleness["local"]
	if st.Reads != 3 || st.Stale != 1 || st.VersionsBehind.Max != 1 || st.MsBehind.Max < 4.9 || st.MsBehind.Max > 5.1 {
		t.Errorf("staleness %+v: want 3 reads, 1 stale by 1 version and 5 ms", st)
	}
}

func TestMalformedHistoryIsUnknown(t *testing.T) {
	ops := []history.Op{
		{Index: 0, Process: 0, Type: history.OK, F: "read", Time: 1},
	}
	res := Check(ops, registerJudge, Options{})
	if res.Valid != Unknown || !strings.Contains(res.Error, "without an invoke") {
		t.Errorf("valid %v error %q; want unknown naming the orphan completion", res.Valid, res.Error)
	}
}

func TestEmptyHistoryIsUnknown(t *testing.T) {
	res := Check(nil, Judge{Workload: "watch", Checkers: []Checker{Watch()}}, Options{})
	if res.Valid != Unknown {
		t.Errorf("empty watch history: %v, want unknown", res.Valid)
	}
}

func TestValidityJSON(t *testing.T) {
	for _, v := range []Validity{Valid, Invalid, Unknown} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var back Validity
		if err := json.Unmarshal(b, &back); err != nil || back != v {
			t.Errorf("%v -> %s -> %v, %v", v, b, back, err)
		}
	}
	if Valid.Merge(Unknown) != Unknown || Unknown.Merge(Invalid) != Invalid || Invalid.Merge(Valid) != Invalid || Validity(0).Merge(Valid) != Valid {
		t.Error("merge is not worst-wins with unknown between valid and invalid")
	}
}

func TestResultsRoundTrip(t *testing.T) {
	res := Check(readFixture(t, "register-stale-read"), registerJudge, Options{})
	path := filepath.Join(t.TempDir(), "results.json")
	if err := res.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadResults(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Valid != Invalid || len(back.Checkers["linearizable"].Anomalies) != 1 {
		t.Errorf("round trip lost the verdict: %+v", back)
	}
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), `"valid": false`) {
		t.Errorf("results.json does not say \"valid\": false:\n%s", raw)
	}
}

// A stale observation is an anomaly in every read mode; the explanation
// names a mode that allows it.
func TestElectionStaleObserveInEveryReadMode(t *testing.T) {
	ops := readFixture(t, "election-stale-observe")
	for _, mode := range []string{"", "linearizable", "serializable", "local"} {
		got := Check(ops, electionJudge, Options{ReadMode: mode}).Checkers["election"]
		if got.Valid != Invalid || !slices.Contains(kinds(got), "stale-leader") {
			t.Fatalf("mode %q: %v %v, want invalid stale-leader", mode, got.Valid, kinds(got))
		}
		named := strings.Contains(got.Anomalies[0].Explanation, "a "+mode+" read")
		if want := mode == "serializable" || mode == "local"; named != want {
			t.Errorf("mode %q: explanation %q names the mode: %v, want %v", mode, got.Anomalies[0].Explanation, named, want)
		}
	}
}

// Only the first three failing keys are shrunk; the others still name the
// stale read and the write it missed.
func TestManyFailingKeys(t *testing.T) {
	var ops []history.Op
	add := func(p int, typ history.Type, f, key string, v *string, ver, tms int64) {
		op := history.Op{Index: int64(len(ops)), Process: p, Type: typ, F: f, Key: key, Value: v, Version: ver, Time: tms * 1e6}
		if f == history.FRead && typ == history.OK && v != nil {
			op.Found = true
		}
		ops = append(ops, op)
	}
	s := history.Str
	for k := range 5 {
		key := "r/" + string(rune('a'+k))
		base := int64(k * 100)
		// Filler ops so the key history is longer than what is listed.
		for i := range 40 {
			add(0, history.Invoke, "write", key, s("f"+string(rune('0'+i%10))), 0, base+int64(i)*2)
			add(0, history.OK, "write", key, s("f"+string(rune('0'+i%10))), 0, base+int64(i)*2+1)
		}
		add(0, history.Invoke, "write", key, s("old"), 0, base+81)
		add(0, history.OK, "write", key, s("old"), 0, base+82)
		add(0, history.Invoke, "write", key, s("new"), 0, base+83)
		add(0, history.OK, "write", key, s("new"), 0, base+84)
		add(1, history.Invoke, "read", key, nil, 0, base+85)
		add(1, history.OK, "read", key, s("old"), 0, base+86)
	}
	res := Check(ops, registerJudge, Options{})
	lin := res.Checkers["linearizable"]
	if lin.Valid != Invalid || len(lin.Anomalies) != 5 {
		t.Fatalf("valid %v, %d anomalies; want invalid with 5", lin.Valid, len(lin.Anomalies))
	}
	for i, a := range lin.Anomalies {
		if a.Kind != "lost-write" && a.Kind != "stale-read" {
			t.Errorf("anomaly %d kind %q, want a stale read", i, a.Kind)
		}
		if i < 3 && (len(a.Minimal) == 0 || len(a.Minimal) > 6) {
			t.Errorf("anomaly %d: minimal %v, want the 3 ops that show it", i, a.Minimal)
		}
		if i >= 3 && (a.Minimal != nil || len(a.Ops) != 4) {
			t.Errorf("anomaly %d (unshrunk): minimal %v ops %v, want none and the read plus the missed write", i, a.Minimal, a.Ops)
		}
	}
}

// Every kind a checker emits is described in AnomalyKinds.
func TestAnomalyKindsDocumented(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	defer func() {
		if len(found) < len(AnomalyKinds)-2 {
			t.Errorf("found only %d kinds in the checkers' source (%v): the pattern no longer matches how they emit anomalies", len(found), found)
		}
	}()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "kinds.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?:add\(|Kind: |kind = |kind, what :?= )"([a-z-]+)"`).FindAllSubmatch(src, -1) {
			found[string(m[1])] = true
			if _, ok := AnomalyKinds[string(m[1])]; !ok {
				t.Errorf("%s: kind %q has no entry in AnomalyKinds", f, m[1])
			}
		}
	}
}

// Shrinking must not invent a violation by dropping the write a failed cas
// failed against: the minimal history shows the real stale read.
func TestShrinkKeepsWhatACASFailedAgainst(t *testing.T) {
	s := history.Str
	var ops []history.Op
	add := func(p int, typ history.Type, f string, v, old *string, found bool, tms int64, extra map[string]string) {
		ops = append(ops, history.Op{Index: int64(len(ops)), Process: p, Type: typ, F: f, Key: "k", Value: v, Old: old, Found: found, Time: tms * 1e6, Extra: extra})
	}
	add(0, history.Invoke, "write", s("a"), nil, false, 0, nil)
	add(0, history.OK, "write", s("a"), nil, false, 1, nil)
	add(0, history.Invoke, "write", s("b"), nil, false, 2, nil)
	add(0, history.OK, "write", s("b"), nil, false, 3, nil)
	// Legal: the value is b, so a cas from a fails.
	add(1, history.Invoke, "cas", s("c"), s("a"), false, 4, nil)
	add(1, history.OK, "cas", s("c"), s("a"), false, 5, nil)
	ops[len(ops)-1].Applied = history.Bool(false)
	// The real anomaly: a read of a after b was acknowledged.
	add(2, history.Invoke, "read", nil, nil, false, 6, nil)
	add(2, history.OK, "read", s("a"), nil, true, 7, nil)
	res := Check(ops, registerJudge, Options{})
	lin := res.Checkers["linearizable"]
	if lin.Valid != Invalid || len(lin.Anomalies) != 1 {
		t.Fatalf("%v %+v", lin.Valid, lin.Anomalies)
	}
	a := lin.Anomalies[0]
	if !slices.Contains(a.Minimal, 6) || !slices.Contains(a.Minimal, 2) {
		t.Errorf("minimal %v: want the stale read (#6) and the write it missed (#2); explanation: %s", a.Minimal, a.Explanation)
	}
	if slices.Contains(a.Minimal, 4) && !slices.Contains(a.Minimal, 2) {
		t.Errorf("minimal %v keeps the failed cas without the write it failed against", a.Minimal)
	}
}

// Indeterminate writes nobody observed do not slow porcupine down, and do
// not change verdicts: one that explains a failed cas is kept.
func TestUnobservedInfoWrites(t *testing.T) {
	s := history.Str
	var ops []history.Op
	add := func(p int, typ history.Type, f string, v, old *string, found bool, tms int64, extra map[string]string) {
		ops = append(ops, history.Op{Index: int64(len(ops)), Process: p, Type: typ, F: f, Key: "k", Value: v, Old: old, Found: found, Time: tms * 1e6, Extra: extra})
	}
	add(0, history.Invoke, "write", s("a"), nil, false, 0, nil)
	add(0, history.OK, "write", s("a"), nil, false, 1, nil)
	// An indeterminate write of x that did happen: it explains why a cas
	// from a failed.
	add(100, history.Invoke, "write", s("x"), nil, false, 2, nil)
	add(100, history.Info, "write", s("x"), nil, false, 3, nil)
	add(101, history.Invoke, "cas", s("c"), s("a"), false, 4, nil)
	add(101, history.OK, "cas", s("c"), s("a"), false, 5, nil)
	ops[len(ops)-1].Applied = history.Bool(false)
	// Then 40 processes each leave an indeterminate write behind.
	for p := 1; p <= 40; p++ {
		v := s("lost" + strconv.Itoa(p))
		add(p, history.Invoke, "write", v, nil, false, int64(10+p), nil)
		add(p, history.Info, "write", v, nil, false, int64(11+p), nil)
	}
	add(0, history.Invoke, "read", nil, nil, false, 100, nil)
	add(0, history.OK, "read", s("lost7"), nil, true, 101, nil) // observed: kept
	calls, _, err := pairCalls(ops)
	if err != nil {
		t.Fatal(err)
	}
	dropped := unobservedInfoWrites(calls)
	if len(dropped) != 39 {
		t.Errorf("dropped %d info writes, want the 39 that nothing observed", len(dropped))
	}
	for c := range dropped {
		if v := derefOr(c.inv.Value, ""); v == "x" || v == "lost7" {
			t.Errorf("dropped the info write of %s, which an op observed", v)
		}
	}
	if lin := Check(ops, registerJudge, Options{TimeLimit: 10 * time.Second}).Checkers["linearizable"]; lin.Valid != Valid {
		t.Fatalf("linearizable %v %+v, want valid", lin.Valid, lin.Anomalies)
	}
}

// TestOneShotWatches: ZooKeeper's one-shot watches are not promised every
// change, so a gap is counted, not reported; everything else still is.
func TestOneShotWatches(t *testing.T) {
	gap := Check(readFixture(t, "watch-gap"), watchJudge, Options{TimeLimit: 20 * time.Second, OneShotWatches: true})
	w := gap.Checkers["watch"]
	if w.Valid != Valid || w.Checked["missed_changes"] == 0 || !strings.Contains(w.Note, "one-shot") {
		t.Errorf("gap with one-shot watches: valid %v, missed %d, note %q; want valid with missed changes counted",
			w.Valid, w.Checked["missed_changes"], w.Note)
	}
	for _, f := range []string{"watch-reordered", "watch-duplicate", "watch-wrong-prev", "watch-incomplete"} {
		res := Check(readFixture(t, f), watchJudge, Options{TimeLimit: 20 * time.Second, OneShotWatches: true})
		if res.Checkers["watch"].Valid != Invalid {
			t.Errorf("%s with one-shot watches: %v, want invalid", f, res.Checkers["watch"].Valid)
		}
	}
}
