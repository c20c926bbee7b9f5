package raftkv

import (
	"fmt"
	"slices"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"coordlab/engines/raftkv/wal"
)

// forceNewCluster is etcd's --force-new-cluster (restartAsStandaloneNode):
// the disaster-recovery path after a quorum is lost for good. From this
// member's WAL it drops the entries that were never committed, then appends
// committed conf changes that remove every other member (and add this one
// if it is somehow missing), and records them as committed. Raft applies
// them at start, this member is the only voter, elects itself, and serves
// what it had committed; members are added back with `etcdctl member add`.
// The removed members' data must not be used again (they are in the
// removed set, and peers refuse them).
func (s *Server) forceNewCluster(st *wal.State, clusterID uint64) error {
	hs := proto.Clone(st.HardState).(*raftpb.HardState)
	if st.HardState == nil {
		hs = &raftpb.HardState{}
	}
	commit := hs.GetCommit()
	var snapIndex uint64
	ids := map[uint64]bool{}
	if st.Snapshot != nil {
		md := st.Snapshot.GetMetadata()
		snapIndex = md.GetIndex()
		for _, id := range slices.Concat(md.GetConfState().GetVoters(), md.GetConfState().GetLearners()) {
			ids[id] = true
		}
	}
	commit = max(commit, snapIndex)
	keep := st.Entries[:0]
	for _, e := range st.Entries {
		if e.GetIndex() > commit {
			break
		}
		keep = append(keep, e)
		if e.GetType() != raftpb.EntryConfChange {
			continue
		}
		var cc raftpb.ConfChange
		if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
			return fmt.Errorf("--force-new-cluster: entry %d: bad conf change: %w", e.GetIndex(), err)
		}
		switch cc.GetType() {
		case raftpb.ConfChangeAddNode, raftpb.ConfChangeAddLearnerNode:
			if cc.GetNodeId() != 0 {
				ids[cc.GetNodeId()] = true
			}
		case raftpb.ConfChangeRemoveNode:
			delete(ids, cc.GetNodeId())
		}
	}
	if last := commit; len(keep) > 0 && keep[len(keep)-1].GetIndex() != last {
		return fmt.Errorf("--force-new-cluster: the WAL holds entries up to %d but its commit index is %d", keep[len(keep)-1].GetIndex(), last)
	}
	next := commit + 1
	term := hs.GetTerm()
	var forced []*raftpb.Entry
	appendCC := func(cc *raftpb.ConfChange) error {
		data, err := proto.Marshal(cc)
		if err != nil {
			return err
		}
		forced = append(forced, &raftpb.Entry{Type: raftpb.EntryConfChange.Enum(), Term: proto.Uint64(term), Index: proto.Uint64(next), Data: data})
		next++
		return nil
	}
	others := make([]uint64, 0, len(ids))
	for id := range ids {
		if id != s.id {
			others = append(others, id)
		}
	}
	slices.Sort(others)
	for _, id := range others {
		if err := appendCC(&raftpb.ConfChange{Type: raftpb.ConfChangeRemoveNode.Enum(), NodeId: proto.Uint64(id)}); err != nil {
			return err
		}
	}
	if !ids[s.id] {
		m := member{ID: s.id, Name: s.cfg.Name, PeerURLs: sortedCopy(s.cfg.PeerURLs)}
		if err := appendCC(&raftpb.ConfChange{Type: raftpb.ConfChangeAddNode.Enum(), NodeId: proto.Uint64(s.id), Context: mustJSON(m)}); err != nil {
			return err
		}
	}
	hs.Commit = proto.Uint64(next - 1)
	if err := s.w.Save(nil, forced, hs, true); err != nil {
		return fmt.Errorf("--force-new-cluster: write the WAL: %w", err)
	}
	st.Entries = append(keep, forced...)
	st.HardState = hs
	s.cfg.Logger.Warn("forcing restart member", "cluster-id", fmt.Sprintf("%x", clusterID), "local-member-id", fmt.Sprintf("%x", s.id),
		"commit-index", next-1, "removed-members", len(others))
	return nil
}
