package runfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"coordlab/history"
)

func TestPair(t *testing.T) {
	ops := []history.Op{
		{Index: 0, Process: 0, Type: history.Invoke, F: "read", Time: 0},
		{Index: 1, Process: 1, Type: history.Invoke, F: "write", Time: 1},
		{Index: 2, Process: history.NemesisProcess, Type: history.Info, F: "kill", Time: 2},
		{Index: 3, Process: 0, Type: history.OK, F: "read", Time: 3e6},
		{Index: 4, Process: history.NemesisProcess, Type: history.Invoke, F: "start-partition", Time: 4},
		{Index: 5, Process: history.NemesisProcess, Type: history.Info, F: "start-partition", Time: 5},
	}
	calls, nem, err := Pair(ops)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0].Done != &ops[3] || !calls[1].Pending() || calls[1].Type() != history.Info {
		t.Fatalf("calls %+v: want the read completed by #3 and the write pending", calls)
	}
	if got := calls[0].LatencyMs(); got < 2.99 || got > 3.01 || calls[1].LatencyMs() != -1 {
		t.Errorf("latencies %v %v, want 3 ms and -1", got, calls[1].LatencyMs())
	}
	if len(nem) != 2 || !reflect.DeepEqual(nem[0].Indexes(), []int64{2}) || !reflect.DeepEqual(nem[1].Indexes(), []int64{4, 5}) {
		t.Errorf("nemesis %+v: want the one-line kill and the paired partition", nem)
	}
}

func TestPairMalformed(t *testing.T) {
	cases := []struct {
		name string
		ops  []history.Op
		want string
		// calls paired anyway
		calls int
	}{
		{"orphan completion", []history.Op{{Index: 0, Process: 0, Type: history.OK, F: "read"}}, "without an invoke", 0},
		{"two open", []history.Op{
			{Index: 0, Process: 0, Type: history.Invoke, F: "read"},
			{Index: 1, Process: 0, Type: history.Invoke, F: "write"},
			{Index: 2, Process: 0, Type: history.OK, F: "write", Time: 1},
		}, "still open", 2},
		{"other f", []history.Op{
			{Index: 0, Process: 0, Type: history.Invoke, F: "read"},
			{Index: 1, Process: 0, Type: history.OK, F: "write"},
		}, "completes write but invoked read", 1},
		{"backwards", []history.Op{
			{Index: 0, Process: 0, Type: history.Invoke, F: "read", Time: 5},
			{Index: 1, Process: 0, Type: history.OK, F: "read", Time: 4},
		}, "before its invoke", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls, _, err := Pair(c.ops)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Pair = %v, want ErrMalformed naming %q", err, c.want)
			}
			if len(calls) != c.calls {
				t.Errorf("paired %d calls anyway, want %d", len(calls), c.calls)
			}
		})
	}
}

func TestWithDefaults(t *testing.T) {
	got := Spec{Target: "zab", Rate: 0}.WithDefaults()
	want := Default()
	want.Target, want.ReadMode, want.Rate = "zab", "sync", 0 // a zero rate is unlimited, not unset
	if !reflect.DeepEqual(got, want) {
		t.Errorf("WithDefaults:\n got %+v\nwant %+v", got, want)
	}
	if d := Default().WithDefaults(); d.Rate != 200 || d.ReadMode != "" {
		t.Errorf("Default().WithDefaults() = %+v: want rate 200 and no read mode without a target", d)
	}
	if m := (Spec{Target: "etcd", ReadMode: "serializable"}).WithDefaults().ReadMode; m != "serializable" {
		t.Errorf("read mode %q, want the one asked for", m)
	}
}

func TestFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	sp := Default()
	sp.Target = "zab"
	in := File{Spec: sp.WithDefaults(), Schedule: json.RawMessage(`{"seed":1,"spec":"kill","steps":[],"nodes":["n1"]}`), Dir: dir,
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Members: []Member{{Name: "n1", ID: 1, Host: "10.0.0.1", ClientPort: 2181, Dir: "/x"}}}
	if err := Write(dir, in); err != nil {
		t.Fatal(err)
	}
	out, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer // test.json is indented, the schedule with it
	if err := json.Compact(&compact, out.Schedule); err != nil {
		t.Fatal(err)
	}
	out.Schedule = compact.Bytes()
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n in %+v\nout %+v", in, out)
	}
	if _, err := Read(filepath.Join(dir, "missing")); !errors.Is(err, ErrNotRunDir) {
		t.Fatalf("Read(missing) = %v, want ErrNotRunDir", err)
	}
}

// The runs stored in reports' testdata were written before this package
// existed; they still read, with their members and schedule.
func TestReadStoredRuns(t *testing.T) {
	for _, n := range []string{"etcd-linearizable", "etcd-serializable"} {
		f, err := Read(filepath.Join("..", "reports", "testdata", "runs", n))
		if err != nil {
			t.Fatal(err)
		}
		if f.Spec.Target != "etcd" || f.Spec.TimeLimit == 0 || len(f.Members) == 0 || f.Members[0].Host == "" || len(f.Schedule) == 0 {
			t.Errorf("%s: %+v: want an etcd spec with its time limit, members and schedule", n, f)
		}
	}
}
