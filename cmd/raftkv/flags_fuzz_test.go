package main

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseFlags runs parseFlags on arbitrary argument lists (split at NUL):
// no panic, an error is one line, and options it accepts are ones a member
// can run with. Left out of the inputs on purpose: --help and --version
// (print and exit, as etcd), --log-outputs and --log-output (create the
// files they name) and --config-file (reads a file; TestConfigFile* cover
// it). The environment is empty: ETCD_* variables are TestEnvVars'.
func FuzzParseFlags(f *testing.F) {
	f.Add("--name\x00n1\x00--initial-cluster\x00n1=http://127.0.0.1:2380,n2=http://127.0.0.2:2380\x00--initial-advertise-peer-urls\x00http://127.0.0.1:2380")
	f.Add("--name=n2\x00--data-dir=d\x00--initial-cluster-state=existing\x00--listen-client-urls=http://0.0.0.0:2379,http://127.0.0.1:22379")
	f.Add("--heartbeat-interval\x00100\x00--election-timeout\x00499")
	f.Add("--heartbeat-interval\x003689348814741910324\x00--election-timeout\x0020")
	f.Add("--max-request-bytes\x0018446744073709551615")
	f.Add("--snapshot-count\x000\x00--backend-batch-interval\x00-1s")
	f.Add("--log-level\x00debug\x00--logger\x00capnslog\x00--enable-pprof")
	f.Add("--listen-peer-urls\x00https://127.0.0.1:2380")
	f.Add("--initial-cluster\x00=http://x:1")
	f.Add("--listen-metrics-urls\x00http://127.0.0.1:2381\x00stray")
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		for _, a := range args {
			if strings.Contains(a, "log-output") || strings.Contains(a, "config-file") {
				return
			}
			switch strings.SplitN(strings.TrimLeft(a, "-"), "=", 2)[0] {
			case "h", "help", "version":
				if strings.HasPrefix(a, "-") {
					return
				}
			}
		}
		o, err := parseFlagsEnv(args, nil)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		c := o.member
		if c.TickInterval <= 0 || c.TickInterval%time.Millisecond != 0 {
			t.Fatalf("accepted heartbeat interval %v", c.TickInterval)
		}
		if c.ElectionTicks < 5 {
			t.Fatalf("accepted %d election ticks (heartbeat %v)", c.ElectionTicks, c.TickInterval)
		}
		if et := c.TickInterval * time.Duration(c.ElectionTicks); et <= 0 || et > 50*time.Second {
			t.Fatalf("accepted election timeout %v", et)
		}
		if c.MaxRequestBytes < 0 {
			t.Fatalf("accepted max request bytes %d", c.MaxRequestBytes)
		}
		if c.BatchInterval < 0 {
			t.Fatalf("accepted batch interval %v", c.BatchInterval)
		}
		if len(c.PeerURLs) == 0 || len(c.ListenPeerURLs) == 0 || len(c.ListenClientURLs) == 0 || len(c.InitialCluster) == 0 {
			t.Fatalf("accepted options without URLs: %+v", o)
		}
		if o.logger == nil || o.logLevel == nil {
			t.Fatal("accepted options without a logger")
		}
	})
}
