package v3rpc

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkPut measures 256-byte puts from 64 concurrent goroutines through
// clientv3, gRPC and v3rpc into a single-member store without fsync: the
// cost of the API layer and the store, no replication.
func BenchmarkPut(b *testing.B) {
	ts := newTestServerB(b)
	cli := ts.clientB(b)
	val := string(make([]byte, 256))
	var n atomic.Int64
	b.SetParallelism(32) // 2 cores x 32 = 64 goroutines
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := cli.Put(context.Background(), fmt.Sprintf("k%d", i%1000), val); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkRange measures linearizable single-key gets the same way.
func BenchmarkRange(b *testing.B) {
	ts := newTestServerB(b)
	cli := ts.clientB(b)
	if _, err := cli.Put(context.Background(), "k", "v"); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := cli.Get(context.Background(), "k"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
