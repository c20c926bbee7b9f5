package server_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"coordlab/client/clienttest"
	"coordlab/engines/zab/server/servertest"
	"coordlab/proctest"
)

// zkCliReplies is what zkCli.sh printed for its commands: the lines its
// replies make, without the JVM's start-up noise and the watcher's
// messages, which its event thread prints at any point between them.
func zkCliReplies(t *testing.T, out string) string {
	t.Helper()
	const connected = "\nWatchedEvent state:SyncConnected type:None path:null\n"
	if !strings.Contains(out, connected) {
		t.Fatalf("zkCli got no session:\n%s", out)
	}
	const start = "JLine support is disabled\n"
	i := strings.Index(out, start)
	if i < 0 {
		t.Fatalf("zkCli did not start its command loop:\n%s", out)
	}
	out = out[i+len(start):]
	out = strings.Replace(out, connected, "", 1)
	out = strings.Replace(out, "\nWATCHER::\n", "", 1)
	var keep []string
	for _, l := range strings.SplitAfter(out, "\n") {
		if !strings.HasPrefix(l, "SLF4J: ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

// TestZkCliSameAsZooKeeper runs one zkCli.sh script against a standalone
// ZooKeeper 3.8 and a one-member zab and requires the same output: a
// container made with `create -c`, `addauth digest` with an id without a
// colon (ZooKeeper digests the whole id), quota statistics (setquota,
// listquota, delquota), whoami (user names, ZooKeeper's
// order), `create -t` without extendedTypesEnabled, `addauth ip`, the empty data of the system nodes, `config` of a
// standalone server, and reconfig while reconfigEnabled is off.
func TestZkCliSameAsZooKeeper(t *testing.T) {
	t.Parallel()
	needZkCli(t)
	real := clienttest.StartZooKeeper(t)
	e := startMember(t, servertest.Options{Extra: []string{"maxSessionTimeout=30000"}})
	script := []string{
		"addauth digest foo",
		"whoami",
		"create -c /ctr",
		"create /ctr/x d auth::cdrwa",
		"get /ctr/x",
		"getAcl /ctr/x",
		"get /",
		"get /zookeeper",
		"get /zookeeper/config",
		"config",
		"reconfig -add server.5=127.0.0.1:1:2;3",
		"setquota -n 5 /ctr",
		"create /ctr/y 12345",
		"set /ctr/y 1",
		"listquota /ctr",
		"setquota -N 10 /ctr",
		"listquota /ctr",
		"delquota /ctr",
		"listquota /ctr",
		"create -t 1000 /ttl",
		"create -s /seq",
		"addauth ip anything",
		"addauth digest alice:pw",
		"whoami",
	}
	want := zkCliReplies(t, zkCliScript(t, real.Addr, nil, script...))
	got := zkCliReplies(t, zkCliScript(t, e.Members[0].ClientAddr(), nil, script...))
	if got != want {
		t.Fatalf("zkCli against zab printed\n%s\nZooKeeper 3.8 printed\n%s", got, want)
	}
	// The script did what it says on ZooKeeper (so the comparison is not
	// of two failures).
	for _, line := range []string{"Created /ctr\n", "Created /ctr/x\n", "\nd\n", "'digest,'foo:C+7Hteo/D9vJXQ3UfzxbwnXaijM=\n", "digest: foo\n", "Reconfig is disabled", "KeeperErrorCode = Unimplemented for /ttl", "Output stat for /ctr count=3,bytes=2\n"} {
		if !strings.Contains(want, line) {
			t.Fatalf("ZooKeeper's output lacks %q:\n%s", line, want)
		}
	}
}

// TestGoZkCreateModesSameAsZooKeeper: go-zookeeper's Create with the
// container flag (the plain create opcode, alone and in a multi) and an
// `addauth digest` id without a colon behave on zab as on ZooKeeper 3.8.
func TestGoZkCreateModesSameAsZooKeeper(t *testing.T) {
	t.Parallel()
	real := clienttest.StartZooKeeper(t)
	e := startMember(t, servertest.Options{})
	run := func(addr string) string {
		var b strings.Builder
		note := func(what string, v any, err error) {
			code := "ok"
			if err != nil {
				code = err.Error()
				if errors.Is(err, zk.ErrNoAuth) {
					code = "NOAUTH"
				}
			}
			fmt.Fprintf(&b, "%s: %v %s\n", what, v, code)
		}
		c := connect(t, 10*time.Second, addr)
		defer c.Close()
		for flags := int32(0); flags <= zk.FlagContainer; flags++ {
			p, err := c.Create(fmt.Sprintf("/f%d-", flags), nil, flags, zk.WorldACL(zk.PermAll))
			note(fmt.Sprintf("create flags %d", flags), p, err)
		}
		res, err := c.Multi(&zk.CreateRequest{Path: "/m", Acl: zk.WorldACL(zk.PermAll), Flags: zk.FlagContainer})
		if err == nil {
			note("multi create container flag", res[0].String, res[0].Error)
		} else {
			note("multi create container flag", nil, err)
		}
		p, err := c.CreateContainer("/ctr", nil, zk.FlagContainer, zk.WorldACL(zk.PermAll))
		note("createContainer", p, err)
		note("addauth digest foo", nil, c.AddAuth("digest", []byte("foo")))
		fooACL := []zk.ACL{{Perms: zk.PermAll, Scheme: "digest", ID: "foo:C+7Hteo/D9vJXQ3UfzxbwnXaijM="}}
		p, err = c.Create("/foo", []byte("mine"), 0, fooACL)
		note("create with foo's ACL", p, err)
		data, _, err := c.Get("/foo")
		note("get as foo", string(data), err)
		other := connect(t, 10*time.Second, addr)
		defer other.Close()
		_, _, err = other.Get("/foo")
		note("get without auth", nil, err)
		return b.String()
	}
	want, got := run(real.Addr), run(e.Members[0].ClientAddr())
	if got != want {
		t.Fatalf("go-zk against zab:\n%s\nagainst ZooKeeper 3.8:\n%s", got, want)
	}
	if !strings.Contains(want, "create flags 4: /f4- ok") || !strings.Contains(want, "get as foo: mine ok") || !strings.Contains(want, "get without auth: <nil> NOAUTH") {
		t.Fatalf("ZooKeeper did not do what the test expects:\n%s", want)
	}
}

// TestZkCliConfigEnsemble: a 3-member zab started as ZooKeeper 3.5+
// deployments are (server.N lines in zoo.cfg.dynamic.100000000, named by
// dynamicConfigFile) shows zkCli.sh's config and stat /zookeeper/config as
// ZooKeeper 3.8 does (its QuorumMaj.toString and initConfigInZKDatabase:
// dataVersion -1, mZxid the config version), lists the members in conf,
// and answers reconfig "Reconfig is disabled" (reconfigEnabled=false) while
// writes go on.
func TestZkCliConfigEnsemble(t *testing.T) {
	t.Parallel()
	needZkCli(t)
	e, _ := startMembers(t, 3, servertest.Options{DynamicConfig: true, Extra: []string{"maxSessionTimeout=30000", "reconfigEnabled=false"}})
	var want strings.Builder
	for _, m := range e.Members {
		fmt.Fprintf(&want, "server.%d=127.0.0.1:%d:%d:participant\n", m.ID, m.QuorumPort, m.ElecPort)
	}
	want.WriteString("version=100000000\n")
	out := zkCliReplies(t, zkCliScript(t, e.Members[1].ClientAddr(), nil,
		"config", "stat /zookeeper/config", "reconfig -remove 3", "create /after x", "get /after"))
	if !strings.HasPrefix(out, want.String()) {
		t.Fatalf("config: want\n%s\ngot\n%s", want.String(), out)
	}
	for _, line := range []string{"mZxid = 0x100000000\n", "dataVersion = -1\n", "aclVersion = -1\n",
		fmt.Sprintf("dataLength = %d\n", want.Len()-1), "KeeperErrorCode = Reconfig is disabled\n", "Created /after\n", "\nx\n"} {
		if !strings.Contains(out, line) {
			t.Fatalf("zkCli output lacks %q:\n%s", line, out)
		}
	}
	conf, err := servertest.FourLetterWord(e.Members[0].ClientAddr(), "conf", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(conf, "membership: \n"+want.String()) {
		t.Fatalf("conf lacks the membership:\n%s", conf)
	}
}

// TestStartsFromZooKeeperSampleConfigs: zab starts from Debian's
// /etc/zookeeper/conf/zoo.cfg and ZooKeeper 3.8's conf/zoo_sample.cfg as
// shipped (copies in testdata; only dataDir and clientPort are moved, by
// flag, off the shared /tmp/zookeeper and 2181), with no warning, serves
// zkCli.sh, and reports the file's settings in conf.
func TestStartsFromZooKeeperSampleConfigs(t *testing.T) {
	t.Parallel()
	needZkCli(t)
	for _, name := range []string{"debian-zoo.cfg", "zoo_sample.cfg"} {
		t.Run(name, func(t *testing.T) {
			port, err := servertest.FreePort()
			if err != nil {
				t.Fatal(err)
			}
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			p := proctest.StartWith(t, binary(t), []string{"--config", filepath.Join("testdata", name),
				"--data-dir", t.TempDir(), "--client-port", fmt.Sprint(port)}, proctest.Options{Env: append(os.Environ(), "SERVER_JVMFLAGS=", "JVMFLAGS=")})
			if err := p.WaitReady(30*time.Second, proctest.FourLetterWord(addr, "srvr", "Mode: standalone")); err != nil {
				t.Fatalf("%v\n%s", err, p.Output())
			}
			out := zkCliReplies(t, zkCliScript(t, addr, nil, "create /from-sample hello", "get /from-sample"))
			if !strings.Contains(out, "Created /from-sample\nhello\n") {
				t.Fatalf("zkCli:\n%s", out)
			}
			if strings.Contains(p.Output(), "level=WARN") || strings.Contains(p.Output(), "tuning settings") {
				t.Fatalf("the sample config should start without a warning or an inert setting:\n%s", p.Output())
			}
		})
	}
}

// fourLWRaw sends a four-letter word and returns the whole answer.
func fourLWRaw(t *testing.T, addr, cmd string) string {
	t.Helper()
	out, err := servertest.FourLetterWord(addr, cmd, 5*time.Second)
	if err != nil {
		t.Fatalf("%s to %s: %v", cmd, addr, err)
	}
	return out
}

// TestFourLetterWordsSameAsZooKeeper: the four-letter words zab
// implements answer as a standalone ZooKeeper 3.8 does after the same
// steps. With a session holding data and child watches: stat lists it and
// the connection asking, wchs, wchc and wchp show the data watches only
// (wchc and wchp in the order ZooKeeper's HashMaps iterate), cons lists
// both connections with the session's fields, mntr's shared keys match. With no session (so no ping can land between two
// words): each four-letter word is a packet in and its answer one out,
// crst and srst reset, the node count counts the root twice, averages
// print as ZooKeeper's rounded Java doubles.
func TestFourLetterWordsSameAsZooKeeper(t *testing.T) {
	t.Parallel()
	real := clienttest.StartZooKeeper(t)
	e := startMember(t, servertest.Options{})
	version := regexp.MustCompile(`(?m)^(Zookeeper version: |zk_version\t).*$`)
	remote := regexp.MustCompile(`/127\.0\.0\.1:\d+\[`)
	// Latencies and zxids differ by nature (timing; zab's standalone
	// member runs epoch 1, ZooKeeper's epoch 0): compared as formats.
	latency := regexp.MustCompile(`(?m)^(Latency min/avg/max: |zk_avg_latency\t|zk_min_latency\t|zk_max_latency\t)\d+(\.\d{1,4})?(/\d+\.\d{1,4}/\d+)?$`)
	zxid := regexp.MustCompile(`(?m)^Zxid: 0x[0-9a-f]+$`)
	session := regexp.MustCompile(`(?m)^(\t?)0x[0-9a-f]{8,}$`)
	packets := regexp.MustCompile(`(?m)^(Received: |Sent: |zk_packets_received\t|zk_packets_sent\t)(\d+)$`)
	// With a session open a ping may be queued or in flight at any moment.
	connStats := regexp.MustCompile(`queued=\d+,recved=\d+,sent=\d+`)
	consVolatile := regexp.MustCompile(`(sid|lop|est|lzxid|lresp|llat|minlat|avglat|maxlat)=[0-9A-Za-z]+`)
	consCxid := regexp.MustCompile(`,lcxid=0x[0-9a-f]+`)
	mntrKeys := []string{"zk_server_state", "zk_avg_latency", "zk_min_latency", "zk_max_latency", "zk_packets_received", "zk_packets_sent",
		"zk_num_alive_connections", "zk_outstanding_requests", "zk_znode_count", "zk_watch_count", "zk_ephemerals_count", "zk_approximate_data_size", "zk_global_sessions", "zk_local_sessions"}
	normalize := func(cmd, out string, base map[string]int) string {
		if cmd == "mntr" {
			var keep []string
			for _, line := range strings.Split(out, "\n") {
				if k, _, _ := strings.Cut(line, "\t"); slices.Contains(mntrKeys, k) {
					keep = append(keep, line)
				}
			}
			slices.Sort(keep)
			out = strings.Join(keep, "\n")
		}
		out = version.ReplaceAllString(out, "${1}V")
		out = latency.ReplaceAllString(out, "${1}L")
		out = zxid.ReplaceAllString(out, "Zxid: Z")
		out = session.ReplaceAllString(out, "${1}0xSID")
		out = remote.ReplaceAllString(out, "/127.0.0.1:PORT[")
		if cmd == "stat" || cmd == "cons" {
			// ZooKeeper lists connections in hash-set order.
			lines := strings.Split(out, "\n")
			i := slices.Index(lines, "Clients:") + 1
			j := i
			for j < len(lines) && strings.HasPrefix(lines[j], " /") {
				j++
			}
			slices.Sort(lines[i:j])
			out = strings.Join(lines, "\n")
		}
		return packets.ReplaceAllStringFunc(out, func(s string) string {
			if base == nil {
				return packets.ReplaceAllString(s, "${1}N") // a session's pings may land anywhere
			}
			m := packets.FindStringSubmatch(s)
			n, _ := strconv.Atoi(m[2])
			k := strings.NewReplacer("zk_packets_received\t", "Received: ", "zk_packets_sent\t", "Sent: ").Replace(m[1])
			return fmt.Sprintf("%s+%d", m[1], n-base[k])
		})
	}
	run := func(addr string) string {
		var b strings.Builder
		c := connect(t, 10*time.Second, addr)
		if _, _, _, err := c.ExistsW("/"); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := c.ChildrenW("/zookeeper"); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/zookeeper", "/zookeeper/config", "/zookeeper/quota"} {
			if _, _, _, err := c.GetW(p); err != nil {
				t.Fatal(err)
			}
		}
		for _, cmd := range []string{"stat", "cons", "isro", "wchs", "wchc", "wchp", "mntr"} {
			out := connStats.ReplaceAllString(fourLWRaw(t, addr, cmd), "queued=Q,recved=R,sent=S")
			// cons: a ping may land any time (lop=PING, no lcxid); the
			// times, ids and latencies are the server's own.
			out = consVolatile.ReplaceAllString(out, "${1}=X")
			out = consCxid.ReplaceAllString(out, "")
			fmt.Fprintf(&b, "== %s\n%s\n", cmd, normalize(cmd, out, nil))
		}
		c.Close()
		// The session is gone once srvr counts only the asking connection.
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(fourLWRaw(t, addr, "srvr"), "Connections: 1\n") {
			if time.Now().After(deadline) {
				t.Fatal("the closed session's connection is still counted after 10 s")
			}
			time.Sleep(20 * time.Millisecond)
		}
		base := map[string]int{}
		for _, m := range packets.FindAllStringSubmatch(fourLWRaw(t, addr, "srvr"), -1) {
			base[m[1]], _ = strconv.Atoi(m[2])
		}
		for _, cmd := range []string{"srvr", "stat", "mntr", "crst", "srst", "srvr"} {
			out := fourLWRaw(t, addr, cmd)
			if cmd == "srst" {
				clear(base) // counters start again from 0
			}
			fmt.Fprintf(&b, "== %s\n%s\n", cmd, normalize(cmd, out, base))
		}
		return b.String()
	}
	want, got := run(real.Addr), run(e.Members[0].ClientAddr())
	if got != want {
		t.Fatalf("zab answered\n%s\nZooKeeper 3.8 answered\n%s", got, want)
	}
	for _, addr := range []string{real.Addr, e.Members[0].ClientAddr()} {
		mntr := fourLWRaw(t, addr, "mntr")
		for _, k := range []string{"zk_open_file_descriptor_count\t", "zk_max_file_descriptor_count\t"} {
			if !strings.Contains(mntr, "\n"+k) {
				t.Fatalf("%s: mntr lacks %s:\n%s", addr, k, mntr)
			}
		}
	}
	for _, s := range []string{"Total watches:4\n", "/zookeeper/quota\n\t0xSID\n/zookeeper/config\n", "zk_watch_count\t5", "Received: +1\n", "Server stats reset.", ",lop=X,est=X,to=4000,lzxid=X,lresp=X,llat=X,minlat=X,avglat=X,maxlat=X)"} {
		if !strings.Contains(want, s) {
			t.Fatalf("ZooKeeper's answers lack %q:\n%s", s, want)
		}
	}
}
