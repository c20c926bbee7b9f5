package znode

import (
	"errors"
	"testing"

	"coordlab/engines/zab/jute"
)

func ev(conn ConnID, typ jute.EventType, path string, zxid Zxid) WatchEvent {
	return WatchEvent{Conn: conn, Type: typ, Path: path, Zxid: zxid}
}

func TestWatchesFireOnce(t *testing.T) {
	h := newHarness(t)
	h.session(s1)
	h.mustCreate(s1, "/w", "", 0)
	h.tree.GetData("/w", nil, 1)
	h.tree.GetData("/w", nil, 1) // same conn twice: still one watch
	h.tree.Exists("/w", nil, 2)
	_, e1 := h.write(s1, jute.OpSetData, &jute.SetDataRequest{Path: "/w", Version: -1})
	want := []WatchEvent{ev(1, jute.EventNodeDataChanged, "/w", h.zxid), ev(2, jute.EventNodeDataChanged, "/w", h.zxid)}
	if !equalEvents(e1, want) {
		t.Fatalf("first setData fired %v, want %v", e1, want)
	}
	_, e2 := h.write(s1, jute.OpSetData, &jute.SetDataRequest{Path: "/w", Version: -1})
	if len(e2) != 0 {
		t.Fatalf("second setData fired %v: one-shot watches must fire once", e2)
	}
	if h.tree.WatchCount() != 0 {
		t.Fatalf("WatchCount = %d after firing, want 0", h.tree.WatchCount())
	}
}

// TestWatchTriggers checks which watches each change fires, and in which
// order, as ZooKeeper's DataTree does.
func TestWatchTriggers(t *testing.T) {
	tests := []struct {
		name  string
		setup func(h *harness)
		op    jute.Op
		body  jute.Record
		want  func(z Zxid) []WatchEvent
	}{
		{
			name: "exists on missing fires NodeCreated, parent child watch fires",
			setup: func(h *harness) {
				h.tree.Exists("/w/new", nil, 1)
				h.tree.Children("/w", nil, 2)
				h.tree.GetData("/w", nil, 3) // a data watch on the parent is not fired by a child create
			},
			op:   jute.OpCreate,
			body: &jute.CreateRequest{Path: "/w/new", ACL: jute.OpenACLUnsafe()},
			want: func(z Zxid) []WatchEvent {
				return []WatchEvent{ev(1, jute.EventNodeCreated, "/w/new", z), ev(2, jute.EventNodeChildrenChanged, "/w", z)}
			},
		},
		{
			name: "delete fires data watches, then child watches not yet notified, then the parent",
			setup: func(h *harness) {
				h.tree.GetData("/w/c", nil, 5)
				h.tree.Children("/w/c", nil, 5)
				h.tree.Children("/w/c", nil, 4)
				h.tree.Children("/w", nil, 9)
			},
			op:   jute.OpDelete,
			body: &jute.DeleteRequest{Path: "/w/c", Version: -1},
			want: func(z Zxid) []WatchEvent {
				return []WatchEvent{ev(5, jute.EventNodeDeleted, "/w/c", z), ev(4, jute.EventNodeDeleted, "/w/c", z), ev(9, jute.EventNodeChildrenChanged, "/w", z)}
			},
		},
		{
			name: "persistent watch: own events and child list changes",
			setup: func(h *harness) {
				h.tree.AddWatch(7, "/w", jute.AddWatchPersistent)
			},
			op:   jute.OpCreate,
			body: &jute.CreateRequest{Path: "/w/d", ACL: jute.OpenACLUnsafe()},
			want: func(z Zxid) []WatchEvent { return []WatchEvent{ev(7, jute.EventNodeChildrenChanged, "/w", z)} },
		},
		{
			name: "recursive watch: descendants' events, no child list events",
			setup: func(h *harness) {
				h.tree.AddWatch(8, "/w", jute.AddWatchPersistentRecursive)
			},
			op:   jute.OpCreate,
			body: &jute.CreateRequest{Path: "/w/c/deep", ACL: jute.OpenACLUnsafe()},
			want: func(z Zxid) []WatchEvent { return []WatchEvent{ev(8, jute.EventNodeCreated, "/w/c/deep", z)} },
		},
		{
			// ZooKeeper 3.8 keeps one mode per (connection, path) and table:
			// addWatch replaces a one-shot child watch, and a recursive watch
			// gets no NodeChildrenChanged (seen on a live 3.8.0).
			name: "a recursive watch replaces a one-shot child watch on the same path",
			setup: func(h *harness) {
				h.tree.Children("/w", nil, 6)
				h.tree.AddWatch(6, "/w", jute.AddWatchPersistentRecursive)
			},
			op:   jute.OpDelete,
			body: &jute.DeleteRequest{Path: "/w/c", Version: -1},
			want: func(z Zxid) []WatchEvent { return []WatchEvent{ev(6, jute.EventNodeDeleted, "/w/c", z)} },
		},
		{
			name: "a one-shot watch replaces a persistent one on the same path",
			setup: func(h *harness) {
				h.tree.AddWatch(6, "/w", jute.AddWatchPersistent)
				h.tree.GetData("/w", nil, 6)
			},
			op:   jute.OpSetData,
			body: &jute.SetDataRequest{Path: "/w", Version: -1},
			want: func(z Zxid) []WatchEvent { return []WatchEvent{ev(6, jute.EventNodeDataChanged, "/w", z)} },
		},
		{
			name: "setACL fires nothing",
			setup: func(h *harness) {
				h.tree.GetData("/w", nil, 1)
				h.tree.AddWatch(2, "/", jute.AddWatchPersistentRecursive)
			},
			op:   jute.OpSetACL,
			body: &jute.SetACLRequest{Path: "/w", ACL: jute.OpenACLUnsafe(), Version: -1},
			want: func(Zxid) []WatchEvent { return nil },
		},
		{
			name:  "failed write fires nothing",
			setup: func(h *harness) { h.tree.GetData("/w", nil, 1) },
			op:    jute.OpSetData,
			body:  &jute.SetDataRequest{Path: "/w", Version: 42},
			want:  func(Zxid) []WatchEvent { return nil },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.session(s1)
			h.mustCreate(s1, "/w", "", 0)
			h.mustCreate(s1, "/w/c", "", 0)
			tt.setup(h)
			_, got := h.write(s1, tt.op, tt.body)
			if want := tt.want(h.zxid); !equalEvents(got, want) {
				t.Fatalf("events %v\nwant %v", got, want)
			}
		})
	}
}

func TestPersistentWatchesStay(t *testing.T) {
	h := newHarness(t)
	h.session(s1)
	h.mustCreate(s1, "/p", "", 0)
	if err := h.tree.AddWatch(1, "/p", jute.AddWatchPersistent); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		_, e := h.write(s1, jute.OpSetData, &jute.SetDataRequest{Path: "/p", Version: -1})
		if len(e) != 1 || e[0].Conn != 1 {
			t.Fatalf("setData %d fired %v, want one event for conn 1", i, e)
		}
	}
	// ZooKeeper 3.8 keeps a persistent watch in both the data and the
	// child table; removing the Data type removes the data half.
	if err := h.tree.RemoveWatches(1, "/p", jute.WatcherData, true); err != nil {
		t.Fatalf("remove the data half of a persistent watch: %v", err)
	}
	if err := h.tree.RemoveWatches(1, "/p", jute.WatcherData, false); !errors.Is(err, ErrNoWatcher) {
		t.Fatalf("check a removed data watch: %v, want ErrNoWatcher", err)
	}
	if err := h.tree.RemoveWatches(1, "/p", jute.WatcherPersistent, false); err != nil {
		t.Fatalf("checkWatches persistent: %v", err)
	}
	if err := h.tree.RemoveWatches(1, "/p", jute.WatcherAny, true); err != nil {
		t.Fatalf("removeWatches any: %v", err)
	}
	if _, e := h.write(s1, jute.OpSetData, &jute.SetDataRequest{Path: "/p", Version: -1}); len(e) != 0 {
		t.Fatalf("removed watch fired %v", e)
	}
	h.tree.GetData("/p", nil, 2)
	h.tree.Children("/p", nil, 2)
	h.tree.AddWatch(2, "/", jute.AddWatchPersistentRecursive)
	h.tree.GetData("/p", nil, 3)
	h.tree.DropConn(2)
	if h.tree.WatchCount() != 1 {
		t.Fatalf("WatchCount after DropConn = %d, want 1 (conn 3's)", h.tree.WatchCount())
	}
	if _, e := h.write(s1, jute.OpSetData, &jute.SetDataRequest{Path: "/p", Version: -1}); len(e) != 1 || e[0].Conn != 3 {
		t.Fatalf("after DropConn(2) events %v, want only conn 3", e)
	}
	if err := h.tree.AddWatch(1, "bad", jute.AddWatchPersistent); !errors.Is(err, ErrBadArguments) {
		t.Fatalf("AddWatch on a bad path: %v", err)
	}
}

// TestSetWatches: after a reconnect, watches on things that changed since
// the client's last zxid fire at once; the others are re-registered.
func TestSetWatches(t *testing.T) {
	h := newHarness(t)
	h.session(s1)
	h.mustCreate(s1, "/same", "", 0)
	h.mustCreate(s1, "/changed", "", 0)
	h.mustCreate(s1, "/gone", "", 0)
	h.mustCreate(s1, "/kids", "", 0)
	rel := h.zxid
	h.write(s1, jute.OpSetData, &jute.SetDataRequest{Path: "/changed", Version: -1})
	h.write(s1, jute.OpDelete, &jute.DeleteRequest{Path: "/gone", Version: -1})
	h.mustCreate(s1, "/kids/k", "", 0)
	h.mustCreate(s1, "/born", "", 0)
	got := h.tree.SetWatches(5, &jute.SetWatches{
		RelativeZxid:      int64(rel),
		DataWatches:       []string{"/same", "/changed", "/gone"},
		ExistWatches:      []string{"/born", "/unborn"},
		ChildWatches:      []string{"/kids", "/same", "/gone"},
		PersistentWatches: []string{"/same"}, PersistentRecursiveWatches: []string{"/kids"},
	})
	z := h.zxid
	want := []WatchEvent{
		ev(5, jute.EventNodeDataChanged, "/changed", z), ev(5, jute.EventNodeDeleted, "/gone", z),
		ev(5, jute.EventNodeCreated, "/born", z),
		ev(5, jute.EventNodeChildrenChanged, "/kids", z), ev(5, jute.EventNodeDeleted, "/gone", z),
	}
	if !equalEvents(got, want) {
		t.Fatalf("SetWatches fired %v\nwant %v", got, want)
	}
	// Registered: data /same, exist /unborn, child /same, persistent /same, recursive /kids.
	if h.tree.WatchCount() != 5 {
		t.Fatalf("WatchCount = %d, want 5", h.tree.WatchCount())
	}
	_, e := h.write(s1, jute.OpCreate, &jute.CreateRequest{Path: "/unborn", ACL: jute.OpenACLUnsafe()})
	if len(e) != 1 || e[0] != ev(5, jute.EventNodeCreated, "/unborn", h.zxid) {
		t.Fatalf("re-registered exist watch fired %v", e)
	}
}

// TestOneShotReplacesPersistent: in ZooKeeper 3.8 a getData watch on a
// path where the connection has a persistent watch turns it into a
// one-shot watch (ZOOKEEPER-4466, fixed in 3.9).
func TestOneShotReplacesPersistent(t *testing.T) {
	h := newHarness(t)
	h.session(s1)
	h.mustCreate(s1, "/w", "", 0)
	h.tree.AddWatch(6, "/w", jute.AddWatchPersistent)
	h.tree.GetData("/w", nil, 6)
	var fired []int
	for range 2 {
		_, e := h.write(s1, jute.OpSetData, &jute.SetDataRequest{Path: "/w", Version: -1})
		fired = append(fired, len(e))
	}
	if fired[0] != 1 || fired[1] != 0 {
		t.Fatalf("events per setData %v, want [1 0]: the data half is one-shot now", fired)
	}
	// The child half is still persistent.
	for range 2 {
		if _, e := h.write(s1, jute.OpCreate, &jute.CreateRequest{Path: "/w/k-", ACL: jute.OpenACLUnsafe(), Flags: jute.FlagPersistentSequential}); len(e) != 1 || e[0].Type != jute.EventNodeChildrenChanged {
			t.Fatalf("child create fired %v, want one NodeChildrenChanged", e)
		}
	}
}
