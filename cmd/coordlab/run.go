package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"coordlab/analysis"
	"coordlab/run"
)

func newRunCmd() *cobra.Command {
	var s run.Spec
	var timeLimit, interval, faultFor, ttl, hold, opTimeout, checkLimit time.Duration
	var verbose bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Start a cluster, run a workload under faults, check the history",
		Example: `  coordlab run --target etcd --workload register --nemesis partition --read-mode serializable --time-limit 20s
  coordlab run --target zookeeper --workload lock --nemesis pause --seed 7`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s.TimeLimit, s.Interval, s.FaultFor = run.Duration(timeLimit), run.Duration(interval), run.Duration(faultFor)
			s.SessionTTL, s.Hold, s.OpTimeout, s.CheckLimit = run.Duration(ttl), run.Duration(hold), run.Duration(opTimeout), run.Duration(checkLimit)
			out := cmd.OutOrStdout()
			o, err := run.Run(cmd.Context(), run.Config{Spec: s, Progress: out, Logger: logger(cmd.ErrOrStderr(), verbose), Phase: spinner(out)})
			if err != nil {
				if o.Dir != "" {
					fmt.Fprintf(out, "run dir: %s\n", o.Dir)
				}
				return &exitError{code: exitFailed, err: err}
			}
			return verdict(out, o.Dir, o.Results)
		},
	}
	f := cmd.Flags()
	f.StringVar(&s.Target, "target", "", "system under test: raftkv, zab, etcd, zookeeper (required)")
	f.StringVar(&s.Runtime, "runtime", "local", "where members run: "+strings.Join(slices.Sorted(maps.Keys(run.Runtimes)), " or ")+" (what each can do here: coordlab list)")
	f.StringVar(&s.Network, "network", "auto", "local runtime networking: auto (netns as root), netns, loopback")
	f.IntVar(&s.Nodes, "nodes", 3, "cluster size: 3 or 5")
	f.StringVar(&s.Workload, "workload", "register", "register, lock, watch, election, config")
	f.StringVar(&s.Nemesis, "nemesis", "none", "none, partition, kill, pause, loss, clock, partition-<shape>, all, or a comma list (see coordlab list)")
	f.DurationVar(&timeLimit, "time-limit", 30*time.Second, "how long the workload runs")
	f.IntVar(&s.Concurrency, "concurrency", 10, "worker threads (logical processes at a time)")
	f.Float64Var(&s.Rate, "rate", 200, "total operations per second (0 = unlimited)")
	f.StringVar(&s.ReadMode, "read-mode", "", "linearizable|serializable (etcd API), sync|local (ZooKeeper API); default linearizable / sync")
	f.Int64Var(&s.Seed, "seed", 1, "seed of the fault schedule and op choices")
	f.StringVar(&s.Out, "out", "results", "directory that receives the run directory")
	f.IntVar(&s.Keys, "keys", 5, "register and watch keys")
	f.DurationVar(&interval, "nemesis-interval", 5*time.Second, "quiet time before each fault")
	f.DurationVar(&faultFor, "nemesis-duration", 5*time.Second, "how long each fault lasts")
	f.IntVar(&s.LossPercent, "loss-percent", 30, "packet loss of the loss nemesis, percent")
	f.BoolVar(&s.Unfenced, "unfenced", false, "lock workload: write with a plain put instead of a fenced write")
	f.DurationVar(&ttl, "session-ttl", 2*time.Second, "lock/election session TTL")
	f.DurationVar(&hold, "hold", 200*time.Millisecond, "lock: how long a holder waits before its write")
	f.DurationVar(&opTimeout, "op-timeout", 2*time.Second, "timeout of each operation")
	f.StringVar(&s.BinDir, "bin-dir", "", "directory with the raftkv and zab binaries (default: next to coordlab, then $PATH)")
	f.DurationVar(&checkLimit, "check-time-limit", 60*time.Second, "analysis time budget")
	f.BoolVarP(&verbose, "verbose", "v", false, "log state changes (faults, members) to stderr")
	return cmd
}

// verdict prints the outcome and returns the exit status as an error.
func verdict(w io.Writer, dir string, r analysis.Results) error {
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
	switch r.Valid {
	case analysis.Valid:
		return nil
	case analysis.Invalid:
		return &exitError{code: exitAnomaly}
	}
	return &exitError{code: exitFailed, err: fmt.Errorf("verdict unknown: %s", unknownReason(r))}
}
