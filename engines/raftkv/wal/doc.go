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
// log being overwritten). A zero length ends a segment only when every byte
// after it is zero too.
//
// A record that cannot be read (cut short, a length running past the end of the
// file, a CRC mismatch, a zero length with data after it) is a torn write from a
// crash only if it is in the last segment and no valid record follows it
// anywhere in that segment (Open scans every later offset for a record whose
// length fits, whose CRC matches and whose body decodes): it and everything
// after it is zeroed and writing resumes there. Anything else is corruption of
// records that may have been acknowledged (a flipped bit in a length field
// mid-log must not be read as the end of the log), and Open fails with a
// *CorruptError naming the file, the offset and the recovery: remove this
// member's data dir and re-add it from its peers.
//
// # Caveats
//
//   - Only one process may open a directory; Open takes no lock file.
//   - Save is not safe for concurrent use: the raft loop is the only writer.
//   - Records larger than Config.SegmentBytes are refused (ErrRecordTooLarge).
//   - A crash that persists a later page of an unsynced write but not an
//     earlier one (possible on power loss, not on a process crash) leaves a
//     valid record after a torn one; Open refuses it as corruption. That is
//     the safe side: those records were never fsynced nor acknowledged, but
//     the scan cannot tell them from acknowledged ones.
//   - Damage to the last record of the log looks like a torn write and drops
//     that record even if it had been fsynced (etcd instead refuses a CRC
//     mismatch unless the record holds a zeroed sector). Every earlier record
//     is kept or Open refuses.
package wal
