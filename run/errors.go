package run

import "errors"

var (
	// ErrBadSpec is wrapped by every spec validation error.
	ErrBadSpec = errors.New("run: bad spec")
	// ErrInterrupted is returned when the run was cancelled before its time
	// limit (SIGINT).
	ErrInterrupted = errors.New("run: interrupted")
)
