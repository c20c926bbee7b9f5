package v3rpc

import (
	"bytes"
	"context"

	"coordlab/engines/raftkv/mvcc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// MaxTxnOps is etcd's default --max-txn-ops (Config.MaxTxnOps): the most
// operations one Txn branch (or its compare list) may hold.
const MaxTxnOps = 128

type kvServer struct {
	pb.UnimplementedKVServer
	b   Backend
	cfg Config
}

// Range serves a linearizable read after Backend.LinearizableRead, or a
// serializable read straight from the local store.
func (s *kvServer) Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error) {
	if err := checkRange(r); err != nil {
		return nil, err
	}
	if !r.Serializable {
		if err := s.b.LinearizableRead(ctx); err != nil {
			return nil, toGRPC(err)
		}
	}
	st, err := storeOf(s.b)
	if err != nil {
		return nil, err
	}
	if st.Corrupt() {
		return nil, rpctypes.ErrGRPCCorrupt
	}
	var resp *pb.RangeResponse
	err = serveRead(ctx, s.b, st, func(ai mvcc.AuthInfo) error {
		return st.IsRangePermitted(ai, r.Key, r.RangeEnd)
	}, func() error {
		resp, err = st.Range(r)
		return toGRPC(err)
	})
	if err != nil {
		return nil, err
	}
	resp.Header = fillHeader(s.b, resp.Header)
	return resp, nil
}

// serveRead is etcd's doSerialize: the sender's permission check, the
// read, then a check that the auth store did not change meanwhile (else
// ErrGRPCAuthOldRevision, and the client retries with fresh credentials).
func serveRead(ctx context.Context, b Backend, st *mvcc.Store, chk func(mvcc.AuthInfo) error, get func() error) error {
	ai, err := authInfo(ctx, b)
	if err != nil {
		return err
	}
	if err := chk(ai); err != nil {
		return err
	}
	if err := get(); err != nil {
		return err
	}
	if ai.Revision != 0 && ai.Revision != st.AuthRevision() {
		return rpctypes.ErrGRPCAuthOldRevision
	}
	return nil
}

// RangeStream answers a Range in chunks of at most
// Config.RangeStreamChunkBytes of key-values; the last chunk carries the
// header, more and count, so merging the chunks gives Range's answer. The
// range is read once, at one revision, before the first chunk goes out.
func (s *kvServer) RangeStream(r *pb.RangeRequest, stream grpc.ServerStreamingServer[pb.RangeStreamResponse]) error {
	resp, err := s.Range(stream.Context(), r)
	if err != nil {
		return err
	}
	kvs := resp.Kvs
	for len(kvs) > 0 {
		n, size := 0, 0
		for n < len(kvs) {
			sz := proto.Size(kvs[n])
			if n > 0 && size+sz > s.cfg.RangeStreamChunkBytes {
				break
			}
			size += sz
			n++
		}
		if n == len(kvs) {
			break // the rest goes with the final chunk
		}
		if err := stream.Send(&pb.RangeStreamResponse{RangeResponse: &pb.RangeResponse{Kvs: kvs[:n]}}); err != nil {
			return err
		}
		kvs = kvs[n:]
	}
	resp.Kvs = kvs
	return stream.Send(&pb.RangeStreamResponse{RangeResponse: resp})
}

func (s *kvServer) Put(ctx context.Context, r *pb.PutRequest) (*pb.PutResponse, error) {
	if err := checkPut(r); err != nil {
		return nil, err
	}
	if err := checkQuota(ctx, s.b, costPut(r)); err != nil {
		return nil, err
	}
	resp, err := propose[*pb.PutResponse](ctx, s.b, &pb.InternalRaftRequest{Put: r})
	if err != nil {
		return nil, err
	}
	resp.Header = fillHeader(s.b, resp.Header)
	return resp, nil
}

func (s *kvServer) DeleteRange(ctx context.Context, r *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	if err := checkDelete(r); err != nil {
		return nil, err
	}
	resp, err := propose[*pb.DeleteRangeResponse](ctx, s.b, &pb.InternalRaftRequest{DeleteRange: r})
	if err != nil {
		return nil, err
	}
	resp.Header = fillHeader(s.b, resp.Header)
	return resp, nil
}

// Txn proposes a txn that writes; one that only reads is served as a read
// (see readtxn.go), as etcd does.
func (s *kvServer) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	if err := checkTxn(r, s.cfg.MaxTxnOps); err != nil {
		return nil, err
	}
	if st := s.b.Store(); st != nil && st.Corrupt() {
		return nil, rpctypes.ErrGRPCCorrupt
	}
	if isReadOnlyTxn(r) {
		resp, ok, err := s.readTxn(ctx, r)
		if ok {
			return resp, err
		}
	}
	if _, _, err := checkIntervals(r.Success); err != nil {
		return nil, err
	}
	if _, _, err := checkIntervals(r.Failure); err != nil {
		return nil, err
	}
	if err := checkQuota(ctx, s.b, costTxn(r)); err != nil {
		return nil, err
	}
	resp, err := propose[*pb.TxnResponse](ctx, s.b, &pb.InternalRaftRequest{Txn: r})
	if err != nil {
		return nil, err
	}
	// Only the top-level header is filled, as etcd's kvServer.Txn does;
	// nested responses keep the revision the store gave them.
	resp.Header = fillHeader(s.b, resp.Header)
	return resp, nil
}

// Compact goes through the log. mvcc.Store.Apply removes the compacted
// revisions before it returns, so when Propose returns the compaction is
// physically done; r.Physical therefore needs no extra wait.
func (s *kvServer) Compact(ctx context.Context, r *pb.CompactionRequest) (*pb.CompactionResponse, error) {
	resp, err := propose[*pb.CompactionResponse](ctx, s.b, &pb.InternalRaftRequest{Compaction: r})
	if err != nil {
		return nil, err
	}
	resp.Header = fillHeader(s.b, resp.Header)
	return resp, nil
}

func checkRange(r *pb.RangeRequest) error {
	if len(r.GetKey()) == 0 {
		return rpctypes.ErrGRPCEmptyKey
	}
	if _, ok := pb.RangeRequest_SortOrder_name[int32(r.GetSortOrder())]; !ok {
		return rpctypes.ErrGRPCInvalidSortOption
	}
	if _, ok := pb.RangeRequest_SortTarget_name[int32(r.GetSortTarget())]; !ok {
		return rpctypes.ErrGRPCInvalidSortOption
	}
	return nil
}

func checkPut(r *pb.PutRequest) error {
	if len(r.GetKey()) == 0 {
		return rpctypes.ErrGRPCEmptyKey
	}
	if r.GetIgnoreValue() && len(r.GetValue()) != 0 {
		return rpctypes.ErrGRPCValueProvided
	}
	if r.GetIgnoreLease() && r.GetLease() != 0 {
		return rpctypes.ErrGRPCLeaseProvided
	}
	return nil
}

func checkDelete(r *pb.DeleteRangeRequest) error {
	if len(r.GetKey()) == 0 {
		return rpctypes.ErrGRPCEmptyKey
	}
	return nil
}

// checkTxn follows etcd's checkTxnRequest: a bound on the operations per
// branch, non-empty compare keys, and every nested request checked.
func checkTxn(r *pb.TxnRequest, maxOps int) error {
	n := max(len(r.GetCompare()), len(r.GetSuccess()), len(r.GetFailure()))
	if n > maxOps {
		return rpctypes.ErrGRPCTooManyOps
	}
	for _, c := range r.GetCompare() {
		if len(c.GetKey()) == 0 {
			return rpctypes.ErrGRPCEmptyKey
		}
	}
	for _, branch := range [][]*pb.RequestOp{r.GetSuccess(), r.GetFailure()} {
		for _, op := range branch {
			if err := checkRequestOp(op, maxOps); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkRequestOp(op *pb.RequestOp, maxOps int) error {
	switch v := op.GetRequest().(type) {
	case *pb.RequestOp_RequestRange:
		return checkRange(v.RequestRange)
	case *pb.RequestOp_RequestPut:
		return checkPut(v.RequestPut)
	case *pb.RequestOp_RequestDeleteRange:
		return checkDelete(v.RequestDeleteRange)
	case *pb.RequestOp_RequestTxn:
		return checkTxn(v.RequestTxn, maxOps)
	default:
		// etcd treats an empty RequestOp as an empty key.
		return rpctypes.ErrGRPCEmptyKey
	}
}

// interval is a key range [key, end); end nil means the single key, end
// "\x00" means every key >= key (etcd's conventions for range_end).
type interval struct{ key, end []byte }

func (iv interval) contains(k []byte) bool {
	if len(iv.end) == 0 {
		return bytes.Equal(k, iv.key)
	}
	if bytes.Compare(k, iv.key) < 0 {
		return false
	}
	return bytes.Equal(iv.end, []byte{0}) || bytes.Compare(k, iv.end) < 0
}

func anyContains(ivs []interval, k []byte) bool {
	for _, iv := range ivs {
		if iv.contains(k) {
			return true
		}
	}
	return false
}

// checkIntervals rejects a txn branch that writes one key twice, as etcd's
// checkIntervals does: two puts of a key, or a put of a key a delete in the
// same branch covers, give ErrGRPCDuplicateKey. The success and failure
// branches of a nested txn exclude each other, so a key put in both is fine.
func checkIntervals(reqs []*pb.RequestOp) (map[string]struct{}, []interval, error) {
	var dels []interval
	for _, op := range reqs {
		if d := op.GetRequestDeleteRange(); d != nil {
			dels = append(dels, interval{d.Key, d.RangeEnd})
		}
	}
	puts := make(map[string]struct{})
	for _, op := range reqs {
		t := op.GetRequestTxn()
		if t == nil {
			continue
		}
		putsThen, delsThen, err := checkIntervals(t.GetSuccess())
		if err != nil {
			return nil, nil, err
		}
		putsElse, delsElse, err := checkIntervals(t.GetFailure())
		if err != nil {
			return nil, nil, err
		}
		for k := range putsThen {
			if _, dup := puts[k]; dup || anyContains(dels, []byte(k)) {
				return nil, nil, rpctypes.ErrGRPCDuplicateKey
			}
			puts[k] = struct{}{}
		}
		for k := range putsElse {
			if _, dup := puts[k]; dup {
				if _, then := putsThen[k]; !then {
					return nil, nil, rpctypes.ErrGRPCDuplicateKey
				}
			}
			if anyContains(dels, []byte(k)) {
				return nil, nil, rpctypes.ErrGRPCDuplicateKey
			}
			puts[k] = struct{}{}
		}
		dels = append(dels, delsThen...)
		dels = append(dels, delsElse...)
	}
	for _, op := range reqs {
		p := op.GetRequestPut()
		if p == nil {
			continue
		}
		k := string(p.Key)
		if _, dup := puts[k]; dup || anyContains(dels, p.Key) {
			return nil, nil, rpctypes.ErrGRPCDuplicateKey
		}
		puts[k] = struct{}{}
	}
	return puts, dels, nil
}
