package main

import (
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"coordlab/analysis"
	"coordlab/reports"
	"coordlab/run"
	"coordlab/runfile"
	"coordlab/workloads"
)

func newRunCmd() *cobra.Command {
	var verbose bool
	var spec func() run.Spec
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Start a cluster, run a workload under faults, check the history, write report.html",
		Example: `  coordlab run --target etcd --workload register --nemesis partition --read-mode serializable --time-limit 20s
  coordlab run --target zookeeper --workload lock --nemesis pause --seed 7`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			o, err := run.Run(cmd.Context(), run.Config{Spec: spec(), Progress: out, Logger: logger(cmd.ErrOrStderr(), verbose), Phase: spinner(out)})
			if err != nil {
				if o.Dir != "" {
					fmt.Fprintf(out, "run dir: %s\n", o.Dir)
				}
				return &exitError{code: exitFailed, err: err}
			}
			return verdict(out, o.Dir, o.Results, renderPage(out, o.Dir))
		},
	}
	spec = specFlags(cmd.Flags())
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log state changes (faults, members) to stderr")
	return cmd
}

// specFlags adds a flag for each field of run.Spec, with runfile.Default's
// values as the flags' defaults, and returns the function that reads them
// into a Spec once they are parsed.
func specFlags(f *pflag.FlagSet) func() run.Spec {
	d := runfile.Default()
	s := d
	dur := func(p *run.Duration, name string, usage string) {
		f.DurationVar((*time.Duration)(p), name, time.Duration(*p), usage)
	}
	f.StringVar(&s.Target, "target", "", "system under test: raftkv, zab, etcd, zookeeper (required)")
	f.StringVar(&s.Runtime, "runtime", d.Runtime, "where members run: "+strings.Join(slices.Sorted(maps.Keys(run.Runtimes)), " or ")+" (what each can do here: coordlab list)")
	f.StringVar(&s.Network, "network", d.Network, "local runtime networking: auto (netns as root), netns, loopback")
	f.IntVar(&s.Nodes, "nodes", d.Nodes, "cluster size: 3 or 5")
	f.StringVar(&s.Workload, "workload", d.Workload, strings.Join(workloads.Names(), ", "))
	f.StringVar(&s.Nemesis, "nemesis", d.Nemesis, "none, partition, kill, pause, loss, clock, latency, partition-<shape>, all, or a comma list (see `coordlab list`)")
	dur(&s.TimeLimit, "time-limit", "how long the workload runs")
	f.IntVar(&s.Concurrency, "concurrency", d.Concurrency, "worker threads (logical processes at a time)")
	f.Float64Var(&s.Rate, "rate", d.Rate, "total operations per second (0 = unlimited)")
	f.StringVar(&s.ReadMode, "read-mode", "", "linearizable|serializable (etcd API), sync|local (ZooKeeper API); default linearizable / sync")
	f.Int64Var(&s.Seed, "seed", d.Seed, "seed of the fault schedule and op choices")
	f.StringVar(&s.Out, "out", d.Out, "directory that receives the run directory")
	f.IntVar(&s.Keys, "keys", d.Keys, "register and watch keys")
	dur(&s.Interval, "nemesis-interval", "quiet time before each fault")
	dur(&s.FaultFor, "nemesis-duration", "how long each fault lasts")
	f.IntVar(&s.LossPercent, "loss-percent", d.LossPercent, "packet loss of the loss nemesis, percent")
	f.BoolVar(&s.Unfenced, "unfenced", false, "lock workload: write with a plain put instead of a fenced write")
	dur(&s.SessionTTL, "session-ttl", "lock/election session TTL")
	dur(&s.Hold, "hold", "lock: how long a holder waits before its write")
	dur(&s.OpTimeout, "op-timeout", "timeout of each operation")
	f.StringVar(&s.BinDir, "bin-dir", "", "directory with the raftkv and zab binaries (default: next to coordlab, then $PATH)")
	dur(&s.CheckLimit, "check-time-limit", "analysis time budget")
	return func() run.Spec { return s }
}

// renderPage writes dir/report.html and returns its path; when it cannot,
// it says why on w and returns "" (the verdict stands without the page).
func renderPage(w io.Writer, dir string) string {
	r, err := reports.Load(dir)
	if err == nil {
		err = reports.RenderRun(r)
	}
	if err != nil {
		fmt.Fprintf(w, "report: not written: %v\n", err)
		return ""
	}
	return filepath.Join(dir, "report.html")
}

// verdict prints the outcome and returns the exit status as an error.
func verdict(w io.Writer, dir string, r analysis.Results, page string) error {
	fmt.Fprintf(w, "ops %d (ok %d, fail %d, info %d), nemesis ops %d\n", r.Counts.Ops, r.Counts.OK, r.Counts.Fail, r.Counts.Info, r.Counts.Nemesis)
	names := make([]string, 0, len(r.Checkers))
	for n := range r.Checkers {
		names = append(names, n)
	}
	sortStrings(names)
	for _, n := range names {
		c := r.Checkers[n]
		fmt.Fprintf(w, "  %-14s %s", n, c.Valid)
		if len(c.Anomalies) > 0 {
			fmt.Fprintf(w, " (%d anomalies; first: %s: %s)", len(c.Anomalies), c.Anomalies[0].Kind, c.Anomalies[0].Explanation)
		}
		if c.Note != "" && c.Valid != analysis.Valid {
			fmt.Fprintf(w, " [%s]", c.Note)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "verdict: %s\nrun dir: %s\n", r.Valid, dir)
	if page != "" {
		fmt.Fprintf(w, "report: %s\n", page)
	}
	switch r.Valid {
	case analysis.Valid:
		return nil
	case analysis.Invalid:
		return &exitError{code: exitAnomaly}
	}
	return &exitError{code: exitFailed, err: fmt.Errorf("verdict unknown: %s", unknownReason(r))}
}
