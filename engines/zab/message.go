package zab

import (
	"encoding/binary"
	"fmt"
)

// MessageType is the kind of a peer message. The names and meanings follow
// ZooKeeper's quorum packets (Leader.java) plus the election notification; the
// encoding is ours.
type MessageType uint8

// Message types. "L→F" is leader to follower.
const (
	// MsgNotification (any→any) carries Vote and the sender's State (FLE).
	MsgNotification MessageType = 1 + iota
	// MsgFollowerInfo (F→L) opens connection Conn: Epoch is the follower's
	// acceptedEpoch, Zxid its last logged zxid.
	MsgFollowerInfo
	// MsgLeaderInfo (L→F) proposes Epoch as the new epoch.
	MsgLeaderInfo
	// MsgAckEpoch (F→L) accepts Epoch (the new epoch); Zxid is the follower's
	// last logged zxid and PeerEpoch its currentEpoch. Rejoin is set when the
	// follower had already accepted this epoch: the leader uses its Zxid for
	// sync but does not count it toward the epoch quorum (ZooKeeper's -1).
	MsgAckEpoch
	// MsgDiff (L→F) starts a sync that keeps the follower's log; the missing
	// entries follow as MsgProposal.
	MsgDiff
	// MsgTrunc (L→F) starts a sync that first truncates the follower's log
	// after Zxid.
	MsgTrunc
	// MsgSnap (L→F) starts a sync from a snapshot of the state as of Zxid,
	// carried in Data. The core emits it with Data nil; the leader's runtime
	// fills Data (see Ready).
	MsgSnap
	// MsgProposal (L→F) carries Entries, which directly follow Zxid in the
	// leader's log, and the leader's commit point Commit.
	MsgProposal
	// MsgCommit (L→F) says every entry up to Commit is committed.
	MsgCommit
	// MsgNewLeader (L→F) ends the sync stream: the follower's log must now end
	// at Zxid; it persists it and currentEpoch = Epoch, then ACKs MakeZxid(Epoch, 0).
	MsgNewLeader
	// MsgAck (F→L) says the follower has logged (fsynced) every entry up to
	// Zxid; MakeZxid(Epoch, 0) acknowledges NEWLEADER.
	MsgAck
	// MsgUpToDate (L→F) says the epoch is established; Commit is the leader's
	// commit point.
	MsgUpToDate
	// MsgPing (both ways) keeps the connection alive; from the leader it
	// carries Commit.
	MsgPing
	// MsgRequest (F→L) forwards a client write (Data) for the leader's runtime
	// to prepare and propose.
	MsgRequest
	// MsgSync (F→L) asks to be told when everything proposed so far is
	// committed; Request names it.
	MsgSync
	// MsgSyncReply (L→F) answers MsgSync Request: every entry up to Zxid is
	// committed (and COMMIT for it was sent before this message).
	MsgSyncReply
	msgTypeEnd
)

var msgTypeNames = [...]string{
	MsgNotification: "NOTIFICATION", MsgFollowerInfo: "FOLLOWERINFO", MsgLeaderInfo: "LEADERINFO",
	MsgAckEpoch: "ACKEPOCH", MsgDiff: "DIFF", MsgTrunc: "TRUNC", MsgSnap: "SNAP",
	MsgProposal: "PROPOSAL", MsgCommit: "COMMIT", MsgNewLeader: "NEWLEADER", MsgAck: "ACK",
	MsgUpToDate: "UPTODATE", MsgPing: "PING", MsgRequest: "REQUEST", MsgSync: "SYNC",
	MsgSyncReply: "SYNCREPLY",
}

func (t MessageType) String() string {
	if t > 0 && t < msgTypeEnd {
		return msgTypeNames[t]
	}
	return fmt.Sprintf("MessageType(%d)", uint8(t))
}

// Message is one peer message. Which fields are meaningful depends on Type
// (see the constants); the rest are zero.
type Message struct {
	Type     MessageType
	From, To ServerID
	// Conn is the follower-leader connection the message belongs to (zero for
	// MsgNotification).
	Conn ConnID
	// Epoch is the leader epoch the message is about.
	Epoch  uint32
	Zxid   Zxid
	Commit Zxid
	// Entries are proposals (MsgProposal).
	Entries []Entry
	// Data is a forwarded write (MsgRequest) or a snapshot (MsgSnap).
	Data []byte
	// Request names a sync (MsgSync, MsgSyncReply).
	Request RequestID
	// Vote and State are the election notification (MsgNotification).
	Vote  Vote
	State ServerState
	// PeerEpoch is the follower's currentEpoch (MsgAckEpoch).
	PeerEpoch uint32
	// Rejoin: see MsgAckEpoch.
	Rejoin bool
}

func (m Message) String() string {
	s := fmt.Sprintf("%d->%d %s", m.From, m.To, m.Type)
	switch m.Type {
	case MsgNotification:
		return s + fmt.Sprintf(" %s vote=%s", m.State, m.Vote)
	case MsgFollowerInfo:
		return s + fmt.Sprintf(" accepted=%d last=%s", m.Epoch, m.Zxid)
	case MsgLeaderInfo:
		return s + fmt.Sprintf(" epoch=%d", m.Epoch)
	case MsgAckEpoch:
		return s + fmt.Sprintf(" epoch=%d current=%d last=%s rejoin=%t", m.Epoch, m.PeerEpoch, m.Zxid, m.Rejoin)
	case MsgDiff, MsgTrunc, MsgNewLeader, MsgAck, MsgSyncReply:
		s += fmt.Sprintf(" epoch=%d zxid=%s", m.Epoch, m.Zxid)
		if m.Type == MsgSyncReply {
			s += fmt.Sprintf(" req=%d", m.Request)
		}
		return s
	case MsgSnap:
		return s + fmt.Sprintf(" epoch=%d zxid=%s data=%d bytes", m.Epoch, m.Zxid, len(m.Data))
	case MsgProposal:
		s += fmt.Sprintf(" epoch=%d prev=%s commit=%s entries=", m.Epoch, m.Zxid, m.Commit)
		for i, e := range m.Entries {
			if i > 0 {
				s += ","
			}
			s += e.Zxid.String()
		}
		return s
	case MsgCommit, MsgUpToDate, MsgPing:
		return s + fmt.Sprintf(" epoch=%d commit=%s", m.Epoch, m.Commit)
	case MsgRequest:
		return s + fmt.Sprintf(" epoch=%d data=%q", m.Epoch, m.Data)
	case MsgSync:
		return s + fmt.Sprintf(" epoch=%d req=%d", m.Epoch, m.Request)
	}
	return s
}

// messageVersion is the first byte of every encoded message.
const messageVersion = 1

// messageHeaderBytes is the fixed part of an encoded message.
// (version, type, flags; from, to, conn; epoch; zxid, commit, request; vote
// leader, zxid, round; vote epoch; state; peer epoch; two empty varints).
const messageHeaderBytes = 3 + 3*8 + 4 + 3*8 + 3*8 + 4 + 1 + 4 + 2

// Marshal encodes m (big-endian, versioned). See AppendMarshal.
func (m *Message) Marshal() []byte { return m.AppendMarshal(nil) }

// AppendMarshal appends the encoding of m to b and returns the extended slice.
func (m *Message) AppendMarshal(b []byte) []byte {
	var flags byte
	if m.Rejoin {
		flags |= 1
	}
	b = append(b, messageVersion, byte(m.Type), flags)
	b = binary.BigEndian.AppendUint64(b, uint64(m.From))
	b = binary.BigEndian.AppendUint64(b, uint64(m.To))
	b = binary.BigEndian.AppendUint64(b, uint64(m.Conn))
	b = binary.BigEndian.AppendUint32(b, m.Epoch)
	b = binary.BigEndian.AppendUint64(b, uint64(m.Zxid))
	b = binary.BigEndian.AppendUint64(b, uint64(m.Commit))
	b = binary.BigEndian.AppendUint64(b, uint64(m.Request))
	b = binary.BigEndian.AppendUint64(b, uint64(m.Vote.Leader))
	b = binary.BigEndian.AppendUint64(b, uint64(m.Vote.Zxid))
	b = binary.BigEndian.AppendUint64(b, m.Vote.ElectionEpoch)
	b = binary.BigEndian.AppendUint32(b, m.Vote.PeerEpoch)
	b = append(b, byte(m.State))
	b = binary.BigEndian.AppendUint32(b, m.PeerEpoch)
	b = binary.AppendUvarint(b, uint64(len(m.Data)))
	b = append(b, m.Data...)
	b = binary.AppendUvarint(b, uint64(len(m.Entries)))
	for _, e := range m.Entries {
		b = binary.BigEndian.AppendUint64(b, uint64(e.Zxid))
		b = binary.AppendUvarint(b, uint64(len(e.Data)))
		b = append(b, e.Data...)
	}
	return b
}

// UnmarshalMessage decodes one message encoded by Marshal. The result's Data
// and entry Data alias b: do not reuse b while the message is in use. Errors
// wrap ErrMalformedMessage and say which part is wrong.
func UnmarshalMessage(b []byte) (Message, error) {
	var m Message
	bad := func(format string, a ...any) (Message, error) {
		return Message{}, fmt.Errorf("%w: "+format, append([]any{ErrMalformedMessage}, a...)...)
	}
	if len(b) < messageHeaderBytes {
		return bad("%d bytes, want at least %d", len(b), messageHeaderBytes)
	}
	if b[0] != messageVersion {
		return bad("version %d, want %d", b[0], messageVersion)
	}
	m.Type = MessageType(b[1])
	if m.Type == 0 || m.Type >= msgTypeEnd {
		return bad("unknown type %d", b[1])
	}
	if b[2]&^1 != 0 {
		return bad("unknown flags %#x", b[2])
	}
	m.Rejoin = b[2]&1 != 0
	p := b[3:]
	u64 := func() uint64 { v := binary.BigEndian.Uint64(p); p = p[8:]; return v }
	u32 := func() uint32 { v := binary.BigEndian.Uint32(p); p = p[4:]; return v }
	m.From = ServerID(u64())
	m.To = ServerID(u64())
	m.Conn = ConnID(u64())
	m.Epoch = u32()
	m.Zxid = Zxid(u64())
	m.Commit = Zxid(u64())
	m.Request = RequestID(u64())
	m.Vote.Leader = ServerID(u64())
	m.Vote.Zxid = Zxid(u64())
	m.Vote.ElectionEpoch = u64()
	m.Vote.PeerEpoch = u32()
	m.State = ServerState(p[0])
	p = p[1:]
	if m.State > StateLeading {
		return bad("unknown state %d", m.State)
	}
	m.PeerEpoch = u32()
	// blob reads a length-prefixed byte string: the message data (entry < 0)
	// or the data of entry i (named only when formatting an error).
	blob := func(entry int) ([]byte, error) {
		what := func() string {
			if entry < 0 {
				return "data"
			}
			return fmt.Sprintf("entry %d data", entry)
		}
		n, k := binary.Uvarint(p)
		if k <= 0 {
			return nil, fmt.Errorf("%w: %s length: bad varint", ErrMalformedMessage, what())
		}
		p = p[k:]
		if n > uint64(len(p)) {
			return nil, fmt.Errorf("%w: %s length %d exceeds the %d bytes left", ErrMalformedMessage, what(), n, len(p))
		}
		v := p[:n:n]
		p = p[n:]
		if n == 0 {
			v = nil
		}
		return v, nil
	}
	var err error
	if m.Data, err = blob(-1); err != nil {
		return Message{}, err
	}
	n, k := binary.Uvarint(p)
	if k <= 0 {
		return bad("entry count: bad varint")
	}
	p = p[k:]
	// Each entry takes at least 9 bytes: bound the count before allocating.
	if n > uint64(len(p)/9) {
		return bad("entry count %d cannot fit in %d bytes", n, len(p))
	}
	if n > 0 {
		m.Entries = make([]Entry, n)
		for i := range m.Entries {
			if len(p) < 8 {
				return bad("entry %d: truncated zxid", i)
			}
			m.Entries[i].Zxid = Zxid(u64())
			if m.Entries[i].Data, err = blob(i); err != nil {
				return Message{}, err
			}
		}
	}
	if len(p) != 0 {
		return bad("%d trailing bytes", len(p))
	}
	return m, nil
}
