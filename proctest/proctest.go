// Package proctest starts real server processes for tests and benchmarks,
// and is the one place the lab and both engines do so: free ports, a process
// whose output is captured and which dies with the test, waiting until it
// accepts connections, pausing it until every thread is stopped, killing
// and restarting it.
//
// Caveats:
//   - Ports are taken by listening on port 0 and closing; another process
//     could take one in between (rare on a test machine).
//   - Pause stops the process with SIGSTOP, which it can observe (SIGCONT);
//     Pause returns only once every thread is stopped, so a test never
//     races a thread still finishing a request.
//   - A process started here dies with the test process (Pdeathsig), and
//     Start registers its kill as a cleanup.
package proctest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FreePorts returns n TCP ports on host that were free a moment ago, all
// different (each is held until the last is taken).
func FreePorts(host string, n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	out := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("proctest: free port on %s: %w", host, err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ps, err := FreePorts("127.0.0.1", 1)
	if err != nil {
		t.Fatal(err)
	}
	return ps[0]
}

// Process is a server process started for a test.
type Process struct {
	Name string // for messages: the program's base name
	cmd  *exec.Cmd
	out  *Buffer
	done chan struct{}
	err  error // exit status, valid after done
}

// Buffer is an io.Writer safe for concurrent use: a process's output.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Options tune Launch.
type Options struct {
	// Dir is the working directory ("" = the test's).
	Dir string
	// Output receives the process's stdout and stderr instead of memory (a
	// log file); Process.Output is then empty.
	Output io.Writer
	// Env replaces the environment when not nil.
	Env []string
}

// Launch starts path with args; the process dies with the test process. The
// caller owns it: Kill it when done.
func Launch(path string, args []string, o Options) (*Process, error) {
	cmd := exec.Command(path, args...)
	cmd.Dir, cmd.Env = o.Dir, o.Env
	buf := &Buffer{}
	var w io.Writer = buf
	if o.Output != nil {
		w = o.Output
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("proctest: start %s: %w", path, err)
	}
	p := &Process{Name: filepath.Base(path), cmd: cmd, out: buf, done: make(chan struct{})}
	go func() { // owned by p: Kill waits for it
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Start launches path with args and kills it when the test ends.
func Start(t testing.TB, path string, args ...string) *Process {
	t.Helper()
	return StartWith(t, path, args, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, path string, args []string, o Options) *Process {
	t.Helper()
	p, err := Launch(path, args, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Output returns what the process printed so far.
func (p *Process) Output() string { return p.out.String() }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and its exit error.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// ExitCode is the exit code once the process has exited (-1 before, or
// when a signal ended it).
func (p *Process) ExitCode() int {
	if ok, _ := p.Exited(); !ok {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// Kill sends SIGKILL (after SIGCONT, in case it is paused) and waits for
// the process to exit. Safe to call twice.
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop asks the process to exit (SIGTERM), waits up to grace, then kills
// it. Safe to call twice, and after Kill.
func (p *Process) Stop(grace time.Duration) {
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Kill()
	}
}

// Pause stops the process (SIGSTOP) and returns once every thread is
// stopped.
func (p *Process) Pause() error {
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("proctest: pause %s: %w", p.Name, err)
	}
	return WaitStopped(p.Pid(), 5*time.Second)
}

// Resume continues a paused process (SIGCONT).
func (p *Process) Resume() error {
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		return fmt.Errorf("proctest: resume %s: %w", p.Name, err)
	}
	return nil
}

// WaitStopped returns once every thread of pid is stopped: SIGSTOP is
// delivered asynchronously, and a thread still running for a few more
// milliseconds (a JVM's, often) can answer a request the caller means to
// leave unanswered.
func WaitStopped(pid int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		if err != nil {
			return err
		}
		stopped := len(tasks) > 0
		for _, t := range tasks {
			b, err := os.ReadFile(t)
			if err != nil {
				continue // the thread exited
			}
			// The state follows the ")" that closes the command name.
			if i := bytes.LastIndexByte(b, ')'); i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
				stopped = false
				break
			}
		}
		if stopped {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("proctest: process %d not stopped %s after SIGSTOP", pid, limit)
		}
		time.Sleep(time.Millisecond)
	}
}

// WaitReady polls ready every 50 ms until it returns nil, the process
// exits (an error with its output), or limit passes (an error with the
// last failure and the output).
func (p *Process) WaitReady(limit time.Duration, ready func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("proctest: %s exited before it was ready (%v); output:\n%s", p.Name, p.err, p.Output())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("proctest: %s not ready after %s: %v; output:\n%s", p.Name, limit, err, p.Output())
		}
	}
}

// Listening is a readiness check: addr accepts TCP connections.
func Listening(addr string) func() error {
	return func() error {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// FourLetterWord is a readiness check for ZooKeeper's wire: addr answers
// the four-letter word with a line containing want (srvr: "Mode: ").
func FourLetterWord(addr, word, want string) func() error {
	return func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
			return err
		}
		if _, err := c.Write([]byte(word)); err != nil {
			return err
		}
		out, _ := io.ReadAll(c)
		if !strings.Contains(string(out), want) {
			return fmt.Errorf("%s answers %s with %q", addr, word, strings.TrimSpace(string(out)))
		}
		return nil
	}
}
