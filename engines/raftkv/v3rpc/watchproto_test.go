package v3rpc

import (
	"context"
	"errors"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestWatchStreamProtocol drives the Watch stream with raw requests and
// checks etcd's answers: ids chosen by the client or assigned, duplicate ids
// and empty ranges refused with created+canceled and watch_id -1, created
// before events, cancel confirmed, unknown cancel ignored.
func TestWatchStreamProtocol(t *testing.T) {
	ts := newTestServer(t, DefaultConfig())
	cli := ts.client(t)
	ctx := testCtx(t)
	for _, k := range []string{"a", "b"} {
		if _, err := cli.Put(ctx, k, "v"); err != nil { // revs 2, 3
			t.Fatal(err)
		}
	}
	stream, err := pb.NewWatchClient(cli.ActiveConnection()).Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	create := func(cr *pb.WatchCreateRequest) {
		t.Helper()
		if err := stream.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: cr}}); err != nil {
			t.Fatal(err)
		}
	}
	cancel := func(id int64) {
		t.Helper()
		if err := stream.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CancelRequest{CancelRequest: &pb.WatchCancelRequest{WatchId: id}}}); err != nil {
			t.Fatal(err)
		}
	}
	recv := func() *pb.WatchResponse {
		t.Helper()
		r, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	create(&pb.WatchCreateRequest{Key: []byte("a"), WatchId: 7, StartRevision: 2})
	if r := recv(); !r.Created || r.WatchId != 7 || r.Canceled {
		t.Fatalf("create with id 7: %v", r)
	}
	if r := recv(); r.WatchId != 7 || len(r.Events) != 1 || string(r.Events[0].Kv.Key) != "a" {
		t.Fatalf("event of watch 7: %v", r)
	}
	create(&pb.WatchCreateRequest{Key: []byte("b"), WatchId: 7})
	if r := recv(); !r.Created || !r.Canceled || r.WatchId != -1 || r.CancelReason == "" {
		t.Fatalf("duplicate id 7: %v, want created+canceled with id -1 and a reason", r)
	}
	create(&pb.WatchCreateRequest{Key: []byte("b"), RangeEnd: []byte("a")})
	if r := recv(); !r.Created || !r.Canceled || r.WatchId != -1 {
		t.Fatalf("empty range: %v, want created+canceled with id -1", r)
	}
	create(&pb.WatchCreateRequest{Key: []byte("b")}) // auto id: 0
	r := recv()
	if !r.Created || r.WatchId != 0 {
		t.Fatalf("auto id: %v, want created with id 0", r)
	}
	checkHeader(t, "created", r.Header, 3)
	cancel(12345) // unknown: no answer
	cancel(7)
	if r := recv(); !r.Canceled || r.WatchId != 7 {
		t.Fatalf("cancel 7: %v", r)
	}
	if _, err := cli.Put(ctx, "b", "w"); err != nil { // rev 4
		t.Fatal(err)
	}
	if r := recv(); r.WatchId != 0 || len(r.Events) != 1 || r.Events[0].Kv.ModRevision != 4 {
		t.Fatalf("event of watch 0: %v", r)
	}
	// A stream-wide progress request: every watcher is synced, so the
	// answer is immediate, with watch_id -1 and the current revision.
	if err := stream.Send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_ProgressRequest{ProgressRequest: &pb.WatchProgressRequest{}}}); err != nil {
		t.Fatal(err)
	}
	if r := recv(); r.WatchId != -1 || len(r.Events) != 0 || r.Header.Revision != 4 {
		t.Fatalf("progress: %v, want watch_id -1 at rev 4", r)
	}
}

// TestRequireLeader: with clientv3.WithRequireLeader, a member without a
// leader refuses the request with ErrNoLeader, as etcd.
func TestRequireLeader(t *testing.T) {
	ts := newTestServer(t, DefaultConfig())
	cli := ts.client(t)
	ctx := testCtx(t)
	ts.b.noLeader.Store(true)
	_, err := cli.Get(clientv3.WithRequireLeader(ctx), "k", clientv3.WithSerializable())
	if !errors.Is(err, rpctypes.ErrNoLeader) {
		t.Fatalf("get with require-leader and no leader: err = %v, want %v", err, rpctypes.ErrNoLeader)
	}
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	r, ok := <-cli.Watch(wctx, "k")
	if !ok || !errors.Is(r.Err(), rpctypes.ErrNoLeader) {
		t.Fatalf("watch with require-leader and no leader: %v %v, want %v", ok, r.Err(), rpctypes.ErrNoLeader)
	}
	ts.b.noLeader.Store(false)
	if _, err := cli.Get(clientv3.WithRequireLeader(ctx), "k"); err != nil {
		t.Fatalf("get with a leader: %v", err)
	}
}

// TestWatchLeaderLoss: a watch stream that requires a leader ends with
// ErrNoLeader once the member has had no leader for three checks.
func TestWatchLeaderLoss(t *testing.T) {
	cfg := DefaultConfig()
	cfg.LeaderCheckInterval = 10 * time.Millisecond
	ts := newTestServer(t, cfg)
	cli := ts.client(t)
	ctx := testCtx(t)
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wc := cli.Watch(wctx, "k", clientv3.WithCreatedNotify())
	if r := <-wc; !r.Created {
		t.Fatalf("first response: %+v, want created", r)
	}
	// A watch without the requirement on the same client is unaffected.
	plain := cli.Watch(ctx, "k")
	ts.b.noLeader.Store(true)
	r, ok := <-wc
	if !ok || !errors.Is(r.Err(), rpctypes.ErrNoLeader) {
		t.Fatalf("after leader loss: ok %v err %v, want %v", ok, r.Err(), rpctypes.ErrNoLeader)
	}
	ts.b.noLeader.Store(false)
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if r := <-plain; len(r.Events) != 1 {
		t.Fatalf("plain watch after the other stream ended: %+v, want the put", r)
	}
}
