package server

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"coordlab/engines/zab/jute"
)

// clientConn is one client TCP connection. Its reader goroutine decodes
// frames and hands them to the loop; it owns the read side and the closing
// of the socket. Replies wait in a queue; a writer goroutine runs only while
// the queue has frames, so an idle connection costs one goroutine, its
// read buffer and this struct (see BenchmarkSessionMemory). The loop owns
// every field below the line "loop-owned".
type clientConn struct {
	id     uint64
	c      net.Conn
	ip     string
	logger *slog.Logger
	done   chan struct{} // closed by close()
	once   sync.Once
	// maxQueue bounds queued reply frames (ClientQueueLen).
	maxQueue int
	// spawn starts the writer goroutine (tracked by the server's connWG).
	spawn func(func())

	received packetCounter // frames read: the connect request and requests
	sent     packetCounter // frames written

	mu          sync.Mutex
	queue       [][]byte // frames waiting for the writer
	spare       [][]byte // a small drained queue, reused
	writing     bool     // a writer goroutine is running
	closeQueued bool     // the last queued frame closes the connection
	queued      atomic.Int32

	// loop-owned
	session     int64 // 0 until the connect completed
	connecting  bool
	hasReadOnly bool
	closing     bool // closeSession received or connect refused: no further requests
	auth        []jute.Id
	early       []clientEvent // requests sent while connecting, for replayEarly
	stats       connStats     // cons
	established time.Time     // accepted (cons's est)
}

// connStats is what ZooKeeper's ServerCnxn.updateStatsForResponse keeps per
// connection and cons prints. Loop-owned.
type connStats struct {
	lastOp                string // ZooKeeper's FinalRequestProcessor names: GETD, CREA, PING, ...
	lastCxid, lastZxid    int64
	lastResp              int64 // ms on the server's monotonic clock
	last, min, max, total int64 // latency, ms
	count                 int64
}

// update records one reply, as updateStatsForResponse.
func (c *connStats) update(op string, cxid, zxid, respMs, latMs int64) {
	c.lastOp, c.lastCxid, c.lastZxid, c.lastResp, c.last = op, cxid, zxid, respMs, latMs
	if c.count == 0 || latMs < c.min {
		c.min = latMs
	}
	c.max = max(c.max, latMs)
	c.total += latMs
	c.count++
}

// addAuth adds an id the connection authenticated as, once: a client
// re-sends its addauth packets when it reconnects, and ZooKeeper's
// ServerCnxn.addAuthInfo keeps each id once too. Loop-owned.
func (cc *clientConn) addAuth(id jute.Id) {
	if !slices.Contains(cc.auth, id) {
		cc.auth = append(cc.auth, id)
	}
}

// close closes the socket once; the reader and any writer then end.
func (cc *clientConn) close() {
	cc.once.Do(func() {
		close(cc.done)
		cc.c.Close()
	})
}

// send queues a frame without blocking; closeAfter closes the connection
// once it (and everything before it) has been written, and drops whatever is
// sent after it. A client whose queue is full is too slow to keep up and is
// disconnected (its session survives until expiry).
func (cc *clientConn) send(b []byte, closeAfter bool) {
	cc.mu.Lock()
	select {
	case <-cc.done:
		cc.mu.Unlock()
		return
	default:
	}
	if cc.closeQueued {
		cc.mu.Unlock()
		return
	}
	if len(cc.queue) >= cc.maxQueue {
		cc.mu.Unlock()
		cc.logger.Warn("client reply queue full; closing connection", "remote", cc.c.RemoteAddr().String(), "queue", cc.maxQueue)
		cc.close()
		return
	}
	cc.queue = append(cc.queue, b)
	cc.queued.Store(int32(len(cc.queue)))
	cc.closeQueued = closeAfter
	start := !cc.writing
	cc.writing = true
	cc.mu.Unlock()
	if start {
		cc.spawn(cc.writeLoop)
	}
}

// writeLoop writes queued frames (all that are queued with one writev)
// until the queue is empty, then ends.
func (cc *clientConn) writeLoop() {
	for {
		cc.mu.Lock()
		batch, closeAfter := cc.queue, cc.closeQueued
		if len(batch) == 0 {
			cc.writing = false
			cc.mu.Unlock()
			return
		}
		cc.queue, cc.spare = cc.spare[:0], nil
		cc.queued.Store(0)
		cc.mu.Unlock()
		select {
		case <-cc.done:
			return
		default:
		}
		n := len(batch)
		bufs := net.Buffers(batch)
		if _, err := bufs.WriteTo(cc.c); err != nil {
			cc.close()
			return
		}
		cc.sent.Add(int64(n))
		if closeAfter {
			// Let the client read the reply before the FIN; then close.
			if tc, ok := cc.c.(interface{ CloseWrite() error }); ok {
				tc.CloseWrite() // TCP FIN, or TLS close_notify
			}
			cc.close()
			return
		}
		if cap(batch) <= 8 {
			clear(batch[:cap(batch)])
			cc.mu.Lock()
			cc.spare = batch[:0]
			cc.mu.Unlock()
		}
	}
}

// clientEvent is what a connection's reader hands to the loop.
type clientEvent struct {
	conn    *clientConn
	connect *jute.ConnectRequest // first frame
	hdr     jute.RequestHeader
	body    jute.Record
	op      jute.Op
	badOp   bool // opcode the codec does not know: answer ZUNIMPLEMENTED
	gone    bool // the connection closed
	at      time.Time
}

// isFourLetterWord reports whether the first 4 bytes of a connection are a
// 4lw command rather than a frame length. Every 4lw spells a length far above
// any jute.maxbuffer, so there is no ambiguity.
func isFourLetterWord(b []byte) bool {
	for _, c := range b {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// readLoop reads the connection until it fails, handing events to the loop.
// A malformed or oversized frame closes this connection only.
func (s *Server) readLoop(cc *clientConn) {
	defer func() {
		cc.close()
		s.deliverClient(clientEvent{conn: cc, gone: true})
	}()
	r := bufio.NewReaderSize(cc.c, clientReadBuffer)
	// A connection has SessionlessCnxnTimeout to send its ConnectRequest (or
	// a four-letter word), as ZooKeeper's sessionless connections: silent
	// sockets must not hold maxClientCnxns slots for good.
	if err := cc.c.SetReadDeadline(time.Now().Add(s.cfg.sessionlessTimeout())); err != nil {
		return
	}
	first, err := r.Peek(4)
	if err != nil {
		if !s.noteSessionless(cc, err) {
			if _, ok := cc.c.(*tls.Conn); ok && !errors.Is(err, io.EOF) {
				// A refused client certificate, a client speaking
				// plaintext or no common protocol: say why.
				cc.logger.Warn("TLS handshake failed; closing client connection", "remote", cc.c.RemoteAddr().String(), "err", err)
			}
		}
		return
	}
	if isFourLetterWord(first) {
		cmd := string(first)
		r.Discard(4)
		s.answerFourLetterWord(cc, cmd)
		// The writer closes the connection once the answer is out.
		select {
		case <-cc.done:
		case <-s.stopCh:
		}
		return
	}
	maxBuf := s.cfg.JuteMaxBuffer
	var buf []byte
	payload, err := jute.ReadFrame(r, buf, maxBuf)
	if err != nil {
		if !s.noteSessionless(cc, err) {
			s.logBadFrame(cc, err)
		}
		return
	}
	req, err := jute.DecodeConnectRequest(payload)
	if err != nil {
		s.logBadFrame(cc, err)
		return
	}
	if err := cc.c.SetReadDeadline(time.Time{}); err != nil {
		return
	}
	cc.received.Add(1)
	if !s.deliverClient(clientEvent{conn: cc, connect: req, at: time.Now()}) {
		return
	}
	for {
		payload, err := jute.ReadFrame(r, nil, maxBuf)
		if err != nil {
			s.logBadFrame(cc, err)
			return
		}
		cc.received.Add(1)
		s.metrics.packetsReceived.Inc()
		hdr, body, err := jute.DecodeRequest(payload)
		ev := clientEvent{conn: cc, hdr: hdr, body: body, op: hdr.Type, at: time.Now()}
		if err != nil {
			if !errors.Is(err, jute.ErrUnknownOp) {
				s.logBadFrame(cc, err)
				return
			}
			ev.badOp = true
		}
		if !s.deliverClient(ev) {
			return
		}
	}
}

// noteSessionless counts and logs a connection closed because it sent no
// ConnectRequest in time; false if err is not that.
func (s *Server) noteSessionless(cc *clientConn, err error) bool {
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		return false
	}
	s.sessionlessExpired.Add(1)
	cc.logger.Info("closing client connection that sent no ConnectRequest in time", "remote", cc.c.RemoteAddr().String(),
		"timeout", s.cfg.sessionlessTimeout().String())
	return true
}

// defaultSessionlessTimeout is ZooKeeper's zookeeper.nio.sessionlessCnxnTimeout.
const defaultSessionlessTimeout = 10 * time.Second

func (c *Config) sessionlessTimeout() time.Duration {
	if c.SessionlessCnxnTimeout > 0 {
		return c.SessionlessCnxnTimeout
	}
	return defaultSessionlessTimeout
}

// SessionlessExpired is how many client connections were closed because
// they sent no ConnectRequest within SessionlessCnxnTimeout (mntr's
// zk_sessionless_connections_expired, as ZooKeeper 3.6+).
func (s *Server) SessionlessExpired() int64 { return s.sessionlessExpired.Load() }

// ConnectionsRejected is how many client connections were closed at accept
// for maxClientCnxns or maxCnxns (mntr's zk_connection_rejected).
func (s *Server) ConnectionsRejected() int64 { return s.connRejected.Load() }

func (s *Server) logBadFrame(cc *clientConn, err error) {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return
	}
	var de *jute.DecodeError
	if errors.As(err, &de) || errors.Is(err, io.ErrUnexpectedEOF) {
		s.metrics.badFrames.Inc()
		cc.logger.Warn("closing client connection: malformed frame", "remote", cc.c.RemoteAddr().String(), "err", err)
		return
	}
	cc.logger.Debug("client connection read ended", "remote", cc.c.RemoteAddr().String(), "err", err)
}

// deliverClient hands ev to the loop; false if the connection or the server
// is closing.
func (s *Server) deliverClient(ev clientEvent) bool {
	if ev.gone {
		// Always delivered (the loop must forget the connection), unless the
		// loop is gone.
		select {
		case s.clientEvents <- ev:
			return true
		case <-s.loopDone:
			return false
		}
	}
	select {
	case s.clientEvents <- ev:
		return true
	case <-ev.conn.done:
		return false
	case <-s.loopDone:
		return false
	}
}

// acceptLoop accepts client connections, enforcing maxClientCnxns per IP
// (counted across the plaintext and TLS ports). With tc, each connection is
// a TLS server connection: the handshake runs on its first read, within
// the sessionless timeout, and one that fails (no or a bad client
// certificate) closes it. Everything after is the plaintext path.
func (s *Server) acceptLoop(ln net.Listener, tc *tls.Config) {
	var nextID uint64
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.stopping.Load() {
				return
			}
			s.logger.Warn("client accept failed", "err", err)
			select {
			case <-time.After(20 * time.Millisecond):
			case <-s.stopCh:
				return
			}
			continue
		}
		ip := ""
		if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			ip = ta.IP.String()
		}
		if ok, total := s.connLimiter.acquire(ip); !ok {
			s.connRejected.Add(1)
			if total {
				s.logger.Warn("too many client connections; closing (maxCnxns)", "remote", c.RemoteAddr().String(), "max", s.cfg.MaxCnxns)
			} else {
				s.logger.Warn("too many connections from one address; closing (maxClientCnxns)", "remote", c.RemoteAddr().String(), "max", s.cfg.MaxClientCnxns)
			}
			c.Close()
			continue
		}
		if tcp, ok := c.(*net.TCPConn); ok {
			tcp.SetNoDelay(true)
		}
		if tc != nil {
			c = tls.Server(c, tc)
		}
		nextID++
		cc := &clientConn{id: nextID, c: c, ip: ip, logger: s.logger, done: make(chan struct{}), maxQueue: s.cfg.ClientQueueLen, spawn: s.spawnConn, established: time.Now()}
		if ip != "" {
			// As ZooKeeper's server connections: every connection is
			// authenticated as ip:<remote address>, which ip ACLs match.
			cc.auth = []jute.Id{{Scheme: "ip", ID: ip}}
		}
		cc.received.total.Store(&s.metrics.clientReceived)
		cc.sent.total.Store(&s.metrics.clientSent)
		s.connWG.Add(1)
		go func() {
			defer s.connWG.Done()
			defer s.connLimiter.release(ip)
			s.readLoop(cc)
		}()
	}
}

// clientReadBuffer is each connection's read buffer: most requests fit, and
// a larger frame is read past it straight into its own buffer.
const clientReadBuffer = 4 << 10

// spawnConn runs f on a goroutine tracked by connWG. Callers are the loop
// (which has stopped before Stop waits on connWG) and connection
// goroutines (tracked themselves).
func (s *Server) spawnConn(f func()) {
	s.connWG.Add(1)
	go func() {
		defer s.connWG.Done()
		f()
	}()
}

// connLimiter counts connections per remote IP and in total.
type connLimiter struct {
	mu       sync.Mutex
	max      int // per IP; <= 0: unlimited
	maxTotal int // <= 0: unlimited
	total    int
	n        map[string]int
}

// acquire takes a slot for a connection from ip. When it refuses, total
// says whether the overall limit was the reason.
func (l *connLimiter) acquire(ip string) (ok, total bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.maxTotal > 0 && l.total >= l.maxTotal {
		return false, true
	}
	if l.max > 0 && l.n[ip] >= l.max {
		return false, false
	}
	l.n[ip]++
	l.total++
	return true, false
}

func (l *connLimiter) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.n[ip]--; l.n[ip] <= 0 {
		delete(l.n, ip)
	}
}
