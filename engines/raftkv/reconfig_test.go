package raftkv

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"coordlab/engines/raftkv/v3rpc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

var _ v3rpc.Reconfigurer = (*Server)(nil)

func memberByID(ms []*pb.Member, id uint64) *pb.Member {
	for _, m := range ms {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// localValue reads k from s's store as a serializable read does.
func localValue(s *Server, k string) (string, bool) {
	resp, err := s.Store().Range(&pb.RangeRequest{Key: []byte(k)})
	if err != nil || len(resp.Kvs) == 0 {
		return "", false
	}
	return string(resp.Kvs[0].Value), true
}

// TestLearnerAddPromote: a learner is added with ConfChangeAddLearnerNode,
// joins with --initial-cluster-state existing, replicates without voting,
// and is promoted (through a follower, which forwards to the leader) only
// once its log is close to the leader's; etcd 3.4's refusals on the way.
func TestLearnerAddPromote(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	lead := c.waitLeader()
	follower := (lead + 1) % 3
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	ln := freeListener(t)
	peerURL := "http://" + ln.Addr().String()
	ln.Close()
	m, ms, err := c.servers[follower].AddMember(ctx, []string{peerURL}, true)
	if err != nil {
		t.Fatalf("AddMember learner: %v", err)
	}
	if !m.IsLearner || !memberByID(ms, m.ID).GetIsLearner() {
		t.Fatalf("added member %v, list %v: want a learner", m, ms)
	}
	// Raft ignores a conf change proposed while another is not applied yet
	// (its proposer times out, as etcd's does): wait for every member.
	for _, s := range c.servers {
		waitFor(t, "every member to apply the learner's addition", func() bool { _, ok := s.members.get(m.ID); return ok })
	}
	if _, _, err := c.servers[lead].AddMember(ctx, []string{"http://127.0.0.1:1"}, true); !errors.Is(err, rpctypes.ErrGRPCTooManyLearners) {
		t.Fatalf("second learner: %v, want ErrGRPCTooManyLearners", err)
	}
	// Not started: its log is empty, far from the leader's.
	if _, err := c.servers[follower].PromoteMember(ctx, m.ID); !errors.Is(err, rpctypes.ErrGRPCLearnerNotReady) {
		t.Fatalf("promote a learner that never started: %v, want ErrGRPCLearnerNotReady", err)
	}
	if _, err := c.servers[follower].PromoteMember(ctx, c.servers[lead].ID()); !errors.Is(err, rpctypes.ErrGRPCMemberNotLearner) {
		t.Fatalf("promote a voter: %v, want ErrGRPCMemberNotLearner", err)
	}
	if _, err := c.servers[lead].PromoteMember(ctx, 0x1234); !errors.Is(err, rpctypes.ErrGRPCMemberNotFound) {
		t.Fatalf("promote an unknown member: %v, want ErrGRPCMemberNotFound", err)
	}

	// member update keeps a learner a learner (etcd 3.4 drops the flag from
	// its member list while raft keeps the member a learner); the learner
	// then starts on its new URL with its old id.
	ln = freeListener(t)
	peerURL = "http://" + ln.Addr().String()
	ln.Close()
	if ms, err = c.servers[lead].UpdateMember(ctx, m.ID, []string{peerURL}); err != nil {
		t.Fatalf("update the learner's URL: %v", err)
	}
	if u := memberByID(ms, m.ID); !u.GetIsLearner() || !slices.Equal(u.GetPeerURLs(), []string{peerURL}) {
		t.Fatalf("learner after member update: %v, want a learner at %s", u, peerURL)
	}

	initial := append(slices.Clone(c.cfgs[0].InitialCluster), InitialMember{Name: "learner", PeerURLs: []string{peerURL}})
	cfg := memberConfig(t, "learner", peerURL, initial, t.TempDir())
	cfg.ClusterState = ClusterStateExisting
	c.cfgs = append(c.cfgs, cfg)
	c.servers = append(c.servers, nil)
	c.start(3)
	learner := c.servers[3]
	if learner.ID() != m.ID || !learner.IsLearner() || !learner.Status().IsLearner {
		t.Fatalf("joined member %x learner=%v, want %x a learner", learner.ID(), learner.IsLearner(), m.ID)
	}
	for i := range 200 {
		mustPut(t, c.servers[lead], fmt.Sprintf("k%03d", i), fmt.Sprint(i))
	}
	waitFor(t, "the learner to replicate every key", func() bool {
		v, ok := localValue(learner, "k199")
		return ok && v == "199"
	})
	st, err := c.servers[lead].raftStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pr, tracked := st.Progress[m.ID]
	_, isLearner := st.Config.Learners[m.ID]
	_, isVoter := st.Config.Voters.IDs()[m.ID]
	if !tracked || !pr.IsLearner || !isLearner || isVoter {
		t.Fatalf("leader's raft config %v: want %x a learner, not a voter", st.Config, m.ID)
	}

	// Stopped, the learner falls behind: refused again until it catches up.
	c.stop(3)
	for i := range 100 {
		mustPut(t, c.servers[lead], fmt.Sprintf("behind%03d", i), "x")
	}
	if _, err := c.servers[follower].PromoteMember(ctx, m.ID); !errors.Is(err, rpctypes.ErrGRPCLearnerNotReady) {
		t.Fatalf("promote a stopped learner 100 entries behind: %v, want ErrGRPCLearnerNotReady", err)
	}
	c.start(3)
	learner = c.servers[3]
	waitFor(t, "the restarted learner to catch up", func() bool {
		_, ok := localValue(learner, "behind099")
		return ok
	})

	// The learner has applied every entry; the leader learns its match
	// index from its next acknowledgement, so the first promote may still
	// find it behind: etcd's answer then is "not ready", and a user retries.
	var perr error
	waitFor(t, "the leader to see the learner in sync and promote it", func() bool {
		ms, perr = c.servers[follower].PromoteMember(ctx, m.ID)
		if perr != nil && !errors.Is(perr, rpctypes.ErrGRPCLearnerNotReady) {
			t.Fatalf("promote the learner in sync: %v", perr)
		}
		return perr == nil
	})
	if memberByID(ms, m.ID).GetIsLearner() {
		t.Fatalf("member list after promotion: %v", ms)
	}
	waitFor(t, "the promoted member to apply its promotion", func() bool { return !learner.IsLearner() })
	if _, err := c.servers[lead].PromoteMember(ctx, m.ID); !errors.Is(err, rpctypes.ErrGRPCMemberNotLearner) {
		t.Fatalf("promote again: %v, want ErrGRPCMemberNotLearner", err)
	}
	mustPut(t, learner, "from", "promoted")
	mustGet(t, c.servers[lead], "from", "promoted")
	// A voter now: the membership survives its restart.
	c.stop(3)
	c.start(3)
	if c.servers[3].IsLearner() {
		t.Fatal("promoted member is a learner again after restart")
	}
}

// TestMemberUpdatePersists: member update changes a member's peer URLs on
// every member; the member restarts on its new URL and the others reach it
// there; after a restart of every member the new URL holds.
func TestMemberUpdatePersists(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	lead := c.waitLeader()
	victim := (lead + 1) % 3
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	id := c.servers[victim].ID()

	ln := freeListener(t)
	newURL := "http://" + ln.Addr().String()
	ln.Close()
	if _, err := c.servers[lead].UpdateMember(ctx, id, []string{c.cfgs[lead].PeerURLs[0]}); !errors.Is(err, rpctypes.ErrGRPCPeerURLExist) {
		t.Fatalf("update to another member's URL: %v, want ErrGRPCPeerURLExist", err)
	}
	if _, err := c.servers[lead].UpdateMember(ctx, 0x1234, []string{newURL}); !errors.Is(err, rpctypes.ErrGRPCMemberNotFound) {
		t.Fatalf("update of an unknown member: %v, want ErrGRPCMemberNotFound", err)
	}
	ms, err := c.servers[victim].UpdateMember(ctx, id, []string{newURL})
	if err != nil {
		t.Fatalf("UpdateMember: %v", err)
	}
	if got := memberByID(ms, id).GetPeerURLs(); !slices.Equal(got, []string{newURL}) {
		t.Fatalf("peer URLs after update: %v, want [%s]", got, newURL)
	}
	for i, s := range c.servers {
		waitFor(t, fmt.Sprintf("member %d to apply the update", i), func() bool {
			m, ok := s.members.get(id)
			return ok && slices.Equal(m.PeerURLs, []string{newURL})
		})
	}
	c.stop(victim)
	c.cfgs[victim].PeerURLs = []string{newURL}
	c.cfgs[victim].ListenPeerURLs = []string{newURL}
	c.start(victim)
	// The victim takes part at its new URL: with the third member down, the
	// leader needs it for a quorum.
	third := 3 - lead - victim
	c.stop(third)
	mustPut(t, c.servers[c.waitLeader()], "after", "update")
	c.start(third)

	c.stopAll()
	for i := range c.servers {
		c.start(i)
	}
	lead = c.waitLeader()
	mustPut(t, c.servers[lead], "after", "restart")
	for _, s := range c.servers {
		mustGet(t, s, "after", "restart")
		m, _ := s.members.get(id)
		if !slices.Equal(m.PeerURLs, []string{newURL}) {
			t.Fatalf("member %x after restart has peer URLs %v for %x, want [%s]", s.ID(), m.PeerURLs, id, newURL)
		}
	}
}
