package raftkv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	raftpb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Peer HTTP paths. /raft/stream is upgraded to a raw stream of frames
// (uint32 length + marshalled raftpb.Message) after the HTTP request line and
// headers, so one TCP connection per direction carries all raft traffic.
const (
	pathStream     = "/raft/stream"
	pathSnapshot   = "/raft/snapshot"
	pathMembers    = "/members"
	pathLeaseRenew = "/lease/renew"
	pathLeaseTTL   = "/lease/ttl"

	hdrFrom    = "X-Raftkv-From"
	hdrCluster = "X-Raftkv-Cluster-Id"
	hdrTo      = "X-Raftkv-To"

	maxFrameBytes  = 256 << 20
	flushBytes     = 256 << 10
	writeTimeout   = 5 * time.Second
	redialBackoff  = 100 * time.Millisecond
	snapshotPerMiB = 10 * time.Second
)

// transport moves raft messages between members. The raft loop calls send,
// which never blocks; one writer goroutine per peer owns that peer's
// connection. Received messages go to Server.recv.
type transport struct {
	s      *Server
	log    *slog.Logger
	dialer *net.Dialer
	client *http.Client

	mu    sync.Mutex
	peers map[uint64]*peer

	dropped atomic.Uint64
	lastLog atomic.Int64 // unix nanos of the last drop log line

	wg    sync.WaitGroup
	stopc chan struct{}
}

type peer struct {
	id    uint64
	urls  atomic.Pointer[[]string]
	q     chan []byte
	snapq chan *raftpb.Message
	stopc chan struct{}
}

func newTransport(s *Server, localIP net.IP) *transport {
	d := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	if localIP != nil {
		// Dial from our own address so partitions by source address (nft on
		// 127.0.0.x) cut our traffic too.
		d.LocalAddr = &net.TCPAddr{IP: localIP}
	}
	t := &transport{s: s, log: s.log.With("component", "transport"), dialer: d,
		peers: map[uint64]*peer{}, stopc: make(chan struct{})}
	t.client = &http.Client{Transport: &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}}
	return t
}

// localIPOf returns the IP of the first peer URL when it is a literal, non
// wildcard IP address, else nil (dial from whatever the kernel picks).
func localIPOf(peerURLs []string) net.IP {
	if len(peerURLs) == 0 {
		return nil
	}
	u, err := url.Parse(peerURLs[0])
	if err != nil {
		return nil
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || ip.IsUnspecified() {
		return nil
	}
	return ip
}

// setPeers makes the peer set equal to ms (minus self): new peers get a writer,
// gone peers are stopped, URL changes apply to the next dial.
func (t *transport) setPeers(ms []member, self uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.stopc:
		return
	default:
	}
	want := map[uint64]member{}
	for _, m := range ms {
		if m.ID != self {
			want[m.ID] = m
		}
	}
	for id, p := range t.peers {
		if _, ok := want[id]; !ok {
			close(p.stopc)
			delete(t.peers, id)
		}
	}
	for id, m := range want {
		urls := append([]string(nil), m.PeerURLs...)
		if p, ok := t.peers[id]; ok {
			p.urls.Store(&urls)
			continue
		}
		p := &peer{id: id, q: make(chan []byte, t.s.cfg.PeerSendQueue),
			snapq: make(chan *raftpb.Message, 1), stopc: make(chan struct{})}
		p.urls.Store(&urls)
		t.peers[id] = p
		t.wg.Add(2)
		go func() { defer t.wg.Done(); t.writeLoop(p) }()
		go func() { defer t.wg.Done(); t.snapLoop(p) }()
	}
}

func (t *transport) peer(id uint64) *peer {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.peers[id]
}

// send queues messages; it runs on the raft loop and never blocks. A full queue
// drops the message (raft retransmits) and reports the peer unreachable.
func (t *transport) send(msgs []*raftpb.Message) {
	for _, m := range msgs {
		p := t.peer(m.GetTo())
		if p == nil {
			continue
		}
		if m.GetType() == raftpb.MsgSnap {
			select {
			case p.snapq <- m:
			default:
				t.s.report(reportMsg{to: p.id, snap: true, snapStatus: raft.SnapshotFailure})
			}
			continue
		}
		b, err := proto.Marshal(m)
		if err != nil {
			panic(fmt.Sprintf("raftkv: marshal raft message %v: %v", m.GetType(), err))
		}
		select {
		case p.q <- b:
		default:
			t.dropped.Add(1)
			t.s.metrics.peerDropped.Inc()
			t.s.report(reportMsg{to: p.id})
			if now := time.Now().UnixNano(); now-t.lastLog.Load() > int64(time.Second) {
				t.lastLog.Store(now)
				t.log.Warn("peer send queue full, dropping messages", "peer", fmt.Sprintf("%x", p.id),
					"queue", cap(p.q), "dropped_total", t.dropped.Load())
			}
		}
	}
}

func (t *transport) stop() {
	t.mu.Lock()
	select {
	case <-t.stopc:
	default:
		close(t.stopc)
		for id, p := range t.peers {
			close(p.stopc)
			delete(t.peers, id)
		}
	}
	t.mu.Unlock()
	t.wg.Wait()
	t.client.CloseIdleConnections()
}

func (p *peer) url() string {
	u := *p.urls.Load()
	if len(u) == 0 {
		return ""
	}
	return u[0]
}

// writeLoop owns the outgoing stream to p.
func (t *transport) writeLoop(p *peer) {
	var conn net.Conn
	var bw *bufio.Writer
	closeConn := func() {
		if conn != nil {
			conn.Close()
			conn, bw = nil, nil
		}
	}
	defer closeConn()
	var hdr [4]byte
	for {
		var b []byte
		select {
		case b = <-p.q:
		case <-p.stopc:
			return
		}
		if conn == nil {
			c, err := t.dialStream(p)
			if err != nil {
				if errors.Is(err, ErrRemoved) {
					t.s.onRemovedByPeer()
					return
				}
				t.s.report(reportMsg{to: p.id})
				t.log.Debug("dial peer failed", "peer", fmt.Sprintf("%x", p.id), "err", err)
				select {
				case <-time.After(redialBackoff):
				case <-p.stopc:
					return
				}
				continue // b is dropped; raft retransmits
			}
			conn, bw = c, bufio.NewWriterSize(c, flushBytes)
		}
		_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		var err error
		yielded := false
		for {
			binary.LittleEndian.PutUint32(hdr[:], uint32(len(b)))
			if _, err = bw.Write(hdr[:]); err == nil {
				_, err = bw.Write(b)
			}
			if err != nil {
				break
			}
			select {
			case b = <-p.q:
				continue
			default:
			}
			if !yielded {
				// Let the loop finish its turn: one more message often follows
				// (a MsgApp after a heartbeat response), and one write costs
				// less than two.
				yielded = true
				runtime.Gosched()
				select {
				case b = <-p.q:
					continue
				default:
				}
			}
			break
		}
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			t.log.Debug("peer stream broken", "peer", fmt.Sprintf("%x", p.id), "err", err)
			t.s.report(reportMsg{to: p.id})
			closeConn()
		}
	}
}

// dialStream opens the raw stream: an HTTP request whose answer tells whether
// the peer accepts us, then frames.
func (t *transport) dialStream(p *peer) (net.Conn, error) {
	u, err := url.Parse(p.url())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := t.dialer.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	req := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\n%s: %x\r\n%s: %x\r\n%s: %x\r\n\r\n",
		pathStream, u.Host, hdrFrom, t.s.id, hdrCluster, t.s.members.clusterID(), hdrTo, p.id)
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	resp.Body.Close()
	_ = conn.SetDeadline(time.Time{})
	switch resp.StatusCode {
	case http.StatusOK:
		return conn, nil
	case http.StatusGone:
		conn.Close()
		return nil, ErrRemoved
	default:
		conn.Close()
		return nil, fmt.Errorf("peer %x refused stream: %s", p.id, resp.Status)
	}
}

// snapLoop sends MsgSnap to p with the store as payload, one at a time.
func (t *transport) snapLoop(p *peer) {
	for {
		select {
		case m := <-p.snapq:
			err := t.sendSnapshot(p, m)
			status := raft.SnapshotFinish
			if err != nil {
				status = raft.SnapshotFailure
				t.log.Warn("send snapshot failed", "peer", fmt.Sprintf("%x", p.id), "err", err)
			} else {
				t.log.Info("sent snapshot", "peer", fmt.Sprintf("%x", p.id), "index", m.GetSnapshot().GetMetadata().GetIndex())
			}
			t.s.report(reportMsg{to: p.id, snap: true, snapStatus: status})
		case <-p.stopc:
			return
		}
	}
}

func (t *transport) sendSnapshot(p *peer, m *raftpb.Message) error {
	var body bytes.Buffer
	mb, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	var hdr [4]byte
	binary.LittleEndian.PutUint32(hdr[:], uint32(len(mb)))
	body.Write(hdr[:])
	body.Write(mb)
	if _, err := t.s.writeStoreSnapshot(&body); err != nil {
		return fmt.Errorf("write store snapshot: %w", err)
	}
	timeout := 30*time.Second + time.Duration(body.Len()>>20)*snapshotPerMiB/10
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	go func() {
		select {
		case <-p.stopc:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url()+pathSnapshot, &body)
	if err != nil {
		return err
	}
	req.Header.Set(hdrFrom, fmt.Sprintf("%x", t.s.id))
	req.Header.Set(hdrCluster, fmt.Sprintf("%x", t.s.members.clusterID()))
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("peer answered %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// handler serves the peer endpoints.
func (t *transport) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(pathStream, t.serveStream)
	mux.HandleFunc(pathSnapshot, t.serveSnapshot)
	mux.HandleFunc(pathMembers, t.serveMembers)
	mux.HandleFunc(pathLeaseRenew, t.s.serveLeaseRenew)
	mux.HandleFunc(pathLeaseTTL, t.s.serveLeaseTTL)
	return mux
}

// checkPeer validates the sender's cluster and membership; it writes the error
// answer and returns false when the peer is refused.
func (t *transport) checkPeer(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	from, err1 := strconv.ParseUint(r.Header.Get(hdrFrom), 16, 64)
	cid, err2 := strconv.ParseUint(r.Header.Get(hdrCluster), 16, 64)
	if err1 != nil || err2 != nil {
		http.Error(w, "missing or bad "+hdrFrom+"/"+hdrCluster, http.StatusBadRequest)
		return 0, false
	}
	if cid != t.s.members.clusterID() {
		http.Error(w, fmt.Sprintf("cluster ID mismatch: ours %x, yours %x", t.s.members.clusterID(), cid), http.StatusPreconditionFailed)
		return 0, false
	}
	if t.s.members.isRemoved(from) {
		http.Error(w, "the member has been permanently removed from the cluster", http.StatusGone)
		return 0, false
	}
	return from, true
}

func (t *transport) serveStream(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	from, ok := t.checkPeer(w, r)
	if !ok {
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "stream needs HTTP/1.1", http.StatusHTTPVersionNotSupported)
		return
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"); err != nil {
		return
	}
	// Close the connection when the server stops, so the read below returns.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-t.stopc:
			conn.Close()
		case <-done:
		}
	}()
	err = t.readStream(bufio.NewReaderSize(rw.Reader, flushBytes), from, t.s.recv)
	if errors.Is(err, errBadPeerMessage) {
		t.log.Warn("closing stream from peer", "peer", fmt.Sprintf("%x", from), "err", err)
	}
}

// errBadPeerMessage marks a frame that is not a raft message this member may
// take from that peer; the stream is closed (the sender redials).
var errBadPeerMessage = errors.New("bad raft message from peer")

// readStream reads frames (uint32 little-endian length, then a marshalled
// raftpb.Message) sent by the peer from, until r fails or a frame is bad,
// and passes each message admit accepts to deliver. A message from an ID
// that is not (or no longer) a member is dropped, the stream kept: the
// membership here may lag the sender's.
func (t *transport) readStream(r io.Reader, from uint64, deliver func(*raftpb.Message)) error {
	var hdr [4]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return err
		}
		n := binary.LittleEndian.Uint32(hdr[:])
		if n > maxFrameBytes {
			return fmt.Errorf("%w: frame of %d bytes, limit %d", errBadPeerMessage, n, maxFrameBytes)
		}
		var err error
		if buf, err = readFrameBody(r, n, buf); err != nil {
			return err
		}
		m := &raftpb.Message{}
		if err := proto.Unmarshal(buf, m); err != nil {
			return fmt.Errorf("%w: %v", errBadPeerMessage, err)
		}
		switch err := t.admit(from, m, false); {
		case errors.Is(err, errNotMember):
			t.s.metrics.recvDropped.Inc()
			t.log.Debug("dropping raft message from a non-member", "peer", fmt.Sprintf("%x", from), "type", m.GetType().String())
		case err != nil:
			return err
		default:
			deliver(m)
		}
	}
}

// readFrameBody reads the n bytes of a frame into buf (reused when large
// enough). Past 1 MiB the buffer grows with the bytes that actually arrive,
// so a length prefix alone cannot make this member allocate 256 MiB.
func readFrameBody(r io.Reader, n uint32, buf []byte) ([]byte, error) {
	if int(n) <= cap(buf) || n <= 1<<20 {
		if int(n) > cap(buf) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		_, err := io.ReadFull(r, buf)
		return buf, err
	}
	var b bytes.Buffer
	if _, err := io.CopyN(&b, r, int64(n)); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return buf, err
	}
	return b.Bytes(), nil
}

var errNotMember = errors.New("sender is not a member")

// admit says whether m, received from the peer that named itself from (the
// X-Raftkv-From header, already checked against the cluster ID and the
// removed set), may reach raft: it must come from that peer, be addressed to
// this member, not be one of raft's local message types (raft would take
// those from the IDs of its own append/apply threads as if they were local),
// come as MsgSnap exactly when it arrived on the snapshot path (a MsgSnap on
// the stream would have no store file behind it), and come from a current
// member (errNotMember).
func (t *transport) admit(from uint64, m *raftpb.Message, snapshotPath bool) error {
	switch {
	case m.GetFrom() != from:
		return fmt.Errorf("%w: %v from %x on the connection of %x", errBadPeerMessage, m.GetType(), m.GetFrom(), from)
	case m.GetTo() != t.s.id:
		return fmt.Errorf("%w: %v addressed to %x, this member is %x", errBadPeerMessage, m.GetType(), m.GetTo(), t.s.id)
	case raft.IsLocalMsg(m.GetType()) || raft.IsLocalMsgTarget(from):
		return fmt.Errorf("%w: local message type %v from %x", errBadPeerMessage, m.GetType(), from)
	case (m.GetType() == raftpb.MsgSnap) != snapshotPath:
		return fmt.Errorf("%w: %v on the wrong path", errBadPeerMessage, m.GetType())
	}
	if _, ok := t.s.members.get(from); !ok {
		return fmt.Errorf("%w: %x", errNotMember, from)
	}
	return nil
}

func (t *transport) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	from, ok := t.checkPeer(w, r)
	if !ok {
		return
	}
	var hdr [4]byte
	if _, err := io.ReadFull(r.Body, hdr[:]); err != nil {
		http.Error(w, "short snapshot body", http.StatusBadRequest)
		return
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if n > maxFrameBytes {
		http.Error(w, "snapshot message too large", http.StatusBadRequest)
		return
	}
	mb, err := readFrameBody(r.Body, n, nil)
	if err != nil {
		http.Error(w, "short snapshot message", http.StatusBadRequest)
		return
	}
	m := &raftpb.Message{}
	if err := proto.Unmarshal(mb, m); err != nil {
		http.Error(w, "bad snapshot message: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := t.admit(from, m, true); err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, errNotMember) {
			code = http.StatusForbidden
		}
		http.Error(w, err.Error(), code)
		return
	}
	path := t.s.snapDBPath(m.GetSnapshot().GetMetadata().GetIndex())
	if err := saveStream(path, r.Body); err != nil {
		t.log.Error("save received snapshot", "path", path, "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	t.log.Info("received snapshot", "index", m.GetSnapshot().GetMetadata().GetIndex(), "path", path)
	// A snapshot must not be dropped like an ordinary message: wait for room.
	select {
	case t.s.recvc <- m:
		w.WriteHeader(http.StatusNoContent)
	case <-r.Context().Done():
	case <-t.stopc:
		http.Error(w, "stopping", http.StatusServiceUnavailable)
	}
}

func saveStream(path string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	// The rename is durable only once the directory is: without this fsync a
	// power loss can leave the WAL's snapshot record (written next, by the
	// append thread) naming a file that is not there, and the member could
	// not restart.
	return syncDir(filepath.Dir(path))
}

// syncDir fsyncs a directory so that entries created or renamed in it survive
// a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}

// membersReply is GET /members: what a joining member needs.
type membersReply struct {
	ClusterID uint64   `json:"clusterID"`
	Members   []member `json:"members"`
}

func (t *transport) serveMembers(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(membersReply{ClusterID: t.s.members.clusterID(), Members: t.s.members.list()})
}

// fetchMembers asks each URL in turn for the cluster's members (joining with
// --initial-cluster-state existing).
func fetchMembers(ctx context.Context, client *http.Client, urls []string) (membersReply, error) {
	var errs []error
	for _, u := range urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+pathMembers, nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		resp, err := client.Do(req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rep, err := decodeMembersReply(resp.Body)
		resp.Body.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u, err))
			continue
		}
		return rep, nil
	}
	return membersReply{}, fmt.Errorf("no peer answered %s: %w", pathMembers, errors.Join(errs...))
}

// maxMembersReply bounds what a joining member reads from GET /members.
const maxMembersReply = 16 << 20

// decodeMembersReply reads a GET /members answer and checks what the joining
// member will build its membership from: a cluster ID, and members with
// distinct non-zero IDs, each with at least one http(s) peer URL.
func decodeMembersReply(r io.Reader) (membersReply, error) {
	var rep membersReply
	if err := json.NewDecoder(io.LimitReader(r, maxMembersReply)).Decode(&rep); err != nil {
		return membersReply{}, fmt.Errorf("decode %s answer: %w", pathMembers, err)
	}
	if rep.ClusterID == 0 {
		return membersReply{}, fmt.Errorf("%s answer has no cluster ID", pathMembers)
	}
	if len(rep.Members) == 0 {
		return membersReply{}, fmt.Errorf("%s answer lists no member", pathMembers)
	}
	seen := make(map[uint64]bool, len(rep.Members))
	for _, m := range rep.Members {
		if m.ID == 0 || raft.IsLocalMsgTarget(m.ID) {
			return membersReply{}, fmt.Errorf("%s answer has a member with the reserved ID %x", pathMembers, m.ID)
		}
		if seen[m.ID] {
			return membersReply{}, fmt.Errorf("%s answer lists member %x twice", pathMembers, m.ID)
		}
		seen[m.ID] = true
		if len(m.PeerURLs) == 0 {
			return membersReply{}, fmt.Errorf("%s answer: member %x has no peer URL", pathMembers, m.ID)
		}
		for _, pu := range m.PeerURLs {
			u, err := url.Parse(pu)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return membersReply{}, fmt.Errorf("%s answer: member %x has the peer URL %q, want http(s)://host:port", pathMembers, m.ID, pu)
			}
		}
	}
	return rep, nil
}
