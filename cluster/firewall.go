package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Firewall is the partition, the packet loss and the delay steer in force
// on one cluster: for each member, the addresses whose packets it drops,
// the share of its peers' packets it loses, and which packets it sends get
// the mark a delayer queues. All live in the member's one nft table, so
// every change renders the whole table (Table.Script) and installs it with
// Runtime.Firewall. One Firewall per cluster; safe for concurrent use.
type Firewall struct {
	rt Runtime

	mu   sync.Mutex
	drop map[string][]string // member -> source addresses it drops
	loss map[string]int      // member -> percent of peer packets dropped
	// steer is which outgoing packets each member marks for a delayer.
	steer map[string]Steer
	// installed is the script last installed per member; a member whose
	// script would not change is left alone, so healing a cluster that was
	// never partitioned asks nothing of the runtime.
	installed map[string]string
}

// NewFirewall returns the firewall of rt's cluster, with nothing in force.
func NewFirewall(rt Runtime) *Firewall {
	return &Firewall{rt: rt, drop: map[string][]string{}, loss: map[string]int{}, steer: map[string]Steer{}, installed: map[string]string{}}
}

// Partition replaces the partition in force with g (loss stays).
func (f *Firewall) Partition(ctx context.Context, g Grudge) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ms := f.rt.Members()
	if len(ms) == 0 {
		return ErrNotStarted
	}
	hosts := map[string]string{}
	for _, m := range ms {
		hosts[m.Name] = m.Host
	}
	drops, err := DropSources(g, hosts)
	if err != nil {
		return err
	}
	f.drop = drops
	return f.applyLocked(ctx, ms)
}

// Heal removes the partition (loss stays).
func (f *Firewall) Heal(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drop = map[string][]string{}
	return f.applyLocked(ctx, f.rt.Members())
}

// Loss makes the named members drop percent (0-100) of the packets their
// peers send them; 0 removes it.
func (f *Firewall) Loss(ctx context.Context, percent int, names []string) error {
	if percent < 0 || percent > 100 {
		return fmt.Errorf("cluster: loss: want 0..100 percent, got %d", percent)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ms := f.rt.Members()
	for _, n := range names {
		if !slices.ContainsFunc(ms, func(m Member) bool { return m.Name == n }) {
			return fmt.Errorf("%w %q in loss", ErrUnknownMember, n)
		}
	}
	for _, n := range names {
		f.loss[n] = percent
	}
	return f.applyLocked(ctx, ms)
}

// Steer makes the named members mark the packets s selects (the zero
// Steer stops it); partition and loss stay.
func (f *Firewall) Steer(ctx context.Context, s Steer, names []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ms := f.rt.Members()
	for _, n := range names {
		if !slices.ContainsFunc(ms, func(m Member) bool { return m.Name == n }) {
			return fmt.Errorf("%w %q in delay", ErrUnknownMember, n)
		}
	}
	for _, n := range names {
		f.steer[n] = s
	}
	return f.applyLocked(ctx, ms)
}

// applyLocked installs each member's table where it changed. f.mu is held.
func (f *Firewall) applyLocked(ctx context.Context, ms []Member) error {
	var errs []error
	for _, m := range ms {
		var peers []string
		for _, o := range ms {
			if o.Name != m.Name {
				peers = append(peers, o.Host)
			}
		}
		script := Table{Drop: f.drop[m.Name], LossPercent: f.loss[m.Name], Peers: peers, Steer: f.steer[m.Name]}.Script()
		last, ok := f.installed[m.Name]
		if !ok {
			last = NFTScript(nil, 0, peers) // a new namespace has no table
		}
		if script == last {
			continue
		}
		if err := f.rt.Firewall(ctx, m.Name, script); err != nil {
			errs = append(errs, err)
			continue
		}
		f.installed[m.Name] = script
	}
	return errors.Join(errs...)
}
