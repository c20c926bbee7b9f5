package raftkv

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	raftpb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// etcdWALWriter writes records as etcd's WAL encoder does: a frame of a
// little-endian length (padding to 8 bytes flagged in the top byte), then a
// walpb.Record whose crc chains CRC-32C over the data written so far.
type etcdWALWriter struct {
	b   []byte
	crc uint32
}

func (w *etcdWALWriter) record(typ int64, data []byte) {
	if typ == etcdRecCRC {
		data = nil
	} else {
		w.crc = crc32.Update(w.crc, crcCastagnoli, data)
	}
	var rec []byte
	rec = protowire.AppendTag(rec, 1, protowire.VarintType)
	rec = protowire.AppendVarint(rec, uint64(typ))
	rec = protowire.AppendTag(rec, 2, protowire.VarintType)
	rec = protowire.AppendVarint(rec, uint64(w.crc))
	if data != nil {
		rec = protowire.AppendTag(rec, 3, protowire.BytesType)
		rec = protowire.AppendBytes(rec, data)
	}
	pad := (8 - len(rec)%8) % 8
	l := uint64(len(rec))
	if pad > 0 {
		l |= uint64(0x80|pad) << 56
	}
	w.b = binary.LittleEndian.AppendUint64(w.b, l)
	w.b = append(w.b, rec...)
	w.b = append(w.b, make([]byte, pad)...)
}

func mustMarshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// restoreWAL is what etcdctl snapshot restore writes for members (and, with
// extra, normal entries after them).
func restoreWAL(ms []member, self uint64, extra int) []byte {
	ids := make([]uint64, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	w := &etcdWALWriter{}
	w.record(etcdRecCRC, nil)
	w.record(etcdRecMetadata, mustMarshal(&pb.Metadata{NodeID: proto.Uint64(self), ClusterID: proto.Uint64(ClusterID(ids))}))
	w.record(etcdRecSnapshot, nil)
	n := uint64(0)
	for _, m := range ms {
		n++
		cc := &raftpb.ConfChange{Type: raftpb.ConfChangeAddNode.Enum(), NodeId: proto.Uint64(m.ID), Context: mustJSON(m)}
		w.record(etcdRecEntry, mustMarshal(&raftpb.Entry{Type: raftpb.EntryConfChange.Enum(), Term: proto.Uint64(1),
			Index: proto.Uint64(n), Data: mustMarshal(cc)}))
	}
	for range extra {
		n++
		w.record(etcdRecEntry, mustMarshal(&raftpb.Entry{Type: raftpb.EntryNormal.Enum(), Term: proto.Uint64(1), Index: proto.Uint64(n)}))
	}
	w.record(etcdRecState, mustMarshal(&raftpb.HardState{Term: proto.Uint64(1), Vote: proto.Uint64(ids[0]), Commit: proto.Uint64(n)}))
	w.record(etcdRecSnapshot, mustMarshal(&raftpb.HardState{Term: proto.Uint64(n), Vote: proto.Uint64(1)})) // index n, term 1: same wire fields
	return append(w.b, make([]byte, 4096)...)                                                               // preallocated zeros
}

func writeEtcdWAL(t testing.TB, b []byte) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "0000000000000000-0000000000000000.wal"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func testRestoreMembers() []member {
	var ms []member
	for i, name := range []string{"r1", "r2", "r3"} {
		u := "http://127.0.0.1:" + string(rune('1'+i)) + "380"
		ms = append(ms, member{ID: MemberID([]string{u}, "restored", nil), Name: name, PeerURLs: []string{u}})
	}
	return ms
}

// TestReadEtcdWAL: the WAL of etcdctl snapshot restore gives the ids and the
// initial members; a damaged record or a log with writes is refused.
func TestReadEtcdWAL(t *testing.T) {
	ms := testRestoreMembers()
	good := restoreWAL(ms, ms[1].ID, 0)
	w, err := readEtcdWAL(writeEtcdWAL(t, good))
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.restoredMembers()
	if err != nil {
		t.Fatal(err)
	}
	if w.nodeID != ms[1].ID || len(got) != 3 || got[2].Name != "r3" || got[0].PeerURLs[0] != ms[0].PeerURLs[0] || got[0].ID != ms[0].ID {
		t.Fatalf("read node %x, members %+v; want node %x and %+v", w.nodeID, got, ms[1].ID, ms)
	}

	bad := append([]byte(nil), good...)
	bad[100] ^= 0x40 // inside a member's JSON
	if _, err := readEtcdWAL(writeEtcdWAL(t, bad)); err == nil || !strings.Contains(err.Error(), "crc") {
		t.Fatalf("damaged record: err %v, want a crc mismatch", err)
	}
	w, err = readEtcdWAL(writeEtcdWAL(t, restoreWAL(ms, ms[0].ID, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.restoredMembers(); err == nil || !strings.Contains(err.Error(), "EntryNormal") {
		t.Fatalf("a log with writes: err %v, want it refused", err)
	}
}

// FuzzEtcdWAL: whatever bytes an etcd WAL segment holds, reading it and
// checking it as restore output fail cleanly or yield consistent members.
func FuzzEtcdWAL(f *testing.F) {
	ms := testRestoreMembers()
	f.Add(restoreWAL(ms, ms[0].ID, 0))
	f.Add(restoreWAL(ms[:1], ms[0].ID, 1))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		w := &etcdWAL{}
		if err := w.decodeSegment(b); err != nil {
			return
		}
		got, err := w.restoredMembers()
		if err != nil {
			return
		}
		ids := make([]uint64, len(got))
		for i, m := range got {
			if m.ID == 0 || len(m.PeerURLs) == 0 {
				t.Fatalf("accepted member %+v", m)
			}
			ids[i] = m.ID
		}
		if ClusterID(ids) != w.clusterID || w.hardState.GetCommit() != uint64(len(got)) {
			t.Fatalf("accepted members %v with cluster %x, commit %d", ids, w.clusterID, w.hardState.GetCommit())
		}
	})
}
