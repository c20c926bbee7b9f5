package netdelay

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needNetns skips without root, nft or the kernel's queue, but fails
// under CI=true.
func needNetns(t *testing.T) {
	t.Helper()
	var why string
	switch {
	case os.Geteuid() != 0:
		why = "root (network namespaces)"
	case Supported() != nil:
		why = Supported().Error()
	}
	if _, err := exec.LookPath("nft"); err != nil && why == "" {
		why = "nft (apt-get install nftables)"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s is missing", why)
	}
	t.Skip(why)
}

func run(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newNetns creates a namespace with loopback up and deletes it when the
// test ends, checking that it is gone.
func newNetns(t *testing.T) (name, path string) {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	name = "coordlab-lat-" + hex.EncodeToString(b[:])
	run(t, "", "ip", "netns", "add", name)
	t.Cleanup(func() {
		run(t, "", "ip", "netns", "del", name)
		if strings.Contains(run(t, "", "ip", "netns", "list"), name) {
			t.Errorf("namespace %s left behind", name)
		}
	})
	run(t, "", "ip", "-n", name, "link", "set", "lo", "up")
	return name, "/var/run/netns/" + name
}

const mark = 0x4c4154

// markRule installs our table in ns: packets to dport (tcp or udp) get
// the mark the steering rule queues.
func markRule(t *testing.T, ns, proto string, dport int) {
	t.Helper()
	script := fmt.Sprintf("add table inet coordlab\ndelete table inet coordlab\n"+
		"table inet coordlab {\n\tchain out {\n\t\ttype filter hook output priority -10; policy accept;\n"+
		"\t\t%s dport %d meta mark set %#x\n\t}\n}\n", proto, dport, mark)
	run(t, script, "ip", "netns", "exec", ns, "nft", "-f", "-")
}

// leftovers lists what of ours is in ns: our nft table, the steering
// rule, bound queues.
func leftovers(t *testing.T, ns string) []string {
	t.Helper()
	var out []string
	if s := run(t, "", "ip", "netns", "exec", ns, "nft", "list", "ruleset"); strings.Contains(s, "coordlab") {
		out = append(out, "nft table:\n"+s)
	}
	if s := run(t, "", "ip", "netns", "exec", ns, Iptables, "-S"); strings.Contains(s, "NFQUEUE") {
		out = append(out, "steering rule:\n"+s)
	}
	if q := boundQueues(t, ns); len(q) > 0 {
		out = append(out, "bound queues "+strings.Join(q, ","))
	}
	return out
}

func removeRule(t *testing.T, ns string) {
	t.Helper()
	run(t, "add table inet coordlab\ndelete table inet coordlab\n", "ip", "netns", "exec", ns, "nft", "-f", "-")
}

// boundQueues lists the queue numbers bound in ns.
func boundQueues(t *testing.T, ns string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(run(t, "", "ip", "netns", "exec", ns, "cat", ProcQueue), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			out = append(out, f[0])
		}
	}
	return out
}

// echo is a TCP echo server and one client connection inside a namespace.
type echo struct {
	ln   net.Listener
	conn net.Conn
	r    *bufio.Reader
	port int
}

func newEcho(t *testing.T, path string) *echo {
	t.Helper()
	e := &echo{}
	err := InNamespace(path, func() error {
		var err error
		if e.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return err
		}
		e.conn, err = net.Dial("tcp", e.ln.Addr().String())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.port = e.ln.Addr().(*net.TCPAddr).Port
	srv, err := e.ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // owned by the test: ends when the connections close
		defer close(done)
		io.Copy(srv, srv)
	}()
	t.Cleanup(func() {
		e.conn.Close()
		srv.Close()
		e.ln.Close()
		<-done
	})
	e.r = bufio.NewReader(e.conn)
	return e
}

// roundTrip sends a line and waits for its echo.
func (e *echo) roundTrip(t *testing.T) time.Duration {
	t.Helper()
	e.conn.SetDeadline(time.Now().Add(30 * time.Second))
	start := time.Now()
	if _, err := e.conn.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	if l, err := e.r.ReadString('\n'); err != nil || l != "ping\n" {
		t.Fatalf("echo: %q, %v", l, err)
	}
	return time.Since(start)
}

// TestDelayTCP: with the mark rule and a Delayer, a TCP round trip to the
// delayed port takes at least delay-jitter; with the steering rule but no
// Delayer, traffic passes (bypass); after the undo (mark rule removed,
// Delayer closed) nothing of ours is left in the namespace.
func TestDelayTCP(t *testing.T) {
	needNetns(t)
	ns, path := newNetns(t)
	e := newEcho(t, path)
	const q = 4242
	delay, jitter := 60*time.Millisecond, 20*time.Millisecond
	e.roundTrip(t)

	// Packets marked and steered, nobody listening (a Delayer that died):
	// bypass lets them through.
	markRule(t, ns, "tcp", e.port)
	cfg := Config{Queue: q, Mark: mark, Delay: delay, Jitter: jitter}
	if err := steer(path, cfg); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e.roundTrip(t)
	}
	if err := unsteer(path, cfg); err != nil {
		t.Fatal(err)
	}

	d, err := Open(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := boundQueues(t, ns); len(got) != 1 || got[0] != strconv.Itoa(q) {
		t.Errorf("queues bound in %s = %v, want [%d]", ns, got, q)
	}
	// A second Delayer cannot take the same queue.
	if d2, err := Open(path, cfg); err == nil {
		d2.Close()
		t.Error("a second Open of the same queue in the same namespace succeeded")
	} else if !strings.Contains(err.Error(), "another program serves this queue") {
		t.Errorf("second Open: %v, want it to say the queue is taken", err)
	}
	const n = 10
	var least, sum time.Duration
	for i := range n {
		rt := e.roundTrip(t)
		if i == 0 || rt < least {
			least = rt
		}
		sum += rt
	}
	t.Logf("delay %s ± %s: %d round trips, shortest %s, mean %s", delay, jitter, n, least, sum/n)
	if least < delay-jitter {
		t.Errorf("shortest round trip %s with delay %s ± %s: the delay was not applied", least, delay, jitter)
	}
	if s := d.Stats(); s.Delayed < n {
		t.Errorf("Delayed = %d after %d round trips, want at least %d", s.Delayed, n, n)
	}

	// The undo: the Delayer first (its steering rule, then the held
	// packets, then the socket), then the mark.
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	before := d.Stats().Delayed
	for range 3 {
		e.roundTrip(t)
	}
	if after := d.Stats().Delayed; after != before {
		t.Errorf("packets went through the Delayer after Close: %d -> %d", before, after)
	}
	removeRule(t, ns)
	if l := leftovers(t, ns); len(l) > 0 {
		t.Errorf("left in %s after the undo: %s", ns, strings.Join(l, "; "))
	}
	e.roundTrip(t)
}

// TestMaxHeldFailsOpen: past MaxHeld the kernel lets packets through
// undelayed instead of dropping them, and Close releases what is held:
// every datagram arrives.
func TestMaxHeldFailsOpen(t *testing.T) {
	needNetns(t)
	ns, path := newNetns(t)
	var rx, tx *net.UDPConn
	err := InNamespace(path, func() error {
		var err error
		if rx, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			return err
		}
		tx, err = net.DialUDP("udp", nil, rx.LocalAddr().(*net.UDPAddr))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	defer tx.Close()
	const q, maxHeld, total = 4243, 2, 10
	markRule(t, ns, "udp", rx.LocalAddr().(*net.UDPAddr).Port)
	d, err := Open(path, Config{Queue: q, Mark: mark, Delay: MaxDelay, MaxHeld: maxHeld})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	start := time.Now()
	for i := range total {
		if _, err := tx.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	got := map[byte]bool{}
	buf := make([]byte, 16)
	rx.SetReadDeadline(time.Now().Add(MaxDelay / 2))
	for len(got) < total-maxHeld {
		n, err := rx.Read(buf)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v (past MaxHeld they should pass undelayed)", len(got), total-maxHeld, err)
		}
		got[buf[n-1]] = true
	}
	// The delayer counts a packet once it has read it from its socket,
	// which on a loaded machine may come after the others passed.
	for d.Held() < maxHeld && time.Since(start) < MaxDelay/2 {
		time.Sleep(10 * time.Millisecond)
	}
	if el := time.Since(start); el < MaxDelay {
		if h := d.Held(); h != maxHeld {
			t.Errorf("held %d, want %d (MaxHeld)", h, maxHeld)
		}
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	removeRule(t, ns)
	if l := leftovers(t, ns); len(l) > 0 {
		t.Errorf("left in %s after the undo: %s", ns, strings.Join(l, "; "))
	}
	rx.SetReadDeadline(time.Now().Add(30 * time.Second))
	for len(got) < total {
		n, err := rx.Read(buf)
		if err != nil {
			t.Fatalf("held datagrams not released by Close: have %d of %d: %v", len(got), total, err)
		}
		got[buf[n-1]] = true
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Mark: 1, Delay: 10 * time.Millisecond, Jitter: 20 * time.Millisecond}, "jitter 20ms exceeds delay 10ms"},
		{Config{Mark: 1, Delay: -time.Millisecond}, "want both >= 0"},
		{Config{Mark: 1, Delay: MaxDelay, Jitter: time.Second}, "want at most"},
		{Config{Delay: time.Millisecond}, "nonzero packet mark"},
	} {
		if err := c.cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want %q", c.cfg, err, c.want)
		}
	}
	if err := (Config{Mark: 1, Delay: 50 * time.Millisecond, Jitter: 10 * time.Millisecond}).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestPacketID(t *testing.T) {
	// An attribute before the header, then NFQA_PACKET_HDR {id 7, proto, hook}.
	b := []byte{8, 0, 9, 0, 1, 2, 3, 4, 11, 0, 1, 0, 0, 0, 0, 7, 8, 0, 3, 0}
	if id, ok := packetID(b); !ok || id != 7 {
		t.Errorf("packetID = %d, %v, want 7, true", id, ok)
	}
	if _, ok := packetID([]byte{200, 0, 1, 0, 0, 0}); ok {
		t.Error("packetID accepted an attribute longer than the message")
	}
}
