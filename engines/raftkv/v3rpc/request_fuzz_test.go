package v3rpc

import (
	"bytes"
	"context"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// The request kinds FuzzRequest can send; the first byte of an input picks
// one (modulo), the rest is the protobuf request.
const (
	fuzzRange = iota
	fuzzPut
	fuzzDelete
	fuzzTxn
	fuzzCompact
	fuzzLeaseGrant
	fuzzLeaseRevoke
	fuzzLeaseTTL
	fuzzLeaseLeases
	fuzzKinds
)

func fuzzInput(kind byte, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err) // plain requests always marshal
	}
	return append([]byte{kind}, b...)
}

// FuzzRequest unmarshals arbitrary bytes into a KV or Lease request and
// serves it as a client's: validation, then (if valid) the proposal applied
// to a real mvcc store. No panic (a request that passed validation and
// panicked in Apply would take down every member, since all apply it); every
// error is a gRPC status, as clientv3 maps errors by code and message; and a
// Put that succeeds is what a serializable Range of its key then reads.
func FuzzRequest(f *testing.F) {
	b := newMemBackend(f)
	f.Cleanup(b.Close)
	kv := &kvServer{b: b, cfg: DefaultConfig()}
	ls := &leaseServer{b: b}

	f.Add(fuzzInput(fuzzPut, &pb.PutRequest{Key: []byte("a"), Value: []byte("1")}))
	f.Add(fuzzInput(fuzzPut, &pb.PutRequest{Key: []byte("a"), IgnoreValue: true, PrevKv: true}))
	f.Add(fuzzInput(fuzzPut, &pb.PutRequest{Key: []byte("b"), Value: []byte("2"), Lease: 12345}))
	f.Add(fuzzInput(fuzzRange, &pb.RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}, Limit: 2, SortOrder: pb.RangeRequest_DESCEND, SortTarget: pb.RangeRequest_MOD}))
	f.Add(fuzzInput(fuzzRange, &pb.RangeRequest{Key: []byte("a"), Revision: 1 << 40}))
	f.Add(fuzzInput(fuzzRange, &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, CountOnly: true, MinModRevision: 2, MaxCreateRevision: 1}))
	f.Add(fuzzInput(fuzzDelete, &pb.DeleteRangeRequest{Key: []byte("a"), RangeEnd: []byte("z"), PrevKv: true}))
	f.Add(fuzzInput(fuzzTxn, &pb.TxnRequest{
		Compare: []*pb.Compare{{Key: []byte("a"), Target: pb.Compare_VERSION, Result: pb.Compare_GREATER, TargetUnion: &pb.Compare_Version{Version: 0}}},
		Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("a"), Value: []byte("3")}}}},
		Failure: []*pb.RequestOp{{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: []byte("a")}}}},
	}))
	f.Add(fuzzInput(fuzzTxn, &pb.TxnRequest{
		Success: []*pb.RequestOp{
			{Request: &pb.RequestOp_RequestTxn{RequestTxn: &pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: []byte("k")}}}}}}},
			{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: []byte("k")}}},
		},
	}))
	f.Add(fuzzInput(fuzzCompact, &pb.CompactionRequest{Revision: 2, Physical: true}))
	f.Add(fuzzInput(fuzzLeaseGrant, &pb.LeaseGrantRequest{TTL: 60, ID: 12345}))
	f.Add(fuzzInput(fuzzLeaseGrant, &pb.LeaseGrantRequest{TTL: -1}))
	f.Add(fuzzInput(fuzzLeaseRevoke, &pb.LeaseRevokeRequest{ID: 12345}))
	f.Add(fuzzInput(fuzzLeaseTTL, &pb.LeaseTimeToLiveRequest{ID: 12345, Keys: true}))
	f.Add(fuzzInput(fuzzLeaseLeases, &pb.LeaseLeasesRequest{}))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		body := in[1:]
		var err error
		var put *pb.PutRequest
		var putResp *pb.PutResponse
		switch in[0] % fuzzKinds {
		case fuzzRange:
			r := &pb.RangeRequest{}
			if proto.Unmarshal(body, r) != nil {
				return
			}
			_, err = kv.Range(ctx, r)
		case fuzzPut:
			put = &pb.PutRequest{}
			if proto.Unmarshal(body, put) != nil {
				return
			}
			putResp, err = kv.Put(ctx, put)
		case fuzzDelete:
			r := &pb.DeleteRangeRequest{}
			if proto.Unmarshal(body, r) != nil {
				return
			}
			_, err = kv.DeleteRange(ctx, r)
		case fuzzTxn:
			r := &pb.TxnRequest{}
			if proto.Unmarshal(body, r) != nil {
				return
			}
			_, err = kv.Txn(ctx, r)
		case fuzzCompact:
			r := &pb.CompactionRequest{}
			if proto.Unmarshal(body, r) != nil {
				return
			}
			_, err = kv.Compact(ctx, r)
		case fuzzLeaseGrant:
			r := &pb.LeaseGrantRequest{}
			if proto.Unmarshal(body, r) != nil {
				return
			}
			_, err = ls.LeaseGrant(ctx, r)
		case fuzzLeaseRevoke:
			r := &pb.LeaseRevokeRequest{}
			if proto.Unmarshal(body, r) != nil {
				return
			}
			_, err = ls.LeaseRevoke(ctx, r)
		case fuzzLeaseTTL:
			r := &pb.LeaseTimeToLiveRequest{}
			if proto.Unmarshal(body, r) != nil {
				return
			}
			_, err = ls.LeaseTimeToLive(ctx, r)
		case fuzzLeaseLeases:
			r := &pb.LeaseLeasesRequest{}
			if proto.Unmarshal(body, r) != nil {
				return
			}
			_, err = ls.LeaseLeases(ctx, r)
		}
		if err != nil {
			st, ok := status.FromError(err)
			if !ok || st.Code() == codes.Unknown || st.Code() == codes.OK {
				t.Fatalf("error is not a gRPC status: %T %v", err, err)
			}
			return
		}
		if put == nil || put.IgnoreValue || put.Lease != 0 { // a lease may expire in between
			return
		}
		rr, err := kv.Range(ctx, &pb.RangeRequest{Key: put.Key, Serializable: true})
		if err != nil {
			t.Fatalf("range after put: %v", err)
		}
		if len(rr.Kvs) != 1 || !bytes.Equal(rr.Kvs[0].Value, put.Value) || rr.Kvs[0].ModRevision != putResp.Header.Revision {
			var got *mvccpb.KeyValue
			if len(rr.Kvs) > 0 {
				got = rr.Kvs[0]
			}
			t.Fatalf("put %q=%q at rev %d, range reads %v", put.Key, put.Value, putResp.Header.Revision, got)
		}
	})
}
