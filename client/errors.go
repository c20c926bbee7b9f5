package client

import (
	"errors"
	"fmt"
)

var (
	// ErrCompacted: the watch start or read revision was compacted.
	ErrCompacted = errors.New("client: revision compacted")
	// ErrSessionExpired: the session (lease, ZooKeeper session) expired.
	ErrSessionExpired = errors.New("client: session expired")
	// ErrNoLeader: the election has no leader (Leader), or the cluster has
	// none (etcd "no leader").
	ErrNoLeader = errors.New("client: no leader")
	// ErrTimeout: the deadline passed before an answer.
	ErrTimeout = errors.New("client: timeout")
	// ErrUnavailable: the member could not be reached or refused service.
	ErrUnavailable = errors.New("client: member unavailable")
	// ErrConnLost: the connection broke while the request was in flight.
	ErrConnLost = errors.New("client: connection lost")
	// ErrClosed: the client or session was closed.
	ErrClosed = errors.New("client: closed")
	// ErrNotFound: the node or key an operation needs is missing (used by
	// operations other than Get/Delete, where missing is an answer).
	ErrNotFound = errors.New("client: not found")
	// ErrBadArgument: the request is malformed (bad key, bad ttl).
	ErrBadArgument = errors.New("client: bad argument")
)

// OpError is every error a Client returns: what was being done, whether the
// operation surely did not happen (Definite), and the cause.
type OpError struct {
	Op       string // "get", "put", "cas", "delete", "watch", "session", "lock", "unlock", "campaign", "resign", "leader"
	Key      string
	Node     string
	Definite bool  // true: surely did not take effect (fail); false: may have (info)
	Err      error // the cause; may wrap a sentinel of this package
}

func (e *OpError) Error() string {
	kind := "indeterminate"
	if e.Definite {
		kind = "definite"
	}
	s := e.Op
	if e.Key != "" {
		s += " " + e.Key
	}
	if e.Node != "" {
		s += " on " + e.Node
	}
	return fmt.Sprintf("%s: %s: %v", s, kind, e.Err)
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

// IsDefinite reports whether err surely means the operation did not happen:
// an *OpError with Definite set. Any other error (including a bare one an
// adapter forgot to classify) counts as indeterminate: when in doubt, info.
func IsDefinite(err error) bool {
	var oe *OpError
	return errors.As(err, &oe) && oe.Definite
}

// Definite returns an *OpError that says the op did not happen.
func Definite(op, key, node string, err error) error {
	return &OpError{Op: op, Key: key, Node: node, Definite: true, Err: err}
}

// Indefinite returns an *OpError that says the op may have happened.
func Indefinite(op, key, node string, err error) error {
	return &OpError{Op: op, Key: key, Node: node, Definite: false, Err: err}
}
