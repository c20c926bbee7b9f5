package clienttest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"coordlab/client"
)

var keySeq atomic.Int64

// UniqueKey returns a key no other conformance case uses in this process.
func UniqueKey(base string) string {
	return fmt.Sprintf("%s-%d-%d", base, time.Now().UnixNano(), keySeq.Add(1))
}

// Conformance runs the semantic checks every adapter must pass against
// clients made by newClient (each on the same server). Watch events must
// arrive within 10 s.
func Conformance(t *testing.T, newClient func(t *testing.T) client.Client) {
	ctx := func(t *testing.T) context.Context {
		c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		t.Cleanup(cancel)
		return c
	}
	t.Run("get missing", func(t *testing.T) {
		c := newClient(t)
		v, err := c.Get(ctx(t), UniqueKey("missing"))
		if err != nil || v.Found {
			t.Fatalf("Get(missing) = %+v, %v; want not found, no error", v, err)
		}
	})
	t.Run("put then get", func(t *testing.T) {
		c := newClient(t)
		k := UniqueKey("pg")
		p1, err := c.Put(ctx(t), k, "a")
		if err != nil || p1.Version <= 0 {
			t.Fatalf("Put = %+v, %v; want a positive version", p1, err)
		}
		p2, err := c.Put(ctx(t), k, "b")
		if err != nil || p2.Version <= p1.Version {
			t.Fatalf("second Put = %+v, %v; want version > %d", p2, err, p1.Version)
		}
		g, err := c.Get(ctx(t), k)
		if err != nil || !g.Found || g.Value != "b" || g.Version != p2.Version {
			t.Fatalf("Get = %+v, %v; want b at version %d", g, err, p2.Version)
		}
		if g.Revision != 0 && g.Revision < g.Version { // 0: the adapter cannot tell
			t.Errorf("Get revision %d < value version %d", g.Revision, g.Version)
		}
	})
	t.Run("cas", func(t *testing.T) {
		c := newClient(t)
		k := UniqueKey("cas")
		ok, v, err := c.CompareAndSet(ctx(t), k, "x", "y")
		if err != nil || ok || v.Found {
			t.Fatalf("CAS on missing key = %v, %+v, %v; want false, not found, no error", ok, v, err)
		}
		p, err := c.Put(ctx(t), k, "1")
		if err != nil {
			t.Fatal(err)
		}
		ok, v, err = c.CompareAndSet(ctx(t), k, "0", "2")
		if err != nil || ok || !v.Found || v.Value != "1" || v.Version != p.Version {
			t.Fatalf("losing CAS = %v, %+v, %v; want false with the current value 1@%d and no error", ok, v, err, p.Version)
		}
		ok, v, err = c.CompareAndSet(ctx(t), k, "1", "2")
		if err != nil || !ok || v.Version <= p.Version {
			t.Fatalf("winning CAS = %v, %+v, %v; want true with a version > %d", ok, v, err, p.Version)
		}
		g, err := c.Get(ctx(t), k)
		if err != nil || g.Value != "2" || g.Version != v.Version {
			t.Fatalf("Get after CAS = %+v, %v; want 2@%d", g, err, v.Version)
		}
	})
	t.Run("delete", func(t *testing.T) {
		c := newClient(t)
		k := UniqueKey("del")
		if err := c.Delete(ctx(t), k); err != nil {
			t.Fatalf("Delete(missing) = %v, want nil", err)
		}
		if _, err := c.Put(ctx(t), k, "v"); err != nil {
			t.Fatal(err)
		}
		if err := c.Delete(ctx(t), k); err != nil {
			t.Fatal(err)
		}
		if g, err := c.Get(ctx(t), k); err != nil || g.Found {
			t.Fatalf("Get after Delete = %+v, %v; want not found", g, err)
		}
	})
	t.Run("watch", func(t *testing.T) {
		c := newClient(t)
		w := newClient(t)
		pfx := UniqueKey("w") + "/"
		if _, err := c.Put(ctx(t), pfx+"seed", "s"); err != nil { // parents exist before the watch
			t.Fatal(err)
		}
		wctx, cancel := context.WithCancel(ctx(t))
		defer cancel()
		ch, err := w.Watch(wctx, pfx, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Writes are spaced by waiting for each event, so a one-shot watch
		// recipe (ZooKeeper) can re-arm between them.
		type step struct {
			put   bool
			key   string
			value string
		}
		steps := []step{{true, "a", "1"}, {true, "a", "2"}, {false, "a", ""}, {true, "b", "3"}}
		var last int64
		for i, s := range steps {
			var ver int64
			if s.put {
				v, err := c.Put(ctx(t), pfx+s.key, s.value)
				if err != nil {
					t.Fatal(err)
				}
				ver = v.Version
			} else if err := c.Delete(ctx(t), pfx+s.key); err != nil {
				t.Fatal(err)
			}
			ev := nextChange(t, ch)
			wantType := client.EventPut
			if !s.put {
				wantType = client.EventDelete
			}
			if ev.Type != wantType || ev.Key != pfx+s.key || (s.put && (ev.Value != s.value || ev.Version != ver)) {
				t.Fatalf("step %d: event %+v; want %v %s=%q at version %d", i, ev, wantType, pfx+s.key, s.value, ver)
			}
			if ev.Version == 0 && ev.Type == client.EventDelete {
				continue // a delete whose version the system does not report (ZooKeeper)
			}
			if ev.Version <= last {
				t.Fatalf("step %d: event version %d not after %d", i, ev.Version, last)
			}
			last = ev.Version
			wantCreated := s.put && (i == 0 || i == 3)
			if ev.Created != wantCreated {
				t.Errorf("step %d: Created %v, want %v", i, ev.Created, wantCreated)
			}
			if i == 1 && ev.PrevValue != nil && *ev.PrevValue != "1" {
				t.Errorf("step 1: PrevValue %q, want 1", *ev.PrevValue)
			}
		}
		cancel()
		for range ch { // must close after cancel
		}
	})
	t.Run("session lock election", func(t *testing.T) {
		c1, c2 := newClient(t), newClient(t)
		s1, err := c1.NewSession(ctx(t), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := c2.NewSession(ctx(t), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if s1.ID() == s2.ID() {
			t.Fatalf("two sessions share ID %d", s1.ID())
		}
		name := UniqueKey("lock")
		tok1, unlock1, err := c1.Lock(ctx(t), s1, name)
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan int64, 1)
		var unlock2 func(context.Context) error
		go func() {
			tok, u, err := c2.Lock(ctx(t), s2, name)
			if err != nil {
				t.Error(err)
				got <- -1
				return
			}
			unlock2 = u
			got <- tok
		}()
		select {
		case tok := <-got:
			t.Fatalf("second Lock got token %d while the first holds the lock", tok)
		case <-time.After(300 * time.Millisecond): // absence of an event: bounded wait, not a sync
		}
		if err := unlock1(ctx(t)); err != nil {
			t.Fatal(err)
		}
		tok2 := <-got
		if tok2 <= tok1 {
			t.Fatalf("second token %d not after first %d", tok2, tok1)
		}
		if err := unlock2(ctx(t)); err != nil {
			t.Fatal(err)
		}

		el := UniqueKey("el")
		if _, _, err := c1.Leader(ctx(t), el); !errors.Is(err, client.ErrNoLeader) || !client.IsDefinite(err) {
			t.Fatalf("Leader of an empty election: %v; want definite ErrNoLeader", err)
		}
		term, resign, err := c1.Campaign(ctx(t), s1, el, "v1")
		if err != nil {
			t.Fatal(err)
		}
		val, lterm, err := c2.Leader(ctx(t), el)
		if err != nil || val != "v1" || lterm != term {
			t.Fatalf("Leader = %q, %d, %v; want v1, %d", val, lterm, err, term)
		}
		if err := resign(ctx(t)); err != nil {
			t.Fatal(err)
		}
		term2, _, err := c2.Campaign(ctx(t), s2, el, "v2")
		if err != nil || term2 <= term {
			t.Fatalf("second Campaign term %d, %v; want > %d", term2, err, term)
		}
		// Closing the leader's session ends its leadership.
		if err := s2.Close(ctx(t)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-s2.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("session Done not closed after Close")
		}
		if _, _, err := c1.Leader(ctx(t), el); !errors.Is(err, client.ErrNoLeader) {
			t.Fatalf("Leader after the leader's session closed: %v; want ErrNoLeader", err)
		}
		if err := s1.Close(ctx(t)); err != nil {
			t.Fatal(err)
		}
	})
}

func nextChange(t *testing.T, ch <-chan client.WatchEvent) client.WatchEvent {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("watch closed early")
			}
			switch ev.Type {
			case client.EventProgress:
				continue
			case client.EventError, client.EventCompacted:
				t.Fatalf("watch error event: %v", ev.Err)
			}
			if ev.Key != "" && len(ev.Key) > 5 && ev.Key[len(ev.Key)-5:] == "/seed" {
				continue
			}
			return ev
		case <-timeout:
			t.Fatal("no watch event within 10s")
		}
	}
}
