package zab_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"coordlab/engines/zab"
	"coordlab/engines/zab/zabtest"
)

// TestInteraction runs the scripts in testdata/*.txt. Each command's output
// shows every Ready handled and every message delivered. Refresh with
// go test -run TestInteraction -rewrite, and review the diff.
func TestInteraction(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scripts in testdata/*.txt (%v)", err)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			env := &interactionEnv{}
			datadriven.RunTest(t, path, env.handle)
		})
	}
}

type interactionEnv struct {
	c     *zabtest.Cluster
	trace strings.Builder
}

func (e *interactionEnv) ids(t *testing.T, d *datadriven.TestData) []zab.ServerID {
	var ids []zab.ServerID
	for _, a := range d.CmdArgs {
		if len(a.Vals) > 0 {
			continue
		}
		v, err := strconv.ParseUint(a.Key, 10, 64)
		if err != nil {
			t.Fatalf("%s: want member ids, got %q", d.Pos, a.Key)
		}
		ids = append(ids, zab.ServerID(v))
	}
	if len(ids) == 0 {
		return e.c.IDs()
	}
	return ids
}

func (e *interactionEnv) handle(t *testing.T, d *datadriven.TestData) string {
	e.trace.Reset()
	if d.Cmd != "add-nodes" && e.c == nil {
		t.Fatalf("%s: add-nodes first", d.Pos)
	}
	switch d.Cmd {
	case "add-nodes":
		n, err := strconv.Atoi(d.CmdArgs[0].Key)
		if err != nil {
			t.Fatalf("%s: add-nodes N: %v", d.Pos, err)
		}
		seed, committedLog := 1, 0
		d.MaybeScanArgs(t, "seed", &seed)
		d.MaybeScanArgs(t, "committed-log", &committedLog)
		e.c, err = zabtest.New(zabtest.Options{
			N: n, Seed: int64(seed), Trace: &e.trace,
			Config: func(c *zab.Config) {
				c.MaxCommittedLog = committedLog
				c.MaxBatchEntries = 4
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("added %d members", n)
	case "tick":
		n := 1
		if len(d.CmdArgs) > 0 {
			n, _ = strconv.Atoi(d.CmdArgs[0].Key)
		}
		for range n {
			e.c.Tick()
		}
		return fmt.Sprintf("now %d", e.c.Now())
	case "stabilize":
		e.c.Stabilize(0)
		if d.HasArg("quiet") {
			// stabilize quiet: the resulting status instead of the trace.
			e.trace.Reset()
			return e.status()
		}
	case "process-ready":
		for _, id := range e.ids(t, d) {
			e.c.HandleReady(id)
		}
	case "deliver":
		for _, id := range e.ids(t, d) {
			e.c.Deliver(id)
		}
	case "drop":
		for _, id := range e.ids(t, d) {
			fmt.Fprintf(&e.trace, "dropped %d messages to or from %d\n", e.c.DropPending(id), id)
		}
	case "partition":
		var groups [][]zab.ServerID
		cur := []zab.ServerID{}
		for _, a := range d.CmdArgs {
			if a.Key == "/" {
				groups, cur = append(groups, cur), []zab.ServerID{}
				continue
			}
			v, err := strconv.ParseUint(a.Key, 10, 64)
			if err != nil {
				t.Fatalf("%s: partition: %q is not an id", d.Pos, a.Key)
			}
			cur = append(cur, zab.ServerID(v))
		}
		groups = append(groups, cur)
		e.c.Partition(groups...)
		return fmt.Sprintf("partitioned %v", groups)
	case "heal":
		e.c.Heal()
		return "healed"
	case "crash":
		for _, id := range e.ids(t, d) {
			e.c.Crash(id)
			fmt.Fprintf(&e.trace, "crashed %d\n", id)
		}
	case "restart":
		for _, id := range e.ids(t, d) {
			if err := e.c.Restart(id); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&e.trace, "restarted %d\n", id)
		}
	case "propose":
		id, _ := strconv.ParseUint(d.CmdArgs[0].Key, 10, 64)
		for _, a := range d.CmdArgs[1:] {
			if err := e.c.Propose(zab.ServerID(id), []byte(a.Key)); err != nil {
				fmt.Fprintf(&e.trace, "propose %s at %d: %v\n", a.Key, id, err)
			}
		}
	case "sync":
		id, _ := strconv.ParseUint(d.CmdArgs[0].Key, 10, 64)
		req, _ := strconv.ParseUint(d.CmdArgs[1].Key, 10, 64)
		if err := e.c.Sync(zab.ServerID(id), zab.RequestID(req)); err != nil {
			fmt.Fprintf(&e.trace, "sync at %d: %v\n", id, err)
		}
	case "elect":
		// Tick and stabilize quietly until one established leader has every
		// listed member (default: every running one) in broadcast.
		var want []zab.ServerID
		if len(d.CmdArgs) > 0 {
			want = e.ids(t, d)
		}
		e.c.Stabilize(0)
		for range 200 {
			if e.settled(want) {
				break
			}
			e.c.Tick()
			e.c.Stabilize(0)
		}
		e.trace.Reset()
		if !e.settled(want) {
			return "no stable leader after 200 ticks\n" + e.status()
		}
		return e.status()
	case "advance":
		// advance N: N times (tick, stabilize), quietly; then the status.
		n, err := strconv.Atoi(d.CmdArgs[0].Key)
		if err != nil {
			t.Fatalf("%s: advance N: %v", d.Pos, err)
		}
		for range n {
			e.c.Tick()
			e.c.Stabilize(0)
		}
		e.trace.Reset()
		return e.status()
	case "status":
		return e.status()
	case "applied":
		var b strings.Builder
		for _, id := range e.c.IDs() {
			m := e.c.Member(id)
			fmt.Fprintf(&b, "%d:", id)
			if !m.Up() {
				b.WriteString(" down\n")
				continue
			}
			for _, en := range m.Applied {
				fmt.Fprintf(&b, " %s/%s", en.Zxid, en.Data)
			}
			b.WriteString("\n")
		}
		return b.String()
	case "check":
		if err := e.c.Check(); err != nil {
			return err.Error()
		}
		return "ok"
	default:
		t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
	}
	if err := e.c.Check(); err != nil {
		fmt.Fprintf(&e.trace, "VIOLATION: %v\n", err)
	}
	if e.trace.Len() == 0 {
		return "ok"
	}
	return e.trace.String()
}

func (e *interactionEnv) settled(want []zab.ServerID) bool {
	l, ok := e.c.Leader()
	if !ok {
		return false
	}
	if want == nil {
		want = e.c.IDs()
	}
	for _, id := range want {
		m := e.c.Member(id)
		if !m.Up() {
			continue
		}
		s := m.Node.Status()
		if s.Phase != zab.PhaseBroadcast || s.Leader != l {
			return false
		}
	}
	return true
}

func (e *interactionEnv) status() string {
	var b strings.Builder
	for _, id := range e.c.IDs() {
		m := e.c.Member(id)
		if !m.Up() {
			fmt.Fprintf(&b, "%d: down\n", id)
			continue
		}
		s := m.Node.Status()
		fmt.Fprintf(&b, "%d: %s %s leader=%d epoch=%d accepted=%d current=%d last=%s committed=%s applied=%s\n",
			id, s.State, s.Phase, s.Leader, s.Epoch, s.AcceptedEpoch, s.CurrentEpoch, s.LastZxid, s.Committed, s.Applied)
	}
	return b.String()
}
