package znode

import (
	"slices"
	"strings"

	"coordlab/engines/zab/jute"
)

// node is one znode. stat.Cversion holds the number of children ever
// created here (what ZooKeeper stores, and the sequential suffix); clients
// see it translated by fullStat. Stat.DataLength and Stat.NumChildren are
// filled when a Stat is handed out.
type node struct {
	data     []byte
	acl      []jute.ACL
	stat     jute.Stat
	kind     NodeKind
	ttl      int64 // KindTTL only, ms
	children map[string]struct{}
}

// fullStat is the Stat clients see, as ZooKeeper's DataNode.copyStat makes
// it: cversion is reported as 2*creates - numChildren (every child create
// and delete counts once), and containers and TTL nodes report
// ephemeralOwner 0.
func (n *node) fullStat() jute.Stat {
	s := n.stat
	s.DataLength = int32(len(n.data))
	s.NumChildren = int32(len(n.children))
	s.Cversion = n.stat.Cversion*2 - s.NumChildren
	if n.kind == KindContainer || n.kind == KindTTL {
		s.EphemeralOwner = 0
	}
	return s
}

// Tree is the znode tree with its sessions and watches. See the package
// doc for the contract; the zero value is not usable, call New.
type Tree struct {
	nodes      map[string]*node
	sessions   map[SessionID]int32 // id -> timeout ms
	ephemerals map[SessionID]map[string]struct{}
	lastZxid   Zxid
	dataSize   int64 // sum of path and data lengths, for mntr

	w watches
	p pending

	events []WatchEvent // reused by Apply

	extendedTypes bool // TTL nodes allowed (SetExtendedTypes)
}

// SetExtendedTypes allows TTL nodes, as ZooKeeper's
// zookeeper.extendedTypesEnabled system property: without it (the
// default) a create with a TTL mode is ZUNIMPLEMENTED. It is the leader's
// setting that counts (Prepare runs there), as in ZooKeeper.
func (t *Tree) SetExtendedTypes(on bool) { t.extendedTypes = on }

// New returns a tree holding only "/", "/zookeeper", "/zookeeper/quota"
// and "/zookeeper/config", with zero Stats, as a fresh ZooKeeper has.
func New() *Tree {
	t := &Tree{
		nodes:      map[string]*node{},
		sessions:   map[SessionID]int32{},
		ephemerals: map[SessionID]map[string]struct{}{},
		w:          newWatches(),
		p:          newPending(),
	}
	open := jute.OpenACLUnsafe()
	for _, p := range []string{"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"} {
		// As ZooKeeper's DataTree: empty data, not null (zkCli's get
		// prints an empty line).
		t.nodes[p] = &node{data: []byte{}, acl: open, kind: KindPersistent}
		if p != "/" {
			t.nodes[parentOf(p)].addChild(baseOf(p))
		}
		t.dataSize += int64(len(p))
	}
	// As ZooKeeper's DataTree.addConfigNode leaves it: readable by all,
	// aversion -1 (checked against a live 3.8.0).
	t.nodes["/zookeeper/config"].acl = []jute.ACL{{Perms: jute.PermRead, ID: jute.WorldAnyone}}
	t.nodes["/zookeeper/config"].stat.Aversion = -1
	return t
}

// SetConfigNode sets /zookeeper/config to the ensemble's membership as
// ZooKeeper's ZKDatabase.initConfigInZKDatabase does when a member starts
// or loads a snapshot: data, dataVersion -1, mzxid the config version, mtime
// now (ms). It is local state, not a txn: every member sets it from its own
// configuration, and no watch fires (none can be set before it runs).
func (t *Tree) SetConfigNode(data []byte, version int64, mtime int64) {
	n := t.nodes[ConfigPath]
	if n == nil {
		return
	}
	t.dataSize += int64(len(data) - len(n.data))
	n.data = append([]byte{}, data...)
	n.stat.Version = -1
	n.stat.Mzxid = version
	n.stat.Mtime = mtime
}

// ConfigPath is the znode holding the ensemble's membership.
const ConfigPath = "/zookeeper/config"

func (n *node) addChild(name string) {
	if n.children == nil {
		n.children = map[string]struct{}{}
	}
	n.children[name] = struct{}{}
}

// LastZxid is the zxid of the last applied txn (0 for a fresh tree).
func (t *Tree) LastZxid() Zxid { return t.lastZxid }

// NodeCount is the number of znodes, "/" and /zookeeper included.
func (t *Tree) NodeCount() int { return len(t.nodes) }

// ApproximateDataSize is the sum of path and data lengths (mntr's
// zk_approximate_data_size).
func (t *Tree) ApproximateDataSize() int64 { return t.dataSize }

// WatchSummary is what ZooKeeper 3.8's wchs reports: connections with a
// data watch, paths with one, and data watches. DataTree.getWatchesSummary
// summarises the data watch table only (child watches are left out, as
// checked against a live 3.8); mntr's watch count has both.
func (t *Tree) WatchSummary() (conns, paths, total int) {
	data := t.w.tables[tableData]
	total = 0
	for _, set := range data {
		total += len(set)
	}
	return len(t.w.perConn[tableData]), len(data), total
}

// DataWatches returns the connections with a data watch on each path
// (what ZooKeeper 3.8's wchc and wchp list).
func (t *Tree) DataWatches() map[string][]ConnID {
	out := make(map[string][]ConnID, len(t.w.tables[tableData]))
	for p, set := range t.w.tables[tableData] {
		for c := range set {
			out[p] = append(out[p], c)
		}
	}
	return out
}

// WatchCount is the number of registered watches (mntr's zk_watch_count).
func (t *Tree) WatchCount() int { return t.w.count }

// EphemeralCount is the number of ephemeral znodes.
func (t *Tree) EphemeralCount() int {
	n := 0
	for _, set := range t.ephemerals {
		n += len(set)
	}
	return n
}

func (t *Tree) get(path string) (*node, error) {
	if !validPath(path) {
		return nil, ErrBadArguments
	}
	n := t.nodes[path]
	if n == nil {
		return nil, ErrNoNode
	}
	return n, nil
}

// GetData returns a node's data and Stat, checking READ against auth. The
// data is shared with the tree, which never changes a slice in place (a
// setData installs a new one): callers may keep it but must not modify it. With watch != 0 it leaves a one-shot data watch for that
// connection; a missing node gets no watch (ZooKeeper's getData).
func (t *Tree) GetData(path string, auth []jute.Id, watch ConnID) ([]byte, jute.Stat, error) {
	n, err := t.get(path)
	if err != nil {
		return nil, jute.Stat{}, err
	}
	if !checkACL(n.acl, jute.PermRead, auth) {
		return nil, jute.Stat{}, ErrNoAuth
	}
	t.w.set(watch, path, tableData, modeStandard)
	return n.data, n.fullStat(), nil
}

// Exists returns a node's Stat, or ErrNoNode. With watch != 0 it leaves a
// one-shot watch either way: on a missing node it fires NodeCreated. Like
// ZooKeeper it checks no ACL; auth is accepted for symmetry and ignored.
func (t *Tree) Exists(path string, auth []jute.Id, watch ConnID) (jute.Stat, error) {
	if !validPath(path) {
		return jute.Stat{}, ErrBadArguments
	}
	// exists checks no ACL (observed on ZooKeeper 3.8.0).
	n := t.nodes[path]
	t.w.set(watch, path, tableData, modeStandard)
	if n == nil {
		return jute.Stat{}, ErrNoNode
	}
	return n.fullStat(), nil
}

// Children returns a node's child names, sorted, and its Stat, checking
// READ. With watch != 0 it leaves a one-shot child watch on an existing
// node.
func (t *Tree) Children(path string, auth []jute.Id, watch ConnID) ([]string, jute.Stat, error) {
	n, err := t.get(path)
	if err != nil {
		return nil, jute.Stat{}, err
	}
	if !checkACL(n.acl, jute.PermRead, auth) {
		return nil, jute.Stat{}, ErrNoAuth
	}
	t.w.set(watch, path, tableChild, modeStandard)
	names := make([]string, 0, len(n.children))
	for c := range n.children {
		names = append(names, c)
	}
	slices.Sort(names)
	return names, n.fullStat(), nil
}

// GetACL returns a node's ACL (a copy) and Stat; it needs READ or ADMIN.
// A caller without ADMIN gets digest ids with the password hash replaced by
// "x" (digest:user:x), as ZooKeeper 3.8's FinalRequestProcessor answers, so
// READ does not hand out hashes to guess passwords against.
func (t *Tree) GetACL(path string, auth []jute.Id) ([]jute.ACL, jute.Stat, error) {
	n, err := t.get(path)
	if err != nil {
		return nil, jute.Stat{}, err
	}
	if !checkACL(n.acl, jute.PermRead|jute.PermAdmin, auth) {
		return nil, jute.Stat{}, ErrNoAuth
	}
	acl := slices.Clone(n.acl)
	if !checkACL(n.acl, jute.PermAdmin, auth) {
		for i, a := range acl {
			if a.ID.Scheme == "digest" {
				if user, _, ok := strings.Cut(a.ID.ID, ":"); ok {
					acl[i].ID.ID = user + ":x"
				}
			}
		}
	}
	return acl, n.fullStat(), nil
}

// AllChildrenNumber counts all nodes below path (getAllChildrenNumber).
func (t *Tree) AllChildrenNumber(path string, auth []jute.Id) (int32, error) {
	n, err := t.get(path)
	if err != nil {
		return 0, err
	}
	if !checkACL(n.acl, jute.PermRead, auth) {
		return 0, ErrNoAuth
	}
	var count func(p string, n *node) int32
	count = func(p string, n *node) int32 {
		var c int32
		for name := range n.children {
			cp := childPath(p, name)
			c += 1 + count(cp, t.nodes[cp])
		}
		return c
	}
	return count(path, n), nil
}

func childPath(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}

// Ephemerals returns the session's ephemeral paths that start with prefix
// (getEphemerals; "/" or "" for all), sorted.
func (t *Tree) Ephemerals(id SessionID, prefix string) []string {
	out := []string{}
	for p := range t.ephemerals[id] {
		if prefix == "" || prefix == "/" || strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// Session is a live session as the tree knows it.
type Session struct {
	ID      SessionID
	Timeout int32 // negotiated timeout, ms
}

// Sessions returns every session, sorted by id (for the leader's session
// tracker after a restart or a leader change).
func (t *Tree) Sessions() []Session {
	out := make([]Session, 0, len(t.sessions))
	for id, to := range t.sessions {
		out = append(out, Session{ID: id, Timeout: to})
	}
	slices.SortFunc(out, func(a, b Session) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// HasSession reports whether the session exists (created and not closed).
func (t *Tree) HasSession(id SessionID) bool {
	_, ok := t.sessions[id]
	return ok
}

// ContainersToDelete lists container nodes that have had children and have
// none now, sorted: the leader prepares a deleteContainer for each, as
// ZooKeeper's ContainerManager does.
func (t *Tree) ContainersToDelete() []string {
	var out []string
	for p, n := range t.nodes {
		if n.kind == KindContainer && n.stat.Cversion > 0 && len(n.children) == 0 {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// ExpiredTTLs lists TTL nodes without children whose data was last changed
// more than their TTL before now (ms since the epoch), sorted. The leader
// prepares a deleteContainer for each.
func (t *Tree) ExpiredTTLs(now int64) []string {
	var out []string
	for p, n := range t.nodes {
		if n.kind == KindTTL && len(n.children) == 0 && now-n.stat.Mtime > n.ttl {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// AddWatch registers a persistent (or persistent recursive) watch for conn
// on path (addWatch). The node need not exist.
func (t *Tree) AddWatch(conn ConnID, path string, mode jute.AddWatchMode) error {
	if !validPath(path) || conn == 0 {
		return ErrBadArguments
	}
	m := modePersistent
	switch mode {
	case jute.AddWatchPersistent:
	case jute.AddWatchPersistentRecursive:
		m = modeRecursive
	default:
		return ErrBadArguments
	}
	t.w.set(conn, path, tableData, m)
	t.w.set(conn, path, tableChild, m)
	return nil
}

// RemoveWatches removes conn's watches of type typ on path
// (removeWatches), or with remove false only checks that there is one
// (checkWatches). No matching watch is ErrNoWatcher. As in ZooKeeper 3.8,
// Data and Children match the data and child tables whatever the mode;
// Persistent and PersistentRecursive (which 3.8 does not accept) match
// that mode in either table.
func (t *Tree) RemoveWatches(conn ConnID, path string, typ jute.WatcherType, remove bool) error {
	type entry struct {
		table watchTable
		want  watchMode // 0: any mode
	}
	var entries []entry
	switch typ {
	case jute.WatcherChildren:
		entries = []entry{{tableChild, 0}}
	case jute.WatcherData:
		entries = []entry{{tableData, 0}}
	case jute.WatcherAny:
		entries = []entry{{tableData, 0}, {tableChild, 0}}
	case jute.WatcherPersistent:
		entries = []entry{{tableData, modePersistent}, {tableChild, modePersistent}}
	case jute.WatcherPersistentRecursive:
		entries = []entry{{tableData, modeRecursive}, {tableChild, modeRecursive}}
	default:
		return ErrBadArguments
	}
	found := false
	for _, e := range entries {
		m := t.w.mode(conn, path, e.table)
		if m == 0 || e.want != 0 && m != e.want {
			continue
		}
		found = true
		if remove {
			t.w.del(conn, path, e.table)
		}
	}
	if !found {
		return ErrNoWatcher
	}
	return nil
}

// DropConn forgets every watch of a closed connection.
func (t *Tree) DropConn(conn ConnID) { t.w.dropConn(conn) }

// SetWatches re-registers a reconnecting client's watches (setWatches and
// setWatches2) and returns the events that must fire at once because the
// tree changed after relativeZxid, as ZooKeeper's DataTree.setWatches does:
// a data watch on a missing node fires NodeDeleted, on a node with mzxid >
// relativeZxid NodeDataChanged; an exist watch on a present node fires
// NodeCreated; a child watch on a missing node fires NodeDeleted, on a node
// with pzxid > relativeZxid NodeChildrenChanged; all others are registered.
// Persistent watches are registered without events. The returned slice is
// the caller's.
func (t *Tree) SetWatches(conn ConnID, sw *jute.SetWatches) []WatchEvent {
	var out []WatchEvent
	rel := sw.RelativeZxid
	ev := func(typ jute.EventType, path string) {
		out = append(out, WatchEvent{Conn: conn, Type: typ, Path: path, Zxid: t.lastZxid})
	}
	for _, p := range sw.DataWatches {
		n := t.nodes[p]
		switch {
		case n == nil:
			ev(jute.EventNodeDeleted, p)
		case n.stat.Mzxid > rel:
			ev(jute.EventNodeDataChanged, p)
		default:
			t.w.set(conn, p, tableData, modeStandard)
		}
	}
	for _, p := range sw.ExistWatches {
		if t.nodes[p] != nil {
			ev(jute.EventNodeCreated, p)
		} else {
			t.w.set(conn, p, tableData, modeStandard)
		}
	}
	for _, p := range sw.ChildWatches {
		n := t.nodes[p]
		switch {
		case n == nil:
			ev(jute.EventNodeDeleted, p)
		case n.stat.Pzxid > rel:
			ev(jute.EventNodeChildrenChanged, p)
		default:
			t.w.set(conn, p, tableChild, modeStandard)
		}
	}
	for _, p := range sw.PersistentWatches {
		t.w.set(conn, p, tableData, modePersistent)
		t.w.set(conn, p, tableChild, modePersistent)
	}
	for _, p := range sw.PersistentRecursiveWatches {
		t.w.set(conn, p, tableData, modeRecursive)
		t.w.set(conn, p, tableChild, modeRecursive)
	}
	return out
}
