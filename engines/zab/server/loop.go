package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"coordlab/engines/zab"
	"coordlab/engines/zab/jute"
	"coordlab/engines/zab/znode"
	"coordlab/engines/zab/zxid"
)

// loopState is everything the loop goroutine owns besides the core, the
// tree and the log.
type loopState struct {
	s       *Server
	members []Member

	soft    zab.SoftState
	hard    zab.HardState
	serving bool
	// serveWhenApplied: the role allows serving once applied >= catchUpTo.
	serveWhenApplied bool
	catchUpTo        zxid.Zxid

	applied     zxid.Zxid // last zxid applied to the tree
	snapZxid    zxid.Zxid // zxid of the newest snapshot
	sinceSnap   int       // txns applied since it
	snapRetryAt time.Time

	// diskErr is the failed disk write that put the member in read-only
	// service (see readonly.go); nil while it takes part in the quorum.
	diskErr     error
	readOnlyAt  time.Time
	diskProbeAt time.Time

	conns      map[*clientConn]struct{}
	byConnID   map[znode.ConnID]*clientConn
	sessions   map[int64]*localSession // sessions with a connection on this member
	connecting map[int64]*clientConn   // new sessions waiting for their CreateSession txn
	syncs      map[zab.RequestID]*pendingOp
	// reconnects of sessions this member does not know yet, waiting for a sync
	revalidating map[zab.RequestID]revalidation
	nextReq      zab.RequestID
	sessSeq      int64

	// leader only
	tracker map[int64]*trackedSession
	backlog [][]byte // prepared txns waiting for room among outstanding proposals
	// follower only: sessions touched since the last forwarded touch batch
	touched map[int64]struct{}

	ticks int64
	lat   latencyStats
	// proposal sizes for srvr (leader)
	propLast, propMin, propMax int
}

// localSession is a session whose client is connected to this member.
type localSession struct {
	id      int64
	timeout int32
	conn    *clientConn
	queue   []*pendingOp // requests in arrival order, answered in that order
	// readOnly: a session local to this member while it is read-only (see
	// onConnectReadOnly); no txn created it.
	readOnly bool
}

// pendingOp is one client request waiting its turn (or its commit).
type pendingOp struct {
	ev       clientEvent
	refused  jute.Code // answered at once with this error (read-only)
	write    bool      // waits for its txn to apply
	sync     bool      // waits for Ready.Syncs
	done     bool
	syncErr  error
	result   znode.Result
	resultOK bool
}

// trackedSession is the leader's expiry bookkeeping for one session.
type trackedSession struct {
	timeout  time.Duration
	deadline time.Time
	closing  bool
}

type latencyStats struct {
	n        int64
	sum      time.Duration
	min, max time.Duration
}

func (l *latencyStats) add(d time.Duration) {
	// Whole milliseconds, as ZooKeeper's clock: min, avg and max are then
	// over the same values, so min <= avg <= max (see millis).
	d = d.Truncate(time.Millisecond)
	if l.n == 0 || d < l.min {
		l.min = d
	}
	if d > l.max {
		l.max = d
	}
	l.n++
	l.sum += d
}

func (st *loopState) init(s *Server, members []Member) {
	st.s = s
	st.members = members
	st.conns = map[*clientConn]struct{}{}
	st.byConnID = map[znode.ConnID]*clientConn{}
	st.sessions = map[int64]*localSession{}
	st.connecting = map[int64]*clientConn{}
	st.syncs = map[zab.RequestID]*pendingOp{}
	st.revalidating = map[zab.RequestID]revalidation{}
	st.tracker = map[int64]*trackedSession{}
	st.touched = map[int64]struct{}{}
	// ZooKeeper's initial session id: (ms << 24) >>> 8 | myid << 56.
	st.sessSeq = int64(uint64(s.clock.Now().UnixMilli()<<24)>>8) | int64(s.cfg.ID)<<56
}

// loop is the one goroutine that owns the core, the tree, the log and the
// session table.
func (s *Server) loop() error {
	st := &s.st
	defer func() {
		for cc := range st.conns {
			cc.close()
		}
	}()
	tick := time.NewTicker(s.cfg.TickTime / ticksPerTickTime)
	defer tick.Stop()
	var inbox <-chan PeerEvent
	if s.transport != nil {
		inbox = s.transport.Inbox()
	}
	s.publishStatus()
	for {
		for s.node.HasReady() {
			if err := s.handleReady(s.node.Ready()); err != nil {
				return err
			}
		}
		s.flushBacklog()
		select {
		case <-s.stopCh:
			return nil
		case <-tick.C:
			s.onTick()
		case ev := <-inbox:
			s.onPeer(ev)
		case ev := <-s.clientEvents:
			s.onClient(ev)
		case f := <-s.loopCalls:
			f()
		}
		// Take whatever else is already waiting, so one Ready (one fsync)
		// covers as many requests and messages as possible.
	drain:
		for range 4096 {
			select {
			case ev := <-inbox:
				s.onPeer(ev)
			case ev := <-s.clientEvents:
				s.onClient(ev)
			default:
				break drain
			}
		}
	}
}

func (s *Server) onPeer(ev PeerEvent) {
	if s.st.diskErr != nil {
		return // read-only: the core is frozen (see readonly.go)
	}
	if ev.Down {
		s.peerDown(zab.ServerID(ev.From))
		return
	}
	if ev.Data == nil {
		return
	}
	m, err := zab.UnmarshalMessage(ev.Data)
	if err != nil {
		s.logger.Warn("dropping malformed peer message", "peer", ev.From, "err", err)
		return
	}
	if uint64(m.From) != ev.From {
		s.logger.Warn("dropping peer message with a forged sender", "peer", ev.From, "from", m.From)
		return
	}
	if err := s.node.Step(m); err != nil && !errors.Is(err, zab.ErrStepped) {
		s.logger.Warn("step failed", "peer", ev.From, "err", err)
	}
}

// peerDown reacts to a closed connection to peer. When it is the leader
// this member follows, the member gives up on it at once, as ZooKeeper's
// learner does when its leader socket closes, instead of waiting
// syncLimit ticks of silence: it ticks the core until the silence limit
// fires (the core has no other input for "connection lost"; ticks while
// following only advance the leader-silence and sync timers).
func (s *Server) peerDown(peer zab.ServerID) {
	limit := (max(s.cfg.InitLimit, s.cfg.SyncLimit) + 1) * ticksPerTickTime
	for range limit {
		st := s.node.Status()
		if st.State != zab.StateFollowing || st.Leader != peer {
			return
		}
		s.node.Tick()
	}
}

func (s *Server) send(m zab.Message) {
	if s.transport == nil {
		return
	}
	s.transport.Send(uint64(m.To), m.Marshal())
}

// handleReady carries out rd in the order zab.Ready documents.
func (s *Server) handleReady(rd zab.Ready) error {
	st := &s.st
	if rd.SoftState != nil {
		s.onRoleChange(*rd.SoftState)
	}
	hasSnap := false
	for _, m := range rd.EarlyMessages {
		hasSnap = hasSnap || m.Type == zab.MsgSnap
	}
	for _, m := range rd.Messages {
		hasSnap = hasSnap || m.Type == zab.MsgSnap
	}
	// Early messages (a leader's proposals) go out before the local fsync,
	// so followers write in parallel with the leader.
	if !hasSnap {
		for _, m := range rd.EarlyMessages {
			s.send(m)
		}
	}
	// Committed entries that were already durable before this Ready (logged
	// and fsynced by an earlier one) are applied, and their clients
	// answered, before this Ready's fsync: only entries logged by this Ready
	// must wait for it. This saves a leader one fsync of latency per write.
	committed := rd.Committed
	if rd.Snapshot == nil {
		durable := s.txnLog.LastZxid()
		if rd.Truncate {
			durable = min(durable, rd.TruncateTo)
		}
		i := 0
		for i < len(committed) && committed[i].Zxid <= durable {
			i++
		}
		if err := s.applyCommitted(committed[:i]); err != nil {
			return err
		}
		committed = committed[i:]
	}
	if err := s.persist(rd); err != nil {
		if errors.Is(err, ErrDiskWrite) {
			// Nothing of rd that vouches for the failed write goes out:
			// no ACK, no answer to a client, no Advance.
			s.enterReadOnly(err)
			return nil
		}
		return err
	}
	if err := s.applyCommitted(committed); err != nil {
		return err
	}
	s.maybeStartServing()
	if hasSnap {
		var snap []byte
		for _, ms := range [][]zab.Message{rd.EarlyMessages, rd.Messages} {
			for _, m := range ms {
				if m.Type == zab.MsgSnap {
					if m.Zxid != st.applied {
						panic(fmt.Sprintf("zab server: MsgSnap at %s but the tree is at %s", m.Zxid, st.applied))
					}
					if snap == nil {
						var b bytes.Buffer
						if err := s.tree.WriteSnapshot(&b); err != nil {
							return fmt.Errorf("zab: serialize tree for SNAP: %w", err)
						}
						snap = b.Bytes()
					}
					m.Data = snap
				}
				s.send(m)
			}
		}
	} else {
		for _, m := range rd.Messages {
			s.send(m)
		}
	}
	for _, r := range rd.Syncs {
		if rv, ok := st.revalidating[r.ID]; ok {
			delete(st.revalidating, r.ID)
			s.onRevalidated(rv, r.Err)
			continue
		}
		op := st.syncs[r.ID]
		delete(st.syncs, r.ID)
		if op == nil {
			continue
		}
		op.done, op.syncErr = true, r.Err
		if ls := st.sessions[op.ev.conn.session]; ls != nil && ls.conn == op.ev.conn {
			s.drainSession(ls)
		}
	}
	for _, r := range rd.Requests {
		s.onForwarded(r)
	}
	s.node.Advance(rd)
	return nil
}

// persist carries out step 2 of rd: snapshot, truncate, append, fsync, epochs.
func (s *Server) persist(rd zab.Ready) error {
	st := &s.st
	if !rd.MustSync() {
		return nil
	}
	start := time.Now()
	if rd.Snapshot != nil {
		t, err := znode.ReadSnapshot(bytes.NewReader(rd.Snapshot.Data))
		if err != nil {
			return fmt.Errorf("zab: install snapshot %s from leader: %w", rd.Snapshot.Zxid, err)
		}
		// The snapshot first, then drop the log: a crash in between leaves
		// the new snapshot and log entries the core truncates or ignores;
		// the other order would leave an older snapshot and no log, losing
		// txns this member had acknowledged.
		if _, err := WriteSnapshot(s.cfg.DataDir, rd.Snapshot.Zxid, func(w io.Writer) error {
			_, err := w.Write(rd.Snapshot.Data)
			return err
		}); err != nil {
			return diskErr(err)
		}
		if err := s.txnLog.TruncateAfter(0); err != nil {
			return diskErr(err)
		}
		// SNAP happens in the sync phase, when no client is connected, so
		// no watch is lost with the old tree.
		s.tree = t
		s.setupTree()
		st.applied = rd.Snapshot.Zxid
		st.snapZxid = st.applied
		st.sinceSnap = 0
		s.metrics.snapshots.Inc()
		s.logger.Info("installed snapshot from leader", "zxid", rd.Snapshot.Zxid.String())
	}
	if rd.Truncate {
		if rd.TruncateTo < st.snapZxid {
			return fmt.Errorf("%w: truncate to %s, snapshot at %s", ErrTruncateBelowSnapshot, rd.TruncateTo, st.snapZxid)
		}
		if err := s.txnLog.TruncateAfter(rd.TruncateTo); err != nil {
			return diskErr(err)
		}
		s.logger.Info("truncated txn log", "zxid", rd.TruncateTo.String())
	}
	if len(rd.Entries) > 0 {
		for _, e := range rd.Entries {
			if last := s.txnLog.LastZxid(); e.Zxid <= last {
				return fmt.Errorf("zab: core asked to append %s at or below the log's last %s without a truncate", e.Zxid, last)
			}
			if err := s.txnLog.Append(LogRecord{Zxid: e.Zxid, Data: e.Data}); err != nil {
				return diskErr(err)
			}
		}
		if err := s.txnLog.Sync(); err != nil {
			return diskErr(err)
		}
		s.metrics.fsyncs.Inc()
		s.metrics.batchTxns.Observe(float64(len(rd.Entries)))
	}
	if h := rd.HardState; h != nil {
		// acceptedEpoch first: a crash between the two files keeps
		// acceptedEpoch >= currentEpoch.
		if h.AcceptedEpoch != st.hard.AcceptedEpoch {
			if err := WriteEpochFile(s.cfg.DataDir, acceptedEpochFile, h.AcceptedEpoch); err != nil {
				return diskErr(err)
			}
		}
		if h.CurrentEpoch != st.hard.CurrentEpoch {
			if err := WriteEpochFile(s.cfg.DataDir, currentEpochFile, h.CurrentEpoch); err != nil {
				return diskErr(err)
			}
		}
		st.hard = *h
	}
	s.metrics.fsyncSeconds.Observe(time.Since(start).Seconds())
	return nil
}

// applyCommitted applies committed txns to the tree, fires watches, answers
// the clients connected here and takes a snapshot when due.
func (s *Server) applyCommitted(ents []zab.Entry) error {
	st := &s.st
	for _, e := range ents {
		if e.Zxid <= st.applied {
			continue // already in the snapshot we loaded
		}
		txn, err := znode.UnmarshalTxn(e.Data)
		if err != nil {
			return fmt.Errorf("zab: committed txn %s: %w", e.Zxid, err)
		}
		res, events := s.tree.Apply(e.Zxid, txn)
		st.applied = e.Zxid
		st.sinceSnap++
		s.metrics.committed.Inc()
		for _, ev := range events {
			if cc := st.byConnID[ev.Conn]; cc != nil {
				cc.send(jute.AppendNotification(nil, int64(ev.Zxid), ev.Type, ev.Path), false)
			}
		}
		s.onApplied(e.Zxid, txn, res)
	}
	if st.sinceSnap >= s.cfg.SnapshotTxns && !time.Now().Before(st.snapRetryAt) {
		if err := s.takeSnapshot(); err != nil {
			// The log still holds every txn: a snapshot can wait.
			s.logger.Error("writing a snapshot failed; retrying in 10s", "dataDir", s.cfg.DataDir, "err", err)
			st.snapRetryAt = time.Now().Add(snapRetryDelay)
		}
	}
	return nil
}

// snapRetryDelay is how long a failed snapshot waits before the next try.
const snapRetryDelay = 10 * time.Second

// diskErr marks err as a failed disk write (see ErrDiskWrite).
func diskErr(err error) error { return fmt.Errorf("%w: %w", ErrDiskWrite, err) }

// takeSnapshot writes the tree at the applied zxid and drops log segments
// it covers.
func (s *Server) takeSnapshot() error {
	st := &s.st
	z := st.applied
	if _, err := WriteSnapshot(s.cfg.DataDir, z, func(w io.Writer) error { return s.tree.WriteSnapshot(w) }); err != nil {
		return err
	}
	st.snapZxid, st.sinceSnap = z, 0
	s.metrics.snapshots.Inc()
	// Keep the log from the oldest snapshot kept on: if the newest one is
	// found damaged at start, an older one plus the log rebuild the tree.
	snaps, err := listSnapshots(snapDir(s.cfg.DataDir))
	if err != nil {
		return err
	}
	if oldest := snaps[0].zxid; oldest > 0 {
		if err := s.txnLog.Compact(oldest - 1); err != nil {
			return err
		}
	}
	s.logger.Info("snapshot written", "zxid", z.String())
	return nil
}

// onRoleChange reacts to a new SoftState. Leaving the broadcast phase (or
// changing leader) closes every client connection, as ZooKeeper's server
// restarts its request pipeline: clients reconnect with their sessions.
func (s *Server) onRoleChange(ss zab.SoftState) {
	st := &s.st
	old := st.soft
	st.soft = ss
	s.metrics.leaderChanges.Inc()
	serving := ss.Phase == zab.PhaseBroadcast && (ss.State == zab.StateLeading || ss.State == zab.StateFollowing)
	if st.serving && (!serving || old.Leader != ss.Leader || old.Epoch != ss.Epoch) {
		s.logger.Info("leaving service; closing client connections", "state", ss.State.String(), "phase", ss.Phase.String())
		for cc := range st.conns {
			cc.close()
		}
		st.sessions = map[int64]*localSession{}
		st.connecting = map[int64]*clientConn{}
		st.syncs = map[zab.RequestID]*pendingOp{}
		st.revalidating = map[zab.RequestID]revalidation{}
		if old.State == zab.StateLeading {
			s.tree.ResetPending()
		}
		st.tracker = map[int64]*trackedSession{}
		st.backlog = nil
		st.touched = map[int64]struct{}{}
	}
	st.serving = false
	st.serveWhenApplied = serving
	if serving {
		// Serve only once the tree holds everything committed when the
		// epoch was established: a leader must not Prepare against a tree
		// that is still missing earlier epochs' txns.
		st.catchUpTo = s.node.Status().Committed
		s.maybeStartServing()
	} else {
		s.logger.Info("role", "state", ss.State.String(), "phase", ss.Phase.String(), "leader", ss.Leader, "epoch", ss.Epoch)
	}
	s.publishStatus()
}

// maybeStartServing opens the member to clients once it caught up.
func (s *Server) maybeStartServing() {
	st := &s.st
	if !st.serveWhenApplied || st.applied < st.catchUpTo {
		return
	}
	st.serveWhenApplied = false
	st.serving = true
	ss := st.soft
	s.logger.Info("serving clients", "state", ss.State.String(), "leader", ss.Leader, "epoch", ss.Epoch, "zxid", st.applied.String())
	if ss.State == zab.StateLeading {
		// The new leader tracks every session as if just touched.
		now := s.clock.Real()
		for _, sess := range s.tree.Sessions() {
			to := time.Duration(sess.Timeout) * time.Millisecond
			st.tracker[int64(sess.ID)] = &trackedSession{timeout: to, deadline: now.Add(to)}
		}
	}
	s.publishStatus()
}

// onTick drives the core's clock, session expiry (leader), touch forwarding
// (follower) and container/TTL reaping (leader).
func (s *Server) onTick() {
	st := &s.st
	if st.diskErr != nil {
		s.readOnlyTick()
		return
	}
	st.ticks++
	s.node.Tick()
	if st.serving {
		now := s.clock.Now()
		switch st.soft.State {
		case zab.StateLeading:
			s.expireSessions(now)
			// Reap containers and TTL nodes every reapTicks.
			if st.ticks%s.cfg.reapTicks() == 0 {
				s.reapNodes(now)
			}
		case zab.StateFollowing:
			if len(st.touched) > 0 {
				ids := make([]int64, 0, len(st.touched))
				for id := range st.touched {
					ids = append(ids, id)
				}
				sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
				if err := s.node.Forward(encodeTouch(ids)); err == nil {
					st.touched = map[int64]struct{}{}
				}
			}
		}
	}
	if st.ticks%(ticksPerTickTime/2) == 0 {
		s.publishStatus()
	}
}

// publishStatus refreshes the view 4lw, /health and /metrics read.
func (s *Server) publishStatus() {
	st := &s.st
	v := &statusView{
		serving:     st.serving,
		zxid:        st.applied,
		nodeCount:   s.tree.NodeCount(),
		watchCount:  s.tree.WatchCount(),
		ephemerals:  s.tree.EphemeralCount(),
		dataSize:    s.tree.ApproximateDataSize(),
		sessions:    len(s.tree.Sessions()),
		connections: len(st.conns),
		received:    s.metrics.clientReceived.Load(),
		sent:        s.metrics.clientSent.Load(),
	}
	v.latencyMin, v.latencyAvg, v.latencyMax = st.lat.millis()
	v.watchConns, v.watchPaths, v.watchTotal = s.tree.WatchSummary()
	if st.diskErr != nil {
		// Reads are answered, but the member is out of the quorum: not
		// serving for /health and the four-letter words, mode read-only.
		v.serving = false
		v.mode = readOnlyMode
	} else if st.serving {
		switch {
		case !s.cfg.Distributed():
			v.mode = "standalone"
		case st.soft.State == zab.StateLeading:
			v.mode = "leader"
		default:
			v.mode = "follower"
		}
	}
	for _, ls := range st.sessions {
		v.outstanding += len(ls.queue)
	}
	for cc := range st.conns {
		v.clients = append(v.clients, fmt.Sprintf("/%s[1](queued=%d,recved=%d,sent=%d)", cc.c.RemoteAddr().String(), cc.queued.Load(), cc.received.Load(), cc.sent.Load()))
	}
	sort.Strings(v.clients)
	if st.soft.State == zab.StateLeading {
		stat := s.node.Status()
		v.outstanding += stat.Outstanding
		v.lastProposal, v.minProposal, v.maxProposal = st.propLast, st.propMin, st.propMax
		for _, m := range s.st.members {
			if m.ID != s.cfg.ID {
				v.learners++
				if s.transport != nil && s.transport.Connected(m.ID) {
					v.synced++
				}
			}
		}
	}
	v.pendingSyncs = len(st.syncs)
	s.statusPtr.Store(v)
}
