package analysis

import (
	"fmt"
	"math"
	"strconv"

	"coordlab/history"
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

// casOK reports whether an OK cas succeeded: Extra["ok"] on the completion.
// A cas completion without it counts as succeeded (older writers).
func (c *call) casOK() bool {
	if c.comp == nil || c.comp.Extra == nil {
		return true
	}
	v, ok := c.comp.Extra["ok"]
	return !ok || v == "true"
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

// pairCalls matches each invoke with the next completion of the same process.
// Nemesis lines are returned separately, paired the same way. A completion
// without an invoke, or a second invoke while one is open, is an error: the
// history is malformed and no verdict can be trusted.
func pairCalls(ops []history.Op) (calls, nemesis []*call, err error) {
	open := map[int]*call{}
	for i := range ops {
		op := &ops[i]
		switch op.Type {
		case history.Invoke:
			if prev, ok := open[op.Process]; ok {
				return nil, nil, fmt.Errorf("analysis: op %d: process %d invokes %s while op %d (%s) is still open: a process runs one op at a time", op.Index, op.Process, op.F, prev.inv.Index, prev.f)
			}
			c := &call{inv: op, process: op.Process, f: op.F, key: op.Key, typ: history.Info, start: op.Time, end: openEnd}
			open[op.Process] = c
			if op.Process == history.NemesisProcess {
				nemesis = append(nemesis, c)
			} else {
				calls = append(calls, c)
			}
		case history.OK, history.Fail, history.Info:
			c, ok := open[op.Process]
			if !ok {
				if op.Process == history.NemesisProcess {
					// A nemesis event written as a single line.
					nemesis = append(nemesis, &call{inv: op, comp: op, process: op.Process, f: op.F, key: op.Key, typ: op.Type, start: op.Time, end: op.Time})
					continue
				}
				return nil, nil, fmt.Errorf("analysis: op %d: %s completion of %s by process %d without an invoke", op.Index, op.Type, op.F, op.Process)
			}
			if c.f != op.F {
				return nil, nil, fmt.Errorf("analysis: op %d: process %d completes %s but invoked %s at op %d", op.Index, op.Process, op.F, c.f, c.inv.Index)
			}
			if op.Time < c.start {
				return nil, nil, fmt.Errorf("analysis: op %d: completes at %d before its invoke at %d (op %d)", op.Index, op.Time, c.start, c.inv.Index)
			}
			delete(open, op.Process)
			c.comp, c.typ = op, op.Type
			if op.Type != history.Info {
				c.end = op.Time
			}
		default:
			return nil, nil, fmt.Errorf("analysis: op %d: type %v", op.Index, op.Type)
		}
	}
	return calls, nemesis, nil
}
