package zkapi

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/go-zookeeper/zk"

	"coordlab/client"
)

type nodeState struct {
	data    string
	version int32
	mzxid   int64
	czxid   int64
}

// watcher follows the direct children of one znode with one-shot child and
// data watches. It runs on one goroutine, which owns all its fields.
type watcher struct {
	c        *Client
	dir      string
	prefix   string
	out      chan<- client.WatchEvent
	known    map[string]nodeState // child name -> last state read
	children <-chan zk.Event
	data     map[string]<-chan zk.Event
}

// Watch follows the znodes directly under the prefix's node (key prefix
// "w/" is znode /coordlab/w). fromVersion > 0 asks for every change with a
// zxid >= fromVersion: ZooKeeper keeps no history, so unless nothing under the
// prefix changed since then, the watch starts with an EventCompacted error
// instead of a silent gap.
func (c *Client) Watch(ctx context.Context, prefix string, fromVersion int64) (<-chan client.WatchEvent, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, client.Definite("watch", prefix, c.cfg.Node, client.ErrClosed)
	}
	if fromVersion < 0 {
		return nil, client.Definite("watch", prefix, c.cfg.Node, fmt.Errorf("%w: fromVersion %d: want >= 0", client.ErrBadArgument, fromVersion))
	}
	w := &watcher{c: c, dir: c.path(strings.TrimSuffix(prefix, "/")), prefix: prefix, known: map[string]nodeState{}, data: map[string]<-chan zk.Event{}}
	var first []client.WatchEvent
	err := c.do(ctx, c.main, "watch", prefix, false, func() error {
		if err := c.ensure(c.main, w.dir); err != nil {
			return err
		}
		evs, pzxid, err := w.relist()
		if err != nil {
			return err
		}
		if fromVersion > 0 {
			newest := pzxid
			for _, n := range w.known {
				newest = max(newest, n.mzxid)
			}
			if newest >= fromVersion {
				first = []client.WatchEvent{{Type: client.EventCompacted, Revision: newest + 1,
					Err: fmt.Errorf("%w: zookeeper keeps no history: %q changed at zxid %d, after the requested start %d", client.ErrCompacted, prefix, newest, fromVersion)}}
			}
		}
		_ = evs // the initial state is not a change
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make(chan client.WatchEvent, 64)
	w.out = out
	c.wg.Go(func() {
		defer close(out)
		if len(first) > 0 {
			w.send(ctx, first...)
			return
		}
		w.run(ctx)
	})
	return out, nil
}

func (w *watcher) key(name string) string { return strings.TrimSuffix(w.prefix, "/") + "/" + name }

func (w *watcher) send(ctx context.Context, evs ...client.WatchEvent) bool {
	for _, ev := range evs {
		select {
		case w.out <- ev:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// relist re-reads the children (re-arming the child watch), reads new ones
// (arming their data watches) and returns the creates and deletes it saw,
// and the parent's pzxid.
func (w *watcher) relist() ([]client.WatchEvent, int64, error) {
	names, st, ch, err := w.c.main.c.ChildrenW(w.dir)
	if err != nil {
		return nil, 0, err
	}
	w.children = ch
	present := map[string]bool{}
	var evs []client.WatchEvent
	for _, n := range names {
		present[n] = true
		if _, ok := w.known[n]; ok {
			continue
		}
		ev, ok, err := w.read(n)
		if err != nil {
			return nil, 0, err
		}
		if ok {
			ev.Created = ev.CreateVersion == ev.Version // created by the txn of this version
			evs = append(evs, ev)
		}
	}
	var deleted []string
	for n := range w.known {
		if !present[n] {
			deleted = append(deleted, n)
		}
	}
	sort.Strings(deleted)
	for _, n := range deleted {
		// No PrevValue: sets between our last read and the delete may have
		// been coalesced, so the last data read is not surely the value deleted.
		ev := client.WatchEvent{Type: client.EventDelete, Key: w.key(n), CreateVersion: w.known[n].czxid}
		// No Version either: ZooKeeper reports no zxid for a delete, and the
		// parent's pzxid may belong to another child's create and delete
		// between two listings.
		evs = append(evs, ev)
		delete(w.known, n)
		delete(w.data, n)
	}
	return evs, st.Pzxid, nil
}

// read reads child n, arming its data watch, and returns it as a put event.
// ok is false when the node is gone.
func (w *watcher) read(n string) (client.WatchEvent, bool, error) {
	data, st, ch, err := w.c.main.c.GetW(w.dir + "/" + n)
	if errors.Is(err, zk.ErrNoNode) {
		return client.WatchEvent{}, false, nil
	}
	if err != nil {
		return client.WatchEvent{}, false, err
	}
	w.data[n] = ch
	prev, had := w.known[n]
	w.known[n] = nodeState{data: string(data), version: st.Version, mzxid: st.Mzxid, czxid: st.Czxid}
	ev := client.WatchEvent{Type: client.EventPut, Key: w.key(n), Value: string(data), Version: st.Mzxid, CreateVersion: st.Czxid, Revision: st.Mzxid}
	if had && st.Version == prev.version+1 {
		p := prev.data // exactly one change since the last read: its prev is known
		ev.PrevValue = &p
	}
	return ev, true, nil
}

// poll collects the notifications that fired: it waits for one when block
// is set, then takes every other one already there. stop is set when the
// watch must end (ctx done, session expired, watches dropped); the error
// event has then been sent.
func (w *watcher) poll(ctx context.Context, block bool) (fired map[string]zk.Event, stop bool) {
	names := []string{""} // "" = the child watch
	// Session expiry needs no case of its own: go-zk then ends every watch
	// with EventNotWatching and ErrSessionExpired (and reconnects the
	// client's connection with a new session, which later watches use).
	cases := []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(w.children)},
	}
	for n, ch := range w.data {
		names = append(names, n)
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
	}
	fired = map[string]zk.Event{}
	for {
		if !block || len(fired) > 0 {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectDefault})
		}
		i, v, ok := reflect.Select(cases)
		if !block || len(fired) > 0 {
			cases = cases[:len(cases)-1]
			if i == len(cases) { // default: nothing else ready
				return fired, false
			}
		}
		if i == 0 {
			return nil, true
		}
		var ev zk.Event
		if ok {
			ev = v.Interface().(zk.Event)
		}
		if !ok || ev.Type == zk.EventNotWatching || ev.Err != nil {
			err := fmt.Errorf("%w: watches dropped", client.ErrConnLost)
			if ev.Err != nil {
				err = fmt.Errorf("watches dropped: %w", ev.Err)
			}
			w.send(ctx, client.WatchEvent{Type: client.EventError, Err: w.c.classify("watch", w.prefix, err, false)})
			return nil, true
		}
		fired[names[i-1]] = ev
		if names[i-1] == "" {
			w.children = nil
		} else {
			delete(w.data, names[i-1])
		}
		cases[i].Chan = reflect.ValueOf((<-chan zk.Event)(nil)) // consumed: one-shot
	}
}

// maxRounds bounds how many times one batch re-reads before emitting, under
// a steady stream of changes.
const maxRounds = 16

func (w *watcher) run(ctx context.Context) {
	for {
		fired, stop := w.poll(ctx, true)
		if stop {
			return
		}
		// Re-read what fired, then take the notifications that arrived
		// meanwhile, until none is pending. ZooKeeper sends a change's
		// notification before the reply to any read that reflects it, so
		// once nothing is pending every change up to the newest zxid read
		// has been read, and later batches only hold newer versions: the
		// batch can be emitted sorted by version.
		var evs []client.WatchEvent
		for round := 0; len(fired) > 0 && round < maxRounds; round++ {
			more, err := w.reread(fired)
			if err != nil {
				w.send(ctx, client.WatchEvent{Type: client.EventError, Err: w.c.classify("watch", w.prefix, err, false)})
				return
			}
			evs = append(evs, more...)
			if fired, stop = w.poll(ctx, false); stop {
				return
			}
		}
		sortBatch(evs)
		if !w.send(ctx, evs...) {
			return
		}
		if len(fired) > 0 { // bound reached: these go first in the next batch
			more, err := w.reread(fired)
			if err != nil {
				w.send(ctx, client.WatchEvent{Type: client.EventError, Err: w.c.classify("watch", w.prefix, err, false)})
				return
			}
			if !w.send(ctx, more...) {
				return
			}
		}
	}
}

// sortBatch orders a batch by version. A delete has none (0): it goes just
// before the next event of its key in the batch (a re-create), else last.
func sortBatch(evs []client.WatchEvent) {
	key := make([]float64, len(evs))
	var top int64
	for _, e := range evs {
		top = max(top, e.Version)
	}
	for i, e := range evs {
		key[i] = float64(e.Version)
		if e.Version != 0 {
			continue
		}
		key[i] = float64(top) + 0.5
		for _, f := range evs[i+1:] {
			if f.Key == e.Key && f.Version != 0 {
				key[i] = float64(f.Version) - 0.5
				break
			}
		}
	}
	idx := make([]int, len(evs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return key[idx[a]] < key[idx[b]] })
	out := make([]client.WatchEvent, len(evs))
	for i, j := range idx {
		out[i] = evs[j]
	}
	copy(evs, out)
}

// reread reads the nodes whose watches fired (re-arming them) and returns
// the changes found.
func (w *watcher) reread(fired map[string]zk.Event) ([]client.WatchEvent, error) {
	var evs []client.WatchEvent
	relist := false
	names := make([]string, 0, len(fired))
	for n := range fired {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if n == "" {
			relist = true
			continue
		}
		if fired[n].Type == zk.EventNodeDeleted {
			// Forget it, so the relist sees a re-created node as new (with
			// its own data watch) instead of keeping the deleted one's.
			if old, ok := w.known[n]; ok {
				evs = append(evs, client.WatchEvent{Type: client.EventDelete, Key: w.key(n), CreateVersion: old.czxid})
				delete(w.known, n)
			}
			relist = true
			continue
		}
		e, present, err := w.read(n)
		if err != nil {
			return nil, err
		}
		if !present {
			relist = true
			continue
		}
		evs = append(evs, e)
	}
	if relist || w.children == nil {
		more, _, err := w.relist()
		if err != nil {
			return nil, err
		}
		evs = append(evs, more...)
	}
	return evs, nil
}
