// Package workloads drives a cluster with the uses coordination services
// exist for and records every operation in the history. A workload is one
// value (Workload: its name, generator, final reads, minimum concurrency
// and the Judge of checkers that judge its history), in a file of its own,
// listed in Table; adding one is that file, a line in Table and its fixture
// histories in analysis/testdata (<name>-valid.jsonl at least). The
// workloads:
//
//   - register: read, write and compare-and-set on a few independent keys;
//     every written value is unique in the run, so checkers can tell writes
//     apart.
//   - cas: every thread reads or compare-and-sets one key, from the value
//     it last saw to a fresh unique value (Jepsen's cas-register).
//   - lock: acquire a lock with a session, write the fencing token into a
//     register, release. Fenced (the default), the write is refused when the
//     register already holds a newer token; unfenced, it is a plain put,
//     which reproduces Jepsen's etcd 3.4.3 finding under pause.
//   - watch: writers put unique values under a prefix; watchers record every
//     event they receive (one watch op each, with all its events); final
//     reads give the end state.
//   - election: campaign, observe, resign.
//   - config: one publisher writes increasing versions of a configuration,
//     subscribers read it.
//
// Concurrency is the number of worker threads; thread t talks to member
// t mod len(nodes), and runs logical process t, then t+Concurrency, and so
// on: an operation that ends info (its effect unknown) retires its process
// and the thread continues as a fresh process with a fresh client (Jepsen).
// Rate bounds the total operations per second (0 = as fast as possible).
//
// Every op is recorded by the recorder: the invoke time is taken from the
// run's clock before the request leaves and the completion time after the
// answer arrives, so an op's [invoke, complete] interval always contains the
// real one. Reads that fail or time out are recorded as fail (a read has no
// effect); other errors are fail only when the client says the op surely did
// not happen (client.IsDefinite), info otherwise.
//
// The choice of each op is a pure function of the seed and the thread (one
// *rand.Rand per thread), so a run is replayable up to the timing of the
// system under test.
//
// Caveats:
//   - A watch op stays open for the whole run; its events are recorded at its
//     completion, so a run that is killed loses them (the invoke remains).
//   - Rate limiting is per thread (Concurrency/Rate between a thread's ops),
//     so a thread blocked on a slow op does not hand its budget to others.
package workloads
