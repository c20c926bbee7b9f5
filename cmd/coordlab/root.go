package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitValid   = 0 // the checkers found no anomaly
	exitAnomaly = 1 // an anomaly was found
	exitFailed  = 2 // the run (or the command) failed, or the verdict is unknown
)

// extraCommands are subcommands defined in other files of this package that
// add themselves from a var initializer (report.go: `var _ =
// addCommand(newReportCmd)`), so the root never names them.
var extraCommands []func() *cobra.Command

// addCommand registers a subcommand constructor; it returns true so it can
// be used in a var initializer.
func addCommand(f func() *cobra.Command) bool {
	extraCommands = append(extraCommands, f)
	return true
}

// exitError carries an exit status through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "coordlab",
		Short: "A Jepsen-style lab for coordination systems (Raft/etcd vs ZAB/ZooKeeper)",
		Long: `coordlab starts a cluster of etcd, ZooKeeper, raftkv or zab, drives a workload
while injecting faults, records every operation, and checks the history.

Exit status: 0 valid, 1 anomaly found, 2 the run failed (or the verdict is unknown).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newRunCmd(), newCheckCmd(), newListCmd(), newCleanCmd())
	for _, f := range extraCommands {
		root.AddCommand(f())
	}
	return root
}

// execute runs the command line and returns the exit status.
func execute(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitValid
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "coordlab:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "coordlab:", err)
	return exitFailed
}

// logger writes component logs to w at level.
func logger(w io.Writer, verbose bool) *slog.Logger {
	lvl := new(slog.LevelVar)
	lvl.Set(slog.LevelWarn)
	if verbose {
		lvl.Set(slog.LevelInfo)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}
