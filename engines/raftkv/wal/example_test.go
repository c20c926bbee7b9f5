package wal_test

import (
	"fmt"
	"os"

	"coordlab/engines/raftkv/wal"

	raftpb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Save entries and a hard state with one fsync, then replay them.
func Example() {
	dir, _ := os.MkdirTemp("", "wal-example")
	defer os.RemoveAll(dir)

	w, _, err := wal.Open(dir, wal.Config{SegmentBytes: 1 << 20})
	if err != nil {
		fmt.Println(err)
		return
	}
	ents := []*raftpb.Entry{
		{Term: proto.Uint64(1), Index: proto.Uint64(1), Type: raftpb.EntryNormal.Enum(), Data: []byte("a")},
		{Term: proto.Uint64(1), Index: proto.Uint64(2), Type: raftpb.EntryNormal.Enum(), Data: []byte("b")},
	}
	hs := &raftpb.HardState{Term: proto.Uint64(1), Vote: proto.Uint64(1), Commit: proto.Uint64(2)}
	if err := w.Save(nil, ents, hs, true); err != nil {
		fmt.Println(err)
		return
	}
	w.Close()

	_, st, err := wal.Open(dir, wal.Config{SegmentBytes: 1 << 20})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d entries, last %q, commit %d\n", len(st.Entries), st.Entries[1].Data, st.HardState.GetCommit())
	// Output: 2 entries, last "b", commit 2
}
