package etcdapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"coordlab/client"
	"coordlab/client/clienttest"
)

func newEtcdClient(t *testing.T, endpoint string, mode client.ReadMode) *Client {
	t.Helper()
	c, err := New(Config{Endpoint: "http://" + endpoint, Node: "n1", ReadMode: mode})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// waitReady retries a Put until the fresh member has a leader.
func waitReady(t *testing.T, c *Client) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Put(ctx, "ready", "1")
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd not ready: %v", err)
		}
	}
}

func TestConformanceRealEtcd(t *testing.T) {
	srv := clienttest.StartEtcd(t)
	waitReady(t, newEtcdClient(t, srv.Addr, client.Linearizable))
	for _, mode := range []client.ReadMode{client.Linearizable, client.Serializable} {
		t.Run(mode.String(), func(t *testing.T) {
			clienttest.Conformance(t, func(t *testing.T) client.Client { return newEtcdClient(t, srv.Addr, mode) })
		})
	}
}

// TestClassification proves the definite/indeterminate split on real
// refusals and timeouts.
func TestClassification(t *testing.T) {
	srv := clienttest.StartEtcd(t)
	c := newEtcdClient(t, srv.Addr, client.Linearizable)
	waitReady(t, c)

	t.Run("connection refused is definite", func(t *testing.T) {
		dead := newEtcdClient(t, "127.0.0.1:"+strconv.Itoa(clienttest.FreePort(t)), client.Linearizable)
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err := dead.Put(ctx, "k", "v")
		if err == nil || !client.IsDefinite(err) || !errors.Is(err, client.ErrUnavailable) {
			t.Fatalf("Put to a closed port: %v; want definite ErrUnavailable", err)
		}
		ctx2, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel2()
		ok, _, err := dead.CompareAndSet(ctx2, "k", "a", "b")
		if err == nil || ok || !client.IsDefinite(err) {
			t.Fatalf("CAS to a closed port: %v, %v; want a definite error", ok, err)
		}
	})

	t.Run("cas that loses is ok=false without error", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := c.Put(ctx, "c", "1"); err != nil {
			t.Fatal(err)
		}
		ok, v, err := c.CompareAndSet(ctx, "c", "0", "2")
		if err != nil || ok || v.Value != "1" {
			t.Fatalf("losing CAS = %v, %+v, %v; want false, value 1, nil", ok, v, err)
		}
	})

	t.Run("paused server mid-request is indeterminate", func(t *testing.T) {
		// Connected first, so the request surely leaves the client.
		ctx0, cancel0 := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel0()
		if _, err := c.Put(ctx0, "p", "0"); err != nil {
			t.Fatal(err)
		}
		if err := srv.Pause(); err != nil {
			t.Fatal(err)
		}
		defer srv.Resume()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := c.Put(ctx, "p", "1")
		if err == nil || client.IsDefinite(err) || !errors.Is(err, client.ErrTimeout) {
			t.Fatalf("Put to a paused server: %v; want indeterminate ErrTimeout", err)
		}
		ctxCAS, cancelCAS := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancelCAS()
		ok, _, err := c.CompareAndSet(ctxCAS, "p", "0", "2")
		if err == nil || ok || client.IsDefinite(err) {
			t.Fatalf("CAS to a paused server: %v, %v; want indeterminate", ok, err)
		}
		// A read has no effect: its failure is definite.
		ctxGet, cancelGet := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancelGet()
		_, err = c.Get(ctxGet, "p")
		if err == nil || !client.IsDefinite(err) {
			t.Fatalf("Get from a paused server: %v; want definite", err)
		}
		if err := srv.Resume(); err != nil {
			t.Fatal(err)
		}
		// Indeterminate means either: after resuming, the put of 1 and the
		// cas from 0 to 2 may each have happened or not (the server may see
		// a client's cancel first): 0, 1 or 2, nothing else.
		ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel2()
		for {
			gctx, gcancel := context.WithTimeout(ctx2, time.Second)
			g, err := c.Get(gctx, "p")
			gcancel()
			if err == nil {
				if g.Value != "0" && g.Value != "1" && g.Value != "2" {
					t.Fatalf("after resume p = %q, want 0, 1 or 2", g.Value)
				}
				break
			}
			if ctx2.Err() != nil {
				t.Fatalf("server unusable after resume: %v", err)
			}
		}
	})
}

func TestWatchCompactedAndProgress(t *testing.T) {
	srv := clienttest.StartEtcd(t)
	c := newEtcdClient(t, srv.Addr, client.Linearizable)
	waitReady(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var last client.Versioned
	for i := range 5 {
		v, err := c.Put(ctx, "w/k", fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		last = v
	}
	// Watch from an old revision replays history, with prev values.
	ch, err := c.Watch(ctx, "w/", last.Version-2)
	if err != nil {
		t.Fatal(err)
	}
	for i := 2; i < 5; i++ {
		ev := <-ch
		if ev.Type != client.EventPut || ev.Value != fmt.Sprint(i) || ev.Version != last.Version-int64(4-i) ||
			ev.PrevValue == nil || *ev.PrevValue != fmt.Sprint(i-1) {
			t.Fatalf("replayed event %d: %+v; want put %d at %d with prev %d", i, ev, i, last.Version-int64(4-i), i-1)
		}
	}
	// Compact, then a watch from before the compaction is an error event.
	if _, err := c.cli.Compact(ctx, last.Version); err != nil {
		t.Fatal(err)
	}
	ch2, err := c.Watch(ctx, "w/", last.Version-3)
	if err != nil {
		t.Fatal(err)
	}
	ev, ok := <-ch2
	if !ok || ev.Type != client.EventCompacted || !errors.Is(ev.Err, client.ErrCompacted) || ev.Revision != last.Version {
		t.Fatalf("watch from a compacted revision: %+v (open %v); want a compacted event at %d", ev, ok, last.Version)
	}
	if _, ok := <-ch2; ok {
		t.Fatal("watch channel still open after the compacted event")
	}
	// Progress notification on request.
	if err := c.RequestProgress(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case ev := <-ch:
			if ev.Type == client.EventProgress {
				if ev.Revision < last.Version {
					t.Fatalf("progress at %d, behind delivered %d", ev.Revision, last.Version)
				}
				return
			}
		case <-ctx.Done():
			t.Fatal("no progress notification")
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "Endpoint: empty"},
		{Config{Endpoint: "x", ReadMode: client.Local}, "ReadMode: local is a ZooKeeper mode"},
		{Config{Endpoint: "x", DialTimeout: -1}, "DialTimeout"},
	}
	for _, tc := range tests {
		err := tc.cfg.Validate()
		if err == nil || !contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want mention of %q", tc.cfg, err, tc.want)
		}
	}
	if err := (Config{Endpoint: "x"}).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
