package server

import (
	"net"
	"testing"
	"time"

	"coordlab/engines/zab/jute"
)

// TestRequestsBehindConnectRequest: a client may send requests right
// behind its ConnectRequest, before the answer (Java's Netty client socket
// does, so zkCli over TLS did hang): they are answered, in order, once the
// session is set up, for a new session and for a reconnect.
func TestRequestsBehindConnectRequest(t *testing.T) {
	s := waitLeader(t, startInProcess(t, 1, nil))
	addr := s.ClientAddr()
	pipelined := func(req *jute.ConnectRequest) (*jute.ConnectResponse, []jute.ReplyHeader) {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(15 * time.Second))
		b := jute.AppendFrame(nil, req)
		b = jute.AppendRequest(b, jute.RequestHeader{Xid: 1, Type: jute.OpCreate}, &jute.CreateRequest{Path: "/early", Data: []byte("x"), ACL: jute.OpenACLUnsafe()})
		b = jute.AppendRequest(b, jute.RequestHeader{Xid: 2, Type: jute.OpGetData}, &jute.PathWatchRequest{Path: "/early"})
		b = jute.AppendRequest(b, jute.RequestHeader{Xid: 3, Type: jute.OpExists}, &jute.PathWatchRequest{Path: "/"})
		if _, err := c.Write(b); err != nil { // one write: the requests trail the ConnectRequest
			t.Fatal(err)
		}
		body, err := jute.ReadFrame(c, nil, 0)
		if err != nil {
			t.Fatalf("connect answer: %v", err)
		}
		resp, err := jute.DecodeConnectResponse(body)
		if err != nil || resp.SessionID == 0 {
			t.Fatalf("connect: %+v %v", resp, err)
		}
		var hdrs []jute.ReplyHeader
		for _, op := range []jute.Op{jute.OpCreate, jute.OpGetData, jute.OpExists} {
			body, err := jute.ReadFrame(c, nil, 0)
			if err != nil {
				t.Fatalf("reply to the requests sent behind the ConnectRequest: %v (got %d of 3)", err, len(hdrs))
			}
			h, _, err := jute.DecodeReply(body, op)
			if err != nil {
				t.Fatal(err)
			}
			hdrs = append(hdrs, h)
		}
		return resp, hdrs
	}
	first, hdrs := pipelined(&jute.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)})
	if hdrs[0].Xid != 1 || hdrs[0].Err != jute.ZOK || hdrs[1].Xid != 2 || hdrs[1].Err != jute.ZOK || hdrs[2].Xid != 3 || hdrs[2].Err != jute.ZOK {
		t.Fatalf("new session: replies %+v, want xids 1, 2, 3 all ZOK", hdrs)
	}
	// A reconnect of that session: create now fails with NODEEXISTS.
	_, hdrs = pipelined(&jute.ConnectRequest{TimeOut: 4000, SessionID: first.SessionID, Passwd: first.Passwd, LastZxidSeen: 1})
	if hdrs[0].Xid != 1 || hdrs[0].Err != jute.ZNODEEXISTS || hdrs[1].Err != jute.ZOK || hdrs[2].Xid != 3 {
		t.Fatalf("reconnect: replies %+v, want NODEEXISTS then ZOK", hdrs)
	}
}
