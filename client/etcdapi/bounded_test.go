package etcdapi

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestBoundedClosesAStuckRecipe: clientv3's Mutex.Lock and Election.Campaign,
// once cancelled, clean up with the client's own context, which never ends
// while the client is open; against a member whose address vanished that
// clean-up hangs (a run stuck for minutes after a container was killed).
// bounded closes the client after a grace period, which ends the clean-up.
func TestBoundedClosesAStuckRecipe(t *testing.T) {
	c, err := New(Config{Endpoint: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = c.bounded(ctx, func() error {
		<-ctx.Done()
		<-c.cli.Ctx().Done() // the clean-up: only the client's close ends it
		return ctx.Err()
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("bounded: %v, want the op's deadline", err)
	}
	if el := time.Since(start); el < cleanupGrace {
		t.Fatalf("bounded returned after %v, before the clean-up's grace %v", el, cleanupGrace)
	}

	// A recipe that returns in time keeps the client open.
	c2, err := New(Config{Endpoint: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.bounded(context.Background(), func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if c2.cli.Ctx().Err() != nil {
		t.Fatal("bounded closed a client whose recipe returned")
	}
}
