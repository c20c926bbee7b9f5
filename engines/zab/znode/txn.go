package znode

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"coordlab/engines/zab/jute"
	"coordlab/engines/zab/zxid"
)

// Zxid is a ZooKeeper transaction id (package zxid), the one type the
// core, the tree and the server share. Stat and ReplyHeader carry it as a
// jute long: convert with int64(z) and Zxid(v) there.
type Zxid = zxid.Zxid

// SessionID is a ZooKeeper session id. 0 means "no session": the server
// itself (container and TTL reaping).
type SessionID int64

// ConnID names one client connection for watch registration. The server
// assigns them; 0 means "do not watch".
type ConnID uint64

// TxnType says which change a Txn is.
type TxnType uint8

// Txn types, one per ZooKeeper txn record the tree applies.
const (
	TxnCreateSession TxnType = 1 + iota // Session, Timeout
	TxnCloseSession                     // Session; deletes its ephemerals
	TxnCreate                           // Path, Data, ACL, Kind, TTL, ParentCVersion
	TxnDelete                           // Path
	TxnSetData                          // Path, Data, Version (the new version)
	TxnSetACL                           // Path, ACL, Version (the new aversion)
	TxnCheck                            // Path, Version (checked; changes nothing)
	TxnMulti                            // Ops
	TxnError                            // Err: a write that failed in Prepare
)

var txnTypeNames = [...]string{"", "createSession", "closeSession", "create", "delete", "setData", "setACL", "check", "multi", "error"}

func (t TxnType) String() string {
	if int(t) < len(txnTypeNames) && t != 0 {
		return txnTypeNames[t]
	}
	return "TxnType(" + strconv.Itoa(int(t)) + ")"
}

// NodeKind is what sort of znode a Create makes. Sequential is not a kind:
// Prepare has already put the suffix into the path.
type NodeKind uint8

// Node kinds.
const (
	KindPersistent NodeKind = 1 + iota
	KindEphemeral           // owned by Txn.Session, deleted with it
	KindContainer           // deleted by the leader once it had children and has none
	KindTTL                 // deleted by the leader once childless and unmodified for TTL ms
)

var kindNames = [...]string{"", "persistent", "ephemeral", "container", "ttl"}

func (k NodeKind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return "NodeKind(" + strconv.Itoa(int(k)) + ")"
}

// Ephemeral owner markers ZooKeeper puts in Stat.EphemeralOwner for
// containers and TTL nodes.
const (
	ContainerOwner int64 = -1 << 63           // 0x8000000000000000
	ttlOwnerMask   int64 = -0x100000000000000 // 0xFF00000000000000
	// MaxTTL is the largest TTL (ms) a TTL node may have: 2^40-1.
	MaxTTL int64 = 1<<40 - 1
)

// Txn is one replicated change, as the log carries it. Fields not used by
// Type are zero. The zxid is not part of a Txn: the core assigns it and
// passes it to Apply.
type Txn struct {
	Type    TxnType
	Session SessionID // the session that issued it (0: the server itself)
	Cxid    int32     // the client's xid, for matching the reply
	Time    int64     // ms since the epoch, chosen by the leader; becomes ctime/mtime

	Path           string
	Data           []byte
	ACL            []jute.ACL
	Kind           NodeKind  // Create
	TTL            int64     // Create with KindTTL, ms
	Version        int32     // SetData: new data version; SetACL: new aversion; Check: expected version
	ParentCVersion int32     // Create: the parent's cversion after this create
	Timeout        int32     // CreateSession: negotiated session timeout, ms
	Err            jute.Code // Error
	Ops            []Txn     // Multi: sub-txns (never Multi themselves); a failed multi holds only Error txns
}

const txnFormat = 1

// Marshal encodes t compactly (format byte, type, varints,
// length-prefixed bytes).
func (t *Txn) Marshal() []byte { return t.AppendMarshal(nil) }

// AppendMarshal appends t's encoding to dst.
func (t *Txn) AppendMarshal(dst []byte) []byte {
	dst = append(dst, txnFormat)
	return t.appendBody(dst)
}

func (t *Txn) appendBody(b []byte) []byte {
	b = append(b, byte(t.Type))
	b = binary.AppendVarint(b, int64(t.Session))
	b = binary.AppendVarint(b, int64(t.Cxid))
	b = binary.AppendVarint(b, t.Time)
	switch t.Type {
	case TxnCreateSession:
		b = binary.AppendVarint(b, int64(t.Timeout))
	case TxnCloseSession:
	case TxnCreate:
		b = appendString(b, t.Path)
		b = appendBytes(b, t.Data)
		b = appendACL(b, t.ACL)
		b = append(b, byte(t.Kind))
		b = binary.AppendVarint(b, t.TTL)
		b = binary.AppendVarint(b, int64(t.ParentCVersion))
	case TxnDelete:
		b = appendString(b, t.Path)
	case TxnSetData:
		b = appendString(b, t.Path)
		b = appendBytes(b, t.Data)
		b = binary.AppendVarint(b, int64(t.Version))
	case TxnSetACL:
		b = appendString(b, t.Path)
		b = appendACL(b, t.ACL)
		b = binary.AppendVarint(b, int64(t.Version))
	case TxnCheck:
		b = appendString(b, t.Path)
		b = binary.AppendVarint(b, int64(t.Version))
	case TxnMulti:
		b = binary.AppendUvarint(b, uint64(len(t.Ops)))
		for i := range t.Ops {
			b = t.Ops[i].appendBody(b)
		}
	case TxnError:
		b = binary.AppendVarint(b, int64(t.Err))
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendBytes keeps nil and empty apart (0 = nil, n+1 = n bytes) so a txn
// round-trips exactly.
func appendBytes(b, v []byte) []byte {
	if v == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(v))+1)
	return append(b, v...)
}

func appendACL(b []byte, acl []jute.ACL) []byte {
	b = binary.AppendUvarint(b, uint64(len(acl)))
	for _, a := range acl {
		b = binary.AppendVarint(b, int64(a.Perms))
		b = appendString(b, a.ID.Scheme)
		b = appendString(b, a.ID.ID)
	}
	return b
}

// UnmarshalTxn decodes what Marshal produced. Anything else is an error
// wrapping ErrCorruptTxn; it never panics.
func UnmarshalTxn(b []byte) (*Txn, error) {
	t := new(Txn)
	if err := t.Unmarshal(b); err != nil {
		return nil, err
	}
	return t, nil
}

// Unmarshal decodes b into t, replacing its contents.
func (t *Txn) Unmarshal(b []byte) error {
	d := txnDecoder{b: b}
	if len(b) == 0 {
		return fmt.Errorf("%w: empty input", ErrCorruptTxn)
	}
	if b[0] != txnFormat {
		return fmt.Errorf("%w: format %d, want %d", ErrCorruptTxn, b[0], txnFormat)
	}
	d.off = 1
	*t = Txn{}
	d.body(t, 0)
	if d.err == nil && d.off != len(b) {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return d.err
	}
	return nil
}

type txnDecoder struct {
	b   []byte
	off int
	err error
}

func (d *txnDecoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", ErrCorruptTxn, what, d.off)
	}
}

func (d *txnDecoder) byte1(what string) byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail("truncated " + what)
		return 0
	}
	v := d.b[d.off]
	d.off++
	return v
}

func (d *txnDecoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint " + what)
		return 0
	}
	d.off += n
	return v
}

func (d *txnDecoder) int32v(what string) int32 {
	v := d.varint(what)
	if v != int64(int32(v)) {
		d.fail(what + " overflows int32")
		return 0
	}
	return int32(v)
}

func (d *txnDecoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad uvarint " + what)
		return 0
	}
	d.off += n
	return v
}

func (d *txnDecoder) length(what string, v uint64) int {
	if d.err != nil {
		return 0
	}
	if v > uint64(len(d.b)-d.off) {
		d.fail(what + " length " + strconv.FormatUint(v, 10) + " exceeds input")
		return 0
	}
	return int(v)
}

func (d *txnDecoder) str(what string) string {
	n := d.length(what, d.uvarint(what))
	if d.err != nil {
		return ""
	}
	s := string(d.b[d.off : d.off+n])
	d.off += n
	return s
}

func (d *txnDecoder) bytes(what string) []byte {
	v := d.uvarint(what)
	if d.err != nil || v == 0 {
		return nil
	}
	n := d.length(what, v-1)
	if d.err != nil {
		return nil
	}
	out := make([]byte, n)
	copy(out, d.b[d.off:])
	d.off += n
	return out
}

func (d *txnDecoder) acl() []jute.ACL {
	n := d.length("acl", d.uvarint("acl"))
	if d.err != nil || n == 0 {
		return nil
	}
	out := make([]jute.ACL, n)
	for i := range out {
		out[i].Perms = d.int32v("perms")
		out[i].ID.Scheme = d.str("scheme")
		out[i].ID.ID = d.str("id")
	}
	return out
}

func (d *txnDecoder) body(t *Txn, depth int) {
	t.Type = TxnType(d.byte1("type"))
	t.Session = SessionID(d.varint("session"))
	t.Cxid = d.int32v("cxid")
	t.Time = d.varint("time")
	switch t.Type {
	case TxnCreateSession:
		t.Timeout = d.int32v("timeout")
	case TxnCloseSession:
	case TxnCreate:
		t.Path = d.str("path")
		t.Data = d.bytes("data")
		t.ACL = d.acl()
		t.Kind = NodeKind(d.byte1("kind"))
		if d.err == nil && (t.Kind < KindPersistent || t.Kind > KindTTL) {
			d.fail("unknown node kind " + strconv.Itoa(int(t.Kind)))
		}
		t.TTL = d.varint("ttl")
		t.ParentCVersion = d.int32v("parentCVersion")
	case TxnDelete:
		t.Path = d.str("path")
	case TxnSetData:
		t.Path = d.str("path")
		t.Data = d.bytes("data")
		t.Version = d.int32v("version")
	case TxnSetACL:
		t.Path = d.str("path")
		t.ACL = d.acl()
		t.Version = d.int32v("version")
	case TxnCheck:
		t.Path = d.str("path")
		t.Version = d.int32v("version")
	case TxnMulti:
		if depth > 0 {
			d.fail("multi inside multi")
			return
		}
		v := d.uvarint("ops")
		// Each sub-txn takes at least 4 bytes, which bounds the allocation.
		if d.err == nil && v > uint64(len(d.b)-d.off)/4 {
			d.fail("ops count " + strconv.FormatUint(v, 10) + " exceeds input")
		}
		if d.err != nil || v == 0 {
			return
		}
		n := int(v)
		t.Ops = make([]Txn, n)
		for i := range t.Ops {
			d.body(&t.Ops[i], depth+1)
			if d.err != nil {
				return
			}
		}
	case TxnError:
		t.Err = jute.Code(d.int32v("err"))
	default:
		d.fail("unknown txn type " + strconv.Itoa(int(t.Type)))
	}
}
