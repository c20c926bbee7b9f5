package v3rpc

import (
	"errors"

	"coordlab/engines/raftkv/mvcc"
)

// storeWatchResponse is one batch from the store's watch hub.
type storeWatchResponse = mvcc.WatchResponse

// storeWatcher wraps one mvcc.Watcher with what the stream needs to reopen
// it on another store: its request and the next revision it owes.
type storeWatcher struct {
	w                       *mvcc.Watcher
	key, end                []byte
	prevKV, noPut, noDelete bool
	nextRev                 int64
}

// openStoreWatcher opens a watcher on b's current store from revision
// start. When start is compacted it returns the compact revision with the
// error.
func openStoreWatcher(b Backend, key, end []byte, start int64, prevKV, noPut, noDelete bool) (*storeWatcher, int64, error) {
	st, err := storeOf(b)
	if err != nil {
		return nil, 0, err
	}
	w, err := st.Watch(mvcc.WatchRequest{Key: key, End: end, StartRev: start, PrevKV: prevKV, NoPut: noPut, NoDelete: noDelete})
	if err != nil {
		var ce *mvcc.CompactedError
		if errors.As(err, &ce) {
			return nil, ce.CompactRevision, err
		}
		if errors.Is(err, mvcc.ErrCompacted) {
			return nil, st.CompactRev(), err
		}
		return nil, 0, err
	}
	return &storeWatcher{w: w, key: key, end: end, prevKV: prevKV, noPut: noPut, noDelete: noDelete, nextRev: start}, 0, nil
}

func (sw *storeWatcher) events() <-chan mvcc.WatchResponse { return sw.w.Chan() }
func (sw *storeWatcher) cancel()                           { sw.w.Cancel() }
func (sw *storeWatcher) requestProgress()                  { sw.w.RequestProgress() }

// delivered records that everything up to rev has been sent.
func (sw *storeWatcher) delivered(rev int64) {
	if rev+1 > sw.nextRev {
		sw.nextRev = rev + 1
	}
}

// next is the first revision not yet delivered.
func (sw *storeWatcher) next() int64 { return sw.nextRev }
