package zab

import "fmt"

// ServerID is a member's configured id (ZooKeeper's myid / sid): positive.
type ServerID uint64

// RequestID names one Sync call so that its completion (Ready.Syncs) can be
// matched to the client that asked. The runtime chooses it; the core only
// echoes it.
type RequestID uint64

// ConnID names one follower-leader connection (one attempt of a follower to
// join a leader). Every quorum message carries the ConnID of the connection it
// belongs to, and a member drops messages of any other connection. Over TCP
// this is redundant; it is what keeps the core safe when a network duplicates
// or reorders messages across reconnects (zabtest's network does both).
type ConnID uint64

// ServerState is a member's role, as ZooKeeper's ServerState.
type ServerState uint8

// Server states. Zero is "unset".
const (
	StateLooking ServerState = 1 + iota
	StateFollowing
	StateLeading
)

func (s ServerState) String() string {
	switch s {
	case StateLooking:
		return "LOOKING"
	case StateFollowing:
		return "FOLLOWING"
	case StateLeading:
		return "LEADING"
	}
	return fmt.Sprintf("ServerState(%d)", uint8(s))
}

// Phase is the progress inside one role (ZooKeeper's ZabState).
type Phase uint8

// Phases. A LOOKING member is in PhaseElection; a leader or follower moves
// through discovery (epoch), synchronization (history) and broadcast.
const (
	PhaseElection Phase = 1 + iota
	PhaseDiscovery
	PhaseSync
	PhaseBroadcast
)

func (p Phase) String() string {
	switch p {
	case PhaseElection:
		return "election"
	case PhaseDiscovery:
		return "discovery"
	case PhaseSync:
		return "sync"
	case PhaseBroadcast:
		return "broadcast"
	}
	return fmt.Sprintf("Phase(%d)", uint8(p))
}

// Entry is one logged transaction: its zxid and the opaque bytes the runtime
// proposed (for the zab server, an encoded znode.Txn).
type Entry struct {
	Zxid Zxid
	Data []byte
}

// HardState is what must survive a crash besides the log: the epoch this
// member last agreed to follow (acceptedEpoch) and the epoch whose history it
// last adopted (currentEpoch). AcceptedEpoch >= CurrentEpoch always.
type HardState struct {
	AcceptedEpoch uint32
	CurrentEpoch  uint32
}

// SoftState is the volatile role of a member; Ready.SoftState carries it when
// it changed.
type SoftState struct {
	State ServerState
	Phase Phase
	// Leader is the leader this member follows or is (0 while LOOKING).
	Leader ServerID
	// Epoch is the epoch of that leader (0 while LOOKING or before discovery ends).
	Epoch uint32
}

// Snapshot is the application state as of Zxid (every committed transaction up
// to and including Zxid applied, none after). The core never looks inside Data.
type Snapshot struct {
	Zxid Zxid
	Data []byte
}

// Request is a client write a follower forwarded to this leader (see
// Node.Forward). The leader's runtime prepares Data (validates it against its
// state plus the changes already proposed) and calls Node.Propose with the
// resulting transaction, or drops it.
type Request struct {
	From ServerID
	Data []byte
}

// SyncResult completes one Node.Sync call. Err is nil when every transaction
// committed before the sync reached the leader is in this Ready's Committed or
// an earlier one; it is ErrLeaderLost when the member left its leader first.
type SyncResult struct {
	ID  RequestID
	Err error
}

// Vote is a Fast Leader Election vote: a proposed leader and the history it
// would bring (its last logged zxid and currentEpoch), in election round
// ElectionEpoch.
type Vote struct {
	Leader        ServerID
	Zxid          Zxid
	ElectionEpoch uint64
	PeerEpoch     uint32
}

// beats reports whether v is a better leader than o: by (PeerEpoch, Zxid,
// Leader), as ZooKeeper's totalOrderPredicate. The round is not compared.
func (v Vote) beats(o Vote) bool {
	if v.PeerEpoch != o.PeerEpoch {
		return v.PeerEpoch > o.PeerEpoch
	}
	if v.Zxid != o.Zxid {
		return v.Zxid > o.Zxid
	}
	return v.Leader > o.Leader
}

func (v Vote) String() string {
	return fmt.Sprintf("(leader=%d zxid=%s peerEpoch=%d round=%d)", v.Leader, v.Zxid, v.PeerEpoch, v.ElectionEpoch)
}

// Status is a snapshot of a member's state, for logs, metrics and tests.
type Status struct {
	ID ServerID
	SoftState
	HardState
	Vote Vote
	// LastZxid is the last logged (possibly uncommitted) zxid.
	LastZxid Zxid
	// Committed is the highest zxid known committed; Applied the highest
	// handed to the application (through Ready.Committed and Advance).
	Committed Zxid
	Applied   Zxid
	// Outstanding counts proposals waiting for a quorum (leader only).
	Outstanding int
}
