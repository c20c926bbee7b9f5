package v3rpc_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"coordlab/engines/raftkv/mvcc"
	"coordlab/engines/raftkv/v3rpc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// exampleBackend is the smallest Backend: one member, proposals applied
// straight to the store. A real member replicates through raft first.
type exampleBackend struct {
	mu    sync.Mutex // one apply at a time, like a member's apply loop
	st    *mvcc.Store
	index uint64
}

func (b *exampleBackend) Propose(ctx context.Context, req *pb.InternalRaftRequest) (proto.Message, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.index++
	resp, err := b.st.Apply(b.index, req)
	if err == nil {
		err = b.st.Commit()
	}
	return resp, err
}
func (b *exampleBackend) LinearizableRead(ctx context.Context) error { return nil }
func (b *exampleBackend) Store() *mvcc.Store                         { return b.st }
func (b *exampleBackend) Header() *pb.ResponseHeader {
	return &pb.ResponseHeader{ClusterId: 1, MemberId: 1, RaftTerm: 1}
}
func (b *exampleBackend) LeaseRenew(ctx context.Context, id int64) (int64, error) { return 0, nil }
func (b *exampleBackend) LeaseTimeToLive(ctx context.Context, id int64, keys bool) (*pb.LeaseTimeToLiveResponse, error) {
	return &pb.LeaseTimeToLiveResponse{ID: id, TTL: -1}, nil
}
func (b *exampleBackend) Members() []*pb.Member { return []*pb.Member{{ID: 1, Name: "one"}} }
func (b *exampleBackend) AddMember(ctx context.Context, peerURLs []string, learner bool) (*pb.Member, []*pb.Member, error) {
	return nil, nil, fmt.Errorf("example: single member")
}
func (b *exampleBackend) RemoveMember(ctx context.Context, id uint64) ([]*pb.Member, error) {
	return nil, fmt.Errorf("example: single member")
}
func (b *exampleBackend) Status() *pb.StatusResponse {
	return &pb.StatusResponse{Version: "3.5.0", Leader: 1}
}
func (b *exampleBackend) MaxRequestBytes() int { return 1.5 * 1024 * 1024 }

// Serve the etcd v3 API of a Backend on a loopback port and use it with
// clientv3, as cmd/raftkv does with a replicated member.
func Example() {
	dir, _ := os.MkdirTemp("", "v3rpc-example-")
	defer os.RemoveAll(dir)
	st, err := mvcc.Open(filepath.Join(dir, "db"), mvcc.DefaultConfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()
	b := &exampleBackend{st: st}

	srv := grpc.NewServer(v3rpc.ServerOptions(b)...)
	v3rpc.Register(srv, b)
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(lis)
	defer srv.Stop()

	cli, _ := clientv3.New(clientv3.Config{Endpoints: []string{lis.Addr().String()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	defer cli.Close()
	ctx := context.Background()
	put, _ := cli.Put(ctx, "greeting", "hello")
	get, _ := cli.Get(ctx, "greeting")
	fmt.Printf("put at revision %d; %s=%s\n", put.Header.Revision, get.Kvs[0].Key, get.Kvs[0].Value)
	// Output: put at revision 2; greeting=hello
}
