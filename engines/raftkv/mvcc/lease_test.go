package mvcc

import (
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

func TestLeaseGrant(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name    string
		id, ttl int64
		wantTTL int64
		wantErr error
	}{
		{"explicit id", 100, 30, 30, nil},
		{"existing id", 100, 30, 0, ErrLeaseExist},
		{"ttl raised to the minimum", 101, 1, 2, nil},
		{"ttl too large", 102, MaxLeaseTTL + 1, 0, ErrLeaseTTLTooLarge},
		{"largest ttl", 103, MaxLeaseTTL, MaxLeaseTTL, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := h.grant(c.id, c.ttl)
			if c.wantErr != nil {
				wantErr(t, err, c.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.ID != c.id || resp.TTL != c.wantTTL {
				t.Fatalf("grant = id %d ttl %d, want %d %d", resp.ID, resp.TTL, c.id, c.wantTTL)
			}
			if l, ok := h.s.Lease(c.id); !ok || l.TTL != c.wantTTL {
				t.Fatalf("Lease(%d) = %+v, %v", c.id, l, ok)
			}
		})
	}
	if h.s.Rev() != 1 {
		t.Fatalf("grants moved the revision to %d", h.s.Rev())
	}
}

func TestLeaseIDFromIndexIsDeterministic(t *testing.T) {
	a, b := newHarness(t), newHarness(t)
	var ids []int64
	for i := 0; i < 5; i++ {
		ra, err := a.grant(0, 10)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := b.grant(0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if ra.ID != rb.ID || ra.ID <= 0 {
			t.Fatalf("grant %d: ids %d and %d, want equal and positive", i, ra.ID, rb.ID)
		}
		ids = append(ids, ra.ID)
	}
	seen := map[int64]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("duplicate lease id %d in %v", id, ids)
		}
		seen[id] = true
	}
	// A taken ID is skipped: grant the ID index 7 would pick, then grant with 0 at index 7.
	c := newHarness(t)
	want := c.s.pickLeaseID(2)
	if _, err := c.grant(want, 10); err != nil { // index 1
		t.Fatal(err)
	}
	got, err := c.grant(0, 10) // index 2
	if err != nil {
		t.Fatal(err)
	}
	if got.ID == want {
		t.Fatalf("grant with 0 reused the taken id %d", want)
	}
}

func TestLeaseRevokeDeletesKeysInOneRevision(t *testing.T) {
	h := newHarness(t)
	if _, err := h.grant(1, 60); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"c", "a", "b"} {
		if _, err := h.putLease(k, "v", 1); err != nil {
			t.Fatal(err)
		}
	}
	h.put("free", "v")                                  // rev 5
	if _, err := h.putLease("b", "v2", 0); err != nil { // b leaves the lease: rev 6
		t.Fatal(err)
	}
	if l, _ := h.s.Lease(1); len(l.Keys) != 2 || string(l.Keys[0]) != "a" || string(l.Keys[1]) != "c" {
		t.Fatalf("lease keys = %q, want [a c]", l.Keys)
	}
	w, err := h.s.Watch(WatchRequest{Key: []byte{0}, End: []byte{0}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Cancel()
	resp, err := h.apply(&pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if rev := resp.(*pb.LeaseRevokeResponse).Header.Revision; rev != 7 {
		t.Fatalf("revoke revision %d, want 7", rev)
	}
	if h.get("a") != nil || h.get("c") != nil || h.get("b") == nil || h.get("free") == nil {
		t.Fatalf("after revoke: a=%s b=%s c=%s free=%s", kvString(h.get("a")), kvString(h.get("b")), kvString(h.get("c")), kvString(h.get("free")))
	}
	batch := <-w.Chan()
	if len(batch.Events) != 2 || batch.Events[0].Type != mvccpb.Event_DELETE || string(batch.Events[0].Kv.Key) != "a" ||
		string(batch.Events[1].Kv.Key) != "c" || batch.Events[1].Kv.ModRevision != 7 {
		t.Fatalf("revoke events = %v, want deletes of a and c at 7 in one batch", batch.Events)
	}
	if _, ok := h.s.Lease(1); ok {
		t.Fatalf("lease 1 still exists")
	}
	_, err = h.apply(&pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: 1}})
	wantErr(t, err, ErrLeaseNotFound)
	// A lease without keys: revoke does not move the revision.
	if _, err := h.grant(2, 60); err != nil {
		t.Fatal(err)
	}
	resp, err = h.apply(&pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: 2}})
	if err != nil || resp.(*pb.LeaseRevokeResponse).Header.Revision != 7 {
		t.Fatalf("empty revoke = %v %v, want revision 7", resp, err)
	}
}

func TestLeasesSurviveReopen(t *testing.T) {
	h := newHarness(t)
	if _, err := h.grant(9, 60); err != nil {
		t.Fatal(err)
	}
	if _, err := h.grant(3, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := h.putLease("k", "v", 9); err != nil {
		t.Fatal(err)
	}
	if _, err := h.apply(&pb.InternalRaftRequest{LeaseCheckpoint: &pb.LeaseCheckpointRequest{
		Checkpoints: []*pb.LeaseCheckpoint{{ID: 9, Remaining_TTL: 42}, {ID: 404, Remaining_TTL: 1}}}}); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Commit(); err != nil {
		t.Fatal(err)
	}
	h.reopen()
	ls := h.s.Leases()
	if len(ls) != 2 || ls[0].ID != 3 || ls[1].ID != 9 || ls[1].TTL != 60 || ls[1].RemainingTTL != 42 ||
		len(ls[1].Keys) != 1 || string(ls[1].Keys[0]) != "k" {
		t.Fatalf("leases after reopen = %+v", ls)
	}
	// The rebuilt attachment works: revoking deletes k.
	if _, err := h.apply(&pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: 9}}); err != nil {
		t.Fatal(err)
	}
	if h.get("k") != nil {
		t.Fatalf("k survived the revoke of its lease after reopen")
	}
}
