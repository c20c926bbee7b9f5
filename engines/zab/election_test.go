package zab

import "testing"

// followingThree returns member 1 of {1,2,3}, which decided to follow 3 in
// round 1 and waits for LEADERINFO.
func followingThree(t *testing.T) *Node {
	t.Helper()
	n, err := NewNode(Config{ID: 1, Peers: []ServerID{1, 2, 3}, Storage: NewMemoryStorage(), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	v := Vote{Leader: 3, ElectionEpoch: 1}
	for _, from := range []ServerID{2, 3} {
		if err := n.Step(Message{Type: MsgNotification, From: from, To: 1, Vote: v, State: StateLooking}); err != nil {
			t.Fatal(err)
		}
	}
	for range n.cfg.FinalizeWaitTicks {
		n.Tick()
	}
	if n.state != StateFollowing || n.leader != 3 || n.fol.stage != fsAwaitLeaderInfo {
		t.Fatalf("setup: %s leader=%d stage=%d, want FOLLOWING 3 awaiting LEADERINFO", n.state, n.leader, n.fol.stage)
	}
	return n
}

// A follower whose chosen leader keeps saying it is LOOKING for itself (it
// never gathered a quorum) looks again after maxLeaderRefusals of them, not
// after InitLimitTicks.
func TestChosenLeaderStillLooking(t *testing.T) {
	n := followingThree(t)
	self := Message{Type: MsgNotification, From: 3, To: 1, Vote: Vote{Leader: 3, ElectionEpoch: 1}, State: StateLooking}
	for i := 1; i < maxLeaderRefusals; i++ {
		n.Step(self)
		if n.state != StateFollowing {
			t.Fatalf("after %d LOOKING notifications from 3: %s, want still FOLLOWING (3 may yet lead)", i, n.state)
		}
	}
	n.Step(self)
	if n.state != StateLooking {
		t.Fatalf("after %d LOOKING notifications from 3: %s, want LOOKING", maxLeaderRefusals, n.state)
	}
}

// A chosen leader that votes for another member in the follower's round, or
// follows someone, will not lead: the follower looks again at once.
func TestChosenLeaderNotLeading(t *testing.T) {
	for _, m := range []Message{
		{Type: MsgNotification, From: 3, To: 1, Vote: Vote{Leader: 2, ElectionEpoch: 1}, State: StateLooking},
		{Type: MsgNotification, From: 3, To: 1, Vote: Vote{Leader: 2, ElectionEpoch: 1, PeerEpoch: 1}, State: StateFollowing},
	} {
		n := followingThree(t)
		n.Step(m)
		if n.state != StateLooking {
			t.Fatalf("after %s: %s, want LOOKING", m, n.state)
		}
	}
	// A vote for another member from an earlier round says nothing about
	// this one.
	n := followingThree(t)
	n.round = 2
	n.Step(Message{Type: MsgNotification, From: 3, To: 1, Vote: Vote{Leader: 2, ElectionEpoch: 1}, State: StateLooking})
	if n.state != StateFollowing {
		t.Fatalf("after an old-round vote: %s, want still FOLLOWING", n.state)
	}
}

// Only a leader takes FOLLOWERINFO; any other member answers with a
// notification of its state, as ZooKeeper's closed quorum port refuses.
func TestFollowerInfoRefusedByNonLeader(t *testing.T) {
	n := followingThree(t) // 1 follows 3
	for rd := n.Ready(); ; rd = n.Ready() {
		n.Advance(rd)
		if !n.HasReady() {
			break
		}
	}
	n.Step(Message{Type: MsgFollowerInfo, From: 2, To: 1, Conn: 7})
	rd := n.Ready()
	var got []Message
	for _, m := range append(rd.EarlyMessages, rd.Messages...) {
		if m.To == 2 {
			got = append(got, m)
		}
	}
	if len(got) != 1 || got[0].Type != MsgNotification || got[0].State != StateFollowing || got[0].Vote.Leader != 3 {
		t.Fatalf("FOLLOWERINFO to a follower of 3: replies %v, want one FOLLOWING notification naming 3", got)
	}
}

// A leader of 5 whose epoch is not established looks again once too many
// members show they follow or vote for others for a quorum to remain; a
// connected learner's notifications do not count it out, and a vote for the
// leader counts a member back in.
func TestLeaderWithoutQuorumLooksAgain(t *testing.T) {
	n, err := NewNode(Config{ID: 3, Peers: []ServerID{1, 2, 3, 4, 5}, Storage: NewMemoryStorage(), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range []ServerID{1, 2} {
		n.Step(Message{Type: MsgNotification, From: from, To: 3, Vote: Vote{Leader: 3, ElectionEpoch: 1}, State: StateLooking})
	}
	for range n.cfg.FinalizeWaitTicks {
		n.Tick()
	}
	if n.state != StateLeading {
		t.Fatalf("setup: %s, want LEADING", n.state)
	}
	n.Step(Message{Type: MsgFollowerInfo, From: 2, To: 3, Conn: 1})
	vote5 := func(from ServerID, st ServerState) Message {
		return Message{Type: MsgNotification, From: from, To: 3, Vote: Vote{Leader: 5, ElectionEpoch: 1}, State: st}
	}
	for _, m := range []Message{vote5(2, StateLooking), vote5(1, StateLooking), vote5(4, StateLooking),
		{Type: MsgNotification, From: 4, To: 3, Vote: Vote{Leader: 3, ElectionEpoch: 1}, State: StateLooking}, vote5(5, StateLeading)} {
		n.Step(m)
		if n.state != StateLeading {
			t.Fatalf("after %s: %s; 3 of 5 (3, connected 2, and 4 or 5) may still follow, want LEADING", m, n.state)
		}
	}
	n.Step(vote5(4, StateFollowing))
	if n.state != StateLooking {
		t.Fatalf("after 1, 4 and 5 went to 5: %s, want LOOKING", n.state)
	}
}
