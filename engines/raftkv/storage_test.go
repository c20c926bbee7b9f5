package raftkv

import (
	"fmt"
	"slices"
	"testing"

	raftpb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func TestCoalesceAppResps(t *testing.T) {
	msg := func(typ raftpb.MessageType, to, term, index uint64, reject bool) *raftpb.Message {
		return &raftpb.Message{Type: typ.Enum(), To: proto.Uint64(to), Term: proto.Uint64(term),
			Index: proto.Uint64(index), Reject: proto.Bool(reject)}
	}
	ack := func(to, term, index uint64) *raftpb.Message { return msg(raftpb.MsgAppResp, to, term, index, false) }
	rej := func(to, term, index uint64) *raftpb.Message { return msg(raftpb.MsgAppResp, to, term, index, true) }
	vote := msg(raftpb.MsgVoteResp, 1, 3, 0, false)
	tests := []struct {
		name string
		in   []*raftpb.Message
		keep []int // indexes of in that remain, in order
	}{
		{"empty", nil, nil},
		{"one", []*raftpb.Message{ack(1, 2, 5)}, []int{0}},
		{"later ack covers earlier", []*raftpb.Message{ack(1, 2, 5), ack(1, 2, 6), ack(1, 2, 9)}, []int{2}},
		{"other leader kept", []*raftpb.Message{ack(1, 2, 5), ack(2, 2, 6), ack(1, 2, 7)}, []int{1, 2}},
		{"new term kept", []*raftpb.Message{ack(1, 2, 5), ack(1, 3, 6)}, []int{0, 1}},
		{"lower later index keeps earlier", []*raftpb.Message{ack(1, 2, 9), ack(1, 2, 5)}, []int{0, 1}},
		{"rejections kept", []*raftpb.Message{rej(1, 2, 5), ack(1, 2, 6), rej(1, 2, 4), ack(1, 2, 8)}, []int{0, 2, 3}},
		{"other types kept in order", []*raftpb.Message{ack(1, 3, 5), vote, ack(1, 3, 7)}, []int{1, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want []*raftpb.Message
			for _, i := range tc.keep {
				want = append(want, tc.in[i])
			}
			got := coalesceAppResps(slices.Clone(tc.in))
			if !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", describe(got), describe(want))
			}
		})
	}
}

func describe(ms []*raftpb.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%v to=%d term=%d index=%d reject=%v", m.GetType(), m.GetTo(), m.GetTerm(), m.GetIndex(), m.GetReject()))
	}
	return out
}
