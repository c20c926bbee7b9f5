// Package perf measures how fast each target is: unthrottled writes,
// linearizable reads and local reads at several client counts, and
// failover under write load (SIGKILL of the leader). It drives every
// target through the lab's one client interface (package client), in the
// runtime the correctness runs use (package run starts the clusters), and
// writes perf.json, which package reports renders.
//
// Caveats:
//   - Every target's cluster is started first and stays up, idle, while the
//     others are measured: a visit does not restart its cluster, so a JVM
//     keeps what its JIT compiled between passes. Idle clusters send only
//     heartbeats.
//   - Passes alternate their order (A B C D, then D C B A, ...), so a
//     machine that drifts during the measurement shows as a difference
//     between the passes of one target rather than between targets.
//   - ZooKeeper runs with the JVM's defaults, as Debian's zkServer.sh
//     starts it (cluster.TargetOptions.JVMDefaults), not with the
//     correctness runs' quick-start flags (C1 only, serial collector).
//   - Each target gets Warmup of mixed load before its first measured
//     point and Rewarm before its later passes.
//   - Client i talks to member i mod N, followers first: a one-client
//     point always talks to a follower, as two clients in three do in a
//     3-member cluster.
//   - The figures are only as good as the machine is quiet: on a shared
//     2-core machine, compare ratios within one run, not absolute numbers
//     across runs.
package perf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"coordlab/client"
	"coordlab/cluster"
	"coordlab/run"
)

// Config is one measurement.
type Config struct {
	// Targets in the order of the first pass.
	Targets []string
	// Runtime and Network (local runtime) as a run's spec has them.
	Runtime string
	Network string
	Nodes   int
	BinDir  string
	// Dir receives the clusters' member directories and perf.json.
	Dir string
	// Warmup is the load each target gets before its first measured
	// point; Rewarm before each later pass.
	Warmup, Rewarm time.Duration
	// Point is how long each point is measured.
	Point time.Duration
	// Clients are the client counts measured, e.g. 1, 16, 64.
	Clients []int
	// Passes over every target (at least 1; 2 gives A B B A).
	Passes    int
	ValueSize int
	Keys      int
	OpTimeout time.Duration
	// FailoverRounds of SIGKILL of the leader per target (0: none), with
	// FailoverClients writers.
	FailoverRounds  int
	FailoverClients int
	Logger          *slog.Logger
	// Progress receives a line per step; nil discards.
	Progress io.Writer
}

// WithDefaults fills unset fields.
func (c Config) WithDefaults() Config {
	if c.Runtime == "" {
		c.Runtime = "local"
	}
	if c.Network == "" {
		c.Network = "auto"
	}
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if c.Point == 0 {
		c.Point = 2 * time.Second
	}
	if len(c.Clients) == 0 {
		c.Clients = []int{1, 16, 64}
	}
	if c.Passes == 0 {
		c.Passes = 2
	}
	if c.ValueSize == 0 {
		c.ValueSize = 256
	}
	if c.Keys == 0 {
		c.Keys = 1000
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = 2 * time.Second
	}
	if c.FailoverClients == 0 {
		c.FailoverClients = 6
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

// Validate names every bad field.
func (c Config) Validate() error {
	var errs []error
	if len(c.Targets) == 0 {
		errs = append(errs, errors.New("perf: targets: want at least one"))
	}
	if c.Dir == "" {
		errs = append(errs, errors.New("perf: dir: want a directory for the clusters and perf.json"))
	}
	if c.Warmup < 0 || c.Rewarm < 0 || c.Point <= 0 {
		errs = append(errs, fmt.Errorf("perf: warmup %v, rewarm %v, point %v: want warm-ups >= 0 and a point > 0", c.Warmup, c.Rewarm, c.Point))
	}
	for _, n := range c.Clients {
		if n < 1 {
			errs = append(errs, fmt.Errorf("perf: clients %v: want counts >= 1", c.Clients))
			break
		}
	}
	if c.Passes < 1 || c.ValueSize < 1 || c.Keys < 1 || c.OpTimeout <= 0 || c.FailoverRounds < 0 || c.FailoverClients < 1 {
		errs = append(errs, fmt.Errorf("perf: passes %d, value size %d, keys %d, op timeout %v, failover rounds %d, failover clients %d: want each >= 1 (rounds >= 0)",
			c.Passes, c.ValueSize, c.Keys, c.OpTimeout, c.FailoverRounds, c.FailoverClients))
	}
	return errors.Join(errs...)
}

// subject is one target's started cluster and its clients.
type subject struct {
	name    string
	cl      *run.Cluster
	res     *TargetResult
	lin     []client.Client // read linearizably (etcd) / with sync (ZooKeeper)
	local   []client.Client // serializable / plain getData
	order   []string        // member names, followers first
	visits  int
	samples map[distKey][]float64
}

type distKey struct {
	op Op
	n  int
}

// Measure runs the whole measurement and writes cfg.Dir/perf.json. A target
// that fails to start or to answer is recorded with its error and the
// others are still measured; the error is non-nil only when nothing could
// be measured or ctx ended.
func Measure(ctx context.Context, cfg Config) (Results, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return Results{}, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return Results{}, fmt.Errorf("perf: %w", err)
	}
	// The docker runtime bind-mounts member directories: absolute only.
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return Results{}, fmt.Errorf("perf: %w", err)
	}
	cfg.Dir = dir
	start := time.Now()
	res := Results{
		Started: start.UTC(), Runtime: cfg.Runtime,
		Settings: Settings{Targets: cfg.Targets, Nodes: cfg.Nodes, Warmup: cfg.Warmup.String(), Rewarm: cfg.Rewarm.String(),
			Point: cfg.Point.String(), Clients: cfg.Clients, Passes: cfg.Passes, ValueSize: cfg.ValueSize, Keys: cfg.Keys,
			OpTimeout: cfg.OpTimeout.String(), FailoverRounds: cfg.FailoverRounds, FailoverClients: cfg.FailoverClients},
	}
	res.Targets = make([]TargetResult, len(cfg.Targets))
	subs := make([]*subject, len(cfg.Targets))
	defer func() {
		for _, s := range subs {
			if s != nil {
				s.close(context.WithoutCancel(ctx))
			}
		}
	}()
	say := func(format string, a ...any) { fmt.Fprintf(cfg.Progress, "perf: "+format+"\n", a...) }
	// The clusters start side by side: starting is waiting, mostly.
	say("starting %d members of each of %s (%s runtime)", cfg.Nodes, strings.Join(cfg.Targets, ", "), cfg.Runtime)
	var wg sync.WaitGroup
	for i, t := range cfg.Targets {
		res.Targets[i] = TargetResult{Target: t, Points: []Point{}, Dists: []Distribution{}, Failover: []Failover{}}
		wg.Go(func() {
			s, err := start1(ctx, cfg, t, &res.Targets[i])
			if err != nil {
				res.Targets[i].Error = err.Error()
				return
			}
			subs[i] = s
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	for i, s := range subs {
		if s == nil {
			say("%s: %s", cfg.Targets[i], res.Targets[i].Error)
		} else if res.Network == "" {
			res.Network = s.cl.Network
		}
	}
	say("started in %v", time.Since(start).Round(time.Second))
	value := strings.Repeat("v", cfg.ValueSize)
	for pass := range cfg.Passes {
		order := slices.Clone(subs)
		if pass%2 == 1 {
			slices.Reverse(order)
		}
		for _, s := range order {
			if s == nil {
				continue
			}
			warm := cfg.Rewarm
			if s.visits == 0 {
				warm = cfg.Warmup
			}
			res.Order = append(res.Order, Visit{Pass: pass + 1, Target: s.name, StartS: time.Since(start).Seconds(), Warmup: warm.String()})
			say("pass %d: %s: %v of warm-up load, then %d points of %v", pass+1, s.name, warm, len(Ops)*len(cfg.Clients), cfg.Point)
			s.visits++
			if warm > 0 {
				s.load(ctx, cfg, Write, s.lin[:min(16, len(s.lin))], warm, value, true)
			}
			for _, op := range Ops {
				for _, n := range cfg.Clients {
					if ctx.Err() != nil {
						return res, ctx.Err()
					}
					p := s.point(ctx, cfg, op, n, pass+1, value)
					s.res.Points = append(s.res.Points, p)
					say("  %-8s %-18s %2d clients: %8.0f ops/s  p50 %6.2f ms  p99 %7.2f ms  errors %d", s.name, op, n, p.Throughput, p.Latency.P50, p.Latency.P99, p.Errors)
				}
			}
		}
	}
	for _, s := range subs {
		if s == nil {
			continue
		}
		for _, op := range Ops {
			for _, n := range cfg.Clients {
				ms := s.samples[distKey{op, n}]
				if len(ms) == 0 {
					continue
				}
				slices.Sort(ms)
				d := Distribution{Op: op, Clients: n, Count: len(ms)}
				for _, q := range DistQuantiles {
					d.Ms = append(d.Ms, at(ms, q))
				}
				s.res.Dists = append(s.res.Dists, d)
			}
		}
		s.samples = nil
	}
	for round := range cfg.FailoverRounds {
		order := slices.Clone(subs)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, s := range order {
			if s == nil {
				continue
			}
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			f := s.failover(ctx, cfg, round+1, value)
			s.res.Failover = append(s.res.Failover, f)
			if f.Error != "" {
				say("failover %d: %s: %s", round+1, s.name, f.Error)
			} else {
				say("failover %d: %s: killed leader %s: first write after %.0f ms, longest stall %.0f ms, new leader %s", round+1, s.name, f.Killed, f.FirstWriteMs, f.MaxStallMs, f.NewLeader)
			}
		}
	}
	res.Elapsed = time.Since(start).Round(time.Second).String()
	if err := res.Write(cfg.Dir); err != nil {
		return res, err
	}
	if !slices.ContainsFunc(subs, func(s *subject) bool { return s != nil }) {
		var why []string
		for _, t := range res.Targets {
			why = append(why, t.Target+": "+t.Error)
		}
		return res, fmt.Errorf("perf: no target started:\n  %s", strings.Join(why, "\n  "))
	}
	return res, nil
}

// start1 starts target t's cluster and its clients, and writes every key
// once so that reads find them.
func start1(ctx context.Context, cfg Config, t string, tr *TargetResult) (*subject, error) {
	dir := filepath.Join(cfg.Dir, t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("perf: %w", err)
	}
	spec := run.Spec{Target: t, Runtime: cfg.Runtime, Network: cfg.Network, Nodes: cfg.Nodes, BinDir: cfg.BinDir}
	// ZooKeeper as Debian's zkServer.sh runs it (C2 JIT, default
	// collector): the correctness runs' quick-start JVM flags cap its speed.
	cl, err := run.StartCluster(ctx, spec, cluster.TargetOptions{JVMDefaults: true}, dir, cfg.Logger)
	if err != nil {
		return nil, err
	}
	s := &subject{name: t, cl: cl, res: tr, samples: map[distKey][]float64{}}
	tr.Versions = cl.Versions
	leader, err := cl.Runtime.Leader(ctx)
	if err != nil {
		s.close(ctx)
		return nil, fmt.Errorf("perf: %s: no leader: %w", t, err)
	}
	tr.Leader = leader
	for _, m := range cl.Members {
		if m.Name != leader {
			s.order = append(s.order, m.Name)
		}
	}
	s.order = append(s.order, leader)
	lin, loc := client.Linearizable, client.Serializable
	if cl.Protocol() == cluster.ProtocolZooKeeper {
		lin, loc = client.Sync, client.Local
	}
	need := max(slices.Max(cfg.Clients), cfg.FailoverClients, 16)
	for i := range need {
		node := s.order[i%len(s.order)]
		for _, m := range []struct {
			mode client.ReadMode
			to   *[]client.Client
		}{{lin, &s.lin}, {loc, &s.local}} {
			c, err := cl.NewClient(ctx, node, m.mode)
			if err != nil {
				s.close(ctx)
				return nil, fmt.Errorf("perf: %s: client on %s: %w", t, node, err)
			}
			*m.to = append(*m.to, c)
		}
	}
	// Every key once, so that reads find a value of the measured size.
	value := strings.Repeat("v", cfg.ValueSize)
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for w := range 16 {
		wg.Go(func() {
			c := s.lin[w]
			for k := w; k < cfg.Keys; k += 16 {
				var err error
				for try := 0; try < 5; try++ {
					octx, cancel := context.WithTimeout(ctx, cfg.OpTimeout)
					_, err = c.Put(octx, key(k), value)
					cancel()
					if err == nil {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				if err != nil {
					errs[w] = fmt.Errorf("perf: %s: writing the keys: %w", t, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		s.close(ctx)
		return nil, err
	}
	return s, nil
}

func key(k int) string { return fmt.Sprintf("perf/k%05d", k) }

func (s *subject) close(ctx context.Context) {
	for _, c := range append(slices.Clone(s.lin), s.local...) {
		c.Close()
	}
	s.lin, s.local = nil, nil
	if s.cl != nil {
		if err := s.cl.Runtime.Stop(ctx); err != nil {
			s.res.Error = strings.TrimPrefix(s.res.Error+"; ", "; ") + "stopping the cluster: " + err.Error()
		}
		s.cl = nil
	}
}

// sample is one finished operation.
type sample struct {
	ms  float64
	err error
}

// load runs op on every client in cs (a prefix of s.lin), each as fast as it is answered, for
// d, and returns what each finished (in invocation order) and the time
// from the start to the last completion. With mixed, the clients alternate
// writes and local reads (warm-up load).
func (s *subject) load(ctx context.Context, cfg Config, op Op, cs []client.Client, d time.Duration, value string, mixed bool) ([][]sample, time.Duration) {
	out := make([][]sample, len(cs))
	t0 := time.Now()
	deadline := t0.Add(d)
	var last sync.Mutex
	end := t0
	var wg sync.WaitGroup
	for i, c := range cs {
		rc := s.local[i] // cs is a prefix of s.lin
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), uint64(t0.UnixNano())))
			for n := 0; time.Now().Before(deadline) && ctx.Err() == nil; n++ {
				k := key(rng.IntN(cfg.Keys))
				o := op
				if mixed && n%2 == 1 {
					o = ReadLocal
				}
				octx, cancel := context.WithTimeout(ctx, cfg.OpTimeout)
				b := time.Now()
				var err error
				switch o {
				case Write:
					_, err = c.Put(octx, k, value)
				case ReadLinearizable:
					_, err = c.Get(octx, k)
				case ReadLocal:
					_, err = rc.Get(octx, k)
				}
				e := time.Now()
				cancel()
				out[i] = append(out[i], sample{ms: float64(e.Sub(b).Nanoseconds()) / 1e6, err: err})
				if err != nil {
					time.Sleep(10 * time.Millisecond) // an unavailable member answers at once: do not spin
				}
				last.Lock()
				if e.After(end) {
					end = e
				}
				last.Unlock()
			}
		})
	}
	wg.Wait()
	return out, end.Sub(t0)
}

// point measures op with n clients (the first n of the linearizable set,
// spread over the members followers first).
func (s *subject) point(ctx context.Context, cfg Config, op Op, n, pass int, value string) Point {
	n = min(n, len(s.lin))
	got, took := s.load(ctx, cfg, op, s.lin[:n], cfg.Point, value, false)
	p := Point{Op: op, Clients: n, Pass: pass, Seconds: took.Seconds()}
	var ms []float64
	for _, ss := range got {
		for _, x := range ss {
			if x.err != nil {
				p.Errors++
				if p.FirstError == "" {
					p.FirstError = x.err.Error()
				}
				continue
			}
			ms = append(ms, x.ms)
		}
	}
	p.OK = len(ms)
	if took > 0 {
		p.Throughput = float64(p.OK) / took.Seconds()
	}
	k := distKey{op, n}
	s.samples[k] = append(s.samples[k], ms...)
	p.Latency = quantiles(slices.Clone(ms))
	return p
}
