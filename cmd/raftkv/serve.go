package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"coordlab/engines/raftkv"
)

// run is flags -> Config -> Run: raftkv.Run serves until SIGINT or SIGTERM.
func run(args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		// The heap is small next to the machine; trade a little memory for
		// less GC work per request.
		debug.SetGCPercent(200)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := raftkv.Run(ctx, o.member); err != nil {
		return oneLine(err)
	}
	return nil
}
