package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"coordlab/engines/zab/server"
)

// run is the whole command: flags and zoo.cfg -> Config -> Validate -> Run
// until SIGINT or SIGTERM.
func run(args []string, stderr io.Writer) error {
	level := new(slog.LevelVar)
	if v := os.Getenv("ZAB_LOG_LEVEL"); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			return errors.New("ZAB_LOG_LEVEL: want debug, info, warn or error, got " + v)
		}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg, ignored, err := server.LoadConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(ignored) > 0 {
		// Inert: ZooKeeper's own tuning, nothing zab serves differently
		// (docs/COMPATIBILITY.md); every other setting is honoured or
		// stopped the start above.
		logger.Info("ZooKeeper tuning settings with no counterpart in zab", "settings", strings.Join(ignored, ","))
	}
	cfg.Logger = logger
	if err := cfg.Validate(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return server.Run(ctx, cfg)
}
