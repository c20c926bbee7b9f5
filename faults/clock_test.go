package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"coordlab/cluster"
	"coordlab/history"
)

// adminServer is a member's admin endpoint as our engines serve it:
// POST /admin/clock {"offset":"-3s"} sets the offset, GET shows it.
type adminServer struct {
	*httptest.Server
	mu     sync.Mutex
	posted []string // offsets set, in order
	status int      // answer POSTs with this status when not 0
}

func newAdminServer(t *testing.T) *adminServer {
	a := &adminServer{}
	offset := "0s"
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/clock", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]string{"offset": offset})
	})
	mux.HandleFunc("POST /admin/clock", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Offset string `json:"offset"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		d, err := time.ParseDuration(req.Offset)
		if err != nil {
			http.Error(w, "offset: want a Go duration", http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.status != 0 {
			http.Error(w, "refused", a.status)
			return
		}
		offset = d.String()
		a.posted = append(a.posted, offset)
		json.NewEncoder(w).Encode(map[string]string{"offset": offset})
	})
	a.Server = httptest.NewServer(mux)
	t.Cleanup(a.Close)
	return a
}

func (a *adminServer) offsets() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.posted)
}

// clockRun plays sched with admin servers for n1..n3 (or none when admin
// is false) and returns the player, the servers and the history.
func clockRun(t *testing.T, target string, admin bool, sched Schedule) (*Player, map[string]*adminServer, []history.Op) {
	t.Helper()
	rt := &fakeRuntime{admin: map[string]string{}}
	servers := map[string]*adminServer{}
	if admin {
		for _, n := range three {
			servers[n] = newAdminServer(t)
			rt.admin[n] = servers[n].URL
		}
	}
	var buf bytes.Buffer
	h := history.NewWriter(&buf)
	p := NewPlayer(rt, target, h, history.NewClock(), three, nil)
	return p, servers, play(t, p, h, &buf, sched, []string{"clock"})
}

func TestClockSkewsThroughTheAdminEndpoint(t *testing.T) {
	sched := Schedule{Steps: []Step{{At: 0, Duration: 50 * time.Millisecond,
		Fault: Clock{On: On{Targets: []string{Leader}}, Offset: Duration(-3 * time.Second)}}}}
	_, servers, ops := clockRun(t, "raftkv", true, sched)
	var got []string
	for _, o := range ops {
		got = append(got, o.F+" "+o.Type.String()+" "+o.Node+" "+o.Extra["offset"]+" "+o.Error)
	}
	want := []string{
		"start-clock invoke n2 -3s ", "start-clock ok n2 -3s ", // the leader is n2
		"stop-clock invoke n2 -3s ", "stop-clock ok n2 -3s ",
		"stop-clock invoke n1,n2,n3  ", "stop-clock ok n1,n2,n3  ", // Final resets everyone
	}
	if !slices.Equal(got, want) {
		t.Fatalf("history\n%q\nwant\n%q", got, want)
	}
	if o := servers["n2"].offsets(); !slices.Equal(o, []string{"-3s", "0s", "0s"}) {
		t.Errorf("n2 was set to %v, want -3s, then 0s by the undo and by Final", o)
	}
	if o := servers["n1"].offsets(); !slices.Equal(o, []string{"0s"}) {
		t.Errorf("n1 was set to %v, want only Final's reset", o)
	}
}

func TestClockStrobe(t *testing.T) {
	sched := Schedule{Steps: []Step{{At: 0, Duration: 200 * time.Millisecond,
		Fault: Clock{On: On{Targets: []string{"n3"}}, Offset: Duration(2 * time.Second), Strobe: Duration(20 * time.Millisecond)}}}}
	_, servers, ops := clockRun(t, "zab", true, sched)
	o := servers["n3"].offsets()
	// Set, flipped back and forth, reset by the undo and by Final.
	if len(o) < 4 || o[0] != "2s" || o[1] != "0s" || o[2] != "2s" || o[len(o)-1] != "0s" || o[len(o)-2] != "0s" {
		t.Fatalf("n3 offsets %v, want 2s, 0s, 2s, ... ending with two resets", o)
	}
	for _, op := range ops {
		if op.Type == history.Info {
			t.Errorf("strobe op %s %s failed: %s", op.F, op.Node, op.Error)
		}
	}
	if ops[0].Extra["strobe"] != "20ms" {
		t.Errorf("start extra %v, want strobe=20ms", ops[0].Extra)
	}
}

// TestClockUnsupported: the real etcd serves no admin endpoint; the run
// must say so in the history and through Refused, not run without it.
func TestClockUnsupported(t *testing.T) {
	sched := Schedule{Steps: []Step{{At: 0, Duration: 20 * time.Millisecond,
		Fault: Clock{On: On{Targets: []string{"n1"}}, Offset: Duration(time.Second)}}}}
	p, _, ops := clockRun(t, "etcd", false, sched)
	if len(ops) != 6 || ops[1].Type != history.Info || !strings.Contains(ops[1].Error, "clock skew: not supported for etcd") {
		t.Fatalf("ops %+v: want the start refused with \"clock skew: not supported for etcd\"", ops)
	}
	if !strings.Contains(ops[1].Extra["error"], "clock skew: not supported for etcd") {
		t.Errorf("refused start extra %v: want the error, which results.json carries into the fault window", ops[1].Extra)
	}
	if ops[2].F != "stop-clock" || ops[3].Type != history.OK || ops[5].Type != history.OK {
		t.Errorf("after the refusal %+v: want the stop at once and a clean Final", ops[2:])
	}
	r := p.Refused()
	if len(r) != 1 {
		t.Fatalf("Refused() = %v, want the one refusal", r)
	}
	for msg, n := range r {
		if n != 1 || !strings.HasPrefix(msg, "clock skew: not supported for etcd") {
			t.Errorf("Refused() = %v, want clock skew: not supported for etcd once", r)
		}
	}
}

// TestClockRefusedByTheMember: an endpoint that answers with an error
// makes the start an info with the member's answer.
func TestClockRefusedByTheMember(t *testing.T) {
	rt := &fakeRuntime{admin: map[string]string{}}
	a := newAdminServer(t)
	a.status = http.StatusServiceUnavailable
	rt.admin["n1"] = a.URL
	env := Env{Runtime: rt, Target: "raftkv", Nodes: three, On: []string{"n1"}}
	undo, err := Clock{Offset: Duration(time.Second)}.Start(context.Background(), env)
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "n1") {
		t.Fatalf("Start against a refusing member = %v, want the 503 and the member", err)
	}
	if undo == nil {
		t.Fatal("a failed set leaves no undo: the offsets already set would stay")
	}
}

func TestClockIsInTheTable(t *testing.T) {
	if !UsesAdmin([]string{"kill", "clock"}) || UsesAdmin([]string{"kill", "partition-halves"}) {
		t.Fatal("UsesAdmin: want true exactly when the clock is in the spec")
	}
	s, err := Generate(5, "clock", three, Options{TimeLimit: 100 * time.Second, Interval: time.Second, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	strobes := 0
	for _, st := range s.Steps {
		c, ok := st.Fault.(Clock)
		if !ok || c.Offset == 0 || len(c.Targets) != 1 {
			t.Fatalf("clock package drew %+v", st.Fault)
		}
		if c.Strobe > 0 {
			strobes++
		}
	}
	if strobes == 0 || strobes == len(s.Steps) {
		t.Errorf("%d of %d clock faults strobe, want some", strobes, len(s.Steps))
	}
	if k := KindsSupported(cluster.Capabilities{}); !slices.Contains(k, "clock") || slices.Contains(k, "kill") {
		t.Errorf("KindsSupported(nothing) = %v: want the clock (it needs only the admin endpoint), not kill", k)
	}
}
