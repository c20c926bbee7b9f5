package history

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Type is the kind of a history line.
type Type int

const (
	// Invoke starts an operation.
	Invoke Type = 1 + iota
	// OK completes an operation that took effect (a CAS that lost is OK with
	// Value "false", see Op).
	OK
	// Fail completes an operation that surely did not take effect.
	Fail
	// Info completes an operation whose effect is unknown.
	Info
)

var typeNames = [...]string{Invoke: "invoke", OK: "ok", Fail: "fail", Info: "info"}

// String returns the JSON name of t.
func (t Type) String() string {
	if t >= Invoke && t <= Info {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// ParseType is the inverse of String.
func ParseType(s string) (Type, error) {
	for t := Invoke; t <= Info; t++ {
		if typeNames[t] == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("history: unknown op type %q: want invoke, ok, fail or info", s)
}

// MarshalJSON writes t as its name.
func (t Type) MarshalJSON() ([]byte, error) {
	if t < Invoke || t > Info {
		return nil, fmt.Errorf("history: cannot marshal op type %d: unset or out of range", int(t))
	}
	return []byte(`"` + typeNames[t] + `"`), nil
}

// UnmarshalJSON reads a name written by MarshalJSON.
func (t *Type) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("history: op type: %w", err)
	}
	v, err := ParseType(s)
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// NemesisProcess is the process of fault operations; JSON "nemesis".
const NemesisProcess = -1

// Names of F used by the workloads and the nemesis. F is a free string; these
// constants keep writers and checkers spelling it the same way.
const (
	FRead        = "read"
	FWrite       = "write"
	FCAS         = "cas"
	FDelete      = "delete"
	FAcquire     = "acquire"
	FRelease     = "release"
	FFencedWrite = "fenced-write"
	FWatch       = "watch"
	FPut         = "put"
	FCampaign    = "campaign"
	FObserve     = "observe"
	FResign      = "resign"
	FPublish     = "publish"
	FSubscribe   = "subscribe"
)

// Op is one line of a history.
//
// Conventions by F (the workloads write them, the checkers rely on them):
//   - read: Value/Found/Version on OK (Version = mod revision or mzxid of the
//     value read; Revision may hold the store revision of the read), and
//     ReadMode on the invoke.
//   - write: Value on invoke and completion; Version on OK is the new version.
//   - cas: Old and Value on invoke; on OK Applied says whether it swapped
//     (a CAS that lost is OK with Applied false, never Fail).
//   - acquire: Version on OK is the fencing token; fenced-write: Value is the
//     token written, Version the token of the writer, Fenced whether the
//     register checked it.
//   - campaign: Value the candidate value, Version on OK the term.
//   - watch: Events holds what the watcher received, Ended why it stopped.
//
// Histories written before these fields existed carried them as strings in
// Extra ("read_mode", "revision", "ok", "fenced", "ended"); reading such a
// line moves them into the fields.
type Op struct {
	Index   int64             `json:"index"`             // position in the file, assigned by the Writer
	Process int               `json:"process"`           // logical process; NemesisProcess marshals as "nemesis"
	Type    Type              `json:"type"`              // invoke, ok, fail, info
	F       string            `json:"f"`                 // what the op does; see the F* constants
	Key     string            `json:"key,omitempty"`     // key, lock, election or prefix
	Value   *string           `json:"value,omitempty"`   // nil = unknown/none
	Old     *string           `json:"old,omitempty"`     // cas: expected value
	Found   bool              `json:"found,omitempty"`   // read: the key existed
	Version int64             `json:"version,omitempty"` // etcd mod revision, ZooKeeper mzxid; lock/election: token/term
	Events  []Event           `json:"events,omitempty"`  // watch: what one watcher received in this op
	Node    string            `json:"node,omitempty"`    // member the client talked to; nemesis: targets
	Time    int64             `json:"time_ns"`           // monotonic ns since run start
	Error   string            `json:"error,omitempty"`   // why a fail or info
	Extra   map[string]string `json:"extra,omitempty"`   // nemesis parameters and anything without a field
	// ReadMode is the read mode a read asked for (linearizable,
	// serializable, sync, local); "" = not recorded.
	ReadMode string `json:"read_mode,omitempty"`
	// Revision is the store revision a read was served at (etcd); 0 unknown.
	Revision int64 `json:"revision,omitempty"`
	// Applied is a cas's outcome on OK: true if it swapped; nil unknown.
	Applied *bool `json:"applied,omitempty"`
	// Fenced says a fenced-write was guarded by its token.
	Fenced bool `json:"fenced,omitempty"`
	// Ended says why a watch stopped: run end, channel closed, error,
	// compacted.
	Ended string `json:"ended,omitempty"`
}

// Event is one thing a watcher received.
type Event struct {
	Type          string  `json:"type"` // put, delete, progress, compacted, error
	Key           string  `json:"key,omitempty"`
	Value         *string `json:"value,omitempty"`
	Version       int64   `json:"version,omitempty"`        // mod revision or mzxid; progress: the revision notified
	CreateVersion int64   `json:"create_version,omitempty"` // create revision or czxid
	PrevValue     *string `json:"prev_value,omitempty"`     // value before this event, if known
	Created       bool    `json:"created,omitempty"`        // the event created the key
	Txn           int64   `json:"txn,omitempty"`            // events sharing a txn share this (etcd revision, ZooKeeper zxid)
	Time          int64   `json:"time_ns,omitempty"`        // when the watcher received it
}

// Event types.
const (
	EventPut       = "put"
	EventDelete    = "delete"
	EventProgress  = "progress"
	EventCompacted = "compacted"
	EventError     = "error"
)

// Str returns a pointer to s, for Value and Old.
func Str(s string) *string { return &s }

// IsNemesis reports whether o is a fault operation.
func (o Op) IsNemesis() bool { return o.Process == NemesisProcess }

// opJSON is Op with Process as raw JSON, so NemesisProcess can be "nemesis".
type opJSON struct {
	Index    int64             `json:"index"`
	Process  json.RawMessage   `json:"process"`
	Type     Type              `json:"type"`
	F        string            `json:"f"`
	Key      string            `json:"key,omitempty"`
	Value    *string           `json:"value,omitempty"`
	Old      *string           `json:"old,omitempty"`
	Found    bool              `json:"found,omitempty"`
	Version  int64             `json:"version,omitempty"`
	Events   []Event           `json:"events,omitempty"`
	Node     string            `json:"node,omitempty"`
	Time     int64             `json:"time_ns"`
	Error    string            `json:"error,omitempty"`
	Extra    map[string]string `json:"extra,omitempty"`
	ReadMode string            `json:"read_mode,omitempty"`
	Revision int64             `json:"revision,omitempty"`
	Applied  *bool             `json:"applied,omitempty"`
	Fenced   bool              `json:"fenced,omitempty"`
	Ended    string            `json:"ended,omitempty"`
}

var nemesisJSON = json.RawMessage(`"nemesis"`)

// MarshalJSON writes o with NemesisProcess as "nemesis".
func (o Op) MarshalJSON() ([]byte, error) {
	if o.Process < NemesisProcess {
		return nil, fmt.Errorf("history: op %d: process %d: want >= 0 or NemesisProcess", o.Index, o.Process)
	}
	j := opJSON{o.Index, nil, o.Type, o.F, o.Key, o.Value, o.Old, o.Found, o.Version, o.Events, o.Node, o.Time, o.Error, o.Extra,
		o.ReadMode, o.Revision, o.Applied, o.Fenced, o.Ended}
	if o.Process == NemesisProcess {
		j.Process = nemesisJSON
	} else {
		j.Process = json.RawMessage(strconv.Itoa(o.Process))
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (o *Op) UnmarshalJSON(b []byte) error {
	var j opJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	p := NemesisProcess
	switch {
	case string(j.Process) == `"nemesis"`:
	case len(j.Process) == 0:
		return fmt.Errorf("history: op %d: missing process", j.Index)
	default:
		n, err := strconv.Atoi(string(j.Process))
		if err != nil || n < 0 {
			return fmt.Errorf("history: op %d: process %s: want an integer >= 0 or \"nemesis\"", j.Index, j.Process)
		}
		p = n
	}
	if j.Type == 0 {
		return fmt.Errorf("history: op %d: missing type: want invoke, ok, fail or info", j.Index)
	}
	*o = Op{j.Index, p, j.Type, j.F, j.Key, j.Value, j.Old, j.Found, j.Version, j.Events, j.Node, j.Time, j.Error, j.Extra,
		j.ReadMode, j.Revision, j.Applied, j.Fenced, j.Ended}
	if p != NemesisProcess {
		o.upgradeExtra()
	}
	return nil
}

// upgradeExtra moves what older histories wrote as Extra strings into the
// typed fields; a value that does not parse stays in Extra.
func (o *Op) upgradeExtra() {
	if len(o.Extra) == 0 {
		return
	}
	take := func(k string, set func(string) bool) {
		if v, ok := o.Extra[k]; ok && set(v) {
			delete(o.Extra, k)
		}
	}
	take("read_mode", func(v string) bool {
		if o.ReadMode == "" {
			o.ReadMode = v
		}
		return true
	})
	take("revision", func(v string) bool {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false
		}
		if o.Revision == 0 {
			o.Revision = n
		}
		return true
	})
	take("ok", func(v string) bool {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false
		}
		if o.Applied == nil {
			o.Applied = &b
		}
		return true
	})
	take("fenced", func(v string) bool {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false
		}
		o.Fenced = o.Fenced || b
		return true
	})
	take("ended", func(v string) bool {
		if o.Ended == "" {
			o.Ended = v
		}
		return true
	})
	if len(o.Extra) == 0 {
		o.Extra = nil
	}
}

// Bool returns a pointer to b, for Applied.
func Bool(b bool) *bool { return &b }
