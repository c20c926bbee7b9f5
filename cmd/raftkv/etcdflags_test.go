package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var helpFlag = regexp.MustCompile(`(?m)^\s+--([a-z0-9-]+)`)

// helpFlags lists the flags of an `etcd --help` text.
func helpFlags(help []byte) []string {
	var out []string
	for _, m := range helpFlag.FindAllSubmatch(help, -1) {
		if n := string(m[1]); !slices.Contains(out, n) && n != "help" {
			out = append(out, n)
		}
	}
	return out
}

// TestEtcdFlagsKnown: every flag etcd 3.4's --help lists (the installed
// binary's when there is one, and the checked-in copy) is registered and in
// etcdFlags, and each entry of etcdFlags is registered.
func TestEtcdFlagsKnown(t *testing.T) {
	sources := map[string][]byte{}
	b, err := os.ReadFile(filepath.Join("testdata", "etcd-3.4.23-help.txt"))
	if err != nil {
		t.Fatal(err)
	}
	sources["testdata/etcd-3.4.23-help.txt"] = b
	if path, err := exec.LookPath("etcd"); err == nil {
		out, _ := exec.Command(path, "--help").CombinedOutput()
		if bytes.Contains(out, []byte("etcd Version: 3.4")) || bytes.Contains(out, []byte("--enable-v2")) {
			sources[path+" --help"] = out
		}
	}
	fs, _ := newFlagSet()
	for src, help := range sources {
		names := helpFlags(help)
		if len(names) < 75 {
			t.Fatalf("%s: found only %d flags; the help format changed?", src, len(names))
		}
		for _, name := range names {
			t.Run(name, func(t *testing.T) {
				if fs.Lookup(name) == nil {
					t.Errorf("%s lists --%s; raftkv does not register it", src, name)
				}
				if _, ok := lookupEtcdFlag(name); !ok {
					t.Errorf("%s lists --%s; etcdFlags has no entry for it", src, name)
				}
			})
		}
	}
	for _, f := range etcdFlags {
		if fs.Lookup(f.name) == nil {
			t.Errorf("etcdFlags has --%s; newFlagSet does not register it", f.name)
		}
		if f.note == "" && f.support != honoured {
			t.Errorf("--%s is %v without a reason", f.name, f.support)
		}
	}
	fs.VisitAll(func(fl *flag.Flag) {
		if _, ok := lookupEtcdFlag(fl.Name); !ok && fl.Name != "admin-listen-url" && !slices.Contains(ignoredEtcdFlags, fl.Name) {
			t.Errorf("--%s is registered but is neither in etcdFlags nor raftkv's own", fl.Name)
		}
	})
}

// TestEtcdFlagTestsExist: the test each entry names exists, so the
// compatibility table cannot point at nothing.
func TestEtcdFlagTestsExist(t *testing.T) {
	var src []byte
	for _, glob := range []string{"*_test.go", "../../engines/raftkv/*_test.go", "../../engines/raftkv/*/*_test.go"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			src = append(src, b...)
		}
	}
	for _, f := range etcdFlags {
		if f.test == "" {
			t.Errorf("--%s names no test", f.name)
			continue
		}
		if !bytes.Contains(src, []byte("func "+f.test+"(")) {
			t.Errorf("--%s names %s, which does not exist", f.name, f.test)
		}
	}
}

// refusedValue picks a value the flag accepts that is not its allowed one.
func refusedValue(t *testing.T, fs *flag.FlagSet, f etcdFlag) string {
	t.Helper()
	for _, v := range []string{"true", "exit", "on", "extensive", "7", "3s", "/etc/etcd/x.pem"} {
		if v == f.allowed {
			continue
		}
		if err := fs.Set(f.name, v); err == nil {
			return v
		}
	}
	t.Fatalf("no refused value found for --%s", f.name)
	return ""
}

// TestRefusedFlags: each flag raftkv leaves out stops it, naming the flag
// and the reason, when set to ask for it; left at its allowed value (etcd's
// default) it starts. The same holds through ETCD_* variables.
func TestRefusedFlags(t *testing.T) {
	base := []string{"--data-dir", t.TempDir()}
	for _, f := range etcdFlags {
		if f.support != refused {
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			fs, _ := newFlagSet()
			v := refusedValue(t, fs, f)
			_, err := parseFlagsEnv(append(slices.Clone(base), "--"+f.name+"="+v), nil)
			if err == nil || !strings.Contains(err.Error(), "--"+f.name+"="+v+" is not supported by raftkv: "+f.note) {
				t.Fatalf("--%s=%s: got %v, want the flag named with its reason", f.name, v, err)
			}
			_, err = parseFlagsEnv(base, []string{flagToEnv(f.name) + "=" + v})
			if err == nil || !strings.Contains(err.Error(), "--"+f.name+"=") {
				t.Fatalf("%s=%s: got %v, want the flag named", flagToEnv(f.name), v, err)
			}
			if _, err := parseFlagsEnv(append(slices.Clone(base), "--"+f.name+"="+f.allowed), nil); err != nil {
				t.Fatalf("--%s=%s (etcd's default): %v", f.name, f.allowed, err)
			}
		})
	}
	// --discovery-fallback=proxy and --proxy=off only repeat etcd's defaults.
	if _, err := parseFlagsEnv(append(slices.Clone(base), "--proxy=off", "--discovery-fallback=proxy", "--enable-v2=false", "--metrics=basic", "--cors=*"), nil); err != nil {
		t.Fatal(err)
	}
}

// TestParseEtcdCommandLine: the flags land in the member's Config with
// etcd's units.
func TestParseEtcdCommandLine(t *testing.T) {
	dir := t.TempDir()
	o, err := parseFlagsEnv([]string{
		"--name", "m1", "--data-dir", filepath.Join(dir, "d"), "--wal-dir", filepath.Join(dir, "w"),
		"--heartbeat-interval", "50", "--election-timeout", "600", "--initial-election-tick-advance=false",
		"--max-snapshots", "3", "--max-wals", "2", "--backend-batch-interval", "50ms",
		"--max-txn-ops", "64", "--max-concurrent-streams", "100",
		"--grpc-keepalive-min-time", "2s", "--grpc-keepalive-interval", "1m", "--grpc-keepalive-timeout", "3s",
		"--pre-vote", "--strict-reconfig-check=false",
		"--auto-compaction-mode", "periodic", "--auto-compaction-retention", "2",
		"--cipher-suites", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
		"--enable-pprof", "--experimental-backend-bbolt-freelist-type", "map",
		"--experimental-watch-progress-notify-interval", "30s", "--debug", "--log-output", "stdout",
		"--proxy-failure-wait", "1", "--proxy-refresh-interval", "2", "--proxy-dial-timeout", "3",
		"--proxy-write-timeout", "4", "--proxy-read-timeout", "5",
		"--listen-client-urls", "http://127.0.0.1:1", "--advertise-client-urls", "http://127.0.0.1:1",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := o.member
	checks := []struct {
		what      string
		got, want any
	}{
		{"WALDir", c.WALDir, filepath.Join(dir, "w")},
		{"TickInterval", c.TickInterval, 50 * time.Millisecond},
		{"ElectionTicks", c.ElectionTicks, 12},
		{"InitialElectionTickAdvance", c.InitialElectionTickAdvance, false},
		{"MaxWALs", c.MaxWALs, 2},
		{"BatchInterval", c.BatchInterval, 50 * time.Millisecond},
		{"MaxTxnOps", c.MaxTxnOps, 64},
		{"MaxConcurrentStreams", c.MaxConcurrentStreams, uint32(100)},
		{"GRPCKeepaliveMinTime", c.GRPCKeepaliveMinTime, 2 * time.Second},
		{"GRPCKeepaliveInterval", c.GRPCKeepaliveInterval, time.Minute},
		{"GRPCKeepaliveTimeout", c.GRPCKeepaliveTimeout, 3 * time.Second},
		{"PreVote", c.PreVote, true},
		{"StrictReconfigCheck", c.StrictReconfigCheck, false},
		{"AutoCompactionRetention", c.AutoCompactionRetention, 2 * time.Hour},
		{"CipherSuites", len(c.CipherSuites), 2},
		{"EnablePprof", c.EnablePprof, true},
		{"BoltFreelistType", c.BoltFreelistType, "map"},
		{"WatchProgressNotifyInterval", c.WatchProgressNotifyInterval, 30 * time.Second},
		{"log level (--debug)", o.logLevel.Level().String(), "DEBUG"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.what, ck.got, ck.want)
		}
	}
	// etcd's defaults: pre-vote off, strict reconfig on, 5 WALs.
	o, err = parseFlagsEnv([]string{"--data-dir", dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := o.member; c.PreVote || !c.StrictReconfigCheck || c.MaxWALs != 5 || c.AutoCompactionRetention != 0 || c.MaxTxnOps != 128 {
		t.Errorf("defaults: PreVote %v StrictReconfigCheck %v MaxWALs %d retention %v MaxTxnOps %d; want etcd's false, true, 5, 0, 128",
			c.PreVote, c.StrictReconfigCheck, c.MaxWALs, c.AutoCompactionRetention, c.MaxTxnOps)
	}
	for _, bad := range [][]string{
		{"--auto-compaction-mode", "hourly"},
		{"--auto-compaction-retention", "soon"},
		{"--cipher-suites", "TLS_NOPE"},
		{"--experimental-backend-bbolt-freelist-type", "list"},
		{"--log-level", "loud"},
		{"--logger", "syslog"},
		{"--log-package-levels", "etcdserver"},
	} {
		if _, err := parseFlagsEnv(append([]string{"--data-dir", dir}, bad...), nil); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%v: got %v, want an error naming %s", bad, err, bad[0])
		}
	}
	// --version prints and exits (run as a process: it calls os.Exit).
	out, err := exec.Command(binPath, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "etcd API Version: 3.4") {
		t.Errorf("raftkv --version: %v %q", err, out)
	}
}

func TestParseRetention(t *testing.T) {
	for _, tt := range []struct {
		mode, s string
		d       time.Duration
		n       int64
	}{
		{"periodic", "1", time.Hour, 0},
		{"periodic", "0", 0, 0},
		{"periodic", "30m", 30 * time.Minute, 0},
		{"periodic", "5s", 5 * time.Second, 0},
		{"revision", "1000", 0, 1000},
	} {
		d, n, err := parseRetention(tt.mode, tt.s)
		if err != nil || d != tt.d || n != tt.n {
			t.Errorf("parseRetention(%q, %q) = %v, %d, %v; want %v, %d", tt.mode, tt.s, d, n, err, tt.d, tt.n)
		}
	}
}

// TestEnvVars: ETCD_* variables set the flags the command line leaves
// unset, each logged as etcd logs it; a variable shadowed by a command-line
// flag stops the start with etcd's message; an unknown ETCD_ variable is a
// warning.
func TestEnvVars(t *testing.T) {
	dir := t.TempDir()
	logf := filepath.Join(dir, "log")
	o, err := parseFlagsEnv([]string{"--log-outputs", logf}, []string{
		"ETCD_NAME=envname", "ETCD_DATA_DIR=" + filepath.Join(dir, "d"), "ETCD_PRE_VOTE=true",
		"ETCD_AUTO_COMPACTION_RETENTION=3", "ETCD_QUOTA_BACKEND_BYTES=1048576", "ETCD_UNKNOWN_THING=1",
		"ETCD_INITIAL_ADVERTISE_PEER_URLS=http://127.0.0.1:2390", "PATH=/bin",
	})
	if err != nil {
		t.Fatal(err)
	}
	c := o.member
	if c.Name != "envname" || c.DataDir != filepath.Join(dir, "d") || !c.PreVote || c.AutoCompactionRetention != 3*time.Hour || c.QuotaBackendBytes != 1<<20 {
		t.Fatalf("env not applied: name %q dir %q prevote %v retention %v quota %d", c.Name, c.DataDir, c.PreVote, c.AutoCompactionRetention, c.QuotaBackendBytes)
	}
	if c.InitialCluster[0].Name != "envname" || c.InitialCluster[0].PeerURLs[0] != "http://127.0.0.1:2390" {
		t.Fatalf("initial cluster from env: %+v", c.InitialCluster)
	}
	b, _ := os.ReadFile(logf)
	for _, want := range []string{
		"pkg/flags: recognized and used environment variable ETCD_NAME=envname",
		"pkg/flags: recognized and used environment variable ETCD_PRE_VOTE=true",
		"W | pkg/flags: unrecognized environment variable ETCD_UNKNOWN_THING=1",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("log lacks %q:\n%s", want, b)
		}
	}
	_, err = parseFlagsEnv([]string{"--name", "flagname", "--data-dir", dir}, []string{"ETCD_NAME=envname"})
	if err == nil || err.Error() != `conflicting environment variable "ETCD_NAME" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)` {
		t.Fatalf("flag and env both set: got %v, want etcd's conflict error", err)
	}
	_, err = parseFlagsEnv([]string{"--data-dir", dir}, []string{"ETCD_HEARTBEAT_INTERVAL=often"})
	if err == nil || !strings.Contains(err.Error(), `invalid value "often" for ETCD_HEARTBEAT_INTERVAL`) {
		t.Fatalf("bad env value: got %v", err)
	}
}

// TestConfigFileIgnoresFlagsAndEnv: with --config-file (or
// ETCD_CONFIG_FILE) the file alone configures the member, as etcd 3.4, and
// the log says so in etcd's words.
func TestConfigFileIgnoresFlagsAndEnv(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "etcd.yml")
	logf := filepath.Join(dir, "log")
	yml := "name: fromfile\ndata-dir: " + filepath.Join(dir, "d") + "\nlog-outputs: [" + logf + "]\n" +
		"heartbeat-interval: 50\nelection-timeout: 500\nbackend-batch-interval: 20000000\n" +
		"auto-compaction-mode: revision\nauto-compaction-retention: \"100\"\n" +
		"peer-transport-security:\n  client-cert-auth: false\n  auto-tls: true\nno-such-key: 1\n"
	if err := os.WriteFile(cfgPath, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args, env []string
	}{
		{[]string{"--config-file", cfgPath, "--name", "fromflag", "--pre-vote"}, []string{"ETCD_NAME=fromenv"}},
		{nil, []string{"ETCD_CONFIG_FILE=" + cfgPath, "ETCD_NAME=fromenv"}},
	} {
		o, err := parseFlagsEnv(tc.args, tc.env)
		if err != nil {
			t.Fatal(err)
		}
		c := o.member
		if c.Name != "fromfile" || c.PreVote || c.TickInterval != 50*time.Millisecond || c.ElectionTicks != 10 ||
			c.BatchInterval != 20*time.Millisecond || c.AutoCompactionMode != "revision" || c.AutoCompactionRevisions != 100 || !c.PeerTLS.AutoTLS {
			t.Fatalf("%v %v: config %+v", tc.args, tc.env, c)
		}
	}
	b, _ := os.ReadFile(logf)
	if !strings.Contains(string(b), `etcdmain: Loading server configuration from "`+cfgPath+`". Other configuration command line flags and environment variables will be ignored if provided.`) {
		t.Errorf("log lacks etcd's config-file line:\n%s", b)
	}
	if !strings.Contains(string(b), "key=no-such-key") {
		t.Errorf("log does not name the unknown key:\n%s", b)
	}
	if err := os.WriteFile(cfgPath, []byte("heartbeat-interval: often\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := parseFlagsEnv([]string{"--config-file", cfgPath}, nil); err == nil || !strings.Contains(err.Error(), "heartbeat-interval") {
		t.Fatalf("bad value in file: got %v", err)
	}
}
