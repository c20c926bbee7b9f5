// Package history is the operation record of a coordlab run: written by the
// workloads and the nemesis while the run goes, read by analysis and reports.
//
// A history is a file of JSON lines, one Op per line, append-only. Every
// operation a logical process performs appears twice: an Invoke line when it
// starts and one completion line (OK, Fail or Info) when it ends. Fail means
// the operation surely did not take effect; Info means it may or may not have
// (a timeout, a connection lost mid-request). Nemesis operations (fault start
// and stop) use the process NemesisProcess, written "nemesis" in JSON.
//
// The Writer assigns Index (the line's position, from 0) and flushes each line
// to the underlying writer as soon as it is appended, so a run that crashes
// keeps everything recorded up to the crash. Time is monotonic nanoseconds
// since the run started; Clock produces it from one monotonic clock.
//
// Contract between workloads and analysis (tested against golden files in
// testdata/):
//
//	{"index":0,"process":3,"type":"invoke","f":"read","key":"r/1","time_ns":1200}
//	{"index":1,"process":3,"type":"ok","f":"read","key":"r/1","value":"7","found":true,"version":42,"node":"n1","time_ns":2500}
//	{"index":2,"process":"nemesis","type":"info","f":"start-partition","node":"n1","time_ns":3000,"extra":{"shape":"isolate-one"}}
//
// # Extra keys
//
// Extra carries what has no field of its own. The workloads write, and
// analysis reads:
//
//   - "read_mode" on read invokes (and their completions) when the run has a
//     read mode: linearizable, serializable, sync or local;
//   - "revision" on a register read's OK when the client reported the store
//     revision of the read (decimal);
//   - "ok" on a cas OK: "true" when it took effect, "false" when the compare
//     failed (a lost cas is OK, never Fail);
//   - "fenced" on fenced-write invokes: "true" when the register refuses
//     tokens older than the one it holds, "false" for a plain put;
//   - "ended" on a watch completion: "run end" when the watch ran until the
//     run ended, otherwise why it stopped ("channel closed", "compacted",
//     "error").
//
// Nemesis lines carry the fault's parameters (for example "shape" of a
// partition).
//
// Caveats: the Writer does not fsync; a crash of the machine (not of the
// process) may lose the last lines. A history whose last line is cut short is
// read up to that line and Read reports ErrTruncated with what it read.
package history
