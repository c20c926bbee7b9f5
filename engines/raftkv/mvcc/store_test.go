package mvcc

import (
	"bytes"
	"errors"
	bolt "go.etcd.io/bbolt"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRevisionsAndVersions(t *testing.T) {
	h := newHarness(t)
	if got := h.s.Rev(); got != 1 {
		t.Fatalf("empty store Rev() = %d, want 1", got)
	}
	steps := []struct {
		name    string
		do      func() int64 // returns header revision
		key     string
		wantKV  string // kvString of the key afterwards
		wantRev int64
	}{
		{"create", func() int64 { return h.put("a", "1").Header.Revision }, "a", "a=1(c2,m2,v1,l0)", 2},
		{"update", func() int64 { return h.put("a", "2").Header.Revision }, "a", "a=2(c2,m3,v2,l0)", 3},
		{"other key", func() int64 { return h.put("b", "x").Header.Revision }, "a", "a=2(c2,m3,v2,l0)", 4},
		{"delete", func() int64 { return h.del("a", "").Header.Revision }, "a", "<nil>", 5},
		{"delete nothing keeps rev", func() int64 { return h.del("a", "").Header.Revision }, "a", "<nil>", 5},
		{"recreate resets version", func() int64 { return h.put("a", "3").Header.Revision }, "a", "a=3(c6,m6,v1,l0)", 6},
	}
	for _, st := range steps {
		rev := st.do()
		if rev != st.wantRev || h.s.Rev() != st.wantRev {
			t.Fatalf("%s: header rev %d, Rev() %d, want %d", st.name, rev, h.s.Rev(), st.wantRev)
		}
		if got := kvString(h.get(st.key)); got != st.wantKV {
			t.Fatalf("%s: get %q = %s, want %s", st.name, st.key, got, st.wantKV)
		}
	}
}

func TestPutOptions(t *testing.T) {
	h := newHarness(t)
	// A lease grant does not move the store revision, so k is created at 2.
	g, err := h.grant(7, 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.putLease("k", "v1", g.ID); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		req      *pb.PutRequest
		wantErr  error
		wantPrev string
		wantKV   string
	}{
		{"prev_kv", &pb.PutRequest{Key: []byte("k"), Value: []byte("v2"), Lease: 7, PrevKv: true}, nil, "k=v1(c2,m2,v1,l7)", "k=v2(c2,m3,v2,l7)"},
		{"ignore_value keeps value", &pb.PutRequest{Key: []byte("k"), IgnoreValue: true, Lease: 7}, nil, "<nil>", "k=v2(c2,m4,v3,l7)"},
		{"ignore_lease keeps lease", &pb.PutRequest{Key: []byte("k"), Value: []byte("v3"), IgnoreLease: true}, nil, "<nil>", "k=v3(c2,m5,v4,l7)"},
		{"no lease detaches", &pb.PutRequest{Key: []byte("k"), Value: []byte("v4")}, nil, "<nil>", "k=v4(c2,m6,v5,l0)"},
		{"ignore_value on missing key", &pb.PutRequest{Key: []byte("nope"), IgnoreValue: true}, ErrKeyNotFound, "", "<nil>"},
		{"ignore_lease on missing key", &pb.PutRequest{Key: []byte("nope"), IgnoreLease: true}, ErrKeyNotFound, "", "<nil>"},
		{"unknown lease", &pb.PutRequest{Key: []byte("nope"), Value: []byte("x"), Lease: 99}, ErrLeaseNotFound, "", "<nil>"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := h.s.Rev()
			resp, err := h.apply(&pb.InternalRaftRequest{Put: c.req})
			if c.wantErr != nil {
				wantErr(t, err, c.wantErr)
				if h.s.Rev() != before {
					t.Fatalf("failed put moved rev %d -> %d", before, h.s.Rev())
				}
				if got := kvString(h.get(string(c.req.Key))); got != c.wantKV {
					t.Fatalf("after failed put: %s, want %s", got, c.wantKV)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			pr := resp.(*pb.PutResponse)
			if got := kvString(pr.PrevKv); got != c.wantPrev {
				t.Fatalf("prev_kv = %s, want %s", got, c.wantPrev)
			}
			if got := kvString(h.get(string(c.req.Key))); got != c.wantKV {
				t.Fatalf("get = %s, want %s", got, c.wantKV)
			}
		})
	}
	l, _ := h.s.Lease(7)
	if len(l.Keys) != 0 {
		t.Fatalf("lease 7 keys = %q after the key moved off it, want none", l.Keys)
	}
}

// rangeFixture: keys a, b, c, foo, foo/1, foo/2, z written at revisions 2..8, then
// foo/1 updated at 9 and b deleted at 10.
func rangeFixture(t *testing.T) *harness {
	h := newHarness(t)
	for _, k := range []string{"a", "b", "c", "foo", "foo/1", "foo/2", "z"} {
		h.put(k, "v-"+k)
	}
	h.put("foo/1", "zz")
	h.del("b", "")
	return h
}

func TestRange(t *testing.T) {
	h := rangeFixture(t)
	keys := func(kvs []*mvccpb.KeyValue) string {
		var b bytes.Buffer
		for _, kv := range kvs {
			b.Write(kv.Key)
			b.WriteByte(' ')
		}
		return b.String()
	}
	cases := []struct {
		name      string
		req       *pb.RangeRequest
		wantKeys  string
		wantCount int64
		wantMore  bool
		wantErr   error
	}{
		{"single key", &pb.RangeRequest{Key: []byte("a")}, "a ", 1, false, nil},
		{"missing key", &pb.RangeRequest{Key: []byte("b")}, "", 0, false, nil},
		{"range end", &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte("foo")}, "a c ", 2, false, nil},
		{"prefix", &pb.RangeRequest{Key: []byte("foo/"), RangeEnd: []byte("foo0")}, "foo/1 foo/2 ", 2, false, nil},
		{"from key (\\x00)", &pb.RangeRequest{Key: []byte("foo/1"), RangeEnd: []byte{0}}, "foo/1 foo/2 z ", 3, false, nil},
		{"all keys", &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}}, "a c foo foo/1 foo/2 z ", 6, false, nil},
		{"end before key", &pb.RangeRequest{Key: []byte("z"), RangeEnd: []byte("a")}, "", 0, false, nil},
		{"limit", &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Limit: 2}, "a c ", 6, true, nil},
		{"limit exact", &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Limit: 6}, "a c foo foo/1 foo/2 z ", 6, false, nil},
		{"count only", &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, CountOnly: true}, "", 6, false, nil},
		{"historical rev 3 (b absent, a present)", &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: 3}, "a b ", 2, false, nil},
		{"historical sees deleted b", &pb.RangeRequest{Key: []byte("b"), Revision: 9}, "b ", 1, false, nil},
		{"future rev", &pb.RangeRequest{Key: []byte("a"), Revision: 11}, "", 0, false, ErrFutureRev},
		{"sort by key desc", &pb.RangeRequest{Key: []byte("foo"), RangeEnd: []byte("foo0"), SortOrder: pb.RangeRequest_DESCEND}, "foo/2 foo/1 foo ", 3, false, nil},
		{"sort by mod desc limit 1", &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, SortOrder: pb.RangeRequest_DESCEND, SortTarget: pb.RangeRequest_MOD, Limit: 1}, "foo/1 ", 6, true, nil},
		{"sort by create, order NONE means ascend", &pb.RangeRequest{Key: []byte("foo"), RangeEnd: []byte("g"), SortTarget: pb.RangeRequest_CREATE}, "foo foo/1 foo/2 ", 3, false, nil},
		{"sort by version desc", &pb.RangeRequest{Key: []byte("foo"), RangeEnd: []byte("g"), SortTarget: pb.RangeRequest_VERSION, SortOrder: pb.RangeRequest_DESCEND}, "foo/1 foo foo/2 ", 3, false, nil},
		{"sort by value asc", &pb.RangeRequest{Key: []byte("foo"), RangeEnd: []byte("g"), SortTarget: pb.RangeRequest_VALUE, SortOrder: pb.RangeRequest_ASCEND}, "foo foo/2 foo/1 ", 3, false, nil},
		{"bad sort order", &pb.RangeRequest{Key: []byte("a"), SortOrder: 7}, "", 0, false, ErrInvalidSortOption},
		{"min mod rev", &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, MinModRevision: 8}, "foo/1 z ", 6, false, nil},
		{"max mod rev", &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, MaxModRevision: 4}, "a c ", 6, false, nil},
		{"min create rev", &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, MinCreateRevision: 7}, "foo/2 z ", 6, false, nil},
		{"max create rev + limit", &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, MaxCreateRevision: 6, Limit: 2}, "a c ", 6, true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := h.s.Range(c.req)
			if c.wantErr != nil {
				wantErr(t, err, c.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := keys(resp.Kvs); got != c.wantKeys || resp.Count != c.wantCount || resp.More != c.wantMore {
				t.Fatalf("keys %q count %d more %v, want %q %d %v", got, resp.Count, resp.More, c.wantKeys, c.wantCount, c.wantMore)
			}
			if resp.Header.Revision != 10 {
				t.Fatalf("header revision %d, want 10 (the store revision)", resp.Header.Revision)
			}
		})
	}
	t.Run("keys only", func(t *testing.T) {
		resp, err := h.s.Range(&pb.RangeRequest{Key: []byte("foo/1"), KeysOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := kvString(resp.Kvs[0]); got != "foo/1=(c6,m9,v2,l0)" {
			t.Fatalf("keys_only kv = %s", got)
		}
		if v := h.get("foo/1").Value; string(v) != "zz" {
			t.Fatalf("keys_only changed the stored value: %q", v)
		}
	})
	t.Run("historical values", func(t *testing.T) {
		resp, err := h.s.Range(&pb.RangeRequest{Key: []byte("foo/1"), Revision: 8})
		if err != nil {
			t.Fatal(err)
		}
		if got := kvString(resp.Kvs[0]); got != "foo/1=v-foo/1(c6,m6,v1,l0)" {
			t.Fatalf("foo/1 at 8 = %s", got)
		}
	})
}

func TestRangeAfterCommitAndReopen(t *testing.T) {
	h := rangeFixture(t)
	if err := h.s.Commit(); err != nil {
		t.Fatal(err)
	}
	// Historical reads now come from a read txn (no write txn open).
	resp, err := h.s.Range(&pb.RangeRequest{Key: []byte("b"), Revision: 5})
	if err != nil || len(resp.Kvs) != 1 || kvString(resp.Kvs[0]) != "b=v-b(c3,m3,v1,l0)" {
		t.Fatalf("b at 5 after commit = %v, %v", resp, err)
	}
	h.reopen()
	if h.s.Rev() != 10 {
		t.Fatalf("Rev after reopen = %d, want 10", h.s.Rev())
	}
	resp, err = h.s.Range(&pb.RangeRequest{Key: []byte("foo/1"), Revision: 7})
	if err != nil || kvString(resp.Kvs[0]) != "foo/1=v-foo/1(c6,m6,v1,l0)" {
		t.Fatalf("foo/1 at 7 after reopen = %v, %v", resp, err)
	}
	if got := kvString(h.get("foo/1")); got != "foo/1=zz(c6,m9,v2,l0)" {
		t.Fatalf("foo/1 after reopen = %s", got)
	}
}

func TestDeleteRange(t *testing.T) {
	h := rangeFixture(t)
	resp := h.del("foo", "foo0")
	if resp.Deleted != 3 || resp.Header.Revision != 11 {
		t.Fatalf("deleted %d at rev %d, want 3 at 11", resp.Deleted, resp.Header.Revision)
	}
	if got := kvsString(resp.PrevKvs); got != "[foo=v-foo(c5,m5,v1,l0) foo/1=zz(c6,m9,v2,l0) foo/2=v-foo/2(c7,m7,v1,l0)]" {
		t.Fatalf("prev_kvs = %s", got)
	}
	// One revision, sub revisions 0..2: a range at 10 still sees them, at 11 not.
	r10, _ := h.s.Range(&pb.RangeRequest{Key: []byte("foo"), RangeEnd: []byte("foo0"), Revision: 10, CountOnly: true})
	r11, _ := h.s.Range(&pb.RangeRequest{Key: []byte("foo"), RangeEnd: []byte("foo0"), CountOnly: true})
	if r10.Count != 3 || r11.Count != 0 {
		t.Fatalf("count at 10 = %d (want 3), at 11 = %d (want 0)", r10.Count, r11.Count)
	}
	if resp := h.del("nothing", "nothinh"); resp.Deleted != 0 || resp.Header.Revision != 11 {
		t.Fatalf("empty delete: deleted %d rev %d, want 0 and 11", resp.Deleted, resp.Header.Revision)
	}
}

func TestCompaction(t *testing.T) {
	h := rangeFixture(t) // rev 10
	if err := h.compact(9); err != nil {
		t.Fatal(err)
	}
	if h.s.CompactRev() != 9 {
		t.Fatalf("CompactRev = %d, want 9", h.s.CompactRev())
	}
	cases := []struct {
		name string
		rev  int64
		err  error
	}{
		{"below compact rev", 8, ErrCompacted},
		{"at compact rev (etcd allows)", 9, nil},
		{"current", 10, nil},
		{"future", 11, ErrFutureRev},
	}
	for _, c := range cases {
		t.Run("range "+c.name, func(t *testing.T) {
			_, err := h.s.Range(&pb.RangeRequest{Key: []byte("a"), Revision: c.rev})
			if c.err == nil && err != nil {
				t.Fatal(err)
			}
			if c.err != nil {
				wantErr(t, err, c.err)
			}
		})
	}
	t.Run("compact again", func(t *testing.T) {
		wantErr(t, h.compact(9), ErrCompacted)
		wantErr(t, h.compact(5), ErrCompacted)
		wantErr(t, h.compact(11), ErrFutureRev)
	})
	t.Run("physical removal", func(t *testing.T) {
		// Live keys keep their newest revision <= 9; foo/1's first version (6) is gone;
		// b's tombstone (10) is above the compaction and stays.
		count := 0
		if err := h.s.view(func(keyB, _ *bolt.Bucket) error {
			return keyB.ForEach(func(k, v []byte) error { count++; return nil })
		}); err != nil {
			t.Fatal(err)
		}
		// a c foo foo/1(9) foo/2 z = 6 puts at or below 9; b put (3) + tombstone (10).
		if count != 8 {
			t.Fatalf("key bucket holds %d revisions after compaction, want 8", count)
		}
		resp, err := h.s.Range(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: 9})
		if err != nil || kvsString(resp.Kvs) != "[a=v-a(c2,m2,v1,l0) b=v-b(c3,m3,v1,l0) c=v-c(c4,m4,v1,l0) foo=v-foo(c5,m5,v1,l0) foo/1=zz(c6,m9,v2,l0) foo/2=v-foo/2(c7,m7,v1,l0) z=v-z(c8,m8,v1,l0)]" {
			t.Fatalf("range at compact rev = %v %v", kvsString(resp.GetKvs()), err)
		}
	})
	t.Run("tombstone compacted", func(t *testing.T) {
		if err := h.compact(10); err != nil {
			t.Fatal(err)
		}
		if h.s.idx.get([]byte("b")) != nil {
			t.Fatalf("key b still indexed after compacting its tombstone")
		}
		h.put("b", "again")
		if got := kvString(h.get("b")); got != "b=again(c11,m11,v1,l0)" {
			t.Fatalf("b recreated = %s", got)
		}
	})
	t.Run("survives reopen", func(t *testing.T) {
		if err := h.s.Commit(); err != nil {
			t.Fatal(err)
		}
		h.reopen()
		if h.s.CompactRev() != 10 || h.s.Rev() != 11 {
			t.Fatalf("after reopen compact %d rev %d, want 10 11", h.s.CompactRev(), h.s.Rev())
		}
		_, err := h.s.Range(&pb.RangeRequest{Key: []byte("a"), Revision: 9})
		wantErr(t, err, ErrCompacted)
	})
}

func TestCompactionOfTrailingDeleteKeepsRev(t *testing.T) {
	h := newHarness(t)
	h.put("a", "1")
	h.del("a", "")
	if err := h.compact(3); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Commit(); err != nil {
		t.Fatal(err)
	}
	h.reopen()
	if h.s.Rev() != 3 {
		t.Fatalf("Rev after reopen = %d, want 3 (the key bucket is empty, the revision is not)", h.s.Rev())
	}
}

func TestErrorsAreEtcds(t *testing.T) {
	cases := []struct {
		err  error
		code codes.Code
		msg  string
	}{
		{ErrCompacted, codes.OutOfRange, "etcdserver: mvcc: required revision has been compacted"},
		{ErrFutureRev, codes.OutOfRange, "etcdserver: mvcc: required revision is a future revision"},
		{ErrLeaseNotFound, codes.NotFound, "etcdserver: requested lease not found"},
		{ErrLeaseExist, codes.FailedPrecondition, "etcdserver: lease already exists"},
		{ErrDuplicateKey, codes.InvalidArgument, "etcdserver: duplicate key given in txn request"},
		{&CompactedError{CompactRevision: 3}, codes.OutOfRange, "etcdserver: mvcc: required revision has been compacted"},
	}
	for _, c := range cases {
		var st *status.Status
		var se interface{ GRPCStatus() *status.Status }
		if errors.As(c.err, &se) {
			st = se.GRPCStatus()
		}
		if st == nil || st.Code() != c.code || st.Message() != c.msg {
			t.Errorf("%v: status %v, want %v %q", c.err, st, c.code, c.msg)
		}
	}
}
