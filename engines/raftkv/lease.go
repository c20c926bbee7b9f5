package raftkv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"

	"coordlab/engines/raftkv/mvcc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/raft/v3"
	"google.golang.org/protobuf/proto"
)

// lessor keeps the leader's lease expiry times. Leases as data live in the
// store; expiry is decided here, on the leader only, and executed by proposing
// LeaseRevoke through the log.
type lessor struct {
	mu       sync.Mutex
	clock    Clock
	extend   time.Duration // added at promotion (etcd extends by the election timeout)
	primary  bool
	expiry   map[int64]time.Time
	revoking map[int64]time.Time // when a revoke was last proposed
	// checkpoint: a new leader gives a checkpointed lease its remaining
	// TTL, not its full TTL (--experimental-enable-lease-checkpoint).
	checkpoint bool
}

// revokeRetry is how long a proposed revoke may take to apply before it is
// proposed again.
const revokeRetry = 3 * time.Second

func newLessor(clock Clock, extend time.Duration) *lessor {
	return &lessor{clock: clock, extend: extend, expiry: map[int64]time.Time{}, revoking: map[int64]time.Time{}}
}

// promote makes this lessor primary and gives every lease its full TTL from
// now plus the election timeout (etcd's Promote), so a new leader never expires
// a lease early.
func (l *lessor) promote(leases []mvcc.Lease) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.primary = true
	now := l.clock.Now()
	clear(l.expiry)
	clear(l.revoking)
	for _, le := range leases {
		ttl := le.TTL
		if l.checkpoint && le.RemainingTTL > 0 {
			ttl = le.RemainingTTL
		}
		l.expiry[le.ID] = now.Add(l.extend + time.Duration(ttl)*time.Second)
	}
}

func (l *lessor) demote() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.primary = false
	clear(l.expiry)
	clear(l.revoking)
}

func (l *lessor) granted(id, ttl int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.primary {
		l.expiry[id] = l.clock.Now().Add(time.Duration(ttl) * time.Second)
	}
}

func (l *lessor) revoked(id int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.expiry, id)
	delete(l.revoking, id)
}

// renew sets the lease's expiry to now + ttl. ok is false when this lessor is
// not primary; expired is true when the lease already expired (its revoke is
// on the way), which etcd answers as lease not found.
func (l *lessor) renew(id, ttl int64) (ok, expired bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.primary {
		return false, false
	}
	now := l.clock.Now()
	if exp, has := l.expiry[id]; has && !exp.After(now) {
		return true, true
	}
	l.expiry[id] = now.Add(time.Duration(ttl) * time.Second)
	return true, false
}

// remaining is the time left on a lease; ok is false when not primary or unknown.
func (l *lessor) remaining(id int64) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.primary {
		return 0, false
	}
	exp, has := l.expiry[id]
	if !has {
		return 0, false
	}
	return exp.Sub(l.clock.Now()), true
}

// expired returns the leases due for a revoke (sorted), marking them as being
// revoked.
func (l *lessor) expired(limit int) []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.primary {
		return nil
	}
	now := l.clock.Now()
	var ids []int64
	for id, exp := range l.expiry {
		if exp.After(now) {
			continue
		}
		if at, ok := l.revoking[id]; ok && now.Sub(at) < revokeRetry {
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if len(ids) > limit {
		ids = ids[:limit]
	}
	for _, id := range ids {
		l.revoking[id] = now
	}
	return ids
}

// revokeExpiredLeases runs on the loop at each tick of a leader.
func (s *Server) revokeExpiredLeases() {
	for _, id := range s.lessor.expired(500) {
		// The member revokes as root, as etcd's lessor does (WithRoot).
		req := &pb.InternalRaftRequest{
			Header:      &pb.RequestHeader{ID: s.reqIDs.next(), Username: mvcc.MemberAuth.Username, AuthRevision: mvcc.MemberAuth.Revision},
			LeaseRevoke: &pb.LeaseRevokeRequest{ID: id},
		}
		data, err := proto.Marshal(req)
		if err != nil {
			panic(fmt.Sprintf("raftkv: marshal lease revoke: %v", err))
		}
		if err := s.rn.Propose(data); err != nil {
			s.log.Debug("lease revoke proposal dropped; will retry", "lease", id, "err", err)
		} else {
			s.log.Debug("lease expired; revoking", "lease", id)
		}
	}
}

func (s *Server) isLeader() bool { return s.lead.Load() == s.id }

// LeaseRenew extends a lease by its granted TTL: on the leader directly, on a
// follower by forwarding to the leader's peer endpoint (as etcd does).
func (s *Server) LeaseRenew(ctx context.Context, id int64) (int64, error) {
	start := time.Now()
	for {
		if s.isLeader() {
			ttl, err, done := s.renewLocal(id)
			if done {
				return ttl, err
			}
		} else if lead := s.lead.Load(); lead != raft.None {
			resp := &pb.LeaseKeepAliveResponse{}
			err := s.forwardLease(ctx, lead, pathLeaseRenew, &pb.LeaseKeepAliveRequest{ID: id}, resp)
			if err == nil {
				return resp.TTL, nil
			}
			if err != errForwardRetry {
				return 0, err
			}
		}
		if err := s.waitRetry(ctx, start); err != nil {
			return 0, err
		}
	}
}

// appliedLease is the store's lease id. A grant may be committed, and
// applied by the member that proposed it, but not applied here yet: when the
// lease is missing, it waits (at most an election timeout) until this member
// has applied what was committed when asked, then looks again.
func (s *Server) appliedLease(id int64) (mvcc.Lease, bool) {
	le, ok := s.Store().Lease(id)
	if ok {
		return le, true
	}
	target, deadline := s.committedIndex.Load(), time.Now().Add(s.cfg.ElectionTimeout())
	for s.appliedIndex.Load() < target && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	return s.Store().Lease(id)
}

func (s *Server) renewLocal(id int64) (ttl int64, err error, done bool) {
	le, ok := s.appliedLease(id)
	if !ok {
		return 0, rpctypes.ErrGRPCLeaseNotFound, true
	}
	primary, expired := s.lessor.renew(id, le.TTL)
	if !primary {
		return 0, nil, false
	}
	if expired {
		return 0, rpctypes.ErrGRPCLeaseNotFound, true
	}
	if s.cfg.LeaseCheckpoint && le.RemainingTTL > 0 {
		// etcd's Renew with checkpointing: the renewed lease has its whole
		// TTL again, so its checkpoint is cleared through the log.
		go s.proposeCheckpoints([]*pb.LeaseCheckpoint{{ID: id, Remaining_TTL: 0}})
	}
	return le.TTL, nil, true
}

// leaseCheckpointInterval is etcd's default checkpoint interval (5 minutes);
// tests shorten it.
var leaseCheckpointInterval = 5 * time.Minute

// leaseCheckpointLoop is etcd's lease checkpointing: every interval the
// leader records, through the log, the remaining TTL of each lease that has
// used part of its TTL, so a new leader does not give it a fresh TTL (leases
// kept alive forever by leader changes).
func (s *Server) leaseCheckpointLoop() {
	s.whileLeaderEvery(leaseCheckpointInterval, func() {
		var cps []*pb.LeaseCheckpoint
		for _, le := range s.Store().Leases() {
			rem, ok := s.lessor.remaining(le.ID)
			if !ok {
				continue
			}
			sec := int64(math.Ceil(rem.Seconds()))
			if sec > 0 && sec < le.TTL && sec != le.RemainingTTL {
				cps = append(cps, &pb.LeaseCheckpoint{ID: le.ID, Remaining_TTL: sec})
			}
		}
		for len(cps) > 0 {
			n := min(len(cps), 1000) // etcd's maxLeaseCheckpointBatchSize
			s.proposeCheckpoints(cps[:n])
			cps = cps[n:]
		}
	})
}

func (s *Server) proposeCheckpoints(cps []*pb.LeaseCheckpoint) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	go func() {
		select {
		case <-s.stopc:
			cancel()
		case <-ctx.Done():
		}
	}()
	if _, err := s.Propose(ctx, &pb.InternalRaftRequest{LeaseCheckpoint: &pb.LeaseCheckpointRequest{Checkpoints: cps}}); err != nil {
		s.log.Debug("lease checkpoint proposal failed; the next round retries", "err", err)
	}
}

// LeaseTimeToLive reports the remaining TTL from the leader's timers.
func (s *Server) LeaseTimeToLive(ctx context.Context, id int64, keys bool) (*pb.LeaseTimeToLiveResponse, error) {
	start := time.Now()
	for {
		if s.isLeader() {
			resp, err, done := s.ttlLocal(id, keys)
			if done {
				return resp, err
			}
		} else if lead := s.lead.Load(); lead != raft.None {
			resp := &pb.LeaseTimeToLiveResponse{}
			err := s.forwardLease(ctx, lead, pathLeaseTTL, &pb.LeaseTimeToLiveRequest{ID: id, Keys: keys}, resp)
			if err == nil {
				resp.Header = s.Header()
				resp.Header.Revision = s.Store().Rev()
				return resp, nil
			}
			if err != errForwardRetry {
				return nil, err
			}
		}
		if err := s.waitRetry(ctx, start); err != nil {
			return nil, err
		}
	}
}

func (s *Server) ttlLocal(id int64, keys bool) (*pb.LeaseTimeToLiveResponse, error, bool) {
	le, ok := s.appliedLease(id)
	st := s.Store()
	if !ok {
		return nil, rpctypes.ErrGRPCLeaseNotFound, true
	}
	rem, ok := s.lessor.remaining(id)
	if !ok {
		return nil, nil, false
	}
	ttl := int64(math.Ceil(rem.Seconds()))
	if ttl < 0 {
		ttl = -1
	}
	h := s.Header()
	h.Revision = st.Rev()
	resp := &pb.LeaseTimeToLiveResponse{Header: h, ID: id, TTL: ttl, GrantedTTL: le.TTL}
	if keys {
		resp.Keys = le.Keys
	}
	return resp, nil, true
}

// waitRetry waits a tick (or a leader change) before another attempt, failing
// with etcd's error once the request timeout has passed.
func (s *Server) waitRetry(ctx context.Context, start time.Time) error {
	if time.Since(start) > s.cfg.RequestTimeout {
		return s.timeoutErr(start)
	}
	t := time.NewTimer(s.cfg.TickInterval)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.leaderChanged():
	case <-ctx.Done():
		return ctx.Err()
	case <-s.donec:
		return rpctypes.ErrGRPCStopped
	}
	return nil
}

var errForwardRetry = fmt.Errorf("raftkv: forward: retry")

// forwardLease posts a lease request to the leader's peer endpoint.
func (s *Server) forwardLease(ctx context.Context, lead uint64, path string, req, resp proto.Message) error {
	r, b, err := s.postLeader(ctx, lead, path, req)
	if err != nil {
		return err
	}
	switch r.StatusCode {
	case http.StatusOK:
		return proto.Unmarshal(b, resp)
	case http.StatusNotFound:
		if r.Header.Get(hdrRefused) != "" {
			// The leader does not know us yet (we joined and it has not
			// applied that): ask again.
			return errForwardRetry
		}
		return rpctypes.ErrGRPCLeaseNotFound
	default:
		return errForwardRetry
	}
}

// postLeader posts req to path on the leader's peer URL and returns the
// answer and its body; errForwardRetry when the leader is not known here or
// did not answer.
func (s *Server) postLeader(ctx context.Context, lead uint64, path string, req proto.Message) (*http.Response, []byte, error) {
	m, ok := s.members.get(lead)
	if !ok || len(m.PeerURLs) == 0 {
		return nil, nil, errForwardRetry
	}
	body, err := proto.Marshal(req)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ElectionTimeout()+time.Second)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, m.PeerURLs[0]+path, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	s.tr.setPeerHeaders(hr.Header, m.ID)
	r, err := s.tr.client.Do(hr)
	if err != nil {
		if ctx.Err() != nil && ctx.Err() != context.DeadlineExceeded {
			return nil, nil, ctx.Err()
		}
		return nil, nil, errForwardRetry
	}
	defer r.Body.Close()
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		return nil, nil, errForwardRetry
	}
	return r, b, nil
}

func (s *Server) serveLeaseRenew(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.tr.checkPeer(w, r, false); !ok {
		return
	}
	req := &pb.LeaseKeepAliveRequest{}
	if !readProto(w, r, req) {
		return
	}
	if !s.isLeader() {
		http.Error(w, "not leader", http.StatusServiceUnavailable)
		return
	}
	ttl, err, done := s.renewLocal(req.ID)
	switch {
	case !done:
		http.Error(w, "not leader", http.StatusServiceUnavailable)
	case err != nil:
		http.Error(w, err.Error(), http.StatusNotFound)
	default:
		writeProto(w, &pb.LeaseKeepAliveResponse{ID: req.ID, TTL: ttl})
	}
}

func (s *Server) serveLeaseTTL(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.tr.checkPeer(w, r, false); !ok {
		return
	}
	req := &pb.LeaseTimeToLiveRequest{}
	if !readProto(w, r, req) {
		return
	}
	if !s.isLeader() {
		http.Error(w, "not leader", http.StatusServiceUnavailable)
		return
	}
	resp, err, done := s.ttlLocal(req.ID, req.Keys)
	switch {
	case !done:
		http.Error(w, "not leader", http.StatusServiceUnavailable)
	case err != nil:
		http.Error(w, err.Error(), http.StatusNotFound)
	default:
		writeProto(w, resp)
	}
}

func readProto(w http.ResponseWriter, r *http.Request, m proto.Message) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = proto.Unmarshal(b, m)
	}
	if err != nil {
		http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func writeProto(w http.ResponseWriter, m proto.Message) {
	b, err := proto.Marshal(m)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/protobuf")
	_, _ = w.Write(b)
}
