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
// from the leader ends, or whose dial to it fails, asks the leader's peer
// port once: a refused connection (nobody listens there) is proof enough to
// hold an election now. A partition drops packets and refuses nothing, so it
// still takes the timeout, and PreVote with CheckQuorum keeps a wrong guess
// harmless: a member still in touch with a live leader ignores the votes.
//
// The election is ordered so the survivors do not split the vote: each
// fast-forwards its election timer by one timeout (so that it is out of the
// leader's lease and grants votes), then the live voter with the lowest ID
// campaigns at once, and every second tick any survivor whose rank's turn
// has come (rank k from tick 2k), who is a follower (its round, if any,
// was lost: a voter with a longer log refused it) and who has not voted for
// another in this term campaigns, until a leader is known; after one election timeout raft's own randomized timers take
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
	// Only a follower that has not voted for another member in this term
	// campaigns: a (pre-)candidate's round, or the round of the member it
	// voted for, is still open, and a new round would only raise the term.
	st := s.rn.BasicStatus()
	if f.ticks >= 2*f.rank && f.ticks%2 == 0 && st.RaftState == raft.StateFollower && (st.GetVote() == raft.None || st.GetVote() == s.id) {
		_ = s.rn.Campaign()
	}
}
