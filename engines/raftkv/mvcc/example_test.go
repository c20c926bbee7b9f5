package mvcc_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"coordlab/engines/raftkv/mvcc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// The apply loop feeds committed raft entries to Apply and commits in batches; readers
// and watchers run beside it.
func Example() {
	dir, err := os.MkdirTemp("", "mvcc-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := mvcc.Open(filepath.Join(dir, "db"), mvcc.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	w, err := s.Watch(mvcc.WatchRequest{Key: []byte("app/"), End: []byte("app0")})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Cancel()

	entries := []*pb.InternalRaftRequest{
		{Put: &pb.PutRequest{Key: []byte("app/color"), Value: []byte("blue")}},
		{Txn: &pb.TxnRequest{
			Compare: []*pb.Compare{{Key: []byte("app/color"), Target: pb.Compare_VALUE,
				Result: pb.Compare_EQUAL, TargetUnion: &pb.Compare_Value{Value: []byte("blue")}}},
			Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{
				Key: []byte("app/color"), Value: []byte("green")}}}},
		}},
	}
	for i, e := range entries {
		if _, err := s.Apply(uint64(i+1), e); err != nil {
			log.Fatal(err)
		}
	}
	if err := s.Commit(); err != nil {
		log.Fatal(err)
	}

	cur, err := s.Range(&pb.RangeRequest{Key: []byte("app/color")})
	if err != nil {
		log.Fatal(err)
	}
	old, err := s.Range(&pb.RangeRequest{Key: []byte("app/color"), Revision: 2})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("rev %d: %s (version %d); at rev 2: %s\n", cur.Header.Revision, cur.Kvs[0].Value, cur.Kvs[0].Version, old.Kvs[0].Value)

	for seen := 0; seen < 2; {
		batch := <-w.Chan()
		for _, ev := range batch.Events {
			fmt.Printf("%s %s=%s @%d\n", ev.Type, ev.Kv.Key, ev.Kv.Value, ev.Kv.ModRevision)
			seen++
		}
	}
	// Output:
	// rev 3: green (version 2); at rev 2: blue
	// PUT app/color=blue @2
	// PUT app/color=green @3
}
