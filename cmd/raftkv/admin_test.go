package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"coordlab/proctest"
)

// startSingle starts a one-member cluster with extra flags and waits until
// its client URL answers /health.
func startSingle(t *testing.T, extra ...string) *member {
	t.Helper()
	cu := fmt.Sprintf("http://127.0.0.1:%d", proctest.FreePort(t))
	pu := fmt.Sprintf("http://127.0.0.1:%d", proctest.FreePort(t))
	m := &member{client: cu, args: append([]string{
		"--name", "s0", "--data-dir", filepath.Join(t.TempDir(), "s0"),
		"--listen-client-urls", cu, "--advertise-client-urls", cu,
		"--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu,
		"--initial-cluster", "s0=" + pu, "--initial-cluster-token", "single-test",
		"--heartbeat-interval", "50", "--election-timeout", "500", "--log-level", "warn",
	}, extra...)}
	m.start(t)
	t.Cleanup(func() {
		m.kill()
		if t.Failed() {
			t.Logf("output:\n%s", m.log())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(cu + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m
			}
		}
		select {
		case <-m.proc.Done():
			t.Fatalf("raftkv exited with %d before it was healthy", m.proc.ExitCode())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/health not 200 within 15s (last err %v)", cu, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func httpDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// POST /admin/clock {"offset":"2h"} expires every lease (and deletes the
// keys attached to them): it is served only on --admin-listen-url.
func TestAdminClockOnlyOnAdminURL(t *testing.T) {
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d", proctest.FreePort(t))
	adminURL := fmt.Sprintf("http://127.0.0.1:%d", proctest.FreePort(t))
	m := startSingle(t, "--listen-metrics-urls", metricsURL, "--admin-listen-url", adminURL)

	for _, base := range []string{m.client, metricsURL} {
		if code, body := httpDo(t, http.MethodPost, base+"/admin/clock", `{"offset":"2h"}`); code != http.StatusNotFound {
			t.Errorf("POST %s/admin/clock: status %d (%q), want 404", base, code, body)
		}
		if code, _ := httpDo(t, http.MethodGet, base+"/health", ""); code != http.StatusOK {
			t.Errorf("GET %s/health: status %d, want 200 (the client and metrics URLs still serve etcd's endpoints)", base, code)
		}
	}
	offset := func() string {
		code, body := httpDo(t, http.MethodGet, adminURL+"/admin/clock", "")
		var r struct{ Offset string }
		if code != http.StatusOK || json.Unmarshal([]byte(body), &r) != nil {
			t.Fatalf("GET %s/admin/clock: status %d, body %q", adminURL, code, body)
		}
		return r.Offset
	}
	if got := offset(); got != "0s" {
		t.Fatalf("lease clock offset after POSTs to the client and metrics URLs is %s, want 0s", got)
	}
	if code, body := httpDo(t, http.MethodPost, adminURL+"/admin/clock", `{"offset":"-3s"}`); code != http.StatusOK {
		t.Fatalf("POST %s/admin/clock: status %d (%q), want 200", adminURL, code, body)
	}
	if got := offset(); got != "-3s" {
		t.Fatalf("lease clock offset after POST to the admin URL is %s, want -3s", got)
	}
	if code, _ := httpDo(t, http.MethodGet, adminURL+"/metrics", ""); code != http.StatusNotFound {
		t.Errorf("GET %s/metrics: status %d, want 404 (the admin URL serves only /admin/clock)", adminURL, code)
	}
}

// Without --admin-listen-url the clock endpoint is served nowhere.
func TestAdminClockOffByDefault(t *testing.T) {
	m := startSingle(t)
	if code, body := httpDo(t, http.MethodPost, m.client+"/admin/clock", `{"offset":"2h"}`); code != http.StatusNotFound {
		t.Fatalf("POST %s/admin/clock: status %d (%q), want 404", m.client, code, body)
	}
}

func TestAdminListenURLFlag(t *testing.T) {
	if _, err := parseFlags([]string{"--admin-listen-url", "127.0.0.1:2382"}); err == nil || !strings.Contains(err.Error(), "--admin-listen-url") {
		t.Fatalf("--admin-listen-url without a scheme: err %v, want one naming --admin-listen-url", err)
	}
	if _, err := parseFlags([]string{"--admin-listen-url", "http://127.0.0.1:1,http://127.0.0.1:2"}); err == nil || !strings.Contains(err.Error(), "want one URL") {
		t.Fatalf("two admin URLs: err %v, want 'want one URL'", err)
	}
	o, err := parseFlags([]string{"--admin-listen-url", "http://127.0.0.1:2382"})
	if err != nil || o.member.AdminListenURL != "http://127.0.0.1:2382" {
		t.Fatalf("parseFlags: %v, adminListenURL %q", err, o.member.AdminListenURL)
	}
	o, err = parseFlags(nil)
	if err != nil || o.member.AdminListenURL != "" {
		t.Fatalf("default: %v, adminListenURL %q, want empty (off)", err, o.member.AdminListenURL)
	}
}
