package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"coordlab/cluster"
)

// Fault is one fault: a struct of JSON-tagged parameters (its JSON form,
// with "kind" added, is what test.json and the history carry) that starts
// itself through the runtime's primitives. A new fault is one file: its
// type, its packages, and one line in table.
type Fault interface {
	// Kind is the fault's name: its "kind" in JSON, the table's key.
	Kind() string
	// Start applies the fault to env.On and returns what undoes it. On
	// error, undo is nil when nothing is in force, else it undoes what is.
	Start(ctx context.Context, env Env) (undo Undo, err error)
}

// Undo ends a fault.
type Undo func(ctx context.Context) error

// Optional abilities of a fault.
type (
	// Healer undoes every fault of its kind on env.On (all members): Final
	// calls it on the zero value of each kind the run used.
	Healer interface {
		Heal(ctx context.Context, env Env) error
	}
	// Requirer names what the fault needs from the runtime; nil when the
	// capabilities have it.
	Requirer interface {
		Requires(c cluster.Capabilities) error
	}
	// AdminUser faults act through the members' admin endpoint: the run
	// asks the targets to serve it (cluster.TargetOptions.Admin).
	AdminUser interface {
		UsesAdmin() bool
	}
	// LazyFSUser faults drop unsynced data: the run asks the runtime to
	// mount the data directories through lazyfs (local.Config.LazyFS).
	LazyFSUser interface {
		UsesLazyFS() bool
	}
	// Describer adds what the start resolved (a grudge, a mechanism) to
	// the parameters the history records.
	Describer interface {
		Describe(env Env) map[string]string
	}
	// OpNamer names the fault's start and stop ops in the history when
	// they are not start-<kind> and stop-<kind> ("kill" and "restart").
	OpNamer interface {
		Ops() (start, stop string)
	}
)

// Env is what a fault acts on. One per start: On differs.
type Env struct {
	Runtime cluster.Runtime
	// Firewall holds the partition and loss in force: faults that change
	// either go through it, never through Runtime.Firewall directly.
	Firewall *cluster.Firewall
	// Target names the system under test ("etcd"), for messages.
	Target string
	// Nodes are all the members.
	Nodes []string
	// On are the members this start hits, resolved to names.
	On []string
	// Note, when set, adds a fact the start learned (what it dropped) to
	// the extra fields of its ok op.
	Note func(key, value string)
}

// note adds a fact to the start's ok op, when the player listens.
func (e Env) note(key, value string) {
	if e.Note != nil {
		e.Note(key, value)
	}
}

// On names the members a fault hits: member names, or the named sets
// Leader, Follower (Pick chooses which follower) and LockHolder, resolved
// when the fault starts. Faults embed it.
type On struct {
	Targets []string `json:"targets,omitempty"`
	// Pick chooses among the followers for a Follower target.
	Pick int `json:"pick,omitempty"`
}

func (o On) on() On { return o }

type targeted interface{ on() On }

// Leader stands for "the member that leads when the fault starts".
const Leader = "leader"

// Follower stands for "one member that does not lead when the fault
// starts"; On.Pick chooses which (seeded).
const Follower = "follower"

// LockHolder stands for "the member the current lock holder talks to"; the
// run resolves it through the lock workload (Player.SetResolver). It makes
// the pause that expires a holder's session hit the holder, as Jepsen's
// etcd lock finding needs, instead of a random member.
const LockHolder = "lock-holder"

// Package is a nemesis package: a name for --nemesis and how it draws one
// fault from the schedule's generator.
type Package struct {
	Name  string
	About string
	// MinNodes is the smallest cluster where the fault means something.
	MinNodes int
	Draw     func(r *rand.Rand, nodes []string, o Options) Fault
}

// entry is one line of the fault table.
type entry struct {
	new      func() Fault // the zero fault, to decode into and to heal with
	packages []Package
}

// table lists the faults. Its order is Final's: the network (partitions,
// loss, latency) heals before paused members resume and killed ones
// restart, and clocks are reset last, once every member answers.
var table = []entry{
	{func() Fault { return new(Partition) }, partitionPackages},
	{func() Fault { return new(Loss) }, lossPackages},
	{func() Fault { return new(Latency) }, latencyPackages},
	{func() Fault { return new(Pause) }, pausePackages},
	{func() Fault { return new(Kill) }, killPackages},
	{func() Fault { return new(LoseUnsynced) }, losePackages},
	{func() Fault { return new(Clock) }, clockPackages},
}

// aliases expand to several packages.
var aliases = map[string][]string{
	"partition": {"partition-isolate-one", "partition-isolate-leader", "partition-isolate-follower", "partition-halves", "partition-bridge"},
	"all":       {"partition-isolate-one", "partition-isolate-leader", "partition-isolate-follower", "partition-halves", "partition-bridge", "kill", "pause", "loss"},
}

// lookupKind returns the table entry of a kind.
func lookupKind(kind string) (entry, bool) {
	for _, e := range table {
		if e.new().Kind() == kind {
			return e, true
		}
	}
	return entry{}, false
}

// lookupPackage returns a package and the kind it draws.
func lookupPackage(name string) (Package, string, bool) {
	for _, e := range table {
		for _, p := range e.packages {
			if p.Name == name {
				return p, e.new().Kind(), true
			}
		}
	}
	return Package{}, "", false
}

// KindNames lists the fault kinds in table order.
func KindNames() []string {
	out := make([]string, len(table))
	for i, e := range table {
		out[i] = e.new().Kind()
	}
	return out
}

// PackageNames lists the packages and aliases a spec may use, sorted.
func PackageNames() []string {
	var out []string
	for _, e := range table {
		for _, p := range e.packages {
			out = append(out, p.Name)
		}
	}
	for n := range aliases {
		out = append(out, n)
	}
	out = append(out, "none")
	slices.Sort(out)
	return out
}

// PackageInfo describes a package or alias for `coordlab list`.
func PackageInfo(name string) string {
	if p, _, ok := lookupPackage(name); ok {
		return p.About
	}
	if a, ok := aliases[name]; ok {
		return "any of " + strings.Join(a, ", ")
	}
	if name == "none" {
		return "no faults"
	}
	return ""
}

// ParseSpec expands a spec ("partition,kill") into sorted, unique package
// names; "none" or "" is the empty list.
func ParseSpec(spec string) ([]string, error) {
	var out []string
	for _, tok := range strings.Split(spec, ",") {
		tok = strings.TrimSpace(tok)
		_, _, isPkg := lookupPackage(tok)
		switch {
		case tok == "" || tok == "none":
		case aliases[tok] != nil:
			out = append(out, aliases[tok]...)
		case isPkg:
			out = append(out, tok)
		default:
			return nil, fmt.Errorf("%w: %q: want a comma list of %s", ErrBadSpec, tok, strings.Join(PackageNames(), ", "))
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Kinds returns the fault kinds the packages draw, in table order.
func Kinds(pkgs []string) []string {
	var out []string
	for _, k := range KindNames() {
		for _, p := range pkgs {
			if _, kind, ok := lookupPackage(p); ok && kind == k {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// CheckCapabilities says which of the packages' faults a runtime cannot
// inject.
func CheckCapabilities(pkgs []string, c cluster.Capabilities) error {
	var errs []error
	for _, k := range Kinds(pkgs) {
		e, _ := lookupKind(k)
		if r, ok := e.new().(Requirer); ok {
			if err := r.Requires(c); err != nil {
				errs = append(errs, fmt.Errorf("%w: %s: %w", ErrUnsupported, k, err))
			}
		}
	}
	return errors.Join(errs...)
}

// KindsSupported lists, in table order, the fault kinds a runtime with
// capabilities c can inject.
func KindsSupported(c cluster.Capabilities) []string {
	var out []string
	for _, e := range table {
		f := e.new()
		if r, ok := f.(Requirer); ok && r.Requires(c) != nil {
			continue
		}
		out = append(out, f.Kind())
	}
	return out
}

// UsesAdmin reports whether a fault of the packages acts through the
// members' admin endpoint, which the targets must then serve.
func UsesAdmin(pkgs []string) bool {
	for _, k := range Kinds(pkgs) {
		e, _ := lookupKind(k)
		if a, ok := e.new().(AdminUser); ok && a.UsesAdmin() {
			return true
		}
	}
	return false
}

// UsesLazyFS reports whether a fault of the packages drops unsynced data,
// for which the runtime must mount the data directories through lazyfs.
func UsesLazyFS(pkgs []string) bool {
	for _, k := range Kinds(pkgs) {
		e, _ := lookupKind(k)
		if u, ok := e.new().(LazyFSUser); ok && u.UsesLazyFS() {
			return true
		}
	}
	return false
}

// ops names f's start and stop in the history.
func ops(f Fault) (start, stop string) {
	if n, ok := f.(OpNamer); ok {
		return n.Ops()
	}
	return "start-" + f.Kind(), "stop-" + f.Kind()
}

// params flattens f's scalar parameters (strings, numbers, booleans) into
// history extra fields; targets go to the op's node, structured ones
// through Describer.
func params(f Fault) map[string]string {
	out := map[string]string{}
	b, err := json.Marshal(f)
	if err != nil {
		return out
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return out
	}
	for k, v := range m {
		switch {
		case k == "targets" || k == "pick":
		case len(v) > 0 && v[0] == '"':
			var s string
			if json.Unmarshal(v, &s) == nil {
				out[k] = s
			}
		case len(v) > 0 && v[0] != '[' && v[0] != '{' && string(v) != "null":
			out[k] = string(v)
		}
	}
	return out
}

// Duration is a time.Duration that reads and writes JSON as "3s".
type Duration time.Duration

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("faults: duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("faults: duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// Step is one fault applied at At for Duration (offsets from run start).
type Step struct {
	At       time.Duration `json:"at_ns"`
	Duration time.Duration `json:"duration_ns"`
	Fault    Fault         `json:"fault"`
}

// stepJSON is Step with the fault as raw JSON.
type stepJSON struct {
	At       time.Duration   `json:"at_ns"`
	Duration time.Duration   `json:"duration_ns"`
	Fault    json.RawMessage `json:"fault"`
}

// MarshalJSON writes the fault as {"kind":..., <its parameters>}.
func (s Step) MarshalJSON() ([]byte, error) {
	if s.Fault == nil {
		return nil, errors.New("faults: step without a fault")
	}
	params, err := json.Marshal(s.Fault)
	if err != nil {
		return nil, fmt.Errorf("faults: encode %s: %w", s.Fault.Kind(), err)
	}
	kind, err := json.Marshal(s.Fault.Kind())
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(`{"kind":`)
	b.Write(kind)
	if rest := bytes.TrimPrefix(params, []byte("{")); !bytes.Equal(rest, []byte("}")) {
		b.WriteByte(',')
		b.Write(rest)
	} else {
		b.WriteByte('}')
	}
	return json.Marshal(stepJSON{At: s.At, Duration: s.Duration, Fault: b.Bytes()})
}

// UnmarshalJSON reads a step, its fault by kind.
func (s *Step) UnmarshalJSON(b []byte) error {
	var j stepJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("faults: decode step: %w", err)
	}
	var k struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(j.Fault, &k); err != nil {
		return fmt.Errorf("faults: decode step fault: %w", err)
	}
	e, ok := lookupKind(k.Kind)
	if !ok {
		return fmt.Errorf("faults: decode step: unknown fault kind %q: want one of %s", k.Kind, strings.Join(KindNames(), ", "))
	}
	f := e.new()
	if err := json.Unmarshal(j.Fault, f); err != nil {
		return fmt.Errorf("faults: decode %s: %w", k.Kind, err)
	}
	// The table makes pointers to decode into; faults are values.
	if v := reflect.ValueOf(f); v.Kind() == reflect.Pointer {
		f = v.Elem().Interface().(Fault)
	}
	*s = Step{At: j.At, Duration: j.Duration, Fault: f}
	return nil
}

// Schedule is a fault schedule: steps in time order, never overlapping.
type Schedule struct {
	Seed  int64    `json:"seed"`
	Spec  string   `json:"spec"`
	Steps []Step   `json:"steps"`
	Nodes []string `json:"nodes"`
}

// each runs f on every name and joins the errors.
func each(ctx context.Context, names []string, f func(context.Context, string) error) error {
	var errs []error
	for _, n := range names {
		if err := f(ctx, n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// signal returns the function that delivers sig to one member.
func signal(rt cluster.Runtime, sig cluster.Signal) func(context.Context, string) error {
	return func(ctx context.Context, n string) error { return rt.Signal(ctx, n, sig) }
}

// complete cuts every member of a from every member of b, both ways.
func complete(a, b []string) cluster.Grudge {
	g := cluster.Grudge{}
	for _, x := range a {
		g[x] = append(g[x], b...)
	}
	for _, y := range b {
		g[y] = append(g[y], a...)
	}
	return g
}

func shuffled(r *rand.Rand, nodes []string) []string {
	s := slices.Clone(nodes)
	r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s
}

func without(nodes []string, x string) []string {
	return slices.DeleteFunc(slices.Clone(nodes), func(n string) bool { return n == x })
}

// drawTarget picks one random member, or the leader, with equal odds.
func drawTarget(r *rand.Rand, nodes []string) []string {
	if r.IntN(2) == 0 {
		return []string{Leader}
	}
	return []string{nodes[r.IntN(len(nodes))]}
}

// newRand is the generator Generate uses, from a seed.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x636f6f72646c6162)) // "coordlab"
}

// fmtExtra renders extra fields as sorted k=v pairs, for progress lines.
func fmtExtra(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, m[k])
	}
	return b.String()
}
