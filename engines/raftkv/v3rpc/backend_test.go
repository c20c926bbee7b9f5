package v3rpc

import (
	"bytes"
	"context"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"coordlab/engines/raftkv/mvcc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

const (
	testClusterID = 0xc1a5
	testMemberID  = 0x3e3
	testTerm      = 7
)

// memBackend is a single-member Backend for tests: proposals are applied to
// an mvcc.Store in order under one mutex (no raft), LinearizableRead is a
// no-op, and a small lessor goroutine revokes expired leases through
// Propose, as the leader does.
type memBackend struct {
	mu    sync.Mutex // serialises Apply, like the server's apply loop
	st    *mvcc.Store
	cfg   mvcc.Config
	index uint64

	lmu    sync.Mutex
	expiry map[int64]time.Time

	maxRequestBytes int
	tokens          *TokenStore
	noLeader        atomic.Bool // Status reports no leader
	stop            chan struct{}
	wg              sync.WaitGroup
}

func newMemBackend(t testing.TB) *memBackend {
	t.Helper()
	cfg := mvcc.DefaultConfig()
	cfg.NoFsync = true
	cfg.MinLeaseTTL = 1
	st, err := mvcc.Open(filepath.Join(t.TempDir(), "db"), cfg)
	if err != nil {
		t.Fatalf("mvcc.Open: %v", err)
	}
	b := &memBackend{st: st, cfg: cfg, expiry: make(map[int64]time.Time), maxRequestBytes: 1.5 * 1024 * 1024, stop: make(chan struct{}), tokens: NewTokenStore(0)}
	b.wg.Add(1)
	go b.expireLoop()
	return b
}

func (b *memBackend) Close() {
	close(b.stop)
	b.wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.st.Close()
}

func (b *memBackend) expireLoop() {
	defer b.wg.Done()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			var expired []int64
			b.lmu.Lock()
			for id, at := range b.expiry {
				if now.After(at) {
					expired = append(expired, id)
					delete(b.expiry, id)
				}
			}
			b.lmu.Unlock()
			for _, id := range expired {
				_, _ = b.Propose(context.Background(), &pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: id}})
			}
		}
	}
}

func (b *memBackend) Propose(ctx context.Context, req *pb.InternalRaftRequest) (proto.Message, error) {
	// Round-trip through the wire form, as a replicated entry would.
	data, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	var entry pb.InternalRaftRequest
	if err := proto.Unmarshal(data, &entry); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.index++
	if entry.Header == nil {
		entry.Header = &pb.RequestHeader{}
	}
	entry.Header.ID = b.index
	resp, err := b.st.Apply(b.index, &entry)
	if cerr := b.st.Commit(); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, err
	}
	b.lmu.Lock()
	defer b.lmu.Unlock()
	switch r := resp.(type) {
	case *pb.LeaseGrantResponse:
		b.expiry[r.ID] = time.Now().Add(time.Duration(r.TTL) * time.Second)
	case *pb.LeaseRevokeResponse:
		delete(b.expiry, entry.LeaseRevoke.ID)
	case *pb.AuthenticateResponse:
		if r.Token, err = b.tokens.Issue(r.Token, entry.Authenticate.Name, b.st.AuthRevision()); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// SnapshotStore makes memBackend a StoreSnapshotter: commit, then copy,
// with no apply in between.
func (b *memBackend) SnapshotStore(ctx context.Context, w io.Writer) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.st.Commit(); err != nil {
		return 0, err
	}
	return b.st.WriteSnapshot(w)
}

func (b *memBackend) LinearizableRead(ctx context.Context) error { return ctx.Err() }

// memBackend is an Authenticator: tokens are assigned as Propose applies
// Authenticate entries.
func (b *memBackend) AuthTokens() *TokenStore { return b.tokens }
func (b *memBackend) AuthOptions() AuthOptions {
	return AuthOptions{BcryptCost: bcrypt.MinCost}
}
func (b *memBackend) AppliedIndex() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.index
}

func (b *memBackend) Store() *mvcc.Store {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.st
}

// swapStore replaces the store with a copy restored from its snapshot, as a
// follower does when it installs a raft snapshot: the old store closes
// (ending its watchers' channels) and the new one takes over.
func (b *memBackend) swapStore(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var buf bytes.Buffer
	if err := b.st.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	if err := b.st.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "swapped")
	if err := mvcc.Restore(path, &buf); err != nil {
		t.Fatal(err)
	}
	st, err := mvcc.Open(path, b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.st = st
}

func (b *memBackend) Header() *pb.ResponseHeader {
	return &pb.ResponseHeader{ClusterId: testClusterID, MemberId: testMemberID, RaftTerm: testTerm}
}

func (b *memBackend) LeaseRenew(ctx context.Context, id int64) (int64, error) {
	l, ok := b.Store().Lease(id)
	if !ok {
		return 0, rpctypes.ErrGRPCLeaseNotFound
	}
	b.lmu.Lock()
	defer b.lmu.Unlock()
	if _, live := b.expiry[id]; !live {
		return 0, rpctypes.ErrGRPCLeaseNotFound
	}
	b.expiry[id] = time.Now().Add(time.Duration(l.TTL) * time.Second)
	return l.TTL, nil
}

func (b *memBackend) LeaseTimeToLive(ctx context.Context, id int64, keys bool) (*pb.LeaseTimeToLiveResponse, error) {
	l, ok := b.Store().Lease(id)
	if !ok {
		return nil, rpctypes.ErrGRPCLeaseNotFound
	}
	b.lmu.Lock()
	at, live := b.expiry[id]
	b.lmu.Unlock()
	remaining := int64(-1)
	if live {
		remaining = int64(time.Until(at).Round(time.Second) / time.Second)
	}
	resp := &pb.LeaseTimeToLiveResponse{ID: id, TTL: remaining, GrantedTTL: l.TTL}
	if keys {
		resp.Keys = l.Keys
	}
	return resp, nil
}

func (b *memBackend) Members() []*pb.Member {
	return []*pb.Member{{ID: testMemberID, Name: "m1", PeerURLs: []string{"http://127.0.0.1:2380"}, ClientURLs: []string{"http://127.0.0.1:2379"}}}
}

func (b *memBackend) AddMember(ctx context.Context, peerURLs []string, learner bool) (*pb.Member, []*pb.Member, error) {
	return nil, nil, rpctypes.ErrGRPCMemberNotEnoughStarted
}

func (b *memBackend) RemoveMember(ctx context.Context, id uint64) ([]*pb.Member, error) {
	return nil, rpctypes.ErrGRPCMemberNotFound
}

func (b *memBackend) Status() *pb.StatusResponse {
	leader := uint64(testMemberID)
	if b.noLeader.Load() {
		leader = 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return &pb.StatusResponse{
		Version: "3.5.0", DbSize: b.st.Size(), DbSizeInUse: b.st.Size(), Leader: leader,
		RaftIndex: b.index, RaftTerm: testTerm, RaftAppliedIndex: b.index,
	}
}

func (b *memBackend) MaxRequestBytes() int { return b.maxRequestBytes }

// testServer is a memBackend served on a real loopback gRPC listener.
type testServer struct {
	b    *memBackend
	addr string
}

func newTestServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	return newTestServerWith(t, cfg, newMemBackend(t), nil)
}

// newTestServerWith serves b, or wrap (a Backend around b with extra
// abilities) when it is not nil.
func newTestServerWith(t testing.TB, cfg Config, b *memBackend, wrap Backend) *testServer {
	t.Helper()
	var served Backend = b
	if wrap != nil {
		served = wrap
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := grpc.NewServer(ServerOptions(served)...)
	RegisterWithConfig(srv, served, cfg)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
		b.Close()
	})
	return &testServer{b: b, addr: lis.Addr().String()}
}

func (ts *testServer) client(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{ts.addr},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		t.Fatalf("clientv3.New: %v", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newTestServerB(b *testing.B) *testServer                { return newTestServer(b, DefaultConfig()) }
func (ts *testServer) clientB(b *testing.B) *clientv3.Client { return ts.client(b) }
