package znode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"coordlab/engines/zab/jute"
)

func buildTree(t *testing.T) *harness {
	h := newHarness(t)
	h.session(s1)
	h.session(s2)
	alice := DigestID("alice:pw")
	h.mustCreate(s1, "/a", "data-a", 0)
	h.mustCreate(s1, "/a/b", "", jute.FlagPersistentSequential)
	h.mustCreate(s2, "/a/e", "eph", jute.FlagEphemeral)
	h.mustCreate(s1, "/a-b", "sibling that sorts after /a/...", 0)
	h.mustCreate(s1, "/c", "", jute.FlagContainer)
	h.write(s1, jute.OpCreateTTL, &jute.CreateTTLRequest{Path: "/ttl", ACL: jute.OpenACLUnsafe(), Flags: jute.FlagPersistentWithTTL, TTL: 99})
	h.write(s1, jute.OpCreate, &jute.CreateRequest{Path: "/priv", ACL: []jute.ACL{{Perms: jute.PermAll, ID: alice}}}, alice)
	h.write(s1, jute.OpSetData, &jute.SetDataRequest{Path: "/a", Data: nil, Version: -1})
	return h
}

func TestSnapshotRoundTrip(t *testing.T) {
	h := buildTree(t)
	var buf bytes.Buffer
	if err := h.tree.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSnapshot(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("ReadSnapshot: %v", err)
	}
	if got.Digest() != h.tree.Digest() || got.LastZxid() != h.tree.LastZxid() || got.NodeCount() != h.tree.NodeCount() {
		t.Fatalf("restored tree differs: digest %x vs %x", got.Digest(), h.tree.Digest())
	}
	if got.ApproximateDataSize() != h.tree.ApproximateDataSize() || got.EphemeralCount() != 1 {
		t.Fatalf("derived state differs: size %d vs %d, ephemerals %d", got.ApproximateDataSize(), h.tree.ApproximateDataSize(), got.EphemeralCount())
	}
	// The restored tree behaves the same: apply the same txns to both.
	h2 := &harness{t: t, tree: got, zxid: h.zxid, now: h.now}
	for _, hh := range []*harness{h, h2} {
		hh.write(s2, jute.OpCloseSession, nil)
		hh.mustCreate(s1, "/a/b", "", jute.FlagPersistentSequential)
		hh.write(s1, jute.OpDelete, &jute.DeleteRequest{Path: "/a-b", Version: -1})
	}
	if h.tree.Digest() != h2.tree.Digest() {
		t.Fatal("trees diverged after the same txns")
	}
	if h2.exists("/a/e") {
		t.Fatal("closing the session on the restored tree left its ephemeral")
	}
	var again bytes.Buffer
	if err := h2.tree.WriteSnapshot(&again); err != nil {
		t.Fatal(err)
	}
	var orig bytes.Buffer
	h.tree.WriteSnapshot(&orig)
	if !bytes.Equal(again.Bytes(), orig.Bytes()) {
		t.Fatal("snapshots of equal trees differ: output is not deterministic")
	}
}

func TestSnapshotCorrupt(t *testing.T) {
	h := buildTree(t)
	var buf bytes.Buffer
	if err := h.tree.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 0x40; return b }
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"magic", flip(0)},
		{"body byte", flip(len(good) / 2)},
		{"checksum", flip(len(good) - 1)},
		{"truncated", good[:len(good)-10]},
		{"extra byte", append(bytes.Clone(good), 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadSnapshot(bytes.NewReader(tt.in))
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("ReadSnapshot = %v, want ErrCorruptSnapshot", err)
			}
		})
	}
}

func FuzzReadSnapshot(f *testing.F) {
	h := newHarness(f)
	h.session(s1)
	h.mustCreate(s1, "/x", "y", jute.FlagEphemeral)
	var buf bytes.Buffer
	h.tree.WriteSnapshot(&buf)
	f.Add(buf.Bytes(), false)
	f.Add(buf.Bytes(), true)
	f.Fuzz(func(t *testing.T, b []byte, fixSum bool) {
		if fixSum && len(b) >= 4 {
			// Reseal the input so the fuzzer gets past the checksum and
			// reaches the structure checks.
			b = binary.BigEndian.AppendUint32(bytes.Clone(b[:len(b)-4]), crc32.Checksum(b[:len(b)-4], castagnoli))
		}
		tree, err := ReadSnapshot(bytes.NewReader(b))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := tree.WriteSnapshot(&out); err != nil {
			t.Fatal(err)
		}
		again, err := ReadSnapshot(&out)
		if err != nil || again.Digest() != tree.Digest() {
			t.Fatalf("snapshot round trip: %v", err)
		}
	})
}
