package znode

import (
	"testing"

	"coordlab/engines/zab/jute"
)

// TestQuotaStats: the stats node of a quota'd path is recounted when it is
// created and follows every create, setData and delete below the deepest
// quota'd ancestor, as ZooKeeper 3.8's DataTree keeps it; its Stat does not
// change.
func TestQuotaStats(t *testing.T) {
	h := newHarness(t)
	h.session(s1)
	h.mustCreate(s1, "/a", "hello", 0)
	h.mustCreate(s1, "/a/b", "xy", 0)
	h.mustCreate(s1, "/zookeeper/quota/a", "", 0)
	h.mustCreate(s1, "/zookeeper/quota/a/zookeeper_limits", "count=5,bytes=-1", 0)
	h.mustCreate(s1, "/zookeeper/quota/a/zookeeper_stats", "count=0,bytes=0", 0)
	stats := func() string {
		t.Helper()
		d, _, err := h.tree.GetData("/zookeeper/quota/a/zookeeper_stats", nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		return string(d)
	}
	if got := stats(); got != "count=2,bytes=7" {
		t.Fatalf("after creating the stats node: %q, want count=2,bytes=7", got)
	}
	before := h.stat("/zookeeper/quota/a/zookeeper_stats")
	h.mustCreate(s1, "/a/b/c", "1234", 0)
	h.write(s1, jute.OpSetData, &jute.SetDataRequest{Path: "/a", Data: []byte("hi"), Version: -1})
	h.mustCreate(s1, "/other", "zzzz", 0) // no quota
	if got := stats(); got != "count=3,bytes=8" {
		t.Fatalf("after create and setData: %q, want count=3,bytes=8", got)
	}
	h.write(s1, jute.OpDelete, &jute.DeleteRequest{Path: "/a/b/c", Version: -1})
	if got := stats(); got != "count=2,bytes=4" {
		t.Fatalf("after delete: %q, want count=2,bytes=4", got)
	}
	after := h.stat("/zookeeper/quota/a/zookeeper_stats")
	if after.Version != before.Version || after.Mzxid != before.Mzxid {
		t.Fatalf("stats node Stat changed: %+v -> %+v", before, after)
	}
	// A deeper quota takes its subtree's changes.
	h.mustCreate(s1, "/zookeeper/quota/a/b", "", 0)
	h.mustCreate(s1, "/zookeeper/quota/a/b/zookeeper_limits", "count=5,bytes=-1", 0)
	h.mustCreate(s1, "/zookeeper/quota/a/b/zookeeper_stats", "", 0)
	h.mustCreate(s1, "/a/b/d", "q", 0)
	if got := stats(); got != "count=2,bytes=4" {
		t.Fatalf("/a after a create under /a/b's own quota: %q, want unchanged", got)
	}
	if d, _, _ := h.tree.GetData("/zookeeper/quota/a/b/zookeeper_stats", nil, 0); string(d) != "count=2,bytes=3" {
		t.Fatalf("/a/b stats %q, want count=2,bytes=3", d)
	}
	if got := formatStatsTrack(parseStatsTrack("count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=10")); got != "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=10" {
		t.Fatalf("StatsTrack round trip: %q", got)
	}
}
