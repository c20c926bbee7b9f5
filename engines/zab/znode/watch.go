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

// Watches follow ZooKeeper 3.8's WatchManager: two tables, data (getData,
// exists) and child (getChildren), each holding at most one mode per
// (connection, path). addWatch puts its mode in both tables, and a later
// one-shot registration on the same path replaces it (and the other way
// round), as ZooKeeper before 3.9 does (ZOOKEEPER-4466).
type watchTable uint8

const (
	tableData watchTable = iota
	tableChild
	numTables
)

type watchMode uint8

const (
	modeStandard   watchMode = 1 + iota // one-shot
	modePersistent                      // addWatch PERSISTENT
	modeRecursive                       // addWatch PERSISTENT_RECURSIVE
)

type watchKey struct {
	path  string
	table watchTable
}

// watches holds every registered watch. It is part of a Tree but not of
// its snapshot or digest: watches belong to connections, which die with
// the server that holds them.
type watches struct {
	tables    [numTables]map[string]map[ConnID]watchMode
	byConn    map[ConnID]map[watchKey]struct{}
	count     int
	perConn   [numTables]map[ConnID]int // watches per connection in each table (wchs)
	recursive [numTables]int            // recursive entries per table: ancestors are walked only if > 0
	conns     []ConnID                  // scratch for one trigger
}

func newWatches() watches {
	var w watches
	for i := range w.tables {
		w.tables[i] = map[string]map[ConnID]watchMode{}
		w.perConn[i] = map[ConnID]int{}
	}
	w.byConn = map[ConnID]map[watchKey]struct{}{}
	return w
}

// set registers (or re-registers with another mode) conn's watch.
func (w *watches) set(conn ConnID, path string, table watchTable, mode watchMode) {
	if conn == 0 {
		return
	}
	m := w.tables[table]
	set := m[path]
	if set == nil {
		set = map[ConnID]watchMode{}
		m[path] = set
	}
	old, had := set[conn]
	set[conn] = mode
	if old == modeRecursive {
		w.recursive[table]--
	}
	if mode == modeRecursive {
		w.recursive[table]++
	}
	if had {
		return
	}
	keys := w.byConn[conn]
	if keys == nil {
		keys = map[watchKey]struct{}{}
		w.byConn[conn] = keys
	}
	keys[watchKey{path, table}] = struct{}{}
	w.perConn[table][conn]++
	w.count++
}

func (w *watches) mode(conn ConnID, path string, table watchTable) watchMode {
	return w.tables[table][path][conn]
}

func (w *watches) del(conn ConnID, path string, table watchTable) bool {
	set := w.tables[table][path]
	mode, ok := set[conn]
	if !ok {
		return false
	}
	delete(set, conn)
	if len(set) == 0 {
		delete(w.tables[table], path)
	}
	if mode == modeRecursive {
		w.recursive[table]--
	}
	if w.perConn[table][conn]--; w.perConn[table][conn] <= 0 {
		delete(w.perConn[table], conn)
	}
	if keys := w.byConn[conn]; keys != nil {
		delete(keys, watchKey{path, table})
		if len(keys) == 0 {
			delete(w.byConn, conn)
		}
	}
	w.count--
	return true
}

func (w *watches) dropConn(conn ConnID) {
	for k := range w.byConn[conn] {
		w.del(conn, k.path, k.table)
	}
	delete(w.byConn, conn)
}

// trigger appends the events one change fires in one table, as
// ZooKeeper's WatchManager.triggerWatch does: watches on path itself fire
// (one-shot ones are removed), recursive watches on path or an ancestor
// fire for every type but NodeChildrenChanged. Each connection gets one
// event, in ascending ConnID order; connections already notified by
// events[suppress:] (the data table's pass for the same NodeDeleted) are
// skipped. suppress < 0 skips nothing.
func (w *watches) trigger(events []WatchEvent, table watchTable, typ jute.EventType, path string, zxid Zxid, suppress int) []WatchEvent {
	m := w.tables[table]
	if len(m) == 0 {
		return events
	}
	w.conns = w.conns[:0]
	for p, isParent := path, false; ; p, isParent = parentOf(p), true {
		for conn, mode := range m[p] {
			switch {
			case mode == modeRecursive:
				if typ != jute.EventNodeChildrenChanged {
					w.conns = append(w.conns, conn)
				}
			case !isParent:
				w.conns = append(w.conns, conn)
			}
		}
		if w.recursive[table] == 0 || p == "/" {
			break
		}
	}
	for conn, mode := range m[path] {
		if mode == modeStandard {
			w.del(conn, path, table)
		}
	}
	if len(w.conns) == 0 {
		return events
	}
	slices.Sort(w.conns)
	w.conns = slices.Compact(w.conns)
	n := len(events)
next:
	for _, c := range w.conns {
		if suppress >= 0 {
			for _, e := range events[suppress:n] {
				if e.Conn == c {
					continue next
				}
			}
		}
		events = append(events, WatchEvent{Conn: c, Type: typ, Path: path, Zxid: zxid})
	}
	return events
}
