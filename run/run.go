package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"coordlab/analysis"
	"coordlab/cluster"
	"coordlab/faults"
	"coordlab/history"
	"coordlab/runfile"
	"coordlab/workloads"
)

// Config is one run.
type Config struct {
	Spec Spec
	// Progress receives one line per second and the final lines; nil
	// discards.
	Progress io.Writer
	// Logger receives the components' state changes; nil discards.
	Logger *slog.Logger
	// Phase, when set, is called as each long step without progress lines
	// begins (starting the cluster, checking the history); the function it
	// returns is called when the step ends. The CLI shows a spinner with it.
	Phase func(what string) (end func())
}

// Outcome is what a run produced.
type Outcome struct {
	Dir     string
	Results analysis.Results
}

// Run performs the run. The error is non-nil when the run itself failed
// (the cluster did not start, the history could not be written, SIGINT);
// an anomaly is not an error: see Outcome.Results.Valid.
func Run(ctx context.Context, cfg Config) (out Outcome, err error) {
	spec := cfg.Spec.WithDefaults()
	if err := Validate(spec); err != nil {
		return out, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	pkgs, err := faults.ParseSpec(spec.Nemesis)
	if err != nil {
		return out, err
	}
	// Our engines serve their admin endpoint only when a fault uses it.
	target, err := cluster.NewTarget(spec.Target, cluster.TargetOptions{BinDir: spec.BinDir, Admin: faults.UsesAdmin(pkgs)})
	if err != nil {
		return out, err
	}
	if err := target.Check(); err != nil {
		return out, err
	}
	dir, err := makeRunDir(spec)
	if err != nil {
		return out, err
	}
	out.Dir = dir
	rt, err := newRuntime(ctx, spec, dir, faults.UsesLazyFS(pkgs), log)
	if err != nil {
		return out, err
	}
	if err := faults.CheckCapabilities(pkgs, rt.Capabilities()); err != nil {
		return out, fmt.Errorf("run: --nemesis %s on the %s runtime (%s network): %w", spec.Nemesis, rt.Name(), rt.Network(), err)
	}
	nodes := cluster.Names(spec.Nodes)
	sched, err := faults.Generate(spec.Seed, spec.Nemesis, nodes, faultOptions(spec))
	if err != nil {
		return out, err
	}
	test := Test{Spec: spec, Schedule: sched, Started: time.Now().UTC(), Dir: dir, Versions: versions(ctx, spec)}
	if err := WriteTest(dir, test); err != nil {
		return out, err
	}

	fmt.Fprintf(progress, "starting %d %s members (%s runtime) in %s\n", spec.Nodes, spec.Target, rt.Name(), dir)
	endPhase := phase(cfg, fmt.Sprintf("starting %d %s members", spec.Nodes, spec.Target))
	members, err := rt.Start(ctx, target, spec.Nodes)
	endPhase()
	if err != nil {
		return out, fmt.Errorf("run: start %s: %w", spec.Target, err)
	}
	defer func() {
		if serr := rt.Stop(context.WithoutCancel(ctx)); serr != nil {
			err = errors.Join(err, fmt.Errorf("run: stop cluster: %w", serr))
		}
	}()
	test.Members, test.Network, test.RunID = members, rt.Network(), rt.RunID()
	if err := WriteTest(dir, test); err != nil {
		return out, err
	}
	newClient, err := clientFactory(target.Protocol(), members, readMode(spec))
	if err != nil {
		return out, err
	}

	h, err := history.Create(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		return out, err
	}
	defer h.Close()
	clock := history.NewClock()
	stats := &workloads.Stats{}
	player := faults.NewPlayer(rt, spec.Target, h, clock, nodes, log)
	shared := &workloads.Shared{}
	player.SetResolver(faults.LockHolder, func(ctx context.Context) (string, error) { return followerHolder(ctx, shared, rt) })
	kinds := faults.Kinds(pkgs)

	wctx, cancel := context.WithTimeout(ctx, time.Duration(spec.TimeLimit))
	defer cancel()
	var wg sync.WaitGroup
	var nemErr error
	finalDone := make(chan struct{})
	wg.Go(func() {
		defer close(finalDone)
		nemErr = player.Play(wctx, sched)
		<-wctx.Done()
		// Undo the faults as soon as the time limit passes, whatever the
		// workers are doing: a worker stuck on a paused member must not
		// wait for its own end to resume it.
		if err := player.Final(ctx, kinds, 60*time.Second); err != nil {
			log.Warn("undoing faults", "err", err)
		}
	})
	stopProgress := make(chan struct{})
	wg.Go(func() { printProgress(progress, clock, stats, player, stopProgress) })
	wcfg := workloadConfig(spec)
	wcfg.Logger = log
	werr := workloads.Run(wctx, wcfg, workloads.Deps{
		Nodes: nodes, NewClient: newClient, History: h, Clock: clock, Stats: stats, Shared: shared,
		BeforeFinal: func(context.Context) { <-finalDone }, // final reads on a healed cluster
	}, 10*time.Second)
	cancel()
	close(stopProgress)
	wg.Wait()
	if err := errors.Join(werr, nemErr); err != nil {
		return out, fmt.Errorf("run: %w", err)
	}
	printRefused(progress, player.Refused())
	if err := h.Close(); err != nil {
		return out, err
	}
	if ctx.Err() != nil {
		return out, fmt.Errorf("%w: history kept in %s (check it with `coordlab check %s`)", ErrInterrupted, dir, dir)
	}
	endPhase = phase(cfg, "checking the history")
	res, err := CheckDir(dir, time.Duration(spec.CheckLimit))
	endPhase()
	out.Results = res
	return out, err
}

// phase starts a step with cfg.Phase, if any, and returns its end.
func phase(cfg Config, what string) func() {
	if cfg.Phase == nil {
		return func() {}
	}
	return cfg.Phase(what)
}

// printRefused says which fault starts were refused and why (the history
// has each as an info op), so that a fault that could not run on this
// target or runtime is never mistaken for one that ran.
func printRefused(w io.Writer, refused map[string]int) {
	msgs := make([]string, 0, len(refused))
	for m := range refused {
		msgs = append(msgs, m)
	}
	slices.Sort(msgs)
	for _, m := range msgs {
		fmt.Fprintf(w, "fault not applied (%d times): %s\n", refused[m], m)
	}
}

// printProgress writes one line per second until stop is closed.
func printProgress(w io.Writer, clock history.Clock, s *workloads.Stats, p *faults.Player, stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			fmt.Fprintf(w, "%5.0fs  ok %-7d fail %-6d info %-6d fault: %s\n",
				time.Duration(clock.Now()).Seconds(), s.OK.Load(), s.Fail.Load(), s.Info.Load(), p.Current())
		}
	}
}

// makeRunDir creates out/<target>-<workload>-<time>-s<seed>, unique.
func makeRunDir(s Spec) (string, error) {
	if err := os.MkdirAll(s.Out, 0o755); err != nil {
		return "", fmt.Errorf("run: --out %s: %w", s.Out, err)
	}
	base := fmt.Sprintf("%s-%s-%s-s%d", s.Target, s.Workload, time.Now().UTC().Format("20060102T150405"), s.Seed)
	for i := 0; ; i++ {
		name := base
		if i > 0 {
			name += "-" + strconv.Itoa(i)
		}
		dir := filepath.Join(s.Out, name)
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return filepath.Abs(dir)
		}
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("run: make run dir: %w", err)
		}
	}
}

// CheckDir analyses dir/history.jsonl with the workload of dir/test.json
// and writes dir/results.json.
func CheckDir(dir string, limit time.Duration) (analysis.Results, error) {
	t, err := runfile.Read(dir)
	if err != nil {
		return analysis.Results{}, err
	}
	ops, err := history.Read(filepath.Join(dir, "history.jsonl"))
	if err != nil && !errors.Is(err, history.ErrTruncated) {
		return analysis.Results{}, fmt.Errorf("run: read history: %w", err)
	}
	wl, ok := workloads.Lookup(t.Spec.Workload)
	if !ok {
		return analysis.Results{}, fmt.Errorf("%w: %s/test.json: workload %q: want one of %s", ErrBadSpec, dir, t.Spec.Workload, strings.Join(workloads.Names(), ", "))
	}
	opts := analysis.Options{TimeLimit: limit, OutDir: dir, ReadMode: t.Spec.ReadMode}
	// ZooKeeper's watches are one-shot triggers: judge them by what they
	// promise (order, values, the latest state), not by etcd's every-change
	// guarantee.
	if tg, err := cluster.NewTarget(t.Spec.Target, cluster.TargetOptions{}); err == nil && tg.Protocol() == cluster.ProtocolZooKeeper {
		opts.OneShotWatches = true
	}
	res := analysis.Check(ops, wl.Judge, opts)
	if err := res.WriteFile(filepath.Join(dir, "results.json")); err != nil {
		return res, err
	}
	return res, nil
}

// followerHolder waits for a fresh lock holder whose member is not the
// leader and returns that member (bounded by ctx, the run's time limit).
// Pausing a follower lets the leader expire the holder's lease while the
// holder's write waits in the paused member. Pausing the leader instead
// starts an election that extends every lease, and the old leader drops
// the write it held, which hides the anomaly pause-lock-holder is for.
func followerHolder(ctx context.Context, s *workloads.Shared, rt cluster.Runtime) (string, error) {
	for {
		n, err := s.LockHolder(ctx)
		if err != nil {
			return "", err
		}
		if l, err := rt.Leader(ctx); err == nil && l != n {
			return n, nil
		}
	}
}
