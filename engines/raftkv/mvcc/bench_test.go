package mvcc

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// BenchmarkApplyPut measures the apply path of 256-byte puts, committing (with fsync)
// every commitEvery entries as the server batches bbolt commits.
func BenchmarkApplyPut(b *testing.B) {
	const commitEvery = 1000
	for _, bc := range []struct {
		name     string
		keys     int
		watchers int
	}{
		{"keys=1", 1, 0},
		{"keys=10000", 10000, 0},
		{"keys=10000/watchers=1", 10000, 1},
		{"keys=10000/nofsync", 10000, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.NoFsync = strings.HasSuffix(bc.name, "nofsync")
			s, err := Open(filepath.Join(b.TempDir(), "db"), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			for i := 0; i < bc.watchers; i++ {
				w, err := s.Watch(WatchRequest{Key: []byte{0}, End: []byte{0}})
				if err != nil {
					b.Fatal(err)
				}
				go func() {
					for range w.Chan() {
					}
				}()
				defer w.Cancel()
			}
			keys := make([][]byte, bc.keys)
			for i := range keys {
				keys[i] = []byte(fmt.Sprintf("key-%08d", i*7919%bc.keys))
			}
			value := make([]byte, 256)
			reqs := make([]*pb.InternalRaftRequest, len(keys))
			for i := range reqs {
				reqs[i] = &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: keys[i], Value: value}}
			}
			b.ReportAllocs()
			index := uint64(0)
			for b.Loop() {
				index++
				if _, err := s.Apply(index, reqs[index%uint64(len(reqs))]); err != nil {
					b.Fatal(err)
				}
				if index%commitEvery == 0 {
					if err := s.Commit(); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

// BenchmarkRange measures a current single-key read, the linearizable-get path.
func BenchmarkRange(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "db"), testConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 1000; i++ {
		if _, err := s.Apply(uint64(i+1), &pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte(fmt.Sprintf("k%d", i)), Value: make([]byte, 256)}}); err != nil {
			b.Fatal(err)
		}
	}
	req := &pb.RangeRequest{Key: []byte("k500")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Range(req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
