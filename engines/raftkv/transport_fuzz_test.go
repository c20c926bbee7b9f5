package raftkv

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/raft/v3"
	raftpb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Peer-protocol fuzz targets: everything a peer (or anyone who reaches the
// peer port) can send. The fixture is member 1 of the cluster {1, 2, 3},
// with 4 removed; nothing here needs a raft loop, so the targets exercise the
// decode and admission code the handlers run, not raft itself (raft trusts
// what a member says; peer TLS is what keeps non-members out of the port).

const fuzzClusterID = 0xc1

func fuzzTransport(tb testing.TB) *transport {
	tb.Helper()
	s := &Server{
		id:      1,
		log:     slog.New(slog.DiscardHandler),
		metrics: newMetrics(prometheus.NewRegistry()),
		recvc:   make(chan *raftpb.Message, 1024),
		stopc:   make(chan struct{}),
		snapDir: tb.TempDir(),
	}
	s.members = newMembership(fuzzClusterID, []member{
		{ID: 1, Name: "a", PeerURLs: []string{"http://127.0.0.1:2380"}},
		{ID: 2, Name: "b", PeerURLs: []string{"http://127.0.0.2:2380"}},
		{ID: 3, Name: "c", PeerURLs: []string{"http://127.0.0.3:2380"}, IsLearner: true},
	})
	s.members.add(member{ID: 4, PeerURLs: []string{"http://127.0.0.4:2380"}})
	s.members.remove(4)
	t := &transport{s: s, log: s.log, peers: map[uint64]*peer{}, stopc: s.stopc}
	s.tr = t
	return t
}

// checkAdmitted fails unless m is something raft may take from the peer from
// on the given path.
// checkAdmitted: allowUnknown is for the paths a leader uses to reach a
// member that does not know it yet (/raft/message, /raft/snapshot): a sender
// that is not a member may deliver there, a removed one never.
func checkAdmitted(tb testing.TB, t *transport, from uint64, m *raftpb.Message, snapshotPath, allowUnknown bool) {
	tb.Helper()
	if m.GetFrom() != from {
		tb.Fatalf("delivered %v from %x on the connection of %x", m.GetType(), m.GetFrom(), from)
	}
	if t.s.members.isRemoved(from) {
		tb.Fatalf("delivered %v from removed member %x", m.GetType(), from)
	}
	if _, ok := t.s.members.get(from); !ok && !allowUnknown {
		tb.Fatalf("delivered %v from non-member %x", m.GetType(), from)
	}
	if m.GetTo() != t.s.id {
		tb.Fatalf("delivered %v addressed to %x", m.GetType(), m.GetTo())
	}
	if raft.IsLocalMsg(m.GetType()) || raft.IsLocalMsgTarget(m.GetFrom()) {
		tb.Fatalf("delivered local message %v from %x", m.GetType(), m.GetFrom())
	}
	if (m.GetType() == raftpb.MsgSnap) != snapshotPath {
		tb.Fatalf("delivered %v on the snapshot path=%v", m.GetType(), snapshotPath)
	}
}

func frame(b []byte) []byte {
	var hdr [4]byte
	binary.LittleEndian.PutUint32(hdr[:], uint32(len(b)))
	return append(hdr[:], b...)
}

func frames(ms ...*raftpb.Message) []byte {
	var out []byte
	for _, m := range ms {
		b, err := proto.Marshal(m)
		if err != nil {
			panic(err) // plain messages always marshal
		}
		out = append(out, frame(b)...)
	}
	return out
}

func msg(typ raftpb.MessageType, from, to, term, index uint64) *raftpb.Message {
	return &raftpb.Message{Type: typ.Enum(), From: &from, To: &to, Term: &term, Index: &index}
}

// FuzzPeerStream feeds arbitrary bytes as the frames of POST /raft/stream
// after the handshake named the sender from: readStream must not panic, must
// end with an error or EOF, and every message it delivers must pass admission.
func FuzzPeerStream(f *testing.F) {
	ent := &raftpb.Entry{Term: proto.Uint64(2), Index: proto.Uint64(5), Data: []byte("put k v")}
	app := msg(raftpb.MsgApp, 2, 1, 2, 4)
	app.LogTerm = proto.Uint64(2)
	app.Entries = []*raftpb.Entry{ent}
	app.Commit = proto.Uint64(4)
	f.Add(uint64(2), frames(msg(raftpb.MsgHeartbeat, 2, 1, 2, 0), app))
	f.Add(uint64(3), frames(msg(raftpb.MsgVote, 3, 1, 3, 7), msg(raftpb.MsgAppResp, 3, 1, 2, 5)))
	f.Add(uint64(2), frames(msg(raftpb.MsgHeartbeat, 3, 1, 2, 0))) // wrong sender
	f.Add(uint64(2), frames(msg(raftpb.MsgHeartbeat, 2, 9, 2, 0))) // wrong addressee
	f.Add(uint64(4), frames(msg(raftpb.MsgHeartbeat, 4, 1, 2, 0))) // removed
	f.Add(uint64(7), frames(msg(raftpb.MsgVote, 7, 1, 9, 9)))      // stranger
	f.Add(uint64(2), frames(msg(raftpb.MsgSnap, 2, 1, 2, 9)))      // snapshot on the stream
	f.Add(raft.LocalAppendThread, frames(msg(raftpb.MsgStorageAppendResp, raft.LocalAppendThread, 1, 2, 9)))
	f.Add(uint64(2), frames(msg(raftpb.MsgHup, 2, 1, 0, 0)))
	f.Add(uint64(2), []byte{0xff, 0xff, 0xff, 0xff})
	f.Add(uint64(2), append(frame([]byte{0x08, 0x03}), 0x05, 0, 0, 0, 1))
	tr := fuzzTransport(f)
	f.Fuzz(func(tt *testing.T, from uint64, stream []byte) {
		for _, allowUnknown := range []bool{false, true} {
			var got []*raftpb.Message
			err := tr.readStream(bytes.NewReader(stream), from, func(m *raftpb.Message) { got = append(got, m) }, allowUnknown)
			if err == nil {
				tt.Fatal("readStream returned nil at the end of the stream")
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, errBadPeerMessage) && !errors.Is(err, errRemovedPeer) {
				tt.Fatalf("unexpected error kind: %v", err)
			}
			for _, m := range got {
				checkAdmitted(tt, tr, from, m, false, allowUnknown)
			}
		}
	})
}

func TestPeerStreamAdmission(t *testing.T) {
	cases := []struct {
		name      string
		from      uint64
		m         *raftpb.Message
		delivered bool
		bad       bool // stream closed
	}{
		{"member", 2, msg(raftpb.MsgHeartbeat, 2, 1, 2, 0), true, false},
		{"learner", 3, msg(raftpb.MsgAppResp, 3, 1, 2, 0), true, false},
		{"spoofed sender", 2, msg(raftpb.MsgHeartbeat, 3, 1, 2, 0), false, true},
		{"other addressee", 2, msg(raftpb.MsgHeartbeat, 2, 3, 2, 0), false, true},
		{"local type", 2, msg(raftpb.MsgHup, 2, 1, 0, 0), false, true},
		{"append thread id", raft.LocalAppendThread, msg(raftpb.MsgStorageAppendResp, raft.LocalAppendThread, 1, 2, 9), false, true},
		{"apply thread id", raft.LocalApplyThread, msg(raftpb.MsgHeartbeat, raft.LocalApplyThread, 1, 2, 0), false, true},
		{"snapshot on stream", 2, msg(raftpb.MsgSnap, 2, 1, 2, 9), false, true},
		{"removed member", 4, msg(raftpb.MsgHeartbeat, 4, 1, 2, 0), false, false},
		{"stranger", 7, msg(raftpb.MsgVote, 7, 1, 9, 9), false, false},
	}
	// On /raft/message a leader reaches a member that does not know it yet:
	// a stranger's message is delivered there, a removed member's never.
	for _, c := range []struct {
		name      string
		from      uint64
		delivered bool
	}{{"stranger on the message path", 7, true}, {"removed member on the message path", 4, false}} {
		t.Run(c.name, func(t *testing.T) {
			tr := fuzzTransport(t)
			n := 0
			_ = tr.readStream(bytes.NewReader(frames(msg(raftpb.MsgApp, c.from, 1, 9, 9))), c.from, func(*raftpb.Message) { n++ }, true)
			if got := n == 1; got != c.delivered {
				t.Errorf("delivered=%v, want %v", got, c.delivered)
			}
		})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := fuzzTransport(t)
			n := 0
			err := tr.readStream(bytes.NewReader(frames(c.m)), c.from, func(*raftpb.Message) { n++ }, false)
			if got := n == 1; got != c.delivered {
				t.Errorf("delivered=%v, want %v", got, c.delivered)
			}
			if got := errors.Is(err, errBadPeerMessage); got != c.bad {
				t.Errorf("stream error %v, want bad=%v", err, c.bad)
			}
		})
	}
}

// FuzzPeerHTTP sends arbitrary requests to the peer handler (all paths but
// the hijacked stream): no panic, and a snapshot it accepts passes admission
// and lands in the receive queue.
func FuzzPeerHTTP(f *testing.F) {
	snap := msg(raftpb.MsgSnap, 2, 1, 2, 0)
	snap.Snapshot = &raftpb.Snapshot{Metadata: &raftpb.SnapshotMetadata{Index: proto.Uint64(12), Term: proto.Uint64(2)}}
	snapBody := append(frames(snap), "bbolt file bytes"...)
	f.Add("POST", pathSnapshot, "2", fmt.Sprintf("%x", fuzzClusterID), snapBody)
	f.Add("POST", pathSnapshot, "7", fmt.Sprintf("%x", fuzzClusterID), snapBody)
	f.Add("POST", pathSnapshot, "2", "ff", snapBody)
	f.Add("POST", pathSnapshot, "2", fmt.Sprintf("%x", fuzzClusterID), frames(msg(raftpb.MsgApp, 2, 1, 2, 0)))
	f.Add("POST", pathLeaseRenew, "2", fmt.Sprintf("%x", fuzzClusterID), []byte{0x08, 0x2a})
	f.Add("POST", pathLeaseTTL, "3", fmt.Sprintf("%x", fuzzClusterID), []byte{0x08, 0x2a, 0x10, 0x01})
	f.Add("GET", pathMembers, "", "", []byte(nil))
	f.Add("GET", pathStream, "2", fmt.Sprintf("%x", fuzzClusterID), []byte(nil))
	tr := fuzzTransport(f)
	h := tr.handler()
	f.Fuzz(func(tt *testing.T, method, path, from, cluster string, body []byte) {
		if strings.HasPrefix(path, pathStream) || !strings.HasPrefix(path, "/") {
			return // the stream needs a hijackable connection: FuzzPeerStream covers its frames
		}
		req, err := http.NewRequest(method, "http://peer"+path, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set(hdrFrom, from)
		req.Header.Set(hdrCluster, cluster)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		select {
		case m := <-tr.s.recvc:
			if w.Code != http.StatusNoContent {
				tt.Fatalf("message queued but answered %d", w.Code)
			}
			fromID := m.GetFrom()
			checkAdmitted(tt, tr, fromID, m, true, true)
			if _, err := os.Stat(tr.s.snapDBPath(m.GetSnapshot().GetMetadata().GetIndex())); err != nil {
				tt.Fatalf("snapshot queued without its store file: %v", err)
			}
		default:
			if w.Code == http.StatusNoContent {
				tt.Fatal("answered 204 without queueing the snapshot")
			}
		}
	})
}

// FuzzMembersReply decodes arbitrary GET /members answers as a joining member
// does: no panic, and an accepted answer gives a usable membership.
func FuzzMembersReply(f *testing.F) {
	good, _ := json.Marshal(membersReply{ClusterID: 0xabc, Members: []member{
		{ID: 1, Name: "a", PeerURLs: []string{"http://127.0.0.1:2380"}, ClientURLs: []string{"http://127.0.0.1:2379"}},
		{ID: 2, Name: "b", PeerURLs: []string{"https://10.0.0.2:2380"}, IsLearner: true},
	}})
	f.Add(good)
	f.Add([]byte(`{"clusterID":0,"members":[]}`))
	f.Add([]byte(`{"clusterID":1,"members":[{"id":0,"peerURLs":["http://x:1"]}]}`))
	f.Add([]byte(`{"clusterID":1,"members":[{"id":5,"peerURLs":["http://x:1"]},{"id":5,"peerURLs":["http://y:1"]}]}`))
	f.Add([]byte(`{"clusterID":1,"members":[{"id":5,"peerURLs":["x:1"]}]}`))
	f.Add([]byte(`{"clusterID":18446744073709551615,"members":[{"id":18446744073709551615,"peerURLs":[]}]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := decodeMembersReply(bytes.NewReader(b))
		if err != nil {
			return
		}
		if rep.ClusterID == 0 || len(rep.Members) == 0 {
			t.Fatalf("accepted %+v", rep)
		}
		ids := map[uint64]bool{}
		for _, m := range rep.Members {
			if m.ID == 0 || raft.IsLocalMsgTarget(m.ID) || ids[m.ID] || len(m.PeerURLs) == 0 {
				t.Fatalf("accepted member %+v", m)
			}
			ids[m.ID] = true
		}
		ms := newMembership(rep.ClusterID, rep.Members)
		if len(ms.list()) != len(rep.Members) {
			t.Fatalf("membership has %d members, answer %d", len(ms.list()), len(rep.Members))
		}
	})
}

// A frame header alone must not make a member allocate the frame's claimed
// size (up to 256 MiB per stream).
func TestReadFrameBodyAllocatesWhatArrives(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := readFrameBody(bytes.NewReader([]byte("short")), 200<<20, nil)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want unexpected EOF", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 16<<20 {
		t.Fatalf("reading 5 bytes of a 200 MiB frame allocated %d MiB", d>>20)
	}
	b, err := readFrameBody(bytes.NewReader(bytes.Repeat([]byte{7}, 3<<20)), 3<<20, make([]byte, 10))
	if err != nil || len(b) != 3<<20 || b[len(b)-1] != 7 {
		t.Fatalf("3 MiB frame: len %d err %v", len(b), err)
	}
}
