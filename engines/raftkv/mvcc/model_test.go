package mvcc

import (
	"bytes"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

var seedFlag = flag.Int64("seed", 0, "run the randomized model test with only this seed")

// mkv is a key-value in the reference model.
type mkv struct {
	value            string
	create, mod, ver int64
	lease            int64
}

// model is the reference: a map per revision (copy on write), as simple as possible.
type model struct {
	rev, compact int64
	cur          map[string]mkv
	hist         map[int64]map[string]mkv
	leases       map[int64]map[string]bool
	events       []string // evString form of every event, in order
	// txn in progress
	txRev   int64
	changes int
}

func newModel() *model {
	m := &model{rev: 1, cur: map[string]mkv{}, hist: map[int64]map[string]mkv{}, leases: map[int64]map[string]bool{}}
	m.hist[1] = map[string]mkv{}
	return m
}

func (m *model) begin() { m.txRev, m.changes = m.rev+1, 0 }

func (m *model) end() int64 {
	if m.changes > 0 {
		m.rev = m.txRev
		m.hist[m.rev] = maps(m.cur)
	}
	return m.rev
}

func maps(in map[string]mkv) map[string]mkv {
	out := make(map[string]mkv, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

func (m *model) put(k, v string, lease int64) (prev *mkv) {
	old, ok := m.cur[k]
	nv := mkv{value: v, create: m.txRev, mod: m.txRev, ver: 1, lease: lease}
	ev := fmt.Sprintf("PUT %s@%d=%s", k, m.txRev, v)
	if ok {
		nv.create, nv.ver = old.create, old.ver+1
		prev = &old
		ev += " prev=" + old.value
		delete(m.leases[old.lease], k)
	}
	if lease != 0 {
		m.leases[lease][k] = true
	}
	m.cur[k] = nv
	m.events = append(m.events, ev)
	m.changes++
	return prev
}

func (m *model) del(k string) {
	old := m.cur[k]
	delete(m.cur, k)
	delete(m.leases[old.lease], k)
	m.events = append(m.events, fmt.Sprintf("DELETE %s@%d prev=%s", k, m.txRev, old.value))
	m.changes++
}

func (m *model) keysIn(state map[string]mkv, key, end []byte) []string {
	var ks []string
	for k := range state {
		if inRange([]byte(k), key, normEnd(end)) {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

func (m *model) deleteRange(key, end []byte) (n int, prevs []string) {
	for _, k := range m.keysIn(m.cur, key, end) {
		prevs = append(prevs, m.kvString(k, m.cur[k]))
		m.del(k)
		n++
	}
	return n, prevs
}

func (m *model) kvString(k string, v mkv) string {
	return fmt.Sprintf("%s=%s(c%d,m%d,v%d,l%d)", k, v.value, v.create, v.mod, v.ver, v.lease)
}

// rangeAt answers like etcd: errors, kvs, count, more.
func (m *model) rangeAt(r *pb.RangeRequest, readRev int64, state map[string]mkv) (string, error) {
	rev := r.Revision
	if rev > readRev {
		return "", ErrFutureRev
	}
	if rev <= 0 {
		rev = readRev
	}
	if rev < m.compact {
		return "", ErrCompacted
	}
	if rev != readRev || state == nil {
		state = m.hist[rev]
	}
	ks := m.keysIn(state, r.Key, r.RangeEnd)
	count := len(ks)
	type item struct {
		k string
		v mkv
	}
	var items []item
	for _, k := range ks {
		items = append(items, item{k, state[k]})
	}
	if r.CountOnly {
		items = nil
	}
	// etcd's quirk, kept: with sort order NONE (and no filters) it fetches limit+1 keys in
	// key order and only then sorts them by a non-KEY target.
	if r.SortOrder == pb.RangeRequest_NONE && r.MinModRevision == 0 && r.Limit > 0 && len(items) > int(r.Limit)+1 {
		items = items[:r.Limit+1]
	}
	if r.MinModRevision != 0 {
		items = slices.DeleteFunc(items, func(it item) bool { return it.v.mod < r.MinModRevision })
	}
	less := map[pb.RangeRequest_SortTarget]func(a, b item) int{
		pb.RangeRequest_KEY:     func(a, b item) int { return strings.Compare(a.k, b.k) },
		pb.RangeRequest_VERSION: func(a, b item) int { return int(a.v.ver - b.v.ver) },
		pb.RangeRequest_CREATE:  func(a, b item) int { return int(a.v.create - b.v.create) },
		pb.RangeRequest_MOD:     func(a, b item) int { return int(a.v.mod - b.v.mod) },
		pb.RangeRequest_VALUE:   func(a, b item) int { return strings.Compare(a.v.value, b.v.value) },
	}[r.SortTarget]
	if r.SortOrder == pb.RangeRequest_DESCEND {
		slices.SortStableFunc(items, func(a, b item) int { return less(b, a) })
	} else {
		slices.SortStableFunc(items, less)
	}
	more := false
	if r.Limit > 0 && len(items) > int(r.Limit) {
		items, more = items[:r.Limit], true
	}
	var b strings.Builder
	fmt.Fprintf(&b, "count=%d more=%v [", count, more)
	for i, it := range items {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(m.kvString(it.k, it.v))
	}
	b.WriteString("]")
	return b.String(), nil
}

func rangeString(r *pb.RangeResponse) string {
	return fmt.Sprintf("count=%d more=%v %s", r.Count, r.More, kvsString(r.Kvs))
}

var modelKeys = []string{"a", "a/1", "a/2", "b", "b/1", "c", "d", "e"}

func randKey(rng *rand.Rand) string { return modelKeys[rng.Intn(len(modelKeys))] }

// randRange returns key, end for a single key, a prefix, a span or everything.
func randRange(rng *rand.Rand) ([]byte, []byte) {
	switch rng.Intn(4) {
	case 0:
		return []byte(randKey(rng)), nil
	case 1:
		p := []string{"a", "a/", "b"}[rng.Intn(3)]
		end := []byte(p)
		end[len(end)-1]++
		return []byte(p), end
	case 2:
		return []byte(randKey(rng)), []byte(randKey(rng))
	default:
		return []byte{0}, []byte{0}
	}
}

func randRangeReq(rng *rand.Rand, m *model) *pb.RangeRequest {
	k, e := randRange(rng)
	r := &pb.RangeRequest{Key: k, RangeEnd: e, Limit: int64(rng.Intn(4))}
	if rng.Intn(3) == 0 {
		r.Revision = m.compact - 1 + rng.Int63n(m.rev-m.compact+3)
	}
	if rng.Intn(3) == 0 {
		r.SortOrder = pb.RangeRequest_SortOrder(rng.Intn(3))
		r.SortTarget = pb.RangeRequest_SortTarget(rng.Intn(5))
	}
	r.CountOnly = rng.Intn(8) == 0
	if rng.Intn(8) == 0 {
		r.MinModRevision = rng.Int63n(m.rev + 1)
	}
	return r
}

type modelOpts struct {
	compact, reopen, watch bool
	ops                    int
}

func TestRandomOpsAgainstModel(t *testing.T) {
	seeds := []int64{1, 2, 3, 4, 5, 6}
	if *seedFlag != 0 {
		seeds = []int64{*seedFlag}
	}
	for _, seed := range seeds {
		for _, o := range []modelOpts{
			{compact: true, reopen: true, ops: 500},
			{watch: true, ops: 500},
		} {
			name := fmt.Sprintf("seed=%d/compact=%v/watch=%v", seed, o.compact, o.watch)
			t.Run(name, func(t *testing.T) {
				defer func() {
					if t.Failed() {
						t.Logf("replay with: go test ./engines/raftkv/mvcc -run 'TestRandomOpsAgainstModel' -seed %d", seed)
					}
				}()
				runModel(t, seed, o)
			})
		}
	}
}

func runModel(t *testing.T, seed int64, o modelOpts) {
	rng := rand.New(rand.NewSource(seed))
	cfg := testConfig()
	cfg.WatchChanSize = 2
	cfg.WatchCacheRevs = 16
	cfg.WatchBatchMaxRevs = 5
	h := newHarnessConfig(t, cfg)
	m := newModel()
	var all, late *Watcher
	lateFrom := int64(0)
	if o.watch {
		var err error
		if all, err = h.s.Watch(WatchRequest{Key: []byte{0}, End: []byte{0}, StartRev: 1, PrevKV: true}); err != nil {
			t.Fatal(err)
		}
		defer all.Cancel()
	}

	fail := func(step int, what string, got, want any) {
		t.Helper()
		t.Fatalf("seed %d step %d %s:\n got %v\nwant %v", seed, step, what, got, want)
	}
	checkErr := func(step int, what string, got, want error) bool {
		t.Helper()
		if (got == nil) != (want == nil) || (want != nil && !errors.Is(got, want)) {
			fail(step, what+" error", got, want)
		}
		return want != nil
	}

	for step := 0; step < o.ops; step++ {
		if o.watch && late == nil && step == o.ops/2 {
			lateFrom = 1 + rng.Int63n(m.rev)
			var err error
			if late, err = h.s.Watch(WatchRequest{Key: []byte("a"), End: []byte("b"), StartRev: lateFrom, PrevKV: true}); err != nil {
				t.Fatal(err)
			}
			defer late.Cancel()
		}
		switch p := rng.Intn(100); {
		case p < 30: // put
			k, v := randKey(rng), fmt.Sprint(rng.Intn(1000))
			var lease int64
			if rng.Intn(5) == 0 {
				lease = 1 + rng.Int63n(3)
			}
			_, leaseOK := m.leases[lease]
			var wantErr error
			if lease != 0 && !leaseOK {
				wantErr = ErrLeaseNotFound
			}
			resp, err := h.apply(&pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte(k), Value: []byte(v), Lease: lease, PrevKv: true}})
			if checkErr(step, "put", err, wantErr) {
				continue
			}
			m.begin()
			prev := m.put(k, v, lease)
			m.end()
			pr := resp.(*pb.PutResponse)
			wantPrev := "<nil>"
			if prev != nil {
				wantPrev = m.kvString(k, *prev)
			}
			if got := kvString(pr.PrevKv); got != wantPrev || pr.Header.Revision != m.rev {
				fail(step, "put prev/rev", fmt.Sprint(got, " ", pr.Header.Revision), fmt.Sprint(wantPrev, " ", m.rev))
			}
		case p < 40: // delete range
			k, e := randRange(rng)
			resp := h.mustApply(&pb.InternalRaftRequest{DeleteRange: &pb.DeleteRangeRequest{Key: k, RangeEnd: e, PrevKv: true}}).(*pb.DeleteRangeResponse)
			m.begin()
			n, prevs := m.deleteRange(k, e)
			m.end()
			if resp.Deleted != int64(n) || kvsString(resp.PrevKvs) != "["+strings.Join(prevs, " ")+"]" || resp.Header.Revision != m.rev {
				fail(step, fmt.Sprintf("delete [%q,%q)", k, e), fmt.Sprint(resp.Deleted, kvsString(resp.PrevKvs), resp.Header.Revision), fmt.Sprint(n, prevs, m.rev))
			}
		case p < 60: // txn
			runModelTxn(t, rng, h, m, step, fail, checkErr)
		case p < 85: // range
			r := randRangeReq(rng, m)
			want, wantErr := m.rangeAt(r, m.rev, nil)
			resp, err := h.s.Range(r)
			if checkErr(step, fmt.Sprintf("range %v", r), err, wantErr) {
				continue
			}
			if got := rangeString(resp); got != want || resp.Header.Revision != m.rev {
				fail(step, fmt.Sprintf("range %v", r), got, want)
			}
		case p < 90: // leases
			id := 1 + rng.Int63n(3)
			if rng.Intn(2) == 0 {
				_, err := h.grant(id, 10)
				_, exists := m.leases[id]
				var wantErr error
				if exists {
					wantErr = ErrLeaseExist
				}
				if !checkErr(step, "grant", err, wantErr) {
					m.leases[id] = map[string]bool{}
				}
			} else {
				resp, err := h.apply(&pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: id}})
				keys, exists := m.leases[id]
				var wantErr error
				if !exists {
					wantErr = ErrLeaseNotFound
				}
				if checkErr(step, "revoke", err, wantErr) {
					continue
				}
				m.begin()
				var ks []string
				for k := range keys {
					ks = append(ks, k)
				}
				sort.Strings(ks)
				for _, k := range ks {
					m.del(k)
				}
				delete(m.leases, id)
				m.end()
				if rev := resp.(*pb.LeaseRevokeResponse).Header.Revision; rev != m.rev {
					fail(step, "revoke revision", rev, m.rev)
				}
			}
		case p < 94: // compact
			if !o.compact {
				continue
			}
			rev := m.compact + rng.Int63n(m.rev-m.compact+2)
			var wantErr error
			switch {
			case rev <= m.compact:
				wantErr = ErrCompacted
			case rev > m.rev:
				wantErr = ErrFutureRev
			}
			if !checkErr(step, fmt.Sprintf("compact %d", rev), h.compact(rev), wantErr) {
				m.compact = rev
			}
		case p < 98:
			if err := h.s.Commit(); err != nil {
				t.Fatal(err)
			}
		default:
			if !o.reopen {
				continue
			}
			if err := h.s.Commit(); err != nil {
				t.Fatal(err)
			}
			h.reopen()
		}
		if h.s.Rev() != m.rev || h.s.CompactRev() != m.compact {
			fail(step, "rev/compact", fmt.Sprint(h.s.Rev(), h.s.CompactRev()), fmt.Sprint(m.rev, m.compact))
		}
	}

	// Final full comparison at every readable revision.
	for rev := max(m.compact, 1); rev <= m.rev; rev++ {
		r := &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: rev}
		want, _ := m.rangeAt(r, m.rev, nil)
		resp, err := h.s.Range(r)
		if err != nil || rangeString(resp) != want {
			fail(-1, fmt.Sprintf("final range at %d (err %v)", rev, err), rangeString(resp), want)
		}
	}
	for id, keys := range m.leases {
		l, ok := h.s.Lease(id)
		var ks []string
		for _, k := range l.Keys {
			ks = append(ks, string(k))
		}
		want := slices.Sorted(func(yield func(string) bool) {
			for k := range keys {
				if !yield(k) {
					return
				}
			}
		})
		if !ok || strings.Join(ks, ",") != strings.Join(want, ",") {
			fail(-1, fmt.Sprintf("lease %d keys", id), ks, want)
		}
	}
	if len(h.s.Leases()) != len(m.leases) {
		fail(-1, "lease count", len(h.s.Leases()), len(m.leases))
	}

	if o.watch {
		got := evsString(collect(t, all, len(m.events)))
		if want := strings.Join(m.events, "; "); got != want {
			fail(-1, "watch events", got, want)
		}
		if late != nil {
			var want []string
			for _, ev := range m.events {
				var typ, key string
				var rev int64
				fmt.Sscanf(strings.NewReplacer("@", " ", "=", " ").Replace(ev), "%s %s %d", &typ, &key, &rev)
				if rev >= lateFrom && inRange([]byte(key), []byte("a"), []byte("b")) {
					want = append(want, ev)
				}
			}
			if got := evsString(collect(t, late, len(want))); got != strings.Join(want, "; ") {
				fail(-1, fmt.Sprintf("late watch from %d", lateFrom), got, strings.Join(want, "; "))
			}
		}
	}
}

func runModelTxn(t *testing.T, rng *rand.Rand, h *harness, m *model, step int,
	fail func(int, string, any, any), checkErr func(int, string, error, error) bool) {
	t.Helper()
	// A compare that holds about half the time.
	k := randKey(rng)
	cur, exists := m.cur[k]
	var c *pb.Compare
	switch rng.Intn(4) {
	case 0:
		v := cur.value
		if rng.Intn(2) == 0 {
			v = fmt.Sprint(rng.Intn(1000))
		}
		c = cmpVal(k, pb.Compare_EQUAL, v)
	case 1:
		c = cmpVer(k, pb.Compare_GREATER, rng.Int63n(3))
	case 2:
		c = cmpMod(k, pb.Compare_LESS, rng.Int63n(m.rev+1))
	default:
		c = cmpCreate(k, pb.Compare_EQUAL, 0)
	}
	ok := m.compareHolds(c, cur, exists)

	// Branches over distinct keys (or, sometimes, a deliberate duplicate).
	mkOps := func() ([]*pb.RequestOp, bool) {
		var ops []*pb.RequestOp
		used := map[string]bool{}
		dup := false
		for n := rng.Intn(4); n >= 0; n-- {
			key := randKey(rng)
			switch rng.Intn(3) {
			case 0:
				if used[key] {
					dup = true
				}
				used[key] = true
				ops = append(ops, opPut(key, fmt.Sprint(rng.Intn(1000))))
			case 1:
				if used[key] {
					dup = true
				}
				used[key] = true
				ops = append(ops, opDel(key, ""))
			default:
				kk, e := randRange(rng)
				ops = append(ops, &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: kk, RangeEnd: e}}})
			}
		}
		return ops, dup
	}
	succ, dupS := mkOps()
	failOps, dupF := mkOps()
	// Two deletes of one key are not a duplicate in etcd; recompute precisely.
	dupS, dupF = hasPutDup(succ), hasPutDup(failOps)
	resp, err := h.txn(&pb.TxnRequest{Compare: []*pb.Compare{c}, Success: succ, Failure: failOps})
	if dupS || dupF {
		checkErr(step, "dup txn", err, ErrDuplicateKey)
		return
	}
	if checkErr(step, "txn", err, nil) {
		return
	}
	if resp.Succeeded != ok {
		fail(step, fmt.Sprintf("txn compare %v on %s", c, m.kvString(k, cur)), resp.Succeeded, ok)
	}
	ops := succ
	if !ok {
		ops = failOps
	}
	m.begin()
	for i, op := range ops {
		var got, want string
		switch v := op.Request.(type) {
		case *pb.RequestOp_RequestPut:
			prev := m.put(string(v.RequestPut.Key), string(v.RequestPut.Value), 0)
			want = "<nil>"
			if prev != nil {
				want = m.kvString(string(v.RequestPut.Key), *prev)
			}
			got = kvString(resp.Responses[i].GetResponsePut().PrevKv)
		case *pb.RequestOp_RequestDeleteRange:
			n, prevs := m.deleteRange(v.RequestDeleteRange.Key, v.RequestDeleteRange.RangeEnd)
			want = fmt.Sprint(n, "[", strings.Join(prevs, " "), "]")
			d := resp.Responses[i].GetResponseDeleteRange()
			got = fmt.Sprint(d.Deleted, kvsString(d.PrevKvs))
		case *pb.RequestOp_RequestRange:
			readRev := m.rev
			if m.changes > 0 {
				readRev = m.txRev
			}
			want, _ = m.rangeAt(v.RequestRange, readRev, m.cur)
			got = rangeString(resp.Responses[i].GetResponseRange())
		}
		if got != want {
			fail(step, fmt.Sprintf("txn op %d %v", i, op), got, want)
		}
	}
	if rev := m.end(); resp.Header.Revision != rev {
		fail(step, "txn revision", resp.Header.Revision, rev)
	}
}

// hasPutDup: a key put twice, or put and deleted, in one branch (etcd's rule for flat ops).
func hasPutDup(ops []*pb.RequestOp) bool {
	puts := map[string]int{}
	dels := map[string]bool{}
	for _, op := range ops {
		if p := op.GetRequestPut(); p != nil {
			puts[string(p.Key)]++
		}
		if d := op.GetRequestDeleteRange(); d != nil {
			dels[string(d.Key)] = true
		}
	}
	for k, n := range puts {
		if n > 1 || dels[k] {
			return true
		}
	}
	return false
}

func (m *model) compareHolds(c *pb.Compare, cur mkv, exists bool) bool {
	if !exists {
		if c.Target == pb.Compare_VALUE {
			return false
		}
		cur = mkv{}
	}
	var r int
	switch c.Target {
	case pb.Compare_VALUE:
		r = bytes.Compare([]byte(cur.value), c.GetValue())
	case pb.Compare_VERSION:
		r = cmp.Compare(cur.ver, c.GetVersion())
	case pb.Compare_MOD:
		r = cmp.Compare(cur.mod, c.GetModRevision())
	case pb.Compare_CREATE:
		r = cmp.Compare(cur.create, c.GetCreateRevision())
	}
	switch c.Result {
	case pb.Compare_EQUAL:
		return r == 0
	case pb.Compare_GREATER:
		return r > 0
	case pb.Compare_LESS:
		return r < 0
	}
	return r != 0
}

var _ = mvccpb.Event_PUT
