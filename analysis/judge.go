package analysis

import (
	"slices"

	"coordlab/history"
)

// Judge is how one workload's history is judged: the checkers whose
// verdicts make the run's, and how its ops count in the performance
// figures. The workloads table (package workloads) holds one per workload;
// Check never looks at workload names.
type Judge struct {
	// Workload names the workload, for Results.Workload.
	Workload string
	// Checkers decide the verdict; each fills Results.Checkers[Name].
	Checkers []Checker
	// Staleness, when set, measures how far reads lag acknowledged writes
	// (Results.Staleness).
	Staleness bool
	// Reads and Writes are the fs that read and that change state: the
	// first OK one of each after a fault's start is its unavailability.
	Reads, Writes []string
}

func (j Judge) isRead(f string) bool  { return slices.Contains(j.Reads, f) }
func (j Judge) isWrite(f string) bool { return slices.Contains(j.Writes, f) }

// Checker judges one property of a history. The checkers are this
// package's: Linearizable, SessionOrder, Lock, Watch, Election, ConfigCenter.
type Checker struct {
	// Name is the checker's key in Results.Checkers.
	Name string
	run  func(in *input) CheckerResult
}

// input is what every checker gets.
type input struct {
	calls, nemesis []*call
	budget         *budget
	opts           Options
	workers        int
}

// Linearizable checks each key's reads, writes and compare-and-sets
// against a register with CAS (porcupine), shrinks each failing key to a
// minimal failing history and names the anomaly (stale-read, lost-write,
// nonlinearizable).
func Linearizable() Checker {
	return Checker{Name: "linearizable", run: func(in *input) CheckerResult {
		return checkLinearizable(in.budget, "linearizable", byKeyCalls(in.calls, isRegisterF),
			registerModel, registerOps, registerWellFormed, in.opts, in.workers)
	}}
}

// SessionOrder checks, per process, monotonic reads and read-your-writes
// on register ops (ZooKeeper's promise for local reads).
func SessionOrder() Checker {
	return Checker{Name: "session-order", run: func(in *input) CheckerResult { return checkSessionOrder(in.calls) }}
}

// Lock checks acquisitions and fenced writes against a lease lock guarding
// a register, and names the rule each violation breaks.
func Lock() Checker {
	return Checker{Name: "lock", run: func(in *input) CheckerResult { return checkLock(in.budget, in.calls, in.opts, in.workers) }}
}

// Watch checks watch ops against the writes and each other (ordered,
// unique, atomic, reliable, resumable, bookmarkable, prev values).
func Watch() Checker {
	return Checker{Name: "watch", run: func(in *input) CheckerResult { return checkWatch(in.calls, in.opts.OneShotWatches) }}
}

// Election checks campaigns and observations: one leader per term, terms
// that increase, observations of real candidates.
func Election() Checker {
	return Checker{Name: "election", run: func(in *input) CheckerResult { return checkElection(in.calls, in.opts.ReadMode) }}
}

// ConfigCenter checks a configuration center's subscribers: never older
// than what was published before the read, never backwards, never a version
// nobody published, converged after the heal.
func ConfigCenter() Checker {
	return Checker{Name: "config", run: func(in *input) CheckerResult { return checkConfig(in.calls, in.nemesis, in.opts.ReadMode) }}
}

// The fs of the register, for Judges.
var (
	RegisterReads  = []string{history.FRead}
	RegisterWrites = []string{history.FWrite, history.FCAS, history.FDelete, history.FPut}
)
