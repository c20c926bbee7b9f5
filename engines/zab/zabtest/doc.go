// Package zabtest runs N zab cores in one process over a seeded network that
// can drop, delay, reorder and duplicate messages and be partitioned, with a
// fake clock (Tick) and in-memory durable storage that survives Crash and
// Restart (what a Ready asked to persist is kept once that Ready was handled;
// everything else in the core's memory is lost).
//
// Each member's application is a list of applied entries; its snapshot is that
// list encoded. While it runs, the cluster checks ZAB's safety properties
// online and records the first violation (Check returns it):
//
//   - agreement and total order: every member applies the same sequence of
//     (zxid, data) — each one's applied list is a prefix of one global order;
//   - zxids strictly increase along that order;
//   - at most one established leader per epoch;
//   - a snapshot sent for SNAP is exactly the leader's state at its zxid;
//   - a Sync completes only on a member that has applied every entry a leader
//     had delivered when the Sync started.
//
// Acked returns every entry a leader delivered (committed on a leader, the
// point at which a server answers its client), so a test can check that each
// one survives crashes and leader changes.
//
// Everything is deterministic given Options.Seed: members are visited in id
// order, messages in queue order, and randomness comes from one *rand.Rand.
//
// Caveats: the network delivers whole messages (a real transport frames them
// and breaks the connection on a partial read); a crash never interrupts
// persisting: Crash happens between two Readys, and CrashMidReady after a
// Ready's EarlyMessages left but before any of it was persisted
// (MemoryStorage.Persist is atomic).
package zabtest
