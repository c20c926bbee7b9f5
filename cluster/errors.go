package cluster

import "errors"

var (
	// ErrUnsupported is returned by a primitive the runtime cannot perform
	// (for example a firewall without root). Check Capabilities first.
	ErrUnsupported = errors.New("cluster: fault not supported by this runtime")
	// ErrNoLeader is returned by Leader when no member reports being leader.
	ErrNoLeader = errors.New("cluster: no leader")
	// ErrUnknownMember is returned when a fault names a member the cluster
	// does not have.
	ErrUnknownMember = errors.New("cluster: unknown member")
	// ErrNotStarted is returned by fault methods called before Start or after
	// Stop.
	ErrNotStarted = errors.New("cluster: not started")
	// ErrMissingBinary is wrapped by the error a Target returns when the
	// program it runs is not installed; the message says how to install it.
	ErrMissingBinary = errors.New("cluster: binary not found")
	// ErrNoAdmin is returned by Runtime.AdminURL for a member that serves
	// no admin endpoint.
	ErrNoAdmin = errors.New("cluster: no admin endpoint")
	// ErrUnknownTarget is returned by NewTarget for a name it does not know.
	ErrUnknownTarget = errors.New("cluster: unknown target")
)
