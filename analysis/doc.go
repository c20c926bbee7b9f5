// Package analysis checks a coordlab history and measures it: it decides
// whether what the clients saw is allowed by the system's promise and writes
// the verdict, the anomalies with the ops that show them, and performance
// figures as results.json (the Results type is its schema).
//
// Check takes the history and a Judge: the checkers to run and the ops that
// read and write. Each workload's Judge lives with the workload, in the
// workloads table; this package never looks at workload names. The
// checkers, and the workloads that use them:
//   - register: linearizability per key (porcupine, register with CAS), the
//     session-order checker (per process, monotonic reads and
//     read-your-writes: ZooKeeper's promise for local reads), staleness.
//   - lock: a porcupine model of a lease lock guarding a fenced register,
//     and the explicit rules behind it (tokens increase with acquisition
//     order; a write by a holder whose token is older than one already
//     written is the anomaly).
//   - watch: ordered, unique, atomic, reliable, resumable, bookmarkable,
//     correct prev_kv and create flags (etcd's robustness suite names).
//   - election: never two leaders in one term, never two values in a term.
//   - config: subscribers never go backwards and converge on the last
//     published version.
//
// Each anomaly names its kind (AnomalyKinds describes them all) and the
// history indexes of the ops that show it; linearizability anomalies also
// carry a minimal failing sub-history (shrunk while porcupine still calls it
// illegal, keeping every read's write) and porcupine's visualization.
//
// Every verdict is Valid, Invalid or Unknown; results combine with the worst
// winning and Unknown between the other two. A checker that runs out of its
// time or memory budget says Unknown, never Valid.
//
// Indeterminate ops (info) are treated as possibly having happened at any
// time after their invoke: porcupine gets them with an open end; the other
// checkers never use an info op as evidence of an anomaly, and accept what it
// could have caused.
//
// Caveats: the lock model allows a lock to pass to a new holder while the old
// one still believes it holds it (a lease can expire, and the history cannot
// say when): two holders are reported when the old holder's write is
// accepted after the new holder's acquisition, i.e. when the overlap had an
// effect. Staleness is measured against acknowledged writes only. Watch
// checks need versions: ZooKeeper deletes carry none, so keys with such a
// delete skip the prev-value and created checks, and ZooKeeper's one-shot
// watches coalesce changes, which the gap check reports as such. Reads that
// record no read mode are taken as Options.ReadMode (default linearizable).
package analysis
