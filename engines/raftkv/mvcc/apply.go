package mvcc

import (
	"bytes"
	"fmt"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/proto"
)

// Apply applies one committed raft entry at index to the store and returns its response
// (a *pb.RangeResponse, *pb.PutResponse, *pb.DeleteRangeResponse, *pb.TxnResponse,
// *pb.CompactionResponse, *pb.LeaseGrantResponse, *pb.LeaseRevokeResponse or
// *pb.LeaseCheckpointResponse, *pb.AlarmResponse) with only Header.Revision set, or an etcd error
// (ErrCompacted, ErrFutureRev, ErrLeaseNotFound, ErrLeaseExist, ErrKeyNotFound,
// ErrDuplicateKey, ...). An error leaves the key space unchanged: every check runs
// before the first write, as in etcd. While a NOSPACE alarm is active a put, a txn
// with a put or a lease grant fails with ErrNoSpace (etcd's capped applier).
//
// Entries with index <= ConsistentIndex() were applied before and are skipped: Apply
// returns (nil, nil). A nil req only advances ConsistentIndex (for entries that carry no
// request, such as raft's empty entries or conf changes). Request kinds the store does not
// implement advance ConsistentIndex and return an error wrapping ErrUnsupported.
//
// Apply does not fsync: Commit does. The response and the events watchers receive
// reference req's key and value slices only through copies, so the caller may reuse req.
// Only the apply loop calls Apply.
func (s *Store) Apply(index uint64, req *pb.InternalRaftRequest) (proto.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if index <= s.ci {
		return nil, nil
	}
	s.begin()
	s.ci = index
	s.dirty = true
	if req == nil {
		return nil, nil
	}
	if s.corrupt() {
		if err := corruptErr(req); err != nil {
			return nil, err
		}
	}
	if s.noSpace() {
		if err := cappedErr(req); err != nil {
			return nil, err
		}
	}
	if err := s.authorize(req); err != nil {
		return nil, err
	}
	if isAuthRequest(req) {
		return s.applyAuth(index, req)
	}
	switch {
	case req.Alarm != nil:
		return msg(s.applyAlarm(req.Alarm))
	case req.Range != nil:
		return msg(s.rangeLocked(req.Range, s.rev))
	case req.Put != nil:
		return msg(s.applyPut(req.Put))
	case req.DeleteRange != nil:
		return msg(s.applyDeleteRange(req.DeleteRange))
	case req.Txn != nil:
		return msg(s.applyTxn(req.Txn))
	case req.Compaction != nil:
		return msg(s.applyCompaction(req.Compaction))
	case req.LeaseGrant != nil:
		return msg(s.applyLeaseGrant(index, req.LeaseGrant))
	case req.LeaseRevoke != nil:
		return msg(s.applyLeaseRevoke(req.LeaseRevoke))
	case req.LeaseCheckpoint != nil:
		return msg(s.applyLeaseCheckpoint(req.LeaseCheckpoint))
	default:
		return nil, fmt.Errorf("%w at index %d", ErrUnsupported, index)
	}
}

// msg turns a typed response into a proto.Message that is nil (not a typed nil) on error.
func msg[T proto.Message](m T, err error) (proto.Message, error) {
	if err != nil {
		return nil, err
	}
	return m, nil
}

// wtxn is one write txn in progress: every change gets main revision rev and the next sub
// revision. The store revision moves to rev only if something changed.
type wtxn struct {
	rev     int64
	changes int64
	track   bool // record events for watchers
	events  []event
}

// beginW starts a write txn. The store reuses one wtxn value (one writer); the events
// slice is fresh each time because the watch ring keeps it.
func (s *Store) beginW() *wtxn {
	s.w = wtxn{rev: s.rev + 1, track: s.hub.active()}
	return &s.w
}

// readRev is the revision reads inside the txn see: the txn's own writes once it has any
// (etcd's storeTxnWrite.Range).
func (w *wtxn) readRev(s *Store) int64 {
	if w.changes > 0 {
		return w.rev
	}
	return s.rev
}

// end finishes the txn and returns the store revision after it.
func (s *Store) end(w *wtxn) int64 {
	if w.changes == 0 {
		return s.rev
	}
	s.rev = w.rev
	s.hub.publish(w)
	return s.rev
}

func header(rev int64) *pb.ResponseHeader { return &pb.ResponseHeader{Revision: rev} }

// writeRev stores one revision in the key bucket: kv encoded, with value as its Value.
// It returns the stored value bytes (nil for an empty value), which the caller may keep
// as kv.Value: nothing modifies them. A failed bbolt write in the middle of an apply cannot
// be undone consistently, so it panics, as etcd does.
func (s *Store) writeRev(r Revision, tomb bool, kv *mvccpb.KeyValue, value []byte) []byte {
	klen := revKeyLen
	if tomb {
		klen = tombRevKeyLen
	}
	buf := appendRevKey(make([]byte, 0, klen+kvSize(kv, value)), r, tomb)
	buf, at := appendKV(buf, kv, value)
	if err := s.keyB.Put(buf[:klen], buf[klen:]); err != nil {
		panic(fmt.Sprintf("mvcc: write revision %d_%d of key %q: %v", r.Main, r.Sub, kv.Key, err))
	}
	if len(value) == 0 {
		return nil
	}
	return buf[at : at+len(value) : at+len(value)]
}

// put writes key=value with lease at the txn's next sub revision. ki is the key's index
// entry if the caller looked it up already (nil: look it up here).
func (s *Store) put(w *wtxn, ki *keyIndex, key, value []byte, lease int64) {
	if ki == nil {
		ki = s.idx.get(key)
	}
	create, ver, oldLease := w.rev, int64(0), int64(0)
	var prev *mvccpb.KeyValue
	if ki == nil {
		ki = &keyIndex{key: bytes.Clone(key)}
		s.idx.insert(ki)
	} else if ki.cur != nil {
		prev = ki.cur
		create, ver, oldLease = prev.CreateRevision, prev.Version, prev.Lease
	}
	kv := &mvccpb.KeyValue{
		Key:            ki.key,
		CreateRevision: create,
		ModRevision:    w.rev,
		Version:        ver + 1,
		Lease:          lease,
	}
	r := Revision{Main: w.rev, Sub: w.changes}
	kv.Value = s.writeRev(r, false, kv, value)
	ki.revs = append(ki.revs, revEntry{rev: r})
	ki.cur = kv
	if oldLease != lease {
		s.detach(oldLease, ki.key)
		s.attach(lease, ki.key)
	}
	w.changes++
	if w.track {
		w.events = append(w.events, event{typ: mvccpb.Event_PUT, kv: kv, prev: prev})
	}
}

// del writes a tombstone for the live key ki.
func (s *Store) del(w *wtxn, ki *keyIndex) {
	prev := ki.cur
	if prev == nil {
		panic(fmt.Sprintf("mvcc: delete of key %q, which is not live", ki.key))
	}
	r := Revision{Main: w.rev, Sub: w.changes}
	s.writeRev(r, true, &mvccpb.KeyValue{Key: ki.key}, nil)
	ki.revs = append(ki.revs, revEntry{rev: r, tomb: true})
	ki.cur = nil
	s.detach(prev.Lease, ki.key)
	w.changes++
	if w.track {
		w.events = append(w.events, event{typ: mvccpb.Event_DELETE,
			kv: &mvccpb.KeyValue{Key: ki.key, ModRevision: w.rev}, prev: prev})
	}
}

func (s *Store) attach(lease int64, key []byte) {
	if lease == 0 {
		return
	}
	l := s.leases[lease]
	if l == nil {
		panic(fmt.Sprintf("mvcc: attach key %q to lease %x, which does not exist (checks run before writes)", key, lease))
	}
	l.keys[string(key)] = struct{}{}
}

func (s *Store) detach(lease int64, key []byte) {
	if lease == 0 {
		return
	}
	if l := s.leases[lease]; l != nil {
		delete(l.keys, string(key))
	}
}

// cloneKV returns a fresh copy of kv's fields (the byte slices are shared: they are
// never modified once stored).
func cloneKV(kv *mvccpb.KeyValue) *mvccpb.KeyValue {
	return &mvccpb.KeyValue{
		Key:            kv.Key,
		Value:          kv.Value,
		CreateRevision: kv.CreateRevision,
		ModRevision:    kv.ModRevision,
		Version:        kv.Version,
		Lease:          kv.Lease,
	}
}

// checkPut is etcd's checkRequestPut: ignore_value/ignore_lease need a live key, and a
// lease must exist.
func (s *Store) checkPut(p *pb.PutRequest) error {
	if p.IgnoreValue || p.IgnoreLease {
		if ki := s.idx.get(p.Key); ki == nil || ki.cur == nil {
			return ErrKeyNotFound
		}
	}
	if p.Lease != 0 && !p.IgnoreLease {
		if _, ok := s.leases[p.Lease]; !ok {
			return ErrLeaseNotFound
		}
	}
	return nil
}

func (s *Store) doPut(w *wtxn, p *pb.PutRequest) *pb.PutResponse {
	var prev *mvccpb.KeyValue
	ki := s.idx.get(p.Key)
	if ki != nil {
		prev = ki.cur
	}
	val, lease := p.Value, p.Lease
	if p.IgnoreValue {
		val = prev.Value
	}
	if p.IgnoreLease {
		lease = prev.Lease
	}
	resp := &pb.PutResponse{}
	if p.PrevKv && prev != nil {
		resp.PrevKv = cloneKV(prev)
	}
	s.put(w, ki, p.Key, val, lease)
	return resp
}

func (s *Store) applyPut(p *pb.PutRequest) (*pb.PutResponse, error) {
	if err := s.checkPut(p); err != nil {
		return nil, err
	}
	w := s.beginW()
	resp := s.doPut(w, p)
	resp.Header = header(s.end(w))
	return resp, nil
}

func (s *Store) doDeleteRange(w *wtxn, d *pb.DeleteRangeRequest) *pb.DeleteRangeResponse {
	var victims []*keyIndex
	s.idx.ascend(d.Key, normEnd(d.RangeEnd), func(ki *keyIndex) bool {
		if ki.cur != nil {
			victims = append(victims, ki)
		}
		return true
	})
	resp := &pb.DeleteRangeResponse{Deleted: int64(len(victims))}
	for _, ki := range victims {
		if d.PrevKv {
			resp.PrevKvs = append(resp.PrevKvs, cloneKV(ki.cur))
		}
		s.del(w, ki)
	}
	return resp
}

func (s *Store) applyDeleteRange(d *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error) {
	w := s.beginW()
	resp := s.doDeleteRange(w, d)
	resp.Header = header(s.end(w))
	return resp, nil
}

func (s *Store) applyCompaction(c *pb.CompactionRequest) (*pb.CompactionResponse, error) {
	switch {
	case c.Revision <= s.compactRev:
		return nil, ErrCompacted
	case c.Revision > s.rev:
		return nil, ErrFutureRev
	}
	var dead []*keyIndex
	removed := 0
	kbuf := make([]byte, 0, tombRevKeyLen)
	s.idx.each(func(ki *keyIndex) {
		if ki.compact(c.Revision, func(e revEntry) {
			kbuf = appendRevKey(kbuf[:0], e.rev, e.tomb)
			if err := s.keyB.Delete(kbuf); err != nil {
				panic(fmt.Sprintf("mvcc: compaction: delete revision %d_%d: %v", e.rev.Main, e.rev.Sub, err))
			}
			removed++
		}) {
			dead = append(dead, ki)
		}
	})
	for _, ki := range dead {
		s.idx.remove(ki.key)
	}
	s.compactRev = c.Revision
	s.log.Info("compacted", "rev", c.Revision, "removed_revisions", removed, "keys", s.idx.len())
	return &pb.CompactionResponse{Header: header(s.rev)}, nil
}

func (s *Store) applyLeaseGrant(index uint64, g *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error) {
	if g.TTL > MaxLeaseTTL {
		return nil, ErrLeaseTTLTooLarge
	}
	id := g.ID
	if id == 0 {
		id = s.pickLeaseID(index)
	} else if _, ok := s.leases[id]; ok {
		return nil, ErrLeaseExist
	}
	l := &leaseState{id: id, ttl: max(g.TTL, s.cfg.MinLeaseTTL), keys: make(map[string]struct{})}
	if err := s.leaseB.Put(leaseKey(id), encodeLease(l)); err != nil {
		panic(fmt.Sprintf("mvcc: lease grant %x: %v", id, err))
	}
	s.leases[id] = l
	return &pb.LeaseGrantResponse{Header: header(s.rev), ID: id, TTL: l.ttl}, nil
}

func (s *Store) applyLeaseRevoke(r *pb.LeaseRevokeRequest) (*pb.LeaseRevokeResponse, error) {
	l := s.leases[r.ID]
	if l == nil {
		return nil, ErrLeaseNotFound
	}
	w := s.beginW()
	for _, k := range l.sortedKeys() {
		if ki := s.idx.get([]byte(k)); ki != nil && ki.cur != nil {
			s.del(w, ki)
		}
	}
	delete(s.leases, r.ID)
	if err := s.leaseB.Delete(leaseKey(r.ID)); err != nil {
		panic(fmt.Sprintf("mvcc: lease revoke %x: %v", r.ID, err))
	}
	return &pb.LeaseRevokeResponse{Header: header(s.end(w))}, nil
}

func (s *Store) applyLeaseCheckpoint(c *pb.LeaseCheckpointRequest) (*pb.LeaseCheckpointResponse, error) {
	for _, cp := range c.Checkpoints {
		l := s.leases[cp.ID]
		if l == nil {
			continue // revoked meanwhile: nothing to checkpoint, as etcd's lessor
		}
		l.remaining = cp.Remaining_TTL
		if err := s.leaseB.Put(leaseKey(l.id), encodeLease(l)); err != nil {
			panic(fmt.Sprintf("mvcc: lease checkpoint %x: %v", l.id, err))
		}
	}
	return &pb.LeaseCheckpointResponse{Header: header(s.rev)}, nil
}
