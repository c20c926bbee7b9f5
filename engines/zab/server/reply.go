package server

import (
	"slices"
	"strings"
	"time"
	"unicode/utf16"

	"coordlab/engines/zab/jute"
	"coordlab/engines/zab/znode"
)

// Replies: the answer to each request, from an applied txn's result or a
// read of the local tree.

// answer builds and sends the reply to op.
func (s *Server) answer(ls *localSession, op *pendingOp) {
	st := &s.st
	cc := ls.conn
	ev := op.ev
	hdr := jute.ReplyHeader{Xid: ev.hdr.Xid, Zxid: int64(st.applied)}
	var body jute.Record
	switch {
	case op.refused != jute.ZOK:
		hdr.Err = op.refused
		s.reply(cc, op, hdr, nil, ev.op == jute.OpCloseSession)
		return
	case ev.badOp:
		hdr.Err = jute.ZUNIMPLEMENTED
	case op.write:
		body, hdr.Err = writeReply(ev, op.result)
	case op.sync:
		if op.syncErr != nil {
			// The leader was lost; the client sees the connection drop
			// (ZooKeeper's behaviour when its server leaves the quorum).
			cc.close()
			return
		}
		body = &jute.PathRequest{Path: ev.body.(*jute.PathRequest).Path}
	default:
		body, hdr.Err = s.read(cc, ev)
		if ev.op == jute.OpPing {
			hdr.Xid = jute.XidPing
		}
	}
	// A failed addauth closes the connection after the reply, as ZooKeeper.
	s.reply(cc, op, hdr, body, ev.op == jute.OpAuth && hdr.Err == jute.ZAUTHFAILED)
}

func (s *Server) reply(cc *clientConn, op *pendingOp, hdr jute.ReplyHeader, body jute.Record, closeAfter bool) {
	now := time.Now()
	cc.stats.update(lastOpName(op.ev.op), int64(op.ev.hdr.Xid), hdr.Zxid, now.Sub(s.started).Milliseconds(), now.Sub(op.ev.at).Milliseconds())
	if op.ev.op != jute.OpPing {
		d := time.Since(op.ev.at)
		s.st.lat.add(d)
		kind := "read"
		switch {
		case op.write:
			kind = "write"
		case op.sync:
			kind = "sync"
		}
		s.metrics.requestSeconds.WithLabelValues(kind).Observe(d.Seconds())
	}
	cc.send(jute.AppendReply(nil, hdr, body), closeAfter)
}

// writeReply turns an applied txn's result into the reply body for op.
func writeReply(ev clientEvent, res znode.Result) (jute.Record, jute.Code) {
	if ev.op == jute.OpMulti {
		req := ev.body.(*jute.MultiRequest)
		out := &jute.MultiResponse{}
		failed := false
		for _, r := range res.Multi {
			if r.Err != jute.ZOK {
				failed = true
			}
		}
		for i, r := range res.Multi {
			if failed {
				out.Results = append(out.Results, jute.MultiResult{Type: jute.OpError, Err: r.Err})
				continue
			}
			var t jute.Op
			if i < len(req.Ops) {
				t = znode.MultiOpType(req.Ops[i])
			}
			mr := jute.MultiResult{Type: t}
			switch t {
			case jute.OpCreate:
				mr.Body = &jute.CreateResponse{Path: r.Path}
			case jute.OpCreate2, jute.OpCreateTTL, jute.OpCreateContainer:
				mr.Type = jute.OpCreate2
				mr.Body = &jute.Create2Response{Path: r.Path, Stat: r.Stat}
			case jute.OpSetData:
				mr.Body = &jute.StatResponse{Stat: r.Stat}
			}
			out.Results = append(out.Results, mr)
		}
		if len(res.Multi) == 0 && res.Err != jute.ZOK {
			return nil, res.Err
		}
		return out, jute.ZOK
	}
	if res.Err != jute.ZOK {
		return nil, res.Err
	}
	switch ev.op {
	case jute.OpCreate:
		return &jute.CreateResponse{Path: res.Path}, jute.ZOK
	case jute.OpCreate2, jute.OpCreateTTL, jute.OpCreateContainer:
		return &jute.Create2Response{Path: res.Path, Stat: res.Stat}, jute.ZOK
	case jute.OpSetData, jute.OpSetACL, jute.OpCheck:
		return &jute.StatResponse{Stat: res.Stat}, jute.ZOK
	}
	return nil, jute.ZOK
}

// read serves a read (or session-local) request from the applied tree.
func (s *Server) read(cc *clientConn, ev clientEvent) (jute.Record, jute.Code) {
	t := s.tree
	conn := znode.ConnID(cc.id)
	watch := func(w bool) znode.ConnID {
		if w {
			return conn
		}
		return 0
	}
	switch ev.op {
	case jute.OpPing:
		return nil, jute.ZOK
	case jute.OpExists:
		r := ev.body.(*jute.PathWatchRequest)
		stat, err := t.Exists(r.Path, cc.auth, watch(r.Watch))
		return &jute.StatResponse{Stat: stat}, jute.CodeOf(err)
	case jute.OpGetData:
		r := ev.body.(*jute.PathWatchRequest)
		data, stat, err := t.GetData(r.Path, cc.auth, watch(r.Watch))
		return &jute.GetDataResponse{Data: data, Stat: stat}, jute.CodeOf(err)
	case jute.OpGetChildren:
		r := ev.body.(*jute.PathWatchRequest)
		kids, _, err := t.Children(r.Path, cc.auth, watch(r.Watch))
		return &jute.GetChildrenResponse{Children: kids}, jute.CodeOf(err)
	case jute.OpGetChildren2:
		r := ev.body.(*jute.PathWatchRequest)
		kids, stat, err := t.Children(r.Path, cc.auth, watch(r.Watch))
		return &jute.GetChildren2Response{Children: kids, Stat: stat}, jute.CodeOf(err)
	case jute.OpGetACL:
		r := ev.body.(*jute.PathRequest)
		acl, stat, err := t.GetACL(r.Path, cc.auth)
		return &jute.GetACLResponse{ACL: acl, Stat: stat}, jute.CodeOf(err)
	case jute.OpGetAllChildrenNumber:
		r := ev.body.(*jute.PathRequest)
		n, err := t.AllChildrenNumber(r.Path, cc.auth)
		return &jute.GetAllChildrenNumberResponse{TotalNumber: n}, jute.CodeOf(err)
	case jute.OpGetEphemerals:
		r := ev.body.(*jute.PathRequest)
		return &jute.GetEphemeralsResponse{Ephemerals: t.Ephemerals(znode.SessionID(cc.session), r.Path)}, jute.ZOK
	case jute.OpAddWatch:
		r := ev.body.(*jute.AddWatchRequest)
		return &jute.ErrorResponse{}, jute.CodeOf(t.AddWatch(conn, r.Path, r.Mode))
	case jute.OpCheckWatches, jute.OpRemoveWatches:
		r := ev.body.(*jute.WatchesRequest)
		return nil, jute.CodeOf(t.RemoveWatches(conn, r.Path, r.Type, ev.op == jute.OpRemoveWatches))
	case jute.OpSetWatches, jute.OpSetWatches2:
		for _, we := range t.SetWatches(conn, ev.body.(*jute.SetWatches)) {
			cc.send(jute.AppendNotification(nil, int64(we.Zxid), we.Type, we.Path), false)
		}
		return nil, jute.ZOK
	case jute.OpAuth:
		r := ev.body.(*jute.AuthPacket)
		if r.Scheme == "ip" && cc.ip != "" {
			// IPAuthenticationProvider: the connection's own address,
			// whatever the data says.
			cc.addAuth(jute.Id{Scheme: "ip", ID: cc.ip})
			return nil, jute.ZOK
		}
		if r.Scheme != "digest" {
			cc.closing = true
			return nil, jute.ZAUTHFAILED
		}
		id := znode.DigestID(string(r.Auth))
		if s.cfg.SuperDigest != "" && id.ID == s.cfg.SuperDigest {
			// DigestAuthenticationProvider.superDigest: the superuser
			// passes every ACL check.
			cc.addAuth(jute.Id{Scheme: "super"})
		}
		cc.addAuth(id)
		return nil, jute.ZOK
	case jute.OpWhoAmI:
		out := &jute.WhoAmIResponse{}
		for _, id := range javaSetOrder(cc.auth) {
			user := id.ID
			if id.Scheme == "digest" {
				// DigestAuthenticationProvider.getUserName: the user
				// before the first colon, not the digest.
				user, _, _ = strings.Cut(user, ":")
			}
			out.ClientInfo = append(out.ClientInfo, jute.ClientInfo{AuthScheme: id.Scheme, User: user})
		}
		return out, jute.ZOK
	case jute.OpMultiRead:
		return s.multiRead(cc, ev.body.(*jute.MultiRequest))
	}
	return nil, jute.ZUNIMPLEMENTED
}

func (s *Server) multiRead(cc *clientConn, req *jute.MultiRequest) (jute.Record, jute.Code) {
	out := &jute.MultiResponse{}
	for _, op := range req.Ops {
		r, ok := op.Body.(*jute.PathWatchRequest)
		if !ok {
			out.Results = append(out.Results, jute.MultiResult{Type: jute.OpError, Err: jute.ZBADARGUMENTS})
			continue
		}
		switch op.Type {
		case jute.OpGetData:
			data, stat, err := s.tree.GetData(r.Path, cc.auth, 0)
			if err != nil {
				out.Results = append(out.Results, jute.MultiResult{Type: jute.OpError, Err: jute.CodeOf(err)})
				continue
			}
			out.Results = append(out.Results, jute.MultiResult{Type: jute.OpGetData, Body: &jute.GetDataResponse{Data: data, Stat: stat}})
		case jute.OpGetChildren:
			kids, _, err := s.tree.Children(r.Path, cc.auth, 0)
			if err != nil {
				out.Results = append(out.Results, jute.MultiResult{Type: jute.OpError, Err: jute.CodeOf(err)})
				continue
			}
			out.Results = append(out.Results, jute.MultiResult{Type: jute.OpGetChildren, Body: &jute.GetChildrenResponse{Children: kids}})
		default:
			out.Results = append(out.Results, jute.MultiResult{Type: jute.OpError, Err: jute.ZBADARGUMENTS})
		}
	}
	return out, jute.ZOK
}

// javaSetOrder returns ids in the order ZooKeeper's whoami lists a
// connection's auth ids: the iteration order of the
// ConcurrentHashMap-backed set ServerCnxn keeps them in. That is bin order
// (the spread jute hash of the Id, masked by the table size: 16, doubled
// each time the set grows past three quarters of it) and insertion order
// within a bin; ids arrive one by one and are never removed, so no
// resize reorders a bin beyond what this computes for the small sets
// connections hold.
func javaSetOrder(ids []jute.Id) []jute.Id {
	n := 16
	for len(ids) > n*3/4 {
		n *= 2
	}
	type entry struct {
		bin int
		pos int
		id  jute.Id
	}
	es := make([]entry, len(ids))
	for i, id := range ids {
		h := 37*(37*17+javaStringHash(id.Scheme)) + javaStringHash(id.ID) // jute's Id.hashCode
		spread := (h ^ int32(uint32(h)>>16)) & 0x7fffffff
		es[i] = entry{bin: int(spread) & (n - 1), pos: i, id: id}
	}
	slices.SortStableFunc(es, func(a, b entry) int { return a.bin - b.bin })
	out := make([]jute.Id, len(es))
	for i, e := range es {
		out[i] = e.id
	}
	return out
}

// javaStringHash is Java's String.hashCode: s[0]*31^(n-1) + ... + s[n-1]
// over UTF-16 code units, in int32 arithmetic.
func javaStringHash(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}

// lastOpName is the name ZooKeeper 3.8's FinalRequestProcessor gives each
// request in cons (lop=).
func lastOpName(op jute.Op) string {
	switch op {
	case jute.OpPing:
		return "PING"
	case jute.OpCreateSession:
		return "SESS"
	case jute.OpMulti:
		return "MULT"
	case jute.OpMultiRead:
		return "MLTR"
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateTTL, jute.OpCreateContainer:
		return "CREA"
	case jute.OpDelete, jute.OpDeleteContainer:
		return "DELE"
	case jute.OpSetData:
		return "SETD"
	case jute.OpReconfig:
		return "RECO"
	case jute.OpSetACL:
		return "SETA"
	case jute.OpCloseSession:
		return "CLOS"
	case jute.OpSync:
		return "SYNC"
	case jute.OpCheck:
		return "CHEC"
	case jute.OpExists:
		return "EXIS"
	case jute.OpGetData:
		return "GETD"
	case jute.OpSetWatches, jute.OpSetWatches2:
		return "SETW"
	case jute.OpAddWatch:
		return "ADDW"
	case jute.OpGetACL:
		return "GETA"
	case jute.OpGetChildren, jute.OpGetChildren2:
		return "GETC"
	case jute.OpGetAllChildrenNumber:
		return "GETACN"
	case jute.OpCheckWatches:
		return "CHKW"
	case jute.OpRemoveWatches:
		return "REMW"
	case jute.OpWhoAmI:
		return "HOMI"
	case jute.OpGetEphemerals:
		return "GETE"
	}
	return "NA"
}
