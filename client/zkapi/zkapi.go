package zkapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"coordlab/client"
)

// Config configures a Client.
type Config struct {
	// Server is the member's host:port. Required.
	Server string
	// Node names the member in errors and in Node(); default Server.
	Node string
	// ReadMode is client.Local (default, ZooKeeper's own) or client.Sync.
	ReadMode client.ReadMode
	// Root is the znode under which keys live; default "/coordlab".
	Root string
	// SessionTimeout of the client's own connection; default 4 s.
	SessionTimeout time.Duration
	// ConnectTimeout bounds how long New and NewSession wait for a
	// session; default 5 s. New returns the client anyway (its ops fail
	// definitely until it connects); NewSession fails.
	ConnectTimeout time.Duration
	// Logger receives go-zk's messages at debug level; nil discards.
	Logger *slog.Logger
}

// Validate names the field of every broken rule.
func (c Config) Validate() error {
	var errs []error
	if c.Server == "" {
		errs = append(errs, errors.New("zkapi: Server: empty: want the member's host:port, e.g. 127.0.0.1:2181"))
	}
	if c.ReadMode != 0 && !c.ReadMode.ZooKeeper() {
		errs = append(errs, fmt.Errorf("zkapi: ReadMode: %v is an etcd mode: want sync or local", c.ReadMode))
	}
	if c.Root != "" && (!strings.HasPrefix(c.Root, "/") || strings.HasSuffix(c.Root, "/") || path.Clean(c.Root) != c.Root) {
		errs = append(errs, fmt.Errorf("zkapi: Root: %q: want an absolute znode path without a trailing slash, e.g. /coordlab", c.Root))
	}
	if c.SessionTimeout < 0 || c.ConnectTimeout < 0 {
		errs = append(errs, errors.New("zkapi: SessionTimeout, ConnectTimeout: want >= 0"))
	}
	return errors.Join(errs...)
}

var acl = zk.WorldACL(zk.PermAll)

type zkLogger struct{ l *slog.Logger }

func (z zkLogger) Printf(format string, args ...any) { z.l.Debug(fmt.Sprintf(format, args...)) }

// conn is one zk.Conn (one ZooKeeper session) and its expiry signal.
type conn struct {
	c       *zk.Conn
	expired chan struct{} // closed on StateExpired or Close
	once    sync.Once
	session chan struct{} // closed on the first StateHasSession
	sonce   sync.Once
}

func dial(server string, timeout time.Duration, log *slog.Logger) (*conn, error) {
	cn := &conn{expired: make(chan struct{}), session: make(chan struct{})}
	cb := func(ev zk.Event) {
		switch ev.State {
		case zk.StateHasSession:
			cn.sonce.Do(func() { close(cn.session) })
		case zk.StateExpired:
			cn.once.Do(func() { close(cn.expired) })
		}
	}
	c, _, err := zk.Connect([]string{server}, timeout, zk.WithEventCallback(cb), zk.WithLogger(zkLogger{log}), zk.WithLogInfo(false))
	if err != nil {
		return nil, err
	}
	cn.c = c
	return cn, nil
}

func (cn *conn) close() {
	cn.c.Close()
	cn.once.Do(func() { close(cn.expired) })
}

// Client is a client.Client on one ZooKeeper member.
type Client struct {
	cfg     Config
	main    *conn
	log     *slog.Logger
	wg      sync.WaitGroup // request and watch goroutines
	parents sync.Map       // znode paths known to exist
	mu      sync.Mutex
	closed  bool
	conns   map[*conn]bool // session conns still open
}

var _ client.Client = (*Client)(nil)

// New connects to cfg.Server and waits up to ConnectTimeout for a session.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ReadMode == 0 {
		cfg.ReadMode = client.Local
	}
	if cfg.Node == "" {
		cfg.Node = cfg.Server
	}
	if cfg.Root == "" {
		cfg.Root = "/coordlab"
	}
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = 4 * time.Second
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("node", cfg.Node)
	cn, err := dial(cfg.Server, cfg.SessionTimeout, log)
	if err != nil {
		return nil, fmt.Errorf("zkapi: connect %s: %w", cfg.Server, err)
	}
	select {
	case <-cn.session:
	case <-time.After(cfg.ConnectTimeout):
		log.Warn("no session yet; ops fail until one is established", "server", cfg.Server)
	}
	return &Client{cfg: cfg, main: cn, log: log, conns: map[*conn]bool{}}, nil
}

// Node names the member.
func (c *Client) Node() string { return c.cfg.Node }

func (c *Client) path(key string) string {
	return c.cfg.Root + "/" + strings.Trim(key, "/")
}

// do runs f, which issues go-zk requests on cn, on a goroutine the Client
// owns, and returns its error classified, or a timeout when ctx ends first.
func (c *Client) do(ctx context.Context, cn *conn, op, key string, readOnly bool, f func() error) error {
	if cn.c.State() != zk.StateHasSession {
		return client.Definite(op, key, c.cfg.Node, fmt.Errorf("%w: no session with %s (state %v): request not sent", client.ErrUnavailable, c.cfg.Server, cn.c.State()))
	}
	if err := ctx.Err(); err != nil {
		return client.Definite(op, key, c.cfg.Node, fmt.Errorf("%w: %w: request not sent", client.ErrTimeout, err))
	}
	done := make(chan error, 1)
	c.wg.Go(func() { done <- f() })
	select {
	case err := <-done:
		if err == nil {
			return nil
		}
		return c.classify(op, key, err, readOnly)
	case <-ctx.Done():
		return &client.OpError{Op: op, Key: key, Node: c.cfg.Node, Definite: readOnly, Err: fmt.Errorf("%w: %w", client.ErrTimeout, ctx.Err())}
	}
}

// errNotReadOnly is how go-zk reports ZooKeeper's NOTREADONLY (-119), which
// it has no error value for.
const errNotReadOnly = "unknown error: -119"

// classify sorts a go-zk error.
func (c *Client) classify(op, key string, err error, readOnly bool) error {
	var sentinel error
	definite := readOnly
	switch {
	case errors.Is(err, zk.ErrNoServer):
		definite, sentinel = true, client.ErrUnavailable
	case errors.Is(err, zk.ErrNoNode):
		definite, sentinel = true, client.ErrNotFound
	case errors.Is(err, zk.ErrBadVersion), errors.Is(err, zk.ErrNodeExists), errors.Is(err, zk.ErrNotEmpty),
		errors.Is(err, zk.ErrNoAuth), errors.Is(err, zk.ErrBadArguments), errors.Is(err, zk.ErrInvalidACL),
		errors.Is(err, zk.ErrInvalidFlags), errors.Is(err, zk.ErrNoChildrenForEphemerals), errors.Is(err, zk.ErrInvalidPath):
		definite = true
	case errors.Is(err, zk.ErrSessionExpired):
		sentinel = client.ErrSessionExpired
	case errors.Is(err, zk.ErrConnectionClosed), errors.Is(err, zk.ErrSessionMoved):
		sentinel = client.ErrConnLost
	case errors.Is(err, zk.ErrClosing):
		sentinel = client.ErrClosed
	case errors.Is(err, zk.ErrReconfigDisabled):
		definite = true
	case err.Error() == errNotReadOnly:
		// A read-only server (ZooKeeper's read-only mode, zab's on a
		// failed disk) refused the change: it was not applied.
		definite, sentinel = true, client.ErrUnavailable
	}
	if sentinel != nil {
		err = fmt.Errorf("%w: %w", sentinel, err)
	}
	return &client.OpError{Op: op, Key: key, Node: c.cfg.Node, Definite: definite, Err: err}
}

// ensure creates p and its ancestors (empty, persistent) if missing.
func (c *Client) ensure(cn *conn, p string) error {
	if _, ok := c.parents.Load(p); ok || p == "/" || p == "" {
		return nil
	}
	if err := c.ensure(cn, path.Dir(p)); err != nil {
		return err
	}
	if _, err := cn.c.Create(p, nil, 0, acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return err
	}
	c.parents.Store(p, true)
	return nil
}

func (c *Client) syncIfAsked(cn *conn, p string) error {
	if c.cfg.ReadMode != client.Sync {
		return nil
	}
	if _, err := cn.c.Sync(p); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	return nil
}

// Get reads key: Local straight from the member, Sync after sync.
func (c *Client) Get(ctx context.Context, key string) (client.Versioned, error) {
	p := c.path(key)
	var v client.Versioned
	err := c.do(ctx, c.main, "get", key, true, func() error {
		if err := c.syncIfAsked(c.main, p); err != nil {
			return err
		}
		data, st, err := c.main.c.Get(p)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		v = client.Versioned{Value: string(data), Found: true, Version: st.Mzxid}
		return nil
	})
	if err != nil {
		return client.Versioned{}, err
	}
	return v, nil
}

// Put sets key with version -1, creating it (and its parents) if missing.
func (c *Client) Put(ctx context.Context, key, value string) (client.Versioned, error) {
	p := c.path(key)
	var v client.Versioned
	err := c.do(ctx, c.main, "put", key, false, func() error {
		st, err := c.put(c.main, p, []byte(value))
		if err != nil {
			return err
		}
		v = client.Versioned{Value: value, Found: true, Version: st.Mzxid, Revision: st.Mzxid}
		return nil
	})
	if err != nil {
		return client.Versioned{}, err
	}
	return v, nil
}

func (c *Client) put(cn *conn, p string, data []byte) (*zk.Stat, error) {
	for range 3 {
		st, err := cn.c.Set(p, data, -1)
		if !errors.Is(err, zk.ErrNoNode) {
			return st, err
		}
		if err := c.ensure(cn, path.Dir(p)); err != nil {
			return nil, err
		}
		// Create and set in one txn: Create returns no Stat, the set does,
		// and both carry the txn's zxid.
		mr, err := cn.c.Multi(&zk.CreateRequest{Path: p, Data: data, Acl: acl}, &zk.SetDataRequest{Path: p, Data: data, Version: 0})
		if errors.Is(err, zk.ErrNodeExists) || (err == nil && len(mr) > 0 && errors.Is(mr[0].Error, zk.ErrNodeExists)) {
			continue // created meanwhile: set it
		}
		if err != nil {
			return nil, err
		}
		if len(mr) != 2 || mr[1].Stat == nil {
			return nil, fmt.Errorf("zkapi: create %s: unexpected multi reply %+v", p, mr)
		}
		return mr[1].Stat, nil
	}
	return nil, fmt.Errorf("zkapi: put %s: node created and deleted concurrently 3 times", p)
}

// CompareAndSet reads key, compares the read's data with old, and sets new
// with the version read. A lost race is ok=false with the read's value.
func (c *Client) CompareAndSet(ctx context.Context, key, old, new string) (bool, client.Versioned, error) {
	p := c.path(key)
	var ok bool
	var v client.Versioned
	err := c.do(ctx, c.main, "cas", key, false, func() error {
		if err := c.syncIfAsked(c.main, p); err != nil {
			return err
		}
		data, st, err := c.main.c.Get(p)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		v = client.Versioned{Value: string(data), Found: true, Version: st.Mzxid}
		if string(data) != old {
			return nil
		}
		st2, err := c.main.c.Set(p, []byte(new), st.Version)
		if errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNoNode) {
			return nil // changed since the read: the compare failed
		}
		if err != nil {
			return err
		}
		ok, v = true, client.Versioned{Value: new, Found: true, Version: st2.Mzxid, Revision: st2.Mzxid}
		return nil
	})
	if err != nil {
		return false, client.Versioned{}, err
	}
	return ok, v, nil
}

// Delete removes key (any version); a missing key is not an error.
func (c *Client) Delete(ctx context.Context, key string) error {
	p := c.path(key)
	return c.do(ctx, c.main, "delete", key, false, func() error {
		if err := c.main.c.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return err
		}
		return nil
	})
}

// Session is a ZooKeeper session on its own connection.
type Session struct {
	cn  *conn
	cli *Client
}

var _ client.Session = (*Session)(nil)

// Done is closed when the session expires or is closed.
func (s *Session) Done() <-chan struct{} { return s.cn.expired }

// ID is the ZooKeeper session ID.
func (s *Session) ID() int64 { return s.cn.c.SessionID() }

// Close ends the session (its ephemeral nodes go with it).
func (s *Session) Close(ctx context.Context) error {
	s.cli.mu.Lock()
	delete(s.cli.conns, s.cn)
	s.cli.mu.Unlock()
	s.cn.close()
	return nil
}

// NewSession opens a new connection with session timeout ttl and waits for
// its session. When it expires, the connection is closed (go-zk would
// otherwise reconnect with a new session) and Done closes.
func (c *Client) NewSession(ctx context.Context, ttl time.Duration) (client.Session, error) {
	if ttl <= 0 {
		return nil, client.Definite("session", "", c.cfg.Node, fmt.Errorf("%w: ttl %v: want > 0", client.ErrBadArgument, ttl))
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, client.Definite("session", "", c.cfg.Node, client.ErrClosed)
	}
	c.mu.Unlock()
	cn, err := dial(c.cfg.Server, ttl, c.log)
	if err != nil {
		return nil, client.Definite("session", "", c.cfg.Node, err)
	}
	select {
	case <-cn.session:
	case <-ctx.Done():
		cn.close()
		return nil, client.Definite("session", "", c.cfg.Node, fmt.Errorf("%w: no session within the deadline: %w", client.ErrTimeout, ctx.Err()))
	}
	c.mu.Lock()
	c.conns[cn] = true
	c.mu.Unlock()
	c.wg.Go(func() {
		<-cn.expired
		cn.c.Close()
	})
	return &Session{cn: cn, cli: c}, nil
}

func (c *Client) session(op, name string, s client.Session) (*Session, error) {
	zs, ok := s.(*Session)
	if !ok || zs.cli != c {
		return nil, client.Definite(op, name, c.cfg.Node, fmt.Errorf("%w: session %T is not from this zkapi client", client.ErrBadArgument, s))
	}
	return zs, nil
}

// seqOf parses the 10-digit sequence suffix of a sequential node name.
func seqOf(name string) (int64, bool) {
	if len(name) < 10 {
		return 0, false
	}
	n, err := strconv.ParseInt(name[len(name)-10:], 10, 64)
	return n, err == nil
}

// queue implements the ephemeral-sequential recipe shared by Lock and
// Campaign: create a protected ephemeral-sequential node with data under
// dir, then wait until it is the lowest, watching only its predecessor.
// It returns the node's sequence number and path.
func (c *Client) queue(ctx context.Context, s *Session, op, name, dir, prefix string, data []byte) (int64, string, error) {
	var me string
	err := c.do(ctx, s.cn, op, name, false, func() error {
		if err := c.ensure(s.cn, dir); err != nil {
			return err
		}
		p, err := s.cn.c.CreateProtectedEphemeralSequential(dir+"/"+prefix, data, acl)
		me = p
		return err
	})
	if err != nil {
		return 0, "", err
	}
	mySeq, ok := seqOf(me)
	if !ok {
		return 0, "", client.Indefinite(op, name, c.cfg.Node, fmt.Errorf("zkapi: created node %s has no sequence number", me))
	}
	// abandon removes our node after a failure. The op stays indeterminate
	// even when that works: while it existed the node may have been the
	// lowest, so others saw us hold the lock or lead.
	abandon := func(cause error) error {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = c.do(dctx, s.cn, op, name, false, func() error {
			if err := s.cn.c.Delete(me, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
				return err
			}
			return nil
		}) // best effort: if it fails, the session's end removes the node
		var oe *client.OpError
		if errors.As(cause, &oe) {
			cause = oe.Err
		}
		return &client.OpError{Op: op, Key: name, Node: c.cfg.Node, Definite: false, Err: cause}
	}
	for {
		var children []string
		err := c.do(ctx, s.cn, op, name, true, func() error {
			ch, _, err := s.cn.c.Children(dir)
			children = ch
			return err
		})
		if err != nil {
			return 0, "", abandon(err)
		}
		var pred string
		var predSeq int64 = -1
		found := false
		for _, ch := range children {
			q, ok := seqOf(ch)
			if !ok {
				continue
			}
			if q == mySeq {
				found = true
			}
			if q < mySeq && q > predSeq {
				pred, predSeq = ch, q
			}
		}
		if !found { // our session ended after the node was created: it may have led meanwhile
			return 0, "", client.Indefinite(op, name, c.cfg.Node, fmt.Errorf("%w: our node %s is gone", client.ErrSessionExpired, me))
		}
		if pred == "" {
			return mySeq, me, nil
		}
		var exists bool
		var watch <-chan zk.Event
		err = c.do(ctx, s.cn, op, name, true, func() error {
			e, _, w, err := s.cn.c.ExistsW(dir + "/" + pred)
			exists, watch = e, w
			return err
		})
		if err != nil {
			return 0, "", abandon(err)
		}
		if !exists {
			continue
		}
		select {
		case <-watch:
		case <-s.cn.expired:
			return 0, "", client.Indefinite(op, name, c.cfg.Node, client.ErrSessionExpired)
		case <-ctx.Done():
			return 0, "", abandon(fmt.Errorf("%w: %w", client.ErrTimeout, ctx.Err()))
		}
	}
}

func (c *Client) release(ctx context.Context, s *Session, op, name, node string) error {
	return c.do(ctx, s.cn, op, name, false, func() error {
		if err := s.cn.c.Delete(node, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return err
		}
		return nil
	})
}

func (c *Client) lockDir(name string) string { return c.cfg.Root + "-lock/" + strings.Trim(name, "/") }
func (c *Client) electionDir(name string) string {
	return c.cfg.Root + "-election/" + strings.Trim(name, "/")
}

// Lock acquires the named lock; the token is the lock node's sequence number.
func (c *Client) Lock(ctx context.Context, s client.Session, name string) (int64, func(context.Context) error, error) {
	zs, err := c.session("lock", name, s)
	if err != nil {
		return 0, nil, err
	}
	seq, node, err := c.queue(ctx, zs, "lock", name, c.lockDir(name), "lock-", nil)
	if err != nil {
		return 0, nil, err
	}
	return seq, func(ctx context.Context) error { return c.release(ctx, zs, "unlock", name, node) }, nil
}

// Campaign waits until s leads election; the node's data is the value and
// its sequence number the term.
func (c *Client) Campaign(ctx context.Context, s client.Session, election, value string) (int64, func(context.Context) error, error) {
	zs, err := c.session("campaign", election, s)
	if err != nil {
		return 0, nil, err
	}
	seq, node, err := c.queue(ctx, zs, "campaign", election, c.electionDir(election), "n_", []byte(value))
	if err != nil {
		return 0, nil, err
	}
	return seq, func(ctx context.Context) error { return c.release(ctx, zs, "resign", election, node) }, nil
}

// Leader returns the data and sequence number of the election's lowest node.
func (c *Client) Leader(ctx context.Context, election string) (string, int64, error) {
	dir := c.electionDir(election)
	var value string
	var term int64
	var none bool
	err := c.do(ctx, c.main, "leader", election, true, func() error {
		if err := c.syncIfAsked(c.main, dir); err != nil {
			return err
		}
		for range 5 { // the lowest node may vanish between the listing and the read
			children, _, err := c.main.c.Children(dir)
			if errors.Is(err, zk.ErrNoNode) {
				none = true
				return nil
			}
			if err != nil {
				return err
			}
			sort.Slice(children, func(i, j int) bool {
				a, _ := seqOf(children[i])
				b, _ := seqOf(children[j])
				return a < b
			})
			if len(children) == 0 {
				none = true
				return nil
			}
			data, _, err := c.main.c.Get(dir + "/" + children[0])
			if errors.Is(err, zk.ErrNoNode) {
				continue
			}
			if err != nil {
				return err
			}
			value = string(data)
			term, _ = seqOf(children[0])
			return nil
		}
		return fmt.Errorf("zkapi: leader of %s kept changing", election)
	})
	if err != nil {
		return "", 0, err
	}
	if none {
		return "", 0, client.Definite("leader", election, c.cfg.Node, client.ErrNoLeader)
	}
	return value, term, nil
}

// Close closes every connection of the client and waits for its goroutines.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	conns := c.conns
	c.conns = nil
	c.mu.Unlock()
	for cn := range conns {
		cn.close()
	}
	c.main.close()
	c.wg.Wait()
	return nil
}
