package raftkv

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// waitFor polls cond until it holds or 10s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func counterValue(t *testing.T, s *Server, name string) float64 {
	t.Helper()
	mfs, err := s.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

func TestSnapshotInstallOnLaggingMember(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) {
		cfg.SnapshotCount = 20
		cfg.SnapshotCatchUpEntries = 5
		cfg.BatchInterval = 50 * time.Millisecond // as cmd/raftkv: the store commits lag applies
	})
	lead := c.waitLeader()
	lag := (lead + 1) % 3
	c.stop(lag)
	for i := range 60 {
		mustPut(t, c.servers[lead], fmt.Sprintf("k%02d", i), fmt.Sprint(i))
	}
	if got := counterValue(t, c.servers[lead], "raftkv_server_snapshots_saved_total"); got < 1 {
		t.Fatalf("leader saved %v snapshots after 60 puts with --snapshot-count 20, want >= 1", got)
	}
	c.start(lag)
	s := c.servers[lag]
	waitFor(t, "lagging member to install a snapshot", func() bool {
		return counterValue(t, s, "raftkv_server_snapshots_applied_total") >= 1
	})
	for i := range 60 {
		mustGet(t, s, fmt.Sprintf("k%02d", i), fmt.Sprint(i))
	}
	// The member restarts from the installed snapshot and its WAL.
	c.stop(lag)
	c.start(lag)
	mustPut(t, c.servers[lead], "after", "restart")
	mustGet(t, c.servers[lag], "k07", "7")
	mustGet(t, c.servers[lag], "after", "restart")
}

func TestMemberAddRemove(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	lead := c.waitLeader()
	mustPut(t, c.servers[lead], "before", "add")

	ln := freeListener(t)
	peerURL := "http://" + ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, ms, err := c.servers[lead].AddMember(ctx, []string{peerURL}, false)
	if err != nil {
		t.Fatalf("AddMember: %v", err)
	}
	if len(ms) != 4 {
		t.Fatalf("members after add: got %d, want 4", len(ms))
	}
	if _, _, err := c.servers[lead].AddMember(ctx, []string{peerURL}, false); !errors.Is(err, rpctypes.ErrGRPCPeerURLExist) {
		t.Fatalf("adding the same peer URL again: got %v, want ErrGRPCPeerURLExist", err)
	}
	initial := append([]InitialMember(nil), c.cfgs[0].InitialCluster...)
	initial = append(initial, InitialMember{Name: "m3", PeerURLs: []string{peerURL}})
	cfg := memberConfig(t, "m3", peerURL, initial, t.TempDir())
	cfg.ClusterState = ClusterStateExisting
	c.cfgs = append(c.cfgs, cfg)
	c.servers = append(c.servers, nil)
	c.start(3)
	joined := c.servers[3]
	if joined.ID() != m.ID {
		t.Fatalf("joined member id %x, want %x from AddMember", joined.ID(), m.ID)
	}
	if joined.ClusterID() != c.servers[lead].ClusterID() {
		t.Fatalf("joined member cluster id %x, want %x", joined.ClusterID(), c.servers[lead].ClusterID())
	}
	mustGet(t, joined, "before", "add")
	mustPut(t, joined, "from", "new")
	mustGet(t, c.servers[lead], "from", "new")
	waitFor(t, "new member's name published", func() bool {
		for _, x := range c.servers[lead].Members() {
			if x.ID == m.ID && x.Name == "m3" {
				return true
			}
		}
		return false
	})

	ms2, err := c.servers[lead].RemoveMember(ctx, m.ID)
	if err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	if len(ms2) != 3 {
		t.Fatalf("members after remove: got %d, want 3", len(ms2))
	}
	select {
	case <-joined.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("removed member did not stop")
	}
	if !errors.Is(joined.Err(), ErrRemoved) {
		t.Fatalf("removed member's Err: got %v, want ErrRemoved", joined.Err())
	}
	if _, err := c.servers[lead].RemoveMember(ctx, m.ID); !errors.Is(err, rpctypes.ErrGRPCMemberNotFound) {
		t.Fatalf("removing again: got %v, want ErrGRPCMemberNotFound", err)
	}
	mustPut(t, c.servers[lead], "after", "remove")
}

func TestLeaseExpiryRevokesKeysEverywhere(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	lead := c.waitLeader()
	fol := (lead + 1) % 3
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.servers[fol].Propose(ctx, &pb.InternalRaftRequest{LeaseGrant: &pb.LeaseGrantRequest{TTL: 5}})
	if err != nil {
		t.Fatalf("grant: %v", err)
	}
	id := resp.(*pb.LeaseGrantResponse).ID
	if _, err := c.servers[fol].Propose(ctx, &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte("eph"), Value: []byte("x"), Lease: id}}); err != nil {
		t.Fatalf("put with lease: %v", err)
	}
	// Keep-alive and time-to-live through a follower are forwarded to the leader.
	ttl, err := c.servers[fol].LeaseRenew(ctx, id)
	if err != nil || ttl != 5 {
		t.Fatalf("renew via follower: ttl %d err %v, want 5", ttl, err)
	}
	tr, err := c.servers[fol].LeaseTimeToLive(ctx, id, true)
	if err != nil || tr.GrantedTTL != 5 || tr.TTL < 1 || tr.TTL > 5 || len(tr.Keys) != 1 {
		t.Fatalf("time-to-live via follower: %v err %v", tr, err)
	}
	if _, err := c.servers[fol].LeaseRenew(ctx, id+12345); !errors.Is(err, rpctypes.ErrGRPCLeaseNotFound) {
		t.Fatalf("renew unknown lease: got %v, want ErrGRPCLeaseNotFound", err)
	}
	// Skew the leader's lease clock past the TTL: it revokes through the log.
	c.servers[lead].SetClockOffset(time.Minute)
	for _, s := range c.servers {
		waitFor(t, "key of the expired lease to vanish", func() bool {
			_, ok, err := get(ctx, s, "eph")
			return err == nil && !ok
		})
	}
	if _, ok := c.servers[fol].Store().Lease(id); ok {
		t.Fatalf("lease %d still in the store after expiry", id)
	}
}

func TestRequestTooLargeAndNoLeader(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.MaxRequestBytes = 1024 })
	lead := c.waitLeader()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := put(ctx, c.servers[lead], "big", string(make([]byte, 2048)))
	if !errors.Is(err, rpctypes.ErrGRPCRequestTooLarge) {
		t.Fatalf("2 KiB put with 1 KiB limit: got %v, want ErrGRPCRequestTooLarge", err)
	}
	// With two of three members down the survivor has no leader: etcd's errors.
	survivor := (lead + 1) % 3
	for i := range 3 {
		if i != survivor {
			c.stop(i)
		}
	}
	waitFor(t, "survivor to lose its leader", func() bool { return c.servers[survivor].Leader() == 0 })
	short, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	if _, err := put(short, c.servers[survivor], "k", "v"); !errors.Is(err, rpctypes.ErrGRPCNoLeader) {
		t.Fatalf("put without quorum: got %v, want ErrGRPCNoLeader", err)
	}
	short2, cancel3 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel3()
	if err := c.servers[survivor].LinearizableRead(short2); !errors.Is(err, rpctypes.ErrGRPCNoLeader) {
		t.Fatalf("read without quorum: got %v, want ErrGRPCNoLeader", err)
	}
}

func TestConcurrentReadsShareReadIndexRounds(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	lead := c.waitLeader()
	fol := c.servers[(lead+1)%3]
	mustPut(t, c.servers[lead], "r", "1")
	before := counterValue(t, fol, "raftkv_server_read_index_rounds_total")
	const readers = 200
	errs := make(chan error, readers)
	start := make(chan struct{})
	for range readers {
		go func() {
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			errs <- fol.LinearizableRead(ctx)
		}()
	}
	close(start)
	for range readers {
		if err := <-errs; err != nil {
			t.Fatalf("linearizable read on a follower: %v", err)
		}
	}
	rounds := counterValue(t, fol, "raftkv_server_read_index_rounds_total") - before
	if rounds < 1 || rounds >= readers/2 {
		t.Fatalf("%d concurrent reads took %v ReadIndex rounds, want batching (1..%d)", readers, rounds, readers/2-1)
	}
	mustGet(t, fol, "r", "1")
}

func TestTooManyPendingProposals(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.MaxPendingProposals = 1 })
	lead := c.waitLeader()
	survivor := (lead + 1) % 3
	for i := range 3 {
		if i != survivor {
			c.stop(i)
		}
	}
	s := c.servers[survivor]
	waitFor(t, "survivor to lose its leader", func() bool { return s.Leader() == 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	first := make(chan error, 1)
	go func() {
		_, err := put(ctx, s, "k", "1")
		first <- err
	}()
	waitFor(t, "one pending proposal", func() bool { return counterValue(t, s, "raftkv_server_proposals_pending") == 1 })
	if _, err := put(ctx, s, "k", "2"); !errors.Is(err, rpctypes.ErrGRPCRequestTooManyRequests) {
		t.Fatalf("second proposal with MaxPendingProposals 1: got %v, want ErrGRPCRequestTooManyRequests", err)
	}
	if err := <-first; err == nil {
		t.Fatal("first proposal succeeded without a quorum")
	}
}
