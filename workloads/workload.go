package workloads

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"coordlab/analysis"
	"coordlab/client"
	"coordlab/history"
	"coordlab/runfile"
)

// Config configures a workload run.
type Config struct {
	// Workload is register, lock, watch, election or config.
	Workload string `json:"workload"`
	// Concurrency is the number of worker threads (default 10).
	Concurrency int `json:"concurrency"`
	// Rate is the total ops per second; 0 means unlimited.
	Rate float64 `json:"rate"`
	// Keys is the number of register keys (default 5) or watch keys.
	Keys int `json:"keys"`
	// Seed makes each thread's choices replayable.
	Seed int64 `json:"seed"`
	// ReadMode is recorded on reads (extra.read_mode).
	ReadMode client.ReadMode `json:"read_mode"`
	// Unfenced makes the lock workload write with a plain put.
	Unfenced bool `json:"unfenced,omitempty"`
	// SessionTTL is the lock/election session TTL (default 2s).
	SessionTTL time.Duration `json:"session_ttl_ns"`
	// Hold is how long a lock holder waits before its write (default 200ms):
	// a pause in that window is what lets a session expire under a holder.
	Hold time.Duration `json:"hold_ns"`
	// OpTimeout bounds each operation (default 2s).
	OpTimeout time.Duration `json:"op_timeout_ns"`
	// Logger receives state changes; nil discards.
	Logger *slog.Logger `json:"-"`
}

// Workload is one kind of load, whole: what it does to a cluster and how
// its history is judged. Each lives in a file of its own; Table lists them.
type Workload struct {
	// Name is what --workload and test.json call it.
	Name string
	// About describes it for `coordlab list`.
	About string
	// New makes one run's generator: its steps and its final reads.
	New func(cfg Config) generator
	// MinConcurrency is the threads it needs (holders must compete); 0 is 1.
	MinConcurrency int
	// Fencing says the lock's fencing can be switched off (--unfenced).
	Fencing bool
	// LockHolder says it exposes the lock holder to the nemesis
	// (pause-lock-holder).
	LockHolder bool
	// Judge is the checkers that judge its history and the ops that read
	// and write, for the performance figures.
	Judge analysis.Judge
}

// Table is every workload, in the order `coordlab list` shows them.
var Table = []Workload{registerWorkload, casWorkload, lockWorkload, watchWorkload, electionWorkload, configWorkload}

// Lookup returns the workload called name, its Judge naming it.
func Lookup(name string) (Workload, bool) {
	for _, w := range Table {
		if w.Name == name {
			w.Judge.Workload = w.Name
			return w, true
		}
	}
	return Workload{}, false
}

// Names lists the workloads, sorted.
func Names() []string {
	var out []string
	for _, w := range Table {
		out = append(out, w.Name)
	}
	sort.Strings(out)
	return out
}

// About describes a workload for `coordlab list`.
func About(name string) string {
	w, _ := Lookup(name)
	return w.About
}

// WithDefaults fills zero fields with a run's defaults (runfile.Default).
func (c Config) WithDefaults() Config {
	d := runfile.Default()
	if c.Concurrency == 0 {
		c.Concurrency = d.Concurrency
	}
	if c.Keys == 0 {
		c.Keys = d.Keys
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = time.Duration(d.SessionTTL)
	}
	if c.Hold == 0 {
		c.Hold = time.Duration(d.Hold)
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = time.Duration(d.OpTimeout)
	}
	return c
}

// Validate checks the configuration (after WithDefaults).
func (c Config) Validate() error {
	var errs []error
	wl, ok := Lookup(c.Workload)
	if !ok {
		errs = append(errs, fmt.Errorf("%w %q: want one of %s", ErrUnknownWorkload, c.Workload, strings.Join(Names(), ", ")))
	}
	if c.Concurrency < 1 || c.Concurrency > 10000 {
		errs = append(errs, fmt.Errorf("workloads: --concurrency: want 1..10000, got %d", c.Concurrency))
	}
	if c.Rate < 0 {
		errs = append(errs, fmt.Errorf("workloads: --rate: want >= 0 (0 = unlimited), got %g", c.Rate))
	}
	if c.Keys < 1 {
		errs = append(errs, fmt.Errorf("workloads: keys: want >= 1, got %d", c.Keys))
	}
	if c.SessionTTL < time.Second {
		errs = append(errs, fmt.Errorf("workloads: --session-ttl: want >= 1s (etcd leases count whole seconds), got %s", c.SessionTTL))
	}
	if c.OpTimeout <= 0 {
		errs = append(errs, fmt.Errorf("workloads: --op-timeout: want > 0, got %s", c.OpTimeout))
	}
	if ok && c.Concurrency < wl.MinConcurrency {
		errs = append(errs, fmt.Errorf("workloads: %s: want --concurrency >= %d so holders compete, got %d", c.Workload, wl.MinConcurrency, c.Concurrency))
	}
	if ok && c.Unfenced && !wl.Fencing {
		errs = append(errs, fmt.Errorf("workloads: --unfenced: %s has no fencing to switch off", c.Workload))
	}
	return errors.Join(errs...)
}

// Stats count completions while the run goes (for progress lines).
type Stats struct {
	OK, Fail, Info atomic.Int64
}

// Deps is what a run needs from outside.
type Deps struct {
	// Nodes are the members' names; thread t talks to Nodes[t mod len].
	Nodes []string
	// NewClient makes a client talking to node.
	NewClient func(ctx context.Context, node string) (client.Client, error)
	History   *history.Writer
	Clock     history.Clock
	Stats     *Stats
	// BeforeFinal, when set, runs after the main phase and before the
	// final reads (the nemesis heals there).
	BeforeFinal func(ctx context.Context)
	// Shared, when set, receives what the workload exposes to the nemesis
	// (the lock holder's member).
	Shared *Shared
}

// Shared is what a running workload tells the rest of the run.
type Shared struct {
	mu       sync.Mutex
	holder   *holder
	acquired chan struct{} // closed and replaced at each acquisition
}

type holder struct {
	node    string
	process int
}

// ErrNoHolder is returned by LockHolder when nobody acquired the lock in
// time.
var ErrNoHolder = errors.New("workloads: nobody acquired the lock")

// LockHolder waits for the next acquisition of the lock (until ctx ends, at
// most 30 s: an acquisition comes once per hold) and returns the member its holder talks to. Waiting for a fresh
// holder is what lets a pause land at the start of its hold: its session
// then expires before it writes.
func (s *Shared) LockHolder(ctx context.Context) (string, error) {
	s.mu.Lock()
	if s.acquired == nil {
		s.acquired = make(chan struct{})
	}
	ch := s.acquired
	s.mu.Unlock()
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
		return "", ErrNoHolder
	case <-ctx.Done():
		return "", ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holder == nil {
		return "", ErrNoHolder // released already
	}
	return s.holder.node, nil
}

func (s *Shared) setHolder(node string, process int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holder = &holder{node: node, process: process}
	if s.acquired != nil {
		close(s.acquired)
	}
	s.acquired = make(chan struct{})
}

// clearHolder forgets the holder if it is still process.
func (s *Shared) clearHolder(process int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holder != nil && s.holder.process == process {
		s.holder = nil
	}
}

// generator is one run of a workload. step runs one action for thread w (one op
// or a short sequence, like acquire/write/release); final runs after the
// time limit with a fresh context (final reads). Both return only a history
// write error, which stops the run.
type generator interface {
	step(ctx context.Context, w *worker) error
	final(ctx context.Context, w *worker) error
}

// Run drives the workload until ctx ends, then runs its final phase
// (bounded by finalTimeout) and returns. It returns an error only when the
// history cannot be written or the config is invalid.
func Run(ctx context.Context, cfg Config, d Deps, finalTimeout time.Duration) error {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if len(d.Nodes) == 0 || d.NewClient == nil || d.History == nil {
		return errors.New("workloads: Run: want Nodes, NewClient and History")
	}
	if d.Stats == nil {
		d.Stats = &Stats{}
	}
	if d.Shared == nil {
		d.Shared = &Shared{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	wl, _ := Lookup(cfg.Workload) // Validate found it
	gen := wl.New(cfg)
	rec := &recorder{h: d.History, clock: d.Clock, stats: d.Stats, readMode: cfg.ReadMode}
	workers := make([]*worker, cfg.Concurrency)
	for t := range workers {
		workers[t] = &worker{
			thread: t, process: t, node: d.Nodes[t%len(d.Nodes)], nodes: len(d.Nodes), cfg: cfg, rec: rec,
			r:         rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(t)+1)),
			newClient: d.NewClient, log: log, shared: d.Shared,
		}
	}
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		runErr  error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fail := func(err error) {
		errOnce.Do(func() { runErr = err; cancel() })
	}
	for _, w := range workers {
		wg.Go(func() {
			if err := w.loop(ctx, gen); err != nil {
				fail(err)
			}
		})
	}
	wg.Wait()
	if runErr != nil {
		closeAll(workers)
		return runErr
	}
	if d.BeforeFinal != nil {
		d.BeforeFinal(context.WithoutCancel(ctx))
	}
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), finalTimeout)
	defer fcancel()
	for _, w := range workers {
		wg.Go(func() {
			if err := gen.final(fctx, w); err != nil {
				fail(err)
			}
		})
	}
	wg.Wait()
	closeAll(workers)
	return runErr
}

func closeAll(ws []*worker) {
	for _, w := range ws {
		w.closeClient()
	}
}

// worker is one thread: it owns its client, its rand and its process id.
type worker struct {
	thread, process int
	node            string
	nodes           int // members in the cluster; threads 0..nodes-1 cover each once
	cfg             Config
	rec             *recorder
	r               *rand.Rand
	cl              client.Client
	newClient       func(ctx context.Context, node string) (client.Client, error)
	log             *slog.Logger
	seq             int64 // ops this thread made, for unique values
	// state a workload keeps per thread.
	last      map[string]string
	sess      client.Session
	shared    *Shared
	watchFrom int64 // watch: resume after this version
}

// loop runs steps until ctx ends, pacing them at Concurrency/Rate.
func (w *worker) loop(ctx context.Context, wl generator) error {
	var every time.Duration
	if w.cfg.Rate > 0 {
		every = time.Duration(float64(time.Second) * float64(w.cfg.Concurrency) / w.cfg.Rate)
	}
	next := time.Now()
	if every > 0 {
		next = next.Add(time.Duration(w.r.Int64N(int64(every)))) // spread the threads' phases
	}
	for ctx.Err() == nil {
		if every > 0 {
			if d := time.Until(next); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil
				case <-t.C:
				}
			}
			next = next.Add(every)
			if now := time.Now(); next.Before(now.Add(-every)) {
				next = now // after a long op, do not burst to catch up
			}
		}
		if err := w.ensureClient(ctx); err != nil {
			return nil // ctx ended while connecting
		}
		if err := wl.step(ctx, w); err != nil {
			return err
		}
	}
	return nil
}

// ensureClient connects the thread's client, retrying until ctx ends.
func (w *worker) ensureClient(ctx context.Context) error {
	backoff := 50 * time.Millisecond
	for w.cl == nil {
		cctx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
		c, err := w.newClient(cctx, w.node)
		cancel()
		if err == nil {
			w.cl = c
			return nil
		}
		w.log.Debug("client connect failed", "node", w.node, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(backoff*2, time.Second)
	}
	return nil
}

func (w *worker) closeClient() {
	if w.sess != nil {
		ctx, cancel := context.WithTimeout(context.Background(), w.cfg.OpTimeout)
		if err := w.sess.Close(ctx); err != nil {
			w.log.Debug("session close", "node", w.node, "err", err)
		}
		cancel()
		w.sess = nil
	}
	if w.cl != nil {
		if err := w.cl.Close(); err != nil {
			w.log.Debug("client close", "node", w.node, "err", err)
		}
		w.cl = nil
	}
}

// retire ends the thread's process after an info: a fresh process id and a
// fresh client.
func (w *worker) retire() {
	w.closeClient()
	w.process += w.cfg.Concurrency
}

// uniqueValue is unique in the run: threads never share a value.
func (w *worker) uniqueValue() string {
	w.seq++
	return fmt.Sprint(w.seq*int64(w.cfg.Concurrency) + int64(w.thread) + 1)
}
