package faults

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"coordlab/cluster"
	"coordlab/netdelay"
)

func TestLatencyParameters(t *testing.T) {
	env := Env{Runtime: &fakeRuntime{}, On: []string{"n1"}}
	env.Firewall = cluster.NewFirewall(env.Runtime)
	for _, c := range []struct {
		l    Latency
		want string
	}{
		{Latency{Delay: Duration(10 * time.Millisecond), Links: "everything"}, `links "everything": want peers, clients or all`},
		{Latency{}, "delay 0s: want > 0"},
		{Latency{Delay: Duration(10 * time.Millisecond), Jitter: Duration(20 * time.Millisecond)}, "jitter 20ms exceeds delay 10ms"},
		{Latency{Delay: Duration(time.Minute)}, "want at most"},
	} {
		undo, err := c.l.Start(context.Background(), env)
		if err == nil || !strings.Contains(err.Error(), c.want) || undo != nil {
			t.Errorf("Start(%+v) = %v (undo %v), want an error with %q and nothing in force", c.l, err, undo != nil, c.want)
		}
	}
	// A member without a namespace: nothing is left in force.
	undo, err := Latency{Delay: Duration(10 * time.Millisecond)}.Start(context.Background(), env)
	if !errors.Is(err, cluster.ErrUnsupported) || undo != nil {
		t.Errorf("Start on a member without a namespace = %v (undo %v), want ErrUnsupported and no undo", err, undo != nil)
	}
	if got := env.Runtime.(*fakeRuntime).called(); len(got) != 0 {
		t.Errorf("a refused start touched the firewall: %q", got)
	}
	err = Latency{}.Requires(cluster.Capabilities{Kill: true, Why: "partitions and loss need network namespaces, which need root: run as root"})
	if err == nil || !strings.Contains(err.Error(), "the delay acts inside each member's own network namespace") || !strings.Contains(err.Error(), "root") {
		t.Errorf("Requires without namespaces = %v, want it to say latency needs them and why", err)
	}
}

func TestDrawLatency(t *testing.T) {
	s, err := Generate(5, "latency,latency-clients", three, Options{TimeLimit: 100 * time.Second, Interval: time.Second, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, st := range s.Steps {
		l := st.Fault.(Latency)
		if _, _, err := l.config(); err != nil {
			t.Errorf("drawn %+v is invalid: %v", l, err)
		}
		seen[l.Links] = true
		switch {
		case len(l.Targets) == len(three):
			seen["all members"] = true
		case l.Targets[0] == Leader:
			seen["leader"] = true
		default:
			seen["one member"] = true
		}
	}
	for _, w := range []string{LinksPeers, LinksAll, "all members", "leader", "one member"} {
		if !seen[w] {
			t.Errorf("50 draws never gave %s: %v", w, seen)
		}
	}
}

// nsRuntime is two members in network namespaces of their own, joined by
// a veth pair: the primitives latency needs, for real.
type nsRuntime struct {
	fakeRuntime
	ns    map[string]string // member -> namespace name
	hosts map[string]string
}

func (r *nsRuntime) Members() []cluster.Member {
	return []cluster.Member{{Name: "n1", ID: 1, Host: r.hosts["n1"]}, {Name: "n2", ID: 2, Host: r.hosts["n2"]}}
}

func (r *nsRuntime) Firewall(ctx context.Context, n, script string) error {
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", r.ns[n], "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft in %s: %v: %s", n, err, out)
	}
	return nil
}

func (r *nsRuntime) Netns(_ context.Context, n string) (string, error) {
	return "/var/run/netns/" + r.ns[n], nil
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newNSRuntime(t *testing.T) *nsRuntime {
	t.Helper()
	if os.Geteuid() != 0 || netdelay.Supported() != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but root or NFQUEUE is missing")
		}
		t.Skip("needs root and NFQUEUE")
	}
	var b [3]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	r := &nsRuntime{ns: map[string]string{"n1": "coordlab-lat-" + id + "a", "n2": "coordlab-lat-" + id + "b"},
		hosts: map[string]string{"n1": "10.79.0.1", "n2": "10.79.0.2"}}
	for _, n := range []string{"n1", "n2"} {
		sh(t, "ip", "netns", "add", r.ns[n])
		t.Cleanup(func() {
			sh(t, "ip", "netns", "del", r.ns[n])
			if strings.Contains(sh(t, "ip", "netns", "list"), r.ns[n]) {
				t.Errorf("namespace %s left behind", r.ns[n])
			}
		})
		sh(t, "ip", "-n", r.ns[n], "link", "set", "lo", "up")
	}
	// The addresses live only inside the two namespaces.
	sh(t, "ip", "-n", r.ns["n1"], "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", r.ns["n2"])
	for _, n := range []string{"n1", "n2"} {
		sh(t, "ip", "-n", r.ns[n], "addr", "add", r.hosts[n]+"/24", "dev", "eth0")
		sh(t, "ip", "-n", r.ns[n], "link", "set", "eth0", "up")
	}
	return r
}

// TestLatencyInNamespaces: latency on n1 delays what n1 sends n2, so a
// round trip from n2 to a server on n1 gains at least delay-jitter, and
// on both members at least twice that; the undo leaves neither marks,
// steering rule nor bound queue behind.
func TestLatencyInNamespaces(t *testing.T) {
	rt := newNSRuntime(t)
	env := Env{Runtime: rt, Firewall: cluster.NewFirewall(rt), Target: "test", Nodes: []string{"n1", "n2"}, On: []string{"n1"}}
	var ln net.Listener
	if err := netdelay.InNamespace("/var/run/netns/"+rt.ns["n1"], func() (err error) {
		ln, err = net.Listen("tcp", rt.hosts["n1"]+":0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conn net.Conn
	if err := netdelay.InNamespace("/var/run/netns/"+rt.ns["n2"], func() (err error) {
		conn, err = net.Dial("tcp", ln.Addr().String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // owned by the test: ends when srv closes
		defer close(done)
		io.Copy(srv, srv)
	}()
	defer func() { srv.Close(); <-done }()
	r := bufio.NewReader(conn)
	roundTrip := func() time.Duration {
		t.Helper()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		start := time.Now()
		if _, err := conn.Write([]byte("x\n")); err != nil {
			t.Fatal(err)
		}
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	roundTrip()

	for _, c := range []struct {
		on    []string
		links string
		hops  int // delayed packets in one round trip
	}{
		{[]string{"n1"}, LinksPeers, 1},
		// Both ends, one named twice: one delayer each.
		{[]string{"n2", "n1", "n2"}, LinksAll, 2},
	} {
		l := Latency{Delay: Duration(50 * time.Millisecond), Jitter: Duration(10 * time.Millisecond), Links: c.links}
		env.On = c.on
		undo, err := l.Start(context.Background(), env)
		if err != nil {
			if undo != nil {
				undo(context.Background())
			}
			t.Fatal(err)
		}
		least := time.Hour
		for range 8 {
			least = min(least, roundTrip())
		}
		t.Logf("latency %s ± %s on %v: shortest round trip %s", time.Duration(l.Delay), time.Duration(l.Jitter), c.on, least)
		if want := time.Duration(c.hops) * time.Duration(l.Delay-l.Jitter); least < want {
			t.Errorf("on %v: shortest round trip %s, want at least %s", c.on, least, want)
		}
		if err := undo(context.Background()); err != nil {
			t.Fatalf("undo: %v", err)
		}
	}
	roundTrip()
	for n, ns := range rt.ns {
		if s := sh(t, "ip", "netns", "exec", ns, "nft", "list", "ruleset"); strings.Contains(s, "coordlab") {
			t.Errorf("%s: our table is left:\n%s", n, s)
		}
		if s := sh(t, "ip", "netns", "exec", ns, netdelay.Iptables, "-S"); strings.Contains(s, "NFQUEUE") {
			t.Errorf("%s: the steering rule is left:\n%s", n, s)
		}
		if s := strings.TrimSpace(sh(t, "ip", "netns", "exec", ns, "cat", netdelay.ProcQueue)); s != "" {
			t.Errorf("%s: a queue is still bound: %s", n, s)
		}
	}
}
