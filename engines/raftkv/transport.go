package raftkv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
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
	"slices"
	"strconv"
	"strings"
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
	pathMessage    = "/raft/message"
	pathSnapshot   = "/raft/snapshot"
	pathMembers    = "/members"
	pathPromote    = "/members/promote"
	pathLeaseRenew = "/lease/renew"
	pathLeaseTTL   = "/lease/ttl"

	hdrFrom    = "X-Raftkv-From"
	hdrCluster = "X-Raftkv-Cluster-Id"
	hdrTo      = "X-Raftkv-To"
	hdrURLs    = "X-Raftkv-Peer-Urls"
	// hdrRefused marks a 404 that refuses the sender, not one that answers
	// the request (a lease that does not exist).
	hdrRefused = "X-Raftkv-Refused"

	// maxRemotes bounds the peers added for senders we do not know yet.
	maxRemotes = 8

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
	probing atomic.Bool  // a probeLeader dial is running

	wg    sync.WaitGroup
	stopc chan struct{}
}

type peer struct {
	id    uint64
	urls  atomic.Pointer[[]string]
	q     chan []byte
	snapq chan *raftpb.Message
	stopc chan struct{}
	// remote: not a member we know of, added by addRemote (under t.mu).
	remote bool
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
		TLSClientConfig:     s.peerTLS.client,
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
// gone peers are stopped, URL changes (etcdctl member update) apply to the
// next dial: as in etcd, an open connection stays until it breaks, which it
// does when the member restarts on its new URL.
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
			if !slices.Equal(*p.urls.Load(), urls) {
				p.urls.Store(&urls)
				t.log.Info("peer URLs changed; the next dial uses them", "peer", fmt.Sprintf("%x", id), "urls", urls)
			}
			p.remote = false
			continue
		}
		t.startPeer(id, urls, false)
	}
}

// startPeer starts the writers of a new peer; t.mu is held.
func (t *transport) startPeer(id uint64, urls []string, remote bool) {
	p := &peer{id: id, q: make(chan []byte, t.s.cfg.PeerSendQueue),
		snapq: make(chan *raftpb.Message, 1), stopc: make(chan struct{}), remote: remote}
	p.urls.Store(&urls)
	t.peers[id] = p
	t.wg.Add(2)
	go func() { defer t.wg.Done(); t.writeLoop(p) }()
	go func() { defer t.wg.Done(); t.snapLoop(p) }()
}

// addRemote gives a sender we do not know yet (a leader added by a conf
// change this member has not applied) a way back for raft's answers, at the
// peer URLs it sent, as etcd's transport does. The next setPeers drops it
// unless the membership then has it.
func (t *transport) addRemote(id uint64, urlHeader string) {
	var urls []string
	for _, u := range strings.Split(urlHeader, ",") {
		if pu, err := url.Parse(u); err == nil && (pu.Scheme == "http" || pu.Scheme == "https") && pu.Host != "" {
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 || id == t.s.id {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.stopc:
		return
	default:
	}
	if _, ok := t.peers[id]; ok {
		return
	}
	n := 0
	for _, p := range t.peers {
		if p.remote {
			n++
		}
	}
	if n >= maxRemotes {
		return
	}
	t.log.Info("added a route to a sender that is not a member yet", "peer", fmt.Sprintf("%x", id), "urls", urls)
	t.startPeer(id, urls, true)
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
	var pipelineUntil time.Time
	for {
		var b []byte
		select {
		case b = <-p.q:
		case <-p.stopc:
			return
		}
		if conn == nil && time.Now().Before(pipelineUntil) {
			t.postMessages(p, b)
			continue
		}
		if conn == nil {
			c, err := t.dialStream(p)
			if err != nil {
				if errors.Is(err, ErrRemoved) {
					t.s.onRemovedByPeer()
					return
				}
				if errors.Is(err, errUnknownSender) {
					// The peer has not applied the conf change that added us
					// (we lead a member that lags): send by request until it
					// knows us.
					pipelineUntil = time.Now().Add(time.Second)
					t.postMessages(p, b)
					continue
				}
				t.s.report(reportMsg{to: p.id})
				t.probeLeader(p.id)
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
	if u.Scheme == "https" {
		if t.s.peerTLS.client == nil {
			conn.Close()
			return nil, fmt.Errorf("peer URL %s is https but this member has no --peer-cert-file/--peer-key-file", p.url())
		}
		cfg := t.s.peerTLS.client.Clone()
		cfg.ServerName = u.Hostname()
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("TLS handshake with peer %x at %s: %w", p.id, u.Host, err)
		}
		conn = tc
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
	case http.StatusNotFound:
		conn.Close()
		return nil, errUnknownSender
	default:
		conn.Close()
		return nil, fmt.Errorf("peer %x refused stream: %s", p.id, resp.Status)
	}
}

// errUnknownSender is a peer's 404 to our stream: it does not know us yet.
var errUnknownSender = errors.New("the peer does not know this member yet")

// postMessages sends b and whatever else is queued for p in one POST
// /raft/message. Failures are reported to raft, which retransmits.
func (t *transport) postMessages(p *peer, b []byte) {
	var body bytes.Buffer
	var hdr [4]byte
	for {
		binary.LittleEndian.PutUint32(hdr[:], uint32(len(b)))
		body.Write(hdr[:])
		body.Write(b)
		if body.Len() > flushBytes {
			break
		}
		select {
		case b = <-p.q:
			continue
		default:
		}
		break
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url()+pathMessage, &body)
	if err == nil {
		t.setPeerHeaders(req.Header, p.id)
		var resp *http.Response
		if resp, err = t.client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusNoContent:
				return
			case http.StatusGone:
				t.s.onRemovedByPeer()
				return
			}
			err = fmt.Errorf("peer answered %s", resp.Status)
		}
	}
	t.log.Debug("post raft messages failed", "peer", fmt.Sprintf("%x", p.id), "err", err)
	t.s.report(reportMsg{to: p.id})
}

func (t *transport) setPeerHeaders(h http.Header, to uint64) {
	h.Set(hdrFrom, fmt.Sprintf("%x", t.s.id))
	h.Set(hdrCluster, fmt.Sprintf("%x", t.s.members.clusterID()))
	if to != 0 {
		h.Set(hdrTo, fmt.Sprintf("%x", to))
	}
	h.Set(hdrURLs, strings.Join(t.s.cfg.PeerURLs, ","))
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
	t.setPeerHeaders(req.Header, p.id)
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
	// Other methods get 405 from the mux itself.
	mux.HandleFunc("POST "+pathStream, t.serveStream)
	mux.HandleFunc("POST "+pathMessage, t.serveMessage)
	mux.HandleFunc("POST "+pathSnapshot, t.serveSnapshot)
	mux.HandleFunc("GET "+pathMembers, t.serveMembers)
	mux.HandleFunc("POST "+pathHashKV, t.serveHashKV)
	mux.HandleFunc(pathLeaseRenew, t.s.serveLeaseRenew)
	mux.HandleFunc(pathLeaseTTL, t.s.serveLeaseTTL)
	mux.HandleFunc("POST "+pathPromote, t.s.servePromote)
	return mux
}

// checkPeer validates the sender's cluster and membership, as etcd's peer
// handlers do; it writes the error answer and returns false when the peer is
// refused:
//
//   - 400 when the From or Cluster-Id header is missing or not hex;
//   - 412 Precondition Failed when the cluster ID is not ours (a member of
//     another cluster, or one started with another --initial-cluster-token),
//     or when the To header names another member;
//   - 410 Gone when the sender was removed from the cluster;
//   - 404 when the sender is not a member we know of, unless allowUnknown.
//
// allowUnknown is for the paths that carry raft messages from a leader to a
// member that has not applied the conf change adding that leader yet
// (/raft/message, /raft/snapshot): refusing them would leave that member
// unable to ever catch up. Only the long-lived stream and the lease paths,
// which a leader does not need to reach a lagging member, refuse unknown
// senders, as etcd's stream handler does ("sender not found", 404).
func (t *transport) checkPeer(w http.ResponseWriter, r *http.Request, allowUnknown bool) (uint64, bool) {
	from, err1 := strconv.ParseUint(r.Header.Get(hdrFrom), 16, 64)
	cid, err2 := strconv.ParseUint(r.Header.Get(hdrCluster), 16, 64)
	if err1 != nil || err2 != nil {
		http.Error(w, "missing or bad "+hdrFrom+"/"+hdrCluster, http.StatusBadRequest)
		return 0, false
	}
	ours := t.s.members.clusterID()
	if cid != ours {
		t.log.Warn("refused a peer request from another cluster", "remote", r.RemoteAddr, "path", r.URL.Path,
			"their_cluster", fmt.Sprintf("%x", cid), "our_cluster", fmt.Sprintf("%x", ours))
		http.Error(w, fmt.Sprintf("cluster ID mismatch: ours %x, yours %x", ours, cid), http.StatusPreconditionFailed)
		return 0, false
	}
	if to := r.Header.Get(hdrTo); to != "" {
		if id, err := strconv.ParseUint(to, 16, 64); err != nil || id != t.s.id {
			http.Error(w, fmt.Sprintf("to field mismatch: this member is %x, the request is for %s", t.s.id, to), http.StatusPreconditionFailed)
			return 0, false
		}
	}
	if t.s.members.isRemoved(from) {
		http.Error(w, "the member has been permanently removed from the cluster", http.StatusGone)
		return 0, false
	}
	if _, ok := t.s.members.get(from); !ok && !allowUnknown {
		t.log.Warn("refused a peer request from a sender that is not a member", "remote", r.RemoteAddr,
			"path", r.URL.Path, "from", fmt.Sprintf("%x", from))
		w.Header().Set(hdrRefused, "sender-unknown")
		http.Error(w, fmt.Sprintf("sender %x not found among the members of cluster %x", from, ours), http.StatusNotFound)
		return 0, false
	}
	return from, true
}

func (t *transport) serveStream(w http.ResponseWriter, r *http.Request) {
	from, ok := t.checkPeer(w, r, false)
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
	err = t.readStream(bufio.NewReaderSize(rw.Reader, flushBytes), from, t.s.recv, false)
	if errors.Is(err, errBadPeerMessage) {
		t.log.Warn("closing stream from peer", "peer", fmt.Sprintf("%x", from), "err", err)
	}
	t.probeLeader(from)
}

// errBadPeerMessage marks a frame that is not a raft message this member may
// take from that peer; the stream is closed (the sender redials).
var errBadPeerMessage = errors.New("bad raft message from peer")

// errRemovedPeer ends a stream whose sender was removed from the cluster
// while it was open, as a new request from it would be refused (410).
var errRemovedPeer = errors.New("peer removed from the cluster")

// readStream reads frames (uint32 little-endian length, then a marshalled
// raftpb.Message) sent by the peer from, until r fails, a frame is bad or
// the sender is removed, and passes each message admit accepts to deliver.
// A message from an ID that is not a member yet is dropped, the stream
// kept (the membership here may lag the sender's), unless allowUnknown:
// the /raft/message path, by which a leader reaches a member that has not
// applied the change adding that leader, delivers it (checkPeer already
// refused other clusters and removed members).
func (t *transport) readStream(r io.Reader, from uint64, deliver func(*raftpb.Message), allowUnknown bool) error {
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
		if t.s.members.isRemoved(from) {
			t.log.Info("closing the stream of a removed member", "peer", fmt.Sprintf("%x", from))
			return errRemovedPeer
		}
		switch err := t.admit(from, m, false); {
		case errors.Is(err, errNotMember) && allowUnknown:
			deliver(m)
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

// serveMessage is POST /raft/message: a few frames in one request body, from
// a sender whose stream we refused because we do not know it yet (see
// checkPeer).
func (t *transport) serveMessage(w http.ResponseWriter, r *http.Request) {
	from, ok := t.checkPeer(w, r, true)
	if !ok {
		return
	}
	if _, known := t.s.members.get(from); !known {
		t.addRemote(from, r.Header.Get(hdrURLs))
	}
	if err := t.readStream(io.LimitReader(r.Body, maxFrameBytes+4), from, t.s.recv, true); errors.Is(err, errBadPeerMessage) || errors.Is(err, errRemovedPeer) {
		t.log.Warn("refused a raft message from peer", "peer", fmt.Sprintf("%x", from), "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
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
	from, ok := t.checkPeer(w, r, true)
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
	// A sender that is not a member yet passed checkPeer (not removed, our
	// cluster): a leader may send a snapshot to a member that has not
	// applied the change adding it.
	if err := t.admit(from, m, true); err != nil && !errors.Is(err, errNotMember) {
		http.Error(w, err.Error(), http.StatusBadRequest)
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

// fetchMembers asks the URLs for the cluster's members (joining with
// --initial-cluster-state existing) and returns the first reply that lists
// a member with peer URLs self. A member add is applied on each member in
// its own time, so a peer may not list the new member yet: the others are
// asked, then all of them again every 200ms, until ctx ends; then the last
// reply is returned as it is (the caller says what is missing), or an
// error when no peer answered at all.
func fetchMembers(ctx context.Context, client *http.Client, urls []string, self []string) (membersReply, error) {
	var (
		last    membersReply
		answers int
		errs    []error
	)
	for {
		for _, u := range urls {
			rep, err := fetchMembersFrom(ctx, client, u)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			answers++
			last = rep
			for _, m := range rep.Members {
				if sameURLs(m.PeerURLs, self) {
					return rep, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			if answers > 0 {
				return last, nil
			}
			return membersReply{}, fmt.Errorf("no peer answered %s: %w", pathMembers, errors.Join(errs...))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func fetchMembersFrom(ctx context.Context, client *http.Client, u string) (membersReply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+pathMembers, nil)
	if err != nil {
		return membersReply{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return membersReply{}, err
	}
	defer resp.Body.Close()
	rep, err := decodeMembersReply(resp.Body)
	if err != nil {
		return membersReply{}, fmt.Errorf("%s: %w", u, err)
	}
	return rep, nil
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
