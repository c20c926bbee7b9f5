package workloads

import "errors"

var (
	// ErrUnknownWorkload is returned for a workload name not in the table.
	ErrUnknownWorkload = errors.New("workloads: unknown workload")
	// ErrFenced is the reason a fenced write was refused: the register
	// holds a newer token. The op is recorded as fail.
	ErrFenced = errors.New("workloads: fenced: the register holds a newer token")
	// ErrNotAttempted marks an op that failed before anything was sent that
	// could change state (a fenced write whose first read failed): fail.
	ErrNotAttempted = errors.New("workloads: not attempted")
)
