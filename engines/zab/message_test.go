package zab

import (
	"errors"
	"reflect"
	"testing"
)

func sampleMessages() []Message {
	return []Message{
		{Type: MsgNotification, From: 1, To: 2, Vote: Vote{Leader: 3, Zxid: MakeZxid(2, 7), ElectionEpoch: 9, PeerEpoch: 2}, State: StateLooking},
		{Type: MsgFollowerInfo, From: 2, To: 3, Conn: 0xdead_0000_0001, Epoch: 4, Zxid: MakeZxid(4, 1)},
		{Type: MsgAckEpoch, From: 2, To: 3, Conn: 5, Epoch: 5, Zxid: MakeZxid(4, 9), PeerEpoch: 4, Rejoin: true},
		{Type: MsgProposal, From: 3, To: 1, Conn: 7, Epoch: 5, Zxid: MakeZxid(5, 1), Commit: MakeZxid(5, 1),
			Entries: []Entry{{Zxid: MakeZxid(5, 2), Data: []byte("set /a 1")}, {Zxid: MakeZxid(5, 3), Data: []byte{0, 1, 2}}}},
		{Type: MsgSnap, From: 3, To: 1, Conn: 7, Epoch: 5, Zxid: MakeZxid(5, 3), Data: make([]byte, 300)},
		{Type: MsgSyncReply, From: 3, To: 1, Conn: 7, Epoch: 5, Zxid: MakeZxid(5, 3), Commit: MakeZxid(5, 3), Request: 42},
		{Type: MsgPing, From: 1, To: 3},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		t.Run(m.Type.String(), func(t *testing.T) {
			b := m.Marshal()
			got, err := UnmarshalMessage(b)
			if err != nil {
				t.Fatalf("UnmarshalMessage(%s): %v", m, err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("round trip:\n got %#v\nwant %#v", got, m)
			}
		})
	}
}

func TestUnmarshalMessageErrors(t *testing.T) {
	good := sampleMessages()[3].Marshal()
	cases := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short header", good[:20]},
		{"bad version", append([]byte{9}, good[1:]...)},
		{"unknown type", append([]byte{good[0], 200}, good[2:]...)},
		{"unknown flags", append([]byte{good[0], good[1], 0x80}, good[3:]...)},
		{"truncated entry", good[:len(good)-3]},
		{"trailing bytes", append(append([]byte(nil), good...), 1, 2)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := UnmarshalMessage(c.b)
			if !errors.Is(err, ErrMalformedMessage) {
				t.Fatalf("UnmarshalMessage(%x): got %v, want ErrMalformedMessage", c.b, err)
			}
		})
	}
}

// FuzzUnmarshalMessage: whatever decodes re-encodes to bytes that decode to
// the same message.
func FuzzUnmarshalMessage(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(m.Marshal())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := UnmarshalMessage(b)
		if err != nil {
			return
		}
		again := m.Marshal()
		m2, err := UnmarshalMessage(again)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip differs:\n%#v\n%#v", m, m2)
		}
	})
}

func TestZxid(t *testing.T) {
	z := MakeZxid(0x12, 0x34)
	if z.Epoch() != 0x12 || z.Counter() != 0x34 || uint64(z) != 0x12_0000_0034 || z.String() != "12:34" {
		t.Fatalf("MakeZxid(0x12, 0x34) = %#x (epoch %x counter %x %q)", uint64(z), z.Epoch(), z.Counter(), z)
	}
	if MakeZxid(1, 0) <= MakeZxid(0, 0xffffffff) {
		t.Fatalf("a later epoch must order after every zxid of an earlier one")
	}
}

func TestVoteOrder(t *testing.T) {
	base := Vote{Leader: 2, Zxid: MakeZxid(3, 5), PeerEpoch: 3}
	cases := []struct {
		name string
		v    Vote
		want bool
	}{
		{"higher peer epoch wins over zxid", Vote{Leader: 1, Zxid: MakeZxid(2, 9), PeerEpoch: 4}, true},
		{"higher zxid", Vote{Leader: 1, Zxid: MakeZxid(3, 6), PeerEpoch: 3}, true},
		{"higher id breaks ties", Vote{Leader: 3, Zxid: MakeZxid(3, 5), PeerEpoch: 3}, true},
		{"lower id loses", Vote{Leader: 1, Zxid: MakeZxid(3, 5), PeerEpoch: 3}, false},
		{"lower epoch loses despite zxid", Vote{Leader: 9, Zxid: MakeZxid(9, 9), PeerEpoch: 2}, false},
	}
	for _, c := range cases {
		if got := c.v.beats(base); got != c.want {
			t.Errorf("%s: %s beats %s = %t, want %t", c.name, c.v, base, got, c.want)
		}
	}
}

func BenchmarkMessageCodec(b *testing.B) {
	m := Message{Type: MsgProposal, From: 3, To: 1, Conn: 7, Epoch: 5, Zxid: MakeZxid(5, 1), Commit: MakeZxid(5, 1)}
	for i := range 64 {
		m.Entries = append(m.Entries, Entry{Zxid: MakeZxid(5, uint32(i+2)), Data: make([]byte, 300)})
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = m.AppendMarshal(buf[:0])
		if _, err := UnmarshalMessage(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}
