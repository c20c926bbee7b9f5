package proctest

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain makes the test binary a server when asked: it prints a line,
// listens on PROCTEST_LISTEN after 200 ms, and serves until killed.
func TestMain(m *testing.M) {
	if addr := os.Getenv("PROCTEST_LISTEN"); addr != "" {
		fmt.Println("helper starting")
		time.Sleep(200 * time.Millisecond)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Println(err)
			os.Exit(3)
		}
		for {
			c, err := l.Accept()
			if err != nil {
				os.Exit(4)
			}
			c.Write([]byte("hello"))
			c.Close()
		}
	}
	if os.Getenv("PROCTEST_EXIT") != "" {
		fmt.Println("bad flag: --frob")
		os.Exit(2)
	}
	os.Exit(m.Run())
}

func helper(t *testing.T, env string) *Process {
	t.Helper()
	return StartWith(t, os.Args[0], []string{"-test.run=^$"}, Options{Env: append(os.Environ(), env)})
}

func TestFreePorts(t *testing.T) {
	ps, err := FreePorts("127.0.0.1", 5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ps {
		if p <= 0 || seen[p] {
			t.Fatalf("ports %v: want 5 distinct", ps)
		}
		seen[p] = true
	}
}

func TestReadyPauseKill(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	p := helper(t, "PROCTEST_LISTEN="+addr)
	if err := p.WaitReady(30*time.Second, Listening(addr)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Output(), "helper starting") {
		t.Errorf("output %q, want the helper's line", p.Output())
	}
	if err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	// Every thread is stopped: the kernel accepts the connection, but
	// nothing answers.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := c.Read(make([]byte, 5)); err == nil {
		t.Fatalf("paused server answered %d bytes", n)
	}
	c.Close()
	if err := p.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReady(10*time.Second, Listening(addr)); err != nil {
		t.Fatal(err)
	}
	p.Kill()
	p.Kill() // twice is fine
	if ok, _ := p.Exited(); !ok {
		t.Fatal("killed process has not exited")
	}
}

func TestWaitReadyReportsAnExit(t *testing.T) {
	p := helper(t, "PROCTEST_EXIT=1")
	err := p.WaitReady(30*time.Second, Listening("127.0.0.1:1"))
	if err == nil || !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "bad flag: --frob") {
		t.Fatalf("WaitReady on an exiting process = %v, want its exit and output", err)
	}
	if p.ExitCode() != 2 {
		t.Errorf("exit code %d, want 2", p.ExitCode())
	}
}
