package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// FindLeader probes members and returns the leader's name. When several
// claim leadership (an old leader cut off from the rest may still believe
// it), the first in member order wins; ErrNoLeader when none does.
func FindLeader(ctx context.Context, t Target, members []Member) (string, error) {
	var errs []error
	for _, m := range members {
		r, err := t.Probe(ctx, m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if r == RoleLeader {
			return m.Name, nil
		}
	}
	return "", fmt.Errorf("%w: %w", ErrNoLeader, errors.Join(errs...))
}

// WaitReady polls until every member in wait answers Probe and one member of
// all is leader, or ctx ends. The poll interval is 100ms.
func WaitReady(ctx context.Context, t Target, all, wait []Member) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		last = ready(ctx, t, all, wait)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: %s not ready: %w (last: %v)", t.Name(), ctx.Err(), last)
		case <-tick.C:
		}
	}
}

func ready(ctx context.Context, t Target, all, wait []Member) error {
	leader := false
	for _, m := range wait {
		r, err := t.Probe(ctx, m)
		if err != nil {
			return err
		}
		leader = leader || r == RoleLeader
	}
	if leader {
		return nil
	}
	_, err := FindLeader(ctx, t, all)
	return err
}
