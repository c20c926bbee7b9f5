package mvcc

import (
	"fmt"
	"slices"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/protobuf/proto"
)

// alarmBucket holds the active alarms, etcd's way: each key is a marshalled
// pb.AlarmMember, the value empty. So alarms survive a restart and travel in
// snapshots, and etcd reads them from a store file we wrote.
var alarmBucket = []byte("alarm")

type alarmKey struct {
	member uint64
	typ    pb.AlarmType
}

// applyAlarm is etcd's applierV3backend.Alarm: GET lists the alarms of r.Alarm's
// type (all of them for NONE); ACTIVATE and DEACTIVATE add or remove one and
// answer it (nothing when it was already so).
func (s *Store) applyAlarm(r *pb.AlarmRequest) (*pb.AlarmResponse, error) {
	resp := &pb.AlarmResponse{Header: header(s.rev)}
	k := alarmKey{r.MemberID, r.Alarm}
	switch r.Action {
	case pb.AlarmRequest_GET:
		resp.Alarms = s.alarmsOf(r.Alarm)
	case pb.AlarmRequest_ACTIVATE:
		if r.Alarm == pb.AlarmType_NONE {
			break
		}
		m := &pb.AlarmMember{MemberID: r.MemberID, Alarm: r.Alarm}
		if _, ok := s.alarms[k]; !ok {
			if err := s.alarmBucket().Put(alarmKeyBytes(m), nil); err != nil {
				panic(fmt.Sprintf("mvcc: write alarm %v: %v", m, err))
			}
			s.alarms[k] = struct{}{}
			s.log.Warn("alarm raised", "alarm", r.Alarm.String(), "member", fmt.Sprintf("%x", r.MemberID))
		}
		resp.Alarms = []*pb.AlarmMember{m}
	case pb.AlarmRequest_DEACTIVATE:
		if _, ok := s.alarms[k]; !ok {
			break
		}
		m := &pb.AlarmMember{MemberID: r.MemberID, Alarm: r.Alarm}
		if err := s.alarmBucket().Delete(alarmKeyBytes(m)); err != nil {
			panic(fmt.Sprintf("mvcc: delete alarm %v: %v", m, err))
		}
		delete(s.alarms, k)
		s.log.Warn("alarm disarmed", "alarm", r.Alarm.String(), "member", fmt.Sprintf("%x", r.MemberID))
		resp.Alarms = []*pb.AlarmMember{m}
	default:
		return nil, fmt.Errorf("%w: alarm action %d", ErrUnsupported, r.Action)
	}
	s.dirty = true
	return resp, nil
}

func (s *Store) alarmBucket() interface {
	Put(k, v []byte) error
	Delete(k []byte) error
} {
	return s.tx.Bucket(alarmBucket)
}

func alarmKeyBytes(m *pb.AlarmMember) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("mvcc: marshal alarm %v: %v", m, err))
	}
	return b
}

// alarmsOf lists the alarms of type t (every alarm for NONE), sorted by member
// then type. Caller holds mu.
func (s *Store) alarmsOf(t pb.AlarmType) []*pb.AlarmMember {
	var out []*pb.AlarmMember
	for k := range s.alarms {
		if t == pb.AlarmType_NONE || k.typ == t {
			out = append(out, &pb.AlarmMember{MemberID: k.member, Alarm: k.typ})
		}
	}
	slices.SortFunc(out, func(a, b *pb.AlarmMember) int {
		if a.MemberID != b.MemberID {
			if a.MemberID < b.MemberID {
				return -1
			}
			return 1
		}
		return int(a.Alarm) - int(b.Alarm)
	})
	return out
}

// Alarms lists the active alarms (etcdctl alarm list, the errors column of
// etcdctl endpoint status), sorted by member then type.
func (s *Store) Alarms() []*pb.AlarmMember {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.alarmsOf(pb.AlarmType_NONE)
}

// noSpace reports whether a NOSPACE alarm is active. Caller holds mu.
func (s *Store) noSpace() bool {
	for k := range s.alarms {
		if k.typ == pb.AlarmType_NOSPACE {
			return true
		}
	}
	return false
}

// corrupt reports whether a CORRUPT alarm is active. Caller holds mu.
func (s *Store) corrupt() bool {
	for k := range s.alarms {
		if k.typ == pb.AlarmType_CORRUPT {
			return true
		}
	}
	return false
}

// Corrupt reports whether a CORRUPT alarm is active (reads check it, as
// etcd's applierV3Corrupt refuses ranges too).
func (s *Store) Corrupt() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.corrupt()
}

// corruptErr is etcd's applierV3Corrupt: while a CORRUPT alarm is active,
// puts, ranges, deletes, txns, compactions, lease grants and revokes fail
// with ErrCorruptAlarm; alarms still apply, so the alarm can be disarmed.
func corruptErr(req *pb.InternalRaftRequest) error {
	switch {
	case req.Put != nil, req.Range != nil, req.DeleteRange != nil, req.Txn != nil,
		req.Compaction != nil, req.LeaseGrant != nil, req.LeaseRevoke != nil:
		return ErrCorruptAlarm
	}
	return nil
}

// cappedErr is etcd's applierV3Capped: while a NOSPACE alarm is active, a
// request that would add data (a put, a txn with a put on either branch, a
// lease grant) fails with ErrNoSpace; reads, deletes, revokes and compactions
// go through, so space can be reclaimed.
func cappedErr(req *pb.InternalRaftRequest) error {
	switch {
	case req.Put != nil, req.LeaseGrant != nil:
		return ErrNoSpace
	case req.Txn != nil && txnHasPut(req.Txn):
		return ErrNoSpace
	}
	return nil
}

func txnHasPut(t *pb.TxnRequest) bool {
	for _, ops := range [][]*pb.RequestOp{t.Success, t.Failure} {
		for _, op := range ops {
			if op.GetRequestPut() != nil {
				return true
			}
			if n := op.GetRequestTxn(); n != nil && txnHasPut(n) {
				return true
			}
		}
	}
	return false
}

// loadAlarms reads the alarm bucket. Caller is rebuild.
func (s *Store) loadAlarms(b interface {
	ForEach(func(k, v []byte) error) error
}) error {
	return b.ForEach(func(k, _ []byte) error {
		m := &pb.AlarmMember{}
		if err := proto.Unmarshal(k, m); err != nil {
			return fmt.Errorf("%w: alarm key %x: %v", ErrCorrupt, k, err)
		}
		s.alarms[alarmKey{m.MemberID, m.Alarm}] = struct{}{}
		return nil
	})
}
