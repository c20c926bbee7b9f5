package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"coordlab/cluster"
)

// Clock skews the clock members run their leases and sessions on, through
// their admin endpoint (POST /admin/clock {"offset":"-3s"}): Offset ahead
// of real time (positive) or behind it (negative). With Strobe, the offset
// flips between Offset and none every Strobe until the fault ends
// (Jepsen's strobe-time). The undo, and Final, set the offset back to 0.
// Only our engines serve the endpoint: for the real etcd and ZooKeeper the
// start fails with "clock skew: not supported for etcd", which the history
// and the run's last lines show.
type Clock struct {
	On
	Offset Duration `json:"offset"`
	Strobe Duration `json:"strobe,omitempty"`
}

func (Clock) Kind() string    { return "clock" }
func (Clock) UsesAdmin() bool { return true }

func (c Clock) Start(ctx context.Context, env Env) (Undo, error) {
	urls, err := adminURLs(env)
	if errors.Is(err, cluster.ErrNoAdmin) {
		// One message per target, whichever member it was.
		return nil, fmt.Errorf("clock skew: not supported for %s: only our engines (raftkv, zab) serve the admin endpoint it needs", env.Target)
	}
	if err != nil {
		return nil, err
	}
	if err := setOffsets(ctx, urls, time.Duration(c.Offset)); err != nil {
		return c.undo(urls, nil), err
	}
	if c.Strobe <= 0 {
		return c.undo(urls, nil), nil
	}
	// The strobe is owned by the undo, which stops it and waits for it;
	// ctx ending (the run's end) stops it too.
	sctx, stop := context.WithCancel(ctx)
	s := &strobe{stop: stop, done: make(chan struct{})}
	go s.run(sctx, urls, time.Duration(c.Offset), time.Duration(c.Strobe))
	return c.undo(urls, s), nil
}

// undo stops the strobe, if any, and resets the offsets.
func (c Clock) undo(urls []endpoint, s *strobe) Undo {
	return func(ctx context.Context) error {
		var serr error
		if s != nil {
			serr = s.end()
		}
		return errors.Join(serr, setOffsets(ctx, urls, 0))
	}
}

// Heal resets the offset of every member that serves the endpoint; members
// that serve none cannot have been skewed.
func (Clock) Heal(ctx context.Context, env Env) error {
	urls, err := adminURLs(env)
	if errors.Is(err, cluster.ErrNoAdmin) {
		return nil
	}
	if err != nil {
		return err
	}
	return setOffsets(ctx, urls, 0)
}

// endpoint is one member's admin endpoint.
type endpoint struct{ name, url string }

// adminURLs resolves env.On to admin endpoints; a member without one makes
// the fault unsupported on this target (cluster.ErrNoAdmin).
func adminURLs(env Env) ([]endpoint, error) {
	var urls []endpoint
	for _, n := range env.On {
		u, err := env.Runtime.AdminURL(n)
		if err != nil {
			return nil, fmt.Errorf("clock skew: %w", err)
		}
		urls = append(urls, endpoint{n, u})
	}
	return urls, nil
}

// setOffsets sets every member's offset, in member order.
func setOffsets(ctx context.Context, urls []endpoint, d time.Duration) error {
	var errs []error
	for _, e := range urls {
		if err := setOffset(ctx, e.url, d); err != nil {
			errs = append(errs, fmt.Errorf("clock skew: %s: %w", e.name, err))
		}
	}
	return errors.Join(errs...)
}

// setOffset posts the offset and checks the member reports it back.
func setOffset(ctx context.Context, base string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	body, err := json.Marshal(map[string]string{"offset": d.String()})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/admin/clock", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s/admin/clock: %s: %s", base, resp.Status, bytes.TrimSpace(b))
	}
	var got struct {
		Offset string `json:"offset"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		return fmt.Errorf("POST %s/admin/clock: answer %q: %w", base, b, err)
	}
	if g, err := time.ParseDuration(got.Offset); err != nil || g != d {
		return fmt.Errorf("POST %s/admin/clock: the member reports offset %q, want %s", base, got.Offset, d)
	}
	return nil
}

// strobe flips the offsets between an offset and none.
type strobe struct {
	stop func()
	done chan struct{}
	err  error // the first failed flip, read after done
	once sync.Once
}

func (s *strobe) run(ctx context.Context, urls []endpoint, offset, period time.Duration) {
	defer close(s.done)
	t := time.NewTicker(period)
	defer t.Stop()
	on := true // Start set the offset
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		on = !on
		d := time.Duration(0)
		if on {
			d = offset
		}
		if err := setOffsets(ctx, urls, d); err != nil && s.err == nil && ctx.Err() == nil {
			s.err = fmt.Errorf("strobe: %w", err)
		}
	}
}

// end stops the strobe, waits for it, and returns its first failure.
func (s *strobe) end() error {
	s.once.Do(s.stop)
	<-s.done
	return s.err
}

var clockPackages = []Package{
	{"clock", "skew the lease/session clock of one member or the leader by up to ±8 s, sometimes strobing (our engines only)", 1, drawClock},
}

func drawClock(r *rand.Rand, nodes []string, _ Options) Fault {
	steps := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	off := steps[r.IntN(len(steps))]
	if r.IntN(2) == 0 {
		off = -off
	}
	c := Clock{On: On{Targets: drawTarget(r, nodes)}, Offset: Duration(off)}
	if r.IntN(4) == 0 {
		c.Strobe = Duration(250 * time.Millisecond)
	}
	return c
}
