package raftkv

import (
	"context"
	"encoding/binary"
	"os"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/raft/v3"
)

// readBatch is a set of linearizable reads served by one ReadIndex round:
// every reader that arrives while a round is in flight joins the next batch,
// so concurrent readers share rounds (etcd's linearizableReadLoop).
type readBatch struct {
	done chan struct{}
	err  error
}

func (b *readBatch) finish(err error) {
	b.err = err
	close(b.done)
}

type pendingRead struct {
	b     *readBatch
	index uint64
}

// readLoopState is owned by the raft loop.
type readLoopState struct {
	inflight *readBatch
	rctx     uint64
	ticks    int
	counter  uint64
	reissue  bool // a leader appeared while a round was in flight
}

func (s *Server) maybeStartRead() {
	if s.reads.inflight != nil {
		return
	}
	s.readMu.Lock()
	b := s.nextRead
	s.nextRead = nil
	s.readMu.Unlock()
	if b == nil {
		return
	}
	s.reads.inflight = b
	s.issueReadIndex()
}

func (s *Server) issueReadIndex() {
	s.reads.counter++
	s.reads.rctx = s.reads.counter
	s.reads.ticks = 0
	var rctx [8]byte
	binary.BigEndian.PutUint64(rctx[:], s.reads.rctx)
	s.rn.ReadIndex(rctx[:])
	s.metrics.readIndexRounds.Inc()
}

// readTick re-issues a ReadIndex that got no answer (dropped for want of a
// leader, or lost on the way).
func (s *Server) readTick() {
	if s.reads.inflight == nil {
		return
	}
	s.reads.ticks++
	if s.reads.ticks >= readRetryTicks {
		s.issueReadIndex()
	}
}

func (s *Server) onReadStates(rss []raft.ReadState) {
	for _, rs := range rss {
		if s.reads.inflight == nil || len(rs.RequestCtx) != 8 || binary.BigEndian.Uint64(rs.RequestCtx) != s.reads.rctx {
			continue
		}
		b := s.reads.inflight
		s.reads.inflight = nil
		// Checked and queued under readWaitMu, which setApplied holds while it
		// advances the applied index, so no completion is missed.
		s.readWaitMu.Lock()
		if s.appliedIndex.Load() >= rs.Index {
			b.finish(nil)
		} else {
			s.readWaiting = append(s.readWaiting, pendingRead{b: b, index: rs.Index})
		}
		s.readWaitMu.Unlock()
	}
	s.maybeStartRead()
}

// setApplied advances the applied index (apply thread) and releases the reads
// whose index is now applied.
func (s *Server) setApplied(index uint64) {
	s.readWaitMu.Lock()
	defer s.readWaitMu.Unlock()
	if index <= s.appliedIndex.Load() {
		return // entries below a store restored from a snapshot: already in it
	}
	s.appliedIndex.Store(index)
	if len(s.readWaiting) == 0 {
		return
	}
	keep := s.readWaiting[:0]
	for _, p := range s.readWaiting {
		if p.index <= index {
			p.b.finish(nil)
		} else {
			keep = append(keep, p)
		}
	}
	s.readWaiting = keep
}

func (s *Server) failInflightRead(err error) {
	if b := s.reads.inflight; b != nil {
		s.reads.inflight = nil
		b.finish(err)
	}
}

func (s *Server) failReads(err error) {
	s.failInflightRead(err)
	s.readWaitMu.Lock()
	for _, p := range s.readWaiting {
		p.b.finish(err)
	}
	s.readWaiting = nil
	s.readWaitMu.Unlock()
}

// LinearizableRead returns once the local store has applied everything that was
// committed when it was called.
func (s *Server) LinearizableRead(ctx context.Context) error {
	start := time.Now()
	s.readMu.Lock()
	b := s.nextRead
	if b == nil {
		b = &readBatch{done: make(chan struct{})}
		s.nextRead = b
	}
	s.readMu.Unlock()
	select {
	case s.readNotify <- struct{}{}:
	default:
	}
	timer := time.NewTimer(s.cfg.RequestTimeout)
	defer timer.Stop()
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		if ctx.Err() == context.DeadlineExceeded {
			return s.timeoutErr(start)
		}
		return ctx.Err()
	case <-timer.C:
		return s.timeoutErr(start)
	case <-s.donec:
		return rpctypes.ErrGRPCStopped
	}
}

func statFile(path string) (os.FileInfo, error) { return os.Stat(path) }
