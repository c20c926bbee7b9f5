package main

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"coordlab/analysis"
	"coordlab/client"
	"coordlab/cluster"
	"coordlab/cluster/local"
	"coordlab/faults"
	"coordlab/run"
	"coordlab/runfile"
	"coordlab/workloads"
)

func sortStrings(s []string) { sort.Strings(s) }

// unknownReason says why a verdict is unknown.
func unknownReason(r analysis.Results) string {
	var why []string
	if r.Error != "" {
		why = append(why, r.Error)
	}
	if r.Budget.Exhausted != "" {
		why = append(why, "analysis budget exhausted ("+r.Budget.Exhausted+"): raise --check-time-limit")
	}
	for n, c := range r.Checkers {
		if c.Valid == analysis.Unknown && c.Note != "" {
			why = append(why, n+": "+c.Note)
		}
	}
	sort.Strings(why)
	if len(why) == 0 {
		return "no checker could decide"
	}
	return strings.Join(why, "; ")
}

func newCheckCmd() *cobra.Command {
	var limit time.Duration
	cmd := &cobra.Command{
		Use:   "check DIR",
		Short: "Re-run the analysis of a stored run directory (writes results.json and report.html)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := run.CheckDir(args[0], limit)
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			return verdict(cmd.OutOrStdout(), args[0], res, renderPage(cmd.OutOrStdout(), args[0]))
		},
	}
	cmd.Flags().DurationVar(&limit, "check-time-limit", time.Duration(runfile.Default().CheckLimit), "analysis time budget")
	return cmd
}

func newListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List targets, runtimes, workloads, nemeses and read modes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			fmt.Fprintln(w, "targets:")
			for _, n := range cluster.TargetNames() {
				t, err := cluster.NewTarget(n, cluster.TargetOptions{})
				if err != nil {
					return err
				}
				status := "ready"
				if err := t.Check(); err != nil {
					status = "missing: " + err.Error()
				}
				fmt.Fprintf(w, "  %-10s %s (%s API) [%s]\n", n, cluster.TargetInfo(n), t.Protocol(), status)
			}
			fmt.Fprintln(w, "runtimes:")
			for _, n := range slices.Sorted(maps.Keys(run.Runtimes)) {
				fmt.Fprintf(w, "  %-10s %s\n", n, run.Runtimes[n])
				network, c, err := run.RuntimeHere(cmd.Context(), n)
				if err != nil {
					fmt.Fprintf(w, "             here: unavailable: %v\n", err)
					continue
				}
				fmt.Fprintf(w, "             here: %s network; faults: %s", network, strings.Join(faults.KindsSupported(c), ", "))
				if c.Why != "" {
					fmt.Fprintf(w, " (%s)", c.Why)
				}
				fmt.Fprintf(w, "; pause by %s\n", c.PauseBy)
			}
			fmt.Fprintln(w, "workloads:")
			for _, n := range workloads.Names() {
				fmt.Fprintf(w, "  %-10s %s\n", n, workloads.About(n))
			}
			fmt.Fprintln(w, "nemeses (--nemesis, comma list):")
			for _, n := range faults.PackageNames() {
				fmt.Fprintf(w, "  %-26s %s\n", n, faults.PackageInfo(n))
			}
			fmt.Fprintln(w, "read modes (--read-mode):")
			for _, m := range []client.ReadMode{client.Linearizable, client.Serializable, client.Sync, client.Local} {
				api := "ZooKeeper"
				if m.Etcd() {
					api = "etcd"
				}
				fmt.Fprintf(w, "  %-13s %s API\n", m, api)
			}
			return nil
		},
	}
}

func newCleanCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "clean",
		Short: "Remove network namespaces, links, rules and lazyfs mounts left by crashed runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			removed, err := local.Sweep(cmd.Context(), nil)
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			if len(removed) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "nothing to clean")
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed the leftovers of crashed runs: %s\n", strings.Join(removed, ", "))
			return nil
		},
	}
}
