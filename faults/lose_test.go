package faults

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"coordlab/cluster"
	"coordlab/history"
)

// TestLoseUnsyncedKillsDropsRestarts: the fault kills its member, drops
// its unsynced data while it is down, records what was dropped, and
// restarts it at the end.
func TestLoseUnsyncedKillsDropsRestarts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sched := Schedule{Steps: []Step{{At: time.Second, Duration: 2 * time.Second, Fault: LoseUnsynced{On{Targets: []string{"n2"}}}}}}
		rt := &fakeRuntime{}
		var buf bytes.Buffer
		h := history.NewWriter(&buf)
		p := NewPlayer(rt, "raftkv", h, history.NewClock(), three, nil)
		ops := play(t, p, h, &buf, sched, []string{"lose-unsynced"})
		checkOps(t, ops, []nemesisOp{
			{"lose-unsynced", history.Invoke, "n2", time.Second},
			{"lose-unsynced", history.OK, "n2", time.Second},
			{"restart", history.Invoke, "n2", 3 * time.Second},
			{"restart", history.OK, "n2", 3 * time.Second},
			{"restart", history.Invoke, "n1,n2,n3", 3 * time.Second},
			{"restart", history.OK, "n1,n2,n3", 3 * time.Second},
		})
		if l := ops[1].Extra["lost"]; !strings.HasPrefix(l, "n2: 1 file ") {
			t.Errorf("ok op extra %v: want what was lost on n2", ops[1].Extra)
		}
		for _, i := range []int{0, 2} {
			if _, ok := ops[i].Extra["lost"]; ok {
				t.Errorf("%s %s op extra %v: the loss belongs to the start's ok op", ops[i].F, ops[i].Type, ops[i].Extra)
			}
		}
		got := rt.called()
		slices.Sort(got[3:]) // the final restarts run at once
		want := []string{"kill n2", "lose n2", "restart n2", "restart n1", "restart n2", "restart n3"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("runtime calls %q, want %q", got, want)
		}
	})
}

// TestLoseUnsyncedRefused: a runtime that cannot lose unsynced data
// refuses the fault with its reason, and the member still comes back.
func TestLoseUnsyncedRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sched := Schedule{Steps: []Step{{At: time.Second, Duration: time.Second, Fault: LoseUnsynced{On{Targets: []string{"n1"}}}}}}
		rt := &fakeRuntime{fail: map[string]error{"lose": cluster.ErrUnsupported}}
		var buf bytes.Buffer
		h := history.NewWriter(&buf)
		p := NewPlayer(rt, "raftkv", h, history.NewClock(), three, nil)
		ops := play(t, p, h, &buf, sched, []string{"lose-unsynced"})
		if ops[1].Type != history.Info || ops[2].F != "restart" {
			t.Fatalf("ops %+v: want the start refused (info) and the member restarted", ops)
		}
		if got := rt.called(); got[0] != "kill n1" || got[2] != "restart n1" {
			t.Errorf("runtime calls %q: want kill, lose, restart", got)
		}
	})
	err := CheckCapabilities([]string{"lose-unsynced"}, cluster.Capabilities{Kill: true, LoseUnsyncedWhy: "FUSE needs root"})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "FUSE needs root") {
		t.Errorf("CheckCapabilities = %v, want ErrUnsupported with the runtime's reason", err)
	}
	if err := CheckCapabilities([]string{"lose-unsynced"}, cluster.Capabilities{Kill: true, LoseUnsynced: true}); err != nil {
		t.Errorf("CheckCapabilities on a capable runtime = %v", err)
	}
	if !UsesLazyFS([]string{"kill", "lose-unsynced"}) || UsesLazyFS([]string{"kill"}) {
		t.Error("UsesLazyFS: want true exactly when lose-unsynced is among the packages")
	}
}

// TestLoseUnsyncedAll: the power-cut package hits every member: all are
// killed and lose their unsynced data before any restarts.
func TestLoseUnsyncedAll(t *testing.T) {
	sched, err := Generate(1, "lose-unsynced-all", three, Options{TimeLimit: 10 * time.Second, Interval: time.Second, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(sched.Steps) == 0 {
		t.Fatal("no steps")
	}
	for _, s := range sched.Steps {
		if l, ok := s.Fault.(LoseUnsynced); !ok || !slices.Equal(l.Targets, three) {
			t.Fatalf("step %+v: want lose-unsynced on every member", s)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		rt := &fakeRuntime{}
		var buf bytes.Buffer
		h := history.NewWriter(&buf)
		p := NewPlayer(rt, "raftkv", h, history.NewClock(), three, nil)
		ops := play(t, p, h, &buf, Schedule{Steps: sched.Steps[:1]}, []string{"lose-unsynced"})
		if ops[1].Type != history.OK || strings.Count(ops[1].Extra["lost"], "1 file") != 3 {
			t.Errorf("start %+v: want ok with what each of the three lost", ops[1])
		}
		got := rt.called()
		want := []string{"kill n1", "kill n2", "kill n3", "lose n1", "lose n2", "lose n3"}
		if len(got) < 9 || !reflect.DeepEqual(got[:6], want) {
			t.Fatalf("runtime calls %q: want every kill and loss before any restart", got)
		}
		restarts := slices.Clone(got[6:9])
		slices.Sort(restarts)
		if !reflect.DeepEqual(restarts, []string{"restart n1", "restart n2", "restart n3"}) {
			t.Errorf("restarts %q, want every member", restarts)
		}
	})
}
