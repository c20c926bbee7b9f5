package cluster

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestGrudgeString(t *testing.T) {
	g := Grudge{"n3": {"n2", "n1"}, "n1": {"n3"}}
	if got, want := g.String(), "n1<-n3; n3<-n1,n2"; got != want {
		t.Fatalf("String = %q, want %q", got, want)
	}
}

func TestNewTarget(t *testing.T) {
	if _, err := NewTarget("consul", TargetOptions{}); !errors.Is(err, ErrUnknownTarget) || !strings.Contains(err.Error(), "etcd, raftkv, zab, zookeeper") {
		t.Fatalf("NewTarget(consul) = %v, want ErrUnknownTarget listing the targets", err)
	}
	for _, n := range TargetNames() {
		tg, err := NewTarget(n, TargetOptions{})
		if err != nil || tg.Name() != n {
			t.Fatalf("NewTarget(%s) = %v, %v", n, tg, err)
		}
	}
}

func members(dir string) []Member {
	var ms []Member
	for i := 1; i <= 3; i++ {
		ms = append(ms, Member{Name: "n" + strconv.Itoa(i), ID: i, Host: "10.77.9." + strconv.Itoa(i),
			ClientPort: 2181, PeerPort: 2888, ElectionPort: 3888, Dir: filepath.Join(dir, "n"+strconv.Itoa(i))})
	}
	return ms
}

func TestMissingOurBinary(t *testing.T) {
	for _, n := range []string{"raftkv", "zab"} {
		tg, err := NewTarget(n, TargetOptions{BinDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if err := tg.Check(); !errors.Is(err, ErrMissingBinary) || !strings.Contains(err.Error(), "make build") {
			t.Fatalf("%s Check with an empty bin dir = %v, want ErrMissingBinary saying `make build`", n, err)
		}
	}
}

func TestZabCommandWritesZooCfg(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "zab"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tg, err := NewTarget("zab", TargetOptions{BinDir: bin})
	if err != nil {
		t.Fatal(err)
	}
	ms := members(t.TempDir())
	c, err := tg.Command(ms[1], ms)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(ms[1].Dir, "conf", "zoo.cfg")
	if !slices.Equal(c.Args, []string{"--config", cfgPath}) {
		t.Fatalf("args %v, want --config %s", c.Args, cfgPath)
	}
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"clientPortAddress=10.77.9.2\n", "server.3=10.77.9.3:2888:3888\n", "4lw.commands.whitelist=*\n", "dataDir=" + ms[1].DataDir() + "\n"} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("zoo.cfg lacks %q:\n%s", want, cfg)
		}
	}
	myid, err := os.ReadFile(filepath.Join(ms[1].DataDir(), "myid"))
	if err != nil || string(myid) != "2\n" {
		t.Fatalf("myid = %q, %v; want 2", myid, err)
	}
}

func TestRaftkvCommandFlags(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "raftkv"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tg, err := NewTarget("raftkv", TargetOptions{BinDir: bin, ClusterToken: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	ms := members(t.TempDir())
	for i := range ms {
		ms[i].ClientPort, ms[i].PeerPort = 2379, 2380
	}
	c, err := tg.Command(ms[0], ms)
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"--name n1", "--listen-client-urls http://10.77.9.1:2379",
		"--initial-cluster n1=http://10.77.9.1:2380,n2=http://10.77.9.2:2380,n3=http://10.77.9.3:2380",
		"--initial-cluster-token tok", "--initial-cluster-state new"} {
		if !strings.Contains(args, want) {
			t.Errorf("args lack %q: %s", want, args)
		}
	}
}

// TestProbeZK serves canned `srvr` answers on a loopback port.
func TestProbeZK(t *testing.T) {
	cases := []struct {
		answer string
		want   Role
		err    bool
	}{
		{"Zookeeper version: 3.8\nMode: leader\nNode count: 5\n", RoleLeader, false},
		{"Zookeeper version: 3.8\nMode: follower\n", RoleFollower, false},
		{"Zookeeper version: 3.8\nMode: observer\n", RoleOther, false},
		{"This ZooKeeper instance is not currently serving requests\n", 0, true},
	}
	for _, c := range cases {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
			buf := make([]byte, 4)
			if _, err := conn.Read(buf); err != nil || string(buf) != "srvr" {
				return
			}
			conn.Write([]byte(c.answer))
		}()
		got, err := probeZK(context.Background(), l.Addr().String())
		l.Close()
		if (err != nil) != c.err || got != c.want {
			t.Errorf("probe with %q = %v, %v; want %v (error %v)", c.answer, got, err, c.want, c.err)
		}
	}
}

// TestAdminListeners: with TargetOptions.Admin our engines get their admin
// listener (raftkv --admin-listen-url, zab zab.adminAddress) at the
// member's AdminPort, bound where the runtime says; without it, or for the
// real etcd, none.
func TestAdminListeners(t *testing.T) {
	bin := t.TempDir()
	for _, n := range []string{"raftkv", "zab"} {
		if err := os.WriteFile(filepath.Join(bin, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ms := members(t.TempDir())
	for i := range ms {
		ms[i].AdminPort = DefaultAdminPort
	}
	ms[0].AdminBind = "0.0.0.0"
	cases := []struct {
		target string
		admin  bool
		m      Member
		want   string // in the args or zoo.cfg; "" = no admin setting at all
	}{
		{"raftkv", true, ms[1], "--admin-listen-url http://10.77.9.2:2390"},
		{"raftkv", true, ms[0], "--admin-listen-url http://0.0.0.0:2390"},
		{"raftkv", false, ms[1], ""},
		{"zab", true, ms[1], "zab.adminAddress=10.77.9.2:2390\n"},
		{"zab", true, ms[0], "zab.adminAddress=0.0.0.0:2390\n"},
		{"zab", false, ms[1], ""},
	}
	for _, c := range cases {
		tg, err := NewTarget(c.target, TargetOptions{BinDir: bin, Admin: c.admin})
		if err != nil {
			t.Fatal(err)
		}
		if tg.ServesAdmin() != c.admin {
			t.Errorf("%s Admin=%v: ServesAdmin() = %v", c.target, c.admin, tg.ServesAdmin())
		}
		cmd, err := tg.Command(c.m, ms)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(cmd.Args, " ")
		if c.target == "zab" {
			b, err := os.ReadFile(filepath.Join(c.m.Dir, "conf", "zoo.cfg"))
			if err != nil {
				t.Fatal(err)
			}
			got = string(b)
		}
		if c.want == "" {
			if strings.Contains(got, "admin-listen") || strings.Contains(got, "adminAddress") {
				t.Errorf("%s without Admin configures an admin listener: %s", c.target, got)
			}
		} else if !strings.Contains(got, c.want) {
			t.Errorf("%s with Admin on %s: want %q in %s", c.target, c.m.AdminListen(), c.want, got)
		}
	}
	for _, n := range []string{"etcd", "zookeeper"} {
		if tg, _ := NewTarget(n, TargetOptions{Admin: true}); tg.ServesAdmin() {
			t.Errorf("%s claims an admin endpoint", n)
		}
	}
	if u, err := ms[0].AdminURL(); u != "http://10.77.9.1:2390" || err != nil {
		t.Errorf("AdminURL of a member bound to 0.0.0.0 = %q, %v; want its own address", u, err)
	}
	if u, err := (Member{Name: "n1", Host: "10.0.0.1"}).AdminURL(); !errors.Is(err, ErrNoAdmin) {
		t.Errorf("AdminURL without an admin port = %q, %v; want ErrNoAdmin", u, err)
	}
}

// TestZooKeeperJVMFlags: the quick-start flags (C1 only, serial collector,
// 256 MiB) unless JVMDefaults asks for the JVM's own, as zkServer.sh runs
// it; a JavaHeap is kept either way.
func TestZooKeeperJVMFlags(t *testing.T) {
	cases := []struct {
		opts      TargetOptions
		want, not []string
	}{
		{TargetOptions{}, []string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}, nil},
		{TargetOptions{JVMDefaults: true}, nil, []string{"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx256m"}},
		{TargetOptions{JVMDefaults: true, JavaHeap: "1g"}, []string{"-Xmx1g"}, []string{"-XX:TieredStopAtLevel=1"}},
	}
	for _, c := range cases {
		tg, err := NewTarget("zookeeper", c.opts)
		if err != nil {
			t.Fatal(err)
		}
		ms := members(t.TempDir())
		cmd, err := tg.Command(ms[0], ms)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			if !slices.Contains(cmd.Args, w) {
				t.Errorf("%+v: args %v lack %s", c.opts, cmd.Args, w)
			}
		}
		for _, n := range c.not {
			if slices.Contains(cmd.Args, n) {
				t.Errorf("%+v: args %v have %s", c.opts, cmd.Args, n)
			}
		}
		if !slices.Contains(cmd.Args, "org.apache.zookeeper.server.quorum.QuorumPeerMain") {
			t.Errorf("%+v: args %v lack the main class", c.opts, cmd.Args)
		}
	}
}
