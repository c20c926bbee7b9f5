package server

import (
	"bytes"
	"os"
	"path/filepath"
	"time"

	"coordlab/engines/zab"
	"coordlab/engines/zab/jute"
	"coordlab/engines/zab/znode"
)

// Read-only service after a failed disk write (see the package doc, "Disk
// full"). The loop enters it when persisting a Ready fails: the core is left
// frozen with that Ready un-advanced (it is never ticked, stepped or asked
// for another Ready, so nothing it says reaches a peer and it counts no
// ACK), the txn log is rolled back to its last fsync, and the member answers
// reads from its tree. Once a probe write succeeds the member rebuilds its
// core from disk, as a restart would, and rejoins the ensemble through an
// election.

const (
	// diskProbeInterval is how often a read-only member tries the disk.
	diskProbeInterval = time.Second
	// diskProbeBytes is written and fsynced by a probe: room for a few
	// batches of txns, not just one byte.
	diskProbeBytes = 1 << 20
)

// enterReadOnly stops the member taking part in the quorum after err, a
// failed disk write.
func (s *Server) enterReadOnly(err error) {
	st := &s.st
	now := time.Now()
	st.diskErr = err
	st.readOnlyAt = now
	st.diskProbeAt = now.Add(diskProbeInterval)
	s.logger.Error("cannot write to disk: this member leaves the quorum and serves reads only; "+
		"writes are refused with NOTREADONLY until the disk takes writes again. "+
		"Free space in dataDir/dataLogDir; the member retries every second and rejoins by itself",
		"dataDir", s.cfg.DataDir, "dataLogDir", s.cfg.LogDir(), "err", err)
	if rerr := s.txnLog.Rollback(); rerr != nil {
		s.logger.Error("rolling back the txn log failed; retrying with the disk probe", "err", rerr)
	}
	if st.soft.State == zab.StateLeading {
		s.tree.ResetPending()
	}
	st.backlog = nil
	st.touched = map[int64]struct{}{}
	// Requests waiting on the quorum may or may not be committed by the
	// others: their clients see the connection drop (an unknown outcome),
	// never an answer.
	for _, ls := range st.sessions {
		if ls.conn == nil {
			continue
		}
		for _, op := range ls.queue {
			if (op.write || op.sync) && !op.done {
				ls.conn.close()
				break
			}
		}
	}
	for _, cc := range st.connecting {
		cc.close()
	}
	for _, rv := range st.revalidating {
		rv.cc.close()
	}
	st.connecting = map[int64]*clientConn{}
	st.revalidating = map[zab.RequestID]revalidation{}
	st.syncs = map[zab.RequestID]*pendingOp{}
	s.publishStatus()
}

// readOnlyTick runs instead of onTick while read-only: it closes the
// connections whose sessions the leader may have expired meanwhile and
// probes the disk.
func (s *Server) readOnlyTick() {
	st := &s.st
	st.ticks++
	now := time.Now()
	if len(s.cfg.Servers) > 1 {
		// This member forwards no touches now, so the leader expires its
		// clients' sessions after their timeout: let them go to a member
		// that can tell them, before that can happen.
		for _, ls := range st.sessions {
			if ls.conn != nil && !ls.readOnly && now.Sub(st.readOnlyAt) > time.Duration(ls.timeout)*time.Millisecond/2 {
				ls.conn.close()
			}
		}
	}
	if !now.Before(st.diskProbeAt) {
		st.diskProbeAt = now.Add(diskProbeInterval)
		s.tryLeaveReadOnly()
	}
	if st.ticks%(ticksPerTickTime/2) == 0 {
		s.publishStatus()
	}
}

// tryLeaveReadOnly probes the disk and, if it takes writes, rebuilds the
// core from the durable state and rejoins.
func (s *Server) tryLeaveReadOnly() {
	st := &s.st
	dirs := []string{filepath.Join(s.cfg.LogDir(), logSubdir)}
	if s.cfg.DataDir != s.cfg.LogDir() {
		dirs = append(dirs, s.cfg.DataDir)
	}
	for _, d := range dirs {
		if err := probeDisk(d); err != nil {
			s.logger.Debug("disk still refuses writes", "dir", d, "err", err)
			return
		}
	}
	if err := s.txnLog.Rollback(); err != nil {
		s.logger.Warn("rolling back the txn log failed", "err", err)
		return
	}
	accepted, err := ReadEpochFile(s.cfg.DataDir, acceptedEpochFile)
	if err != nil {
		s.logger.Warn("reading the epoch files failed", "err", err)
		return
	}
	current, err := ReadEpochFile(s.cfg.DataDir, currentEpochFile)
	if err != nil {
		s.logger.Warn("reading the epoch files failed", "err", err)
		return
	}
	hard := zab.HardState{AcceptedEpoch: accepted, CurrentEpoch: current}
	node, err := s.newCore(hard, st.applied)
	if err != nil {
		s.logger.Error("rebuilding the core from disk failed; staying read-only", "err", err)
		return
	}
	s.logger.Info("the disk takes writes again; rejoining the quorum", "dataDir", s.cfg.DataDir, "zxid", st.applied.String(),
		"read_only_for", time.Since(st.readOnlyAt).Round(time.Millisecond).String())
	s.node = node
	st.hard = hard
	st.diskErr = nil
	// The new core starts LOOKING: its first Ready closes the client
	// connections (onRoleChange), and they come back once it serves.
}

// probeDisk writes and fsyncs diskProbeBytes in dir, then removes them.
func probeDisk(dir string) error {
	f, err := os.CreateTemp(dir, "probe-*.tmp")
	if err != nil {
		return err
	}
	name := f.Name()
	defer os.Remove(name)
	_, err = f.Write(make([]byte, diskProbeBytes))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// onConnectReadOnly handles a connect while read-only, as ZooKeeper's
// read-only servers: a client that allows read-only mode (canBeReadOnly)
// gets a new session local to this member, which no leader knows or
// expires and which ends when the member rejoins; a standalone member also
// lets a known session back in (nothing else can expire it). Other
// connects are closed: a new ordinary session needs a txn, and an ensemble
// member sends clients to the members in the quorum.
func (s *Server) onConnectReadOnly(cc *clientConn, req *jute.ConnectRequest) {
	st := &s.st
	cc.hasReadOnly = req.HasReadOnly
	switch {
	case req.LastZxidSeen > int64(st.applied):
	case req.SessionID == 0 && req.ReadOnly:
		st.sessSeq++
		if st.sessSeq == -1<<63 {
			st.sessSeq++
		}
		id := st.sessSeq
		toMs := s.negotiateTimeout(req.TimeOut)
		cc.session = id
		st.sessions[id] = &localSession{id: id, timeout: toMs, conn: cc, readOnly: true}
		cc.send(jute.AppendFrame(nil, &jute.ConnectResponse{TimeOut: toMs, SessionID: id, Passwd: sessionPassword(id), ReadOnly: true, HasReadOnly: cc.hasReadOnly}), false)
		return
	case req.SessionID != 0 && len(s.cfg.Servers) <= 1:
		if !bytes.Equal(req.Passwd, sessionPassword(req.SessionID)) || !s.tree.HasSession(znode.SessionID(req.SessionID)) {
			s.refuseSession(cc)
			return
		}
		s.attachSession(cc, req)
		return
	}
	cc.logger.Debug("refusing client: read-only after a disk failure", "remote", cc.c.RemoteAddr().String(), "client_read_only", req.ReadOnly)
	cc.close()
}

// negotiateTimeout clamps a requested session timeout (ms) to the
// configured bounds.
func (s *Server) negotiateTimeout(reqMs int32) int32 {
	timeout := time.Duration(reqMs) * time.Millisecond
	timeout = max(timeout, s.cfg.MinSession())
	timeout = min(timeout, s.cfg.MaxSession())
	return int32(timeout.Milliseconds())
}

// readOnlyRefusal is the answer to a request that needs the quorum while
// read-only: ZooKeeper's read-only servers answer NOTREADONLY, which says
// the request was not carried out.
func readOnlyRefusal(op jute.Op) (jute.Code, bool) {
	if isWrite(op) || op == jute.OpSync {
		return jute.ZNOTREADONLY, true
	}
	return jute.ZOK, false
}

// readOnlyMode is what srvr shows while read-only (ZooKeeper's word).
const readOnlyMode = "read-only"
