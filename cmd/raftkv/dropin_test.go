package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"coordlab/proctest"
	"coordlab/testpki"
)

// waitOutput waits until the member's output contains want.
func waitOutput(t *testing.T, m *member, want string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !strings.Contains(m.log(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the output within %v", want, limit)
		}
		if m.proc != nil {
			select {
			case <-m.proc.Done():
				t.Fatalf("raftkv exited (%d) before printing %q", m.proc.ExitCode(), want)
			default:
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func setYAML(t *testing.T, doc []byte, key, value string) []byte {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + `:.*$`)
	if !re.Match(doc) {
		t.Fatalf("sample has no key %q", key)
	}
	return re.ReplaceAll(doc, []byte(key+": "+value))
}

// TestSampleConfigFile starts raftkv from etcd 3.4's own etcd.conf.yml.sample.
// As shipped it asks for the v2 API (enable-v2: true), which raftkv refuses
// by name; with that line set to false (and the URLs and data dir moved to
// this test's), it starts and serves, with the sample's settings.
func TestSampleConfigFile(t *testing.T) {
	sample, err := os.ReadFile(filepath.Join("testdata", "etcd.conf.yml.sample"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	asShipped := filepath.Join(dir, "as-shipped.yml")
	if err := os.WriteFile(asShipped, sample, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binPath, "--config-file", asShipped)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--enable-v2=true is not supported by raftkv: raftkv serves etcd's v3 API only") {
		t.Fatalf("raftkv --config-file <etcd's sample>: %v %q, want the v2 API refused by name", err, out)
	}

	cu := fmt.Sprintf("http://127.0.0.1:%d", proctest.FreePort(t))
	pu := fmt.Sprintf("http://127.0.0.1:%d", proctest.FreePort(t))
	doc := sample
	for k, v := range map[string]string{
		"name": "'sample'", "data-dir": filepath.Join(dir, "data"), "enable-v2": "false",
		"listen-client-urls": cu, "advertise-client-urls": cu,
		"listen-peer-urls": pu, "initial-advertise-peer-urls": pu,
		"initial-cluster": "sample=" + pu,
	} {
		doc = setYAML(t, doc, k, v)
	}
	cfg := filepath.Join(dir, "etcd.yml")
	if err := os.WriteFile(cfg, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	// Flags next to --config-file are ignored, as etcd 3.4 ignores them.
	m := &member{client: cu, args: []string{"--config-file", cfg, "--name", "ignored", "--pre-vote"}}
	m.start(t)
	t.Cleanup(func() {
		m.kill()
		if t.Failed() {
			t.Logf("output:\n%s", m.log())
		}
	})
	waitOutput(t, m, `"msg":"ready to serve client requests"`, 15*time.Second) // the sample says logger: zap
	cli := newClient(t, cu)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "from", "sample"); err != nil {
		t.Fatal(err)
	}
	ml, err := cli.MemberList(ctx)
	if err != nil || len(ml.Members) != 1 || ml.Members[0].Name != "sample" {
		t.Fatalf("member list %v %v, want the sample's name", ml, err)
	}
	// enable-pprof: true in the sample.
	resp, err := http.Get(cu + "/debug/pprof/")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /debug/pprof/ with the sample's enable-pprof: %v %v", resp, err)
	}
	resp.Body.Close()
	if !strings.Contains(m.log(), "Other configuration command line flags and environment variables will be ignored") &&
		!strings.Contains(m.log(), "loaded server configuration, other configuration command line flags and environment variables will be ignored if provided") {
		t.Error("no line saying the command line is ignored")
	}
}

// TestStartFromEnv starts a member configured only through ETCD_*
// variables, as a systemd unit with EnvironmentFile= does.
func TestStartFromEnv(t *testing.T) {
	cu := fmt.Sprintf("http://127.0.0.1:%d", proctest.FreePort(t))
	pu := fmt.Sprintf("http://127.0.0.1:%d", proctest.FreePort(t))
	env := append(os.Environ(),
		"ETCD_NAME=envmember", "ETCD_DATA_DIR="+filepath.Join(t.TempDir(), "d"),
		"ETCD_LISTEN_CLIENT_URLS="+cu, "ETCD_ADVERTISE_CLIENT_URLS="+cu,
		"ETCD_LISTEN_PEER_URLS="+pu, "ETCD_INITIAL_ADVERTISE_PEER_URLS="+pu,
		"ETCD_INITIAL_CLUSTER=envmember="+pu, "ETCD_INITIAL_CLUSTER_STATE=new",
		"ETCD_INITIAL_CLUSTER_TOKEN=env-test", "ETCD_HEARTBEAT_INTERVAL=50", "ETCD_ELECTION_TIMEOUT=500")
	p := proctest.StartWith(t, binPath, nil, proctest.Options{Env: env})
	m := &member{client: cu, proc: p}
	t.Cleanup(func() {
		m.kill()
		if t.Failed() {
			t.Logf("output:\n%s", m.log())
		}
	})
	waitOutput(t, m, "embed: ready to serve client requests", 15*time.Second)
	cli := newClient(t, cu)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ml, err := cli.MemberList(ctx)
	if err != nil || len(ml.Members) != 1 || ml.Members[0].Name != "envmember" {
		t.Fatalf("member list %v %v", ml, err)
	}
	if !strings.Contains(m.log(), "pkg/flags: recognized and used environment variable ETCD_NAME=envmember") {
		t.Error("no \"recognized and used environment variable\" line")
	}
}

func tlsClient(t *testing.T, ca *testpki.CA, pair testpki.Pair, endpoints ...string) *clientv3.Client {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(pair.CertFile, pair.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 3 * time.Second, Logger: zap.NewNop(),
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// TestSystemdCommandLine runs a three-member cluster from the command line
// a systemd unit or a Kubernetes static pod gives etcd: TLS with client
// certificates on the client and peer URLs, a plain metrics URL, periodic
// auto-compaction, a quota, both corruption checks, pre-vote, strict
// reconfiguration checks, keepalive and txn limits.
func TestSystemdCommandLine(t *testing.T) {
	base := t.TempDir()
	ca := testpki.NewCA(t, base, "ca")
	const n = 3
	var ic []string
	var cports, pports, mports []int
	for i := range n {
		cports = append(cports, proctest.FreePort(t))
		pports = append(pports, proctest.FreePort(t))
		mports = append(mports, proctest.FreePort(t))
		ic = append(ic, fmt.Sprintf("etcd-%d=https://127.0.0.1:%d", i, pports[i]))
	}
	var ms []*member
	var clients []string
	for i := range n {
		cu := fmt.Sprintf("https://127.0.0.1:%d", cports[i])
		pu := fmt.Sprintf("https://127.0.0.1:%d", pports[i])
		srv := ca.Issue(t, fmt.Sprintf("server%d", i))
		peer := ca.Issue(t, fmt.Sprintf("peer%d", i))
		m := &member{client: cu, args: []string{
			"--name=" + fmt.Sprintf("etcd-%d", i), "--data-dir=" + filepath.Join(base, fmt.Sprintf("etcd-%d", i)),
			"--advertise-client-urls=" + cu, "--listen-client-urls=" + cu,
			"--initial-advertise-peer-urls=" + pu, "--listen-peer-urls=" + pu,
			"--listen-metrics-urls=" + fmt.Sprintf("http://127.0.0.1:%d", mports[i]),
			"--initial-cluster=" + strings.Join(ic, ","), "--initial-cluster-state=new", "--initial-cluster-token=k8s-etcd",
			"--cert-file=" + srv.CertFile, "--key-file=" + srv.KeyFile, "--trusted-ca-file=" + ca.CertFile, "--client-cert-auth=true",
			"--peer-cert-file=" + peer.CertFile, "--peer-key-file=" + peer.KeyFile, "--peer-trusted-ca-file=" + ca.CertFile, "--peer-client-cert-auth=true",
			"--snapshot-count=10000", "--heartbeat-interval=100", "--election-timeout=1000",
			"--auto-compaction-mode=periodic", "--auto-compaction-retention=1s",
			"--quota-backend-bytes=8589934592", "--max-request-bytes=1572864", "--max-txn-ops=16",
			"--experimental-initial-corrupt-check=true", "--experimental-corrupt-check-time=2s",
			"--pre-vote=true", "--strict-reconfig-check=true",
			"--grpc-keepalive-min-time=5s", "--grpc-keepalive-interval=2h", "--grpc-keepalive-timeout=20s",
			"--logger=zap", "--log-outputs=stderr", "--log-level=info",
			"--experimental-watch-progress-notify-interval=5s",
			"--cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
		}}
		m.start(t)
		ms = append(ms, m)
		clients = append(clients, cu)
	}
	t.Cleanup(func() {
		for _, m := range ms {
			m.kill()
		}
		if t.Failed() {
			for i, m := range ms {
				t.Logf("member %d output:\n%s", i, m.log())
			}
		}
	})
	for _, m := range ms {
		waitOutput(t, m, `"msg":"ready to serve client requests"`, 20*time.Second)
	}
	cli := tlsClient(t, ca, ca.Issue(t, "client"), clients...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, err := cli.Put(ctx, "k", "v0")
	if err != nil {
		t.Fatal(err)
	}
	// --max-txn-ops 16: a txn of 17 puts is refused with etcd's error.
	var ops []clientv3.Op
	for i := range 17 {
		ops = append(ops, clientv3.OpPut(fmt.Sprintf("t%d", i), "v"))
	}
	if _, err := cli.Txn(ctx).Then(ops...).Commit(); !errors.Is(err, rpctypes.ErrTooManyOps) {
		t.Fatalf("txn of 17 ops with --max-txn-ops 16: %v, want %v", err, rpctypes.ErrTooManyOps)
	}
	if _, err := cli.Txn(ctx).Then(ops[:16]...).Commit(); err != nil {
		t.Fatalf("txn of 16 ops: %v", err)
	}
	// Periodic auto-compaction with a 1s retention: the first revision is
	// compacted away while writes go on.
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		if _, err := cli.Put(ctx, "k", fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
		_, err := cli.Get(ctx, "k", clientv3.WithRev(first.Header.Revision))
		if errors.Is(err, rpctypes.ErrCompacted) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("revision %d not compacted 20s into writes with --auto-compaction-retention=1s: %v", first.Header.Revision, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	logged := false
	for _, m := range ms {
		logged = logged || strings.Contains(m.log(), `"msg":"completed auto periodic compaction"`)
	}
	if !logged {
		t.Error(`no member logged etcd's "completed auto periodic compaction"`)
	}
	// The plain metrics URL serves /metrics and /health.
	for _, path := range []string{"/metrics", "/health"} {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", mports[0], path))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s on --listen-metrics-urls: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	// The client URL refuses a client without a certificate.
	noCert, err := clientv3.New(clientv3.Config{Endpoints: clients[:1], DialTimeout: 2 * time.Second, Logger: zap.NewNop(),
		TLS: &tls.Config{InsecureSkipVerify: true}})
	if err == nil {
		nctx, ncancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err = noCert.Get(nctx, "k")
		ncancel()
		noCert.Close()
	}
	if err == nil {
		t.Fatal("a client without a certificate was served with --client-cert-auth")
	}
	// Status names raftkv and the etcd API it speaks.
	st, err := cli.Status(ctx, clients[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(st.Version, "3.4.") || !strings.Contains(st.Version, "raftkv") {
		t.Errorf("status version %q, want etcd's 3.4 API version naming raftkv", st.Version)
	}
	// A restart passes the initial corruption check against its peers.
	ms[2].kill()
	ms[2].start(t)
	waitOutput(t, ms[2], `"msg":"initial corruption checking passed; no corruption"`, 20*time.Second)
	// Strict reconfiguration: with a member down, adding one is refused.
	ms[1].kill()
	deadline = time.Now().Add(20 * time.Second)
	for {
		actx, acancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := cli.MemberAdd(actx, []string{"https://127.0.0.1:1"})
		acancel()
		if errors.Is(err, rpctypes.ErrUnhealthy) {
			break
		}
		if err == nil || time.Now().After(deadline) {
			t.Fatalf("member add with a member down and --strict-reconfig-check: %v, want %v", err, rpctypes.ErrUnhealthy)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Every log line is etcd's zap JSON.
	for _, line := range strings.Split(strings.TrimSpace(ms[0].log()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		for _, k := range []string{"level", "ts", "msg"} {
			if _, ok := rec[k]; !ok {
				t.Fatalf("log line lacks %q: %q", k, line)
			}
		}
	}
}
