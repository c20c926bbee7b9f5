package raftkv

import (
	"context"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// --strict-reconfig-check, as etcd 3.4's mayAddMember and mayRemoveMember:
// a voting member is added only when a quorum of the members (counting the
// new one) has started (published its name) and every voting member is
// reachable; a voting member is removed only when the remaining members
// have a started quorum and, unless it is itself down, the members still
// reachable after the removal keep a quorum. etcd counts a member reachable
// when its peer stream has been up for 5 s; raftkv asks each member's peer
// URL for its member list (a round trip within probeTimeout).

const reconfigProbeTimeout = time.Second

// reachable reports, for each voting member other than this one, whether
// its peer URL answers now.
func (s *Server) reachable(ctx context.Context) map[uint64]bool {
	return s.reachableOf(ctx, s.members.list())
}

func (s *Server) reachableOf(ctx context.Context, members []member) map[uint64]bool {
	out := map[uint64]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range members {
		if m.ID == s.id || m.IsLearner {
			continue
		}
		mu.Lock() // probes started earlier in this loop write out too
		out[m.ID] = false
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, reconfigProbeTimeout)
			defer cancel()
			ok := false
			for _, u := range m.PeerURLs {
				if _, err := fetchMembersFrom(pctx, s.tr.client, u); err == nil {
					ok = true
					break
				}
			}
			mu.Lock()
			out[m.ID] = ok
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func (s *Server) mayAddMember(ctx context.Context, learner bool) error {
	if !s.cfg.StrictReconfigCheck || learner {
		return nil
	}
	nmembers, nstarted := 1, 0
	for _, m := range s.members.list() {
		if m.IsLearner {
			continue
		}
		nmembers++
		if m.Name != "" {
			nstarted++
		}
	}
	if !(nstarted == 1 && nmembers == 2) && nstarted < nmembers/2+1 {
		return rpctypes.ErrGRPCMemberNotEnoughStarted
	}
	for _, ok := range s.reachable(ctx) {
		if !ok {
			return rpctypes.ErrGRPCUnhealthy
		}
	}
	return nil
}

func (s *Server) mayRemoveMember(ctx context.Context, id uint64) error {
	if !s.cfg.StrictReconfigCheck {
		return nil
	}
	if m, ok := s.members.get(id); ok && m.IsLearner {
		return nil
	}
	nmembers, nstarted := 0, 0
	voting := 0
	for _, m := range s.members.list() {
		if m.IsLearner {
			continue
		}
		voting++
		if m.ID == id {
			continue
		}
		nmembers++
		if m.Name != "" {
			nstarted++
		}
	}
	if nstarted < nmembers/2+1 {
		return rpctypes.ErrGRPCMemberNotEnoughStarted
	}
	up := s.reachable(ctx)
	if id != s.id && !up[id] {
		return nil // a member that is down is not part of the active quorum
	}
	active := 1 // this member
	for _, ok := range up {
		if ok {
			active++
		}
	}
	if active-1 < 1+(voting-1)/2 {
		return rpctypes.ErrGRPCUnhealthy
	}
	return nil
}
