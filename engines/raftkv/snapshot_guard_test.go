package raftkv

import (
	"testing"

	raftpb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// TestMaybeSnapshotAfterInstallWaitsForTheLog: after a follower installs a
// snapshot at index S whose store (read by the leader when it sent it) is at
// S+15 >= S+SnapshotCount, the raft log ends at S. maybeSnapshot must not
// snapshot past it (MemoryStorage.CreateSnapshot panics) nor past the entries
// applied here; once the entries above S are in the log and applied, it
// snapshots at the last of them.
func TestMaybeSnapshotAfterInstallWaitsForTheLog(t *testing.T) {
	ln := freeListener(t)
	url := "http://" + ln.Addr().String()
	ln.Close()
	cfg := memberConfig(t, "m0", url, []InitialMember{{Name: "m0", PeerURLs: []string{url}}}, t.TempDir())
	cfg.SnapshotCount = 10
	cfg.SnapshotCatchUpEntries = 5
	s, err := New(cfg) // not started: the test plays the append and apply threads
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.closeStorage)

	const snapIndex, storeIndex = 10, 25
	cs := &raftpb.ConfState{Voters: []uint64{s.ID()}}
	// What the append thread and installSnapshot leave behind.
	if err := s.ms.ApplySnapshot(&raftpb.Snapshot{Data: s.members.marshal(),
		Metadata: &raftpb.SnapshotMetadata{Index: proto.Uint64(snapIndex), Term: proto.Uint64(2), ConfState: cs}}); err != nil {
		t.Fatal(err)
	}
	s.ap.confState = cs
	s.ap.snapIndex, s.ap.entryIndex = snapIndex, snapIndex
	s.setApplied(storeIndex)

	if err := s.maybeSnapshot(); err != nil {
		t.Fatalf("maybeSnapshot right after the install: %v", err)
	}
	if got := snapshotIndex(t, s); got != snapIndex {
		t.Fatalf("snapshot at %d right after the install, want none past %d", got, snapIndex)
	}

	// The entries above S arrive: appended, then applied (the store skips them).
	var ents []*raftpb.Entry
	for i := uint64(snapIndex + 1); i <= storeIndex+2; i++ {
		ents = append(ents, &raftpb.Entry{Index: proto.Uint64(i), Term: proto.Uint64(2), Type: raftpb.EntryNormal.Enum()})
	}
	if err := s.ms.Append(ents[:5]); err != nil {
		t.Fatal(err)
	}
	if !s.apply(ents[:5]) {
		t.Fatal("apply stopped")
	}
	if err := s.maybeSnapshot(); err != nil {
		t.Fatal(err)
	}
	if got := snapshotIndex(t, s); got != snapIndex {
		t.Fatalf("snapshot at %d after 5 entries, want none yet (SnapshotCount 10)", got)
	}
	if err := s.ms.Append(ents[5:]); err != nil {
		t.Fatal(err)
	}
	if !s.apply(ents[5:]) {
		t.Fatal("apply stopped")
	}
	if err := s.maybeSnapshot(); err != nil {
		t.Fatal(err)
	}
	if got, want := snapshotIndex(t, s), uint64(storeIndex+2); got != want {
		t.Fatalf("snapshot at %d once the log caught up, want %d", got, want)
	}
}

func snapshotIndex(t *testing.T, s *Server) uint64 {
	t.Helper()
	snap, err := s.ms.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return snap.GetMetadata().GetIndex()
}
