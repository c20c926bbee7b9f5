package runfile

import (
	"errors"
	"fmt"

	"coordlab/history"
)

// Call is one operation of the history: its invoke line and its completion.
type Call struct {
	Invoke *history.Op
	// Done is the completion; nil while the op never completed. A nemesis
	// event written as a single line is its own invoke and completion.
	Done *history.Op
}

// Pending reports an op that never completed.
func (c Call) Pending() bool { return c.Done == nil }

// Type is the completion's type (OK, Fail or Info); Info for an op that
// never completed: its effect is unknown.
func (c Call) Type() history.Type {
	if c.Done == nil {
		return history.Info
	}
	return c.Done.Type
}

// Indexes are the history indexes of the call's lines.
func (c Call) Indexes() []int64 {
	if c.Done == nil || c.Done == c.Invoke {
		return []int64{c.Invoke.Index}
	}
	return []int64{c.Invoke.Index, c.Done.Index}
}

// LatencyMs is the completion time minus the invoke time, in ms; -1 for an
// op that never completed.
func (c Call) LatencyMs() float64 {
	if c.Done == nil {
		return -1
	}
	return float64(c.Done.Time-c.Invoke.Time) / 1e6
}

// Pair matches each invoke with the next completion of the same process
// (a process runs one op at a time) and returns the client calls and the
// nemesis calls, each in invoke order. The calls point into ops.
//
// A history that does not pair up is reported, wrapped in ErrMalformed and
// naming every broken line, after pairing all it can: a completion without
// an invoke, or of another f than its invoke, is left out; an invoke while
// the process has one open leaves the open one pending; a completion before
// its invoke is paired as written.
func Pair(ops []history.Op) (calls, nemesis []Call, err error) {
	var errs []error
	bad := func(format string, a ...any) {
		if len(errs) < 10 {
			errs = append(errs, fmt.Errorf(format, a...))
		} else if len(errs) == 10 {
			errs = append(errs, errors.New("more malformed lines not listed"))
		}
	}
	openBy := map[int]int{} // process -> index in its list
	for i := range ops {
		op := &ops[i]
		list := &calls
		if op.Process == history.NemesisProcess {
			list = &nemesis
		}
		switch op.Type {
		case history.Invoke:
			if j, ok := openBy[op.Process]; ok {
				prev := (*list)[j].Invoke
				bad("op %d: process %d invokes %s while op %d (%s) is still open: a process runs one op at a time", op.Index, op.Process, op.F, prev.Index, prev.F)
			}
			openBy[op.Process] = len(*list)
			*list = append(*list, Call{Invoke: op})
		case history.OK, history.Fail, history.Info:
			j, ok := openBy[op.Process]
			if !ok {
				if op.Process == history.NemesisProcess {
					nemesis = append(nemesis, Call{Invoke: op, Done: op}) // an event written as one line
					continue
				}
				bad("op %d: %s completion of %s by process %d without an invoke", op.Index, op.Type, op.F, op.Process)
				continue
			}
			c := &(*list)[j]
			if c.Invoke.F != op.F {
				bad("op %d: process %d completes %s but invoked %s at op %d", op.Index, op.Process, op.F, c.Invoke.F, c.Invoke.Index)
				continue
			}
			if op.Time < c.Invoke.Time {
				bad("op %d: completes at %d ns before its invoke at %d ns (op %d)", op.Index, op.Time, c.Invoke.Time, c.Invoke.Index)
			}
			delete(openBy, op.Process)
			c.Done = op
		default:
			bad("op %d: type %v", op.Index, op.Type)
		}
	}
	if len(errs) > 0 {
		return calls, nemesis, fmt.Errorf("%w: %w", ErrMalformed, errors.Join(errs...))
	}
	return calls, nemesis, nil
}
