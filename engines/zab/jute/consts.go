package jute

import "strconv"

// DefaultMaxBuffer is ZooKeeper's default jute.maxbuffer (0xfffff, 1 MiB
// minus one byte): the largest frame body, buffer or string ZooKeeper
// accepts unless configured otherwise.
const DefaultMaxBuffer = 0xfffff

// Special xids (ClientCnxn). A server must key behaviour on the opcode, not
// the xid: go-zk sends auth and setWatches with ordinary positive xids.
const (
	XidWatch      int32 = -1 // watch notification, server to client only; body is WatcherEvent
	XidPing       int32 = -2 // ping request and its header-only reply
	XidAuth       int32 = -4 // auth packet (Java client); the reply echoes it
	XidSetWatches int32 = -8 // setWatches/setWatches2 after reconnect (Java client)
)

// Op is a ZooKeeper opcode (ZooDefs.OpCode), the RequestHeader's type.
type Op int32

// Opcodes. OpNotification (0) is unused on the wire; OpError (-1) appears
// only as a multi result type.
const (
	OpNotification         Op = 0
	OpCreate               Op = 1
	OpDelete               Op = 2
	OpExists               Op = 3
	OpGetData              Op = 4
	OpSetData              Op = 5
	OpGetACL               Op = 6
	OpSetACL               Op = 7
	OpGetChildren          Op = 8
	OpSync                 Op = 9
	OpPing                 Op = 11
	OpGetChildren2         Op = 12
	OpCheck                Op = 13
	OpMulti                Op = 14
	OpCreate2              Op = 15
	OpReconfig             Op = 16
	OpCheckWatches         Op = 17
	OpRemoveWatches        Op = 18
	OpCreateContainer      Op = 19
	OpDeleteContainer      Op = 20
	OpCreateTTL            Op = 21
	OpMultiRead            Op = 22
	OpAuth                 Op = 100
	OpSetWatches           Op = 101
	OpSASL                 Op = 102
	OpGetEphemerals        Op = 103
	OpGetAllChildrenNumber Op = 104
	OpSetWatches2          Op = 105
	OpAddWatch             Op = 106
	OpWhoAmI               Op = 107
	OpCreateSession        Op = -10
	OpCloseSession         Op = -11
	OpError                Op = -1
)

var opNames = map[Op]string{
	OpNotification: "notification", OpCreate: "create", OpDelete: "delete", OpExists: "exists",
	OpGetData: "getData", OpSetData: "setData", OpGetACL: "getACL", OpSetACL: "setACL",
	OpGetChildren: "getChildren", OpSync: "sync", OpPing: "ping", OpGetChildren2: "getChildren2",
	OpCheck: "check", OpMulti: "multi", OpCreate2: "create2", OpReconfig: "reconfig",
	OpCheckWatches: "checkWatches", OpRemoveWatches: "removeWatches", OpCreateContainer: "createContainer",
	OpDeleteContainer: "deleteContainer", OpCreateTTL: "createTTL", OpMultiRead: "multiRead",
	OpAuth: "auth", OpSetWatches: "setWatches", OpSASL: "sasl", OpGetEphemerals: "getEphemerals",
	OpGetAllChildrenNumber: "getAllChildrenNumber", OpSetWatches2: "setWatches2", OpAddWatch: "addWatch",
	OpWhoAmI: "whoAmI", OpCreateSession: "createSession", OpCloseSession: "closeSession", OpError: "error",
}

func (o Op) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// IsWrite reports whether o changes the tree or the sessions, that is,
// whether ZooKeeper turns it into a transaction.
func (o Op) IsWrite() bool {
	switch o {
	case OpCreate, OpCreate2, OpCreateContainer, OpCreateTTL, OpDelete, OpDeleteContainer,
		OpSetData, OpSetACL, OpCheck, OpMulti, OpCreateSession, OpCloseSession:
		return true
	}
	return false
}

// Code is a ZooKeeper error code (KeeperException.Code), carried in
// ReplyHeader.Err and in multi results. Code implements error so the tree
// can return its sentinels as errors; ZOK must never be returned as an error
// (use nil), and CodeOf maps nil back to ZOK.
type Code int32

// Error codes. -1 … -99 are system errors, -100 and below API errors.
const (
	ZOK                           Code = 0
	ZSYSTEMERROR                  Code = -1
	ZRUNTIMEINCONSISTENCY         Code = -2
	ZDATAINCONSISTENCY            Code = -3
	ZCONNECTIONLOSS               Code = -4
	ZMARSHALLINGERROR             Code = -5
	ZUNIMPLEMENTED                Code = -6
	ZOPERATIONTIMEOUT             Code = -7
	ZBADARGUMENTS                 Code = -8
	ZUNKNOWNSESSION               Code = -12
	ZNEWCONFIGNOQUORUM            Code = -13
	ZRECONFIGINPROGRESS           Code = -14
	ZAPIERROR                     Code = -100
	ZNONODE                       Code = -101
	ZNOAUTH                       Code = -102
	ZBADVERSION                   Code = -103
	ZNOCHILDRENFOREPHEMERALS      Code = -108
	ZNODEEXISTS                   Code = -110
	ZNOTEMPTY                     Code = -111
	ZSESSIONEXPIRED               Code = -112
	ZINVALIDCALLBACK              Code = -113
	ZINVALIDACL                   Code = -114
	ZAUTHFAILED                   Code = -115
	ZSESSIONMOVED                 Code = -118
	ZNOTREADONLY                  Code = -119
	ZEPHEMERALONLOCALSESSION      Code = -120
	ZNOWATCHER                    Code = -121
	ZREQUESTTIMEOUT               Code = -122
	ZRECONFIGDISABLED             Code = -123
	ZSESSIONCLOSEDREQUIRESASLAUTH Code = -124
	ZQUOTAEXCEEDED                Code = -125
	ZTHROTTLEDOP                  Code = -127
)

var codeNames = map[Code]string{
	ZOK: "ZOK", ZSYSTEMERROR: "ZSYSTEMERROR", ZRUNTIMEINCONSISTENCY: "ZRUNTIMEINCONSISTENCY",
	ZDATAINCONSISTENCY: "ZDATAINCONSISTENCY", ZCONNECTIONLOSS: "ZCONNECTIONLOSS",
	ZMARSHALLINGERROR: "ZMARSHALLINGERROR", ZUNIMPLEMENTED: "ZUNIMPLEMENTED",
	ZOPERATIONTIMEOUT: "ZOPERATIONTIMEOUT", ZBADARGUMENTS: "ZBADARGUMENTS",
	ZUNKNOWNSESSION: "ZUNKNOWNSESSION", ZNEWCONFIGNOQUORUM: "ZNEWCONFIGNOQUORUM",
	ZRECONFIGINPROGRESS: "ZRECONFIGINPROGRESS", ZAPIERROR: "ZAPIERROR", ZNONODE: "ZNONODE",
	ZNOAUTH: "ZNOAUTH", ZBADVERSION: "ZBADVERSION", ZNOCHILDRENFOREPHEMERALS: "ZNOCHILDRENFOREPHEMERALS",
	ZNODEEXISTS: "ZNODEEXISTS", ZNOTEMPTY: "ZNOTEMPTY", ZSESSIONEXPIRED: "ZSESSIONEXPIRED",
	ZINVALIDCALLBACK: "ZINVALIDCALLBACK", ZINVALIDACL: "ZINVALIDACL", ZAUTHFAILED: "ZAUTHFAILED",
	ZSESSIONMOVED: "ZSESSIONMOVED", ZNOTREADONLY: "ZNOTREADONLY",
	ZEPHEMERALONLOCALSESSION: "ZEPHEMERALONLOCALSESSION", ZNOWATCHER: "ZNOWATCHER",
	ZREQUESTTIMEOUT: "ZREQUESTTIMEOUT", ZRECONFIGDISABLED: "ZRECONFIGDISABLED",
	ZSESSIONCLOSEDREQUIRESASLAUTH: "ZSESSIONCLOSEDREQUIRESASLAUTH", ZQUOTAEXCEEDED: "ZQUOTAEXCEEDED",
	ZTHROTTLEDOP: "ZTHROTTLEDOP",
}

func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return "Code(" + strconv.Itoa(int(c)) + ")"
}

// Error makes Code an error: "zookeeper: ZNONODE (-101)".
func (c Code) Error() string {
	return "zookeeper: " + c.String() + " (" + strconv.Itoa(int(c)) + ")"
}

// CodeOf maps an error to the code to put on the wire: nil is ZOK, an error
// that is or wraps a Code is that Code, and anything else is ZSYSTEMERROR.
func CodeOf(err error) Code {
	if err == nil {
		return ZOK
	}
	for err != nil {
		if c, ok := err.(Code); ok {
			return c
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			break
		}
		err = u.Unwrap()
	}
	return ZSYSTEMERROR
}

// EventType is a WatcherEvent type (Watcher.Event.EventType).
type EventType int32

// Watch event types.
const (
	EventNone                   EventType = -1
	EventNodeCreated            EventType = 1
	EventNodeDeleted            EventType = 2
	EventNodeDataChanged        EventType = 3
	EventNodeChildrenChanged    EventType = 4
	EventDataWatchRemoved       EventType = 5
	EventChildWatchRemoved      EventType = 6
	EventPersistentWatchRemoved EventType = 7
)

func (e EventType) String() string {
	switch e {
	case EventNone:
		return "None"
	case EventNodeCreated:
		return "NodeCreated"
	case EventNodeDeleted:
		return "NodeDeleted"
	case EventNodeDataChanged:
		return "NodeDataChanged"
	case EventNodeChildrenChanged:
		return "NodeChildrenChanged"
	case EventDataWatchRemoved:
		return "DataWatchRemoved"
	case EventChildWatchRemoved:
		return "ChildWatchRemoved"
	case EventPersistentWatchRemoved:
		return "PersistentWatchRemoved"
	}
	return "EventType(" + strconv.Itoa(int(e)) + ")"
}

// State is a keeper state in a WatcherEvent. A server only ever sends
// StateSyncConnected for node events.
type State int32

// Keeper states (Watcher.Event.KeeperState).
const (
	StateUnknown           State = -1
	StateDisconnected      State = 0
	StateNoSyncConnected   State = 1
	StateSyncConnected     State = 3
	StateAuthFailed        State = 4
	StateConnectedReadOnly State = 5
	StateSaslAuthenticated State = 6
	StateClosed            State = 7
	StateExpired           State = -112
)

// WatcherType selects watches in checkWatches/removeWatches.
type WatcherType int32

// Watcher types.
const (
	WatcherChildren            WatcherType = 1
	WatcherData                WatcherType = 2
	WatcherAny                 WatcherType = 3
	WatcherPersistent          WatcherType = 4
	WatcherPersistentRecursive WatcherType = 5
)

// AddWatchMode is addWatch's mode.
type AddWatchMode int32

// addWatch modes.
const (
	AddWatchPersistent          AddWatchMode = 0
	AddWatchPersistentRecursive AddWatchMode = 1
)

// Permission bits of an ACL (ZooDefs.Perms).
const (
	PermRead   int32 = 1
	PermWrite  int32 = 2
	PermCreate int32 = 4
	PermDelete int32 = 8
	PermAdmin  int32 = 16
	PermAll    int32 = 31
)

// Create flags (CreateMode) as sent in CreateRequest.Flags.
const (
	FlagPersistent                  int32 = 0
	FlagEphemeral                   int32 = 1
	FlagPersistentSequential        int32 = 2
	FlagEphemeralSequential         int32 = 3
	FlagContainer                   int32 = 4
	FlagPersistentWithTTL           int32 = 5
	FlagPersistentSequentialWithTTL int32 = 6
)
