package raftkv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"coordlab/engines/raftkv/v3rpc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// serveGRPC serves etcd's v3 API for s on a free loopback port and returns a
// client of it.
func serveGRPC(t *testing.T, s *Server) *clientv3.Client {
	t.Helper()
	ln := freeListener(t)
	gs := grpc.NewServer(v3rpc.ServerOptions(s)...)
	v3rpc.Register(gs, s)
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ln.Addr().String()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func isNoSpace(err error) bool {
	return err != nil && (errors.Is(err, rpctypes.ErrNoSpace) || strings.Contains(err.Error(), "database space exceeded"))
}

// waitAlarms waits until every running member's store lists want NOSPACE
// alarms (alarms are replicated through raft).
func waitAlarms(t *testing.T, c *testCluster, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok := true
		for _, s := range c.servers {
			if s != nil && len(s.Alarms()) != want {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			for i, s := range c.servers {
				if s != nil {
					t.Logf("member %d alarms %v", i, s.Alarms())
				}
			}
			t.Fatalf("members do not all list %d alarms within 10s", want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Over --quota-backend-bytes a put fails with etcd's NOSPACE error and the
// alarm is raised on every member; reads, deletes and compaction still
// work; after space is reclaimed and the alarm disarmed, writes work.
func TestQuotaRaisesNoSpaceAlarm(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.QuotaBackendBytes = 1 << 20 })
	lead := c.waitLeader()
	cli := serveGRPC(t, c.servers[(lead+1)%3]) // a follower: the alarm goes through raft
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	val := strings.Repeat("v", 16<<10)
	var acked []string
	var putErr error
	for i := 0; i < 1000; i++ {
		k := fmt.Sprintf("k%04d", i)
		if _, putErr = cli.Put(ctx, k, val); putErr != nil {
			break
		}
		acked = append(acked, k)
	}
	if !isNoSpace(putErr) {
		t.Fatalf("after %d puts of 16 KiB under a 1 MiB quota: err %v, want %v", len(acked), putErr, rpctypes.ErrNoSpace)
	}
	if len(acked) == 0 {
		t.Fatal("the first put was refused: the quota check is off by the store's own size")
	}
	waitAlarms(t, c, 1)
	for _, s := range c.servers {
		if a := s.Alarms()[0]; a.Alarm != pb.AlarmType_NOSPACE || a.MemberID != c.servers[(lead+1)%3].ID() {
			t.Fatalf("member %x lists alarm %v, want NOSPACE raised by %x", s.ID(), a, c.servers[(lead+1)%3].ID())
		}
	}
	// Capped: even a small put fails now; a lease grant too.
	if _, err := cli.Put(ctx, "small", "x"); !isNoSpace(err) {
		t.Fatalf("small put under NOSPACE: err %v, want NOSPACE", err)
	}
	if _, err := cli.Grant(ctx, 60); !isNoSpace(err) {
		t.Fatalf("lease grant under NOSPACE: err %v, want NOSPACE", err)
	}
	// Reads serve every acknowledged key, linearizable and serializable.
	for _, opts := range [][]clientv3.OpOption{{clientv3.WithPrefix(), clientv3.WithCountOnly()}, {clientv3.WithPrefix(), clientv3.WithCountOnly(), clientv3.WithSerializable()}} {
		resp, err := cli.Get(ctx, "k", opts...)
		if err != nil || resp.Count != int64(len(acked)) {
			t.Fatalf("get under NOSPACE: count %v err %v, want %d", resp, err, len(acked))
		}
	}
	al, err := cli.AlarmList(ctx)
	if err != nil || len(al.Alarms) != 1 || al.Alarms[0].Alarm != pb.AlarmType_NOSPACE {
		t.Fatalf("AlarmList: %v %v, want one NOSPACE", al, err)
	}
	st, err := cli.Status(ctx, cli.Endpoints()[0])
	if err != nil || len(st.Errors) != 1 || !strings.Contains(st.Errors[0], "alarm:NOSPACE") {
		t.Fatalf("Status %v (%v), want the NOSPACE alarm in its errors", st, err)
	}
	// Disarming without freeing space: the next put over quota raises it again.
	if _, err := cli.AlarmDisarm(ctx, &clientv3.AlarmMember{}); err != nil {
		t.Fatalf("AlarmDisarm: %v", err)
	}
	waitAlarms(t, c, 0)
	if _, err := cli.Put(ctx, "big", val); !isNoSpace(err) {
		t.Fatalf("put over quota after disarm: err %v, want NOSPACE", err)
	}
	waitAlarms(t, c, 1)
	// Free space (deletes and compaction pass the cap), disarm: writes work.
	dr, err := cli.Delete(ctx, "k", clientv3.WithPrefix())
	if err != nil || dr.Deleted != int64(len(acked)) {
		t.Fatalf("delete under NOSPACE: %v %v", dr, err)
	}
	if _, err := cli.Compact(ctx, dr.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatalf("compact under NOSPACE: %v", err)
	}
	if _, err := cli.AlarmDisarm(ctx, &clientv3.AlarmMember{}); err != nil {
		t.Fatalf("AlarmDisarm: %v", err)
	}
	waitAlarms(t, c, 0)
	if _, err := cli.Put(ctx, "after", "ok"); err != nil {
		t.Fatalf("put after freeing space and disarming: %v", err)
	}
}
