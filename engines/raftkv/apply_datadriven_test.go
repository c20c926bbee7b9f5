package raftkv

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

type mvccKV = mvccpb.KeyValue

// TestApplyDataDriven runs the scripts in testdata/ against a 3-member
// cluster: every write goes through Propose (raft log, WAL, apply thread,
// mvcc.Store.Apply, proposer wake-up) and every read through
// LinearizableRead, so the files are transcripts of the server's apply path
// as a client sees it, including restarts that replay the log. Lease IDs and
// member IDs depend on raft indexes and ports, so leases are named and IDs
// never printed. Refresh with -rewrite and review the diff.
//
//	put key=k value=v [lease=name] [on=N]   (on: member index, default the leader)
//	get key=k [prefix] [rev=N] [on=N]
//	del key=k [prefix]
//	cas key=k old=v value=w                 (txn: value(k) = old ? put : get)
//	grant name=l ttl=N | revoke name=l
//	compact rev=N
//	restart [member=N]                      (stop and start from the data dir; default all)
func TestApplyDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		c := newTestCluster(t, 3, nil)
		c.waitLeader()
		leases := map[string]int64{}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			arg := func(name string) string {
				var v string
				if d.HasArg(name) {
					d.ScanArgs(t, name, &v)
				}
				return v
			}
			member := func() *Server {
				if d.HasArg("on") {
					var i int
					d.ScanArgs(t, "on", &i)
					c.waitLeader()
					return c.servers[i]
				}
				return c.servers[c.waitLeader()]
			}
			propose := func(req *pb.InternalRaftRequest) string {
				resp, err := member().Propose(ctx, req)
				if err != nil {
					return fmt.Sprintf("error: %v\n", err)
				}
				return render(resp)
			}
			switch d.Cmd {
			case "put":
				r := &pb.PutRequest{Key: []byte(arg("key")), Value: []byte(arg("value")), PrevKv: true}
				if l := arg("lease"); l != "" {
					r.Lease = leases[l]
					if r.Lease == 0 {
						r.Lease = 999 // an unknown lease
					}
				}
				return propose(&pb.InternalRaftRequest{Put: r})
			case "get":
				r := &pb.RangeRequest{Key: []byte(arg("key"))}
				if d.HasArg("prefix") {
					r.RangeEnd = prefixEnd(r.Key)
				}
				if d.HasArg("rev") {
					d.ScanArgs(t, "rev", &r.Revision)
				}
				s := member()
				if err := s.LinearizableRead(ctx); err != nil {
					return fmt.Sprintf("error: %v\n", err)
				}
				resp, err := s.Store().Range(r)
				if err != nil {
					return fmt.Sprintf("error: %v\n", err)
				}
				return render(resp)
			case "del":
				r := &pb.DeleteRangeRequest{Key: []byte(arg("key")), PrevKv: true}
				if d.HasArg("prefix") {
					r.RangeEnd = prefixEnd(r.Key)
				}
				return propose(&pb.InternalRaftRequest{DeleteRange: r})
			case "cas":
				k := []byte(arg("key"))
				return propose(&pb.InternalRaftRequest{Txn: &pb.TxnRequest{
					Compare: []*pb.Compare{{Key: k, Target: pb.Compare_VALUE, Result: pb.Compare_EQUAL,
						TargetUnion: &pb.Compare_Value{Value: []byte(arg("old"))}}},
					Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: k, Value: []byte(arg("value"))}}}},
					Failure: []*pb.RequestOp{{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: k}}}},
				}})
			case "grant":
				var ttl int64
				d.ScanArgs(t, "ttl", &ttl)
				resp, err := member().Propose(ctx, &pb.InternalRaftRequest{LeaseGrant: &pb.LeaseGrantRequest{TTL: ttl}})
				if err != nil {
					return fmt.Sprintf("error: %v\n", err)
				}
				g := resp.(*pb.LeaseGrantResponse)
				leases[arg("name")] = g.ID
				return fmt.Sprintf("granted ttl=%d id-nonzero=%v\n", g.TTL, g.ID != 0)
			case "revoke":
				return propose(&pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: leases[arg("name")]}})
			case "compact":
				var rev int64
				d.ScanArgs(t, "rev", &rev)
				return propose(&pb.InternalRaftRequest{Compaction: &pb.CompactionRequest{Revision: rev}})
			case "restart":
				which := []int{0, 1, 2}
				if d.HasArg("member") {
					var i int
					d.ScanArgs(t, "member", &i)
					which = []int{i}
				}
				for _, i := range which {
					c.stop(i)
				}
				for _, i := range which {
					c.start(i)
				}
				c.waitLeader()
				return "ok\n"
			default:
				d.Fatalf(t, "unknown command %q", d.Cmd)
				return ""
			}
		})
	})
}

func prefixEnd(k []byte) []byte {
	end := append([]byte(nil), k...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return []byte{0}
}

// render prints a response without member ids, terms or lease ids.
func render(m any) string {
	var b strings.Builder
	kvs := func(prefix string, kvs []*mvccKV) {
		for _, kv := range kvs {
			fmt.Fprintf(&b, "%s%s=%s create=%d mod=%d ver=%d lease=%v\n", prefix, kv.Key, kv.Value,
				kv.CreateRevision, kv.ModRevision, kv.Version, kv.Lease != 0)
		}
	}
	switch r := m.(type) {
	case *pb.PutResponse:
		fmt.Fprintf(&b, "rev=%d\n", r.Header.GetRevision())
		if r.PrevKv != nil {
			kvs("prev ", []*mvccKV{r.PrevKv})
		}
	case *pb.RangeResponse:
		fmt.Fprintf(&b, "rev=%d count=%d\n", r.Header.GetRevision(), r.Count)
		kvs("", r.Kvs)
	case *pb.DeleteRangeResponse:
		fmt.Fprintf(&b, "rev=%d deleted=%d\n", r.Header.GetRevision(), r.Deleted)
		kvs("prev ", r.PrevKvs)
	case *pb.TxnResponse:
		fmt.Fprintf(&b, "rev=%d succeeded=%v\n", r.Header.GetRevision(), r.Succeeded)
		for _, op := range r.Responses {
			if rr := op.GetResponseRange(); rr != nil {
				kvs("got ", rr.Kvs)
			}
		}
	case *pb.LeaseRevokeResponse:
		fmt.Fprintf(&b, "rev=%d\n", r.Header.GetRevision())
	case *pb.CompactionResponse:
		fmt.Fprintf(&b, "rev=%d\n", r.Header.GetRevision())
	default:
		fmt.Fprintf(&b, "%T\n", m)
	}
	return b.String()
}
