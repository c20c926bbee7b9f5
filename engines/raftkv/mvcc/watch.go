package mvcc

import (
	"fmt"
	"sync"
	"sync/atomic"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"
)

// WatchRequest says what a watcher watches.
type WatchRequest struct {
	// Key and End are etcd's key and range_end: End nil watches Key alone, "\x00" every
	// key >= Key, prefix+1 a prefix.
	Key, End []byte
	// StartRev is the first revision whose events are delivered; <= 0 means the next
	// revision (current + 1). StartRev <= CompactRev fails with a *CompactedError.
	StartRev int64
	// PrevKV asks for the previous key-value pair in each event (when it is still in the
	// store; a compacted previous version is left out, as etcd does).
	PrevKV bool
	// NoPut and NoDelete drop put and delete events (etcd's NOPUT and NODELETE filters).
	NoPut, NoDelete bool
}

// WatchResponse is one batch of events for one watcher.
//
//   - Events non-empty: the events of one or more whole revisions (the events of one txn
//     are never split across batches), in revision order. Revision is the highest
//     revision the watcher has now seen (>= the last event's ModRevision): no event for
//     this watcher exists between its events and Revision.
//   - Events empty, CompactRevision 0: a progress notification; the watcher has been sent
//     every event up to Revision, the store revision when it was made.
//   - CompactRevision != 0: the watcher fell behind a compaction (its next revision was
//     compacted); this is its last batch and its channel closes after it.
type WatchResponse struct {
	Events          []*mvccpb.Event
	Revision        int64
	CompactRevision int64
}

// event is an applied change as the hub keeps it; prev is the key's value before it.
type event struct {
	typ  mvccpb.Event_EventType
	kv   *mvccpb.KeyValue
	prev *mvccpb.KeyValue
}

type revEvents struct {
	rev    int64
	events []event
}

// hub is the store's watch hub. Apply (under the exclusive store lock) appends each
// txn's events to a ring of the most recent revisions and wakes the watchers they match;
// it never blocks on a watcher. Each watcher's goroutine pulls its next batch itself,
// under the shared lock: from the ring when its next revision is still there, else from
// the key bucket (catch-up). So a slow consumer costs Apply nothing and loses nothing.
// All fields are guarded by Store.mu.
type hub struct {
	s        *Store
	watchers map[int64]*Watcher
	nextID   int64
	// ring holds the events of revisions [ringFirst, ringFirst+ringLen), contiguous
	// (every revision is one write txn), in a circular buffer of Config.WatchCacheRevs.
	ring      []revEvents
	ringHead  int
	ringLen   int
	ringFirst int64
}

func (h *hub) init(s *Store) {
	h.s = s
	h.watchers = make(map[int64]*Watcher)
	h.ring = make([]revEvents, s.cfg.WatchCacheRevs)
}

// active reports whether Apply must record events.
func (h *hub) active() bool { return len(h.watchers) > 0 }

// publish records a finished txn's events and wakes the watchers they concern.
func (h *hub) publish(w *wtxn) {
	if !w.track {
		// Nobody watched while this txn ran: the ring would have a hole, so empty it (and
		// let go of its events). Watchers created later read these revisions from bbolt.
		if h.ringLen > 0 {
			clear(h.ring)
			h.ringLen, h.ringHead = 0, 0
		}
		return
	}
	if h.ringLen > 0 && h.ringFirst+int64(h.ringLen) != w.rev {
		panic(fmt.Sprintf("mvcc: watch ring holds revisions %d..%d, next is %d",
			h.ringFirst, h.ringFirst+int64(h.ringLen)-1, w.rev))
	}
	if h.ringLen == 0 {
		h.ringFirst = w.rev
	}
	n := len(h.ring)
	if h.ringLen == n { // full: drop the oldest
		h.ring[h.ringHead] = revEvents{}
		h.ringHead = (h.ringHead + 1) % n
		h.ringLen--
		h.ringFirst++
	}
	h.ring[(h.ringHead+h.ringLen)%n] = revEvents{rev: w.rev, events: w.events}
	h.ringLen++
	for _, wt := range h.watchers {
		switch {
		case wt.nextRev > w.rev: // starts later
		case wt.nextRev < w.rev: // behind: its goroutine is working; a kick is harmless
			wt.wake()
		case wt.matches(w.events):
			wt.wake()
		default:
			// Synced, and nothing here for it: move it past this revision, so an idle
			// watcher never falls behind the ring or a compaction over other keys' writes.
			// nextRev is otherwise touched only under the shared lock; we hold it exclusively.
			wt.nextRev = w.rev + 1
		}
	}
}

// ringGet returns the events of rev if the ring holds them.
func (h *hub) ringGet(rev int64) (revEvents, bool) {
	if h.ringLen == 0 || rev < h.ringFirst || rev >= h.ringFirst+int64(h.ringLen) {
		return revEvents{}, false
	}
	return h.ring[(h.ringHead+int(rev-h.ringFirst))%len(h.ring)], true
}

// closeAll stops every watcher and returns them so the caller can wait for them
// without holding the store lock.
func (h *hub) closeAll() []*Watcher {
	ws := make([]*Watcher, 0, len(h.watchers))
	for id, w := range h.watchers {
		w.halt(ErrClosed)
		ws = append(ws, w)
		delete(h.watchers, id)
	}
	return ws
}

// Watcher delivers the events of a key, range or prefix from a start revision: first
// history replayed from the store, then live events, every event once, in revision order,
// without gaps. It owns one goroutine, which Cancel (or Store.Close) stops and waits for.
type Watcher struct {
	s                       *Store
	id                      int64
	key, end                []byte
	prevKV, noPut, noDelete bool

	ch       chan WatchResponse
	kick     chan struct{} // capacity 1: "there may be something new"
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	progress atomic.Bool
	err      error // why the watcher ended; written before stop closes

	// nextRev is the next revision to deliver. The goroutine reads and writes it under the
	// shared store lock (nextBatch); publish, under the exclusive lock, moves it past
	// revisions with nothing for a synced watcher.
	nextRev int64
}

// Watch starts a watcher. Its goroutine stops on Cancel, on Store.Close (Err is then
// ErrClosed) and after a compacted batch (Err is then a *CompactedError).
func (s *Store) Watch(req WatchRequest) (*Watcher, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if len(s.hub.watchers) >= s.cfg.MaxWatchers {
		return nil, fmt.Errorf("%w: %d open (Config.MaxWatchers)", ErrTooManyWatchers, len(s.hub.watchers))
	}
	start := req.StartRev
	if start <= 0 {
		start = s.rev + 1
	}
	if start <= s.compactRev {
		return nil, &CompactedError{CompactRevision: s.compactRev}
	}
	s.hub.nextID++
	w := &Watcher{
		s:        s,
		id:       s.hub.nextID,
		key:      append([]byte(nil), req.Key...),
		end:      normEnd(append([]byte(nil), req.End...)),
		prevKV:   req.PrevKV,
		noPut:    req.NoPut,
		noDelete: req.NoDelete,
		ch:       make(chan WatchResponse, s.cfg.WatchChanSize),
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		nextRev:  start,
	}
	s.hub.watchers[w.id] = w
	go w.run()
	return w, nil
}

// Chan is the channel of batches. It is closed when the watcher ends.
func (w *Watcher) Chan() <-chan WatchResponse { return w.ch }

// Err says why the channel closed: nil after Cancel, ErrClosed after Store.Close, a
// *CompactedError after falling behind a compaction. Valid once Chan is closed.
func (w *Watcher) Err() error {
	<-w.done
	return w.err
}

// RequestProgress asks for a progress notification: an empty batch carrying the store
// revision, sent once the watcher has been sent every event up to that revision.
func (w *Watcher) RequestProgress() {
	w.progress.Store(true)
	w.wake()
}

// Cancel stops the watcher and waits for its goroutine; its channel is then closed.
// It may be called more than once, from any goroutine, without draining Chan.
func (w *Watcher) Cancel() {
	w.halt(nil)
	<-w.done
	w.s.mu.Lock()
	delete(w.s.hub.watchers, w.id)
	w.s.mu.Unlock()
}

func (w *Watcher) halt(err error) {
	w.stopOnce.Do(func() {
		w.err = err
		close(w.stop)
	})
}

func (w *Watcher) wait() { <-w.done }

func (w *Watcher) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *Watcher) send(r WatchResponse) bool {
	select {
	case w.ch <- r:
		return true
	case <-w.stop:
		return false
	}
}

func (w *Watcher) run() {
	defer close(w.done)
	defer close(w.ch)
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		batch, caughtUp, err := w.s.nextBatch(w)
		if err != nil {
			if ce, ok := err.(*CompactedError); ok {
				w.send(WatchResponse{CompactRevision: ce.CompactRevision, Revision: ce.CompactRevision})
				w.halt(ce)
				w.s.mu.Lock()
				delete(w.s.hub.watchers, w.id)
				w.s.mu.Unlock()
				return
			}
			w.halt(err)
			return
		}
		if len(batch.Events) > 0 {
			if !w.send(batch) {
				return
			}
			continue
		}
		if !caughtUp {
			continue // a stretch of revisions with nothing for this watcher
		}
		if w.progress.Swap(false) {
			if !w.send(batch) {
				return
			}
			continue
		}
		select {
		case <-w.kick:
		case <-w.stop:
			return
		}
	}
}

// nextBatch builds w's next batch from w.nextRev under the shared store lock: events from
// the ring if it still holds that revision, else from the key bucket; at most
// Config.WatchBatchMaxRevs revisions. caughtUp reports that w has seen every revision up
// to the store revision (batch.Revision is then that revision).
func (s *Store) nextBatch(w *Watcher) (batch WatchResponse, caughtUp bool, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return batch, false, ErrClosed
	}
	if w.nextRev > s.rev {
		return WatchResponse{Revision: s.rev}, true, nil
	}
	hi := min(s.rev, w.nextRev+int64(s.cfg.WatchBatchMaxRevs)-1)
	rd := revReader{s: s}
	defer rd.close()
	if _, ok := s.hub.ringGet(w.nextRev); ok {
		for rev := w.nextRev; rev <= hi; rev++ {
			re, ok := s.hub.ringGet(rev)
			if !ok {
				panic(fmt.Sprintf("mvcc: watch ring lost revision %d while holding %d..%d", rev, w.nextRev, hi))
			}
			for _, ev := range re.events {
				if pe := w.toEvent(ev); pe != nil {
					batch.Events = append(batch.Events, pe)
				}
			}
		}
	} else {
		if w.nextRev <= s.compactRev {
			return batch, false, &CompactedError{CompactRevision: s.compactRev}
		}
		if err := s.scanEvents(&rd, w, hi, &batch); err != nil {
			return batch, false, err
		}
	}
	w.nextRev = hi + 1
	batch.Revision = hi
	return batch, hi == s.rev, nil
}

// scanEvents appends w's events of revisions [w.nextRev, hi] read from the key bucket.
func (s *Store) scanEvents(rd *revReader, w *Watcher, hi int64, batch *WatchResponse) error {
	b, err := rd.bucket()
	if err != nil {
		return err
	}
	c := b.Cursor()
	seek := appendRevKey(nil, Revision{Main: w.nextRev}, false)
	for k, v := c.Seek(seek); k != nil; k, v = c.Next() {
		r, tomb, err := parseRevKey(k)
		if err != nil {
			return err
		}
		if r.Main > hi {
			break
		}
		kv := new(mvccpb.KeyValue)
		if err := proto.Unmarshal(v, kv); err != nil {
			return fmt.Errorf("%w: revision %d_%d: %v", ErrCorrupt, r.Main, r.Sub, err)
		}
		if !inRange(kv.Key, w.key, w.end) {
			continue
		}
		ev := event{typ: mvccpb.Event_PUT, kv: kv}
		if tomb {
			ev.typ = mvccpb.Event_DELETE
			ev.kv = &mvccpb.KeyValue{Key: kv.Key, ModRevision: r.Main}
		}
		if w.prevKV {
			if ki := s.idx.get(kv.Key); ki != nil {
				prev, err := rd.kvAt(ki, r.Main-1)
				if err != nil {
					return err
				}
				ev.prev = prev
			}
		}
		if pe := w.toEvent(ev); pe != nil {
			batch.Events = append(batch.Events, pe)
		}
	}
	return nil
}

// matches reports whether any of evs is for w (after its filters).
func (w *Watcher) matches(evs []event) bool {
	for _, ev := range evs {
		if inRange(ev.kv.Key, w.key, w.end) &&
			!(ev.typ == mvccpb.Event_PUT && w.noPut) && !(ev.typ == mvccpb.Event_DELETE && w.noDelete) {
			return true
		}
	}
	return false
}

// toEvent filters ev for w and shapes it as an mvccpb.Event (nil when filtered out).
func (w *Watcher) toEvent(ev event) *mvccpb.Event {
	if !inRange(ev.kv.Key, w.key, w.end) {
		return nil
	}
	if (ev.typ == mvccpb.Event_PUT && w.noPut) || (ev.typ == mvccpb.Event_DELETE && w.noDelete) {
		return nil
	}
	out := &mvccpb.Event{Type: ev.typ, Kv: ev.kv}
	if w.prevKV && ev.prev != nil {
		out.PrevKv = ev.prev
	}
	return out
}
