package v3rpc

import (
	"context"

	"coordlab/engines/raftkv/mvcc"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"
)

// A Txn whose branches only read is served as a read, as etcd serves it:
// after Backend.LinearizableRead (skipped when every range in it is
// serializable), its compares and ranges are evaluated against the local
// store, all at one revision, without a log entry. The compare rules are
// the store's (mvcc applyCompare, etcd's): a compare holds when it holds for
// every key in its range; with no key, a VALUE compare fails and the others
// compare against zero values. TestReadTxnMatchesApply checks this path
// against proposing the same txns.

// isReadOnlyTxn reports whether every op of both branches, nested txns
// included, is a range.
func isReadOnlyTxn(r *pb.TxnRequest) bool {
	for _, branch := range [][]*pb.RequestOp{r.GetSuccess(), r.GetFailure()} {
		for _, op := range branch {
			switch v := op.GetRequest().(type) {
			case *pb.RequestOp_RequestRange:
			case *pb.RequestOp_RequestTxn:
				if !isReadOnlyTxn(v.RequestTxn) {
					return false
				}
			default:
				return false
			}
		}
	}
	return true
}

// isSerializableTxn reports whether every range in a read-only txn asks for
// a serializable read (etcd's isTxnSerializable).
func isSerializableTxn(r *pb.TxnRequest) bool {
	for _, branch := range [][]*pb.RequestOp{r.GetSuccess(), r.GetFailure()} {
		for _, op := range branch {
			switch v := op.GetRequest().(type) {
			case *pb.RequestOp_RequestRange:
				if !v.RequestRange.GetSerializable() {
					return false
				}
			case *pb.RequestOp_RequestTxn:
				if !isSerializableTxn(v.RequestTxn) {
					return false
				}
			}
		}
	}
	return true
}

// readTxn serves a read-only txn locally. ok is false when the local
// evaluation hit a store error (say, its revision was compacted meanwhile):
// the caller then proposes the txn, whose answer is authoritative.
func (s *kvServer) readTxn(ctx context.Context, r *pb.TxnRequest) (resp *pb.TxnResponse, ok bool, err error) {
	if !isSerializableTxn(r) {
		if err := s.b.LinearizableRead(ctx); err != nil {
			return nil, true, toGRPC(err)
		}
	}
	st, err := storeOf(s.b)
	if err != nil {
		return nil, true, err
	}
	rev := st.Rev()
	var evalErr error
	err = serveRead(ctx, s.b, st, func(ai mvcc.AuthInfo) error {
		return st.CheckTxnAuth(ai, r)
	}, func() error {
		resp, evalErr = evalReadTxn(st, r, rev)
		return nil
	})
	if err != nil {
		return nil, true, err
	}
	if evalErr != nil {
		return nil, false, nil
	}
	resp.Header = fillHeader(s.b, &pb.ResponseHeader{Revision: rev})
	return resp, true, nil
}

func evalReadTxn(st *mvcc.Store, r *pb.TxnRequest, rev int64) (*pb.TxnResponse, error) {
	succeeded := true
	for _, c := range r.GetCompare() {
		holds, err := evalCompare(st, c, rev)
		if err != nil {
			return nil, err
		}
		if !holds {
			succeeded = false
			break
		}
	}
	ops := r.GetSuccess()
	if !succeeded {
		ops = r.GetFailure()
	}
	resp := &pb.TxnResponse{Header: &pb.ResponseHeader{Revision: rev}, Succeeded: succeeded, Responses: make([]*pb.ResponseOp, 0, len(ops))}
	for _, op := range ops {
		switch v := op.GetRequest().(type) {
		case *pb.RequestOp_RequestRange:
			rr := proto.Clone(v.RequestRange).(*pb.RangeRequest)
			if rr.Revision <= 0 {
				rr.Revision = rev
			}
			rresp, err := st.Range(rr)
			if err != nil {
				return nil, err
			}
			rresp.Header = &pb.ResponseHeader{Revision: rev}
			resp.Responses = append(resp.Responses, &pb.ResponseOp{Response: &pb.ResponseOp_ResponseRange{ResponseRange: rresp}})
		case *pb.RequestOp_RequestTxn:
			tresp, err := evalReadTxn(st, v.RequestTxn, rev)
			if err != nil {
				return nil, err
			}
			resp.Responses = append(resp.Responses, &pb.ResponseOp{Response: &pb.ResponseOp_ResponseTxn{ResponseTxn: tresp}})
		}
	}
	return resp, nil
}

// evalCompare evaluates c against the store at rev.
func evalCompare(st *mvcc.Store, c *pb.Compare, rev int64) (bool, error) {
	rresp, err := st.Range(&pb.RangeRequest{Key: c.GetKey(), RangeEnd: c.GetRangeEnd(), Revision: rev})
	if err != nil {
		return false, err
	}
	if len(rresp.Kvs) == 0 {
		if c.GetTarget() == pb.Compare_VALUE {
			return false, nil
		}
		return mvcc.CompareKV(c, &mvccpb.KeyValue{}), nil
	}
	for _, kv := range rresp.Kvs {
		if !mvcc.CompareKV(c, kv) {
			return false, nil
		}
	}
	return true, nil
}
