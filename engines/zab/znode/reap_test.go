package znode

import (
	"slices"
	"testing"

	"coordlab/engines/zab/jute"
)

func TestContainersAndTTL(t *testing.T) {
	h := newHarness(t)
	h.session(s1)
	h.mustCreate(s1, "/c", "", jute.FlagContainer)
	h.mustCreate(s1, "/never", "", jute.FlagContainer)
	// Stored as ZooKeeper's marker, reported to clients as 0.
	if owner, st := h.tree.nodes["/c"].stat.EphemeralOwner, h.stat("/c"); owner != ContainerOwner || st.EphemeralOwner != 0 {
		t.Fatalf("container owner stored %x reported %x, want %x and 0", owner, st.EphemeralOwner, ContainerOwner)
	}
	h.mustCreate(s1, "/c/child", "", 0)
	if got := h.tree.ContainersToDelete(); len(got) != 0 {
		t.Fatalf("ContainersToDelete with a child = %v, want none", got)
	}
	h.write(s1, jute.OpDelete, &jute.DeleteRequest{Path: "/c/child", Version: -1})
	if got := h.tree.ContainersToDelete(); !slices.Equal(got, []string{"/c"}) {
		t.Fatalf("ContainersToDelete = %v, want [/c] (/never never had a child)", got)
	}
	reap := func(path string) jute.Code {
		res, _ := h.apply(h.prepare(Request{Op: jute.OpDeleteContainer, Body: &jute.PathRequest{Path: path}}))
		return res.Err
	}
	if c := reap("/c"); c != jute.ZOK || h.exists("/c") {
		t.Fatalf("reap /c: %v, exists %v", c, h.exists("/c"))
	}
	h.mustCreate(s1, "/plain", "", 0)
	if c := reap("/plain"); c != jute.ZBADVERSION {
		t.Fatalf("reap a persistent node: %v, want ZBADVERSION", c)
	}

	// TTL nodes: expired once childless and unmodified for ttl ms.
	h.now = 10_000
	res, _ := h.write(s1, jute.OpCreateTTL, &jute.CreateTTLRequest{Path: "/t", ACL: jute.OpenACLUnsafe(), Flags: jute.FlagPersistentWithTTL, TTL: 500})
	if owner := h.tree.nodes["/t"].stat.EphemeralOwner; res.Err != jute.ZOK || owner != -0x100000000000000|500 || res.Stat.EphemeralOwner != 0 {
		t.Fatalf("createTTL: %v stored owner %x reported %x", res.Err, owner, res.Stat.EphemeralOwner)
	}
	if got := h.tree.ExpiredTTLs(10_500); len(got) != 0 {
		t.Fatalf("ExpiredTTLs at +500ms = %v, want none (must be more than ttl)", got)
	}
	h.now = 10_400
	h.write(s1, jute.OpSetData, &jute.SetDataRequest{Path: "/t", Version: -1})
	if got := h.tree.ExpiredTTLs(10_501); len(got) != 0 {
		t.Fatalf("ExpiredTTLs after a recent setData = %v, want none", got)
	}
	if got := h.tree.ExpiredTTLs(10_901); !slices.Equal(got, []string{"/t"}) {
		t.Fatalf("ExpiredTTLs = %v, want [/t]", got)
	}
	if c := reap("/t"); c != jute.ZOK || h.exists("/t") {
		t.Fatalf("reap /t: %v", c)
	}
}
