package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"coordlab/proctest"
)

func postJSON(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestGRPCGateway: --enable-grpc-gateway (on by default, as etcd) serves the
// v3 API as JSON at /v3/..., with the field names etcd 3.4 answers with
// (checked against the real etcd when it is installed); off, /v3/ is not
// served.
func TestGRPCGateway(t *testing.T) {
	m := startSingle(t)
	if code, _ := postJSON(t, m.client+"/v3/kv/put", `{"key":"Zm9v","value":"YmFy"}`); code != http.StatusOK {
		t.Fatalf("POST /v3/kv/put: %d", code)
	}
	code, rk := postJSON(t, m.client+"/v3beta/kv/range", `{"key":"Zm9v"}`)
	if code != http.StatusOK {
		t.Fatalf("POST /v3beta/kv/range: %d", code)
	}
	kvs, _ := rk["kvs"].([]any)
	if len(kvs) != 1 || kvs[0].(map[string]any)["value"] != "YmFy" {
		t.Fatalf("range through the gateway: %v", rk)
	}
	if path, err := exec.LookPath("etcd"); err == nil {
		cu := fmt.Sprintf("http://127.0.0.1:%d", proctest.FreePort(t))
		pu := fmt.Sprintf("http://127.0.0.1:%d", proctest.FreePort(t))
		p := proctest.Start(t, path, "--name", "gw", "--data-dir", filepath.Join(t.TempDir(), "etcd"),
			"--listen-client-urls", cu, "--advertise-client-urls", cu, "--listen-peer-urls", pu,
			"--initial-advertise-peer-urls", pu, "--initial-cluster", "gw="+pu, "--log-level", "error")
		defer p.Kill()
		deadline := time.Now().Add(20 * time.Second)
		for {
			if resp, err := http.Get(cu + "/health"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("etcd not healthy within 20s")
			}
			time.Sleep(100 * time.Millisecond)
		}
		postJSON(t, cu+"/v3/kv/put", `{"key":"Zm9v","value":"YmFy"}`)
		_, re := postJSON(t, cu+"/v3beta/kv/range", `{"key":"Zm9v"}`)
		if got, want := strings.Join(keysOf(rk), ","), strings.Join(keysOf(re), ","); got != want {
			t.Errorf("range response fields: raftkv %s, etcd %s", got, want)
		}
		rkv, ekv := rk["kvs"].([]any)[0].(map[string]any), re["kvs"].([]any)[0].(map[string]any)
		if got, want := strings.Join(keysOf(rkv), ","), strings.Join(keysOf(ekv), ","); got != want {
			t.Errorf("kv fields: raftkv %s, etcd %s", got, want)
		}
	}
	off := startSingle(t, "--enable-grpc-gateway=false")
	if code, _ := postJSON(t, off.client+"/v3/kv/range", `{"key":"Zm9v"}`); code == http.StatusOK {
		t.Fatal("--enable-grpc-gateway=false still serves /v3/kv/range")
	}
}
