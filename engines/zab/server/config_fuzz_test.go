package server

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

const sampleZooCfg = `# a three-member ensemble
tickTime=2000
initLimit=10
syncLimit=5
dataDir=/var/lib/zookeeper
clientPort=2181
maxClientCnxns=60
4lw.commands.whitelist=srvr,mntr,ruok
autopurge.snapRetainCount=3
server.1=127.0.0.1:2888:3888
server.2=127.0.0.2:2888:3888;2182
server.3=127.0.0.3:2888:3888:participant;127.0.0.3:2183
myid=2
`

// checkValidConfig fails when Validate accepted a config a server could not
// run with.
func checkValidConfig(t *testing.T, c *Config) {
	t.Helper()
	if c.TickTime <= 0 || c.InitLimit <= 0 || c.SyncLimit <= 0 {
		t.Fatalf("valid config with tickTime %v initLimit %d syncLimit %d", c.TickTime, c.InitLimit, c.SyncLimit)
	}
	if lim := c.TickTime * time.Duration(max(c.InitLimit, c.SyncLimit)); lim/time.Duration(max(c.InitLimit, c.SyncLimit)) != c.TickTime {
		t.Fatalf("valid config whose tickTime %v × limits (%d, %d) overflows", c.TickTime, c.InitLimit, c.SyncLimit)
	}
	if c.MinSession() <= 0 || c.MinSession() > c.MaxSession() {
		t.Fatalf("valid config with session bounds %v..%v", c.MinSession(), c.MaxSession())
	}
	if c.ClientPort < 1 || c.ClientPort > 65535 {
		t.Fatalf("valid config with clientPort %d", c.ClientPort)
	}
	if len(c.Servers) > 0 {
		if _, ok := c.Self(); !ok {
			t.Fatalf("valid config: myid %d not among the servers", c.ID)
		}
	}
	for _, m := range c.Servers {
		if m.ID == 0 || m.Host == "" || m.QuorumPort < 1 || m.QuorumPort > 65535 || m.ElectionPort < 1 || m.ElectionPort > 65535 {
			t.Fatalf("valid config with member %+v", m)
		}
	}
}

// FuzzZooCfg parses arbitrary zoo.cfg text: no panic; parsing is a pure
// function of the text (parsing it again over the result changes nothing,
// since every key sets a value and server.N replaces member N); Validate
// gives the same answer twice; and a config Validate accepts is one a server
// can run with.
func FuzzZooCfg(f *testing.F) {
	f.Add(sampleZooCfg)
	f.Add("tickTime=2000\ndataDir=/tmp/zk\nclientPort=2181\n")
	f.Add("tickTime 2000\ndataDir:/tmp/zk\nclientPortAddress = 0.0.0.0\nminSessionTimeout=100000\nmaxSessionTimeout=10\n")
	f.Add("dataDir=/d\ntickTime=9223372036854775807\n")
	f.Add("dataDir=/d\ntickTime=2540400h\n")
	f.Add("dataDir=/d\nserver.1=h:1:2:observer\nserver.1=h:1:2\nmyid=1\n")
	f.Add("dataDir=/d\nserver.0=h:1:2\n")
	f.Add("dataDir=/d\nserver.2=[::1]:2888:3888;[::1]:2181\nmyid=2\n")
	f.Add("dataDir=/d\nsslQuorum=true\n")
	f.Add("dataDir=/d\nzab.adminAddress=:7000\nzab.httpAddress=127.0.0.1:8080\n")
	f.Add("dataDir=/d\njute.maxbuffer=1023\n4lw.commands.whitelist=*\n")
	f.Add("!comment\n#comment\n\nunknownKey=1\n")
	f.Fuzz(func(t *testing.T, text string) {
		c := DefaultConfig()
		_, err := ParseZooCfg(&c, strings.NewReader(text), "zoo.cfg")
		if err != nil {
			if !errors.Is(err, ErrConfig) && !strings.Contains(err.Error(), "read zoo.cfg") {
				t.Fatalf("parse error without ErrConfig: %v", err)
			}
			return
		}
		again := c
		again.Servers = append([]Member(nil), c.Servers...)
		again.FourLetterWords = append([]string(nil), c.FourLetterWords...)
		if _, err := ParseZooCfg(&again, strings.NewReader(text), "zoo.cfg"); err != nil {
			t.Fatalf("second parse failed: %v", err)
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("parsing twice changed the config:\n%+v\n%+v", c, again)
		}
		v1 := c.Validate()
		v2 := c.Validate()
		if (v1 == nil) != (v2 == nil) || (v1 != nil && v1.Error() != v2.Error()) {
			t.Fatalf("Validate not consistent: %v / %v", v1, v2)
		}
		if v1 != nil {
			if !errors.Is(v1, ErrConfig) {
				t.Fatalf("Validate error without ErrConfig: %v", v1)
			}
			return
		}
		checkValidConfig(t, &c)
	})
}

// FuzzLoadConfigArgs runs LoadConfig on arbitrary argument lists (split at
// NUL) with a zoo.cfg and a myid file: no panic, errors carry ErrConfig, and
// Validate of the result holds the same rules as for zoo.cfg.
func FuzzLoadConfigArgs(f *testing.F) {
	dir := f.TempDir()
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(strings.ReplaceAll(sampleZooCfg, "/var/lib/zookeeper", dir)), 0o644); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "myid"), []byte("3\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Add("--config\x00CFG")
	f.Add("CFG")
	f.Add("--config=CFG\x00--myid\x001\x00--tick-time\x002s")
	f.Add("--data-dir\x00DIR\x00--server\x001=127.0.0.1:2888:3888\x00--server\x002=127.0.0.2:2888:3888")
	f.Add("--server\x00x")
	f.Add("--help")
	f.Add("-config\x00CFG\x00extra")
	f.Add("--client-port\x0070000")
	f.Fuzz(func(t *testing.T, joined string) {
		// Only the fixture's files: an arbitrary path could be a FIFO.
		joined = strings.NewReplacer("CFG", cfgPath, "DIR", dir).Replace(joined)
		args := strings.Split(joined, "\x00")
		for _, a := range args {
			rest := strings.NewReplacer(cfgPath, "", dir, "").Replace(a)
			if strings.ContainsAny(rest, "/\\") || strings.Contains(a, "..") {
				return
			}
		}
		c, _, err := LoadConfig(args, io.Discard)
		if err != nil {
			// Bad flags and settings carry ErrConfig; reading a --config that
			// is, say, a directory is an I/O error naming the file.
			if !errors.Is(err, ErrConfig) && !strings.HasPrefix(err.Error(), "zab: read ") {
				t.Fatalf("LoadConfig error neither ErrConfig nor a read error: %v", err)
			}
			return
		}
		if c.Validate() == nil {
			checkValidConfig(t, &c)
		}
	})
}

// FuzzReadMyID reads arbitrary myid file contents: no panic; accepted means
// a positive id that the file spells in decimal.
func FuzzReadMyID(f *testing.F) {
	dir := f.TempDir()
	for _, s := range []string{"1\n", "  7 ", "0", "-1", "18446744073709551615", "18446744073709551616", "0x10", "+3", "", "1\n2\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// A fresh file each time: rewriting one in place makes ext4 flush it.
		p := filepath.Join(dir, "myid")
		_ = os.Remove(p)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		id, ok, err := readMyID(dir)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error without ErrConfig: %v", err)
			}
			return
		}
		if !ok || id == 0 {
			t.Fatalf("accepted %q as id %d (ok=%v)", b, id, ok)
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err != nil || n != id {
			t.Fatalf("accepted %q as %d", b, id)
		}
	})
}

// A millisecond count past what a time.Duration holds must be refused, not
// wrapped around to some other duration.
func TestMillisOverflow(t *testing.T) {
	for _, v := range []string{"9223372036854775807", "9223372036855", "18446744073709552"} {
		if d, err := millis(v); err == nil {
			t.Errorf("millis(%q) = %v, want an error", v, d)
		}
	}
	if d, err := millis("9223372036854"); err != nil || d != 9223372036854*time.Millisecond {
		t.Errorf("millis(largest) = %v, %v", d, err)
	}
}
