package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"coordlab/cluster"
	"coordlab/images"
	"coordlab/perf"
	"coordlab/reports"
	"coordlab/run"
	"coordlab/suite"
)

var _ = addCommand(newBenchCmd)

func newBenchCmd() *cobra.Command {
	var suitePath, out, binDir, baseline string
	var verbose, noPerf bool
	var warmup time.Duration
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run a suite of runs (every target, same workloads and fault schedule) and write the comparison report",
		Long: `bench runs every run of a suite file (default suites/default.json): each
target of a group on the same workloads under the same seeded fault
schedule. A suite with a "perf" section first measures every target's
speed (writes, linearizable and local reads at each client count, after a
warm-up; then SIGKILL of the leader under write load). Then it renders every
run page, an index, and comparison.html with the performance section on
top, and prints the path of the comparison. Where the Docker engine is not
running, what is meant for Docker runs in the local runtime instead, and it
says so.

--suite takes a file or the name of a suite in suites/: default (within 10
minutes on a 2-core machine) or full (more seeds, longer runs, every
nemesis, 30 s of warm-up per target).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := suite.Load(suite.Resolve(suitePath))
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			if noPerf {
				s.Perf = nil
			}
			if cmd.Flags().Changed("warmup") {
				if s.Perf == nil {
					return &exitError{code: exitFailed, err: fmt.Errorf("bench: --warmup: suite %q has no perf section to warm up for", s.Name)}
				}
				if warmup < 0 {
					return &exitError{code: exitFailed, err: fmt.Errorf("bench: --warmup %v: want >= 0", warmup)}
				}
				s.Perf.Warmup = run.Duration(warmup)
			}
			if out == "" {
				out = filepath.Join("results", "bench-"+time.Now().UTC().Format("20060102T150405"))
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			return runSuite(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), s, out, binDir, baseline, verbose)
		},
	}
	f := cmd.Flags()
	f.StringVar(&suitePath, "suite", "default", "suite: a file, or the name of one in suites/ (default, full)")
	f.DurationVar(&warmup, "warmup", 0, "warm-up load per target before its first measured point (default: the suite's)")
	f.BoolVar(&noPerf, "no-perf", false, "skip the suite's performance section")
	f.StringVar(&out, "out", "", "folder for the runs and the report (default results/bench-<time>)")
	f.StringVar(&binDir, "bin-dir", "", "directory with the raftkv and zab binaries (default: next to coordlab, then $PATH)")
	f.StringVar(&baseline, "baseline", "etcd", "target the comparison's ratios are against")
	f.BoolVarP(&verbose, "verbose", "v", false, "log state changes (faults, members) to stderr")
	return cmd
}

// dockerUp reports whether the Docker engine answers.
func dockerUp(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "docker", "info").Run() == nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func runSuite(ctx context.Context, stdout, stderr io.Writer, s suite.Suite, out, binDir, baseline string, verbose bool) error {
	runs := s.Expand()
	docker := dockerUp(ctx)
	if !docker {
		fmt.Fprintln(stdout, "bench: the Docker engine is not running (`docker info` failed): running the docker groups in the local runtime instead")
	}
	// Skip optional groups whose programs are not installed, saying why.
	skip := map[int]string{}
	for _, r := range runs {
		if _, done := skip[r.Group]; done || !r.Optional {
			continue
		}
		t, err := cluster.NewTarget(r.Spec.Target, cluster.TargetOptions{BinDir: binDir})
		if err == nil {
			err = t.Check()
		}
		if err != nil {
			skip[r.Group] = err.Error()
			fmt.Fprintf(stdout, "bench: skipping group %d (%s): %v\n", r.Group+1, s.Groups[r.Group].About, err)
		}
	}
	var todo []suite.Run
	for _, r := range runs {
		if _, ok := skip[r.Group]; ok {
			continue
		}
		if r.Spec.Runtime == "docker" && !docker {
			r.Spec.Runtime = "local"
		}
		r.Spec.Out, r.Spec.BinDir = out, binDir
		todo = append(todo, r)
	}
	perfRuntime := ""
	if s.Perf != nil {
		perfRuntime = s.Perf.Runtime
		if perfRuntime == "docker" && !docker {
			perfRuntime = "local"
		}
	}
	// The docker runtime runs coordlab/<target>:latest: build every image
	// the bench needs that is missing or stale (our engines from the
	// binaries this bench uses, the references from the installed
	// packages) before the first run, each with a line saying so.
	var need []string
	for _, r := range todo {
		if r.Spec.Runtime == "docker" && !slices.Contains(need, r.Spec.Target) {
			need = append(need, r.Spec.Target)
		}
	}
	if perfRuntime == "docker" {
		for _, t := range s.Perf.Targets {
			if tg, err := cluster.NewTarget(t, cluster.TargetOptions{BinDir: binDir}); err == nil && tg.Check() == nil && !slices.Contains(need, t) {
				need = append(need, t)
			}
		}
	}
	if docker && len(need) > 0 {
		slices.SortFunc(need, func(a, b string) int { return slices.Index(images.All(), a) - slices.Index(images.All(), b) })
		o := images.Options{DockerDir: "docker"}
		if slices.ContainsFunc(need, func(t string) bool { return slices.Contains(images.Engines, t) }) {
			bin, err := cluster.OurBinary("raftkv", binDir)
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			o.BinDir = filepath.Dir(bin)
		}
		if _, err := buildImageList(ctx, stdout, need, o); err != nil {
			return &exitError{code: exitFailed, err: err}
		}
	}
	start := time.Now()
	var perfFailure string
	if s.Perf != nil {
		if err := measurePerf(ctx, stdout, *s.Perf, perfRuntime, binDir, out, logger(logOutput(stderr, verbose), verbose)); err != nil {
			if ctx.Err() != nil {
				return &exitError{code: exitFailed, err: fmt.Errorf("bench: interrupted during the performance section (%s)", out)}
			}
			perfFailure = err.Error()
			fmt.Fprintln(stdout, "bench: performance section failed:", err)
		}
	}
	fmt.Fprintf(stdout, "bench: suite %q: %d runs into %s\n", s.Name, len(todo), out)
	tty := isTerminal(stdout)
	var bar *progressbar.ProgressBar
	if tty {
		bar = progressbar.NewOptions(len(todo),
			progressbar.OptionSetWriter(stdout), progressbar.OptionShowCount(), progressbar.OptionSetWidth(30),
			progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
	}
	logOut := logOutput(stderr, verbose)
	var loaded []*reports.Run
	var failures []string
	if perfFailure != "" {
		failures = append(failures, "performance section: "+perfFailure)
	}
	for i, r := range todo {
		name := fmt.Sprintf("%s %s %s/%s", r.Spec.Target, r.Spec.Runtime, r.Spec.Workload, r.Spec.Nemesis)
		if bar != nil {
			bar.Describe(name)
		}
		o, err := run.Run(ctx, run.Config{Spec: r.Spec, Logger: logger(logOut, verbose)})
		if ctx.Err() != nil {
			return &exitError{code: exitFailed, err: fmt.Errorf("bench: interrupted during %s (runs so far in %s)", name, out)}
		}
		line := ""
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", name, err))
			line = fmt.Sprintf("[%d/%d] %-40s run failed: %v", i+1, len(todo), name, err)
		} else {
			line = fmt.Sprintf("[%d/%d] %-40s %-8s %5d ops  %s", i+1, len(todo), name, o.Results.Valid, o.Results.Counts.Ops, o.Dir)
			if rr, lerr := reports.Load(o.Dir); lerr != nil {
				failures = append(failures, fmt.Sprintf("%s: %v", name, lerr))
			} else if rerr := reports.RenderRun(rr); rerr != nil {
				failures = append(failures, fmt.Sprintf("%s: %v", name, rerr))
			} else {
				loaded = append(loaded, rr)
			}
		}
		if bar != nil {
			bar.Clear()
			fmt.Fprintln(stdout, line)
			bar.Add(1)
		} else {
			fmt.Fprintln(stdout, line)
		}
	}
	if bar != nil {
		bar.Finish()
	}
	if len(loaded) == 0 {
		return &exitError{code: exitFailed, err: fmt.Errorf("bench: no run finished:\n  %s", strings.Join(failures, "\n  "))}
	}
	if err := reports.RenderComparison(loaded, out, baseline); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	if err := reports.RenderIndex(out); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	fmt.Fprintf(stdout, "bench: %d runs and the performance section in %s; %d failed\n", len(loaded), time.Since(start).Round(time.Second), len(failures))
	for _, f := range failures {
		fmt.Fprintln(stdout, "  failed:", f)
	}
	report, _ := filepath.Abs(filepath.Join(out, "comparison.html"))
	fmt.Fprintln(stdout, "report:", report)
	if len(failures) > 0 {
		return &exitError{code: exitFailed, err: errors.New("bench: some runs failed (see above); the report covers the others")}
	}
	return nil
}

func logOutput(stderr io.Writer, verbose bool) io.Writer {
	if verbose {
		return stderr
	}
	return io.Discard
}

// measurePerf runs the suite's performance section into out/perf, in
// runtime (the suite's, or local when Docker is down).
func measurePerf(ctx context.Context, stdout io.Writer, p suite.Perf, runtime, binDir, out string, log *slog.Logger) error {
	var targets []string
	for _, t := range p.Targets {
		tg, err := cluster.NewTarget(t, cluster.TargetOptions{BinDir: binDir})
		if err == nil {
			err = tg.Check()
		}
		if err != nil {
			fmt.Fprintf(stdout, "bench: performance section: skipping %s: %v\n", t, err)
			continue
		}
		targets = append(targets, t)
	}
	if len(targets) == 0 {
		return errors.New("no target of the performance section is installed")
	}
	cfg := perf.Config{
		Targets: targets, Runtime: runtime, BinDir: binDir, Dir: filepath.Join(out, reports.PerfDir),
		Warmup: time.Duration(p.Warmup), Rewarm: time.Duration(p.Rewarm), Point: time.Duration(p.Point),
		Clients: p.Clients, Passes: p.Passes, ValueSize: p.ValueSize, Keys: p.Keys,
		FailoverRounds: p.FailoverRounds, FailoverClients: p.FailoverClients,
		Logger: log, Progress: stdout,
	}
	fmt.Fprintf(stdout, "bench: performance section: %s in the %s runtime, %v of warm-up load per target before its first pass\n",
		strings.Join(targets, ", "), runtime, cfg.Warmup)
	res, err := perf.Measure(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "bench: performance section done in %s\n", res.Elapsed)
	// A target that did not start or stop is a failure of the bench; a
	// failover round without a write is a finding, which the report shows.
	var broken []string
	for _, t := range res.Targets {
		if t.Error != "" {
			broken = append(broken, t.Target+": "+t.Error)
		}
	}
	if len(broken) > 0 {
		return errors.New(strings.Join(broken, "; "))
	}
	return nil
}
