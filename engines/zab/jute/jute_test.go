package jute

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestReadFrameErrors(t *testing.T) {
	lenPrefix := func(n int32, body int) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(n))
		return append(b, make([]byte, body)...)
	}
	tests := []struct {
		name      string
		in        []byte
		max       int
		wantField string // "" when the error is not a DecodeError
		wantErr   error
		wantSub   string
	}{
		{"over default max", lenPrefix(DefaultMaxBuffer+1, 0), 0, "length", nil, "exceeds max buffer 1048575"},
		{"over configured max", lenPrefix(101, 101), 100, "length", nil, "exceeds max buffer 100"},
		{"negative", lenPrefix(-5, 0), 0, "length", nil, "negative length -5"},
		{"empty input", nil, 0, "", io.EOF, ""},
		{"short prefix", []byte{0, 0}, 0, "", io.ErrUnexpectedEOF, ""},
		{"short body", lenPrefix(10, 3), 0, "", io.ErrUnexpectedEOF, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(tt.in), nil, tt.max)
			if err == nil {
				t.Fatalf("ReadFrame(%x) succeeded, want an error", tt.in)
			}
			var de *DecodeError
			if tt.wantField != "" {
				if !errors.As(err, &de) || de.Field != tt.wantField || !strings.Contains(de.Error(), tt.wantSub) {
					t.Fatalf("err = %v, want a DecodeError on %q containing %q", err, tt.wantField, tt.wantSub)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
	t.Run("at max is fine", func(t *testing.T) {
		body, err := ReadFrame(bytes.NewReader(lenPrefix(100, 100)), nil, 100)
		if err != nil || len(body) != 100 {
			t.Fatalf("got %d bytes, %v; want 100, nil", len(body), err)
		}
	})
}

func TestSplitFrame(t *testing.T) {
	f1 := AppendRequest(nil, RequestHeader{Xid: 1, Type: OpSync}, &PathRequest{Path: "/a"})
	f2 := AppendRequest(nil, RequestHeader{Xid: XidPing, Type: OpPing}, nil)
	all := append(append([]byte{}, f1...), f2...)
	body, rest, ok, err := SplitFrame(all, 0)
	if err != nil || !ok || !bytes.Equal(body, f1[4:]) || !bytes.Equal(rest, f2) {
		t.Fatalf("SplitFrame = %x, %x, %v, %v", body, rest, ok, err)
	}
	if _, _, ok, err := SplitFrame(f1[:len(f1)-1], 0); ok || err != nil {
		t.Fatalf("partial frame: ok=%v err=%v, want false, nil", ok, err)
	}
	if _, _, _, err := SplitFrame(binary.BigEndian.AppendUint32(nil, 1<<30), 0); err == nil {
		t.Fatal("oversized frame accepted")
	}
}

func TestDecodeRequestErrors(t *testing.T) {
	req := func(xid int32, op Op, body ...[]byte) []byte {
		w := Writer{}
		w.Int(xid)
		w.Int(int32(op))
		for _, b := range body {
			w.Buf = append(w.Buf, b...)
		}
		return w.Buf
	}
	i32 := func(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }
	tests := []struct {
		name               string
		in                 []byte
		record, field, in2 string
	}{
		{"truncated header", []byte{0, 0, 0, 1, 0}, "RequestHeader", "type", "truncated"},
		{"path length past end", req(1, OpGetData, i32(50), []byte("/a")), "PathWatchRequest", "path", "exceeds"},
		{"negative path length", req(1, OpGetData, i32(-7)), "PathWatchRequest", "path", "negative length -7"},
		{"missing watch byte", req(1, OpGetData, i32(2), []byte("/a")), "PathWatchRequest", "watch", "truncated"},
		{"trailing bytes", req(1, OpSync, i32(2), []byte("/a"), []byte{9}), "PathRequest", "end", "1 trailing bytes"},
		{"ping with a body", req(XidPing, OpPing, []byte{1}), "RequestHeader", "end", "trailing"},
		{"huge acl count", req(1, OpCreate, i32(2), []byte("/a"), i32(0), i32(1<<30)), "CreateRequest", "acl", "exceeds"},
		{"huge children vector", req(1, OpSetWatches, make([]byte, 8), i32(1<<29)), "SetWatches", "dataWatches", "exceeds"},
		{"read op in multi", req(1, OpMulti, i32(int32(OpExists)), []byte{0}, i32(-1)), "MultiRequest", "type", "not allowed in multi"},
		{"multi without end", req(1, OpMulti, i32(int32(OpDelete)), []byte{0}, i32(-1), i32(2), []byte("/a"), i32(-1)), "MultiRequest", "type", "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := DecodeRequest(tt.in)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("DecodeRequest(%x) err = %v, want *DecodeError", tt.in, err)
			}
			if de.Record != tt.record || de.Field != tt.field || !strings.Contains(de.Problem, tt.in2) {
				t.Fatalf("DecodeRequest(%x) = %v, want record %s field %s problem containing %q", tt.in, err, tt.record, tt.field, tt.in2)
			}
		})
	}
	t.Run("unknown opcode keeps the header", func(t *testing.T) {
		h, body, err := DecodeRequest(req(7, OpSASL, []byte("whatever")))
		if !errors.Is(err, ErrUnknownOp) || h.Xid != 7 || h.Type != OpSASL || body != nil {
			t.Fatalf("got %+v, %v, %v; want header {7 sasl}, nil, ErrUnknownOp", h, body, err)
		}
	})
}

// TestRoundTrip encodes one of every request and reply record, decodes it,
// and checks the result equals the input.
func TestRoundTrip(t *testing.T) {
	stat := Stat{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	reqs := []struct {
		op   Op
		body Record
	}{
		{OpCreate, &CreateRequest{Path: "/a", Data: nil, ACL: worldAll, Flags: FlagEphemeral}},
		{OpCreate2, &CreateRequest{Path: "/a", Data: []byte{}, ACL: []ACL{}, Flags: 0}},
		{OpCreateContainer, &CreateRequest{Path: "/c", Data: []byte("x"), ACL: worldAll, Flags: FlagContainer}},
		{OpCreateTTL, &CreateTTLRequest{Path: "/t", Data: []byte("x"), ACL: worldAll, Flags: FlagPersistentWithTTL, TTL: 5000}},
		{OpDelete, &DeleteRequest{Path: "/a", Version: -1}},
		{OpExists, &PathWatchRequest{Path: "/a", Watch: true}},
		{OpGetData, &PathWatchRequest{Path: "/a"}},
		{OpSetData, &SetDataRequest{Path: "/a", Data: []byte("d"), Version: 3}},
		{OpGetACL, &PathRequest{Path: "/a"}},
		{OpSetACL, &SetACLRequest{Path: "/a", ACL: []ACL{{Perms: PermRead, ID: Id{"digest", "u:h"}}}, Version: -1}},
		{OpGetChildren, &PathWatchRequest{Path: "/"}},
		{OpGetChildren2, &PathWatchRequest{Path: "/", Watch: true}},
		{OpSync, &PathRequest{Path: "/"}},
		{OpPing, nil},
		{OpCheck, &CheckVersionRequest{Path: "/a", Version: 2}},
		{OpReconfig, &ReconfigRequest{JoiningServers: "server.4=127.0.0.1:2888:3888;2181", LeavingServers: "2", CurConfigID: -1}},
		{OpMulti, &MultiRequest{Ops: []MultiOp{
			{OpCreate, &CreateRequest{Path: "/m", Data: []byte("m"), ACL: worldAll}},
			{OpCreateTTL, &CreateTTLRequest{Path: "/m", ACL: worldAll, Flags: 6, TTL: 1}},
			{OpDelete, &DeleteRequest{Path: "/m", Version: 1}},
			{OpSetData, &SetDataRequest{Path: "/m", Version: -1}},
			{OpCheck, &CheckVersionRequest{Path: "/m", Version: 0}},
		}}},
		{OpMultiRead, &MultiRequest{Ops: []MultiOp{{OpGetData, &PathWatchRequest{Path: "/m"}}, {OpGetChildren, &PathWatchRequest{Path: "/"}}}}},
		{OpCheckWatches, &WatchesRequest{Path: "/a", Type: WatcherAny}},
		{OpRemoveWatches, &WatchesRequest{Path: "/a", Type: WatcherData}},
		{OpAddWatch, &AddWatchRequest{Path: "/a", Mode: AddWatchPersistentRecursive}},
		{OpAuth, &AuthPacket{Scheme: "digest", Auth: []byte("u:p")}},
		{OpSetWatches, &SetWatches{RelativeZxid: 9, DataWatches: []string{"/a"}, ExistWatches: []string{}, ChildWatches: nil}},
		{OpSetWatches2, &SetWatches{RelativeZxid: 9, DataWatches: []string{"/a"}, ExistWatches: []string{"/b"}, ChildWatches: []string{"/"},
			PersistentWatches: []string{"/p"}, PersistentRecursiveWatches: []string{"/r"}, Has2: true}},
		{OpGetEphemerals, &PathRequest{Path: "/"}},
		{OpGetAllChildrenNumber, &PathRequest{Path: "/"}},
		{OpWhoAmI, nil},
		{OpCloseSession, nil},
	}
	for _, r := range reqs {
		t.Run("request/"+r.op.String(), func(t *testing.T) {
			frame := AppendRequest(nil, RequestHeader{Xid: 42, Type: r.op}, r.body)
			body, err := ReadFrame(bytes.NewReader(frame), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			h, got, err := DecodeRequest(body)
			if err != nil {
				t.Fatalf("DecodeRequest: %v", err)
			}
			if h != (RequestHeader{42, r.op}) || !reflect.DeepEqual(got, r.body) {
				t.Fatalf("got %+v %#v, want %#v", h, got, r.body)
			}
		})
	}
	replies := []struct {
		op   Op
		body Record
	}{
		{OpCreate, &CreateResponse{Path: "/a0000000001"}},
		{OpCreate2, &Create2Response{Path: "/a", Stat: stat}},
		{OpCreateTTL, &Create2Response{Path: "/t", Stat: stat}},
		{OpExists, &StatResponse{Stat: stat}},
		{OpGetData, &GetDataResponse{Data: nil, Stat: stat}},
		{OpSetData, &StatResponse{Stat: stat}},
		{OpGetACL, &GetACLResponse{ACL: worldAll, Stat: stat}},
		{OpGetChildren, &GetChildrenResponse{Children: []string{"a", "b"}}},
		{OpGetChildren2, &GetChildren2Response{Children: []string{}, Stat: stat}},
		{OpSync, &PathRequest{Path: "/a"}},
		{OpMulti, &MultiResponse{Results: []MultiResult{
			{Type: OpCreate, Body: &CreateResponse{Path: "/m"}},
			{Type: OpCreate2, Body: &Create2Response{Path: "/n", Stat: stat}},
			{Type: OpDelete}, {Type: OpCheck},
			{Type: OpSetData, Body: &StatResponse{Stat: stat}},
		}}},
		{OpMulti, &MultiResponse{Results: []MultiResult{{Type: OpError, Err: ZOK}, {Type: OpError, Err: ZNONODE}, {Type: OpError, Err: ZRUNTIMEINCONSISTENCY}}}},
		{OpMultiRead, &MultiResponse{Results: []MultiResult{
			{Type: OpGetData, Body: &GetDataResponse{Data: []byte("x"), Stat: stat}},
			{Type: OpGetChildren, Body: &GetChildrenResponse{Children: []string{"c"}}},
		}}},
		{OpGetEphemerals, &GetEphemeralsResponse{Ephemerals: []string{"/e"}}},
		{OpGetAllChildrenNumber, &GetAllChildrenNumberResponse{TotalNumber: 12}},
		{OpAddWatch, &ErrorResponse{Err: ZOK}},
		{OpWhoAmI, &WhoAmIResponse{ClientInfo: []ClientInfo{{"digest", "u"}, {"ip", "127.0.0.1"}}}},
		{OpDelete, nil},
		{OpSetWatches, nil},
		{OpCloseSession, nil},
	}
	for i, r := range replies {
		t.Run(fmt.Sprintf("reply/%d-%s", i, r.op), func(t *testing.T) {
			frame := AppendReply(nil, ReplyHeader{Xid: 42, Zxid: 0x100000001}, r.body)
			h, got, err := DecodeReply(frame[4:], r.op)
			if err != nil {
				t.Fatalf("DecodeReply: %v", err)
			}
			if h != (ReplyHeader{42, 0x100000001, ZOK}) || !reflect.DeepEqual(got, r.body) {
				t.Fatalf("got %+v %#v, want %#v", h, got, r.body)
			}
		})
	}
	t.Run("error reply drops the body", func(t *testing.T) {
		frame := AppendReply(nil, ReplyHeader{Xid: 1, Zxid: 5, Err: ZNONODE}, &StatResponse{Stat: stat})
		if len(frame) != 20 {
			t.Fatalf("error reply is %d bytes, want 20 (header only)", len(frame))
		}
	})
	t.Run("notification", func(t *testing.T) {
		frame := AppendNotification(nil, -1, EventNodeDataChanged, "/cap")
		if want := loadFrame(t, "gozk-10-s2c-watch-notification.hex"); !bytes.Equal(frame, want) {
			t.Fatalf("got %x, want the captured %x", frame, want)
		}
	})
}

func TestCodes(t *testing.T) {
	tests := []struct {
		c    Code
		name string
	}{
		{ZOK, "ZOK"}, {ZNONODE, "ZNONODE"}, {ZNODEEXISTS, "ZNODEEXISTS"}, {ZBADVERSION, "ZBADVERSION"},
		{ZNOTEMPTY, "ZNOTEMPTY"}, {ZNOCHILDRENFOREPHEMERALS, "ZNOCHILDRENFOREPHEMERALS"}, {ZINVALIDACL, "ZINVALIDACL"},
		{ZNOAUTH, "ZNOAUTH"}, {ZSESSIONEXPIRED, "ZSESSIONEXPIRED"}, {ZMARSHALLINGERROR, "ZMARSHALLINGERROR"},
		{ZUNIMPLEMENTED, "ZUNIMPLEMENTED"}, {ZOPERATIONTIMEOUT, "ZOPERATIONTIMEOUT"}, {ZBADARGUMENTS, "ZBADARGUMENTS"},
		{ZAPIERROR, "ZAPIERROR"}, {ZSESSIONMOVED, "ZSESSIONMOVED"}, {ZRUNTIMEINCONSISTENCY, "ZRUNTIMEINCONSISTENCY"},
		{Code(-999), "Code(-999)"},
	}
	for _, tt := range tests {
		if got := tt.c.String(); got != tt.name {
			t.Errorf("Code(%d).String() = %q, want %q", int32(tt.c), got, tt.name)
		}
	}
	if got := ZNONODE.Error(); got != "zookeeper: ZNONODE (-101)" {
		t.Errorf("ZNONODE.Error() = %q", got)
	}
	wrapped := fmt.Errorf("while doing x: %w", ZBADVERSION)
	for _, tt := range []struct {
		err  error
		want Code
	}{{nil, ZOK}, {ZNONODE, ZNONODE}, {wrapped, ZBADVERSION}, {io.EOF, ZSYSTEMERROR}} {
		if got := CodeOf(tt.err); got != tt.want {
			t.Errorf("CodeOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	if !errors.Is(wrapped, ZBADVERSION) {
		t.Error("errors.Is does not see a wrapped Code")
	}
	if OpCreate.String() != "create" || Op(77).String() != "op(77)" || !OpSetData.IsWrite() || OpGetData.IsWrite() {
		t.Error("Op String/IsWrite wrong")
	}
}
