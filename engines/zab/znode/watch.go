package znode

import (
	"slices"

	"coordlab/engines/zab/jute"
)

// WatchEvent is one notification for one connection: the server sends it
// as a WatcherEvent (state SyncConnected) on connection Conn.
type WatchEvent struct {
	Conn ConnID
	Type jute.EventType
	Path string
	Zxid Zxid // the txn that fired it (for SetWatches: the tree's last zxid)
}

type connSet map[ConnID]struct{}

// watchKind is one of the five watch tables.
type watchKind uint8

const (
	watchData       watchKind = iota // one-shot data and exist watches (getData, exists)
	watchChild                       // one-shot child watches (getChildren)
	watchPersistent                  // addWatch persistent: this node's events and its child list changes
	watchRecursive                   // addWatch persistentRecursive: events of this node and all below, no child events
	numWatchKinds
)

type watchKey struct {
	path string
	kind watchKind
}

// watches holds every registered watch. It is part of a Tree but not of
// its snapshot or digest: watches belong to connections, which die with
// the server that holds them.
type watches struct {
	byPath [numWatchKinds]map[string]connSet
	byConn map[ConnID]map[watchKey]struct{}
	count  int
	// scratch for collecting recipients of one trigger
	conns []ConnID
}

func newWatches() watches {
	var w watches
	for i := range w.byPath {
		w.byPath[i] = map[string]connSet{}
	}
	w.byConn = map[ConnID]map[watchKey]struct{}{}
	return w
}

func (w *watches) add(conn ConnID, path string, kind watchKind) {
	if conn == 0 {
		return
	}
	m := w.byPath[kind]
	set := m[path]
	if set == nil {
		set = connSet{}
		m[path] = set
	}
	if _, ok := set[conn]; ok {
		return
	}
	set[conn] = struct{}{}
	keys := w.byConn[conn]
	if keys == nil {
		keys = map[watchKey]struct{}{}
		w.byConn[conn] = keys
	}
	keys[watchKey{path, kind}] = struct{}{}
	w.count++
}

func (w *watches) remove(conn ConnID, path string, kind watchKind) bool {
	set := w.byPath[kind][path]
	if _, ok := set[conn]; !ok {
		return false
	}
	delete(set, conn)
	if len(set) == 0 {
		delete(w.byPath[kind], path)
	}
	if keys := w.byConn[conn]; keys != nil {
		delete(keys, watchKey{path, kind})
		if len(keys) == 0 {
			delete(w.byConn, conn)
		}
	}
	w.count--
	return true
}

func (w *watches) has(conn ConnID, path string, kind watchKind) bool {
	_, ok := w.byPath[kind][path][conn]
	return ok
}

func (w *watches) dropConn(conn ConnID) {
	for k := range w.byConn[conn] {
		set := w.byPath[k.kind][k.path]
		delete(set, conn)
		if len(set) == 0 {
			delete(w.byPath[k.kind], k.path)
		}
		w.count--
	}
	delete(w.byConn, conn)
}

// collectOneShot moves the one-shot watchers of path in kind into w.conns.
func (w *watches) collectOneShot(path string, kind watchKind) {
	set := w.byPath[kind][path]
	if len(set) == 0 {
		return
	}
	for c := range set {
		w.conns = append(w.conns, c)
		if keys := w.byConn[c]; keys != nil {
			delete(keys, watchKey{path, kind})
			if len(keys) == 0 {
				delete(w.byConn, c)
			}
		}
		w.count--
	}
	delete(w.byPath[kind], path)
}

func (w *watches) collectPersistent(path string, kind watchKind) {
	for c := range w.byPath[kind][path] {
		w.conns = append(w.conns, c)
	}
}

// trigger appends the events one change fires, as ZooKeeper's
// WatchManager.triggerWatch does for the data and child tables: one event
// per connection (deduplicated), connections in ascending order.
//
//   - NodeCreated, NodeDataChanged: data watches of path, persistent
//     watches of path, recursive watches of path and its ancestors.
//   - NodeDeleted: as above plus the child watches of path.
//   - NodeChildrenChanged (fired on the parent): child and persistent
//     watches of path; recursive watches never get it.
func (w *watches) trigger(events []WatchEvent, typ jute.EventType, path string, zxid Zxid) []WatchEvent {
	if w.count == 0 {
		return events
	}
	w.conns = w.conns[:0]
	switch typ {
	case jute.EventNodeChildrenChanged:
		w.collectOneShot(path, watchChild)
		w.collectPersistent(path, watchPersistent)
	default:
		w.collectOneShot(path, watchData)
		if typ == jute.EventNodeDeleted {
			w.collectOneShot(path, watchChild)
		}
		w.collectPersistent(path, watchPersistent)
		if len(w.byPath[watchRecursive]) > 0 {
			for p := path; ; p = parentOf(p) {
				w.collectPersistent(p, watchRecursive)
				if p == "/" {
					break
				}
			}
		}
	}
	if len(w.conns) == 0 {
		return events
	}
	slices.Sort(w.conns)
	w.conns = slices.Compact(w.conns)
	for _, c := range w.conns {
		events = append(events, WatchEvent{Conn: c, Type: typ, Path: path, Zxid: zxid})
	}
	return events
}
