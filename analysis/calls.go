package analysis

import (
	"fmt"
	"math"
	"strconv"

	"coordlab/history"
	"coordlab/runfile"
)

// openEnd is the return time of an op that may still take effect (info or
// never completed): porcupine may linearize it at any point after its call.
const openEnd = math.MaxInt64

// call is one operation: its invoke line and its completion (if any).
type call struct {
	inv     *history.Op // invoke line
	comp    *history.Op // completion line; nil if the op never completed
	process int
	f       string
	key     string
	typ     history.Type // OK, Fail or Info (Info also for never completed)
	start   int64        // invoke time
	end     int64        // completion time; openEnd for info/pending
}

// ok reports an OK completion.
func (c *call) ok() bool { return c.typ == history.OK }

// indexes returns the history indexes of the call's lines (one for a
// nemesis event written as a single line).
func (c *call) indexes() []int64 {
	if c.comp == nil || c.comp == c.inv {
		return []int64{c.inv.Index}
	}
	return []int64{c.inv.Index, c.comp.Index}
}

// res is the completion if present, else the invoke (for fields set on both).
func (c *call) res() *history.Op {
	if c.comp != nil {
		return c.comp
	}
	return c.inv
}

// casOK reports whether an OK cas succeeded: Applied on the completion.
// A cas completion without it counts as succeeded (older writers).
func (c *call) casOK() bool {
	if c.comp == nil || c.comp.Applied == nil {
		return true
	}
	return *c.comp.Applied
}

// value returns the completion's value, else the invoke's.
func (c *call) value() *string {
	if c.comp != nil && c.comp.Value != nil {
		return c.comp.Value
	}
	return c.inv.Value
}

func (c *call) describe() string {
	s := fmt.Sprintf("p%d %s", c.process, c.f)
	if c.key != "" {
		s += " " + c.key
	}
	if c.inv.Old != nil {
		s += fmt.Sprintf(" %q->", *c.inv.Old)
	}
	if v := c.value(); v != nil && c.f != history.FRead {
		s += fmt.Sprintf(" %q", *v)
	}
	switch c.typ {
	case history.OK:
		s += " ok"
		if c.f == history.FRead {
			if c.comp.Found {
				s += fmt.Sprintf(" -> %q", derefOr(c.comp.Value, ""))
			} else {
				s += " -> (none)"
			}
		}
		if c.f == history.FCAS && !c.casOK() {
			s += " (lost)"
		}
		if c.comp.Version != 0 {
			s += " @" + strconv.FormatInt(c.comp.Version, 10)
		}
	case history.Fail:
		s += " fail"
	default:
		s += " info"
	}
	s += fmt.Sprintf(" [%s..%s] #%d", fmtNs(c.start), fmtNs(c.end), c.inv.Index)
	return s
}

func fmtNs(t int64) string {
	if t == openEnd {
		return "∞"
	}
	return strconv.FormatFloat(float64(t)/1e6, 'f', 3, 64) + "ms"
}

func derefOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

// pairCalls pairs the history's ops (runfile.Pair) into calls, nemesis
// lines apart. A history that does not pair up is an error: no verdict
// drawn from it can be trusted.
func pairCalls(ops []history.Op) (calls, nemesis []*call, err error) {
	cs, ns, err := runfile.Pair(ops)
	if err != nil {
		return nil, nil, fmt.Errorf("analysis: %w", err)
	}
	for _, c := range cs {
		calls = append(calls, newCall(c))
	}
	for _, n := range ns {
		nemesis = append(nemesis, newCall(n))
	}
	return calls, nemesis, nil
}

func newCall(rc runfile.Call) *call {
	op := rc.Invoke
	c := &call{inv: op, comp: rc.Done, process: op.Process, f: op.F, key: op.Key, typ: rc.Type(), start: op.Time, end: openEnd}
	if rc.Done != nil && rc.Done.Type != history.Info {
		c.end = rc.Done.Time
	}
	if rc.Done == rc.Invoke { // a nemesis event written as one line
		c.end = op.Time
	}
	return c
}
