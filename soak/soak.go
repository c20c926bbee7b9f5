// Package soak is the lab's long-running durability proof: it starts a
// 3-member cluster of one of our engines (raftkv or zab) as processes on
// loopback, and runs rounds of SIGKILL under write load until a time or
// round limit. Each round:
//
//  1. a few clients run the register workload (reads, writes and
//     compare-and-sets of unique values on a small key set, under a prefix
//     of the round's own) and record every op in a history;
//  2. while they run, the round kills one member at random, the leader, or
//     every member at once (the three patterns in turn) with SIGKILL, then
//     restarts the killed members on the same data directories;
//  3. once the load has stopped, the members' state digests must agree
//     (raftkv: etcd's HashKV at one revision on every member; zab: a hash
//     of the whole znode tree read through each member after a sync);
//  4. every member must serve, for every key, the value of each
//     acknowledged write or of a write that may have come after it, and
//     every key of an earlier round must still hold the value it settled
//     on;
//  5. the round's history is judged by the register workload's checkers
//     (linearizability, session order).
//
// Only acknowledged writes count: a write whose answer never came is
// indeterminate, and its value may or may not be present.
//
// Caveats: the members share the machine with the soak, so a loaded
// machine makes elections slower, not results different; readiness waits
// are generous (a minute) and exceeding one is a failure of the soak, not
// a loss. Histories and member logs stay in Config.Dir.
package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"coordlab/analysis"
	"coordlab/client"
	"coordlab/history"
	"coordlab/workloads"
)

// Config configures one engine's soak.
type Config struct {
	// Engine is raftkv or zab.
	Engine string
	// BinDir holds the engine's binary (bin/ after make build).
	BinDir string
	// Dir receives data directories, member logs and round histories.
	Dir string
	// Rounds stops the soak after this many rounds; 0: no limit.
	Rounds int
	// Duration stops starting rounds once it has passed; 0: no limit. One
	// of Rounds and Duration must be set.
	Duration time.Duration
	// Clients is the number of concurrent workload clients (default 4).
	Clients int
	// Keys is the register keys per round (default 3).
	Keys int
	// Rate is the workload's total ops per second (default 100).
	Rate float64
	// Seed chooses the members killed and the workload's ops.
	Seed int64
	// Log receives a line per round; nil discards.
	Log io.Writer

	// For tests: pattern, when set, is every round's kill pattern, and
	// beforeRestart runs while the killed members are down.
	// quiet bounds the wait for agreeing digests (default quietLimit).
	pattern       string
	beforeRestart func(killed []*member) error
	quiet         time.Duration
}

// Result is one engine's soak.
type Result struct {
	Engine string
	// Rounds is the rounds completed.
	Rounds int
	// AckedWrites is the acknowledged writes and applied compare-and-sets;
	// Indeterminate the writes whose outcome never came back.
	AckedWrites, Indeterminate int
	// LostWrites is acknowledged writes a member did not show after the
	// round (neither its value nor one that may have overwritten it), plus
	// settled keys of earlier rounds that changed.
	LostWrites int
	// HashMismatches is rounds whose members' digests disagreed.
	HashMismatches int
	// CheckerFailures is rounds whose history the register checkers did
	// not find valid (an anomaly, or no verdict).
	CheckerFailures int
	// Problems describes each loss, mismatch and checker failure.
	Problems []string
}

// OK says nothing was lost, no digest disagreed and every history checked.
func (r Result) OK() bool {
	return r.Rounds > 0 && r.LostWrites == 0 && r.HashMismatches == 0 && r.CheckerFailures == 0
}

// String is the result's summary line.
func (r Result) String() string {
	return fmt.Sprintf("%s: rounds %d, acknowledged writes %d (indeterminate %d), acknowledged writes lost %d, hash mismatches %d, checker failures %d",
		r.Engine, r.Rounds, r.AckedWrites, r.Indeterminate, r.LostWrites, r.HashMismatches, r.CheckerFailures)
}

// Kill patterns, taken in turn.
var patterns = []string{"random member", "leader", "all members"}

const (
	readyLimit  = time.Minute
	quietLimit  = 30 * time.Second
	clusterSize = 3
)

func (c Config) withDefaults() Config {
	if c.Clients == 0 {
		c.Clients = 4
	}
	if c.Keys == 0 {
		c.Keys = 3
	}
	if c.Rate == 0 {
		c.Rate = 100
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.quiet == 0 {
		c.quiet = quietLimit
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Engine != "raftkv" && c.Engine != "zab" {
		errs = append(errs, fmt.Errorf("soak: engine %q: want raftkv or zab", c.Engine))
	}
	if c.Rounds < 0 || c.Duration < 0 || (c.Rounds == 0 && c.Duration == 0) {
		errs = append(errs, fmt.Errorf("soak: want Rounds > 0 or Duration > 0 (got %d rounds, %s)", c.Rounds, c.Duration))
	}
	if c.Dir == "" {
		errs = append(errs, errors.New("soak: Dir: empty: want a directory for data, logs and histories"))
	}
	if c.Clients < 1 || c.Keys < 1 || c.Rate < 0 {
		errs = append(errs, fmt.Errorf("soak: want Clients >= 1, Keys >= 1, Rate >= 0 (got %d, %d, %g)", c.Clients, c.Keys, c.Rate))
	}
	return errors.Join(errs...)
}

// soaker is one engine's soak in progress.
type soaker struct {
	cfg     Config
	cl      cluster
	rng     *rand.Rand
	res     Result
	settled []settledKey // keys of earlier rounds and their final values
}

type settledKey struct {
	rel, value string // key under base(), its value after its round
	acked      bool   // value was an acknowledged write's
}

// Run soaks one engine and returns its result. The error is a failure of
// the soak itself (a binary missing, a member that never came back);
// losses and mismatches are in the Result.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg = cfg.withDefaults()
	res := Result{Engine: cfg.Engine}
	if err := cfg.validate(); err != nil {
		return res, err
	}
	cl, err := newCluster(cfg.Engine, cfg.BinDir, cfg.Dir, clusterSize)
	if err != nil {
		return res, err
	}
	s := &soaker{cfg: cfg, cl: cl, rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 7)), res: res}
	defer func() {
		for _, m := range cl.members() {
			m.kill()
			m.log.Close()
		}
	}()
	for _, m := range cl.members() {
		if err := m.start(); err != nil {
			return s.res, err
		}
	}
	if err := s.waitServing(ctx, allIndexes()); err != nil {
		return s.res, err
	}
	start := time.Now()
	for r := 0; ; r++ {
		if cfg.Rounds > 0 && r >= cfg.Rounds || cfg.Duration > 0 && time.Since(start) >= cfg.Duration {
			break
		}
		if err := ctx.Err(); err != nil {
			return s.res, err
		}
		if err := s.round(ctx, r); err != nil {
			return s.res, fmt.Errorf("soak: %s round %d: %w", cfg.Engine, r, err)
		}
		s.res.Rounds++
	}
	return s.res, nil
}

func allIndexes() []int {
	out := make([]int, clusterSize)
	for i := range out {
		out[i] = i
	}
	return out
}

func (s *soaker) problem(format string, args ...any) {
	p := fmt.Sprintf(format, args...)
	s.res.Problems = append(s.res.Problems, p)
	fmt.Fprintf(s.cfg.Log, "%s: PROBLEM: %s\n", s.cfg.Engine, p)
}

// waitServing waits until every member in idx serves, and fails when one
// exited on its own or readyLimit passes.
func (s *soaker) waitServing(ctx context.Context, idx []int) error {
	deadline := time.Now().Add(readyLimit)
	ms := s.cl.members()
	for _, i := range idx {
		for {
			if err := ms[i].exited(); err != nil {
				return err
			}
			err := s.cl.serving(ctx, i)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not serving after %s: %v (log: %s)", ms[i].name, readyLimit, err, ms[i].log.Name())
			}
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// round runs one round; see the package comment.
func (s *soaker) round(ctx context.Context, r int) error {
	pattern := patterns[r%len(patterns)]
	if s.cfg.pattern != "" {
		pattern = s.cfg.pattern
	}
	prefix := s.base() + fmt.Sprintf("r%d/", r)
	if s.cfg.Engine == "zab" {
		prefix = s.base() + fmt.Sprintf("/r%d", r)
	}
	histPath := filepath.Join(s.cfg.Dir, fmt.Sprintf("round-%03d.jsonl", r))
	hw, err := history.Create(histPath)
	if err != nil {
		return err
	}
	var nodes []string
	for _, m := range s.cl.members() {
		nodes = append(nodes, m.name)
	}
	wcfg := workloads.Config{
		Workload: "register", Concurrency: s.cfg.Clients, Rate: s.cfg.Rate, Keys: s.cfg.Keys,
		Seed: s.cfg.Seed*1000 + int64(r), ReadMode: s.cl.readMode(), OpTimeout: 2 * time.Second,
	}
	deps := workloads.Deps{
		Nodes: nodes, History: hw, Clock: history.NewClock(),
		NewClient: func(ctx context.Context, node string) (client.Client, error) {
			return s.cl.newClient(ctx, node, prefix)
		},
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	var loadErr error
	wg.Go(func() { loadErr = workloads.Run(loadCtx, wcfg, deps, 20*time.Second) })

	killed, faultErr := s.fault(ctx, pattern)
	if faultErr == nil {
		faultErr = sleep(ctx, 1500*time.Millisecond) // load on the healed cluster
	}
	stopLoad()
	wg.Wait()
	if err := hw.Close(); err != nil && loadErr == nil {
		loadErr = err
	}
	if faultErr != nil {
		return faultErr
	}
	if loadErr != nil {
		return fmt.Errorf("load: %w", loadErr)
	}
	ops, err := history.Read(histPath)
	if err != nil {
		return err
	}

	agree, err := s.compareDigests(ctx, r)
	if err != nil {
		return err
	}
	digests := "digests agree"
	if !agree {
		digests = "DIGESTS DISAGREE"
	}
	lost, err := s.checkDurable(ctx, r, prefix, ops)
	if err != nil {
		return err
	}
	wl, _ := workloads.Lookup("register")
	res := analysis.Check(ops, wl.Judge, analysis.Options{TimeLimit: 60 * time.Second, ReadMode: s.cl.readMode().String()})
	verdict := "valid"
	if res.Valid != analysis.Valid {
		s.res.CheckerFailures++
		verdict = res.Valid.String()
		s.problem("round %d: register checkers: %s (history %s)", r, checkerSummary(res), histPath)
	}
	acked, info := countWrites(ops)
	s.res.AckedWrites += acked
	s.res.Indeterminate += info
	fmt.Fprintf(s.cfg.Log, "%s round %d: killed %s (%s); acknowledged writes %d, indeterminate %d, lost %d; %s; checkers %s\n",
		s.cfg.Engine, r, pattern, strings.Join(killed, ","), acked, info, lost, digests, verdict)
	return nil
}

func checkerSummary(res analysis.Results) string {
	var parts []string
	names := make([]string, 0, len(res.Checkers))
	for n := range res.Checkers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := res.Checkers[n]
		kinds := map[string]int{}
		for _, a := range c.Anomalies {
			kinds[a.Kind]++
		}
		var ks []string
		for k, c := range kinds {
			ks = append(ks, fmt.Sprintf("%s %d", k, c))
		}
		sort.Strings(ks)
		p := n + " " + c.Valid.String()
		if len(ks) > 0 {
			p += " (" + strings.Join(ks, ", ") + ")"
		}
		parts = append(parts, p)
	}
	if res.Error != "" {
		parts = append(parts, "error: "+res.Error)
	}
	return strings.Join(parts, "; ")
}

// fault lets the load run, kills per pattern, waits, restarts the killed
// members on their data directories and waits until every member serves.
// The kill lands 1 to 2.5 s into the load and the members stay down 0.5 to
// 2 s (chosen by the seed), so rounds hit different phases of the engines'
// work (elections, snapshots, a sync in progress).
func (s *soaker) fault(ctx context.Context, pattern string) ([]string, error) {
	if err := sleep(ctx, time.Second+time.Duration(s.rng.Int64N(int64(1500*time.Millisecond)))); err != nil {
		return nil, err
	}
	ms := s.cl.members()
	var victims []int
	switch pattern {
	case "random member":
		victims = []int{s.rng.IntN(len(ms))}
	case "leader":
		l, err := s.cl.leader(ctx)
		if err != nil {
			return nil, fmt.Errorf("find the leader to kill: %w", err)
		}
		victims = []int{l}
	default:
		victims = allIndexes()
	}
	var names []string
	var down []*member
	for _, i := range victims {
		if err := ms[i].exited(); err != nil {
			return nil, err
		}
		names = append(names, ms[i].name)
		down = append(down, ms[i])
	}
	var wg sync.WaitGroup
	for _, m := range down { // at once: no member outlives another by a wait
		wg.Go(m.kill)
	}
	wg.Wait()
	if err := sleep(ctx, 500*time.Millisecond+time.Duration(s.rng.Int64N(int64(1500*time.Millisecond)))); err != nil {
		return names, err
	}
	if s.cfg.beforeRestart != nil {
		if err := s.cfg.beforeRestart(down); err != nil {
			return names, err
		}
	}
	for _, i := range victims {
		if err := ms[i].start(); err != nil {
			return names, err
		}
	}
	return names, s.waitServing(ctx, allIndexes())
}

// compareDigests waits until every member gives a digest and they agree;
// digests that still disagree after the quiet limit are a mismatch (false).
func (s *soaker) compareDigests(ctx context.Context, r int) (bool, error) {
	deadline := time.Now().Add(s.cfg.quiet)
	var last []string
	var lastErr error
	for {
		ds, err := s.cl.digests(ctx)
		if err == nil {
			last = ds
			if allEqual(ds) {
				return true, nil
			}
		} else {
			lastErr = err
		}
		if time.Now().After(deadline) {
			break
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return false, err
		}
	}
	if last == nil {
		return false, fmt.Errorf("no digest from every member within %s: %w", s.cfg.quiet, lastErr)
	}
	s.res.HashMismatches++
	var b strings.Builder
	for i, d := range last {
		fmt.Fprintf(&b, " %s=[%s]", s.cl.members()[i].name, d)
	}
	s.problem("round %d: members' digests disagree after %s quiet:%s", r, s.cfg.quiet, b.String())
	return false, nil
}

func allEqual(ds []string) bool {
	for _, d := range ds {
		if d != ds[0] {
			return false
		}
	}
	return true
}

// countWrites counts acknowledged writes (OK writes, applied cas) and
// indeterminate ones (info, or no completion).
func countWrites(ops []history.Op) (acked, info int) {
	for _, w := range writesOf(ops) {
		switch {
		case w.acked:
			acked++
		case w.maybe:
			info++
		}
	}
	return acked, info
}

// write is one write or cas of the history with its outcome.
type write struct {
	key, value       string
	invoke, complete int64 // complete: -1 when it never completed
	acked, maybe     bool  // acked: took effect, acknowledged; maybe: may have
}

// writesOf pairs each process's invoke with its completion.
func writesOf(ops []history.Op) []write {
	open := map[int]int{} // process -> index into out
	var out []write
	for _, op := range ops {
		if op.Process == history.NemesisProcess || (op.F != history.FWrite && op.F != history.FCAS) {
			continue
		}
		if op.Type == history.Invoke {
			open[op.Process] = len(out)
			out = append(out, write{key: op.Key, value: deref(op.Value), invoke: op.Time, complete: -1, maybe: true})
			continue
		}
		i, ok := open[op.Process]
		if !ok {
			continue
		}
		delete(open, op.Process)
		w := &out[i]
		switch op.Type {
		case history.OK:
			w.complete = op.Time
			applied := op.F == history.FWrite || (op.Applied != nil && *op.Applied)
			w.acked, w.maybe = applied, applied
		case history.Fail:
			w.complete, w.maybe = op.Time, false
		case history.Info:
			// may have taken effect at any time from now on
		}
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// lostWrites returns the acknowledged writes to key that final does not
// account for. With unique values, an acknowledged write w survives when
// final is its value, or final is the value of a write x that may have
// taken effect after w: x did not complete before w was invoked.
func lostWrites(ws []write, key string, final string, found bool) []write {
	var x *write
	for i := range ws {
		if found && ws[i].key == key && ws[i].maybe && ws[i].value == final {
			x = &ws[i]
		}
	}
	var lost []write
	for _, w := range ws {
		if w.key != key || !w.acked || (found && w.value == final) {
			continue
		}
		if x == nil || (x.complete >= 0 && x.complete < w.invoke) {
			lost = append(lost, w)
		}
	}
	return lost
}

// base is the prefix (etcd) or root znode (zab) under which every round's
// keys live: round r's key k is "r<r>/k" under it.
func (s *soaker) base() string {
	if s.cfg.Engine == "zab" {
		return "/soak"
	}
	return "soak/"
}

// checkDurable reads every key of this round and of earlier rounds through
// every member and counts the losses; it returns this round's.
func (s *soaker) checkDurable(ctx context.Context, r int, prefix string, ops []history.Op) (int, error) {
	ws := writesOf(ops)
	keys := map[string]bool{}
	for _, w := range ws {
		keys[w.key] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	lostSet := map[string]bool{} // key + value: one loss however many members miss it
	settled := map[string]settledKey{}
	for _, m := range s.cl.members() {
		var c client.Client // one per member, made anew after an error
		read := func(rel string) (client.Versioned, error) {
			var v client.Versioned
			err := retry(ctx, func(ctx context.Context) error {
				if c == nil {
					cl, err := s.cl.newClient(ctx, m.name, s.base())
					if err != nil {
						return err
					}
					c = cl
				}
				var err error
				if v, err = c.Get(ctx, rel); err != nil {
					c.Close()
					c = nil
				}
				return err
			})
			return v, err
		}
		defer func() {
			if c != nil {
				c.Close()
			}
		}()
		for _, k := range sorted {
			v, err := read(fmt.Sprintf("r%d/%s", r, k))
			if err != nil {
				return 0, fmt.Errorf("%s: read %s%s: %w", m.name, prefix, k, err)
			}
			for _, w := range lostWrites(ws, k, v.Value, v.Found) {
				id := k + "\x00" + w.value
				if !lostSet[id] {
					lostSet[id] = true
					s.problem("round %d: acknowledged write %s%s=%s lost: %s shows found=%v value=%q", r, prefix, k, w.value, m.name, v.Found, v.Value)
				}
			}
			if _, ok := settled[k]; !ok && v.Found {
				acked := false
				for _, w := range ws {
					acked = acked || (w.key == k && w.acked && w.value == v.Value)
				}
				settled[k] = settledKey{rel: fmt.Sprintf("r%d/%s", r, k), value: v.Value, acked: acked}
			}
		}
		for _, sk := range s.settled {
			v, err := read(sk.rel)
			if err != nil {
				return 0, fmt.Errorf("%s: read %s: %w", m.name, sk.rel, err)
			}
			if !v.Found || v.Value != sk.value {
				id := sk.rel + "\x00" + sk.value
				if !lostSet[id] {
					lostSet[id] = true
					s.problem("round %d: key %s of an earlier round held %q (acknowledged: %v), %s now shows found=%v value=%q",
						r, sk.rel, sk.value, sk.acked, m.name, v.Found, v.Value)
				}
			}
		}
	}
	for _, k := range sorted {
		if sk, ok := settled[k]; ok {
			s.settled = append(s.settled, sk)
		}
	}
	s.res.LostWrites += len(lostSet)
	return len(lostSet), nil
}

// retry runs f with a 2 s deadline until it succeeds or a minute passes
// (a member may still be catching up, or its client connecting).
func retry(ctx context.Context, f func(ctx context.Context) error) error {
	deadline := time.Now().Add(time.Minute)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := f(cctx)
		cancel()
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// Lab runs the soak on each engine in turn, each for its share of
// duration (or rounds rounds), data under dir/<engine>.
func Lab(ctx context.Context, engines []string, binDir, dir string, rounds int, duration time.Duration, seed int64, log io.Writer) ([]Result, error) {
	var out []Result
	binDir, err := filepath.Abs(binDir)
	if err != nil {
		return nil, err
	}
	share := duration / time.Duration(max(1, len(engines)))
	for _, e := range engines {
		d := filepath.Join(dir, e)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return out, err
		}
		res, err := Run(ctx, Config{Engine: e, BinDir: binDir, Dir: d, Rounds: rounds, Duration: share, Seed: seed, Log: log})
		out = append(out, res)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
