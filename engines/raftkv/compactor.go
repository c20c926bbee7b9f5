package raftkv

import (
	"context"
	"errors"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"coordlab/engines/raftkv/mvcc"
)

// Auto-compaction (--auto-compaction-mode, --auto-compaction-retention), as
// etcd 3.4's v3compactor: it runs on every member and acts only on the
// leader, proposing an ordinary Compaction through the log.
//
// periodic: every period/10 (at most 6 minutes) it records the current
// revision, keeping the last period/interval+1 of them, so the oldest is the
// revision of one period ago; once a full period has passed since the start
// (then every min(period, 1h)) it compacts to that oldest revision.
//
// revision: every 5 minutes (compactorRevisionInterval) it compacts to the
// current revision minus the retention, unless that is <= 0 or unchanged.

// compactorRevisionInterval is etcd's revInterval; tests shorten it.
var compactorRevisionInterval = 5 * time.Minute

func (s *Server) runCompactor() {
	c := s.cfg
	switch {
	case c.AutoCompactionMode == "revision" && c.AutoCompactionRevisions > 0:
		s.goFunc(func() { s.revisionCompactor(c.AutoCompactionRevisions) })
	case c.AutoCompactionMode != "revision" && c.AutoCompactionRetention > 0:
		s.goFunc(func() { s.periodicCompactor(c.AutoCompactionRetention) })
	}
}

// compactTo proposes the compaction, logging etcd's compactor lines (mode
// "periodic" or "revision"; retention a duration or a revision count).
func (s *Server) compactTo(mode string, rev int64, retention any) bool {
	start := time.Now()
	retKey := "compact-period"
	if mode == "revision" {
		retKey = "revision-compaction-retention"
	}
	s.log.Info("starting auto "+mode+" compaction", "revision", rev, retKey, retention)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	go func() {
		select {
		case <-s.stopc:
			cancel()
		case <-ctx.Done():
		}
	}()
	_, err := s.Propose(ctx, &pb.InternalRaftRequest{Compaction: &pb.CompactionRequest{Revision: rev}})
	if err != nil && !errors.Is(err, mvcc.ErrCompacted) {
		s.log.Warn("failed auto "+mode+" compaction", "revision", rev, retKey, retention, "err", err)
		return false
	}
	s.log.Info("completed auto "+mode+" compaction", "revision", rev, retKey, retention, "took", time.Since(start))
	return true
}

func (s *Server) periodicCompactor(period time.Duration) {
	compactInterval := min(period, time.Hour)
	retry := compactInterval / 10
	retentions := int(period/retry) + 1
	lastSuccess := time.Now()
	base := period
	var revs []int64
	t := time.NewTicker(retry)
	defer t.Stop()
	for {
		revs = append(revs, s.Store().Rev())
		if len(revs) > retentions {
			revs = revs[1:] // revs[0] is the revision of one period ago
		}
		select {
		case <-s.stopc:
			return
		case <-t.C:
		}
		if !s.isLeader() || time.Since(lastSuccess) < base {
			continue
		}
		base = compactInterval
		if s.compactTo("periodic", revs[0], period) {
			lastSuccess = time.Now()
		}
	}
}

func (s *Server) revisionCompactor(retention int64) {
	var prev int64
	s.whileLeaderEvery(compactorRevisionInterval, func() {
		rev := s.Store().Rev() - retention
		if rev > 0 && rev != prev && s.compactTo("revision", rev, retention) {
			prev = rev
		}
	})
}
