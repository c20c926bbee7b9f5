package v3rpc

import (
	"context"
	"io"
	"sync/atomic"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// learnerBackend is a memBackend that is a Reconfigurer, a learner while
// learner is set; it records the member update it is asked for.
type learnerBackend struct {
	*memBackend
	learner atomic.Bool
	updated []string
}

func (b *learnerBackend) IsLearner() bool { return b.learner.Load() }

func (b *learnerBackend) UpdateMember(ctx context.Context, id uint64, urls []string) ([]*pb.Member, error) {
	b.updated = urls
	return b.Members(), nil
}

func (b *learnerBackend) PromoteMember(ctx context.Context, id uint64) ([]*pb.Member, error) {
	return nil, rpctypes.ErrGRPCLearnerNotReady
}

// TestLearnerRefusesWhatEtcdRefuses: on a learner only Status, serializable
// Range and Snapshot are served (etcd 3.4's isRPCSupportedForLearner and
// its stream interceptor); everything else answers
// ErrGRPCNotSupportedForLearner; a voter serves all of it.
func TestLearnerRefusesWhatEtcdRefuses(t *testing.T) {
	mb := newMemBackend(t)
	lb := &learnerBackend{memBackend: mb}
	ts := newTestServerWith(t, DefaultConfig(), mb, lb)
	cli := ts.client(t)
	ctx := testCtx(t)
	conn := cli.ActiveConnection()
	kv, cl, mt := pb.NewKVClient(conn), pb.NewClusterClient(conn), pb.NewMaintenanceClient(conn)
	if _, err := kv.Put(ctx, &pb.PutRequest{Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	lb.learner.Store(true)
	calls := []struct {
		name    string
		served  bool
		call    func() error
		onVoter bool // also checked on a voter (the refused calls that change nothing)
	}{
		{"status", true, func() error { _, err := mt.Status(ctx, &pb.StatusRequest{}); return err }, true},
		{"serializable range", true, func() error {
			_, err := kv.Range(ctx, &pb.RangeRequest{Key: []byte("k"), Serializable: true})
			return err
		}, true},
		{"snapshot", true, func() error {
			st, err := mt.Snapshot(ctx, &pb.SnapshotRequest{})
			if err != nil {
				return err
			}
			for {
				if _, err := st.Recv(); err == io.EOF {
					return nil
				} else if err != nil {
					return err
				}
			}
		}, true},
		{"linearizable range", false, func() error { _, err := kv.Range(ctx, &pb.RangeRequest{Key: []byte("k")}); return err }, true},
		{"put", false, func() error { _, err := kv.Put(ctx, &pb.PutRequest{Key: []byte("k"), Value: []byte("w")}); return err }, false},
		{"member list", false, func() error { _, err := cl.MemberList(ctx, &pb.MemberListRequest{}); return err }, true},
		{"alarm list", false, func() error {
			_, err := mt.Alarm(ctx, &pb.AlarmRequest{Action: pb.AlarmRequest_GET})
			return err
		}, true},
		{"lease grant", false, func() error {
			_, err := pb.NewLeaseClient(conn).LeaseGrant(ctx, &pb.LeaseGrantRequest{TTL: 60})
			return err
		}, false},
		{"watch", false, func() error {
			w, err := pb.NewWatchClient(conn).Watch(ctx)
			if err != nil {
				return err
			}
			_, err = w.Recv()
			return err
		}, false},
	}
	for _, c := range calls {
		err := c.call()
		switch {
		case c.served && err != nil:
			t.Errorf("%s on a learner: %v, want it served", c.name, err)
		case !c.served && !sameStatus(err, rpctypes.ErrGRPCNotSupportedForLearner):
			t.Errorf("%s on a learner: %v, want %v", c.name, err, rpctypes.ErrGRPCNotSupportedForLearner)
		}
	}
	lb.learner.Store(false)
	for _, c := range calls {
		if c.onVoter {
			if err := c.call(); err != nil {
				t.Errorf("%s on a voter: %v", c.name, err)
			}
		}
	}

	// member update and promote reach the Reconfigurer; bad URLs do not.
	if _, err := cl.MemberUpdate(ctx, &pb.MemberUpdateRequest{ID: 1, PeerURLs: []string{"foo"}}); !sameStatus(err, rpctypes.ErrGRPCMemberBadURLs) {
		t.Fatalf("member update with a bad URL: %v, want %v", err, rpctypes.ErrGRPCMemberBadURLs)
	}
	if _, err := cl.MemberUpdate(ctx, &pb.MemberUpdateRequest{ID: 1, PeerURLs: []string{"http://127.0.0.1:2390"}}); err != nil || len(lb.updated) != 1 {
		t.Fatalf("member update: %v (backend asked for %v)", err, lb.updated)
	}
	if _, err := cl.MemberPromote(ctx, &pb.MemberPromoteRequest{ID: 1}); !sameStatus(err, rpctypes.ErrGRPCLearnerNotReady) {
		t.Fatalf("member promote: %v, want the backend's %v", err, rpctypes.ErrGRPCLearnerNotReady)
	}
}
