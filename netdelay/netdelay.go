package netdelay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ProcQueue is the file the kernel has when it can queue packets to user
// space (nfnetlink_queue built in or loaded).
const ProcQueue = "/proc/net/netfilter/nfnetlink_queue"

// Supported says whether this kernel can queue packets to user space, and
// if not, why.
func Supported() error {
	if _, err := os.Stat(ProcQueue); err != nil {
		return fmt.Errorf("netdelay: this kernel cannot queue packets to user space (%s: %v): it needs nfnetlink_queue", ProcQueue, err)
	}
	for _, p := range []string{Iptables, "nsenter"} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("netdelay: %s is missing (apt-get install iptables util-linux): %w", p, err)
		}
	}
	return nil
}

// Config is one Delayer's queue and timing.
type Config struct {
	// Queue is the NFQUEUE number the steering rule sends packets to.
	Queue uint16
	// Mark is the packet mark the namespace's nft rules set on the packets
	// to delay; the steering rule queues the packets that carry it.
	// Required.
	Mark uint32
	// Delay is how long each packet is held; Jitter spreads it uniformly
	// over [Delay-Jitter, Delay+Jitter] (never below zero). Jitter must
	// not exceed Delay.
	Delay, Jitter time.Duration
	// MaxHeld bounds the packets held at once (the kernel's queue-maxlen);
	// beyond it packets pass undelayed. Default 2048.
	MaxHeld uint32
}

// MaxDelay bounds Config.Delay+Jitter: a packet held longer than this
// would outlive any protocol timeout worth testing.
const MaxDelay = 10 * time.Second

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Mark == 0 {
		errs = append(errs, errors.New("netdelay: mark: want the nonzero packet mark of the packets to delay"))
	}
	if c.Delay < 0 || c.Jitter < 0 {
		errs = append(errs, fmt.Errorf("netdelay: delay %s, jitter %s: want both >= 0", c.Delay, c.Jitter))
	}
	if c.Jitter > c.Delay {
		errs = append(errs, fmt.Errorf("netdelay: jitter %s exceeds delay %s: want jitter <= delay", c.Jitter, c.Delay))
	}
	if c.Delay+c.Jitter > MaxDelay {
		errs = append(errs, fmt.Errorf("netdelay: delay+jitter %s: want at most %s", c.Delay+c.Jitter, MaxDelay))
	}
	return errors.Join(errs...)
}

// Stats count what a Delayer did.
type Stats struct {
	// Delayed is how many packets were held and released.
	Delayed uint64
	// MaxHeld is the most packets held at once.
	MaxHeld int
}

// held is one packet waiting for its verdict.
type held struct {
	id  uint32
	due time.Time
}

// Delayer holds the packets of one NFQUEUE queue in one network namespace.
// Create it with Open; it runs until Close.
type Delayer struct {
	cfg Config
	ns  string // the namespace's path
	// steered: the steering rule was installed (set by Open before the
	// Delayer is shared).
	steered bool
	f       *os.File // the netlink socket, non-blocking, on the runtime poller
	rc      syscall.RawConn
	seq     atomic.Uint32
	rand    *rand.Rand // owned by the reader

	mu     sync.Mutex
	queue  []held // FIFO: dues never decrease
	last   uint32 // highest id received
	closed bool
	stats  Stats
	err    error // the first error of the reader or the releaser

	kick     chan struct{} // wakes the releaser when the queue was empty
	stop     chan struct{} // closed by Close: the releaser returns
	relDone  chan struct{} // closed when the releaser has returned
	readDone chan struct{} // closed when the reader has returned
	once     sync.Once
}

// Open makes a netlink socket inside the network namespace named by nsPath
// (a file such as /run/netns/<name> or /proc/<pid>/ns/net), binds it to
// cfg.Queue, installs the steering rule there (packets marked cfg.Mark go
// to the queue), and starts delaying the packets queued. It never acts on
// the caller's own namespace.
func Open(nsPath string, cfg Config) (*Delayer, error) {
	if nsPath == "" {
		return nil, errors.New("netdelay: Open: want the path of a member's network namespace, got none")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := Supported(); err != nil {
		return nil, err
	}
	if cfg.MaxHeld == 0 {
		cfg.MaxHeld = 2048
	}
	fd, err := socketIn(nsPath)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "nfqueue")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("netdelay: %w", err)
	}
	d := &Delayer{cfg: cfg, ns: nsPath, f: f, rc: rc, rand: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), relDone: make(chan struct{}), readDone: make(chan struct{})}
	if err := d.configure(); err != nil {
		f.Close()
		return nil, fmt.Errorf("netdelay: queue %d in %s: %w", cfg.Queue, nsName(nsPath), err)
	}
	go d.read()    // owned by d: returns when Close closes the socket
	go d.release() // owned by d: returns when Close closes d.stop
	if err := steer(nsPath, cfg); err != nil {
		return nil, errors.Join(err, d.Close())
	}
	d.steered = true
	return d, nil
}

func nsName(p string) string {
	if p == "" {
		return "this namespace"
	}
	return p
}

// socketIn creates a non-blocking NETLINK_NETFILTER socket inside the
// namespace nsPath.
func socketIn(nsPath string) (int, error) {
	fd := -1
	err := InNamespace(nsPath, func() error {
		var err error
		fd, err = newSocket()
		return err
	})
	if err != nil && fd >= 0 {
		unix.Close(fd) // made, but the thread could not return
		fd = -1
	}
	return fd, err
}

// InNamespace runs f on an OS thread that has entered the network
// namespace nsPath ("" runs f as it is): sockets f creates stay in that
// namespace. f must not start goroutines that create sockets (they run on
// other threads). If the thread cannot return to its own namespace it is
// never reused: it ends with its goroutine.
func InNamespace(nsPath string, f func() error) error {
	if nsPath == "" {
		return f()
	}
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		back, err := func() (bool, error) {
			self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return true, fmt.Errorf("netdelay: open own namespace: %w", err)
			}
			defer unix.Close(self)
			target, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return true, fmt.Errorf("netdelay: open namespace %s: %w", nsPath, err)
			}
			defer unix.Close(target)
			if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
				return true, fmt.Errorf("netdelay: enter namespace %s: %w", nsPath, err)
			}
			ferr := f()
			if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
				return false, errors.Join(ferr, fmt.Errorf("netdelay: return from namespace %s: %w", nsPath, err))
			}
			return true, ferr
		}()
		if back {
			runtime.UnlockOSThread()
		}
		ch <- err
	}()
	return <-ch
}

// newSocket creates and binds the netlink socket in the thread's namespace.
func newSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_NETFILTER)
	if err != nil {
		return -1, fmt.Errorf("netdelay: netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("netdelay: bind netlink socket: %w", err)
	}
	// Room for many packets' metadata; as root the limit does not apply.
	// Without it the default buffer still works: an overflow lets packets
	// through (fail-open).
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
	return fd, nil
}

// Netlink constants of nfnetlink_queue (linux/netfilter/nfnetlink_queue.h).
const (
	subsysQueue       = 3
	msgPacket         = 0
	msgConfig         = 2
	msgVerdictBatch   = 3
	cfgCmd            = 1
	cfgParams         = 2
	cfgQueueMaxlen    = 3
	cfgMask           = 4
	cfgFlags          = 5
	cmdBind           = 1
	cmdUnbind         = 2
	copyMeta          = 1
	flagFailOpen      = 1
	flagGSO           = 4
	attrPacketHdr     = 1
	attrVerdictHdr    = 2
	verdictAccept     = 1
	nfnlHeaderLen     = 4 // struct nfgenmsg
	verdictBatchAhead = 1 << 30
)

// configure binds the queue: metadata only, MaxHeld, fail-open, GSO
// packets whole. Each message is acknowledged; an error names the step.
func (d *Delayer) configure() error {
	be32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	steps := []struct {
		what  string
		attrs []attr
	}{
		{"bind", []attr{{cfgCmd, []byte{cmdBind, 0, 0, 0}}}},
		{"copy mode", []attr{{cfgParams, append(be32(0), copyMeta)}}},
		{"queue-maxlen", []attr{{cfgQueueMaxlen, be32(d.cfg.MaxHeld)}}},
		{"fail-open", []attr{{cfgFlags, be32(flagFailOpen | flagGSO)}, {cfgMask, be32(flagFailOpen | flagGSO)}}},
	}
	for _, s := range steps {
		seq, err := d.send(msgConfig, unix.NLM_F_ACK, s.attrs)
		if err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
		if err := d.waitAck(seq); err != nil {
			if s.what == "bind" && (errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EPERM)) {
				return fmt.Errorf("bind: another program serves this queue number: %w", err)
			}
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return nil
}

// attr is one netlink attribute.
type attr struct {
	typ  uint16
	data []byte
}

// send writes one nfnetlink queue message and returns its sequence number.
func (d *Delayer) send(msg uint16, flags uint16, attrs []attr) (uint32, error) {
	seq := d.seq.Add(1)
	b := make([]byte, unix.NLMSG_HDRLEN+nfnlHeaderLen, 64)
	for _, a := range attrs {
		n := unix.SizeofRtAttr + len(a.data)
		b = binary.NativeEndian.AppendUint16(b, uint16(n))
		b = binary.NativeEndian.AppendUint16(b, a.typ)
		b = append(b, a.data...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], subsysQueue<<8|msg)
	binary.NativeEndian.PutUint16(b[6:], unix.NLM_F_REQUEST|flags)
	binary.NativeEndian.PutUint32(b[8:], seq)
	binary.NativeEndian.PutUint32(b[12:], 0)
	// nfgenmsg: family AF_UNSPEC, version 0, the queue number.
	b[16], b[17] = unix.AF_UNSPEC, 0
	binary.BigEndian.PutUint16(b[18:], d.cfg.Queue)
	var serr error
	err := d.rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return serr != unix.EAGAIN
	})
	if err == nil {
		err = serr
	}
	return seq, err
}

// recv reads one datagram into buf.
func (d *Delayer) recv(buf []byte) (int, error) {
	var n int
	var rerr error
	err := d.rc.Read(func(fd uintptr) bool {
		n, _, rerr = unix.Recvfrom(int(fd), buf, 0)
		return rerr != unix.EAGAIN
	})
	if err != nil {
		return 0, err
	}
	return n, rerr
}

// waitAck reads until the acknowledgement of seq; packets read meanwhile
// are queued as usual.
func (d *Delayer) waitAck(seq uint32) error {
	buf := make([]byte, 1<<16)
	deadline := time.Now().Add(5 * time.Second)
	if err := d.f.SetReadDeadline(deadline); err != nil {
		return err
	}
	defer d.f.SetReadDeadline(time.Time{})
	for {
		n, err := d.recv(buf)
		if err != nil {
			return fmt.Errorf("read acknowledgement: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("parse acknowledgement: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Type == unix.NLMSG_ERROR && m.Header.Seq == seq {
				return nlError(m.Data)
			}
			d.handle(m)
		}
	}
}

// nlError decodes an NLMSG_ERROR payload: 0 is an acknowledgement.
func nlError(data []byte) error {
	if len(data) < 4 {
		return errors.New("short netlink error message")
	}
	if code := int32(binary.NativeEndian.Uint32(data)); code != 0 {
		return syscall.Errno(-code)
	}
	return nil
}

// read receives queued packets until the socket is closed.
func (d *Delayer) read() {
	defer close(d.readDone)
	buf := make([]byte, 1<<16)
	for {
		n, err := d.recv(buf)
		if errors.Is(err, os.ErrClosed) {
			return
		}
		if errors.Is(err, unix.ENOBUFS) {
			continue // the kernel let the overflow through (fail-open)
		}
		if err != nil {
			d.fail(fmt.Errorf("netdelay: read: %w", err))
			return
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			d.fail(fmt.Errorf("netdelay: parse: %w", err))
			continue
		}
		for _, m := range msgs {
			d.handle(m)
		}
	}
}

// handle queues a packet message; anything else is ignored, except an
// error answering a verdict, which is kept.
func (d *Delayer) handle(m syscall.NetlinkMessage) {
	if m.Header.Type == unix.NLMSG_ERROR {
		// ENOENT: the packets were gone already (the kernel flushes the
		// queued packets of an interface that goes down).
		if err := nlError(m.Data); err != nil && !errors.Is(err, unix.ENOENT) {
			d.fail(fmt.Errorf("netdelay: verdict refused: %w", err))
		}
		return
	}
	if m.Header.Type != subsysQueue<<8|msgPacket || len(m.Data) < nfnlHeaderLen {
		return
	}
	id, ok := packetID(m.Data[nfnlHeaderLen:])
	if !ok {
		return
	}
	hold := d.cfg.Delay
	if d.cfg.Jitter > 0 {
		hold += time.Duration(d.rand.Int64N(int64(2*d.cfg.Jitter)+1)) - d.cfg.Jitter
	}
	due := time.Now().Add(hold)
	d.mu.Lock()
	if n := len(d.queue); n > 0 && due.Before(d.queue[n-1].due) {
		due = d.queue[n-1].due // FIFO: never before the packet ahead
	}
	wasEmpty := len(d.queue) == 0
	d.queue = append(d.queue, held{id: id, due: due})
	d.last = id
	d.stats.MaxHeld = max(d.stats.MaxHeld, len(d.queue))
	d.mu.Unlock()
	if wasEmpty {
		select {
		case d.kick <- struct{}{}:
		default:
		}
	}
}

// packetID finds NFQA_PACKET_HDR's packet id among the attributes.
func packetID(b []byte) (uint32, bool) {
	for len(b) >= unix.SizeofRtAttr {
		l := int(binary.NativeEndian.Uint16(b))
		typ := binary.NativeEndian.Uint16(b[2:]) & 0x3fff // without NLA_F_NESTED, NLA_F_NET_BYTEORDER
		if l < unix.SizeofRtAttr || l > len(b) {
			return 0, false
		}
		if typ == attrPacketHdr && l >= unix.SizeofRtAttr+4 {
			return binary.BigEndian.Uint32(b[unix.SizeofRtAttr:]), true
		}
		b = b[min((l+3)&^3, len(b)):]
	}
	return 0, false
}

// release accepts packets as they fall due, until Close.
func (d *Delayer) release() {
	defer close(d.relDone)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		d.mu.Lock()
		now := time.Now()
		i := 0
		for i < len(d.queue) && !d.queue[i].due.After(now) {
			i++
		}
		var lastDue uint32
		if i > 0 {
			lastDue = d.queue[i-1].id
			d.queue = d.queue[i:]
			d.stats.Delayed += uint64(i)
		}
		wait := time.Hour
		if len(d.queue) > 0 {
			wait = d.queue[0].due.Sub(now)
		}
		d.mu.Unlock()
		if i > 0 {
			if err := d.verdictUpTo(lastDue); err != nil {
				d.fail(err)
			}
		}
		t.Reset(wait)
		select {
		case <-d.stop:
			return
		case <-d.kick:
		case <-t.C:
		}
	}
}

// verdictUpTo accepts every queued packet whose id is not after id.
func (d *Delayer) verdictUpTo(id uint32) error {
	v := binary.BigEndian.AppendUint32(nil, verdictAccept)
	v = binary.BigEndian.AppendUint32(v, id)
	if _, err := d.send(msgVerdictBatch, 0, []attr{{attrVerdictHdr, v}}); err != nil {
		return fmt.Errorf("netdelay: verdict: %w", err)
	}
	return nil
}

func (d *Delayer) fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err == nil && !d.closed {
		d.err = err
	}
}

// Stats returns what the Delayer did so far.
func (d *Delayer) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// Held is how many packets wait now.
func (d *Delayer) Held() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queue)
}

// Close accepts every packet still held, unbinds the queue, closes the
// socket and waits for the Delayer's goroutines. It returns the first
// error the Delayer met while running. Safe to call twice.
func (d *Delayer) Close() error {
	var err error
	d.once.Do(func() {
		close(d.stop)
		<-d.relDone // no verdict is sent from here on but ours
		d.mu.Lock()
		d.closed = true
		d.stats.Delayed += uint64(len(d.queue))
		d.queue = nil
		last := d.last
		d.mu.Unlock()
		// No packet is queued from here on (a steering rule that could not
		// be removed still lets them through: bypass, once we unbind)...
		var errs []error
		if d.steered {
			errs = append(errs, unsteer(d.ns, d.cfg))
		}
		// ... and everything queued in the kernel, read or not yet, goes
		// on: ids run ahead of the last one seen.
		errs = append(errs, d.verdictUpTo(last+verdictBatchAhead))
		if _, uerr := d.send(msgConfig, 0, []attr{{cfgCmd, []byte{cmdUnbind, 0, 0, 0}}}); uerr != nil {
			errs = append(errs, fmt.Errorf("netdelay: unbind: %w", uerr))
		}
		errs = append(errs, d.f.Close())
		<-d.readDone
		d.mu.Lock()
		errs = append([]error{d.err}, errs...)
		d.mu.Unlock()
		err = errors.Join(errs...)
	})
	return err
}
