// Package run composes one lab run: a Spec (what cmd/coordlab parses from
// flags, saved as test.json with its seed and fault schedule), a cluster
// started by a runtime, the workload's clients, the nemesis playing the
// schedule, the history streamed to history.jsonl, and the analysis that
// writes results.json.
//
// The run directory holds test.json (its schema and the defaults of a Spec
// are package runfile's), history.jsonl, results.json (and any files the
// checkers write), and nodes/<name>/ with each member's data and
// output.log; `coordlab run` adds report.html. CheckDir re-runs the
// analysis of a stored run with the judge of its workload.
//
// Order of a run: sweep leftovers of dead runs; validate; make the run dir;
// generate the schedule; write test.json; start the cluster (ready = every
// member serves and one leads); start the clock; run the workload and the
// nemesis until the time limit; undo every fault (Final); final reads; stop
// the cluster; check.
//
// Caveats:
//   - A run interrupted by SIGINT stops the cluster and removes its
//     namespaces, then returns ErrInterrupted; its history is kept and can
//     be checked with Check.
//   - Progress lines are written once a second to Config.Progress.
package run
