package faults

import "errors"

var (
	// ErrBadSpec is wrapped by the error for a nemesis spec that cannot be
	// parsed; the message lists the packages.
	ErrBadSpec = errors.New("faults: bad nemesis spec")
	// ErrUnsupported is returned when the runtime cannot inject a fault the
	// spec asks for.
	ErrUnsupported = errors.New("faults: runtime cannot inject this fault")
)
