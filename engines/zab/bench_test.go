package zab_test

import (
	"testing"

	"coordlab/engines/zab"
	"coordlab/engines/zab/zabtest"
)

// BenchmarkBroadcast measures the core's broadcast path: proposals through a
// 3-member zabtest cluster with a perfect network, every Ready persisted to
// MemoryStorage and every message encoded and decoded. Each iteration
// proposes a batch of 16 writes at the leader and runs the cluster until
// they are committed everywhere, so ns/op is per batch and ops/s per write.
func BenchmarkBroadcast(b *testing.B) {
	c, err := zabtest.New(zabtest.Options{N: 3, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	var l zab.ServerID
	for range 100 {
		c.Tick()
		c.Stabilize(0)
		if id, ok := c.Leader(); ok {
			l = id
			break
		}
	}
	if l == 0 {
		b.Fatal("no leader")
	}
	c.Stabilize(0)
	leader := c.Member(l).Node
	data := make([]byte, 256)
	const batch = 16
	b.ReportAllocs()
	writes := 0
	for b.Loop() {
		for range batch {
			if _, err := leader.Propose(data); err != nil {
				b.Fatal(err)
			}
		}
		c.Stabilize(0)
		writes += batch
	}
	b.ReportMetric(float64(writes)/b.Elapsed().Seconds(), "ops/s")
	if err := c.Check(); err != nil {
		b.Fatal(err)
	}
	if got := leader.Status().Committed.Counter(); int(got) != writes {
		b.Fatalf("committed %d writes, proposed %d", got, writes)
	}
}
