package jute

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
)

// ReadFrame reads one length-prefixed frame from r into buf (grown if too
// small) and returns the body. A length below zero or above maxBuffer is a
// *DecodeError, reported before any body byte is read or allocated;
// maxBuffer <= 0 means DefaultMaxBuffer. io.EOF means r ended cleanly
// between frames; io.ErrUnexpectedEOF that it ended inside one.
func ReadFrame(r io.Reader, buf []byte, maxBuffer int) ([]byte, error) {
	if maxBuffer <= 0 {
		maxBuffer = DefaultMaxBuffer
	}
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(hdr[:]))
	if err := checkFrameLength(n, maxBuffer); err != nil {
		return nil, err
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

func checkFrameLength(n int32, maxBuffer int) error {
	if n < 0 {
		return &DecodeError{Record: "frame", Field: "length", Problem: "negative length " + strconv.Itoa(int(n))}
	}
	if int(n) > maxBuffer {
		return &DecodeError{Record: "frame", Field: "length", Problem: "length " + strconv.Itoa(int(n)) +
			" exceeds max buffer " + strconv.Itoa(maxBuffer) + " (raise jute.maxbuffer on both sides to allow it)"}
	}
	return nil
}

// SplitFrame takes one frame off the front of b: it returns the body and
// the bytes after the frame. ok is false (with a nil error) if b does not
// yet hold a whole frame; a bad length is a *DecodeError as in ReadFrame.
// The body aliases b.
func SplitFrame(b []byte, maxBuffer int) (body, rest []byte, ok bool, err error) {
	if maxBuffer <= 0 {
		maxBuffer = DefaultMaxBuffer
	}
	if len(b) < 4 {
		return nil, b, false, nil
	}
	n := int32(binary.BigEndian.Uint32(b))
	if err := checkFrameLength(n, maxBuffer); err != nil {
		return nil, b, false, err
	}
	if len(b)-4 < int(n) {
		return nil, b, false, nil
	}
	return b[4 : 4+n], b[4+n:], true, nil
}

// AppendFrame appends rec as a frame (length prefix and body) to dst.
func AppendFrame(dst []byte, recs ...Record) []byte {
	w := Writer{Buf: dst}
	start := len(w.Buf)
	w.Int(0)
	for _, rec := range recs {
		if rec != nil {
			rec.Encode(&w)
		}
	}
	binary.BigEndian.PutUint32(w.Buf[start:], uint32(len(w.Buf)-start-4))
	return w.Buf
}

// AppendRequest appends a framed request: header, then body (nil for ping,
// closeSession and whoAmI).
func AppendRequest(dst []byte, h RequestHeader, body Record) []byte {
	return AppendFrame(dst, &h, body)
}

// AppendReply appends a framed reply: header, then body unless h.Err is not
// ZOK (ZooKeeper omits the body of a failed reply; go-zk relies on it).
func AppendReply(dst []byte, h ReplyHeader, body Record) []byte {
	if h.Err != ZOK {
		body = nil
	}
	return AppendFrame(dst, &h, body)
}

// AppendNotification appends a watch notification frame: header
// {XidWatch, zxid, ZOK} and a WatcherEvent in state SyncConnected.
func AppendNotification(dst []byte, zxid int64, typ EventType, path string) []byte {
	return AppendReply(dst, ReplyHeader{Xid: XidWatch, Zxid: zxid}, &WatcherEvent{Type: typ, State: StateSyncConnected, Path: path})
}

// DecodeConnectRequest decodes the first frame body of a connection.
func DecodeConnectRequest(payload []byte) (*ConnectRequest, error) {
	r := Reader{b: payload, record: "ConnectRequest"}
	var req ConnectRequest
	req.Decode(&r)
	r.End()
	if r.err != nil {
		return nil, r.err
	}
	return &req, nil
}

// DecodeConnectResponse decodes the first frame body the server sends.
func DecodeConnectResponse(payload []byte) (*ConnectResponse, error) {
	r := Reader{b: payload, record: "ConnectResponse"}
	var resp ConnectResponse
	resp.Decode(&r)
	r.End()
	if r.err != nil {
		return nil, r.err
	}
	return &resp, nil
}

// NewRequestBody returns an empty body record for a request with opcode
// op, nil for opcodes without a body (ping, closeSession, whoAmI), and
// ok false for opcodes this codec does not know.
func NewRequestBody(op Op) (body Record, ok bool) {
	switch op {
	case OpCreate, OpCreate2, OpCreateContainer:
		return &CreateRequest{}, true
	case OpCreateTTL:
		return &CreateTTLRequest{}, true
	case OpDelete:
		return &DeleteRequest{}, true
	case OpExists, OpGetData, OpGetChildren, OpGetChildren2:
		return &PathWatchRequest{}, true
	case OpSetData:
		return &SetDataRequest{}, true
	case OpGetACL, OpSync, OpGetEphemerals, OpGetAllChildrenNumber:
		return &PathRequest{}, true
	case OpSetACL:
		return &SetACLRequest{}, true
	case OpCheck:
		return &CheckVersionRequest{}, true
	case OpReconfig:
		return &ReconfigRequest{}, true
	case OpMulti, OpMultiRead:
		return &MultiRequest{}, true
	case OpCheckWatches, OpRemoveWatches:
		return &WatchesRequest{}, true
	case OpAddWatch:
		return &AddWatchRequest{}, true
	case OpAuth:
		return &AuthPacket{}, true
	case OpSetWatches:
		return &SetWatches{}, true
	case OpSetWatches2:
		return &SetWatches{Has2: true}, true
	case OpPing, OpCloseSession, OpWhoAmI:
		return nil, true
	}
	return nil, false
}

// DecodeRequest decodes a request frame body: the header and the body
// record its opcode calls for (see NewRequestBody). For an opcode it does
// not know it returns the header, a nil body and an error wrapping
// ErrUnknownOp; for malformed input, a *DecodeError.
func DecodeRequest(payload []byte) (RequestHeader, Record, error) {
	r := Reader{b: payload, record: "RequestHeader"}
	var h RequestHeader
	h.Decode(&r)
	if r.err != nil {
		return h, nil, r.err
	}
	body, ok := NewRequestBody(h.Type)
	if !ok {
		return h, nil, fmt.Errorf("%w %d (xid %d)", ErrUnknownOp, int32(h.Type), h.Xid)
	}
	if body != nil {
		r.record = RecordName(body)
		body.Decode(&r)
	}
	r.End()
	if r.err != nil {
		return h, nil, r.err
	}
	return h, body, nil
}

// NewReplyBody returns an empty body record for the successful reply to a
// request with opcode op (nil for header-only replies), and ok false for
// opcodes this codec does not know.
func NewReplyBody(op Op) (body Record, ok bool) {
	switch op {
	case OpCreate:
		return &CreateResponse{}, true
	case OpCreate2, OpCreateContainer, OpCreateTTL:
		return &Create2Response{}, true
	case OpExists, OpSetData, OpSetACL, OpCheck:
		return &StatResponse{}, true
	case OpGetData, OpReconfig:
		return &GetDataResponse{}, true
	case OpGetACL:
		return &GetACLResponse{}, true
	case OpGetChildren:
		return &GetChildrenResponse{}, true
	case OpGetChildren2:
		return &GetChildren2Response{}, true
	case OpSync:
		return &PathRequest{}, true
	case OpMulti, OpMultiRead:
		return &MultiResponse{}, true
	case OpGetEphemerals:
		return &GetEphemeralsResponse{}, true
	case OpGetAllChildrenNumber:
		return &GetAllChildrenNumberResponse{}, true
	case OpAddWatch:
		return &ErrorResponse{}, true
	case OpWhoAmI:
		return &WhoAmIResponse{}, true
	case OpDelete, OpPing, OpCheckWatches, OpRemoveWatches, OpAuth, OpSetWatches, OpSetWatches2, OpCloseSession:
		return nil, true
	}
	return nil, false
}

// DecodeReply decodes a reply frame body (what a client reads). op is the
// opcode of the request with the same xid; it is ignored for notifications
// (xid XidWatch, body *WatcherEvent) and pings (XidPing, no body). A reply
// whose Err is not ZOK has no body, notifications included (as AppendReply
// writes them).
func DecodeReply(payload []byte, op Op) (ReplyHeader, Record, error) {
	r := Reader{b: payload, record: "ReplyHeader"}
	var h ReplyHeader
	h.Decode(&r)
	if r.err != nil {
		return h, nil, r.err
	}
	var body Record
	switch {
	case h.Xid == XidPing || h.Err != ZOK:
	case h.Xid == XidWatch:
		body = &WatcherEvent{}
	default:
		var ok bool
		if body, ok = NewReplyBody(op); !ok {
			return h, nil, fmt.Errorf("%w %d (xid %d)", ErrUnknownOp, int32(op), h.Xid)
		}
	}
	if body != nil {
		r.record = RecordName(body)
		body.Decode(&r)
	}
	r.End()
	if r.err != nil {
		return h, nil, r.err
	}
	return h, body, nil
}

// RecordName names a record type for messages ("CreateRequest").
func RecordName(rec Record) string {
	switch rec.(type) {
	case *CreateRequest:
		return "CreateRequest"
	case *CreateTTLRequest:
		return "CreateTTLRequest"
	case *DeleteRequest:
		return "DeleteRequest"
	case *PathWatchRequest:
		return "PathWatchRequest"
	case *SetDataRequest:
		return "SetDataRequest"
	case *PathRequest:
		return "PathRequest"
	case *SetACLRequest:
		return "SetACLRequest"
	case *CheckVersionRequest:
		return "CheckVersionRequest"
	case *ReconfigRequest:
		return "ReconfigRequest"
	case *MultiRequest:
		return "MultiRequest"
	case *WatchesRequest:
		return "WatchesRequest"
	case *AddWatchRequest:
		return "AddWatchRequest"
	case *AuthPacket:
		return "AuthPacket"
	case *SetWatches:
		return "SetWatches"
	case *WatcherEvent:
		return "WatcherEvent"
	case *CreateResponse:
		return "CreateResponse"
	case *Create2Response:
		return "Create2Response"
	case *StatResponse:
		return "StatResponse"
	case *GetDataResponse:
		return "GetDataResponse"
	case *GetACLResponse:
		return "GetACLResponse"
	case *GetChildrenResponse:
		return "GetChildrenResponse"
	case *GetChildren2Response:
		return "GetChildren2Response"
	case *MultiResponse:
		return "MultiResponse"
	case *GetEphemeralsResponse:
		return "GetEphemeralsResponse"
	case *GetAllChildrenNumberResponse:
		return "GetAllChildrenNumberResponse"
	case *ErrorResponse:
		return "ErrorResponse"
	case *WhoAmIResponse:
		return "WhoAmIResponse"
	}
	return fmt.Sprintf("%T", rec)
}
