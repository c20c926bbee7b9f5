package client

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// ReadMode says how a Get is served.
type ReadMode int

const (
	// Linearizable is etcd's default read: through the leader's read index.
	Linearizable ReadMode = 1 + iota
	// Serializable is etcd's local read from the member the client talks to.
	Serializable
	// Sync is a ZooKeeper read preceded by sync on the same connection.
	Sync
	// Local is ZooKeeper's default read from the member the client talks to.
	Local
)

var readModeNames = [...]string{Linearizable: "linearizable", Serializable: "serializable", Sync: "sync", Local: "local"}

// String returns the flag spelling of m.
func (m ReadMode) String() string {
	if m >= Linearizable && m <= Local {
		return readModeNames[m]
	}
	return "ReadMode(" + strconv.Itoa(int(m)) + ")"
}

// ParseReadMode is the inverse of String.
func ParseReadMode(s string) (ReadMode, error) {
	for m := Linearizable; m <= Local; m++ {
		if readModeNames[m] == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("client: read mode %q: want linearizable, serializable, sync or local", s)
}

// Etcd reports whether m is an etcd read mode (linearizable, serializable).
func (m ReadMode) Etcd() bool { return m == Linearizable || m == Serializable }

// ZooKeeper reports whether m is a ZooKeeper read mode (sync, local).
func (m ReadMode) ZooKeeper() bool { return m == Sync || m == Local }

// Versioned is a value with the system's order.
type Versioned struct {
	Value    string
	Found    bool  // the key existed (Get); always true after Put
	Version  int64 // etcd mod_revision / ZooKeeper mzxid of the value
	Revision int64 // etcd store revision / ZooKeeper zxid of the response
}

// Client is one logical client pinned to one member.
type Client interface {
	// Get reads key with the client's read mode.
	Get(ctx context.Context, key string) (Versioned, error)
	// Put writes key; Version is the new mod_revision / mzxid.
	Put(ctx context.Context, key, value string) (Versioned, error)
	// CompareAndSet writes new if key holds old. A loss is ok=false, err=nil,
	// with v the value found (Found false if the key was missing).
	CompareAndSet(ctx context.Context, key, old, new string) (ok bool, v Versioned, err error)
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Watch streams the changes under prefix whose Version is >= fromVersion
	// (0 = from now). The channel is closed when ctx ends or the watch breaks; a break
	// is reported first as an EventError (or EventCompacted when the start
	// was compacted), never as a silent gap.
	Watch(ctx context.Context, prefix string, fromVersion int64) (<-chan WatchEvent, error)
	// NewSession makes an etcd lease (kept alive) or a ZooKeeper session.
	NewSession(ctx context.Context, ttl time.Duration) (Session, error)
	// Lock acquires the named lock in s. The token is the fencing token:
	// etcd the lock key's create revision, ZooKeeper the lock node's czxid.
	Lock(ctx context.Context, s Session, name string) (token int64, unlock func(context.Context) error, err error)
	// Campaign blocks until s leads the election with value; term is the
	// leader key's create revision (etcd) or czxid (ZooKeeper).
	Campaign(ctx context.Context, s Session, election, value string) (term int64, resign func(context.Context) error, err error)
	// Leader returns the current leader's value and term, or an error
	// wrapping ErrNoLeader when nobody leads.
	Leader(ctx context.Context, election string) (value string, term int64, err error)
	// Node names the member this client talks to.
	Node() string
	// Close releases the connection.
	Close() error
}

// ProgressRequester is implemented by clients whose system can be asked for
// a watch progress notification (etcd's RequestProgress): the member then
// sends an EventProgress on every watch of the client.
type ProgressRequester interface {
	RequestProgress(ctx context.Context) error
}

// Session is an etcd lease or a ZooKeeper session.
type Session interface {
	// Done is closed when the session expires or is closed.
	Done() <-chan struct{}
	// ID is the lease ID or session ID.
	ID() int64
	// Close ends the session (revoking the lease / closing the ZooKeeper
	// connection), which releases its locks and leadership.
	Close(ctx context.Context) error
}

// EventType is the kind of a WatchEvent.
type EventType int

const (
	// EventPut is a create or an update.
	EventPut EventType = 1 + iota
	// EventDelete is a delete.
	EventDelete
	// EventProgress says the watch has delivered everything up to Revision.
	EventProgress
	// EventCompacted says the start was compacted; the watch ends. Err
	// wraps ErrCompacted and Revision holds the compact revision.
	EventCompacted
	// EventError says the watch broke (Err); the watch ends.
	EventError
)

var eventTypeNames = [...]string{EventPut: "put", EventDelete: "delete", EventProgress: "progress", EventCompacted: "compacted", EventError: "error"}

// String returns the history spelling of t (history.Event.Type).
func (t EventType) String() string {
	if t >= EventPut && t <= EventError {
		return eventTypeNames[t]
	}
	return "EventType(" + strconv.Itoa(int(t)) + ")"
}

// WatchEvent is one thing a watcher received.
type WatchEvent struct {
	Type          EventType
	Key           string
	Value         string
	Version       int64   // mod_revision / mzxid of the change; 0 = unknown (ZooKeeper deletes)
	CreateVersion int64   // create_revision / czxid of the key
	PrevValue     *string // value before the change, nil if unknown
	Created       bool    // the change created the key
	Revision      int64   // response revision (etcd header, ZooKeeper zxid); progress: the revision notified
	Err           error   // EventError, EventCompacted
}
