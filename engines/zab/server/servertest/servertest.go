// Package servertest starts real zab processes (cmd/zab) on loopback for
// process-level tests and benchmarks: an Ensemble of members, each with its
// own data dir, myid, zoo.cfg and free ports, that can be killed (SIGKILL),
// stopped and restarted.
//
// # Caveats
//
//   - Ports are taken by listening on 127.0.0.1:0 and closing; another
//     process could grab one in between (rare on a test machine).
//   - Members log to files in their directory; a failing test prints them.
package servertest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"coordlab/proctest"
)

// Build compiles cmd/zab into dir and returns the binary's path, or
// $COORDLAB_BIN/zab when COORDLAB_BIN is set.
func Build(dir string) (string, error) {
	if b := os.Getenv("COORDLAB_BIN"); b != "" {
		p := filepath.Join(b, "zab")
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("servertest: COORDLAB_BIN=%s has no zab binary: %w", b, err)
		}
		return p, nil
	}
	out := filepath.Join(dir, "zab")
	cmd := exec.Command("go", "build", "-o", out, "coordlab/cmd/zab")
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("servertest: go build cmd/zab: %v\n%s", err, b)
	}
	return out, nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	ps, err := proctest.FreePorts("127.0.0.1", 1)
	if err != nil {
		return 0, err
	}
	return ps[0], nil
}

// Member is one zab process.
type Member struct {
	ID         int
	Dir        string // dataDir (also holds zoo.cfg and the log)
	ClientPort int
	QuorumPort int
	ElecPort   int
	HTTPPort   int

	mu   sync.Mutex
	proc *proctest.Process // nil when not running
}

// ClientAddr is host:port of the member's client port.
func (m *Member) ClientAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.ClientPort))
}

// HTTPAddr is host:port of the member's admin HTTP port.
func (m *Member) HTTPAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.HTTPPort)) }

// LogPath is the member's combined stdout/stderr.
func (m *Member) LogPath() string { return filepath.Join(m.Dir, "zab.log") }

// Options tune an Ensemble.
type Options struct {
	// TickTime in ms; default 200 (fast failure detection for tests).
	TickTime int
	// Extra zoo.cfg lines.
	Extra []string
	// Env is added to each member's environment ("KEY=value"), e.g.
	// SERVER_JVMFLAGS with -D system properties as zkServer.sh passes them.
	Env []string
	// DynamicConfig puts the server.N lines in a ZooKeeper 3.5+ dynamic
	// file, zoo.cfg.dynamic.100000000 next to zoo.cfg, which zoo.cfg names
	// with dynamicConfigFile.
	DynamicConfig bool
}

// Ensemble is N zab members on loopback.
type Ensemble struct {
	Bin     string
	Members []*Member
	opts    Options
}

// New writes configs for n members under dir (nothing is started).
func New(bin, dir string, n int, opts Options) (*Ensemble, error) {
	if opts.TickTime == 0 {
		opts.TickTime = 200
	}
	e := &Ensemble{Bin: bin, opts: opts}
	for i := 1; i <= n; i++ {
		m := &Member{ID: i, Dir: filepath.Join(dir, fmt.Sprintf("m%d", i))}
		for _, p := range []*int{&m.ClientPort, &m.QuorumPort, &m.ElecPort, &m.HTTPPort} {
			port, err := FreePort()
			if err != nil {
				return nil, err
			}
			*p = port
		}
		if err := os.MkdirAll(m.Dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(m.Dir, "myid"), []byte(strconv.Itoa(i)+"\n"), 0o644); err != nil {
			return nil, err
		}
		e.Members = append(e.Members, m)
	}
	for _, m := range e.Members {
		var b strings.Builder
		fmt.Fprintf(&b, "tickTime=%d\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n",
			opts.TickTime, m.Dir, m.ClientPort)
		fmt.Fprintf(&b, "4lw.commands.whitelist=*\nmaxClientCnxns=0\nzab.httpAddress=%s\n", m.HTTPAddr())
		for _, l := range opts.Extra {
			b.WriteString(l + "\n")
		}
		var servers strings.Builder
		for _, o := range e.Members {
			fmt.Fprintf(&servers, "server.%d=127.0.0.1:%d:%d\n", o.ID, o.QuorumPort, o.ElecPort)
		}
		if opts.DynamicConfig {
			p := filepath.Join(m.Dir, DynamicConfigName)
			if err := os.WriteFile(p, []byte(servers.String()), 0o644); err != nil {
				return nil, err
			}
			fmt.Fprintf(&b, "dynamicConfigFile=%s\n", p)
		} else {
			b.WriteString(servers.String())
		}
		if err := os.WriteFile(filepath.Join(m.Dir, "zoo.cfg"), []byte(b.String()), 0o644); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// DynamicConfigName is the dynamic file Options.DynamicConfig writes, named
// as ZooKeeper names the first one (config version 0x100000000).
const DynamicConfigName = "zoo.cfg.dynamic.100000000"

// Start starts member id (1-based).
func (e *Ensemble) Start(id int) error {
	m := e.Members[id-1]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc != nil {
		return fmt.Errorf("servertest: member %d already running", id)
	}
	logf, err := os.OpenFile(m.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	var env []string
	if len(e.opts.Env) > 0 {
		env = append(os.Environ(), e.opts.Env...)
	}
	p, err := proctest.Launch(e.Bin, []string{"--config", filepath.Join(m.Dir, "zoo.cfg")}, proctest.Options{Output: logf, Env: env})
	if err != nil {
		logf.Close()
		return fmt.Errorf("servertest: start member %d: %w", id, err)
	}
	go func() { <-p.Done(); logf.Close() }()
	m.proc = p
	return nil
}

// StartAll starts every member.
func (e *Ensemble) StartAll() error {
	for _, m := range e.Members {
		if err := e.Start(m.ID); err != nil {
			return err
		}
	}
	return nil
}

// Kill sends SIGKILL to member id and waits for it to exit.
func (e *Ensemble) Kill(id int) {
	if p := e.take(id); p != nil {
		p.Kill()
	}
}

// Stop sends SIGTERM to member id and waits for it to exit (SIGKILL after
// 10 s).
func (e *Ensemble) Stop(id int) {
	if p := e.take(id); p != nil {
		p.Stop(10 * time.Second)
	}
}

// take marks member id down and returns its process (nil if down).
func (e *Ensemble) take(id int) *proctest.Process {
	m := e.Members[id-1]
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.proc
	m.proc = nil
	return p
}

// StopAll stops every running member.
func (e *Ensemble) StopAll() {
	for _, m := range e.Members {
		e.Stop(m.ID)
	}
}

// Running reports whether member id is running.
func (e *Ensemble) Running(id int) bool {
	m := e.Members[id-1]
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proc != nil
}

// ClientAddrs lists every member's client address.
func (e *Ensemble) ClientAddrs() []string {
	var out []string
	for _, m := range e.Members {
		out = append(out, m.ClientAddr())
	}
	return out
}

// FourLetterWord sends cmd to addr and returns the answer.
func FourLetterWord(addr, cmd string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(cmd)); err != nil {
		return "", err
	}
	var b strings.Builder
	r := bufio.NewReader(c)
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String(), nil
}

// Mode returns the member's srvr Mode ("leader", "follower") or "" when it
// is not serving.
func (m *Member) Mode() string {
	out, err := FourLetterWord(m.ClientAddr(), "srvr", time.Second)
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Mode: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// WaitServing waits until every running member serves and exactly one leads;
// it returns the leader's id.
func (e *Ensemble) WaitServing(ctx context.Context) (int, error) {
	for {
		leader, serving, running := 0, 0, 0
		for _, m := range e.Members {
			if !e.Running(m.ID) {
				continue
			}
			running++
			switch m.Mode() {
			case "leader", "standalone":
				leader = m.ID
				serving++
			case "follower":
				serving++
			}
		}
		if leader != 0 && serving == running {
			return leader, nil
		}
		select {
		case <-ctx.Done():
			return 0, errors.New("servertest: ensemble not serving: " + e.describe())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (e *Ensemble) describe() string {
	var parts []string
	for _, m := range e.Members {
		parts = append(parts, fmt.Sprintf("%d:running=%v mode=%q", m.ID, e.Running(m.ID), m.Mode()))
	}
	return strings.Join(parts, " ")
}

// Cleanup registers StopAll and, when the test failed, prints each
// member's log tail.
func (e *Ensemble) Cleanup(t testing.TB) {
	t.Cleanup(func() {
		e.StopAll()
		if t.Failed() {
			for _, m := range e.Members {
				b, _ := os.ReadFile(m.LogPath())
				if len(b) > 6000 {
					b = b[len(b)-6000:]
				}
				t.Logf("member %d log tail:\n%s", m.ID, b)
			}
		}
	})
}
