package mvcc

import (
	"bytes"
	"cmp"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// applyTxn follows etcd's Txn: evaluate every compare on the chosen path (nested txns
// included) against the state before the txn, check every op on that path (leases,
// ignore_value/ignore_lease, range revisions), then execute. The whole txn shares one
// main revision; reads inside it see its earlier writes.
func (s *Store) applyTxn(rt *pb.TxnRequest) (*pb.TxnResponse, error) {
	if err := CheckTxn(rt); err != nil {
		return nil, err
	}
	var path []bool
	s.compareToPath(rt, &path)
	i := 0
	if err := s.checkTxnOps(rt, path, &i); err != nil {
		return nil, err
	}
	w := s.beginW()
	i = 0
	resp := s.execTxn(w, rt, path, &i)
	rev := s.end(w)
	setTxnHeaders(resp, rev)
	return resp, nil
}

// setTxnHeaders gives every response in the tree a header with the txn's revision (range
// responses keep the revision they read at).
func setTxnHeaders(resp *pb.TxnResponse, rev int64) {
	resp.Header = header(rev)
	for _, r := range resp.Responses {
		switch v := r.Response.(type) {
		case *pb.ResponseOp_ResponsePut:
			v.ResponsePut.Header = header(rev)
		case *pb.ResponseOp_ResponseDeleteRange:
			v.ResponseDeleteRange.Header = header(rev)
		case *pb.ResponseOp_ResponseTxn:
			setTxnHeaders(v.ResponseTxn, rev)
		}
	}
}

// compareToPath appends, depth first, the outcome of each txn's compares on the path the
// outcomes choose (etcd's compareToPath).
func (s *Store) compareToPath(rt *pb.TxnRequest, path *[]bool) {
	ok := s.applyCompares(rt.Compare)
	*path = append(*path, ok)
	ops := rt.Success
	if !ok {
		ops = rt.Failure
	}
	for _, op := range ops {
		if t := op.GetRequestTxn(); t != nil {
			s.compareToPath(t, path)
		}
	}
}

func (s *Store) applyCompares(cs []*pb.Compare) bool {
	for _, c := range cs {
		if !s.applyCompare(c) {
			return false
		}
	}
	return true
}

// applyCompare is etcd's: a compare holds when it holds for every key in its range; on no
// key, a VALUE compare fails and the others compare against zero values.
func (s *Store) applyCompare(c *pb.Compare) bool {
	matched := false
	holds := true
	s.idx.ascend(c.Key, normEnd(c.RangeEnd), func(ki *keyIndex) bool {
		if ki.cur == nil {
			return true
		}
		matched = true
		if !CompareKV(c, ki.cur) {
			holds = false
			return false
		}
		return true
	})
	if !matched {
		if c.Target == pb.Compare_VALUE {
			return false
		}
		return CompareKV(c, &mvccpb.KeyValue{})
	}
	return holds
}

// CompareKV reports whether kv satisfies the txn compare c, as etcd
// evaluates it (a missing key is compared as an empty KeyValue). The
// read-only txn path in v3rpc uses it too, so both paths agree.
func CompareKV(c *pb.Compare, kv *mvccpb.KeyValue) bool {
	var result int
	switch c.Target {
	case pb.Compare_VALUE:
		v := c.GetValue()
		if v == nil {
			v = []byte{}
		}
		result = bytes.Compare(kv.Value, v)
	case pb.Compare_CREATE:
		result = cmp.Compare(kv.CreateRevision, c.GetCreateRevision())
	case pb.Compare_MOD:
		result = cmp.Compare(kv.ModRevision, c.GetModRevision())
	case pb.Compare_VERSION:
		result = cmp.Compare(kv.Version, c.GetVersion())
	case pb.Compare_LEASE:
		result = cmp.Compare(kv.Lease, c.GetLease())
	}
	switch c.Result {
	case pb.Compare_EQUAL:
		return result == 0
	case pb.Compare_NOT_EQUAL:
		return result != 0
	case pb.Compare_GREATER:
		return result > 0
	case pb.Compare_LESS:
		return result < 0
	}
	return true
}

// checkTxnOps checks every op on the chosen path before anything is written (etcd's
// checkRequests with checkRequestPut and checkRequestRange), against the state before
// the txn.
func (s *Store) checkTxnOps(rt *pb.TxnRequest, path []bool, i *int) error {
	ops := rt.Success
	if !path[*i] {
		ops = rt.Failure
	}
	*i++
	for _, op := range ops {
		switch v := op.Request.(type) {
		case *pb.RequestOp_RequestPut:
			if v.RequestPut != nil {
				if err := s.checkPut(v.RequestPut); err != nil {
					return err
				}
			}
		case *pb.RequestOp_RequestRange:
			if r := v.RequestRange; r != nil {
				switch {
				case r.Revision > s.rev:
					return ErrFutureRev
				case r.Revision > 0 && r.Revision < s.compactRev:
					return ErrCompacted
				}
				if err := checkSort(r); err != nil {
					return err
				}
			}
		case *pb.RequestOp_RequestTxn:
			if v.RequestTxn != nil {
				if err := s.checkTxnOps(v.RequestTxn, path, i); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (s *Store) execTxn(w *wtxn, rt *pb.TxnRequest, path []bool, i *int) *pb.TxnResponse {
	ok := path[*i]
	*i++
	ops := rt.Success
	if !ok {
		ops = rt.Failure
	}
	resp := &pb.TxnResponse{Succeeded: ok, Responses: make([]*pb.ResponseOp, 0, len(ops))}
	for _, op := range ops {
		var r pb.ResponseOp
		switch v := op.Request.(type) {
		case *pb.RequestOp_RequestRange:
			rr, err := s.rangeLocked(v.RequestRange, w.readRev(s))
			if err != nil {
				// checkTxnOps ruled out every error rangeLocked can return.
				panic("mvcc: txn range failed after its checks passed: " + err.Error())
			}
			r.Response = &pb.ResponseOp_ResponseRange{ResponseRange: rr}
		case *pb.RequestOp_RequestPut:
			r.Response = &pb.ResponseOp_ResponsePut{ResponsePut: s.doPut(w, v.RequestPut)}
		case *pb.RequestOp_RequestDeleteRange:
			r.Response = &pb.ResponseOp_ResponseDeleteRange{ResponseDeleteRange: s.doDeleteRange(w, v.RequestDeleteRange)}
		case *pb.RequestOp_RequestTxn:
			r.Response = &pb.ResponseOp_ResponseTxn{ResponseTxn: s.execTxn(w, v.RequestTxn, path, i)}
		default:
			continue
		}
		resp.Responses = append(resp.Responses, &r)
	}
	return resp
}

// interval is a key range with etcd's conventions (end nil: one key; empty: to the end).
type interval struct{ key, end []byte }

func (iv interval) contains(k []byte) bool { return inRange(k, iv.key, iv.end) }

// CheckTxn is etcd's checkIntervals (v3rpc/key.go): within one branch, and across a
// branch and the nested txns in it, no key may be put twice, nor put and deleted. A key
// put in both the success and the failure branch of a nested txn is fine (they exclude
// each other). It returns ErrDuplicateKey. Apply runs it too, so a request that bypasses
// the gRPC layer's check is still refused on every member alike.
func CheckTxn(rt *pb.TxnRequest) error {
	if _, _, err := checkIntervals(rt.Success); err != nil {
		return err
	}
	_, _, err := checkIntervals(rt.Failure)
	return err
}

func checkIntervals(reqs []*pb.RequestOp) (map[string]struct{}, []interval, error) {
	var dels []interval
	for _, r := range reqs {
		if d := r.GetRequestDeleteRange(); d != nil {
			dels = append(dels, interval{d.Key, normEnd(d.RangeEnd)})
		}
	}
	hitsDel := func(k string) bool {
		for _, iv := range dels {
			if iv.contains([]byte(k)) {
				return true
			}
		}
		return false
	}
	puts := make(map[string]struct{})
	for _, r := range reqs {
		t := r.GetRequestTxn()
		if t == nil {
			continue
		}
		putsThen, delsThen, err := checkIntervals(t.Success)
		if err != nil {
			return nil, nil, err
		}
		putsElse, delsElse, err := checkIntervals(t.Failure)
		if err != nil {
			return nil, nil, err
		}
		for k := range putsThen {
			if _, dup := puts[k]; dup || hitsDel(k) {
				return nil, nil, ErrDuplicateKey
			}
			puts[k] = struct{}{}
		}
		for k := range putsElse {
			if _, dup := puts[k]; dup {
				if _, safe := putsThen[k]; !safe {
					return nil, nil, ErrDuplicateKey
				}
			}
			if hitsDel(k) {
				return nil, nil, ErrDuplicateKey
			}
			puts[k] = struct{}{}
		}
		dels = append(dels, delsThen...)
		dels = append(dels, delsElse...)
	}
	for _, r := range reqs {
		p := r.GetRequestPut()
		if p == nil {
			continue
		}
		k := string(p.Key)
		if _, dup := puts[k]; dup || hitsDel(k) {
			return nil, nil, ErrDuplicateKey
		}
		puts[k] = struct{}{}
	}
	return puts, dels, nil
}
