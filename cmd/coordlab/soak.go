package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"coordlab/soak"
)

var _ = addCommand(newSoakCmd)

func newSoakCmd() *cobra.Command {
	var (
		engines     []string
		binDir, dir string
		limit       time.Duration
		rounds      int
		seed        int64
		keep        bool
	)
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "SIGKILL members of our engines under write load, round after round, and prove nothing acknowledged is lost",
		Long: `soak starts a 3-member cluster of each engine (raftkv, zab) as processes on
loopback and runs rounds until --time (shared between the engines) or
--rounds: under a register load of unique writes, it SIGKILLs one member at
random, the leader, or all members at once (in turn), restarts them on the
same data directories, then checks that the members' state digests agree
(raftkv: HashKV at one revision; zab: a hash of the znode tree read through
each member after a sync), that every acknowledged write is still readable
(its value or a later one) on every member, and that the round's history
passes the register workload's checkers.

Exit status: 0 nothing lost, no mismatch; 1 a loss, a digest mismatch or a
checker failure; 2 the soak itself failed (a member that never came back).
Data, member logs and histories stay in --dir when the soak does not pass.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if limit <= 0 && rounds <= 0 {
				return &exitError{code: exitFailed, err: errors.New("soak: want --time > 0 or --rounds > 0")}
			}
			for _, e := range engines {
				if e != "raftkv" && e != "zab" {
					return &exitError{code: exitFailed, err: fmt.Errorf("soak: --engines: %q: want raftkv, zab or both", e)}
				}
			}
			if dir == "" {
				var err error
				if dir, err = os.MkdirTemp("", "coordlab-soak-"); err != nil {
					return &exitError{code: exitFailed, err: err}
				}
			}
			fmt.Fprintf(out, "soak: engines %s, time %s, rounds %d (0: no limit), seed %d, data in %s\n",
				strings.Join(engines, ","), limit, rounds, seed, dir)
			start := time.Now()
			res, err := soak.Lab(cmd.Context(), engines, binDir, dir, rounds, limit, seed, out)
			fmt.Fprintf(out, "\nsoak summary (%s):\n", time.Since(start).Round(time.Second))
			pass := err == nil
			for _, r := range res {
				fmt.Fprintf(out, "  %s\n", r)
				for _, p := range r.Problems {
					fmt.Fprintf(out, "    %s\n", p)
				}
				pass = pass && r.OK()
			}
			if pass && !keep {
				_ = os.RemoveAll(dir)
			} else {
				fmt.Fprintf(out, "data, member logs and histories: %s\n", dir)
			}
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			if !pass {
				return &exitError{code: exitAnomaly, err: errors.New("soak: acknowledged writes lost, digests disagree or a history failed its checkers")}
			}
			fmt.Fprintln(out, "soak: PASS")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&engines, "engines", []string{"raftkv", "zab"}, "engines to soak, one after the other")
	f.StringVar(&binDir, "bin-dir", "bin", "directory holding the raftkv and zab binaries (make build)")
	f.StringVar(&dir, "dir", "", "directory for data, logs and histories (default: a new temporary directory)")
	f.DurationVar(&limit, "time", 15*time.Minute, "total soak time, shared equally between the engines (0: --rounds alone)")
	f.IntVar(&rounds, "rounds", 0, "rounds per engine (0: as many as --time allows)")
	f.Int64Var(&seed, "seed", 1, "seed for the members killed and the workload's ops")
	f.BoolVar(&keep, "keep", false, "keep --dir even when the soak passes")
	return cmd
}
