package raftkv_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"coordlab/engines/raftkv"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// A single-member cluster: propose a put through raft, then read it back
// linearizably.
func Example() {
	dir, _ := os.MkdirTemp("", "raftkv-example")
	defer os.RemoveAll(dir)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	peer := "http://" + ln.Addr().String()

	cfg := raftkv.DefaultConfig()
	cfg.Name, cfg.DataDir = "solo", dir
	cfg.PeerURLs, cfg.PeerListener = []string{peer}, ln
	cfg.InitialCluster = []raftkv.InitialMember{{Name: "solo", PeerURLs: []string{peer}}}
	cfg.TickInterval = 10 * time.Millisecond
	s, err := raftkv.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer s.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.Propose(ctx, &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte("greeting"), Value: []byte("hello")}}); err != nil {
		fmt.Println(err)
		return
	}
	if err := s.LinearizableRead(ctx); err != nil {
		fmt.Println(err)
		return
	}
	resp, _ := s.Store().Range(&pb.RangeRequest{Key: []byte("greeting")})
	fmt.Printf("%s=%s at revision %d\n", resp.Kvs[0].Key, resp.Kvs[0].Value, resp.Header.Revision)
	// Output: greeting=hello at revision 2
}
