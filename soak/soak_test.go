package soak

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"coordlab/history"
	"coordlab/proctest"
)

// binDir holds raftkv and zab: $COORDLAB_BIN, else a fresh build in a
// temporary directory (proctest.Binaries).
var binDir string

func TestMain(m *testing.M) {
	dir, cleanup, err := proctest.Binaries("raftkv", "zab")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// ops builds a history from (process, type, f, key, value, applied) rows,
// times in order.
func ops(rows ...[]string) []history.Op {
	var out []history.Op
	for i, r := range rows {
		var p int
		fmt.Sscan(r[0], &p)
		typ := map[string]history.Type{"invoke": history.Invoke, "ok": history.OK, "fail": history.Fail, "info": history.Info}[r[1]]
		op := history.Op{Process: p, Type: typ, F: r[2], Key: r[3], Value: history.Str(r[4]), Time: int64(i)}
		if len(r) > 5 {
			op.Applied = history.Bool(r[5] == "true")
		}
		out = append(out, op)
	}
	return out
}

func TestLostWrites(t *testing.T) {
	// p0 writes 1 (acked), then p1 writes 2 (acked), p2 writes 3
	// (indeterminate, invoked after 2's ack), p3's cas to 4 lost, p4
	// writes 5 and fails.
	h := ops(
		[]string{"0", "invoke", "write", "k", "1"},
		[]string{"0", "ok", "write", "k", "1"},
		[]string{"1", "invoke", "write", "k", "2"},
		[]string{"1", "ok", "write", "k", "2"},
		[]string{"2", "invoke", "write", "k", "3"},
		[]string{"2", "info", "write", "k", "3"},
		[]string{"3", "invoke", "cas", "k", "4"},
		[]string{"3", "ok", "cas", "k", "4", "false"},
		[]string{"4", "invoke", "write", "k", "5"},
		[]string{"4", "fail", "write", "k", "5"},
	)
	ws := writesOf(h)
	acked, info := countWrites(h)
	if acked != 2 || info != 1 {
		t.Fatalf("acked %d, indeterminate %d: want 2, 1", acked, info)
	}
	cases := []struct {
		final string
		found bool
		lost  []string
	}{
		{"2", true, nil},                 // the last acknowledged value
		{"3", true, nil},                 // an indeterminate write after both
		{"1", true, []string{"2"}},       // 2 was acknowledged after 1 completed
		{"", false, []string{"1", "2"}},  // the key is gone
		{"4", true, []string{"1", "2"}},  // a cas that lost cannot be the value
		{"5", true, []string{"1", "2"}},  // a failed write cannot be the value
		{"9", true, []string{"1", "2"}},  // nobody wrote 9
		{"2", false, []string{"1", "2"}}, // not found, whatever the value
	}
	for _, c := range cases {
		var got []string
		for _, w := range lostWrites(ws, "k", c.final, c.found) {
			got = append(got, w.value)
		}
		if strings.Join(got, ",") != strings.Join(c.lost, ",") {
			t.Errorf("final %q found %v: lost %v, want %v", c.final, c.found, got, c.lost)
		}
	}
	// Concurrent acknowledged writes: either may be last.
	h = ops(
		[]string{"0", "invoke", "write", "k", "1"},
		[]string{"1", "invoke", "write", "k", "2"},
		[]string{"0", "ok", "write", "k", "1"},
		[]string{"1", "ok", "write", "k", "2"},
	)
	for _, final := range []string{"1", "2"} {
		if lost := lostWrites(writesOf(h), "k", final, true); len(lost) != 0 {
			t.Errorf("concurrent writes, final %s: lost %v, want none", final, lost)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	_, err := Run(context.Background(), Config{Engine: "etcd", Dir: t.TempDir(), Rounds: 1})
	if err == nil || !strings.Contains(err.Error(), `engine "etcd": want raftkv or zab`) {
		t.Fatalf("err %v: want it to name the engine", err)
	}
	_, err = Run(context.Background(), Config{Engine: "zab", Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "want Rounds > 0 or Duration > 0") {
		t.Fatalf("err %v: want it to ask for a limit", err)
	}
	_, err = Run(context.Background(), Config{Engine: "raftkv", BinDir: t.TempDir(), Dir: t.TempDir(), Rounds: 1})
	if err == nil || !strings.Contains(err.Error(), "make build") {
		t.Fatalf("err %v: want it to say how to build the binary", err)
	}
}

// TestShortSoak runs one round of each kill pattern on each engine.
func TestShortSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("process cluster soak")
	}
	for _, engine := range []string{"raftkv", "zab"} {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			var log strings.Builder
			res, err := Run(context.Background(), Config{Engine: engine, BinDir: binDir, Dir: dir, Rounds: len(patterns), Seed: 1, Log: &log})
			t.Log("\n" + log.String())
			t.Log(res)
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK() || res.Rounds != len(patterns) {
				t.Fatalf("%s\nproblems:\n%s", res, strings.Join(res.Problems, "\n"))
			}
			if res.AckedWrites == 0 {
				t.Fatalf("%s: no write was acknowledged: the soak proved nothing", res)
			}
		})
	}
}

// TestWipedDataIsCaught shows the soak fails when acknowledged writes are
// lost: in the second round every member's data directory is emptied
// while all are down, so the restarted cluster starts empty and the keys
// the first round settled are gone.
func TestWipedDataIsCaught(t *testing.T) {
	if testing.Short() {
		t.Skip("process cluster soak")
	}
	dir := t.TempDir()
	rounds := 0
	wipe := func(killed []*member) error {
		if rounds++; rounds < 2 {
			return nil // the first round settles its keys
		}
		for _, m := range killed {
			if err := os.RemoveAll(filepath.Join(dir, m.name)); err != nil {
				return err
			}
		}
		return nil
	}
	var log strings.Builder
	res, err := Run(context.Background(), Config{Engine: "raftkv", BinDir: binDir, Dir: dir, Rounds: 2, Seed: 1, Log: &log,
		pattern: "all members", beforeRestart: wipe})
	t.Log("\n" + log.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.OK() || res.LostWrites == 0 || res.AckedWrites == 0 {
		t.Fatalf("%s: want acknowledged writes lost and the result not OK", res)
	}
}

// fakeCluster gives digests from a list, one call after another.
type fakeCluster struct {
	cluster
	ms    []*member
	calls [][]string
}

func (f *fakeCluster) members() []*member { return f.ms }
func (f *fakeCluster) digests(context.Context) ([]string, error) {
	d := f.calls[0]
	if len(f.calls) > 1 {
		f.calls = f.calls[1:]
	}
	return d, nil
}

func TestDigests(t *testing.T) {
	ms := []*member{{name: "n1"}, {name: "n2"}, {name: "n3"}}
	// Members catching up agree in the end: no mismatch.
	s := &soaker{cfg: Config{Engine: "zab"}.withDefaults(), cl: &fakeCluster{ms: ms, calls: [][]string{{"a", "b", "b"}, {"b", "b", "b"}}}}
	if ok, err := s.compareDigests(context.Background(), 0); !ok || err != nil || s.res.HashMismatches != 0 {
		t.Fatalf("converging digests: agree %v, err %v, mismatches %d: want agreement", ok, err, s.res.HashMismatches)
	}
	// Digests that never agree are one mismatch, naming each member's.
	s = &soaker{cfg: Config{Engine: "zab", quiet: time.Second}.withDefaults(), cl: &fakeCluster{ms: ms, calls: [][]string{{"a", "a", "c"}}}}
	if ok, err := s.compareDigests(context.Background(), 3); ok || err != nil || s.res.HashMismatches != 1 {
		t.Fatalf("diverged digests: agree %v, err %v, mismatches %d: want one mismatch", ok, err, s.res.HashMismatches)
	}
	if p := strings.Join(s.res.Problems, "\n"); !strings.Contains(p, "round 3") || !strings.Contains(p, "n3=[c]") {
		t.Fatalf("problem %q: want the round and n3's digest", p)
	}
}
