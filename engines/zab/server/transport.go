package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// The peer transport: one TCP connection per pair of members, dialed by the
// member with the smaller id (from its own host address, so per-address
// firewall rules see the right source) and accepted by the larger. Both
// directions share it. After a handshake
//
//	"ZABP" | uint64 dialer id | uint64 acceptor id
//
// each frame is uint32 length | bytes (one marshalled zab.Message).
//
// Delivery is FIFO per connection, as ZAB needs. A message is never dropped
// silently from the middle of a stream: when a peer's send queue is full the
// connection is closed and the queue discarded, and both sides see PeerDown,
// exactly as after a network fault; the core then re-syncs that follower.

const peerMagic = "ZABP"

// PeerEvent is what the transport delivers to the loop, in order per peer.
type PeerEvent struct {
	// From is the peer's id.
	From uint64
	// Data is one frame; nil for a status change.
	Data []byte
	// Up and Down report a connection opening or closing (Data is nil).
	Up, Down bool
}

// TransportConfig configures a Transport.
type TransportConfig struct {
	// ID is this member's id.
	ID uint64
	// Members are all ensemble members, this one included.
	Members []Member
	// QueueLen bounds each peer's send queue (frames). Full: the connection
	// is reset.
	QueueLen int
	// InboxLen bounds the inbox shared by all peers. Full: readers block,
	// which pushes back on the senders through TCP.
	InboxLen int
	// MaxFrameBytes bounds one frame; larger frames reset the connection.
	MaxFrameBytes int
	// DialTimeout bounds one dial attempt. Default 1s.
	DialTimeout time.Duration
	// MaxBackoff caps the redial backoff, which starts at 20ms and doubles.
	// Default 500ms.
	MaxBackoff time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
}

type peerConn struct {
	id   uint64
	addr string
	host string

	mu   sync.Mutex
	conn net.Conn    // current connection or nil
	q    chan []byte // send queue of the current connection; nil when down
	gen  uint64
}

// Transport moves frames between members. Send is safe from any goroutine;
// Inbox is read by the one loop.
type Transport struct {
	cfg    TransportConfig
	self   Member
	logger *slog.Logger
	ln     net.Listener
	peers  map[uint64]*peerConn
	inbox  chan PeerEvent
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// NewTransport checks cfg and binds the quorum port of this member.
func NewTransport(cfg TransportConfig) (*Transport, error) {
	if cfg.QueueLen <= 0 || cfg.InboxLen <= 0 || cfg.MaxFrameBytes <= 0 {
		return nil, fmt.Errorf("%w: transport: QueueLen, InboxLen and MaxFrameBytes must be > 0", ErrConfig)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Transport{cfg: cfg, peers: map[uint64]*peerConn{}, inbox: make(chan PeerEvent, cfg.InboxLen)}
	found := false
	for _, m := range cfg.Members {
		if m.ID == cfg.ID {
			t.self, found = m, true
			continue
		}
		t.peers[m.ID] = &peerConn{id: m.ID, addr: m.QuorumAddr(), host: m.Host}
	}
	if !found {
		return nil, fmt.Errorf("%w: transport: member %d not in the member list", ErrConfig, cfg.ID)
	}
	t.logger = cfg.Logger.With("node", cfg.ID)
	ln, err := net.Listen("tcp", t.self.QuorumAddr())
	if err != nil {
		return nil, fmt.Errorf("zab: listen on quorum address %s: %w", t.self.QuorumAddr(), err)
	}
	t.ln = ln
	t.ctx, t.cancel = context.WithCancel(context.Background())
	return t, nil
}

// Addr is the bound quorum address.
func (t *Transport) Addr() net.Addr { return t.ln.Addr() }

// Inbox delivers frames and connection changes from all peers.
func (t *Transport) Inbox() <-chan PeerEvent { return t.inbox }

func (t *Transport) goFunc(f func()) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		f()
	}()
}

// Start accepts connections and dials peers with larger ids.
func (t *Transport) Start() {
	t.goFunc(t.acceptLoop)
	for _, p := range t.peers {
		if p.id > t.cfg.ID {
			t.goFunc(func() { t.dialLoop(p) })
		}
	}
}

// Stop closes every connection and waits for every goroutine. Safe to call
// twice.
func (t *Transport) Stop() {
	t.once.Do(func() {
		t.cancel()
		t.ln.Close()
		for _, p := range t.peers {
			p.mu.Lock()
			if p.conn != nil {
				p.conn.Close()
			}
			p.mu.Unlock()
		}
	})
	t.wg.Wait()
}

// Connected reports whether a connection to peer is up.
func (t *Transport) Connected(peer uint64) bool {
	p := t.peers[peer]
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conn != nil
}

// Send queues frame for peer. It never blocks: if the peer is not connected
// the frame is dropped (the core treats an unconnected peer as lost), and if
// its queue is full the connection is reset. frame must not be modified
// afterwards.
func (t *Transport) Send(peer uint64, frame []byte) {
	p := t.peers[peer]
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.q == nil {
		return
	}
	select {
	case p.q <- frame:
	default:
		t.logger.Warn("peer send queue full; resetting connection", "peer", peer, "queue", cap(p.q))
		p.conn.Close()
	}
}

func (t *Transport) deliver(ev PeerEvent) bool {
	select {
	case t.inbox <- ev:
		return true
	case <-t.ctx.Done():
		return false
	}
}

func (t *Transport) acceptLoop() {
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if t.ctx.Err() != nil {
				return
			}
			t.logger.Warn("quorum accept failed", "err", err)
			select {
			case <-time.After(50 * time.Millisecond):
			case <-t.ctx.Done():
				return
			}
			continue
		}
		t.goFunc(func() { t.handshakeIn(c) })
	}
}

func (t *Transport) handshakeIn(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hs [20]byte
	if _, err := io.ReadFull(c, hs[:]); err != nil || string(hs[:4]) != peerMagic {
		t.logger.Warn("rejecting quorum connection: bad handshake", "remote", c.RemoteAddr().String())
		c.Close()
		return
	}
	from := binary.BigEndian.Uint64(hs[4:12])
	to := binary.BigEndian.Uint64(hs[12:20])
	p := t.peers[from]
	if p == nil || to != t.cfg.ID || from > t.cfg.ID {
		t.logger.Warn("rejecting quorum connection: unexpected ids", "remote", c.RemoteAddr().String(), "from", from, "to", to)
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	t.serve(p, c)
}

func (t *Transport) dialLoop(p *peerConn) {
	backoff := 20 * time.Millisecond
	d := net.Dialer{Timeout: t.cfg.DialTimeout}
	if ip := net.ParseIP(t.self.Host); ip != nil {
		d.LocalAddr = &net.TCPAddr{IP: ip}
	} else if ips, err := net.LookupIP(t.self.Host); err == nil && len(ips) > 0 {
		d.LocalAddr = &net.TCPAddr{IP: ips[0]}
	}
	for t.ctx.Err() == nil {
		c, err := d.DialContext(t.ctx, "tcp", p.addr)
		if err == nil {
			var hs [20]byte
			copy(hs[:4], peerMagic)
			binary.BigEndian.PutUint64(hs[4:12], t.cfg.ID)
			binary.BigEndian.PutUint64(hs[12:20], p.id)
			if _, err = c.Write(hs[:]); err == nil {
				backoff = 20 * time.Millisecond
				t.serve(p, c)
				continue
			}
			c.Close()
		}
		select {
		case <-time.After(backoff):
		case <-t.ctx.Done():
			return
		}
		backoff = min(2*backoff, t.cfg.MaxBackoff)
	}
}

// serve runs one connection until it fails: a writer goroutine drains the
// queue, this goroutine reads. It returns after both are done and PeerDown
// was delivered.
func (t *Transport) serve(p *peerConn, c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	q := make(chan []byte, t.cfg.QueueLen)
	p.mu.Lock()
	if p.conn != nil {
		// A newer connection replaces an older one (the peer restarted).
		p.conn.Close()
	}
	p.gen++
	gen := p.gen
	p.conn, p.q = c, q
	p.mu.Unlock()
	if t.ctx.Err() != nil {
		c.Close()
	}
	t.logger.Info("peer connected", "peer", p.id, "remote", c.RemoteAddr().String())
	if !t.deliver(PeerEvent{From: p.id, Up: true}) {
		c.Close()
	}
	done := make(chan struct{})
	var wwg sync.WaitGroup
	wwg.Add(1)
	go func() {
		defer wwg.Done()
		t.writeLoop(c, q, done)
	}()
	err := t.readLoop(p, c)
	c.Close()
	close(done)
	wwg.Wait()
	p.mu.Lock()
	current := p.gen == gen
	if current {
		p.conn, p.q = nil, nil
	}
	p.mu.Unlock()
	if t.ctx.Err() == nil {
		t.logger.Info("peer disconnected", "peer", p.id, "err", err)
	}
	// A connection replaced by a newer one reports no Down: the loop has
	// already seen the newer Up.
	if current {
		t.deliver(PeerEvent{From: p.id, Down: true})
	}
}

func (t *Transport) readLoop(p *peerConn, c net.Conn) error {
	r := bufio.NewReaderSize(c, 256<<10)
	var lb [4]byte
	for {
		if _, err := io.ReadFull(r, lb[:]); err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(lb[:])
		if int64(n) > int64(t.cfg.MaxFrameBytes) {
			t.logger.Warn("peer frame too large; closing", "peer", p.id, "bytes", n, "limit", t.cfg.MaxFrameBytes)
			return ErrFrameTooLarge
		}
		b, err := readFrame(r, n)
		if err != nil {
			return err
		}
		if !t.deliver(PeerEvent{From: p.id, Data: b}) {
			return errors.New("transport stopped")
		}
	}
}

func (t *Transport) writeLoop(c net.Conn, q chan []byte, done chan struct{}) {
	w := bufio.NewWriterSize(c, 256<<10)
	var lb [4]byte
	for {
		var f []byte
		select {
		case f = <-q:
		case <-done:
			return
		}
		for {
			binary.BigEndian.PutUint32(lb[:], uint32(len(f)))
			if _, err := w.Write(lb[:]); err != nil {
				c.Close()
				return
			}
			if _, err := w.Write(f); err != nil {
				c.Close()
				return
			}
			// Batch whatever else is queued into the same flush.
			select {
			case f = <-q:
				continue
			default:
			}
			break
		}
		if err := w.Flush(); err != nil {
			c.Close()
			return
		}
	}
}

// readFrame reads a frame of n bytes. Past 1 MiB the buffer grows with the
// bytes that actually arrive, so a length prefix alone cannot make this
// member allocate MaxFrameBytes.
func readFrame(r io.Reader, n uint32) ([]byte, error) {
	if n <= 1<<20 {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	var b bytes.Buffer
	if _, err := io.CopyN(&b, r, int64(n)); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b.Bytes(), nil
}
