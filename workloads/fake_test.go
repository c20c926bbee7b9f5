package workloads

import (
	"context"
	"sync"
	"time"

	"coordlab/client"
)

// memStore is an in-memory linearizable store shared by memClients.
type memStore struct {
	mu      sync.Mutex
	rev     int64
	kv      map[string]client.Versioned
	holder  map[string]int64 // lock/election name -> session id holding it
	lockRev map[string]int64
	value   map[string]string // election name -> leader value
	free    *sync.Cond
	nextSID int64
	// hook, when set, runs inside each op (for recorder timing tests).
	hook func(op string)
	// fail, when set, decides an op's error.
	fail func(op string) error
	// watch, when set, scripts a watch from a version: the events it
	// delivers at once, and whether it then ends (else it stays open, quiet).
	watch func(from int64) (evs []client.WatchEvent, end bool)
}

func newMemStore() *memStore {
	s := &memStore{kv: map[string]client.Versioned{}, holder: map[string]int64{}, lockRev: map[string]int64{}, value: map[string]string{}}
	s.free = sync.NewCond(&s.mu)
	return s
}

type memClient struct {
	s    *memStore
	node string
}

func (c *memClient) enter(op string) error {
	if c.s.hook != nil {
		c.s.hook(op)
	}
	if c.s.fail != nil {
		return c.s.fail(op)
	}
	return nil
}

func (c *memClient) Get(ctx context.Context, key string) (client.Versioned, error) {
	if err := c.enter("get"); err != nil {
		return client.Versioned{}, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	v := c.s.kv[key]
	v.Revision = c.s.rev
	return v, nil
}

func (c *memClient) Put(ctx context.Context, key, value string) (client.Versioned, error) {
	if err := c.enter("put"); err != nil {
		return client.Versioned{}, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.s.rev++
	v := client.Versioned{Value: value, Found: true, Version: c.s.rev, Revision: c.s.rev}
	c.s.kv[key] = v
	return v, nil
}

func (c *memClient) CompareAndSet(ctx context.Context, key, old, new string) (bool, client.Versioned, error) {
	if err := c.enter("cas"); err != nil {
		return false, client.Versioned{}, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	v := c.s.kv[key]
	if !v.Found || v.Value != old {
		return false, v, nil
	}
	c.s.rev++
	v = client.Versioned{Value: new, Found: true, Version: c.s.rev, Revision: c.s.rev}
	c.s.kv[key] = v
	return true, v, nil
}

func (c *memClient) Delete(ctx context.Context, key string) error {
	if err := c.enter("delete"); err != nil {
		return err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.s.rev++
	delete(c.s.kv, key)
	return nil
}

func (c *memClient) Watch(ctx context.Context, prefix string, from int64) (<-chan client.WatchEvent, error) {
	var evs []client.WatchEvent
	end := false
	if c.s.watch != nil {
		evs, end = c.s.watch(from)
	}
	ch := make(chan client.WatchEvent, len(evs))
	for _, ev := range evs {
		ch <- ev
	}
	if end {
		close(ch)
		return ch, nil
	}
	go func() {
		defer close(ch)
		<-ctx.Done()
	}()
	return ch, nil
}

type memSession struct {
	id   int64
	done chan struct{}
	once sync.Once
	s    *memStore
}

func (s *memSession) Done() <-chan struct{} { return s.done }
func (s *memSession) ID() int64             { return s.id }
func (s *memSession) Close(context.Context) error {
	s.once.Do(func() {
		close(s.done)
		s.s.mu.Lock()
		for name, h := range s.s.holder {
			if h == s.id {
				delete(s.s.holder, name)
			}
		}
		s.s.free.Broadcast()
		s.s.mu.Unlock()
	})
	return nil
}

func (c *memClient) NewSession(ctx context.Context, ttl time.Duration) (client.Session, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.s.nextSID++
	return &memSession{id: c.s.nextSID, done: make(chan struct{}), s: c.s}, nil
}

// acquire blocks until name is free or ctx ends.
func (c *memClient) acquire(ctx context.Context, s client.Session, name string) (int64, error) {
	stop := context.AfterFunc(ctx, func() {
		c.s.mu.Lock()
		c.s.free.Broadcast()
		c.s.mu.Unlock()
	})
	defer stop()
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for c.s.holder[name] != 0 {
		if ctx.Err() != nil {
			return 0, client.Definite("lock", name, c.node, ctx.Err())
		}
		c.s.free.Wait()
	}
	c.s.rev++
	c.s.holder[name] = s.ID()
	c.s.lockRev[name] = c.s.rev
	return c.s.rev, nil
}

func (c *memClient) release(name string, sid int64) func(context.Context) error {
	return func(context.Context) error {
		c.s.mu.Lock()
		defer c.s.mu.Unlock()
		if c.s.holder[name] == sid {
			delete(c.s.holder, name)
			c.s.free.Broadcast()
		}
		return nil
	}
}

func (c *memClient) Lock(ctx context.Context, s client.Session, name string) (int64, func(context.Context) error, error) {
	t, err := c.acquire(ctx, s, "lock/"+name)
	if err != nil {
		return 0, nil, err
	}
	return t, c.release("lock/"+name, s.ID()), nil
}

func (c *memClient) Campaign(ctx context.Context, s client.Session, election, value string) (int64, func(context.Context) error, error) {
	t, err := c.acquire(ctx, s, "election/"+election)
	if err != nil {
		return 0, nil, err
	}
	c.s.mu.Lock()
	c.s.value[election] = value
	c.s.mu.Unlock()
	return t, c.release("election/"+election, s.ID()), nil
}

func (c *memClient) Leader(ctx context.Context, election string) (string, int64, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.s.holder["election/"+election] == 0 {
		return "", 0, client.Definite("leader", election, c.node, client.ErrNoLeader)
	}
	return c.s.value[election], c.s.lockRev["election/"+election], nil
}

func (c *memClient) Node() string { return c.node }
func (c *memClient) Close() error { return nil }

// errIndefinite is what the fake returns for an op whose fate is unknown.
var errIndefinite = client.Indefinite("put", "", "", client.ErrTimeout)
