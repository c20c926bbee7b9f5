package raftkv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"coordlab/engines/raftkv/mvcc"
)

// Corruption checks, as etcd 3.4's corrupt.go: members compare HashKV (a
// hash of every revision up to one revision) through the peer URLs.
//
// --experimental-initial-corrupt-check: a restarting member, before its
// raft loop starts, hashes its store at its revision and asks every peer
// for its hash at the same revision; a peer with the same compact revision
// and another hash stops the start ("found data inconsistency with peers").
// Peers that cannot answer (down, lagging, compacted past it) are skipped.
//
// --experimental-corrupt-check-time: every interval the leader hashes its
// store, asks the followers, hashes again after a linearizable read, and
// raises the CORRUPT alarm (member 0, as etcd) when its own hash changed at
// the same revision, a follower is ahead of it, or a follower with its
// compact revision has another hash. While CORRUPT is active keys and
// leases can be neither read nor written ("etcdserver: corrupt cluster").

const pathHashKV = "/members/hashkv"

type hashKVRequest struct {
	Revision int64 `json:"revision"`
}

type hashKVReply struct {
	MemberID        uint64 `json:"member_id"`
	Revision        int64  `json:"revision"` // the peer's current revision
	Hash            uint32 `json:"hash"`
	CompactRevision int64  `json:"compact_revision"`
	Error           string `json:"error,omitempty"` // "future" or "compacted"
}

func (t *transport) serveHashKV(w http.ResponseWriter, r *http.Request) {
	var req hashKVRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&req); err != nil {
		http.Error(w, "bad hashkv request", http.StatusBadRequest)
		return
	}
	st := t.s.Store()
	if st == nil {
		http.Error(w, "stopped", http.StatusServiceUnavailable)
		return
	}
	rep := hashKVReply{MemberID: t.s.id, Revision: st.Rev()}
	h, crev, err := st.HashKV(req.Revision)
	rep.Hash, rep.CompactRevision = h, crev
	switch {
	case errors.Is(err, mvcc.ErrFutureRev):
		rep.Error = "future"
	case errors.Is(err, mvcc.ErrCompacted):
		rep.Error = "compacted"
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(rep)
}

type peerHash struct {
	id  uint64
	rep *hashKVReply
	err error
}

// knownMembers is the membership as of the last entry in the raft log: the
// applied one plus the conf changes still to apply (a restarting member
// applies its log only once its loop runs).
func (s *Server) knownMembers() []member {
	ms := map[uint64]member{}
	for _, m := range s.members.list() {
		ms[m.ID] = m
	}
	first, _ := s.ms.FirstIndex()
	last, _ := s.ms.LastIndex()
	if last >= first {
		ents, err := s.ms.Entries(first, last+1, math.MaxUint64)
		if err == nil {
			for _, e := range ents {
				if e.GetType() != raftpb.EntryConfChange {
					continue
				}
				var cc raftpb.ConfChange
				if proto.Unmarshal(e.GetData(), &cc) != nil {
					continue
				}
				switch cc.GetType() {
				case raftpb.ConfChangeAddNode, raftpb.ConfChangeAddLearnerNode:
					var m member
					if json.Unmarshal(cc.GetContext(), &m) == nil && cc.GetNodeId() != 0 {
						m.ID = cc.GetNodeId()
						ms[m.ID] = m
					}
				case raftpb.ConfChangeRemoveNode:
					delete(ms, cc.GetNodeId())
				}
			}
		}
	}
	out := make([]member, 0, len(ms))
	for _, m := range ms {
		out = append(out, m)
	}
	return out
}

// peerHashKVs asks every other member for its hash at rev.
func (s *Server) peerHashKVs(ctx context.Context, rev int64, members []member) []peerHash {
	var out []peerHash
	var mu sync.Mutex
	var wg sync.WaitGroup
	body, _ := json.Marshal(hashKVRequest{Revision: rev})
	for _, m := range members {
		if m.ID == s.id {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ph := peerHash{id: m.ID}
			for _, u := range m.PeerURLs {
				pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				ph.rep, ph.err = postHashKV(pctx, s.tr.client, u, body)
				cancel()
				if ph.err == nil {
					break
				}
			}
			mu.Lock()
			out = append(out, ph)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func postHashKV(ctx context.Context, c *http.Client, u string, body []byte) (*hashKVReply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u+pathHashKV, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s%s: %s", u, pathHashKV, resp.Status)
	}
	var rep hashKVReply
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// initialCorruptCheck is etcd's CheckInitialHashKV.
func (s *Server) initialCorruptCheck() error {
	s.log.Info("starting initial corruption check", "local-member-id", fmt.Sprintf("%x", s.id), "timeout", s.cfg.RequestTimeout)
	rev := s.Store().Rev()
	h, crev, err := s.Store().HashKV(rev)
	if err != nil {
		return fmt.Errorf("%x failed to fetch hash (%v)", s.id, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	mismatch := 0
	for _, p := range s.peerHashKVs(ctx, rev, s.knownMembers()) {
		switch {
		case p.err != nil:
			s.log.Warn("cannot fetch hash from remote peer", "local-member-id", fmt.Sprintf("%x", s.id), "remote-peer-id", fmt.Sprintf("%x", p.id), "err", p.err)
		case p.rep.Error == "future":
			s.log.Warn("cannot fetch hash from slow remote peer", "local-member-id", fmt.Sprintf("%x", s.id), "local-member-revision", rev, "remote-peer-id", fmt.Sprintf("%x", p.id))
		case p.rep.Error == "compacted":
			s.log.Warn("cannot fetch hash from remote peer; local member is behind", "local-member-id", fmt.Sprintf("%x", s.id), "local-member-revision", rev, "remote-peer-id", fmt.Sprintf("%x", p.id))
		case p.rep.Hash != h && p.rep.CompactRevision == crev:
			s.log.Warn("found different hash values from remote peer", "local-member-id", fmt.Sprintf("%x", s.id), "local-member-revision", rev,
				"local-member-compact-revision", crev, "local-member-hash", h, "remote-peer-id", fmt.Sprintf("%x", p.id),
				"remote-peer-revision", p.rep.Revision, "remote-peer-compact-revision", p.rep.CompactRevision, "remote-peer-hash", p.rep.Hash)
			mismatch++
		case p.rep.Hash != h:
			s.log.Warn("found different compact revision values from remote peer", "local-member-id", fmt.Sprintf("%x", s.id), "remote-peer-id", fmt.Sprintf("%x", p.id))
		}
	}
	if mismatch > 0 {
		return fmt.Errorf("%x found data inconsistency with peers (--experimental-initial-corrupt-check): this member's store differs from a peer's at revision %d; "+
			"remove it (etcdctl member remove %x), delete its data dir and add it back", s.id, rev, s.id)
	}
	s.log.Info("initial corruption checking passed; no corruption", "local-member-id", fmt.Sprintf("%x", s.id))
	return nil
}

// monitorKVHash is etcd's monitorKVHash: the leader checks every interval.
func (s *Server) monitorKVHash(every time.Duration) {
	s.log.Info("enabled corruption checking", "local-member-id", fmt.Sprintf("%x", s.id), "interval", every)
	s.whileLeaderEvery(every, func() {
		if err := s.checkHashKV(); err != nil {
			s.log.Debug("check hash kv failed", "err", err)
		}
	})
}

// checkHashKV is etcd's checkHashKV.
func (s *Server) checkHashKV() error {
	// The revision first, then the hash up to it: the store may apply
	// more in between, and the pair must describe one revision.
	st := s.Store()
	rev := st.Rev()
	h, crev, err := st.HashKV(rev)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	go func() {
		select {
		case <-s.stopc:
			cancel()
		case <-ctx.Done():
		}
	}()
	peers := s.peerHashKVs(ctx, rev, s.members.list())
	if err := s.LinearizableRead(ctx); err != nil {
		return err
	}
	st = s.Store()
	rev2 := st.Rev()
	h2, crev2, err := st.HashKV(rev2)
	if err != nil {
		return err
	}
	alarmed := false
	mismatch := func(id uint64, why string, args ...any) {
		s.log.Warn(why, append([]any{"local-member-id", fmt.Sprintf("%x", s.id), "remote-peer-id", fmt.Sprintf("%x", id)}, args...)...)
		if alarmed {
			return
		}
		alarmed = true
		_, err := s.Propose(ctx, &pb.InternalRaftRequest{Alarm: &pb.AlarmRequest{Action: pb.AlarmRequest_ACTIVATE, MemberID: 0, Alarm: pb.AlarmType_CORRUPT}})
		if err != nil {
			s.log.Warn("raising the CORRUPT alarm failed; the next check retries", "err", err)
			alarmed = false
		}
	}
	if h2 != h && rev2 == rev && crev == crev2 {
		mismatch(s.id, "found hash mismatch", "revision", rev, "hash", h, "hash2", h2)
	}
	for _, p := range peers {
		if p.err != nil || p.rep == nil {
			continue
		}
		if p.rep.Revision > rev2 {
			mismatch(p.id, "revision from follower must be less than or equal to leader's", "leader-revision", rev2, "follower-revision", p.rep.Revision)
		}
		if p.rep.CompactRevision > crev2 {
			mismatch(p.id, "compact revision from follower must be less than or equal to leader's", "leader-compact-revision", crev2, "follower-compact-revision", p.rep.CompactRevision)
		}
		if p.rep.Error == "" && p.rep.CompactRevision == crev && p.rep.Hash != h {
			mismatch(p.id, "same compact revision then hashes must match", "revision", rev, "leader-hash", h, "follower-hash", p.rep.Hash)
		}
	}
	return nil
}
