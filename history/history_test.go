package history

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenOps covers every field and every op type, a nemesis op and a watch.
func goldenOps() []Op {
	return []Op{
		{Process: 0, Type: Invoke, F: FWrite, Key: "r/1", Value: Str("1"), Time: 100},
		{Process: 1, Type: Invoke, F: FRead, Key: "r/1", Time: 110, ReadMode: "serializable"},
		{Process: 0, Type: OK, F: FWrite, Key: "r/1", Value: Str("1"), Version: 5, Node: "n1", Time: 200},
		{Process: 1, Type: OK, F: FRead, Key: "r/1", Value: Str("1"), Found: true, Version: 5, Revision: 7, Node: "n2", Time: 210},
		{Process: NemesisProcess, Type: Info, F: "start-partition", Node: "n1", Time: 300, Extra: map[string]string{"shape": "isolate-one"}},
		{Process: 2, Type: Invoke, F: FCAS, Key: "r/1", Old: Str("1"), Value: Str("2"), Time: 310},
		{Process: 2, Type: OK, F: FCAS, Key: "r/1", Old: Str("1"), Value: Str("2"), Version: 6, Time: 320, Applied: Bool(true)},
		{Process: 3, Type: Invoke, F: FRead, Key: "r/2", Time: 330},
		{Process: 3, Type: OK, F: FRead, Key: "r/2", Time: 340},
		{Process: 4, Type: Invoke, F: FWrite, Key: "r/2", Value: Str(""), Time: 350},
		{Process: 4, Type: Fail, F: FWrite, Key: "r/2", Value: Str(""), Time: 360, Error: "connection refused"},
		{Process: 5, Type: Invoke, F: FWrite, Key: "r/2", Value: Str("x\"y"), Time: 370},
		{Process: 5, Type: Info, F: FWrite, Key: "r/2", Value: Str("x\"y"), Time: 380, Error: "context deadline exceeded"},
		{Process: 6, Type: Invoke, F: FWatch, Key: "w/", Version: 4, Time: 390},
		{Process: 7, Type: Invoke, F: FFencedWrite, Key: "lock-register", Value: Str("3"), Version: 3, Fenced: true, Time: 401},
		{Process: 7, Type: OK, F: FFencedWrite, Key: "lock-register", Value: Str("3"), Version: 3, Fenced: true, Time: 402},
		{Process: 6, Type: OK, F: FWatch, Key: "w/", Time: 400, Ended: "run end", Events: []Event{
			{Type: EventPut, Key: "w/a", Value: Str("1"), Version: 5, CreateVersion: 5, Created: true, Txn: 5, Time: 395},
			{Type: EventDelete, Key: "w/a", Version: 6, CreateVersion: 5, PrevValue: Str("1"), Txn: 6, Time: 396},
			{Type: EventProgress, Version: 6, Time: 397},
		}},
		{Process: NemesisProcess, Type: Info, F: "stop-partition", Time: 500},
	}
}

func TestWriterGolden(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for i, op := range goldenOps() {
		idx, err := w.Append(op)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		if idx != int64(i) {
			t.Fatalf("append %d: got index %d, want %d", i, idx, i)
		}
		// Flushed per line: the buffer already holds i+1 lines.
		if n := strings.Count(buf.String(), "\n"); n != i+1 {
			t.Fatalf("after append %d: %d lines in the underlying writer, want %d", i, n, i+1)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "golden.jsonl")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("writer output differs from %s:\ngot:\n%s\nwant:\n%s", golden, buf.Bytes(), want)
	}
}

func TestReadGolden(t *testing.T) {
	got, err := Read(filepath.Join("testdata", "golden.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	want := goldenOps()
	for i := range want {
		want[i].Index = int64(i)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read ops differ:\ngot  %+v\nwant %+v", got, want)
	}
	if got[4].Process != NemesisProcess || !got[4].IsNemesis() {
		t.Errorf("op 4: process %d, want nemesis", got[4].Process)
	}
}

// Histories written before the typed fields carried them as Extra
// strings; they read into the fields.
func TestReadExtraStrings(t *testing.T) {
	got, err := Read(filepath.Join("testdata", "golden-extra-strings.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if got[1].ReadMode != "serializable" || got[1].Extra != nil {
		t.Errorf("read invoke: read mode %q, extra %v; want serializable, moved out of extra", got[1].ReadMode, got[1].Extra)
	}
	if got[6].Applied == nil || !*got[6].Applied || got[6].Extra != nil {
		t.Errorf("cas: applied %v, extra %v; want true, moved out of extra", got[6].Applied, got[6].Extra)
	}
	if got[4].Extra["shape"] != "isolate-one" {
		t.Errorf("nemesis extra %v: want its parameters kept", got[4].Extra)
	}
	old := []byte(`{"index":0,"process":0,"type":"invoke","f":"fenced-write","time_ns":1,"extra":{"fenced":"true","note":"x"}}
{"index":1,"process":0,"type":"ok","f":"fenced-write","time_ns":2,"extra":{"fenced":"true","ok":"maybe"}}
{"index":2,"process":1,"type":"ok","f":"read","time_ns":3,"extra":{"revision":"12"}}
{"index":3,"process":2,"type":"ok","f":"watch","time_ns":4,"extra":{"ended":"channel closed"}}
`)
	ops, err := ReadAll(bytes.NewReader(old))
	if err != nil {
		t.Fatal(err)
	}
	if !ops[0].Fenced || ops[0].Extra["note"] != "x" || len(ops[0].Extra) != 1 {
		t.Errorf("op 0: fenced %v extra %v; want fenced, other keys kept", ops[0].Fenced, ops[0].Extra)
	}
	if ops[1].Applied != nil || ops[1].Extra["ok"] != "maybe" {
		t.Errorf("op 1: applied %v extra %v; want an unparsable ok left in extra", ops[1].Applied, ops[1].Extra)
	}
	if ops[2].Revision != 12 || ops[3].Ended != "channel closed" {
		t.Errorf("revision %d, ended %q; want 12 and channel closed", ops[2].Revision, ops[3].Ended)
	}
}

func TestReadErrors(t *testing.T) {
	full, err := os.ReadFile(filepath.Join("testdata", "golden.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(full), "\n")
	tests := []struct {
		name    string
		in      string
		wantErr error  // errors.Is target, nil = any error
		wantSub string // in the error message
		wantOps int    // ops returned along with the error
	}{
		{"truncated last line", lines[0] + lines[1] + lines[2][:20], ErrTruncated, "line 3", 2},
		{"bad middle line", lines[0] + "{nope\n" + lines[1], nil, "line 2", 0},
		{"index gap", lines[0] + lines[2], ErrBadIndex, "line 2 has index 2, want 1", 0},
		{"bad process", `{"index":0,"process":"x","type":"ok","f":"read","time_ns":1}` + "\n", nil, `process "x"`, 0},
		{"bad type", `{"index":0,"process":1,"type":"done","f":"read","time_ns":1}` + "\n", nil, `unknown op type "done"`, 0},
		{"missing type", `{"index":0,"process":1,"f":"read","time_ns":1}` + "\n", nil, "missing type", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ops, err := ReadAll(strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("ReadAll(%q): no error, want one", tc.in)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v: want errors.Is %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantSub) {
				t.Errorf("error %q does not mention %q", err, tc.wantSub)
			}
			if len(ops) != tc.wantOps {
				t.Errorf("got %d ops with the error, want %d", len(ops), tc.wantOps)
			}
		})
	}
}

func TestReadBlankAndNoFinalNewline(t *testing.T) {
	in := "\n" + `{"index":0,"process":1,"type":"invoke","f":"read","time_ns":1}` + "\n\n" +
		`{"index":1,"process":1,"type":"ok","f":"read","time_ns":2}`
	ops, err := ReadAll(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2 || ops[1].Type != OK {
		t.Fatalf("got %+v, want 2 ops ending in ok", ops)
	}
}

func TestMarshalRejects(t *testing.T) {
	w := NewWriter(&bytes.Buffer{})
	if _, err := w.Append(Op{Process: 1, F: FRead}); err == nil || !strings.Contains(err.Error(), "unset") {
		t.Errorf("append with unset type: err %v, want one saying unset", err)
	}
	if _, err := w.Append(Op{Process: -2, Type: OK, F: FRead}); err == nil || !strings.Contains(err.Error(), "process -2") {
		t.Errorf("append with process -2: err %v, want one naming it", err)
	}
	// The writer stays usable and the refused ops took no index.
	if idx, err := w.Append(Op{Process: 1, Type: Invoke, F: FRead}); err != nil || idx != 0 {
		t.Errorf("append after refusals: index %d err %v, want 0 nil", idx, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append(Op{Process: 1, Type: OK, F: FRead}); !errors.Is(err, ErrClosed) {
		t.Errorf("append after close: %v, want ErrClosed", err)
	}
}

func TestWriterConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const procs, each = 8, 200
	var wg sync.WaitGroup
	for p := range procs {
		wg.Go(func() {
			for i := range each {
				if _, err := w.Append(Op{Process: p, Type: Invoke, F: FWrite, Value: Str(strings.Repeat("v", i)), Time: int64(i)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ops, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != procs*each {
		t.Fatalf("read %d ops, want %d", len(ops), procs*each)
	}
	perProc := map[int]int64{}
	for _, op := range ops {
		if op.Time != perProc[op.Process] {
			t.Fatalf("process %d: op time %d out of order, want %d", op.Process, op.Time, perProc[op.Process])
		}
		perProc[op.Process]++
	}
}

func TestTypeString(t *testing.T) {
	for _, tc := range []struct {
		t    Type
		want string
	}{{Invoke, "invoke"}, {OK, "ok"}, {Fail, "fail"}, {Info, "info"}, {0, "Type(0)"}} {
		if got := tc.t.String(); got != tc.want {
			t.Errorf("Type(%d).String() = %q, want %q", int(tc.t), got, tc.want)
		}
	}
}

func TestClockMonotonic(t *testing.T) {
	c := NewClock()
	a := c.Now()
	b := c.Now()
	if a < 0 || b < a {
		t.Errorf("clock went backwards: %d then %d", a, b)
	}
}
