package mvcc

import (
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

func TestTxnCompares(t *testing.T) {
	h := newHarness(t)
	h.put("a", "10") // rev 2
	h.put("a", "20") // rev 3, version 2
	h.put("b1", "x") // rev 4
	h.put("b2", "y") // rev 5
	g, err := h.grant(5, 60)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.putLease("l", "v", g.ID); err != nil { // rev 6
		t.Fatal(err)
	}
	const (
		EQ = pb.Compare_EQUAL
		GT = pb.Compare_GREATER
		LT = pb.Compare_LESS
		NE = pb.Compare_NOT_EQUAL
	)
	rangeCmp := func(c *pb.Compare, end string) *pb.Compare { c.RangeEnd = []byte(end); return c }
	cases := []struct {
		name string
		cmp  *pb.Compare
		want bool
	}{
		{"value equal", cmpVal("a", EQ, "20"), true},
		{"value not equal", cmpVal("a", NE, "20"), false},
		{"value greater (bytes)", cmpVal("a", GT, "100"), true},
		{"value less", cmpVal("a", LT, "3"), true},
		{"value on missing key fails even with NOT_EQUAL", cmpVal("zz", NE, "x"), false},
		{"version equal", cmpVer("a", EQ, 2), true},
		{"version of missing key is 0", cmpVer("zz", EQ, 0), true},
		{"create equal", cmpCreate("a", EQ, 2), true},
		{"create of missing key is 0", cmpCreate("zz", EQ, 0), true},
		{"create greater", cmpCreate("a", GT, 1), true},
		{"mod equal", cmpMod("a", EQ, 3), true},
		{"mod less", cmpMod("a", LT, 3), false},
		{"lease equal", cmpLease("l", EQ, 5), true},
		{"lease of key without lease is 0", cmpLease("a", EQ, 0), true},
		{"range: all versions equal 1", rangeCmp(cmpVer("b", EQ, 1), "c"), true},
		{"range: not all mods greater than 4", rangeCmp(cmpMod("b", GT, 4), "c"), false},
		{"range: every mod greater than 3", rangeCmp(cmpMod("b", GT, 3), "c"), true},
		{"range over nothing compares zero", rangeCmp(cmpCreate("q", EQ, 0), "r"), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := h.txn(&pb.TxnRequest{Compare: []*pb.Compare{c.cmp}, Success: []*pb.RequestOp{opGet("a", "")}, Failure: []*pb.RequestOp{opGet("b1", "")}})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Succeeded != c.want {
				t.Fatalf("succeeded = %v, want %v", resp.Succeeded, c.want)
			}
			wantKey := "b1"
			if c.want {
				wantKey = "a"
			}
			if got := resp.Responses[0].GetResponseRange().Kvs[0].Key; string(got) != wantKey {
				t.Fatalf("branch read %q, want %q", got, wantKey)
			}
			if resp.Header.Revision != 6 || h.s.Rev() != 6 {
				t.Fatalf("read-only txn moved the revision: header %d store %d", resp.Header.Revision, h.s.Rev())
			}
		})
	}
}

func TestTxnWrites(t *testing.T) {
	h := newHarness(t)
	h.put("a", "1") // rev 2
	h.put("b", "1") // rev 3

	t.Run("one revision, sub revisions, reads see own writes", func(t *testing.T) {
		resp, err := h.txn(&pb.TxnRequest{
			Compare: []*pb.Compare{cmpVal("a", pb.Compare_EQUAL, "1")},
			Success: []*pb.RequestOp{opGet("a", ""), opPut("a", "2"), opDel("b", ""), opGet("a", ""), opPut("c", "new"), opGet("", "\x00")},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !resp.Succeeded || resp.Header.Revision != 4 || h.s.Rev() != 4 {
			t.Fatalf("succeeded %v header %d rev %d, want true 4 4", resp.Succeeded, resp.Header.Revision, h.s.Rev())
		}
		r := resp.Responses
		if got := kvsString(r[0].GetResponseRange().Kvs); got != "[a=1(c2,m2,v1,l0)]" {
			t.Fatalf("read before put = %s", got)
		}
		if got := kvString(r[1].GetResponsePut().PrevKv); got != "a=1(c2,m2,v1,l0)" {
			t.Fatalf("put prev = %s", got)
		}
		if d := r[2].GetResponseDeleteRange(); d.Deleted != 1 || kvsString(d.PrevKvs) != "[b=1(c3,m3,v1,l0)]" {
			t.Fatalf("delete = %v", d)
		}
		if got := kvsString(r[3].GetResponseRange().Kvs); got != "[a=2(c2,m4,v2,l0)]" {
			t.Fatalf("read after put = %s", got)
		}
		if got := kvsString(r[5].GetResponseRange().Kvs); got != "[a=2(c2,m4,v2,l0) c=new(c4,m4,v1,l0)]" {
			t.Fatalf("read all = %s", got)
		}
		// Sub revisions: put a = 4_0, delete b = 4_1, put c = 4_2.
		for _, want := range []struct {
			key  string
			sub  int64
			tomb bool
		}{{"a", 0, false}, {"b", 1, true}, {"c", 2, false}} {
			ki := h.s.idx.get([]byte(want.key))
			last := ki.revs[len(ki.revs)-1]
			if last.rev != (Revision{Main: 4, Sub: want.sub}) || last.tomb != want.tomb {
				t.Fatalf("key %s last revision %+v, want 4_%d tomb=%v", want.key, last, want.sub, want.tomb)
			}
		}
	})

	t.Run("nested txn with compares evaluated before the outer writes", func(t *testing.T) {
		inner := &pb.TxnRequest{
			Compare: []*pb.Compare{cmpVal("a", pb.Compare_EQUAL, "2")}, // true before the outer put
			Success: []*pb.RequestOp{opPut("inner", "then")},
			Failure: []*pb.RequestOp{opPut("inner", "else")},
		}
		resp, err := h.txn(&pb.TxnRequest{
			Compare: []*pb.Compare{cmpVer("a", pb.Compare_EQUAL, 2)},
			Success: []*pb.RequestOp{opPut("a", "3"), opTxn(inner)},
		})
		if err != nil {
			t.Fatal(err)
		}
		nested := resp.Responses[1].GetResponseTxn()
		if !resp.Succeeded || !nested.Succeeded {
			t.Fatalf("outer %v nested %v, want both true", resp.Succeeded, nested.Succeeded)
		}
		if got := kvString(h.get("inner")); got != "inner=then(c5,m5,v1,l0)" {
			t.Fatalf("inner = %s", got)
		}
		if nested.Header.Revision != 5 {
			t.Fatalf("nested header revision %d, want 5", nested.Header.Revision)
		}
	})

	t.Run("failed check leaves no trace", func(t *testing.T) {
		before := h.s.Rev()
		_, err := h.txn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("x", "1"),
			{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("y"), Lease: 404}}}}})
		wantErr(t, err, ErrLeaseNotFound)
		_, err = h.txn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("x", "1"),
			{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte("a"), Revision: 99}}}}})
		wantErr(t, err, ErrFutureRev)
		_, err = h.txn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("x", "1"),
			{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("y"), IgnoreValue: true}}}}})
		wantErr(t, err, ErrKeyNotFound)
		if h.s.Rev() != before || h.get("x") != nil {
			t.Fatalf("failed txn changed the store: rev %d -> %d, x = %s", before, h.s.Rev(), kvString(h.get("x")))
		}
	})

	t.Run("failure branch checks only the chosen path", func(t *testing.T) {
		resp, err := h.txn(&pb.TxnRequest{
			Compare: []*pb.Compare{cmpVal("a", pb.Compare_EQUAL, "nope")},
			Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("y"), Lease: 404}}}},
			Failure: []*pb.RequestOp{opPut("f", "1")},
		})
		if err != nil || resp.Succeeded {
			t.Fatalf("txn = %v, %v; want failure branch without error", resp, err)
		}
		if h.get("f") == nil {
			t.Fatalf("failure branch not applied")
		}
	})
}

func TestCheckTxnDuplicates(t *testing.T) {
	cases := []struct {
		name string
		txn  *pb.TxnRequest
		dup  bool
	}{
		{"two puts of one key", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("a", "1"), opPut("a", "2")}}, true},
		{"puts in different branches", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("a", "1")}, Failure: []*pb.RequestOp{opPut("a", "2")}}, false},
		{"put and delete of one key", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("a", "1"), opDel("a", "")}}, true},
		{"put inside deleted range", &pb.TxnRequest{Success: []*pb.RequestOp{opDel("a", "c"), opPut("b", "1")}}, true},
		{"put outside deleted range", &pb.TxnRequest{Success: []*pb.RequestOp{opDel("a", "c"), opPut("c", "1")}}, false},
		{"put after \\x00 delete", &pb.TxnRequest{Success: []*pb.RequestOp{opDel("a", "\x00"), opPut("zzz", "1")}}, true},
		{"two deletes", &pb.TxnRequest{Success: []*pb.RequestOp{opDel("a", ""), opDel("a", "")}}, false},
		{"nested put duplicates outer put", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("a", "1"),
			opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("a", "2")}})}}, true},
		{"nested then/else put the same key", &pb.TxnRequest{Success: []*pb.RequestOp{
			opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("a", "2")}, Failure: []*pb.RequestOp{opPut("a", "3")}})}}, false},
		{"nested delete covers outer put", &pb.TxnRequest{Success: []*pb.RequestOp{opPut("a", "1"),
			opTxn(&pb.TxnRequest{Failure: []*pb.RequestOp{opDel("a", "b")}})}}, true},
		{"two nested txns put the same key", &pb.TxnRequest{Success: []*pb.RequestOp{
			opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("a", "2")}}),
			opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("a", "3")}})}}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckTxn(c.txn)
			if c.dup {
				wantErr(t, err, ErrDuplicateKey)
			} else if err != nil {
				t.Fatalf("CheckTxn = %v, want nil", err)
			}
			h := newHarness(t)
			_, err = h.txn(c.txn)
			if c.dup {
				wantErr(t, err, ErrDuplicateKey)
				if h.s.Rev() != 1 {
					t.Fatalf("rejected txn moved the revision to %d", h.s.Rev())
				}
			} else if err != nil {
				t.Fatalf("Apply = %v", err)
			}
		})
	}
}
