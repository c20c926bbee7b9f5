package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"coordlab/engines/zab"
	"coordlab/engines/zab/jute"
	"coordlab/engines/zab/znode"
)

// Sessions: passwords, connect and reconnect, touches, and the leader's
// expiry of sessions, empty containers and TTL nodes.

// passwordSecret makes session passwords derivable on every member (like
// ZooKeeper's fixed "super secret"): a client reconnecting anywhere proves it
// holds its session's password without the password being replicated.
const passwordSecret = "coordlab-zab-session-secret"

func sessionPassword(id int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(id))
	h := sha256.Sum256(append([]byte(passwordSecret), b[:]...))
	return h[:16]
}

// onConnect negotiates a session for a new connection.
func (s *Server) onConnect(cc *clientConn, req *jute.ConnectRequest) {
	st := &s.st
	if st.diskErr != nil {
		s.onConnectReadOnly(cc, req)
		return
	}
	cc.hasReadOnly = req.HasReadOnly
	if !st.serving {
		cc.logger.Debug("refusing client: not serving", "remote", cc.c.RemoteAddr().String())
		cc.close()
		return
	}
	if req.LastZxidSeen > int64(st.applied) {
		// The client saw a newer state elsewhere; it must try another server.
		cc.logger.Info("refusing client that has seen a newer zxid", "remote", cc.c.RemoteAddr().String(),
			"client_zxid", fmt.Sprintf("%#x", req.LastZxidSeen), "zxid", st.applied.Hex())
		cc.close()
		return
	}
	timeout := time.Duration(req.TimeOut) * time.Millisecond
	timeout = max(timeout, s.cfg.MinSession())
	timeout = min(timeout, s.cfg.MaxSession())
	toMs := int32(timeout.Milliseconds())
	if req.SessionID == 0 {
		st.sessSeq++
		if st.sessSeq == -1<<63 {
			st.sessSeq++
		}
		id := st.sessSeq
		cc.connecting = true
		st.connecting[id] = cc
		st.sessions[id] = &localSession{id: id, timeout: toMs}
		cc.session = id
		if st.soft.State == zab.StateLeading {
			s.submitPrepared(&znode.Request{Op: jute.OpCreateSession, Session: znode.SessionID(id), Time: s.clock.Now().UnixMilli(), Timeout: toMs})
		} else {
			b := []byte{fwdCreateSession}
			b = binary.AppendVarint(b, id)
			b = binary.AppendVarint(b, int64(toMs))
			if err := s.node.Forward(b); err != nil {
				cc.close()
			}
		}
		return
	}
	if !bytes.Equal(req.Passwd, sessionPassword(req.SessionID)) {
		s.refuseSession(cc)
		return
	}
	if !s.tree.HasSession(znode.SessionID(req.SessionID)) {
		// This member may not have applied the session's creation yet (the
		// client just got it from another member): revalidate through the
		// leader with a sync, as ZooKeeper's REVALIDATE, and decide after.
		st.nextReq++
		id := st.nextReq
		if err := s.node.Sync(id); err != nil {
			cc.close()
			return
		}
		cc.connecting = true
		st.revalidating[id] = revalidation{cc: cc, req: req}
		return
	}
	s.attachSession(cc, req)
}

// refuseSession answers a reconnect for an unknown or expired session, or
// with a wrong password, as ZooKeeper does: session id 0, then close.
func (s *Server) refuseSession(cc *clientConn) {
	cc.session = 0
	cc.closing = true
	cc.early = nil
	cc.send(jute.AppendFrame(nil, &jute.ConnectResponse{Passwd: make([]byte, 16), HasReadOnly: cc.hasReadOnly}), true)
}

// revalidation is a reconnect waiting for its sync before the session
// check.
type revalidation struct {
	cc  *clientConn
	req *jute.ConnectRequest
}

// onRevalidated finishes a reconnect once the sync completed.
func (s *Server) onRevalidated(rv revalidation, err error) {
	st := &s.st
	cc := rv.cc
	cc.connecting = false
	if _, open := st.conns[cc]; !open {
		return
	}
	if err != nil {
		cc.close()
		return
	}
	if !s.tree.HasSession(znode.SessionID(rv.req.SessionID)) {
		s.refuseSession(cc)
		return
	}
	s.attachSession(cc, rv.req)
}

// attachSession binds a reconnecting client to its live session.
func (s *Server) attachSession(cc *clientConn, req *jute.ConnectRequest) {
	st := &s.st
	timeout := time.Duration(req.TimeOut) * time.Millisecond
	timeout = max(timeout, s.cfg.MinSession())
	timeout = min(timeout, s.cfg.MaxSession())
	toMs := int32(timeout.Milliseconds())
	// Reattach: a connection of this session already here is replaced.
	if old := st.sessions[req.SessionID]; old != nil && old.conn != nil && old.conn != cc {
		old.conn.close()
	}
	cc.session = req.SessionID
	st.sessions[req.SessionID] = &localSession{id: req.SessionID, timeout: toMs, conn: cc}
	s.touch(req.SessionID)
	cc.send(jute.AppendFrame(nil, &jute.ConnectResponse{TimeOut: toMs, SessionID: req.SessionID, Passwd: sessionPassword(req.SessionID), HasReadOnly: cc.hasReadOnly}), false)
	s.replayEarly(cc)
}

// replayEarly starts the requests a client sent behind its ConnectRequest
// without waiting for the answer (Java's Netty client does), now that the
// session is attached: ZooKeeper stops reading such a connection until
// the session is set up, so they are served, in order, after it.
func (s *Server) replayEarly(cc *clientConn) {
	early := cc.early
	cc.early = nil
	for _, ev := range early {
		s.onRequest(ev)
	}
}

// touch records client activity on a session: the leader moves its
// deadline; a follower collects it for the next touch batch.
func (s *Server) touch(id int64) {
	st := &s.st
	switch st.soft.State {
	case zab.StateLeading:
		if ts := st.tracker[id]; ts != nil && !ts.closing {
			ts.deadline = s.clock.Real().Add(ts.timeout)
		}
	case zab.StateFollowing:
		st.touched[id] = struct{}{}
	}
}

// expireSessions proposes a CloseSession for every session whose deadline
// passed (leader only).
func (s *Server) expireSessions(now time.Time) {
	st := &s.st
	var expired []int64
	for id, ts := range st.tracker {
		if !ts.closing && now.After(ts.deadline) {
			expired = append(expired, id)
		}
	}
	slices.Sort(expired)
	for _, id := range expired {
		st.tracker[id].closing = true
		s.metrics.sessionsExpired.Inc()
		s.logger.Info("session expired", "session", fmt.Sprintf("%#x", id))
		s.submitPrepared(&znode.Request{Op: jute.OpCloseSession, Session: znode.SessionID(id), Time: now.UnixMilli()})
	}
}

// reapNodes deletes empty containers and expired TTL nodes (leader only).
func (s *Server) reapNodes(now time.Time) {
	paths := append(s.tree.ContainersToDelete(), s.tree.ExpiredTTLs(now.UnixMilli())...)
	for _, p := range paths {
		s.submitPrepared(&znode.Request{Op: jute.OpDeleteContainer, Body: &jute.PathRequest{Path: p}, Time: now.UnixMilli()})
	}
}
