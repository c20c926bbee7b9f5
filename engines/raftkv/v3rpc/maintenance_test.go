package v3rpc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"coordlab/engines/raftkv/mvcc"

	"go.etcd.io/bbolt"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestClusterAndStatus(t *testing.T) {
	ts := newTestServer(t, DefaultConfig())
	cli := ts.client(t)
	ctx := testCtx(t)
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	ml, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkHeader(t, "member list", ml.Header, 2)
	if len(ml.Members) != 1 || ml.Members[0].ID != testMemberID || ml.Members[0].Name != "m1" {
		t.Fatalf("member list: %v", ml.Members)
	}
	// clientv3 checks URLs itself; the server checks them again for other clients.
	raw := pb.NewClusterClient(cli.ActiveConnection())
	for _, u := range []string{"not a url", "http://127.0.0.1", "ftp://127.0.0.1:2380"} {
		if _, err := raw.MemberAdd(ctx, &pb.MemberAddRequest{PeerURLs: []string{u}}); !sameStatus(err, rpctypes.ErrGRPCMemberBadURLs) {
			t.Fatalf("member add %q: err = %v, want %v", u, err, rpctypes.ErrGRPCMemberBadURLs)
		}
	}
	if _, err := cli.MemberRemove(ctx, 99); !errors.Is(err, rpctypes.ErrMemberNotFound) {
		t.Fatalf("member remove 99: err = %v, want %v", err, rpctypes.ErrMemberNotFound)
	}

	st, err := cli.Status(ctx, ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	checkHeader(t, "status", st.Header, 2)
	if st.Leader != testMemberID || st.RaftTerm != testTerm || st.DbSize <= 0 || st.Version == "" {
		t.Fatalf("status: %+v", st)
	}

	h1, err := cli.HashKV(ctx, ts.addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkHeader(t, "hashkv", h1.Header, 2)
	if _, err := cli.Put(ctx, "k", "v2"); err != nil {
		t.Fatal(err)
	}
	h2, err := cli.HashKV(ctx, ts.addr, 2)
	if err != nil {
		t.Fatal(err)
	}
	if h2.Hash != h1.Hash || h2.HashRevision != 2 {
		t.Fatalf("hashkv at rev 2 after a later put: %x (rev %d), want %x as before", h2.Hash, h2.HashRevision, h1.Hash)
	}
	h3, err := cli.HashKV(ctx, ts.addr, 0)
	if err != nil || h3.Hash == h1.Hash {
		t.Fatalf("hashkv at rev 3: %v %v, want a hash different from rev 2", h3, err)
	}

	for _, rev := range []int64{-5, 100} {
		_, err := pb.NewMaintenanceClient(cli.ActiveConnection()).HashKV(ctx, &pb.HashKVRequest{Revision: rev})
		if want := rev > 0; (err != nil) != want {
			t.Fatalf("hashkv at %d: err = %v, want an error: %v", rev, err, want)
		}
	}
	alarms, err := cli.AlarmList(ctx)
	if err != nil || len(alarms.Alarms) != 0 {
		t.Fatalf("alarm list: %v %v, want none", alarms, err)
	}
	if _, err := cli.Defragment(ctx, ts.addr); err != nil {
		t.Fatalf("defragment: %v", err)
	}
	if _, err := cli.MoveLeader(ctx, 2); status.Code(err) != codes.Unimplemented {
		t.Fatalf("move leader without a LeaderTransferer: err = %v, want Unimplemented", err)
	}
	auth, err := cli.AuthStatus(ctx)
	if err != nil || auth.Enabled {
		t.Fatalf("auth status: %v %v, want disabled", auth, err)
	}
	if _, err := cli.UserAdd(ctx, "u", "p"); err != nil {
		t.Fatalf("user add: %v", err)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	ts := newTestServer(t, DefaultConfig())
	cli := ts.client(t)
	ctx := testCtx(t)
	for _, k := range []string{"s/1", "s/2", "s/3"} {
		if _, err := cli.Put(ctx, k, "val-"+k); err != nil {
			t.Fatal(err)
		}
	}
	rc, err := cli.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read snapshot: %v", err)
	}
	// etcdctl snapshot save accepts a file of 512*n + 32 bytes; restore
	// checks that the last 32 bytes are the sha256 of the rest.
	if len(data)%512 != sha256.Size {
		t.Fatalf("snapshot of %d bytes: %d mod 512, want %d (etcd's trailing sha256)", len(data), len(data)%512, sha256.Size)
	}
	db, digest := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if sum := sha256.Sum256(db); !bytes.Equal(sum[:], digest) {
		t.Fatalf("trailing digest %x, want sha256 of the data %x", digest, sum)
	}
	path := filepath.Join(t.TempDir(), "snap.db")
	if err := os.WriteFile(path, db, 0o600); err != nil {
		t.Fatal(err)
	}
	bdb, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("open snapshot with bbolt: %v", err)
	}
	defer bdb.Close()
	var buckets []string
	err = bdb.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			buckets = append(buckets, string(name))
			return nil
		})
	})
	if err != nil || len(buckets) == 0 {
		t.Fatalf("snapshot buckets: %v %v, want the store's buckets", buckets, err)
	}
	// The store reopened from the snapshot serves the same data.
	cfgPath := filepath.Join(t.TempDir(), "restored")
	if err := restoreAndCheck(cfgPath, db, t); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrency runs clientv3/concurrency's Mutex and Election between
// two sessions.
func TestConcurrency(t *testing.T) {
	ts := newTestServer(t, DefaultConfig())
	cli := ts.client(t)
	ctx := testCtx(t)
	s1, err := concurrency.NewSession(cli, concurrency.WithTTL(5))
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2, err := concurrency.NewSession(cli, concurrency.WithTTL(5))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()

	m1 := concurrency.NewMutex(s1, "/lock")
	m2 := concurrency.NewMutex(s2, "/lock")
	if err := m1.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m2.TryLock(ctx); !errors.Is(err, concurrency.ErrLocked) {
		t.Fatalf("second TryLock while held: err = %v, want %v", err, concurrency.ErrLocked)
	}
	acquired := make(chan error, 1)
	go func() { acquired <- m2.Lock(ctx) }()
	select {
	case err := <-acquired:
		t.Fatalf("second Lock returned %v while the first holds the lock", err)
	default:
	}
	if err := m1.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-acquired; err != nil {
		t.Fatalf("second Lock after unlock: %v", err)
	}
	if err := m2.Unlock(ctx); err != nil {
		t.Fatal(err)
	}

	e1 := concurrency.NewElection(s1, "/elect")
	e2 := concurrency.NewElection(s2, "/elect")
	if err := e1.Campaign(ctx, "one"); err != nil {
		t.Fatal(err)
	}
	octx, cancel := context.WithCancel(ctx)
	defer cancel()
	obs := e2.Observe(octx)
	if r := <-obs; string(r.Kvs[0].Value) != "one" {
		t.Fatalf("observed leader %q, want one", r.Kvs[0].Value)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	var campaignErr error
	go func() {
		defer wg.Done()
		campaignErr = e2.Campaign(ctx, "two")
	}()
	if err := e1.Proclaim(ctx, "one-again"); err != nil {
		t.Fatal(err)
	}
	if r := <-obs; string(r.Kvs[0].Value) != "one-again" {
		t.Fatalf("observed %q after proclaim, want one-again", r.Kvs[0].Value)
	}
	if err := e1.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if campaignErr != nil {
		t.Fatalf("second campaign: %v", campaignErr)
	}
	if r := <-obs; string(r.Kvs[0].Value) != "two" {
		t.Fatalf("observed %q after resign, want two", r.Kvs[0].Value)
	}
	leader, err := e1.Leader(ctx)
	if err != nil || string(leader.Kvs[0].Value) != "two" {
		t.Fatalf("leader: %v %v, want two", leader, err)
	}
}

// restoreAndCheck restores the snapshot data into a store at path, as a
// member restoring from etcdctl's file would, and reads the keys back.
func restoreAndCheck(path string, db []byte, t *testing.T) error {
	if err := mvcc.Restore(path, bytes.NewReader(db)); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	st, err := mvcc.Open(path, mvcc.DefaultConfig())
	if err != nil {
		return fmt.Errorf("open restored store: %w", err)
	}
	defer st.Close()
	resp, err := st.Range(&pb.RangeRequest{Key: []byte("s/"), RangeEnd: []byte("s0")})
	if err != nil {
		return fmt.Errorf("range restored store: %w", err)
	}
	if len(resp.Kvs) != 3 || string(resp.Kvs[2].Value) != "val-s/3" || st.Rev() != 4 {
		return fmt.Errorf("restored store: %d keys at rev %d, want s/1..s/3 at rev 4", len(resp.Kvs), st.Rev())
	}
	return nil
}

// sameStatus reports whether err carries the gRPC code and message of want.
func sameStatus(err, want error) bool {
	g, w := status.Convert(err), status.Convert(want)
	return err != nil && g.Code() == w.Code() && g.Message() == w.Message()
}

// transferBackend is a memBackend that can move leadership.
type transferBackend struct {
	*memBackend
	moved chan uint64
}

func (b *transferBackend) MoveLeader(ctx context.Context, transferee uint64) error {
	if transferee != 2 {
		return rpctypes.ErrGRPCBadLeaderTransferee
	}
	b.moved <- transferee
	return nil
}

func TestMoveLeader(t *testing.T) {
	mb := newMemBackend(t)
	tb := &transferBackend{memBackend: mb, moved: make(chan uint64, 1)}
	ts := newTestServerWith(t, DefaultConfig(), mb, tb)
	cli := ts.client(t)
	ctx := testCtx(t)
	resp, err := cli.MoveLeader(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	checkHeader(t, "move leader", resp.Header, 1)
	if got := <-tb.moved; got != 2 {
		t.Fatalf("moved to %x, want 2", got)
	}
	if _, err := cli.MoveLeader(ctx, 9); !errors.Is(err, rpctypes.ErrBadLeaderTransferee) {
		t.Fatalf("move to 9: err = %v, want %v", err, rpctypes.ErrBadLeaderTransferee)
	}
}

// TestClientWithCredentials: a clientv3 configured with a username, as
// against an etcd without auth, gets etcd's "authentication is not enabled"
// from Authenticate and carries on without a token.
func TestClientWithCredentials(t *testing.T) {
	ts := newTestServer(t, DefaultConfig())
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: []string{ts.addr}, Username: "root", Password: "secret",
		DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
	})
	if err != nil {
		t.Fatalf("clientv3.New with credentials: %v", err)
	}
	defer cli.Close()
	ctx := testCtx(t)
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatalf("put with credentials on a server without auth: %v", err)
	}
	if _, err := pb.NewAuthClient(cli.ActiveConnection()).Authenticate(ctx, &pb.AuthenticateRequest{Name: "root", Password: "secret"}); !sameStatus(err, rpctypes.ErrGRPCAuthNotEnabled) {
		t.Fatalf("authenticate: err = %v, want %v", err, rpctypes.ErrGRPCAuthNotEnabled)
	}
}

// TestUnsupportedAnswers: what raftkv does not support answers with the
// documented sentinels (codes.Unimplemented and a message naming it).
func TestUnsupportedAnswers(t *testing.T) {
	ts := newTestServer(t, DefaultConfig())
	cli := ts.client(t)
	ctx := testCtx(t)
	conn := cli.ActiveConnection()
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"member promote", func() error {
			_, err := pb.NewClusterClient(conn).MemberPromote(ctx, &pb.MemberPromoteRequest{ID: 1})
			return err
		}, ErrLearnerNotSupported},
		{"member add learner", func() error {
			_, err := pb.NewClusterClient(conn).MemberAdd(ctx, &pb.MemberAddRequest{PeerURLs: []string{"http://127.0.0.1:2390"}, IsLearner: true})
			return err
		}, ErrLearnerNotSupported},
		{"alarm activate", func() error {
			_, err := pb.NewMaintenanceClient(conn).Alarm(ctx, &pb.AlarmRequest{Action: pb.AlarmRequest_ACTIVATE, Alarm: pb.AlarmType_NOSPACE})
			return err
		}, ErrAlarmNotSupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !sameStatus(err, tt.want) || status.Code(err) != codes.Unimplemented {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := pb.NewAuthClient(conn).AuthDisable(ctx, &pb.AuthDisableRequest{}); err != nil {
		t.Fatalf("auth disable on a server without auth: %v, want success", err)
	}
}
