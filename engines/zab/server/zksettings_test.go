package server

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"coordlab/proctest"
)

var updateCompat = flag.Bool("update-compat", false, "rewrite the zab section of docs/COMPATIBILITY.md from ZooKeeperSettings")

const (
	compatPath    = "../../../docs/COMPATIBILITY.md"
	compatHeading = "## zab: ZooKeeper 3.8 settings"
	compatIntro   = `# Compatibility

coordlab's engines are drop-in servers: raftkv for etcd 3.4, zab for
ZooKeeper 3.8. This file lists, for each setting the real system documents,
what the engine does with it. Each engine's table is generated from the
table in its code, and a test fails when the two differ.
`
)

// renderCompat is the zab section of docs/COMPATIBILITY.md.
func renderCompat() string {
	var b strings.Builder
	b.WriteString(compatHeading + "\n\n")
	b.WriteString(`Every setting ZooKeeper 3.8 documents (zookeeperAdmin.md of branch-3.8, and
the few its other guides name), as a zoo.cfg key or as the Java system
property zkServer.sh passes in SERVER_JVMFLAGS or JVMFLAGS (-Dname=value;
ZooKeeper also reads an unknown zoo.cfg key K as the property zookeeper.K,
and so does zab). Generated from ZooKeeperSettings in
engines/zab/server/zksettings.go; TestZooKeeperSettingsTable keeps it, the
code and the list of documented keys (testdata/zookeeper-3.8-settings.txt) in
step, and TestZooKeeperSettingsEnforced checks every refusal.

- **honoured**: zab does what the setting asks; the tests named show it.
- **refused**: zab stops at start with one line naming the setting and why,
  unless the value asks for ZooKeeper's default behaviour (which zab has).
- **inert**: ZooKeeper's own tuning (threads, caches, buffers, file
  preallocation, logging) with no counterpart in zab and no effect a client
  or tool can see; accepted and named in one info line at start. Never a
  warning: zab never runs without something a setting asked for.

An unknown key stops the start too (ZooKeeper would take it silently as a
system property; a typo should not pass).

| setting | system property | zab | how, or why |
|---|---|---|---|
`)
	for _, z := range ZooKeeperSettings {
		prop := "-"
		if z.Property != "" {
			prop = "`" + z.Property + "`"
		}
		note := z.Note
		if z.Tests != "" {
			if note != "" {
				note += "; "
			}
			note += "tests: " + z.Tests
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", z.Key, prop, z.Status, strings.ReplaceAll(note, "|", "\\|"))
	}
	fmt.Fprintf(&b, "\nFour-letter words (4lw.commands.whitelist): zab answers %s as ZooKeeper 3.8 does, with live counters "+
		"(TestFourLetterWordsSameAsZooKeeper); %s are known and answered \"is not executed because it is not in the whitelist\". "+
		"Of the AdminServer, nothing is served (see admin.enableServer).\n",
		strings.Join(FourLetterWordsImplemented, ", "), strings.Join(fourLetterWordsKnown, ", "))
	return b.String()
}

// replaceSection returns doc with the section under heading replaced by
// section (appended when absent; the section runs to the next "## ").
func replaceSection(doc, heading, section string) string {
	i := strings.Index(doc, heading+"\n")
	if i < 0 {
		if doc != "" && !strings.HasSuffix(doc, "\n\n") {
			doc = strings.TrimRight(doc, "\n") + "\n\n"
		}
		return doc + section
	}
	rest := doc[i+len(heading):]
	end := len(doc)
	if j := strings.Index(rest, "\n## "); j >= 0 {
		end = i + len(heading) + j + 1
		section += "\n"
	}
	return doc[:i] + section + doc[end:]
}

// TestZooKeeperSettingsTable: the table covers every documented key once,
// every honoured setting has its parser and names tests that exist, every
// refused one says which values it takes, and docs/COMPATIBILITY.md shows
// exactly the table (go test -run TestZooKeeperSettingsTable
// -update-compat ./engines/zab/server rewrites it).
func TestZooKeeperSettingsTable(t *testing.T) {
	f, err := os.Open("testdata/zookeeper-3.8-settings.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var documented []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && l[0] != '#' {
			documented = append(documented, l)
		}
	}
	if len(documented) < 150 {
		t.Fatalf("only %d documented keys read", len(documented))
	}
	byKey := map[string]ZooKeeperSetting{}
	for _, z := range ZooKeeperSettings {
		if _, dup := byKey[z.Key]; dup {
			t.Errorf("%s: listed twice", z.Key)
		}
		byKey[z.Key] = z
	}
	for _, k := range documented {
		if _, ok := byKey[k]; !ok {
			t.Errorf("%s: documented by ZooKeeper 3.8 but missing from ZooKeeperSettings", k)
		}
	}
	tests := testFuncs(t)
	special := []string{"server.x", "authProvider"} // parsed by setKey and refuseUnprotected
	for _, z := range ZooKeeperSettings {
		switch z.Status {
		case Honoured:
			if findSetting(z.Key) == nil && z.Accept == nil && !slices.Contains(special, z.Key) {
				t.Errorf("%s: honoured but zab has no parser for it", z.Key)
			}
			if z.Tests == "" {
				t.Errorf("%s: honoured without a test named", z.Key)
			}
		case Refused:
			if z.Accept == nil || z.Note == "" {
				t.Errorf("%s: refused without the values it takes or a reason", z.Key)
			}
		case Inert:
			if z.Note == "" {
				t.Errorf("%s: inert without a reason", z.Key)
			}
		}
		for name := range strings.SplitSeq(z.Tests, ",") {
			if name = strings.TrimSpace(name); name != "" && !tests[name] {
				t.Errorf("%s: names test %s, which does not exist", z.Key, name)
			}
		}
	}
	doc, err := os.ReadFile(compatPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	text := string(doc)
	if text == "" {
		text = compatIntro
	}
	want := replaceSection(text, compatHeading, renderCompat())
	if *updateCompat {
		if err := os.WriteFile(compatPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if string(doc) != want {
		t.Fatalf("%s is not the table in zksettings.go; rerun with -update-compat", compatPath)
	}
}

// testFuncs is the set of Test functions under engines/zab.
func testFuncs(t *testing.T) map[string]bool {
	t.Helper()
	re := regexp.MustCompile(`(?m)^func (Test\w+)\(`)
	out := map[string]bool{}
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			out[m[1]] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestZooKeeperSettingsEnforced: every setting with values zab cannot
// serve stops the start, in zoo.cfg and as its system property, and takes
// the values that ask for ZooKeeper's default; inert settings take any
// value and are named.
func TestZooKeeperSettingsEnforced(t *testing.T) {
	rejectCandidates := []string{"true", "1", "yes", "x", "observer", "2", "SHA256", "com.example.X"}
	acceptCandidates := []string{"false", "0", "-1", "", "3", "yes", "participant", "SHA1", "none", "true"}
	first := func(cands []string, ok func(string) bool) (string, bool) {
		for _, v := range cands {
			if ok(v) {
				return v, true
			}
		}
		return "", false
	}
	literal := func(k string) string { return strings.Replace(k, ".x", ".1", 1) } // server.x, group.x, weight.x
	for _, z := range ZooKeeperSettings {
		key := literal(z.Key)
		if z.Key == "server.x" || z.Key == "authProvider" {
			continue // TestLoadConfig, TestSecuritySettingsFailClosed
		}
		t.Run(z.Key, func(t *testing.T) {
			parse := func(line string) ([]string, error) {
				c := DefaultConfig()
				return ParseZooCfg(&c, strings.NewReader(line+"\n"), "zoo.cfg")
			}
			switch {
			case z.Status == Inert:
				ignored, err := parse(key + "=1")
				if err != nil || !slices.Contains(ignored, key) {
					t.Fatalf("%s=1: %v, ignored %q; want accepted and named", key, err, ignored)
				}
				if k, ok := strings.CutPrefix(z.Property, "zookeeper."); ok && !strings.HasPrefix(k, "server.") {
					// ZooKeeper reads zoo.cfg key K as the property
					// zookeeper.K (server.* keys are server lines to it).
					if ignored, err := parse(k + "=1"); err != nil || !slices.Contains(ignored, k) {
						t.Fatalf("%s=1 in zoo.cfg: %v, ignored %q; want accepted as %s", k, err, ignored, z.Property)
					}
				}
				if z.Property != "" {
					var ign []string
					c := DefaultConfig()
					if err := applyJVMFlags(&c, "SERVER_JVMFLAGS", "-D"+z.Property+"=1", &ign); err != nil || !slices.Contains(ign, z.Property) {
						t.Fatalf("-D%s=1: %v, ignored %q", z.Property, err, ign)
					}
				}
			case z.Accept != nil:
				bad, ok := first(rejectCandidates, func(v string) bool { return !z.Accept(v) })
				if !ok {
					t.Fatalf("no candidate value is refused")
				}
				if _, err := parse(key + "=" + bad); err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), key) {
					t.Fatalf("%s=%s: %v, want an ErrConfig naming it", key, bad, err)
				}
				if z.Property != "" {
					c := DefaultConfig()
					var ign []string
					if err := applyJVMFlags(&c, "SERVER_JVMFLAGS", "-D"+z.Property+"="+bad, &ign); err == nil || !strings.Contains(err.Error(), z.Property) {
						t.Fatalf("-D%s=%s: %v, want an error naming it", z.Property, bad, err)
					}
				}
				good, ok := first(acceptCandidates, z.Accept)
				if !ok || z.Key == "group.x" || z.Key == "weight.x" || z.Key == "observerMasterPort" || z.Key == "learnerMasterPort" || z.Key == "initialConfig" {
					return // no value is served
				}
				if _, err := parse(key + "=" + good); err != nil {
					t.Fatalf("%s=%s: %v, want accepted", key, good, err)
				}
			}
		})
	}
}

// startFromZooCfg starts an in-process standalone member from zoo.cfg
// lines (dataDir and clientPort filled in).
func startFromZooCfg(t *testing.T, lines ...string) *Server {
	t.Helper()
	c := DefaultConfig()
	c.TickTime = 100 * time.Millisecond
	body := fmt.Sprintf("dataDir=%s\nclientPort=%d\n%s\n", t.TempDir(), proctest.FreePort(t), strings.Join(lines, "\n"))
	if _, err := ParseZooCfg(&c, strings.NewReader(body), "zoo.cfg"); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Stop() })
	waitLeader(t, []*Server{s})
	return s
}

// TestSnapCount: snapCount=5 in zoo.cfg makes a snapshot every 5 txns.
func TestSnapCount(t *testing.T) {
	s := startFromZooCfg(t, "snapCount=5")
	zc := zkConnect(t, s.ClientAddr())
	for i := range 12 {
		if _, err := zc.Create(fmt.Sprintf("/n%d", i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		snaps, err := listSnapshots(snapDir(s.cfg.DataDir))
		if err != nil {
			t.Fatal(err)
		}
		// 13 txns (the session and 12 creates): snapshots at 5 and 10.
		if len(snaps) >= 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d snapshots after 13 txns with snapCount=5, want 2", len(snaps))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestJuteMaxBuffer: -Djute.maxbuffer in SERVER_JVMFLAGS (ZooKeeper reads
// it without the zookeeper. prefix) bounds the request a client may send:
// a larger one closes the connection, as ZooKeeper's "Len error".
func TestJuteMaxBuffer(t *testing.T) {
	c := DefaultConfig()
	var ignored []string
	if err := applyJVMFlags(&c, "SERVER_JVMFLAGS", "-Xmx1g -Djute.maxbuffer=4096", &ignored); err != nil || c.JuteMaxBuffer != 4096 {
		t.Fatalf("applyJVMFlags: %v, JuteMaxBuffer %d", err, c.JuteMaxBuffer)
	}
	s := startFromZooCfg(t, "jute.maxbuffer=4096")
	zc := zkConnect(t, s.ClientAddr())
	if _, err := zc.Create("/small", make([]byte, 1024), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := zc.Create("/big", make([]byte, 8192), 0, zk.WorldACL(zk.PermAll)); err == nil {
		t.Fatal("an 8 KB create passed jute.maxbuffer=4096")
	}
	other := zkConnect(t, s.ClientAddr())
	if ok, _, err := other.Exists("/big"); err != nil || ok {
		t.Fatalf("/big exists=%v err=%v, want absent", ok, err)
	}
}

// TestContainerCheckInterval: znode.container.checkIntervalMs sets how
// often the leader reaps (in loop ticks), and a container emptied under a
// short interval is reaped.
func TestContainerCheckInterval(t *testing.T) {
	c := DefaultConfig()
	c.TickTime = 100 * time.Millisecond
	if got := c.reapTicks(); got != 4*ticksPerTickTime {
		t.Fatalf("default reap every %d ticks, want 4 tickTimes", got)
	}
	var ign []string
	if err := applyJVMFlags(&c, "SERVER_JVMFLAGS", "-Dzookeeper.znode.container.checkIntervalMs=60000", &ign); err != nil {
		t.Fatal(err)
	}
	if got := c.reapTicks(); got != 600*ticksPerTickTime {
		t.Fatalf("checkIntervalMs=60000 at tickTime 100 ms: reap every %d ticks, want %d", got, 600*ticksPerTickTime)
	}
	s := startFromZooCfg(t, "znode.container.checkIntervalMs=50")
	zc := zkConnect(t, s.ClientAddr())
	if _, err := zc.CreateContainer("/ctr", nil, zk.FlagContainer, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := zc.Create("/ctr/x", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if err := zc.Delete("/ctr/x", -1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, _, err := zc.Exists("/ctr")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("empty container not reaped within 10 s with checkIntervalMs=50")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDataDirAutocreate: -Dzookeeper.datadir.autocreate=false, as zkServer.sh
// passes it with ZOO_DATADIR_AUTOCREATE_DISABLE, stops the start while
// dataDir is missing and allows it once the directory exists.
func TestDataDirAutocreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c := DefaultConfig()
	c.DataDir = dir
	var ign []string
	if err := applyJVMFlags(&c, "SERVER_JVMFLAGS", "-Dzookeeper.datadir.autocreate=false", &ign); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "missing data directory "+dir) {
		t.Fatalf("missing dataDir: %v, want an ErrConfig naming it", err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("existing dataDir: %v", err)
	}
}
