package mvcc

import (
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

func alarmReq(action pb.AlarmRequest_AlarmAction, member uint64, typ pb.AlarmType) *pb.InternalRaftRequest {
	return &pb.InternalRaftRequest{Alarm: &pb.AlarmRequest{Action: action, MemberID: member, Alarm: typ}}
}

func alarmList(t *testing.T, h *harness) []*pb.AlarmMember {
	t.Helper()
	resp := h.mustApply(alarmReq(pb.AlarmRequest_GET, 0, pb.AlarmType_NONE)).(*pb.AlarmResponse)
	if got, want := len(resp.Alarms), len(h.s.Alarms()); got != want {
		t.Fatalf("alarm GET lists %d alarms, Alarms() %d", got, want)
	}
	return resp.Alarms
}

// While NOSPACE is active the store refuses what adds data (etcd's capped
// applier) and lets through what frees it; the alarm survives a reopen.
func TestNoSpaceAlarmCapsWrites(t *testing.T) {
	h := newHarness(t)
	h.put("a", "1")
	if _, err := h.grant(5, 100); err != nil {
		t.Fatal(err)
	}
	resp := h.mustApply(alarmReq(pb.AlarmRequest_ACTIVATE, 7, pb.AlarmType_NOSPACE)).(*pb.AlarmResponse)
	if len(resp.Alarms) != 1 || resp.Alarms[0].MemberID != 7 || resp.Alarms[0].Alarm != pb.AlarmType_NOSPACE {
		t.Fatalf("ACTIVATE answered %v, want member 7 NOSPACE", resp.Alarms)
	}
	check := func(when string) {
		t.Helper()
		if _, err := h.apply(&pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte("b"), Value: []byte("2")}}); err != ErrNoSpace {
			t.Fatalf("%s: put: err %v, want ErrNoSpace", when, err)
		}
		if _, err := h.txn(&pb.TxnRequest{Failure: []*pb.RequestOp{opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("b", "2")}})}}); err != ErrNoSpace {
			t.Fatalf("%s: txn with a nested put: err %v, want ErrNoSpace", when, err)
		}
		if _, err := h.grant(6, 100); err != ErrNoSpace {
			t.Fatalf("%s: lease grant: err %v, want ErrNoSpace", when, err)
		}
		if h.get("b") != nil {
			t.Fatalf("%s: b was written", when)
		}
	}
	check("alarm active")
	if _, err := h.txn(&pb.TxnRequest{Success: []*pb.RequestOp{opGet("a", "")}}); err != nil {
		t.Fatalf("read-only txn: %v", err)
	}
	if err := h.s.Commit(); err != nil {
		t.Fatal(err)
	}
	h.reopen()
	if got := alarmList(t, h); len(got) != 1 || got[0].MemberID != 7 {
		t.Fatalf("after reopen alarms %v, want member 7 NOSPACE", got)
	}
	check("after reopen")
	if got := h.del("a", "").Deleted; got != 1 {
		t.Fatalf("delete under NOSPACE deleted %d, want 1", got)
	}
	if err := h.compact(h.s.Rev()); err != nil {
		t.Fatalf("compact under NOSPACE: %v", err)
	}
	// Deactivating another member's or another type's alarm changes nothing.
	if r := h.mustApply(alarmReq(pb.AlarmRequest_DEACTIVATE, 8, pb.AlarmType_NOSPACE)).(*pb.AlarmResponse); len(r.Alarms) != 0 {
		t.Fatalf("DEACTIVATE of an absent alarm answered %v", r.Alarms)
	}
	h.mustApply(alarmReq(pb.AlarmRequest_DEACTIVATE, 7, pb.AlarmType_NOSPACE))
	if got := alarmList(t, h); len(got) != 0 {
		t.Fatalf("after DEACTIVATE alarms %v, want none", got)
	}
	h.put("b", "2")
	if err := h.s.Commit(); err != nil {
		t.Fatal(err)
	}
	h.reopen()
	if len(h.s.Alarms()) != 0 || kvString(h.get("b")) == "<nil>" {
		t.Fatalf("after reopen: alarms %v, b %s", h.s.Alarms(), kvString(h.get("b")))
	}
}
