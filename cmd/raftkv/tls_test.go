package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"coordlab/proctest"
	"coordlab/testpki"
)

// A 3-process cluster started with etcd's TLS flags (client and peer,
// both with certificate authentication): etcdctl with --cacert/--cert/--key
// puts through one member and gets through another, and refuses to work
// without a client certificate or with one from another CA.
func TestTLSFlagsWithEtcdctl(t *testing.T) {
	if _, err := exec.LookPath("etcdctl"); err != nil {
		t.Skip("etcdctl not installed")
	}
	base := t.TempDir()
	ca := testpki.NewCA(t, base, "ca")
	other := testpki.NewCA(t, base, "other")
	const n = 3
	var ic []string
	var cports, pports []int
	for i := range n {
		cports = append(cports, proctest.FreePort(t))
		pports = append(pports, proctest.FreePort(t))
		ic = append(ic, fmt.Sprintf("s%d=https://127.0.0.1:%d", i, pports[i]))
	}
	var ms []*member
	for i := range n {
		cu := fmt.Sprintf("https://127.0.0.1:%d", cports[i])
		pu := fmt.Sprintf("https://127.0.0.1:%d", pports[i])
		srv := ca.Issue(t, fmt.Sprintf("server%d", i))
		peer := ca.Issue(t, fmt.Sprintf("peer%d", i))
		m := &member{client: cu, args: []string{
			"--name", fmt.Sprintf("s%d", i), "--data-dir", filepath.Join(base, fmt.Sprintf("s%d", i)),
			"--listen-client-urls", cu, "--advertise-client-urls", cu,
			"--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu,
			"--initial-cluster", strings.Join(ic, ","), "--initial-cluster-token", "tls-test",
			"--heartbeat-interval", "50", "--election-timeout", "500", "--log-level", "warn",
			"--cert-file", srv.CertFile, "--key-file", srv.KeyFile, "--trusted-ca-file", ca.CertFile, "--client-cert-auth",
			"--peer-cert-file", peer.CertFile, "--peer-key-file", peer.KeyFile, "--peer-trusted-ca-file", ca.CertFile, "--peer-client-cert-auth",
		}}
		m.start(t)
		ms = append(ms, m)
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
	client := ca.Issue(t, "client")
	rogue := other.Issue(t, "rogue")
	creds := []string{"--cacert", ca.CertFile, "--cert", client.CertFile, "--key", client.KeyFile}

	// The cluster needs a leader before the put answers; retry until then.
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := etcdctl(t, ms[0].client, append(creds, "put", "greeting", "hello")...)
		if err == nil && strings.TrimSpace(out) == "OK" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcdctl put over TLS: %v: %s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	out, err := etcdctl(t, ms[2].client, append(creds, "get", "greeting")...)
	if err != nil || strings.TrimSpace(out) != "greeting\nhello" {
		t.Fatalf("etcdctl get over TLS through another member: %v: %q", err, out)
	}
	out, err = etcdctl(t, ms[1].client, append(creds, "endpoint", "health")...)
	if err != nil || !strings.Contains(out, "is healthy") {
		t.Fatalf("etcdctl endpoint health over TLS: %v: %q", err, out)
	}

	for _, c := range []struct {
		name string
		args []string
	}{
		{"no client certificate", []string{"--cacert", ca.CertFile}},
		{"a certificate from another CA", []string{"--cacert", ca.CertFile, "--cert", rogue.CertFile, "--key", rogue.KeyFile}},
	} {
		out, err := etcdctl(t, ms[0].client, append(c.args, "--command-timeout", "3s", "--dial-timeout", "2s", "get", "greeting")...)
		if err == nil {
			t.Errorf("etcdctl get with %s succeeded (%q), want it refused", c.name, out)
		}
	}
}

// https:// URLs without the certificate flags stop raftkv with etcd's
// message.
func TestTLSFlagsRequiredForHTTPS(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"client", []string{"--listen-client-urls", "https://127.0.0.1:0", "--advertise-client-urls", "https://127.0.0.1:0"},
			"TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:0 with HTTPS scheme"},
		{"peer", []string{"--listen-peer-urls", "https://127.0.0.1:0"},
			"TLS key/cert (--peer-cert-file, --peer-key-file) must be provided for peer url https://127.0.0.1:0 with HTTPS scheme"},
		{"client cert auth without a CA", []string{"--auto-tls", "--client-cert-auth"}, "--client-cert-auth needs --trusted-ca-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--data-dir", t.TempDir()}, tt.args...)
			out, err := exec.Command(binPath, args...).CombinedOutput()
			if err == nil {
				t.Fatalf("raftkv %v exited 0, want non-zero", args)
			}
			s := strings.TrimSpace(string(out))
			if !strings.Contains(s, tt.want) {
				t.Fatalf("raftkv %v printed %q, want it to contain %q", args, s, tt.want)
			}
		})
	}
}

// --auto-tls and --peer-auto-tls: a self-signed certificate in the data dir,
// etcdctl connects with --insecure-transport=false --insecure-skip-tls-verify
// (without certificate flags etcdctl 3.4 would speak plaintext).
func TestAutoTLS(t *testing.T) {
	if _, err := exec.LookPath("etcdctl"); err != nil {
		t.Skip("etcdctl not installed")
	}
	dir := t.TempDir()
	cu := fmt.Sprintf("https://127.0.0.1:%d", proctest.FreePort(t))
	pu := fmt.Sprintf("https://127.0.0.1:%d", proctest.FreePort(t))
	m := &member{client: cu, args: []string{"--name", "a", "--data-dir", dir,
		"--listen-client-urls", cu, "--advertise-client-urls", cu,
		"--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu, "--initial-cluster", "a=" + pu,
		"--auto-tls", "--peer-auto-tls", "--log-level", "warn"}}
	m.start(t)
	t.Cleanup(m.kill)
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := etcdctl(t, cu, "--insecure-transport=false", "--insecure-skip-tls-verify", "put", "k", "v")
		if err == nil && strings.TrimSpace(out) == "OK" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcdctl put with --auto-tls: %v: %s\n%s", err, out, m.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, f := range []string{"fixtures/client/cert.pem", "fixtures/peer/key.pem"} {
		if _, err := exec.Command("test", "-s", filepath.Join(dir, f)).CombinedOutput(); err != nil {
			t.Errorf("%s not written in the data dir", f)
		}
	}
	// Without skipping verification the self-signed certificate is refused.
	if out, err := etcdctl(t, cu, "--insecure-transport=false", "--command-timeout", "3s", "--dial-timeout", "2s", "get", "k"); err == nil {
		t.Errorf("etcdctl trusting the system CAs accepted the self-signed certificate: %q", out)
	}
}
