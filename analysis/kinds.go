package analysis

// AnomalyKinds describes every Anomaly.Kind a checker can report, for
// reports and for readers of results.json.
var AnomalyKinds = map[string]string{
	// linearizable (register)
	"nonlinearizable": "no order of the key's operations, consistent with real time, explains every result",
	"stale-read":      "a read returned an older value than a write acknowledged before the read began",
	"lost-write":      "a stale read whose missed write no later read ever observed",
	// session-order
	"monotonic-reads":  "a process read an older version after reading a newer one",
	"read-your-writes": "a process read an older version after its own acknowledged write",
	// lock
	"lock-nonlinearizable": "no order of acquisitions and writes is legal for a lease lock guarding the register",
	"two-holders":          "two processes acted as holders at once: same token, or an unguarded write by an old holder after a newer acquisition",
	"stale-write":          "the register accepted a token older than one already written",
	"token-order":          "a later acquisition got an older or equal fencing token",
	// watch
	"watch-gap":             "a watch skipped an acknowledged write inside the revisions it covered",
	"watch-incomplete":      "a watch that ran to the end never delivered a key's final state",
	"watch-reordered":       "a watch delivered a version after a newer one",
	"watch-duplicate":       "a watch delivered the same key and version twice",
	"watch-not-atomic":      "a watch split the events of one revision (one txn) apart",
	"watch-progress-ahead":  "a watch delivered an event at or below a progress notification it had already sent",
	"watch-progress-behind": "a progress notification went backwards below a delivered event",
	"watch-before-start":    "a watch from revision R delivered an event older than R",
	"watch-wrong-prev":      "an event's prev value is not the key's previous value",
	"watch-wrong-created":   "an event's created flag contradicts the key's previous state",
	"watch-phantom":         "a watch delivered a value no write tried to write",
	"watch-inconsistent":    "watchers or writers disagree on what a key's version was",
	// election
	"two-leaders":       "two processes won one term, or one term was seen with two values",
	"term-order":        "a later campaign won an older or equal term",
	"phantom-leader":    "an observed leader value no campaign proposed",
	"observe-backwards": "a process observed an older term after a newer one",
	"stale-leader":      "an observation returned a term older than one won before it began (serializable and local reads may)",
	// config
	"config-backwards":     "a subscriber read an older configuration version after a newer one",
	"config-phantom":       "a subscriber read a version nobody published",
	"config-stale":         "a subscriber read an older version than one published before its read began (serializable and local reads may)",
	"config-not-converged": "after the final heal a subscriber's last read is not the last published version",
}
