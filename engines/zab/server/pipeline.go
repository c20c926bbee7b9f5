package server

import (
	"errors"
	"fmt"
	"time"

	"coordlab/engines/zab"
	"coordlab/engines/zab/jute"
	"coordlab/engines/zab/znode"
)

// The request pipeline: client events in, writes prepared and proposed (or
// forwarded), applied txns matched to their requests, each session's
// requests answered in order.

// isWrite reports whether op goes through Prepare and the log.
func isWrite(op jute.Op) bool {
	switch op {
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL, jute.OpDelete,
		jute.OpSetData, jute.OpSetACL, jute.OpCheck, jute.OpMulti, jute.OpCloseSession, jute.OpReconfig:
		return true
	}
	return false
}

// onClient handles one event from a client connection.
func (s *Server) onClient(ev clientEvent) {
	st := &s.st
	cc := ev.conn
	switch {
	case ev.gone:
		s.forgetConn(cc)
	case ev.connect != nil:
		st.conns[cc] = struct{}{}
		st.byConnID[znode.ConnID(cc.id)] = cc
		s.onConnect(cc, ev.connect)
	default:
		s.onRequest(ev)
	}
}

func (s *Server) forgetConn(cc *clientConn) {
	st := &s.st
	if _, ok := st.conns[cc]; !ok {
		return
	}
	delete(st.conns, cc)
	delete(st.byConnID, znode.ConnID(cc.id))
	s.tree.DropConn(znode.ConnID(cc.id))
	if ls := st.sessions[cc.session]; ls != nil && (ls.conn == cc || (ls.conn == nil && cc.connecting)) {
		delete(st.sessions, cc.session)
	}
	for id, c := range st.connecting {
		if c == cc {
			delete(st.connecting, id)
		}
	}
}

// onRequest queues a client request behind the session's earlier ones and
// starts it: writes are prepared (leader) or forwarded, syncs go to the core.
func (s *Server) onRequest(ev clientEvent) {
	st := &s.st
	cc := ev.conn
	if cc.connecting && !cc.closing {
		// Sent behind the ConnectRequest: held until the session is set
		// up (replayEarly), within the connection's queue bound.
		if len(cc.early) >= cc.maxQueue {
			cc.logger.Warn("client sent too many requests before its session was set up; closing connection", "remote", cc.c.RemoteAddr().String(), "queue", cc.maxQueue)
			cc.close()
			return
		}
		cc.early = append(cc.early, ev)
		return
	}
	if cc.session == 0 || cc.closing {
		return
	}
	ls := st.sessions[cc.session]
	if ls == nil || ls.conn != cc {
		return
	}
	s.touch(cc.session)
	op := &pendingOp{ev: ev}
	switch {
	case ev.badOp:
	case isWrite(ev.op):
		op.write = true
		if ev.op == jute.OpCloseSession {
			cc.closing = true
		}
	case ev.op == jute.OpSync:
		op.sync = true
	}
	if len(ls.queue) >= s.cfg.ClientQueueLen {
		cc.logger.Warn("client has too many outstanding requests; closing", "session", fmt.Sprintf("%#x", cc.session), "limit", s.cfg.ClientQueueLen)
		cc.close()
		return
	}
	if st.diskErr != nil {
		if code, refuse := readOnlyRefusal(ev.op); refuse {
			op.write, op.sync, op.refused = false, false, code
		}
	}
	ls.queue = append(ls.queue, op)
	switch {
	case op.write:
		if st.soft.State == zab.StateLeading {
			s.submitPrepared(&znode.Request{Op: ev.op, Body: ev.body, Session: znode.SessionID(cc.session), Cxid: ev.hdr.Xid,
				Time: s.clock.Now().UnixMilli(), Auth: cc.auth})
		} else {
			payload := jute.AppendRequest(nil, ev.hdr, ev.body)[4:]
			if err := s.node.Forward(encodeForwardWrite(cc.session, cc.auth, payload)); err != nil {
				cc.close()
				return
			}
		}
	case op.sync:
		st.nextReq++
		id := st.nextReq
		if err := s.node.Sync(id); err != nil {
			op.done, op.syncErr = true, err
		} else {
			st.syncs[id] = op
		}
	}
	s.drainSession(ls)
}

// submitPrepared prepares a write on the leader and proposes it (or queues
// it in the backlog when the core's outstanding window is full).
func (s *Server) submitPrepared(req *znode.Request) {
	txn, err := s.tree.Prepare(req)
	if err != nil {
		// Not a write, or a body that does not match the op: a bug in the
		// caller (requests are classified with isWrite and decoded by jute).
		s.logger.Error("prepare refused a request", "op", req.Op.String(), "err", err)
		return
	}
	b := txn.Marshal()
	s.propose(b)
}

func (s *Server) propose(b []byte) {
	st := &s.st
	if len(st.backlog) > 0 {
		st.backlog = append(st.backlog, b)
		return
	}
	_, err := s.node.Propose(b)
	switch {
	case err == nil:
		s.metrics.proposals.Inc()
		st.propLast = len(b)
		st.propMin = min(nonZero(st.propMin, len(b)), len(b))
		st.propMax = max(st.propMax, len(b))
	case errors.Is(err, zab.ErrProposalsFull):
		st.backlog = append(st.backlog, b)
	default:
		// No longer leading: what was prepared will not be applied.
		s.tree.ResetPending()
		st.backlog = nil
	}
}

func nonZero(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// flushBacklog proposes backlogged txns while the core has room.
func (s *Server) flushBacklog() {
	st := &s.st
	if st.diskErr != nil {
		return
	}
	for len(st.backlog) > 0 {
		_, err := s.node.Propose(st.backlog[0])
		if errors.Is(err, zab.ErrProposalsFull) {
			return
		}
		if err != nil {
			s.tree.ResetPending()
			st.backlog = nil
			return
		}
		s.metrics.proposals.Inc()
		st.backlog = st.backlog[1:]
	}
}

// onApplied answers the client of a txn that was just applied, if it is
// connected here, and keeps the session table and tracker current.
func (s *Server) onApplied(zxid zab.Zxid, txn *znode.Txn, res znode.Result) {
	st := &s.st
	id := int64(txn.Session)
	switch txn.Type {
	case znode.TxnCreateSession:
		if st.soft.State == zab.StateLeading {
			to := time.Duration(txn.Timeout) * time.Millisecond
			st.tracker[id] = &trackedSession{timeout: to, deadline: s.clock.Real().Add(to)}
		}
		cc := st.connecting[id]
		if cc == nil {
			return
		}
		delete(st.connecting, id)
		cc.connecting = false
		ls := st.sessions[id]
		ls.conn = cc
		now := time.Now()
		// ZooKeeper's createSession request has cxid 0; its latency runs
		// from the connection's start here.
		cc.stats.update("SESS", 0, int64(zxid), now.Sub(s.started).Milliseconds(), now.Sub(cc.established).Milliseconds())
		cc.send(jute.AppendFrame(nil, &jute.ConnectResponse{TimeOut: txn.Timeout, SessionID: id, Passwd: sessionPassword(id), HasReadOnly: cc.hasReadOnly}), false)
		s.replayEarly(cc)
		return
	case znode.TxnCloseSession:
		delete(st.tracker, id)
		ls := st.sessions[id]
		if ls == nil {
			return
		}
		delete(st.sessions, id)
		if ls.conn == nil {
			return
		}
		// Answer a client's own closeSession; an expiry just drops the
		// connection, and the client learns on reconnect.
		for _, op := range ls.queue {
			if op.write && !op.done && op.ev.op == jute.OpCloseSession && op.ev.hdr.Xid == txn.Cxid {
				s.reply(ls.conn, op, jute.ReplyHeader{Xid: op.ev.hdr.Xid, Zxid: int64(zxid)}, nil, true)
				return
			}
		}
		ls.conn.close()
		return
	}
	if id == 0 {
		return
	}
	ls := st.sessions[id]
	if ls == nil || ls.conn == nil {
		return
	}
	for _, op := range ls.queue {
		if op.write && !op.done {
			if op.ev.hdr.Xid != txn.Cxid {
				// Not this session's oldest outstanding write: the client
				// reconnected and its earlier requests were dropped.
				return
			}
			op.done, op.result, op.resultOK = true, res, true
			s.drainSession(ls)
			return
		}
	}
}

// drainSession answers the session's queued requests from the front while
// they are ready: a write once its txn applied, a sync once the core
// completed it, a read at once (it saw every earlier write of the session).
func (s *Server) drainSession(ls *localSession) {
	for len(ls.queue) > 0 {
		op := ls.queue[0]
		if (op.write || op.sync) && !op.done {
			return
		}
		ls.queue[0] = nil
		ls.queue = ls.queue[1:]
		s.answer(ls, op)
	}
}
