package mvcc

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"
)

// Range answers a RangeRequest from the local store with etcd's semantics: range_end
// (empty: one key, "\x00": every key >= key, prefix+1: a prefix), a historical revision
// (ErrFutureRev above the store revision, ErrCompacted below the compact revision),
// limit with More, count (all matches, ignoring limit and the revision filters, as etcd),
// count_only, keys_only, min/max mod/create revision filters and sorting. Header.Revision
// is the store revision. Range sees every applied write, committed or not.
// Safe to call from any goroutine.
func (s *Store) Range(r *pb.RangeRequest) (*pb.RangeResponse, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	return s.rangeLocked(r, s.rev)
}

func checkSort(r *pb.RangeRequest) error {
	switch r.SortOrder {
	case pb.RangeRequest_NONE, pb.RangeRequest_ASCEND, pb.RangeRequest_DESCEND:
	default:
		return ErrInvalidSortOption
	}
	switch r.SortTarget {
	case pb.RangeRequest_KEY, pb.RangeRequest_VERSION, pb.RangeRequest_CREATE, pb.RangeRequest_MOD, pb.RangeRequest_VALUE:
	default:
		return ErrInvalidSortOption
	}
	return nil
}

// revReader fetches historical revisions from bbolt: from the open write txn when there
// is one, else from a read txn it opens on first use. It holds txMu shared from its first
// use until close. Caller holds mu.
type revReader struct {
	s      *Store
	tx     *bolt.Tx
	b      *bolt.Bucket
	locked bool
	kbuf   []byte
}

// bucket returns the key bucket, locking and opening on first use.
func (rd *revReader) bucket() (*bolt.Bucket, error) {
	if rd.b != nil {
		return rd.b, nil
	}
	if !rd.locked {
		rd.s.txMu.RLock()
		rd.locked = true
	}
	if rd.s.tx != nil {
		rd.b = rd.s.keyB
		return rd.b, nil
	}
	tx, err := rd.s.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("mvcc: begin read txn: %w", err)
	}
	rd.tx, rd.b = tx, tx.Bucket(keyBucket)
	return rd.b, nil
}

func (rd *revReader) get(r Revision) (*mvccpb.KeyValue, error) {
	if _, err := rd.bucket(); err != nil {
		return nil, err
	}
	rd.kbuf = appendRevKey(rd.kbuf[:0], r, false)
	v := rd.b.Get(rd.kbuf)
	if v == nil {
		return nil, nil
	}
	kv := new(mvccpb.KeyValue)
	if err := proto.Unmarshal(v, kv); err != nil {
		return nil, fmt.Errorf("%w: revision %d_%d: %v", ErrCorrupt, r.Main, r.Sub, err)
	}
	return kv, nil
}

func (rd *revReader) close() {
	if rd.tx != nil {
		_ = rd.tx.Rollback()
	}
	if rd.locked {
		rd.s.txMu.RUnlock()
	}
}

// kvAt returns the value of ki at revision main, nil if the key was not live then (or
// that revision is gone).
func (rd *revReader) kvAt(ki *keyIndex, main int64) (*mvccpb.KeyValue, error) {
	r, last, ok := ki.at(main)
	if !ok {
		return nil, nil
	}
	if last && ki.cur != nil {
		return cloneKV(ki.cur), nil
	}
	return rd.get(r)
}

// rangeLocked is etcd's Range over the view at readRev (the store revision, or a txn's
// own revision once it wrote). Caller holds mu.
func (s *Store) rangeLocked(r *pb.RangeRequest, readRev int64) (*pb.RangeResponse, error) {
	rev := r.Revision
	if rev > readRev {
		return nil, ErrFutureRev
	}
	if rev <= 0 {
		rev = readRev
	}
	if rev < s.compactRev {
		return nil, ErrCompacted
	}
	if err := checkSort(r); err != nil {
		return nil, err
	}
	filtered := r.MinModRevision != 0 || r.MaxModRevision != 0 || r.MinCreateRevision != 0 || r.MaxCreateRevision != 0
	limit := r.Limit
	if r.SortOrder != pb.RangeRequest_NONE || filtered {
		limit = 0 // fetch all, then sort and truncate
	} else if limit > 0 {
		limit++ // one more to learn More
	}

	rd := revReader{s: s}
	defer rd.close()
	var kvs []*mvccpb.KeyValue
	var count int64
	var fetchErr error
	s.idx.ascend(r.Key, normEnd(r.RangeEnd), func(ki *keyIndex) bool {
		if _, _, ok := ki.at(rev); !ok {
			return true
		}
		count++
		if r.CountOnly || (limit > 0 && int64(len(kvs)) >= limit) {
			return true
		}
		kv, err := rd.kvAt(ki, rev)
		if err != nil {
			fetchErr = err
			return false
		}
		if kv == nil {
			fetchErr = fmt.Errorf("%w: key %q: revision at %d missing from the key bucket", ErrCorrupt, ki.key, rev)
			return false
		}
		kvs = append(kvs, kv)
		return true
	})
	if fetchErr != nil {
		return nil, fetchErr
	}

	if filtered {
		kvs = slices.DeleteFunc(kvs, func(kv *mvccpb.KeyValue) bool {
			return (r.MaxModRevision != 0 && kv.ModRevision > r.MaxModRevision) ||
				(r.MinModRevision != 0 && kv.ModRevision < r.MinModRevision) ||
				(r.MaxCreateRevision != 0 && kv.CreateRevision > r.MaxCreateRevision) ||
				(r.MinCreateRevision != 0 && kv.CreateRevision < r.MinCreateRevision)
		})
	}
	sortKVs(kvs, r.SortOrder, r.SortTarget)

	resp := &pb.RangeResponse{Header: header(readRev), Count: count}
	if r.Limit > 0 && int64(len(kvs)) > r.Limit {
		kvs = kvs[:r.Limit]
		resp.More = true
	}
	if r.KeysOnly {
		for _, kv := range kvs {
			kv.Value = nil
		}
	}
	resp.Kvs = kvs
	return resp, nil
}

// sortKVs applies etcd's sort rules: results come sorted by key ascending; a target other
// than KEY with order NONE means ASCEND. Ties keep key order (a stable sort).
func sortKVs(kvs []*mvccpb.KeyValue, order pb.RangeRequest_SortOrder, target pb.RangeRequest_SortTarget) {
	if target != pb.RangeRequest_KEY && order == pb.RangeRequest_NONE {
		order = pb.RangeRequest_ASCEND
	}
	if order == pb.RangeRequest_NONE || (target == pb.RangeRequest_KEY && order == pb.RangeRequest_ASCEND) {
		return
	}
	var f func(a, b *mvccpb.KeyValue) int
	switch target {
	case pb.RangeRequest_KEY:
		f = func(a, b *mvccpb.KeyValue) int { return bytes.Compare(a.Key, b.Key) }
	case pb.RangeRequest_VERSION:
		f = func(a, b *mvccpb.KeyValue) int { return cmp.Compare(a.Version, b.Version) }
	case pb.RangeRequest_CREATE:
		f = func(a, b *mvccpb.KeyValue) int { return cmp.Compare(a.CreateRevision, b.CreateRevision) }
	case pb.RangeRequest_MOD:
		f = func(a, b *mvccpb.KeyValue) int { return cmp.Compare(a.ModRevision, b.ModRevision) }
	case pb.RangeRequest_VALUE:
		f = func(a, b *mvccpb.KeyValue) int { return bytes.Compare(a.Value, b.Value) }
	}
	if order == pb.RangeRequest_DESCEND {
		g := f
		f = func(a, b *mvccpb.KeyValue) int { return g(b, a) }
	}
	slices.SortStableFunc(kvs, f)
}
