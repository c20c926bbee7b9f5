package raftkv

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// A member starts in-process the way cmd/raftkv starts it: Config, then
// NewMember and Serve (Run is the two in one); cancelling the context stops
// it cleanly.
func TestRunInProcess(t *testing.T) {
	peer := freeListener(t)
	peerURL := "http://" + peer.Addr().String()
	cfg := memberConfig(t, "r0", peerURL, []InitialMember{{Name: "r0", PeerURLs: []string{peerURL}}}, t.TempDir())
	cfg.PeerListener = peer
	client := freeListener(t)
	cfg.ListenClientURLs = nil
	cfg.ClientListeners = append(cfg.ClientListeners, client)
	admin := freeListener(t)
	cfg.AdminListenURL = "http://" + admin.Addr().String()
	admin.Close()

	m, err := NewMember(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- m.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve after cancel: %v, want nil", err)
		}
		select {
		case <-m.Server().Done():
		default:
			t.Error("Serve returned with the raft loop still running")
		}
	}()

	cli, err := clientv3.New(clientv3.Config{Endpoints: m.ClientAddrs(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	if _, err := cli.Put(rctx, "k", "v"); err != nil {
		t.Fatalf("put through the in-process member: %v", err)
	}
	resp, err := cli.Get(rctx, "k")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Fatalf("get: %v %v", resp, err)
	}
	// HTTP on the client URL, the clock only on the admin URL.
	for _, c := range []struct {
		method, url string
		want        int
	}{
		{http.MethodGet, fmt.Sprintf("http://%s/health", m.ClientAddrs()[0]), http.StatusOK},
		{http.MethodPost, fmt.Sprintf("http://%s/admin/clock", m.ClientAddrs()[0]), http.StatusNotFound},
		{http.MethodPost, cfg.AdminListenURL + "/admin/clock", http.StatusOK},
	} {
		req, err := http.NewRequest(c.method, c.url, strings.NewReader(`{"offset":"1s"}`))
		if err != nil {
			t.Fatal(err)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.url, err)
		}
		r.Body.Close()
		if r.StatusCode != c.want {
			t.Fatalf("%s %s: status %d, want %d", c.method, c.url, r.StatusCode, c.want)
		}
	}
	if got := m.Server().ClockOffset(); got != time.Second {
		t.Fatalf("clock offset %v after POST on the admin URL, want 1s", got)
	}
}

func TestRunNeedsAClientURL(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ListenClientURLs = nil
	if err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "--listen-client-urls") {
		t.Fatalf("Run without client URLs: %v", err)
	}
}
