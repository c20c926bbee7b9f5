package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

var failovers = flag.Int("failovers", 4, "leader kills per system in BenchmarkFailoverVsEtcd (2 with -short)")

// failover is one SIGKILL of the leader under write load.
type failover struct {
	firstWrite time.Duration // kill to the first acknowledged write begun after it
	stall      time.Duration // longest gap between a writer's acknowledgements around the kill
}

// killLeader runs writers against c (clients over every endpoint, each
// put with a 2 s timeout), SIGKILLs the leader once they run, measures,
// then restarts the member and waits until it is healthy.
func killLeader(c *cluster, clis []*clientv3.Client, writers int) (failover, error) {
	value := strings.Repeat("v", 256)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var killedAt time.Time
	var first time.Time
	acks := make([][]time.Time, writers)
	var wg sync.WaitGroup
	for g := range writers {
		cli := clis[g%len(clis)]
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				t0 := time.Now()
				pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
				_, err := cli.Put(pctx, fmt.Sprintf("fo-%d-%d", g, i%100), value)
				pcancel()
				if err != nil {
					continue
				}
				now := time.Now()
				acks[g] = append(acks[g], now)
				mu.Lock()
				if !killedAt.IsZero() && t0.After(killedAt) && first.IsZero() {
					first = now
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(time.Second)
	li, err := c.leader()
	if err != nil {
		cancel()
		wg.Wait()
		return failover{}, err
	}
	mu.Lock()
	killedAt = time.Now()
	mu.Unlock()
	c.procs[li].Kill()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		done := !first.IsZero() && time.Since(first) > 2*time.Second
		mu.Unlock()
		if done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	end := time.Now()
	cancel()
	wg.Wait()
	if first.IsZero() {
		return failover{}, fmt.Errorf("%s: no write acknowledged within 10s of killing the leader", c.name)
	}
	f := failover{firstWrite: first.Sub(killedAt)}
	for _, a := range acks {
		prev := killedAt.Add(-time.Second)
		for _, t := range append(a, end) {
			if t.Before(prev) {
				continue
			}
			f.stall = max(f.stall, t.Sub(prev))
			prev = t
		}
	}
	if err := c.launch(li); err != nil {
		return f, err
	}
	return f, c.waitHealthy(li, 30*time.Second)
}

// BenchmarkFailoverVsEtcd: time from SIGKILL of the leader to the first
// acknowledged write, and the longest stall any of 16 writers saw, raftkv
// and etcd in A B B A order, each with its default election settings.
func BenchmarkFailoverVsEtcd(b *testing.B) {
	if _, err := os.Stat(*etcdBin); err != nil {
		if os.Getenv("CI") == "true" {
			b.Fatalf("etcd not found at %s (install etcd-server)", *etcdBin)
		}
		b.Skipf("etcd not found at %s", *etcdBin)
	}
	n := *failovers
	if testing.Short() {
		n = 2
	}
	const writers = 16
	rk := startCluster(b, "raftkv", raftkvBin, strings.Fields(*raftkvArgs))
	et := startCluster(b, "etcd", *etcdBin, nil)
	clis := map[*cluster][]*clientv3.Client{}
	for _, c := range []*cluster{rk, et} {
		clis[c] = c.clients(b, writers)
		defer func() {
			for _, cli := range clis[c] {
				cli.Close()
			}
		}()
	}
	for b.Loop() {
		res := map[*cluster][]failover{}
		for i := range n {
			order := []*cluster{rk, et}
			if i%2 == 1 {
				order = []*cluster{et, rk}
			}
			for _, c := range order {
				f, err := killLeader(c, clis[c], writers)
				if err != nil {
					b.Fatal(err)
				}
				b.Logf("%s kill %d: first write after %v, longest stall %v", c.name, i+1, f.firstWrite.Round(time.Millisecond), f.stall.Round(time.Millisecond))
				res[c] = append(res[c], f)
			}
		}
		med := func(fs []failover, get func(failover) time.Duration) (time.Duration, time.Duration, time.Duration) {
			var ds []time.Duration
			for _, f := range fs {
				ds = append(ds, get(f))
			}
			slices.Sort(ds)
			return ds[len(ds)/2], ds[0], ds[len(ds)-1]
		}
		fw := func(f failover) time.Duration { return f.firstWrite }
		st := func(f failover) time.Duration { return f.stall }
		fmt.Printf("%-8s %28s %28s\n", "system", "kill->first write p50 [min..max]", "longest stall p50 [min..max]")
		for _, c := range []*cluster{rk, et} {
			m, lo, hi := med(res[c], fw)
			sm, slo, shi := med(res[c], st)
			fmt.Printf("%-8s %10v [%v..%v] %10v [%v..%v]\n", c.name, m.Round(time.Millisecond), lo.Round(time.Millisecond), hi.Round(time.Millisecond),
				sm.Round(time.Millisecond), slo.Round(time.Millisecond), shi.Round(time.Millisecond))
			b.ReportMetric(float64(m.Milliseconds()), c.name+"_failover_p50_ms")
			b.ReportMetric(float64(sm.Milliseconds()), c.name+"_stall_p50_ms")
		}
		a, _, _ := med(res[rk], fw)
		e, _, _ := med(res[et], fw)
		fmt.Printf("failover ratio raftkv/etcd (p50): %.2f\n", float64(a)/float64(e))
		b.ReportMetric(float64(a)/float64(e), "failover_ratio")
	}
}
