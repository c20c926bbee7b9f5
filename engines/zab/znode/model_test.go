package znode

import (
	"bytes"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"coordlab/engines/zab/jute"
)

var modelSeed = flag.Uint64("znode.seed", 0, "seed for TestAgainstModel (0: fixed seeds plus one from the clock)")

// refNode and refModel are a deliberately simple map-of-paths model of
// ZooKeeper's tree semantics, written from the documented rules rather
// than from the Tree's code.
type refNode struct {
	data     string
	version  int32
	cversion int32
	owner    SessionID
	kids     map[string]bool
}

type refModel struct {
	nodes    map[string]*refNode
	sessions map[SessionID]bool
	sorted   []string // sorted paths, nil when stale
}

func (m *refModel) paths() []string {
	if m.sorted == nil {
		m.sorted = slices.Sorted(maps.Keys(m.nodes))
	}
	return m.sorted
}

func newRefModel() *refModel {
	m := &refModel{nodes: map[string]*refNode{}, sessions: map[SessionID]bool{}}
	for _, p := range []string{"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"} { // aversion is not modelled
		m.nodes[p] = &refNode{kids: map[string]bool{}}
		if p != "/" {
			m.nodes[parentOf(p)].kids[p] = true
		}
	}
	return m
}

func (m *refModel) clone() *refModel {
	c := &refModel{nodes: map[string]*refNode{}, sessions: maps.Clone(m.sessions)}
	for p, n := range m.nodes {
		nn := *n
		nn.kids = maps.Clone(n.kids)
		c.nodes[p] = &nn
	}
	return c
}

type refOp struct {
	op      jute.Op
	path    string
	data    string
	flags   int32
	version int32
}

// do applies one op and returns its code (and the created path).
func (m *refModel) do(sess SessionID, o refOp) (jute.Code, string) {
	switch o.op {
	case jute.OpCreate:
		parent := m.nodes[parentOf(o.path)]
		if parent == nil {
			return jute.ZNONODE, ""
		}
		path := o.path
		if o.flags&2 != 0 {
			path += fmt.Sprintf("%010d", parent.cversion)
		}
		if m.nodes[path] != nil {
			return jute.ZNODEEXISTS, ""
		}
		if parent.owner != 0 {
			return jute.ZNOCHILDRENFOREPHEMERALS, ""
		}
		n := &refNode{data: o.data, kids: map[string]bool{}}
		if o.flags&1 != 0 {
			n.owner = sess
		}
		m.nodes[path] = n
		m.sorted = nil
		parent.kids[path] = true
		parent.cversion++
		return jute.ZOK, path
	case jute.OpDelete:
		parent := m.nodes[parentOf(o.path)]
		n := m.nodes[o.path]
		switch {
		case parent == nil || n == nil:
			return jute.ZNONODE, ""
		case o.version != -1 && o.version != n.version:
			return jute.ZBADVERSION, ""
		case len(n.kids) > 0:
			return jute.ZNOTEMPTY, ""
		}
		delete(m.nodes, o.path)
		m.sorted = nil
		delete(parent.kids, o.path)
		return jute.ZOK, ""
	case jute.OpSetData:
		n := m.nodes[o.path]
		switch {
		case n == nil:
			return jute.ZNONODE, ""
		case o.version != -1 && o.version != n.version:
			return jute.ZBADVERSION, ""
		}
		n.data = o.data
		n.version++
		return jute.ZOK, ""
	case jute.OpCheck:
		n := m.nodes[o.path]
		switch {
		case n == nil:
			return jute.ZNONODE, ""
		case o.version != -1 && o.version != n.version:
			return jute.ZBADVERSION, ""
		}
		return jute.ZOK, ""
	}
	panic("model: unexpected op " + o.op.String())
}

func (m *refModel) closeSession(sess SessionID) {
	m.sorted = nil
	for p, n := range m.nodes {
		if n.owner == sess {
			delete(m.nodes, p)
			delete(m.nodes[parentOf(p)].kids, p)
		}
	}
	delete(m.sessions, sess)
}

func (o refOp) body() jute.Record {
	switch o.op {
	case jute.OpCreate:
		return &jute.CreateRequest{Path: o.path, Data: []byte(o.data), ACL: jute.OpenACLUnsafe(), Flags: o.flags}
	case jute.OpDelete:
		return &jute.DeleteRequest{Path: o.path, Version: o.version}
	case jute.OpSetData:
		return &jute.SetDataRequest{Path: o.path, Data: []byte(o.data), Version: o.version}
	case jute.OpCheck:
		return &jute.CheckVersionRequest{Path: o.path, Version: o.version}
	}
	panic("unreachable")
}

// TestAgainstModel runs random writes, prepared in batches (so Prepare
// must see pending changes), through Prepare/Marshal/Apply and the
// reference model, comparing every result code and, periodically, the
// whole tree. Some steps restart the tree from a snapshot.
func TestAgainstModel(t *testing.T) {
	seeds := []uint64{1, 2, 3, uint64(time.Now().UnixNano())}
	if *modelSeed != 0 {
		seeds = []uint64{*modelSeed}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			runModel(t, seed, 3000)
		})
	}
}

func runModel(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d (rerun: go test ./engines/zab/znode -run TestAgainstModel -znode.seed=%d): %s", seed, seed, fmt.Sprintf(format, args...))
	}
	h := newHarness(t)
	m := newRefModel()
	nextSession := SessionID(1)
	names := []string{"a", "b", "c", "d"}

	pickPath := func() string {
		// A child (maybe new) of an existing non-system node, or a path
		// with a missing parent.
		paths := m.paths()
		for {
			p := paths[rng.IntN(len(paths))]
			if isSystemPath(p) {
				continue
			}
			switch rng.IntN(4) {
			case 0:
				if p != "/" {
					return p
				}
			case 1:
				return childPath(childPath(p, "zz"), names[rng.IntN(len(names))])
			default:
				return childPath(p, names[rng.IntN(len(names))])
			}
		}
	}
	liveSession := func() SessionID {
		live := slices.Sorted(maps.Keys(m.sessions))
		if len(live) == 0 || rng.IntN(50) == 0 {
			return nextSession + 1000 // never created: expired
		}
		return live[rng.IntN(len(live))]
	}
	randOp := func() refOp {
		o := refOp{path: pickPath(), data: fmt.Sprint(rng.IntN(100))}
		version := func() int32 {
			if n := m.nodes[o.path]; n != nil && rng.IntN(3) > 0 {
				return n.version
			}
			return int32(rng.IntN(3)) - 1
		}
		switch rng.IntN(10) {
		case 0, 1, 2, 3:
			o.op = jute.OpCreate
			o.flags = int32(rng.IntN(4))
			if o.flags&2 != 0 {
				o.path += "-"
			}
		case 4, 5:
			o.op, o.version = jute.OpDelete, version()
		case 6, 7, 8:
			o.op, o.version = jute.OpSetData, version()
		default:
			o.op, o.version = jute.OpCheck, version()
		}
		return o
	}

	type expect struct {
		codes []jute.Code
		path  string
	}
	for step := 0; step < steps; {
		batch := 1 + rng.IntN(4)
		var txns []Txn
		var exps []expect
		for i := 0; i < batch; i++ {
			step++
			var req Request
			var exp expect
			switch r := rng.IntN(20); {
			case r == 0 || len(m.sessions) == 0:
				id := nextSession
				nextSession++
				m.sessions[id] = true
				req = Request{Op: jute.OpCreateSession, Session: id, Timeout: 4000}
				exp.codes = []jute.Code{jute.ZOK}
			case r == 1:
				sess := liveSession()
				req = Request{Op: jute.OpCloseSession, Session: sess}
				if m.sessions[sess] {
					m.closeSession(sess)
					exp.codes = []jute.Code{jute.ZOK}
				} else {
					exp.codes = []jute.Code{jute.ZSESSIONEXPIRED}
				}
			case r < 5:
				sess := liveSession()
				n := 1 + rng.IntN(3)
				mr := &jute.MultiRequest{}
				scratch := m.clone()
				failed := -1
				var code jute.Code
				for j := 0; j < n; j++ {
					o := randOp()
					mr.Ops = append(mr.Ops, jute.MultiOp{Type: o.op, Body: o.body()})
					if failed < 0 {
						if c, _ := scratch.do(sess, o); c != jute.ZOK {
							failed, code = j, c
						}
					}
				}
				req = Request{Op: jute.OpMulti, Body: mr, Session: sess}
				switch {
				case !m.sessions[sess]:
					exp.codes = []jute.Code{jute.ZSESSIONEXPIRED}
				case failed < 0:
					m = scratch
					exp.codes = make([]jute.Code, n)
				default:
					for j := 0; j < n; j++ {
						c := jute.ZRUNTIMEINCONSISTENCY
						if j < failed {
							c = jute.ZOK
						} else if j == failed {
							c = code
						}
						exp.codes = append(exp.codes, c)
					}
				}
			default:
				sess := liveSession()
				o := randOp()
				req = Request{Op: o.op, Body: o.body(), Session: sess}
				if !m.sessions[sess] {
					exp.codes = []jute.Code{jute.ZSESSIONEXPIRED}
				} else {
					c, p := m.do(sess, o)
					exp.codes, exp.path = []jute.Code{c}, p
				}
			}
			req.Cxid = int32(step)
			h.now += int64(rng.IntN(5))
			txns = append(txns, h.prepare(req))
			exps = append(exps, exp)
		}
		for i, txn := range txns {
			res, _ := h.apply(txn)
			exp := exps[i]
			var got []jute.Code
			if res.Multi != nil || (txn.Type == TxnMulti) {
				for _, r := range res.Multi {
					got = append(got, r.Err)
				}
				if len(exp.codes) == 1 && exp.codes[0] == jute.ZSESSIONEXPIRED {
					got = nil
				}
			}
			if got == nil {
				got = []jute.Code{res.Err}
			}
			if len(exp.codes) == 0 {
				exp.codes = got[:0]
				if len(got) == 0 {
					exp.codes = nil
				}
			}
			if !slices.Equal(got, exp.codes) && !(len(got) == 0 && len(exp.codes) == 0) {
				fail("step %d txn %v: codes %v, model says %v", step, txn.Type, got, exp.codes)
			}
			if exp.path != "" && res.Path != exp.path {
				fail("step %d: created %q, model says %q", step, res.Path, exp.path)
			}
		}
		if h.tree.PendingCount() != 0 {
			fail("pending not drained after applying the batch")
		}
		if rng.IntN(25) == 0 {
			compareModel(t, fail, h.tree, m)
			var buf bytes.Buffer
			if err := h.tree.WriteSnapshot(&buf); err != nil {
				fail("snapshot: %v", err)
			}
			restored, err := ReadSnapshot(&buf)
			if err != nil {
				fail("read snapshot: %v", err)
			}
			if restored.Digest() != h.tree.Digest() {
				fail("snapshot changed the digest")
			}
			h.tree = restored
		}
	}
	compareModel(t, fail, h.tree, m)
}

func compareModel(t *testing.T, fail func(string, ...any), tree *Tree, m *refModel) {
	t.Helper()
	if tree.NodeCount() != len(m.nodes) {
		fail("tree has %d nodes, model %d", tree.NodeCount(), len(m.nodes))
	}
	for _, p := range slices.Sorted(maps.Keys(m.nodes)) {
		n := m.nodes[p]
		data, st, err := tree.GetData(p, nil, 0)
		if err != nil {
			fail("GetData(%s): %v", p, err)
		}
		// ZooKeeper reports cversion as 2*creates - numChildren.
		if string(data) != n.data || st.Version != n.version || st.Cversion != 2*n.cversion-int32(len(n.kids)) ||
			st.NumChildren != int32(len(n.kids)) || st.EphemeralOwner != int64(n.owner) {
			fail("%s: tree data %q v%d cv%d kids %d owner %d; model %q v%d cv%d kids %d owner %d",
				p, data, st.Version, st.Cversion, st.NumChildren, st.EphemeralOwner,
				n.data, n.version, 2*n.cversion-int32(len(n.kids)), len(n.kids), n.owner)
		}
	}
	for id := range m.sessions {
		if !tree.HasSession(id) {
			fail("session %d missing from the tree", id)
		}
	}
	if len(tree.Sessions()) != len(m.sessions) {
		fail("tree has %d sessions, model %d", len(tree.Sessions()), len(m.sessions))
	}
}
