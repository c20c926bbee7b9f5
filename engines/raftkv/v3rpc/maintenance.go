package v3rpc

import (
	"context"
	"crypto/sha256"
	"fmt"
	"hash"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc"
)

type maintenanceServer struct {
	pb.UnimplementedMaintenanceServer
	b   Backend
	cfg Config
}

// Status fills Errors as etcd does: "etcdserver: no leader" without a leader,
// then each active alarm (etcdctl endpoint status prints them in its ERRORS
// column).
//
// Status needs no credentials, as in etcd 3.4.23 (later 3.4 releases ask
// for the root role).
func (s *maintenanceServer) Status(ctx context.Context, r *pb.StatusRequest) (*pb.StatusResponse, error) {
	resp := s.b.Status()
	resp.Header = fillHeader(s.b, resp.Header)
	if resp.Leader == 0 {
		resp.Errors = append(resp.Errors, rpctypes.ErrNoLeader.Error())
	}
	if a, ok := s.b.(Alarmer); ok {
		for _, m := range a.Alarms() {
			resp.Errors = append(resp.Errors, alarmString(m))
		}
	}
	return resp, nil
}

// alarmString is how etcd 3.4 prints an AlarmMember (gogoproto's compact
// text), e.g. "memberID:10276657743932975437 alarm:NOSPACE ".
func alarmString(m *pb.AlarmMember) string {
	return fmt.Sprintf("memberID:%d alarm:%s ", m.MemberID, m.Alarm)
}

// Alarm is etcd's Maintenance.Alarm when the Backend is an Alarmer: every
// action goes through raft. Otherwise no alarm exists and none can be set.
func (s *maintenanceServer) Alarm(ctx context.Context, r *pb.AlarmRequest) (*pb.AlarmResponse, error) {
	// Listing needs a user, raising or disarming an admin (etcd's).
	if r.Action == pb.AlarmRequest_GET {
		if _, err := requireAuthInfo(ctx, s.b); err != nil {
			return nil, err
		}
	} else if err := requireAdmin(ctx, s.b); err != nil {
		return nil, err
	}
	if a, ok := s.b.(Alarmer); ok {
		resp, err := a.Alarm(ctx, r)
		if err != nil {
			return nil, toGRPC(err)
		}
		resp.Header = fillHeader(s.b, resp.Header)
		return resp, nil
	}
	if r.Action != pb.AlarmRequest_GET {
		return nil, ErrAlarmNotSupported
	}
	return &pb.AlarmResponse{Header: header(s.b)}, nil
}

// Defragment succeeds without doing anything: the mvcc store does not
// rewrite its bbolt file, so free pages are reused but the file never
// shrinks. etcdctl defrag therefore reports success with no size change.
func (s *maintenanceServer) Defragment(ctx context.Context, r *pb.DefragmentRequest) (*pb.DefragmentResponse, error) {
	if err := requireAdmin(ctx, s.b); err != nil {
		return nil, rawAuthErr(err)
	}
	return &pb.DefragmentResponse{Header: header(s.b)}, nil
}

// MoveLeader transfers leadership when the Backend is a LeaderTransferer.
func (s *maintenanceServer) MoveLeader(ctx context.Context, r *pb.MoveLeaderRequest) (*pb.MoveLeaderResponse, error) {
	if err := requireAdmin(ctx, s.b); err != nil {
		return nil, err
	}
	lt, ok := s.b.(LeaderTransferer)
	if !ok {
		return s.UnimplementedMaintenanceServer.MoveLeader(ctx, r)
	}
	if err := lt.MoveLeader(ctx, r.TargetID); err != nil {
		return nil, toGRPC(err)
	}
	return &pb.MoveLeaderResponse{Header: header(s.b)}, nil
}

func (s *maintenanceServer) Hash(ctx context.Context, r *pb.HashRequest) (*pb.HashResponse, error) {
	if err := requireAdmin(ctx, s.b); err != nil {
		return nil, rawAuthErr(err)
	}
	st, err := storeOf(s.b)
	if err != nil {
		return nil, err
	}
	h, err := st.Hash()
	if err != nil {
		return nil, toGRPC(err)
	}
	return &pb.HashResponse{Header: header(s.b), Hash: h}, nil
}

// HashKV hashes the key space up to r.Revision (<= 0: the current
// revision).
func (s *maintenanceServer) HashKV(ctx context.Context, r *pb.HashKVRequest) (*pb.HashKVResponse, error) {
	if err := requireAdmin(ctx, s.b); err != nil {
		return nil, rawAuthErr(err)
	}
	st, err := storeOf(s.b)
	if err != nil {
		return nil, err
	}
	rev := r.Revision
	if rev <= 0 {
		rev = st.Rev()
	}
	h, compactRev, err := st.HashKV(rev)
	if err != nil {
		return nil, toGRPC(err)
	}
	return &pb.HashKVResponse{Header: header(s.b), Hash: h, CompactRevision: compactRev, HashRevision: rev}, nil
}

// Snapshot streams a consistent copy of the store (a bbolt file) in chunks
// of Config.SnapshotChunkBytes, followed by one message holding the sha256
// of everything sent, as etcd does: etcdctl snapshot save checks that the
// file length is a multiple of 512 plus 32, and snapshot restore checks the
// digest. RemainingBytes is an estimate from Store.Size (at least 1 until
// the digest message, which carries 0); clients do not depend on it.
// The copy comes from Backend.SnapshotStore when the backend is a
// StoreSnapshotter (everything applied so far), else from the store's
// committed state. Like etcd's, it is this member's state: no ReadIndex, so
// it works on a member that has lost its leader.
func (s *maintenanceServer) Snapshot(r *pb.SnapshotRequest, stream grpc.ServerStreamingServer[pb.SnapshotResponse]) error {
	if err := requireAdmin(stream.Context(), s.b); err != nil {
		return rawAuthErr(err)
	}
	st, err := storeOf(s.b)
	if err != nil {
		return err
	}
	w := &snapshotWriter{
		stream: stream,
		h:      sha256.New(),
		buf:    make([]byte, 0, s.cfg.SnapshotChunkBytes),
		total:  st.Size(),
		hdr:    header(s.b),
	}
	var n int64
	if ss, ok := s.b.(StoreSnapshotter); ok {
		n, err = ss.SnapshotStore(stream.Context(), w)
	} else {
		n, err = st.WriteSnapshot(w)
	}
	if err != nil {
		return toGRPC(err)
	}
	if err := w.flush(); err != nil {
		return err
	}
	if n%512 != 0 {
		// A bbolt file is a whole number of pages; anything else would be
		// refused by etcdctl as "sha256 checksum not found".
		return internalError("snapshot of %d bytes is not a whole number of 512-byte sectors", n)
	}
	return stream.Send(&pb.SnapshotResponse{Header: w.hdr, RemainingBytes: 0, Blob: w.h.Sum(nil)})
}

// snapshotWriter cuts the store's snapshot into SnapshotResponse messages
// and hashes what it sends. It runs on the handler's goroutine.
type snapshotWriter struct {
	stream grpc.ServerStreamingServer[pb.SnapshotResponse]
	h      hash.Hash
	buf    []byte
	total  int64
	sent   int64
	hdr    *pb.ResponseHeader
}

func (w *snapshotWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(cap(w.buf)-len(w.buf), len(p))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == cap(w.buf) {
			if err := w.flush(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

func (w *snapshotWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	w.sent += int64(len(w.buf))
	remaining := max(w.total-w.sent, 1)
	w.h.Write(w.buf)
	resp := &pb.SnapshotResponse{Header: w.hdr, RemainingBytes: uint64(remaining), Blob: w.buf}
	if err := w.stream.Send(resp); err != nil {
		return fmt.Errorf("v3rpc: send snapshot chunk: %w", err)
	}
	// Send has marshalled the message; the buffer can be reused.
	w.buf = w.buf[:0]
	return nil
}
