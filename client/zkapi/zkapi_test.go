package zkapi

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

	"github.com/go-zookeeper/zk"
)

func newZKClient(t *testing.T, addr string, mode client.ReadMode) *Client {
	t.Helper()
	c, err := New(Config{Server: addr, Node: "z1", ReadMode: mode, ConnectTimeout: 30 * time.Second})
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

// TestRealZooKeeper runs every test that needs a server against one
// standalone ZooKeeper (a JVM start costs seconds).
func TestRealZooKeeper(t *testing.T) {
	srv := clienttest.StartZooKeeper(t)
	t.Run("conformance", func(t *testing.T) { conformance(t, srv) })
	t.Run("classification", func(t *testing.T) { classification(t, srv) })
	t.Run("watch from an old version is compacted", func(t *testing.T) { watchCompacted(t, srv) })
	t.Run("session expiry closes Done", func(t *testing.T) { sessionExpiry(t, srv) })
	t.Run("client session expiry ends watches, later watches work", func(t *testing.T) { watchAfterExpiry(t, srv) })
}

func watchAfterExpiry(t *testing.T, srv *clienttest.Server) {
	proxy := clienttest.NewProxy(t, srv.Addr)
	c, err := New(Config{Server: proxy.Addr, SessionTimeout: 800 * time.Millisecond, ConnectTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	writer := newZKClient(t, srv.Addr, client.Local)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := writer.Put(ctx, "wx/seed", "s"); err != nil {
		t.Fatal(err)
	}
	ch, err := c.Watch(ctx, "wx/", 0)
	if err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	time.Sleep(2 * time.Second) // the fault: longer than the session timeout
	proxy.Heal()
	select {
	case ev, ok := <-ch:
		if !ok || ev.Type != client.EventError || !errors.Is(ev.Err, client.ErrSessionExpired) {
			t.Fatalf("watch across an expiry: %+v (open %v); want an error event wrapping ErrSessionExpired", ev, ok)
		}
	case <-ctx.Done():
		t.Fatal("no error event after the session expired")
	}
	// The client reconnects with a new session; a new watch works.
	var ch2 <-chan client.WatchEvent
	for {
		ch2, err = c.Watch(ctx, "wx/", 0)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no watch after the reconnect: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // polling for the new session
	}
	v, err := writer.Put(ctx, "wx/a", "1")
	if err != nil {
		t.Fatal(err)
	}
	ev := <-ch2
	if ev.Type != client.EventPut || ev.Version != v.Version {
		t.Fatalf("event after reconnect %+v, want put at %d", ev, v.Version)
	}
}

func conformance(t *testing.T, srv *clienttest.Server) {
	for _, mode := range []client.ReadMode{client.Local, client.Sync} {
		t.Run(mode.String(), func(t *testing.T) {
			clienttest.Conformance(t, func(t *testing.T) client.Client { return newZKClient(t, srv.Addr, mode) })
		})
	}
}

func classification(t *testing.T, srv *clienttest.Server) {
	c := newZKClient(t, srv.Addr, client.Local)

	t.Run("connection refused is definite", func(t *testing.T) {
		dead, err := New(Config{Server: "127.0.0.1:" + strconv.Itoa(clienttest.FreePort(t)), ConnectTimeout: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer dead.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err = dead.Put(ctx, "k", "v")
		if err == nil || !client.IsDefinite(err) || !errors.Is(err, client.ErrUnavailable) {
			t.Fatalf("Put to a closed port: %v; want definite ErrUnavailable", err)
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
		ctxGet, cancelGet := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancelGet()
		if _, err := c.Get(ctxGet, "p"); err == nil || !client.IsDefinite(err) {
			t.Fatalf("Get from a paused server: %v; want definite (a read has no effect)", err)
		}
		if err := srv.Resume(); err != nil {
			t.Fatal(err)
		}
		ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel2()
		for {
			gctx, gcancel := context.WithTimeout(ctx2, time.Second)
			g, err := c.Get(gctx, "p")
			gcancel()
			if err == nil {
				if g.Value != "0" && g.Value != "1" {
					t.Fatalf("after resume p = %q, want 0 or 1", g.Value)
				}
				break
			}
			if ctx2.Err() != nil {
				t.Fatalf("server unusable after resume: %v", err)
			}
		}
	})
}

func watchCompacted(t *testing.T, srv *clienttest.Server) {
	c := newZKClient(t, srv.Addr, client.Local)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v1, err := c.Put(ctx, "wc/a", "1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "wc/a", "2"); err != nil {
		t.Fatal(err)
	}
	ch, err := c.Watch(ctx, "wc/", v1.Version)
	if err != nil {
		t.Fatal(err)
	}
	ev, ok := <-ch
	if !ok || ev.Type != client.EventCompacted || !errors.Is(ev.Err, client.ErrCompacted) {
		t.Fatalf("watch from an old zxid: %+v; want a compacted event", ev)
	}
	// From a zxid after the last change, nothing is missed: the watch runs.
	v3, err := c.Put(ctx, "wc/b", "3")
	if err != nil {
		t.Fatal(err)
	}
	ch2, err := c.Watch(ctx, "wc/", v3.Version+1)
	if err != nil {
		t.Fatal(err)
	}
	v4, err := c.Put(ctx, "wc/b", "4")
	if err != nil {
		t.Fatal(err)
	}
	ev = <-ch2
	if ev.Type != client.EventPut || ev.Version != v4.Version || ev.PrevValue == nil || *ev.PrevValue != "3" {
		t.Fatalf("event %+v; want put wc/b=4 at %d with prev 3", ev, v4.Version)
	}
}

func sessionExpiry(t *testing.T, srv *clienttest.Server) {
	proxy := clienttest.NewProxy(t, srv.Addr)
	c := newZKClient(t, proxy.Addr, client.Local)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := c.NewSession(ctx, 800*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := c.Lock(ctx, s, "x")
	if err != nil {
		t.Fatal(err)
	}
	// Cut the client off longer than the session timeout while the server
	// runs: the server expires the session; on reconnecting the client
	// learns it, Done closes, and the lock is free.
	proxy.Cut()
	time.Sleep(2 * time.Second) // the fault itself: a partition longer than the session timeout
	proxy.Heal()
	select {
	case <-s.Done():
	case <-ctx.Done():
		t.Fatal("session Done not closed after expiry")
	}
	s2, err := c.NewSession(ctx, 4*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	tok2, unlock, err := c.Lock(ctx, s2, "x")
	if err != nil || tok2 <= tok {
		t.Fatalf("lock after expiry: token %d, %v; want > %d", tok2, err, tok)
	}
	if err := unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "Server: empty"},
		{Config{Server: "x", ReadMode: client.Serializable}, "ReadMode: serializable is an etcd mode"},
		{Config{Server: "x", Root: "coordlab/"}, "Root"},
	}
	for _, tc := range tests {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want mention of %q", tc.cfg, err, tc.want)
		}
	}
}

// TestClassifyRefusals: errors that say the server refused a change are
// definite (the op did not happen); a lost connection is not.
func TestClassifyRefusals(t *testing.T) {
	c := &Client{cfg: Config{Node: "n1"}}
	cases := []struct {
		err      error
		definite bool
		sentinel error
	}{
		// go-zk's rendering of NOTREADONLY, which it has no value for.
		{fmt.Errorf("unknown error: %v", zk.ErrCode(-119)), true, client.ErrUnavailable},
		{zk.ErrReconfigDisabled, true, nil},
		{zk.ErrBadVersion, true, nil},
		{zk.ErrConnectionClosed, false, client.ErrConnLost},
		{fmt.Errorf("unknown error: %v", zk.ErrCode(-999)), false, nil},
	}
	for _, k := range cases {
		err := c.classify("put", "k", k.err, false)
		var oe *client.OpError
		if !errors.As(err, &oe) {
			t.Fatalf("classify(%v) = %T, want *client.OpError", k.err, err)
		}
		if oe.Definite != k.definite {
			t.Errorf("classify(%v): definite %v, want %v", k.err, oe.Definite, k.definite)
		}
		if k.sentinel != nil && !errors.Is(err, k.sentinel) {
			t.Errorf("classify(%v) = %v, want it to wrap %v", k.err, err, k.sentinel)
		}
	}
}
