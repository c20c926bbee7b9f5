package v3rpc

import (
	"context"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// Alarmer is an optional Backend ability: etcd's space quota and alarms.
// Without it Maintenance.Alarm lists no alarms and refuses to change them,
// and no request is checked against a quota.
type Alarmer interface {
	// Alarm replicates r through raft, as etcd does for every action (GET
	// included), and returns the store's answer.
	Alarm(ctx context.Context, r *pb.AlarmRequest) (*pb.AlarmResponse, error)
	// Alarms lists the alarms active on this member's store.
	Alarms() []*pb.AlarmMember
	// QuotaAvailable reports whether a write that adds about cost bytes fits
	// under the backend quota (--quota-backend-bytes).
	QuotaAvailable(cost int) bool
}

// etcd's estimates of what a request adds to the backend (etcdserver/quota.go).
const (
	leaseOverhead = 64
	kvOverhead    = 256
)

func costPut(r *pb.PutRequest) int { return kvOverhead + len(r.Key) + len(r.Value) }

// costTxn is the larger of the two branches' puts, nested txns included.
func costTxn(r *pb.TxnRequest) int {
	branch := func(ops []*pb.RequestOp) int {
		n := 0
		for _, op := range ops {
			if p := op.GetRequestPut(); p != nil {
				n += costPut(p)
			}
			if t := op.GetRequestTxn(); t != nil {
				n += costTxn(t)
			}
		}
		return n
	}
	return max(branch(r.Success), branch(r.Failure))
}

// checkQuota is etcd's quotaAlarmer.check: a write that would take the
// backend past its quota raises the NOSPACE alarm (through raft, so every
// member caps its writes) and fails with ErrGRPCNoSpace. Requests that add
// nothing always pass.
func checkQuota(ctx context.Context, b Backend, cost int) error {
	a, ok := b.(Alarmer)
	if !ok || cost == 0 || a.QuotaAvailable(cost) {
		return nil
	}
	// As etcd, the answer does not wait on the alarm: if it cannot be
	// replicated now, the next write over quota raises it again.
	_, _ = a.Alarm(ctx, &pb.AlarmRequest{Action: pb.AlarmRequest_ACTIVATE, MemberID: b.Header().MemberId, Alarm: pb.AlarmType_NOSPACE})
	return rpctypes.ErrGRPCNoSpace
}
