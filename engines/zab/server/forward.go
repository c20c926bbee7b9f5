package server

import (
	"encoding/binary"
	"errors"
	"fmt"

	"coordlab/engines/zab"
	"coordlab/engines/zab/jute"
	"coordlab/engines/zab/znode"
)

// Forwarding: a follower hands its clients' writes, new sessions and
// session touches to the leader through the core (Node.Forward); the leader
// decodes and prepares them (onForwarded).

// Forwarded requests (follower runtime -> leader runtime, through the core's
// MsgRequest) start with a kind byte. The format is private to zab servers.
const (
	fwdWrite         = 1 // varint session, uvarint #auth, (scheme, id)*, raw client payload (header + body)
	fwdTouch         = 2 // uvarint n, varint session * n
	fwdCreateSession = 3 // varint session, varint timeout ms
)

func encodeTouch(ids []int64) []byte {
	b := []byte{fwdTouch}
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		b = binary.AppendVarint(b, id)
	}
	return b
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func encodeForwardWrite(session int64, auth []jute.Id, payload []byte) []byte {
	b := []byte{fwdWrite}
	b = binary.AppendVarint(b, session)
	b = binary.AppendUvarint(b, uint64(len(auth)))
	for _, id := range auth {
		b = appendStr(b, id.Scheme)
		b = appendStr(b, id.ID)
	}
	return append(b, payload...)
}

// fwdReader decodes forwarded requests; the first error sticks.
type fwdReader struct {
	b   []byte
	err error
}

func (r *fwdReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errors.New("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *fwdReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *fwdReader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errors.New("string past end")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// onForwarded handles a request a follower forwarded to this leader.
func (s *Server) onForwarded(r zab.Request) {
	st := &s.st
	if st.soft.State != zab.StateLeading {
		return
	}
	f, err := decodeForward(r.Data)
	if err != nil {
		s.logger.Warn("dropping malformed forwarded request", "peer", r.From, "err", err)
		return
	}
	now := s.clock.Now().UnixMilli()
	switch f.kind {
	case fwdTouch:
		for _, id := range f.touches {
			s.touch(id)
		}
	case fwdCreateSession:
		s.submitPrepared(&znode.Request{Op: jute.OpCreateSession, Session: znode.SessionID(f.session), Time: now, Timeout: f.timeout})
	case fwdWrite:
		s.touch(f.session)
		s.submitPrepared(&znode.Request{Op: f.hdr.Type, Body: f.body, Session: znode.SessionID(f.session), Cxid: f.hdr.Xid, Time: now, Auth: f.auth})
	}
}

// forward is a decoded forwarded request.
type forward struct {
	kind    byte
	session int64
	timeout int32
	touches []int64
	auth    []jute.Id
	hdr     jute.RequestHeader
	body    jute.Record
}

// decodeForward decodes what encodeTouch, encodeForwardWrite and onConnect
// (createSession) produce. It never panics; bad input is an error.
func decodeForward(b []byte) (forward, error) {
	var f forward
	if len(b) == 0 {
		return f, errors.New("empty forwarded request")
	}
	f.kind = b[0]
	fr := &fwdReader{b: b[1:]}
	switch f.kind {
	case fwdTouch:
		n := fr.uvarint()
		if n > uint64(len(fr.b)) {
			return f, fmt.Errorf("touch count %d exceeds the %d bytes left", n, len(fr.b))
		}
		for i := uint64(0); i < n && fr.err == nil; i++ {
			f.touches = append(f.touches, fr.varint())
		}
	case fwdCreateSession:
		f.session = fr.varint()
		to := fr.varint()
		if fr.err == nil && (to <= 0 || to > 1<<31-1) {
			return f, fmt.Errorf("createSession timeout %d out of range", to)
		}
		f.timeout = int32(to)
	case fwdWrite:
		f.session = fr.varint()
		n := fr.uvarint()
		if n > uint64(len(fr.b)) {
			return f, fmt.Errorf("auth count %d exceeds the %d bytes left", n, len(fr.b))
		}
		for i := uint64(0); i < n && fr.err == nil; i++ {
			f.auth = append(f.auth, jute.Id{Scheme: fr.str(), ID: fr.str()})
		}
		if fr.err != nil {
			return f, fr.err
		}
		hdr, body, err := jute.DecodeRequest(fr.b)
		if err != nil {
			return f, fmt.Errorf("forwarded write: %w", err)
		}
		if !isWrite(hdr.Type) {
			return f, fmt.Errorf("forwarded %s is not a write", hdr.Type)
		}
		f.hdr, f.body = hdr, body
		return f, nil
	default:
		return f, fmt.Errorf("unknown kind %d", f.kind)
	}
	if fr.err == nil && len(fr.b) != 0 {
		fr.err = fmt.Errorf("%d trailing bytes", len(fr.b))
	}
	return f, fr.err
}
