package raftkv

import (
	"bufio"
	"net"
	"sync"
	"time"
)

// sniffer splits one listener in two by the first bytes of each connection:
// the HTTP/2 client preface ("PRI * HTTP/2.0") goes to gRPC, anything else to
// the HTTP/1 handler (/health, /metrics), as etcd serves both on the client URL.
type sniffer struct {
	ln   net.Listener
	grpc *chanListener
	http *chanListener
}

func newSniffer(ln net.Listener) *sniffer {
	return &sniffer{ln: ln, grpc: newChanListener(ln.Addr()), http: newChanListener(ln.Addr())}
}

func (s *sniffer) run() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			s.grpc.close()
			s.http.close()
			return
		}
		go s.route(c)
	}
}

func (s *sniffer) route(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	head, err := br.Peek(3)
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return
	}
	pc := &peekedConn{Conn: c, r: br}
	if string(head) == "PRI" {
		s.grpc.deliver(pc)
	} else {
		s.http.deliver(pc)
	}
}

func (s *sniffer) close() { _ = s.ln.Close() }

type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *peekedConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// chanListener is a net.Listener fed by the sniffer.
type chanListener struct {
	addr   net.Addr
	c      chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, c: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) deliver(c net.Conn) {
	select {
	case l.c <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.c:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) close()         { l.closed.Do(func() { close(l.done) }) }
func (l *chanListener) Close() error   { l.close(); return nil }
func (l *chanListener) Addr() net.Addr { return l.addr }
