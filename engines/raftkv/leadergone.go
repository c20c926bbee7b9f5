package raftkv

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"syscall"
	"time"

	"go.etcd.io/raft/v3"
)

// A leader that dies (SIGKILL, crash, stop) closes its peer connections and
// leaves its peer port refusing new ones. Raft alone learns of the death only
// when the election timeout passes without a heartbeat (1 to 2 s with etcd's
// defaults), and clients wait that long for a write. A follower whose stream
// from the leader ends, whose dial to it fails, or who is asked for its
// vote while it still follows that leader, asks the leader's peer port once: a refused connection (nobody listens there) is proof enough to
// hold an election now. A partition drops packets and refuses nothing, so it
// still takes the timeout, and PreVote with CheckQuorum keeps a wrong guess
// harmless: a member still in touch with a live leader ignores the votes.
//
// The election is ordered so the survivors do not split the vote: each
// fast-forwards its election timer by one timeout (so that it is out of the
// leader's lease and grants votes), then the live voter with the lowest ID
// campaigns at once, and every second tick any survivor whose rank's turn
// has come (rank k from tick 2k) campaigns again unless a round it started
// or voted for is open (mayCampaign), until a leader is known; after one election timeout raft's own randomized timers take
// over.

// leaderProbeTimeout bounds the dial that asks whether the leader is gone.
const leaderProbeTimeout = 300 * time.Millisecond

// fastElection is the loop's state after the leader was found gone.
type fastElection struct {
	dead  uint64 // the leader whose port refused
	rank  int    // this member's place among the live voters, by ID
	ticks int    // ticks since
}

// probeLeader is called by the transport when a peer's stream ends or a dial
// to it fails: when that peer is the leader this member follows, it checks
// the peer's port (once at a time) and tells the loop if it refuses.
func (t *transport) probeLeader(id uint64) {
	s := t.s
	if id == raft.None || id == s.id || s.lead.Load() != id || !t.probing.CompareAndSwap(false, true) {
		return
	}
	p := t.peer(id)
	var host string
	if p != nil {
		if u, err := url.Parse(p.url()); err == nil {
			host = u.Host
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.stopc:
		t.probing.Store(false)
		return
	default:
	}
	if host == "" {
		t.probing.Store(false)
		return
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer t.probing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), leaderProbeTimeout)
		defer cancel()
		go func() { // ends with ctx: the probe's deadline or the transport's stop
			select {
			case <-t.stopc:
				cancel()
			case <-ctx.Done():
			}
		}()
		conn, err := t.dialer.DialContext(ctx, "tcp", host)
		if err == nil {
			conn.Close()
			return
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			select {
			case s.leaderGonec <- id:
			default:
			}
		}
	}()
}

// onLeaderGone (loop) starts the ordered election when id still leads.
func (s *Server) onLeaderGone(id uint64) {
	st := s.rn.Status()
	if st.Lead != id || st.RaftState == raft.StateLeader {
		return
	}
	voters := st.Config.Voters.IDs()
	if _, ok := voters[s.id]; !ok {
		return // a learner does not campaign
	}
	var live []uint64
	for v := range voters {
		if v != id {
			live = append(live, v)
		}
	}
	slices.Sort(live)
	rank := slices.Index(live, s.id)
	for range s.cfg.ElectionTicks {
		s.rn.Tick()
	}
	s.fast = &fastElection{dead: id, rank: rank}
	s.log.Info("the leader's peer port refuses connections: electing a new leader without waiting out the election timeout",
		"leader", fmt.Sprintf("%x", id), "rank", rank)
	if rank == 0 {
		_ = s.rn.Campaign()
	}
}

// fastElectionTick (loop, each tick) campaigns in rank order until a leader
// other than the dead one is known or an election timeout has passed.
func (s *Server) fastElectionTick() {
	f := s.fast
	if f == nil {
		return
	}
	f.ticks++
	if lead := s.lead.Load(); (lead != raft.None && lead != f.dead) || f.ticks > s.cfg.ElectionTicks {
		s.fast = nil
		return
	}
	if f.ticks >= 2*f.rank && f.ticks%2 == 0 && mayCampaign(s.rn.BasicStatus(), s.id, f.dead) {
		_ = s.rn.Campaign()
	}
}

// mayCampaign: a pre-candidate may start its round again (a pre-vote
// raises no term, and a voter that was still in the dead leader's lease
// ignored the first one); a follower may, unless in this term it voted for
// a live member, whose round is open; a candidate's round is open.
func mayCampaign(st raft.BasicStatus, self, dead uint64) bool {
	switch st.RaftState {
	case raft.StatePreCandidate:
		return true
	case raft.StateFollower:
		v := st.GetVote()
		return v == raft.None || v == self || v == dead
	}
	return false
}
