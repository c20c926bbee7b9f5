package etcdapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"coordlab/client"
)

// Config configures a Client.
type Config struct {
	// Endpoint is the member's client URL or host:port. Required.
	Endpoint string
	// Node names the member in errors and in Node(); default Endpoint.
	Node string
	// ReadMode is client.Linearizable (default) or client.Serializable.
	ReadMode client.ReadMode
	// Prefix is prepended to every key, lock and election name; default "".
	Prefix string
	// DialTimeout bounds clientv3's internal waits (lease keep-alive
	// timeouts); default 2 s. Each op is bounded by its ctx.
	DialTimeout time.Duration
	// Logger receives state changes; nil discards.
	Logger *slog.Logger
}

// Validate names the field of every broken rule.
func (c Config) Validate() error {
	var errs []error
	if c.Endpoint == "" {
		errs = append(errs, errors.New("etcdapi: Endpoint: empty: want the member's client URL, e.g. http://127.0.0.1:2379"))
	}
	if c.ReadMode != 0 && !c.ReadMode.Etcd() {
		errs = append(errs, fmt.Errorf("etcdapi: ReadMode: %v is a ZooKeeper mode: want linearizable or serializable", c.ReadMode))
	}
	if c.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("etcdapi: DialTimeout: %v: want >= 0", c.DialTimeout))
	}
	return errors.Join(errs...)
}

// Client is a client.Client on one etcd member.
type Client struct {
	cfg    Config
	cli    *clientv3.Client
	log    *slog.Logger
	wg     sync.WaitGroup // watch goroutines
	mu     sync.Mutex
	closed bool
}

var (
	_ client.Client            = (*Client)(nil)
	_ client.ProgressRequester = (*Client)(nil)
)

// New makes a Client. It does not connect: the first op does, so a member
// that is down shows up as a definite error on that op.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ReadMode == 0 {
		cfg.ReadMode = client.Linearizable
	}
	if cfg.Node == "" {
		cfg.Node = cfg.Endpoint
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 2 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{cfg.Endpoint},
		DialTimeout: cfg.DialTimeout,
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(traceInterceptor)},
	})
	if err != nil {
		return nil, fmt.Errorf("etcdapi: client for %s: %w", cfg.Endpoint, err)
	}
	return &Client{cfg: cfg, cli: cli, log: log.With("node", cfg.Node)}, nil
}

// Node names the member.
func (c *Client) Node() string { return c.cfg.Node }

func (c *Client) key(k string) string { return c.cfg.Prefix + k }

// Get reads key with the configured read mode.
func (c *Client) Get(ctx context.Context, key string) (client.Versioned, error) {
	ctx, tr := withTrace(ctx)
	var opts []clientv3.OpOption
	if c.cfg.ReadMode == client.Serializable {
		opts = append(opts, clientv3.WithSerializable())
	}
	resp, err := c.cli.Get(ctx, c.key(key), opts...)
	if err != nil {
		return client.Versioned{}, c.classify(ctx, tr, "get", key, err, true)
	}
	v := client.Versioned{Revision: resp.Header.Revision}
	if len(resp.Kvs) > 0 {
		kv := resp.Kvs[0]
		v.Value, v.Found, v.Version = string(kv.Value), true, kv.ModRevision
	}
	return v, nil
}

// Put writes key; Version is the new mod revision.
func (c *Client) Put(ctx context.Context, key, value string) (client.Versioned, error) {
	ctx, tr := withTrace(ctx)
	resp, err := c.cli.Put(ctx, c.key(key), value)
	if err != nil {
		return client.Versioned{}, c.classify(ctx, tr, "put", key, err, false)
	}
	rev := resp.Header.Revision
	return client.Versioned{Value: value, Found: true, Version: rev, Revision: rev}, nil
}

// CompareAndSet writes new if key holds old, in one Txn.
func (c *Client) CompareAndSet(ctx context.Context, key, old, new string) (bool, client.Versioned, error) {
	ctx, tr := withTrace(ctx)
	k := c.key(key)
	resp, err := c.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.Value(k), "=", old)).
		Then(clientv3.OpPut(k, new)).
		Else(clientv3.OpGet(k)).
		Commit()
	if err != nil {
		return false, client.Versioned{}, c.classify(ctx, tr, "cas", key, err, false)
	}
	rev := resp.Header.Revision
	if resp.Succeeded {
		return true, client.Versioned{Value: new, Found: true, Version: rev, Revision: rev}, nil
	}
	v := client.Versioned{Revision: rev}
	if len(resp.Responses) > 0 {
		if r := resp.Responses[0].GetResponseRange(); r != nil && len(r.Kvs) > 0 {
			v.Value, v.Found, v.Version = string(r.Kvs[0].Value), true, r.Kvs[0].ModRevision
		}
	}
	return false, v, nil
}

// Delete removes key.
func (c *Client) Delete(ctx context.Context, key string) error {
	ctx, tr := withTrace(ctx)
	if _, err := c.cli.Delete(ctx, c.key(key)); err != nil {
		return c.classify(ctx, tr, "delete", key, err, false)
	}
	return nil
}

// Watch streams changes under prefix from revision fromVersion (inclusive;
// 0 = from now), with prev values and progress notifications.
func (c *Client) Watch(ctx context.Context, prefix string, fromVersion int64) (<-chan client.WatchEvent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, client.Definite("watch", prefix, c.cfg.Node, client.ErrClosed)
	}
	if fromVersion < 0 {
		return nil, client.Definite("watch", prefix, c.cfg.Node, fmt.Errorf("%w: fromVersion %d: want >= 0", client.ErrBadArgument, fromVersion))
	}
	opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithPrevKV(), clientv3.WithProgressNotify()}
	if fromVersion > 0 {
		opts = append(opts, clientv3.WithRev(fromVersion))
	}
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	src := c.cli.Watch(wctx, c.key(prefix), opts...)
	out := make(chan client.WatchEvent, 64)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer cancel()
		defer close(out)
		c.pumpWatch(ctx, prefix, src, out)
	}()
	return out, nil
}

func (c *Client) pumpWatch(ctx context.Context, prefix string, src clientv3.WatchChan, out chan<- client.WatchEvent) {
	send := func(ev client.WatchEvent) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for resp := range src {
		if resp.CompactRevision != 0 {
			send(client.WatchEvent{Type: client.EventCompacted, Revision: resp.CompactRevision,
				Err: fmt.Errorf("%w: watch %s from a revision compacted at %d", client.ErrCompacted, prefix, resp.CompactRevision)})
			return
		}
		if err := resp.Err(); err != nil {
			send(client.WatchEvent{Type: client.EventError, Revision: resp.Header.Revision, Err: c.classify(ctx, nil, "watch", prefix, err, true)})
			return
		}
		if resp.IsProgressNotify() {
			if !send(client.WatchEvent{Type: client.EventProgress, Revision: resp.Header.Revision}) {
				return
			}
			continue
		}
		for _, ev := range resp.Events {
			we := client.WatchEvent{
				Key:           strings.TrimPrefix(string(ev.Kv.Key), c.cfg.Prefix),
				Value:         string(ev.Kv.Value),
				Version:       ev.Kv.ModRevision,
				CreateVersion: ev.Kv.CreateRevision,
				Created:       ev.IsCreate(),
				Revision:      resp.Header.Revision,
			}
			if ev.Type == clientv3.EventTypeDelete {
				we.Type, we.Value, we.CreateVersion = client.EventDelete, "", 0
			} else {
				we.Type = client.EventPut
			}
			if ev.PrevKv != nil {
				p := string(ev.PrevKv.Value)
				we.PrevValue = &p
				if ev.Type == clientv3.EventTypeDelete {
					we.CreateVersion = ev.PrevKv.CreateRevision
				}
			}
			if !send(we) {
				return
			}
		}
	}
	if ctx.Err() == nil {
		send(client.WatchEvent{Type: client.EventError, Err: client.Indefinite("watch", prefix, c.cfg.Node, fmt.Errorf("%w: watch channel closed", client.ErrConnLost))})
	}
}

// RequestProgress asks the member to send a progress notification on this
// client's watches (client.ProgressRequester).
func (c *Client) RequestProgress(ctx context.Context) error {
	ctx, tr := withTrace(ctx)
	// Watches run with require-leader metadata, which names their stream.
	if err := c.cli.RequestProgress(clientv3.WithRequireLeader(ctx)); err != nil {
		return c.classify(ctx, tr, "progress", "", err, true)
	}
	return nil
}

// Session is an etcd lease kept alive by clientv3/concurrency.
type Session struct {
	s   *concurrency.Session
	cli *Client
}

var _ client.Session = (*Session)(nil)

// Done is closed when the lease expires or its keep-alive stops.
func (s *Session) Done() <-chan struct{} { return s.s.Done() }

// ID is the lease ID.
func (s *Session) ID() int64 { return int64(s.s.Lease()) }

// Close stops the keep-alive and revokes the lease.
func (s *Session) Close(ctx context.Context) error {
	s.s.Orphan()
	ctx, tr := withTrace(ctx)
	if _, err := s.cli.cli.Revoke(ctx, s.s.Lease()); err != nil {
		return s.cli.classify(ctx, tr, "session-close", "", err, false)
	}
	return nil
}

// NewSession grants a lease of ttl (rounded up to whole seconds, at least 1)
// and keeps it alive.
func (c *Client) NewSession(ctx context.Context, ttl time.Duration) (client.Session, error) {
	if ttl <= 0 {
		return nil, client.Definite("session", "", c.cfg.Node, fmt.Errorf("%w: ttl %v: want > 0", client.ErrBadArgument, ttl))
	}
	secs := int64(math.Ceil(ttl.Seconds()))
	ctx, tr := withTrace(ctx)
	g, err := c.cli.Grant(ctx, secs)
	if err != nil {
		return nil, c.classify(ctx, tr, "session", "", err, false)
	}
	s, err := concurrency.NewSession(c.cli, concurrency.WithLease(g.ID), concurrency.WithTTL(int(secs)))
	if err != nil {
		return nil, c.classify(ctx, tr, "session", "", err, false)
	}
	return &Session{s: s, cli: c}, nil
}

func (c *Client) session(op, name string, s client.Session) (*Session, error) {
	es, ok := s.(*Session)
	if !ok || es.cli != c {
		return nil, client.Definite(op, name, c.cfg.Node, fmt.Errorf("%w: session %T is not from this etcdapi client", client.ErrBadArgument, s))
	}
	return es, nil
}

func (c *Client) lockPrefix(name string) string { return c.cfg.Prefix + "/coordlab/lock/" + name }
func (c *Client) electionPrefix(name string) string {
	return c.cfg.Prefix + "/coordlab/election/" + name
}

// Lock acquires the named lock with a concurrency.Mutex; the token is the
// mutex key's create revision.
func (c *Client) Lock(ctx context.Context, s client.Session, name string) (int64, func(context.Context) error, error) {
	es, err := c.session("lock", name, s)
	if err != nil {
		return 0, nil, err
	}
	ctx, tr := withTrace(ctx)
	m := concurrency.NewMutex(es.s, c.lockPrefix(name))
	if err := c.bounded(ctx, func() error { return m.Lock(ctx) }); err != nil {
		return 0, nil, c.classify(ctx, tr, "lock", name, err, false)
	}
	owner := m.IsOwner()
	token := owner.GetCompare().GetCreateRevision()
	unlock := func(ctx context.Context) error {
		ctx, tr := withTrace(ctx)
		if err := m.Unlock(ctx); err != nil {
			return c.classify(ctx, tr, "unlock", name, err, false)
		}
		return nil
	}
	return token, unlock, nil
}

// cleanupGrace is how long bounded lets a cancelled recipe finish its own
// clean-up before it closes the client.
const cleanupGrace = time.Second

// bounded runs a clientv3 concurrency recipe (Mutex.Lock, Election.Campaign)
// so that it returns soon after ctx ends. Cancelled, those recipes delete
// their key with the client's own context, which has no deadline: against a
// member whose address vanished (a killed container) that call never
// returns. So when ctx has ended and the recipe has not returned within
// cleanupGrace, the client is closed, which cancels its context; the op is
// then indeterminate (its key may exist), and the caller retires this client
// as it does after any indeterminate op.
func (c *Client) bounded(ctx context.Context, recipe func() error) error {
	done := make(chan error, 1)
	go func() { done <- recipe() }() // ends when recipe returns; awaited below
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	select {
	case err := <-done:
		return err
	case <-time.After(cleanupGrace):
	}
	c.cli.Close()
	<-done
	return ctx.Err()
}

// Campaign blocks until s leads election with value; term is the leader
// key's create revision.
func (c *Client) Campaign(ctx context.Context, s client.Session, election, value string) (int64, func(context.Context) error, error) {
	es, err := c.session("campaign", election, s)
	if err != nil {
		return 0, nil, err
	}
	ctx, tr := withTrace(ctx)
	e := concurrency.NewElection(es.s, c.electionPrefix(election))
	if err := c.bounded(ctx, func() error { return e.Campaign(ctx, value) }); err != nil {
		return 0, nil, c.classify(ctx, tr, "campaign", election, err, false)
	}
	term := e.Rev()
	resign := func(ctx context.Context) error {
		ctx, tr := withTrace(ctx)
		if err := e.Resign(ctx); err != nil {
			return c.classify(ctx, tr, "resign", election, err, false)
		}
		return nil
	}
	return term, resign, nil
}

// Leader returns the value and term of the election's first-created key.
func (c *Client) Leader(ctx context.Context, election string) (string, int64, error) {
	ctx, tr := withTrace(ctx)
	var opts []clientv3.OpOption
	opts = append(opts, clientv3.WithFirstCreate()...)
	if c.cfg.ReadMode == client.Serializable {
		opts = append(opts, clientv3.WithSerializable())
	}
	resp, err := c.cli.Get(ctx, c.electionPrefix(election)+"/", opts...)
	if err != nil {
		return "", 0, c.classify(ctx, tr, "leader", election, err, true)
	}
	if len(resp.Kvs) == 0 {
		return "", 0, client.Definite("leader", election, c.cfg.Node, client.ErrNoLeader)
	}
	return string(resp.Kvs[0].Value), resp.Kvs[0].CreateRevision, nil
}

// Close closes the connection and waits for watch goroutines.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	err := c.cli.Close()
	c.wg.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("etcdapi: close %s: %w", c.cfg.Node, err)
	}
	return nil
}
