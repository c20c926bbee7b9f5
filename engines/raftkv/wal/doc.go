// Package wal is raftkv's raft log on disk: entries, hard state and snapshot
// metadata appended as length-prefixed, CRC-checked records to segment files,
// with one fsync per Save.
//
// # Layout
//
// A WAL directory holds segments named %016x.wal (a sequence number). A segment is
// preallocated to Config.SegmentBytes and filled with records:
//
//	uint32 length (little endian) of what follows the CRC
//	uint32 CRC-32C of type+payload
//	byte   type (entry, hard state, snapshot)
//	payload
//
// A zero length marks the end of the written part of a segment (the preallocated
// rest is zeros). When a segment is full the next one starts with the latest
// snapshot record and hard state, so older segments whose entries are all covered
// by a snapshot can be deleted (ReleaseTo).
//
// # Recovery
//
// Open replays every segment in order: a snapshot record drops the entries it
// covers, an entry with index i drops any entries >= i it replaces (a follower's
// log being overwritten). A record that is cut short or fails its CRC at the tail
// of the last segment is a torn write from a crash: it and everything after it is
// zeroed and writing resumes there. A bad record anywhere else is corruption and
// Open fails with a *CorruptError naming the file and offset.
//
// # Caveats
//
//   - Only one process may open a directory; Open takes no lock file.
//   - Save is not safe for concurrent use: the raft loop is the only writer.
//   - Records larger than Config.SegmentBytes are refused (ErrRecordTooLarge).
package wal
