package jute

// This file holds the records of zookeeper.jute that the client protocol
// uses, each with its fields in wire order.

// Id is an ACL identity: scheme and id, e.g. world:anyone or
// digest:user:base64(sha1(user:password)).
type Id struct {
	Scheme string
	ID     string
}

// Encode implements Record.
func (x *Id) Encode(w *Writer) { w.String(x.Scheme); w.String(x.ID) }

// Decode implements Record.
func (x *Id) Decode(r *Reader) { x.Scheme = r.String("scheme"); x.ID = r.String("id") }

// ACL grants Perms (PermRead|PermWrite|...) to an Id.
type ACL struct {
	Perms int32
	ID    Id
}

// Encode implements Record.
func (x *ACL) Encode(w *Writer) { w.Int(x.Perms); x.ID.Encode(w) }

// Decode implements Record.
func (x *ACL) Decode(r *Reader) { x.Perms = r.Int("perms"); x.ID.Decode(r) }

// WorldAnyone is the id every client has.
var WorldAnyone = Id{Scheme: "world", ID: "anyone"}

// OpenACLUnsafe is ZooDefs.Ids.OPEN_ACL_UNSAFE: everything for everyone.
func OpenACLUnsafe() []ACL { return []ACL{{Perms: PermAll, ID: WorldAnyone}} }

// Stat is a znode's metadata as clients see it (68 bytes on the wire).
// Times are milliseconds since the Unix epoch.
type Stat struct {
	Czxid          int64 // zxid of the txn that created the node
	Mzxid          int64 // zxid of the txn that last set its data
	Ctime          int64 // creation time, ms
	Mtime          int64 // last data change time, ms
	Version        int32 // data version
	Cversion       int32 // child list version
	Aversion       int32 // ACL version
	EphemeralOwner int64 // owning session id; 0 if not ephemeral (containers and TTL nodes use marker values)
	DataLength     int32
	NumChildren    int32
	Pzxid          int64 // zxid of the txn that last changed the child list
}

// Encode implements Record.
func (x *Stat) Encode(w *Writer) {
	w.Long(x.Czxid)
	w.Long(x.Mzxid)
	w.Long(x.Ctime)
	w.Long(x.Mtime)
	w.Int(x.Version)
	w.Int(x.Cversion)
	w.Int(x.Aversion)
	w.Long(x.EphemeralOwner)
	w.Int(x.DataLength)
	w.Int(x.NumChildren)
	w.Long(x.Pzxid)
}

// Decode implements Record.
func (x *Stat) Decode(r *Reader) {
	x.Czxid = r.Long("czxid")
	x.Mzxid = r.Long("mzxid")
	x.Ctime = r.Long("ctime")
	x.Mtime = r.Long("mtime")
	x.Version = r.Int("version")
	x.Cversion = r.Int("cversion")
	x.Aversion = r.Int("aversion")
	x.EphemeralOwner = r.Long("ephemeralOwner")
	x.DataLength = r.Int("dataLength")
	x.NumChildren = r.Int("numChildren")
	x.Pzxid = r.Long("pzxid")
}

// ConnectRequest is the first frame a client sends (no RequestHeader).
type ConnectRequest struct {
	ProtocolVersion int32
	LastZxidSeen    int64 // highest zxid the client has seen; a server behind it must refuse the client
	TimeOut         int32 // requested session timeout, ms
	SessionID       int64 // 0 for a new session
	Passwd          []byte
	ReadOnly        bool
	HasReadOnly     bool // the readOnly byte was present (Java client) or not (go-zk)
}

// Encode implements Record. The readOnly byte is written only if HasReadOnly.
func (x *ConnectRequest) Encode(w *Writer) {
	w.Int(x.ProtocolVersion)
	w.Long(x.LastZxidSeen)
	w.Int(x.TimeOut)
	w.Long(x.SessionID)
	w.Buffer(x.Passwd)
	if x.HasReadOnly {
		w.Bool(x.ReadOnly)
	}
}

// Decode implements Record. A trailing readOnly byte is read if present.
func (x *ConnectRequest) Decode(r *Reader) {
	x.ProtocolVersion = r.Int("protocolVersion")
	x.LastZxidSeen = r.Long("lastZxidSeen")
	x.TimeOut = r.Int("timeOut")
	x.SessionID = r.Long("sessionId")
	x.Passwd = r.Buffer("passwd")
	x.HasReadOnly = r.err == nil && r.Remaining() > 0
	if x.HasReadOnly {
		x.ReadOnly = r.Bool("readOnly")
	}
}

// ConnectResponse answers a ConnectRequest (no ReplyHeader). SessionID 0
// (with TimeOut 0) tells the client its session expired.
type ConnectResponse struct {
	ProtocolVersion int32
	TimeOut         int32 // negotiated session timeout, ms
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
	HasReadOnly     bool // write the readOnly byte: mirror ConnectRequest.HasReadOnly
}

// Encode implements Record.
func (x *ConnectResponse) Encode(w *Writer) {
	w.Int(x.ProtocolVersion)
	w.Int(x.TimeOut)
	w.Long(x.SessionID)
	w.Buffer(x.Passwd)
	if x.HasReadOnly {
		w.Bool(x.ReadOnly)
	}
}

// Decode implements Record.
func (x *ConnectResponse) Decode(r *Reader) {
	x.ProtocolVersion = r.Int("protocolVersion")
	x.TimeOut = r.Int("timeOut")
	x.SessionID = r.Long("sessionId")
	x.Passwd = r.Buffer("passwd")
	x.HasReadOnly = r.err == nil && r.Remaining() > 0
	if x.HasReadOnly {
		x.ReadOnly = r.Bool("readOnly")
	}
}

// RequestHeader starts every request after the connect frame.
type RequestHeader struct {
	Xid  int32
	Type Op
}

// Encode implements Record.
func (x *RequestHeader) Encode(w *Writer) { w.Int(x.Xid); w.Int(int32(x.Type)) }

// Decode implements Record.
func (x *RequestHeader) Decode(r *Reader) { x.Xid = r.Int("xid"); x.Type = Op(r.Int("type")) }

// ReplyHeader starts every reply after the connect frame (16 bytes).
type ReplyHeader struct {
	Xid  int32
	Zxid int64 // the server's last processed zxid (for a write, at least the write's zxid)
	Err  Code
}

// Encode implements Record.
func (x *ReplyHeader) Encode(w *Writer) { w.Int(x.Xid); w.Long(x.Zxid); w.Int(int32(x.Err)) }

// Decode implements Record.
func (x *ReplyHeader) Decode(r *Reader) {
	x.Xid = r.Int("xid")
	x.Zxid = r.Long("zxid")
	x.Err = Code(r.Int("err"))
}

// CreateRequest is the body of create (1), create2 (15) and
// createContainer (19).
type CreateRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags int32 // FlagPersistent, FlagEphemeral, ...
}

// Encode implements Record.
func (x *CreateRequest) Encode(w *Writer) {
	w.String(x.Path)
	w.Buffer(x.Data)
	w.ACLs(x.ACL)
	w.Int(x.Flags)
}

// Decode implements Record.
func (x *CreateRequest) Decode(r *Reader) {
	x.Path = r.String("path")
	x.Data = r.Buffer("data")
	x.ACL = r.ACLs("acl")
	x.Flags = r.Int("flags")
}

// CreateTTLRequest is the body of createTTL (21).
type CreateTTLRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags int32
	TTL   int64 // ms
}

// Encode implements Record.
func (x *CreateTTLRequest) Encode(w *Writer) {
	w.String(x.Path)
	w.Buffer(x.Data)
	w.ACLs(x.ACL)
	w.Int(x.Flags)
	w.Long(x.TTL)
}

// Decode implements Record.
func (x *CreateTTLRequest) Decode(r *Reader) {
	x.Path = r.String("path")
	x.Data = r.Buffer("data")
	x.ACL = r.ACLs("acl")
	x.Flags = r.Int("flags")
	x.TTL = r.Long("ttl")
}

// CreateResponse is create's reply: the actual path (with any sequence
// suffix).
type CreateResponse struct{ Path string }

// Encode implements Record.
func (x *CreateResponse) Encode(w *Writer) { w.String(x.Path) }

// Decode implements Record.
func (x *CreateResponse) Decode(r *Reader) { x.Path = r.String("path") }

// Create2Response is the reply of create2, createContainer and createTTL.
type Create2Response struct {
	Path string
	Stat Stat
}

// Encode implements Record.
func (x *Create2Response) Encode(w *Writer) { w.String(x.Path); x.Stat.Encode(w) }

// Decode implements Record.
func (x *Create2Response) Decode(r *Reader) { x.Path = r.String("path"); x.Stat.Decode(r) }

// DeleteRequest is delete's body. Version -1 matches any version.
type DeleteRequest struct {
	Path    string
	Version int32
}

// Encode implements Record.
func (x *DeleteRequest) Encode(w *Writer) { w.String(x.Path); w.Int(x.Version) }

// Decode implements Record.
func (x *DeleteRequest) Decode(r *Reader) { x.Path = r.String("path"); x.Version = r.Int("version") }

// CheckVersionRequest is check's body (inside multi).
type CheckVersionRequest struct {
	Path    string
	Version int32
}

// Encode implements Record.
func (x *CheckVersionRequest) Encode(w *Writer) { w.String(x.Path); w.Int(x.Version) }

// Decode implements Record.
func (x *CheckVersionRequest) Decode(r *Reader) {
	x.Path = r.String("path")
	x.Version = r.Int("version")
}

// ReconfigRequest is reconfig's body (16): an incremental change
// (comma-separated server.N=... lines joining, ids leaving) or a whole new
// membership, against config version CurConfigID (-1: any).
type ReconfigRequest struct {
	JoiningServers string
	LeavingServers string
	NewMembers     string
	CurConfigID    int64
}

// Encode implements Record.
func (x *ReconfigRequest) Encode(w *Writer) {
	w.String(x.JoiningServers)
	w.String(x.LeavingServers)
	w.String(x.NewMembers)
	w.Long(x.CurConfigID)
}

// Decode implements Record.
func (x *ReconfigRequest) Decode(r *Reader) {
	x.JoiningServers = r.String("joiningServers")
	x.LeavingServers = r.String("leavingServers")
	x.NewMembers = r.String("newMembers")
	x.CurConfigID = r.Long("curConfigId")
}

// PathWatchRequest is the body of exists (3), getData (4), getChildren (8)
// and getChildren2 (12): a path and whether to leave a watch.
type PathWatchRequest struct {
	Path  string
	Watch bool
}

// Encode implements Record.
func (x *PathWatchRequest) Encode(w *Writer) { w.String(x.Path); w.Bool(x.Watch) }

// Decode implements Record.
func (x *PathWatchRequest) Decode(r *Reader) { x.Path = r.String("path"); x.Watch = r.Bool("watch") }

// PathRequest is the body of getACL (6), sync (9), getEphemerals (103,
// the path is a prefix) and getAllChildrenNumber (104); also sync's reply.
type PathRequest struct{ Path string }

// Encode implements Record.
func (x *PathRequest) Encode(w *Writer) { w.String(x.Path) }

// Decode implements Record.
func (x *PathRequest) Decode(r *Reader) { x.Path = r.String("path") }

// StatResponse is the reply of exists, setData, setACL and a standalone
// check: just the Stat.
type StatResponse struct{ Stat Stat }

// Encode implements Record.
func (x *StatResponse) Encode(w *Writer) { x.Stat.Encode(w) }

// Decode implements Record.
func (x *StatResponse) Decode(r *Reader) { x.Stat.Decode(r) }

// GetDataResponse is getData's reply.
type GetDataResponse struct {
	Data []byte
	Stat Stat
}

// Encode implements Record.
func (x *GetDataResponse) Encode(w *Writer) { w.Buffer(x.Data); x.Stat.Encode(w) }

// Decode implements Record.
func (x *GetDataResponse) Decode(r *Reader) { x.Data = r.Buffer("data"); x.Stat.Decode(r) }

// SetDataRequest is setData's body. Version -1 matches any version.
type SetDataRequest struct {
	Path    string
	Data    []byte
	Version int32
}

// Encode implements Record.
func (x *SetDataRequest) Encode(w *Writer) { w.String(x.Path); w.Buffer(x.Data); w.Int(x.Version) }

// Decode implements Record.
func (x *SetDataRequest) Decode(r *Reader) {
	x.Path = r.String("path")
	x.Data = r.Buffer("data")
	x.Version = r.Int("version")
}

// GetACLResponse is getACL's reply.
type GetACLResponse struct {
	ACL  []ACL
	Stat Stat
}

// Encode implements Record.
func (x *GetACLResponse) Encode(w *Writer) { w.ACLs(x.ACL); x.Stat.Encode(w) }

// Decode implements Record.
func (x *GetACLResponse) Decode(r *Reader) { x.ACL = r.ACLs("acl"); x.Stat.Decode(r) }

// SetACLRequest is setACL's body. Version is the expected aversion (-1 any).
type SetACLRequest struct {
	Path    string
	ACL     []ACL
	Version int32
}

// Encode implements Record.
func (x *SetACLRequest) Encode(w *Writer) { w.String(x.Path); w.ACLs(x.ACL); w.Int(x.Version) }

// Decode implements Record.
func (x *SetACLRequest) Decode(r *Reader) {
	x.Path = r.String("path")
	x.ACL = r.ACLs("acl")
	x.Version = r.Int("version")
}

// GetChildrenResponse is getChildren's reply.
type GetChildrenResponse struct{ Children []string }

// Encode implements Record.
func (x *GetChildrenResponse) Encode(w *Writer) { w.Strings(x.Children) }

// Decode implements Record.
func (x *GetChildrenResponse) Decode(r *Reader) { x.Children = r.Strings("children") }

// GetChildren2Response is getChildren2's reply.
type GetChildren2Response struct {
	Children []string
	Stat     Stat
}

// Encode implements Record.
func (x *GetChildren2Response) Encode(w *Writer) { w.Strings(x.Children); x.Stat.Encode(w) }

// Decode implements Record.
func (x *GetChildren2Response) Decode(r *Reader) {
	x.Children = r.Strings("children")
	x.Stat.Decode(r)
}

// WatchesRequest is the body of checkWatches (17) and removeWatches (18).
type WatchesRequest struct {
	Path string
	Type WatcherType
}

// Encode implements Record.
func (x *WatchesRequest) Encode(w *Writer) { w.String(x.Path); w.Int(int32(x.Type)) }

// Decode implements Record.
func (x *WatchesRequest) Decode(r *Reader) {
	x.Path = r.String("path")
	x.Type = WatcherType(r.Int("type"))
}

// AddWatchRequest is addWatch's body (106).
type AddWatchRequest struct {
	Path string
	Mode AddWatchMode
}

// Encode implements Record.
func (x *AddWatchRequest) Encode(w *Writer) { w.String(x.Path); w.Int(int32(x.Mode)) }

// Decode implements Record.
func (x *AddWatchRequest) Decode(r *Reader) {
	x.Path = r.String("path")
	x.Mode = AddWatchMode(r.Int("mode"))
}

// ErrorResponse is a bare error code: addWatch's reply (always 0) and the
// body of an error result in a multi reply.
type ErrorResponse struct{ Err Code }

// Encode implements Record.
func (x *ErrorResponse) Encode(w *Writer) { w.Int(int32(x.Err)) }

// Decode implements Record.
func (x *ErrorResponse) Decode(r *Reader) { x.Err = Code(r.Int("err")) }

// SetWatches is the body of setWatches (101) and, with the two persistent
// lists, setWatches2 (105). Decode reads the persistent lists only when
// Has2 is set; DecodeRequest sets it from the opcode.
type SetWatches struct {
	RelativeZxid               int64 // the client's last seen zxid
	DataWatches                []string
	ExistWatches               []string
	ChildWatches               []string
	PersistentWatches          []string // setWatches2 only
	PersistentRecursiveWatches []string // setWatches2 only
	Has2                       bool     // the record is SetWatches2
}

// Encode implements Record.
func (x *SetWatches) Encode(w *Writer) {
	w.Long(x.RelativeZxid)
	w.Strings(x.DataWatches)
	w.Strings(x.ExistWatches)
	w.Strings(x.ChildWatches)
	if x.Has2 {
		w.Strings(x.PersistentWatches)
		w.Strings(x.PersistentRecursiveWatches)
	}
}

// Decode implements Record.
func (x *SetWatches) Decode(r *Reader) {
	x.RelativeZxid = r.Long("relativeZxid")
	x.DataWatches = r.Strings("dataWatches")
	x.ExistWatches = r.Strings("existWatches")
	x.ChildWatches = r.Strings("childWatches")
	if x.Has2 {
		x.PersistentWatches = r.Strings("persistentWatches")
		x.PersistentRecursiveWatches = r.Strings("persistentRecursiveWatches")
	}
}

// AuthPacket is the body of auth (100): addauth scheme auth. For the digest
// scheme Auth is "user:password".
type AuthPacket struct {
	Type   int32 // always 0
	Scheme string
	Auth   []byte
}

// Encode implements Record.
func (x *AuthPacket) Encode(w *Writer) { w.Int(x.Type); w.String(x.Scheme); w.Buffer(x.Auth) }

// Decode implements Record.
func (x *AuthPacket) Decode(r *Reader) {
	x.Type = r.Int("type")
	x.Scheme = r.String("scheme")
	x.Auth = r.Buffer("auth")
}

// GetEphemeralsResponse is getEphemerals' reply.
type GetEphemeralsResponse struct{ Ephemerals []string }

// Encode implements Record.
func (x *GetEphemeralsResponse) Encode(w *Writer) { w.Strings(x.Ephemerals) }

// Decode implements Record.
func (x *GetEphemeralsResponse) Decode(r *Reader) { x.Ephemerals = r.Strings("ephemerals") }

// GetAllChildrenNumberResponse is getAllChildrenNumber's reply.
type GetAllChildrenNumberResponse struct{ TotalNumber int32 }

// Encode implements Record.
func (x *GetAllChildrenNumberResponse) Encode(w *Writer) { w.Int(x.TotalNumber) }

// Decode implements Record.
func (x *GetAllChildrenNumberResponse) Decode(r *Reader) { x.TotalNumber = r.Int("totalNumber") }

// ClientInfo is one entry of whoAmI's reply.
type ClientInfo struct {
	AuthScheme string
	User       string
}

// WhoAmIResponse is whoAmI's reply.
type WhoAmIResponse struct{ ClientInfo []ClientInfo }

// Encode implements Record.
func (x *WhoAmIResponse) Encode(w *Writer) {
	if x.ClientInfo == nil {
		w.Int(-1)
		return
	}
	w.Int(int32(len(x.ClientInfo)))
	for _, c := range x.ClientInfo {
		w.String(c.AuthScheme)
		w.String(c.User)
	}
}

// Decode implements Record.
func (x *WhoAmIResponse) Decode(r *Reader) {
	n, null := r.length("clientInfo", 8)
	if null || r.err != nil {
		return
	}
	x.ClientInfo = make([]ClientInfo, n)
	for i := range x.ClientInfo {
		x.ClientInfo[i].AuthScheme = r.String("authScheme")
		x.ClientInfo[i].User = r.String("user")
	}
}

// WatcherEvent is a watch notification's body (reply xid XidWatch).
type WatcherEvent struct {
	Type  EventType
	State State
	Path  string
}

// Encode implements Record.
func (x *WatcherEvent) Encode(w *Writer) {
	w.Int(int32(x.Type))
	w.Int(int32(x.State))
	w.String(x.Path)
}

// Decode implements Record.
func (x *WatcherEvent) Decode(r *Reader) {
	x.Type = EventType(r.Int("type"))
	x.State = State(r.Int("state"))
	x.Path = r.String("path")
}

// MultiHeader precedes each op of a multi request and each result of a
// multi reply; {Type -1, Done true, Err -1} ends the list.
type MultiHeader struct {
	Type Op
	Done bool
	Err  Code
}

// Encode implements Record.
func (x *MultiHeader) Encode(w *Writer) { w.Int(int32(x.Type)); w.Bool(x.Done); w.Int(int32(x.Err)) }

// Decode implements Record.
func (x *MultiHeader) Decode(r *Reader) {
	x.Type = Op(r.Int("type"))
	x.Done = r.Bool("done")
	x.Err = Code(r.Int("err"))
}

// MultiOp is one op of a multi (or multiRead) request. Body is
// *CreateRequest (create, create2, createContainer), *CreateTTLRequest,
// *DeleteRequest, *SetDataRequest, *CheckVersionRequest, or, in multiRead,
// *PathWatchRequest (getData, getChildren).
type MultiOp struct {
	Type Op
	Body Record
}

// MultiRequest is the body of multi (14) and multiRead (22).
type MultiRequest struct{ Ops []MultiOp }

var multiEnd = MultiHeader{Type: OpError, Done: true, Err: -1}

// Encode implements Record.
func (x *MultiRequest) Encode(w *Writer) {
	for i := range x.Ops {
		h := MultiHeader{Type: x.Ops[i].Type, Err: -1}
		h.Encode(w)
		if x.Ops[i].Body != nil {
			x.Ops[i].Body.Encode(w)
		}
	}
	multiEnd.Encode(w)
}

// Decode implements Record.
func (x *MultiRequest) Decode(r *Reader) {
	x.Ops = x.Ops[:0]
	for r.err == nil {
		var h MultiHeader
		h.Decode(r)
		if r.err != nil || h.Done {
			return
		}
		var body Record
		switch h.Type {
		case OpCreate, OpCreate2, OpCreateContainer:
			body = &CreateRequest{}
		case OpCreateTTL:
			body = &CreateTTLRequest{}
		case OpDelete:
			body = &DeleteRequest{}
		case OpSetData:
			body = &SetDataRequest{}
		case OpCheck:
			body = &CheckVersionRequest{}
		case OpGetData, OpGetChildren:
			body = &PathWatchRequest{}
		default:
			r.Fail("type", "opcode "+h.Type.String()+" is not allowed in multi")
			return
		}
		body.Decode(r)
		x.Ops = append(x.Ops, MultiOp{Type: h.Type, Body: body})
	}
}

// MultiResult is one result of a multi reply. Type is the op's type
// (ZooKeeper 3.8 answers create and create2 ops with OpCreate and a
// *CreateResponse, createContainer and createTTL with OpCreate2 and a
// *Create2Response), or OpError with Err set and no Body. Delete and check results have no Body; setData's is
// *StatResponse; multiRead's are *GetDataResponse and *GetChildrenResponse.
type MultiResult struct {
	Type Op
	Err  Code
	Body Record
}

// MultiResponse is the body of a multi reply.
type MultiResponse struct{ Results []MultiResult }

// Encode implements Record. An error result is written as ZooKeeper does:
// header {-1, false, err} and an ErrorResponse carrying the same err.
func (x *MultiResponse) Encode(w *Writer) {
	for i := range x.Results {
		res := &x.Results[i]
		h := MultiHeader{Type: res.Type, Err: res.Err}
		if res.Type != OpError {
			h.Err = 0
		}
		h.Encode(w)
		if res.Type == OpError {
			w.Int(int32(res.Err))
		} else if res.Body != nil {
			res.Body.Encode(w)
		}
	}
	multiEnd.Encode(w)
}

// Decode implements Record.
func (x *MultiResponse) Decode(r *Reader) {
	x.Results = x.Results[:0]
	for r.err == nil {
		var h MultiHeader
		h.Decode(r)
		if r.err != nil || h.Done {
			return
		}
		res := MultiResult{Type: h.Type}
		switch h.Type {
		case OpError:
			res.Err = Code(r.Int("err"))
		case OpCreate:
			res.Body = &CreateResponse{}
		case OpCreate2, OpCreateTTL, OpCreateContainer:
			res.Body = &Create2Response{}
		case OpDelete, OpCheck:
		case OpSetData:
			res.Body = &StatResponse{}
		case OpGetData:
			res.Body = &GetDataResponse{}
		case OpGetChildren:
			res.Body = &GetChildrenResponse{}
		default:
			r.Fail("type", "result type "+h.Type.String()+" is not a multi result")
			return
		}
		if res.Body != nil {
			res.Body.Decode(r)
		}
		x.Results = append(x.Results, res)
	}
}
