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
// still takes the timeout, and CheckQuorum keeps a wrong guess from
// deposing a live leader: a member still in touch with it ignores the votes
// (with --pre-vote the guesser's term does not even move).
//
// The election is ordered so the survivors do not split the vote: each
// fast-forwards its election timer by one timeout (so that it is out of the
// leader's lease and grants votes), then the live voters take turns of two
// ticks in ID order, the lowest at once, each campaigning on its turn unless
// a round it voted for is open (mayCampaign), until a leader is known;
// after one election timeout raft's own randomized timers take over.

// leaderProbeTimeout bounds the dial that asks whether the leader is gone.
const leaderProbeTimeout = 300 * time.Millisecond

// fastElection is the loop's state after the leader was found gone.
type fastElection struct {
	dead  uint64 // the leader whose port refused
	rank  int    // this member's place among the live voters, by ID
	live  int    // how many live voters there are
	ticks int    // ticks since
}

// probeLeader is called when a peer's stream ends, a dial to it fails, or
// another member asks for a vote: when that peer is the leader this member
// follows, it checks the peer's port (one probe at a time) and tells the
// loop if it refuses.
func (t *transport) probeLeader(id uint64) {
	s := t.s
	if id == raft.None || id == s.id || s.lead.Load() != id {
		return
	}
	p := t.peer(id)
	if p == nil {
		return
	}
	u, err := url.Parse(p.url())
	if err != nil || u.Host == "" {
		return
	}
	host := u.Host
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.stopc:
		return
	default:
	}
	if !t.probing.CompareAndSwap(false, true) {
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
	s.fast = &fastElection{dead: id, rank: rank, live: len(live)}
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
	// Turns, two ticks each, in rank order: rank 0 at detection, then
	// rank 1 at tick 2, ..., round and round. Between two turns of one
	// member every other had its turn, so a round it started has had its
	// answers, and rounds of different members do not overlap.
	if f.ticks%2 == 0 && (f.ticks/2)%f.live == f.rank && mayCampaign(s.rn.BasicStatus(), s.id, f.dead) {
		_ = s.rn.Campaign()
	}
}

// mayCampaign, on a member's turn: not a follower that voted for a live
// member in this term (that member's round is open); anyone else, also a
// (pre-)candidate whose round a voter still in the dead leader's lease
// ignored (without PreVote its term goes up by one: the price of not
// waiting out the timeout).
func mayCampaign(st raft.BasicStatus, self, dead uint64) bool {
	switch st.RaftState {
	case raft.StateLeader:
		return false
	case raft.StateFollower:
		v := st.GetVote()
		return v == raft.None || v == self || v == dead
	}
	return true
}
