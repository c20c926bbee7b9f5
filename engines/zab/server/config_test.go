package server

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func writeCfg(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfig(t *testing.T) {
	type want struct {
		id         uint64
		tick       time.Duration
		clientAddr string
		minS, maxS time.Duration
		servers    int
		ignored    []string
		logDir     string
		words      []string
	}
	tests := []struct {
		name  string
		cfg   string // zoo.cfg body; DATADIR is replaced
		myid  string // written to dataDir/myid when not empty
		flags []string
		want  want
		err   string // substring of the error; empty = valid
	}{
		{
			name: "zookeeper sample",
			cfg: `# The number of milliseconds of each tick
tickTime=2000
initLimit=10
syncLimit=5
dataDir=DATADIR
clientPort=2181
server.1=127.0.0.1:2888:3888
server.2=127.0.0.1:2889:3889:participant
server.3=127.0.0.1:2890:3890
`,
			myid: "2\n",
			want: want{id: 2, tick: 2 * time.Second, clientAddr: "127.0.0.1:2181", minS: 4 * time.Second, maxS: 40 * time.Second, servers: 3, words: []string{"srvr"}},
		},
		{
			name: "inert settings are listed once",
			cfg: `tickTime=1000
dataDir=DATADIR
admin.enableServer=false
autopurge.purgeInterval=24
metricsProvider.className=org.apache.zookeeper.metrics.impl.DefaultMetricsProvider
standaloneEnabled=false
snapCount=10000
preAllocSize=65536
4lw.commands.whitelist=ruok, srvr ,mntr
`,
			want: want{id: 1, tick: time.Second, clientAddr: "127.0.0.1:2181", minS: 2 * time.Second, maxS: 20 * time.Second,
				ignored: []string{"admin.enableServer", "autopurge.purgeInterval", "preAllocSize"},
				words:   []string{"ruok", "srvr", "mntr"}},
		},
		{
			name:  "flags override file",
			cfg:   "tickTime=2000\ndataDir=DATADIR\nclientPort=2181\nminSessionTimeout=5000\n",
			flags: []string{"--tick-time", "500", "--client-port", "3000", "--max-session-timeout", "9s", "--data-log-dir", "/tmp/x"},
			want:  want{id: 1, tick: 500 * time.Millisecond, clientAddr: "127.0.0.1:3000", minS: 5 * time.Second, maxS: 9 * time.Second, logDir: "/tmp/x", words: []string{"srvr"}},
		},
		{
			name: "client address from server line",
			cfg:  "dataDir=DATADIR\nserver.1=127.0.0.2:2888:3888;127.0.0.2:2222\n",
			myid: "1",
			want: want{id: 1, tick: 2 * time.Second, clientAddr: "127.0.0.2:2222", minS: 4 * time.Second, maxS: 40 * time.Second, servers: 1, words: []string{"srvr"}},
		},
		{
			name:  "flags only",
			flags: []string{"--data-dir", "DATADIR", "--myid", "3", "--server", "3=127.0.0.1:1:2", "--server", "1=127.0.0.1:3:4"},
			want:  want{id: 3, tick: 2 * time.Second, clientAddr: "127.0.0.1:2181", minS: 4 * time.Second, maxS: 40 * time.Second, servers: 2, words: []string{"srvr"}},
		},
		{name: "unknown setting", cfg: "dataDir=DATADIR\ntickTme=2000\n", err: "zoo.cfg:2: tickTme: unknown setting"},
		{name: "bad tick", cfg: "dataDir=DATADIR\ntickTime=abc\n", err: `tickTime: want a positive number of milliseconds`},
		{name: "bad port", cfg: "dataDir=DATADIR\nclientPort=70000\n", err: `clientPort: want a port 1..65535, got "70000"`},
		{name: "bad server line", cfg: "dataDir=DATADIR\nserver.1=host:2888\n", err: "server.1: want host:quorumPort:electionPort"},
		{name: "bad server id", cfg: "dataDir=DATADIR\nserver.x=h:1:2\n", err: "server.x: want server.N"},
		{name: "missing myid", cfg: "dataDir=DATADIR\nserver.1=h:1:2\n", err: "myid: missing"},
		{name: "myid not listed", cfg: "dataDir=DATADIR\nserver.1=h:1:2\n", myid: "7", err: "myid: 7 has no server.7 line"},
		{name: "bad myid file", cfg: "dataDir=DATADIR\n", myid: "one", err: `myid: want a positive integer, got "one"`},
		{name: "min over max", cfg: "dataDir=DATADIR\nminSessionTimeout=9000\nmaxSessionTimeout=4000\n", err: "minSessionTimeout (9000 ms) > maxSessionTimeout (4000 ms)"},
		{name: "no dataDir", cfg: "tickTime=2000\n", err: "dataDir: required"},
		{name: "observer", cfg: "dataDir=DATADIR\nserver.1=h:1:2:observer\n", myid: "1", err: "observers are not supported"},
		{name: "bad flag value", cfg: "dataDir=DATADIR\n", flags: []string{"--sync-limit", "0"}, err: "--sync-limit: want a positive integer"},
		{name: "bad 4lw", cfg: "dataDir=DATADIR\n4lw.commands.whitelist=ruok,boom\n", err: `unknown command "boom"`},
		{name: "ttl nodes need small ids", cfg: "dataDir=DATADIR\nextendedTypesEnabled=true\nserver.255=h:1:2\n", myid: "255", err: "member ids must be at most 254"},
		{name: "jute maxbuffer hex", cfg: "dataDir=DATADIR\njute.maxbuffer=0x10000\n", want: want{id: 1, tick: 2 * time.Second, clientAddr: "127.0.0.1:2181", minS: 4 * time.Second, maxS: 40 * time.Second, words: []string{"srvr"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.myid != "" {
				if err := os.WriteFile(filepath.Join(dir, "myid"), []byte(tt.myid), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var args []string
			if tt.cfg != "" {
				args = append(args, "--config", writeCfg(t, dir, strings.ReplaceAll(tt.cfg, "DATADIR", dir)))
			}
			for _, f := range tt.flags {
				args = append(args, strings.ReplaceAll(f, "DATADIR", dir))
			}
			c, ignored, err := LoadConfig(args, io.Discard)
			if err == nil {
				err = c.Validate()
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("args %q cfg %q: got error %v, want one containing %q", args, tt.cfg, err, tt.err)
				}
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("error %v is not ErrConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("args %q: unexpected error %v", args, err)
			}
			w := tt.want
			if w.logDir == "" {
				w.logDir = dir
			}
			if c.ID != w.id || c.TickTime != w.tick || c.ClientAddr() != w.clientAddr || c.MinSession() != w.minS ||
				c.MaxSession() != w.maxS || len(c.Servers) != w.servers || c.LogDir() != w.logDir ||
				!slices.Equal(ignored, w.ignored) || !slices.Equal(c.FourLetterWords, w.words) {
				t.Fatalf("got id=%d tick=%v client=%s min=%v max=%v servers=%d logdir=%s ignored=%q words=%q\nwant %+v",
					c.ID, c.TickTime, c.ClientAddr(), c.MinSession(), c.MaxSession(), len(c.Servers), c.LogDir(), ignored, c.FourLetterWords, w)
			}
		})
	}
}

func TestParseMember(t *testing.T) {
	tests := []struct {
		in   string
		want Member
		err  bool
	}{
		{"10.0.0.1:2888:3888", Member{ID: 1, Host: "10.0.0.1", QuorumPort: 2888, ElectionPort: 3888}, false},
		{"h:1:2:participant;0.0.0.0:2181", Member{ID: 1, Host: "h", QuorumPort: 1, ElectionPort: 2, ClientAddr: "0.0.0.0:2181"}, false},
		{"h:1:2;2181", Member{ID: 1, Host: "h", QuorumPort: 1, ElectionPort: 2, ClientAddr: "0.0.0.0:2181"}, false},
		{"h:1:2:leader", Member{}, true},
		{"h:0:2", Member{}, true},
		{":1:2", Member{}, true},
		{"h:1:2;x", Member{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseMember(1, tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("parseMember(%q) error %v, want error %v", tt.in, err, tt.err)
			}
			if !tt.err && got != tt.want {
				t.Fatalf("parseMember(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestFourLetterWordAllowed(t *testing.T) {
	c := DefaultConfig()
	if !c.FourLetterWordAllowed("srvr") || c.FourLetterWordAllowed("ruok") {
		t.Fatalf("default whitelist %q: srvr must pass, ruok must not", c.FourLetterWords)
	}
	c.FourLetterWords = []string{"*"}
	for _, w := range FourLetterWordsImplemented {
		if !c.FourLetterWordAllowed(w) {
			t.Fatalf("* must allow %s", w)
		}
	}
	if c.FourLetterWordAllowed("dump") {
		t.Fatal("* must not allow an unimplemented command")
	}
}

func TestAdminAddress(t *testing.T) {
	tests := []struct {
		name  string
		cfg   string // DATADIR is replaced
		flags []string
		want  string // AdminListenAddr; "" = off
		err   string
	}{
		{name: "off by default", cfg: "dataDir=DATADIR\nzab.httpAddress=127.0.0.1:8080\n", want: ""},
		{name: "no host binds loopback", cfg: "dataDir=DATADIR\nzab.adminAddress=:7000\n", want: "127.0.0.1:7000"},
		{name: "explicit host", cfg: "dataDir=DATADIR\nzab.adminAddress=10.0.0.5:7000\n", want: "10.0.0.5:7000"},
		{name: "flag", cfg: "dataDir=DATADIR\n", flags: []string{"--admin-addr", ":7001"}, want: "127.0.0.1:7001"},
		{name: "not host:port", cfg: "dataDir=DATADIR\nzab.adminAddress=7000\n", err: `zab.adminAddress: want [host]:port`},
		{name: "client port", cfg: "dataDir=DATADIR\nclientPort=2181\nzab.adminAddress=:2181\n", err: "zab.adminAddress: :2181 is also the clientPort"},
		{name: "http address", cfg: "dataDir=DATADIR\nzab.httpAddress=0.0.0.0:8080\nzab.adminAddress=127.0.0.1:8080\n", err: "is also the zab.httpAddress"},
		{name: "quorum port", cfg: "dataDir=DATADIR\nserver.1=127.0.0.1:2888:3888\nzab.adminAddress=:2888\n", err: "is also the server.1 quorum port"},
		{name: "election port", cfg: "dataDir=DATADIR\nserver.1=127.0.0.1:2888:3888\nzab.adminAddress=:3888\n", err: "is also the server.1 election port"},
		{name: "same port other host", cfg: "dataDir=DATADIR\nclientPortAddress=127.0.0.2\nzab.adminAddress=127.0.0.3:2181\n", want: "127.0.0.3:2181"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "myid"), []byte("1"), 0o644)
			args := []string{"--config", writeCfg(t, dir, strings.ReplaceAll(tt.cfg, "DATADIR", dir))}
			c, _, err := LoadConfig(append(args, tt.flags...), io.Discard)
			if err == nil {
				err = c.Validate()
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrConfig) {
					t.Fatalf("got %v, want an ErrConfig containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.AdminListenAddr(); got != tt.want {
				t.Fatalf("AdminListenAddr() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSecuritySettingsFailClosed: a setting that asks for protection zab
// does not give (TLS between members, SASL, enforced authentication,
// revocation checks) stops it with an error naming the setting and what to
// do; explicit "off" values are accepted, the client TLS settings zab
// implements are honoured (TestTLSZooCfg has their values).
func TestSecuritySettingsFailClosed(t *testing.T) {
	tests := []struct {
		line string
		err  string // "" = accepted (ignored with the warning), "-" = honoured
	}{
		{"zookeeper.secureClientPort=2281", "zookeeper.secureClientPort: ZooKeeper does not read this name; the zoo.cfg key is secureClientPort"},
		{"zookeeper.secureClientPortAddress=0.0.0.0", "zookeeper.secureClientPortAddress: ZooKeeper does not read this name"},
		{"ssl.quorum.keyStore.location=/k.jks", "ssl.quorum.keyStore.location: TLS between members is not supported by zab yet (zab serves TLS to clients only, on secureClientPort); remove the ssl.quorum.* settings and keep the quorum and election ports on a network only the members reach"},
		{"zookeeper.ssl.quorum.clientAuth=need", "zookeeper.ssl.quorum.clientAuth: TLS between members is not supported"},
		{"ssl.quorum.hostnameVerification=false", ""},
		{"ssl.crl=true", "ssl.crl=true: checking client certificates against revocation lists is not supported by zab yet"},
		{"ssl.ocsp=true", "ssl.ocsp=true: checking client certificates with OCSP is not supported"},
		{"ssl.ocsp=false", ""},
		{"ssl.authProvider=x509", "ssl.authProvider: this TLS setting is not supported by zab yet"},
		{"zookeeper.ssl.context.supplier.class=com.example.Supplier", "zookeeper.ssl.context.supplier.class: this TLS setting is not supported"},
		{"ssl.sslProvider=OPENSSL", ""},
		{"ssl.hostnameVerification=false", "-"},
		{"ssl.clientAuth=none", "-"},
		{"zookeeper.ssl.protocol=TLSv1.3", "-"},
		{"ssl.clientAuth=sometimes", `ssl.clientAuth: want none, want or need, got "sometimes"`},
		{"ssl.hostnameVerification=maybe", `ssl.hostnameVerification: want true or false, got "maybe"`},
		{"sslQuorum=true", "sslQuorum=true: TLS between members is not supported by zab yet (keep the quorum and election ports on a network only the members reach); remove it or set it to false"},
		{"zookeeper.sslQuorum=true", "zookeeper.sslQuorum=true: TLS between members is not supported"},
		{"sslQuorum=false", ""},
		{"portUnification=true", "portUnification=true: TLS and plaintext on one client port is not supported by zab yet (serve TLS on secureClientPort)"},
		{"portUnification=false", ""},
		{"authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider", "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider: that authentication provider is not supported by zab yet (zab has the digest and ip schemes only)"},
		{"authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider", "authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider: that authentication provider is not supported"},
		{"zookeeper.authProvider.2=com.example.Custom", "zookeeper.authProvider.2=com.example.Custom: that authentication provider is not supported"},
		{"authProvider.1=org.apache.zookeeper.server.auth.DigestAuthenticationProvider", ""},
		{"authProvider.2=org.apache.zookeeper.server.auth.IPAuthenticationProvider", ""},
		{"quorum.auth.enableSasl=true", "quorum.auth.enableSasl=true: SASL authentication between members is not supported by zab yet; remove it or set it to false"},
		{"quorum.auth.enableSasl=false", ""},
		{"quorum.auth.learnerRequireSasl=true", "quorum.auth.learnerRequireSasl=true: SASL authentication between members is not supported"},
		{"quorum.auth.learnerRequireSasl=false", ""},
		{"quorum.auth.serverRequireSasl=true", "quorum.auth.serverRequireSasl=true: SASL authentication between members is not supported"},
		{"quorum.auth.serverRequireSasl=FALSE", ""},
		{"quorum.auth.enableSasl=yes", `quorum.auth.enableSasl: want true or false, got "yes"`},
		{"sessionRequireClientSASLAuth=true", "sessionRequireClientSASLAuth=true: SASL client authentication is not supported"},
		{"zookeeper.sessionRequireClientSASLAuth=true", "zookeeper.sessionRequireClientSASLAuth=true: SASL client authentication is not supported"},
		{"zookeeper.sessionRequireClientSASLAuth=false", ""},
		{"enforce.auth.enabled=true", "enforce.auth.enabled=true: refusing sessions without an authenticated scheme (enforce.auth.schemes) is not supported by zab yet; remove it or set it to false, or run ZooKeeper"},
		{"zookeeper.enforce.auth.enabled=true", "zookeeper.enforce.auth.enabled=true: refusing sessions"},
		{"enforce.auth.enabled=false", ""},
		{"enforce.auth.schemes=digest", ""},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			dir := t.TempDir()
			p := writeCfg(t, dir, "dataDir="+dir+"\n"+tt.line+"\n")
			c, ignored, err := LoadConfig([]string{"--config", p}, io.Discard)
			if err == nil {
				err = c.Validate()
			}
			if tt.err == "-" {
				if err != nil || len(ignored) != 0 {
					t.Fatalf("got error %v, ignored %q; want it honoured", err, ignored)
				}
				return
			}
			if tt.err == "" {
				// An off value asks for what zab does: accepted; an inert
				// setting is accepted and named in the start-up log line.
				key, _ := splitProperty(tt.line)
				zs := lookupZooKeeperSetting(key)
				if err != nil || zs == nil || slices.Contains(ignored, key) != (zs.Status == Inert) {
					t.Fatalf("got error %v, ignored %q (table: %+v); want it accepted, listed only if inert", err, ignored, zs)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "zoo.cfg:2:") {
				t.Fatalf("got %v, want an ErrConfig at zoo.cfg:2 containing %q", err, tt.err)
			}
		})
	}
}

// TestDynamicConfigFile: zab starts from a ZooKeeper 3.5+ layout, zoo.cfg
// naming a dynamic file with the server.N lines (version from the file's
// name), and refuses what ZooKeeper refuses there or what zab cannot do
// (reconfigEnabled=true, an unfinished reconfiguration, weights).
func TestDynamicConfigFile(t *testing.T) {
	const members = "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\nserver.2=127.0.0.2:2888:3888\nserver.3=127.0.0.3:2888:3888:participant\n"
	load := func(t *testing.T, cfg, dynName, dyn string, extra ...string) (Config, error) {
		t.Helper()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "myid"), []byte("1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		dynPath := filepath.Join(dir, dynName)
		if err := os.WriteFile(dynPath, []byte(dyn), 0o644); err != nil {
			t.Fatal(err)
		}
		body := strings.NewReplacer("DATADIR", dir, "DYN", dynPath).Replace(cfg)
		p := writeCfg(t, dir, body)
		for _, e := range extra {
			if err := os.WriteFile(p+e, []byte(members), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		c, _, err := LoadConfig([]string{"--config", p}, io.Discard)
		if err == nil {
			err = c.Validate()
		}
		return c, err
	}
	const base = "tickTime=2000\ninitLimit=5\nsyncLimit=2\nreconfigEnabled=false\nstandaloneEnabled=false\ndataDir=DATADIR\ndynamicConfigFile=DYN\n"
	c, err := load(t, base, "zoo.cfg.dynamic.100000000", members)
	if err != nil {
		t.Fatal(err)
	}
	// As ZooKeeper 3.8 prints it in /zookeeper/config (checked against a
	// live ensemble): the client address only where the server line has one.
	want := "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\nserver.2=127.0.0.2:2888:3888:participant\nserver.3=127.0.0.3:2888:3888:participant\nversion=100000000"
	if len(c.Servers) != 3 || c.ConfigVersion != 0x100000000 || c.QuorumConfig() != want || c.ClientAddr() != "127.0.0.1:2181" {
		t.Fatalf("servers %d version %x client %s config\n%s\nwant\n%s", len(c.Servers), c.ConfigVersion, c.ClientAddr(), c.QuorumConfig(), want)
	}
	if c, err := load(t, base, "zoo.cfg.dynamic", members); err != nil || c.ConfigVersion != 0 {
		t.Fatalf("no version suffix: %v, version %x; want version 0", err, c.ConfigVersion)
	}
	for _, tt := range []struct {
		name, cfg, dynName, dyn string
		extra                   []string
		err                     string
	}{
		{"server lines in zoo.cfg too", base + "server.1=127.0.0.1:2888:3888\n", "zoo.cfg.dynamic.1", members, nil, "must be in the dynamic config file"},
		{"version inside", base, "zoo.cfg.dynamic.1", members + "version=1\n", nil, "must not hold its version"},
		{"other keys inside", base, "zoo.cfg.dynamic.1", members + "tickTime=1\n", nil, "holds only server.N lines"},
		{"missing file", strings.Replace(base, "DYN", "DYN.gone", 1), "zoo.cfg.dynamic.1", members, nil, "dynamicConfigFile: open"},
		{"unfinished reconfig", base, "zoo.cfg.dynamic.1", members, []string{".dynamic.next"}, "reconfiguration was not finished"},
		{"weights", base, "zoo.cfg.dynamic.1", members + "weight.1=2\n", nil, "hierarchical quorums"},
		{"groups in zoo.cfg", base + "group.1=1:2:3\n", "zoo.cfg.dynamic.1", members, nil, "hierarchical quorums"},
		{"reconfig enabled", strings.Replace(base, "reconfigEnabled=false", "reconfigEnabled=true", 1), "zoo.cfg.dynamic.1", members, nil, "reconfigEnabled=true: dynamic reconfiguration is not supported"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.cfg, tt.dynName, tt.dyn, tt.extra...)
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrConfig) {
				t.Fatalf("got %v, want an ErrConfig containing %q", err, tt.err)
			}
		})
	}
}
