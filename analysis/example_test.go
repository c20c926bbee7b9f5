package analysis_test

import (
	"fmt"

	"coordlab/analysis"
	"coordlab/history"
)

// A read that misses a write acknowledged before it began is a stale read.
func ExampleCheck() {
	s := history.Str
	ops := []history.Op{
		{Index: 0, Process: 0, Type: history.Invoke, F: "write", Key: "x", Value: s("1"), Time: 0},
		{Index: 1, Process: 0, Type: history.OK, F: "write", Key: "x", Value: s("1"), Version: 2, Time: 10},
		{Index: 2, Process: 1, Type: history.Invoke, F: "read", Key: "x", Time: 20},
		{Index: 3, Process: 1, Type: history.OK, F: "read", Key: "x", Time: 30},
	}
	register := analysis.Judge{
		Workload: "register",
		Checkers: []analysis.Checker{analysis.Linearizable(), analysis.SessionOrder()},
		Reads:    analysis.RegisterReads, Writes: analysis.RegisterWrites,
	}
	res := analysis.Check(ops, register, analysis.Options{})
	fmt.Println(res.Workload, res.Valid)
	for _, a := range res.Checkers["linearizable"].Anomalies {
		fmt.Println(a.Kind, a.Ops)
	}
	fmt.Println("session-order", res.Checkers["session-order"].Valid)
	// Output:
	// register invalid
	// lost-write [0 1 2 3]
	// session-order valid
}
