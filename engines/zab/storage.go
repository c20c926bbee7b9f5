package zab

import (
	"fmt"
	"slices"
)

// InitialState is what a member finds durable when it starts.
type InitialState struct {
	HardState
	// Applied is the zxid of the application state the runtime restored (its
	// newest snapshot; 0 for an empty state). The core re-delivers, through
	// Ready.Committed, every entry above Applied once it learns the entry is
	// committed, so the runtime must not replay its log past its snapshot by
	// itself: a logged entry may never have committed (ZOOKEEPER-2845).
	Applied Zxid
}

// Storage is what the core reads from the runtime's durable state. The core
// calls it only inside NewNode, from the caller's goroutine; it never writes
// through it (writes are asked for in Ready). Implementations need not be safe
// for concurrent use by the core.
type Storage interface {
	// InitialState returns the durable epochs and the applied snapshot's zxid.
	InitialState() (InitialState, error)
	// Entries returns up to max logged entries with zxid > after, in zxid
	// order, or none when there are no more. The core calls it with after =
	// InitialState().Applied and then with the last zxid returned, until it
	// gets none.
	Entries(after Zxid, max int) ([]Entry, error)
}

// MemoryStorage is an in-memory Storage that can also carry out the durable
// part of a Ready (Persist). It stands in for a disk in tests and examples:
// whatever Persist wrote "survives a crash" as long as the value is kept.
// It is not safe for concurrent use.
type MemoryStorage struct {
	hard     HardState
	snapshot Snapshot
	entries  []Entry // zxid order; may start at or below snapshot.Zxid
}

// NewMemoryStorage returns an empty storage: epochs 0, no snapshot, no log.
func NewMemoryStorage() *MemoryStorage { return &MemoryStorage{} }

// InitialState implements Storage.
func (s *MemoryStorage) InitialState() (InitialState, error) {
	return InitialState{HardState: s.hard, Applied: s.snapshot.Zxid}, nil
}

// Entries implements Storage.
func (s *MemoryStorage) Entries(after Zxid, max int) ([]Entry, error) {
	i, _ := slices.BinarySearchFunc(s.entries, after, func(e Entry, z Zxid) int {
		switch {
		case e.Zxid < z:
			return -1
		case e.Zxid > z:
			return 1
		}
		return 0
	})
	for i < len(s.entries) && s.entries[i].Zxid <= after {
		i++
	}
	j := min(len(s.entries), i+max)
	return slices.Clone(s.entries[i:j]), nil
}

// Persist carries out step 2 of rd (see Ready): snapshot, truncate, append,
// hard state. It checks that appended entries continue the log in zxid order.
func (s *MemoryStorage) Persist(rd Ready) error {
	if rd.Snapshot != nil {
		s.snapshot = Snapshot{Zxid: rd.Snapshot.Zxid, Data: slices.Clone(rd.Snapshot.Data)}
		s.entries = nil
	}
	if rd.Truncate {
		i := len(s.entries)
		for i > 0 && s.entries[i-1].Zxid > rd.TruncateTo {
			i--
		}
		s.entries = s.entries[:i]
	}
	for _, e := range rd.Entries {
		if last := s.LastZxid(); e.Zxid <= last {
			return fmt.Errorf("zab: memory storage: append %s after %s: zxids must increase", e.Zxid, last)
		}
		s.entries = append(s.entries, e)
	}
	if rd.HardState != nil {
		s.hard = *rd.HardState
	}
	return nil
}

// SetSnapshot records an application snapshot (as a runtime does after
// applying committed entries). Log entries at or below its zxid stay; Entries
// skips them.
func (s *MemoryStorage) SetSnapshot(snap Snapshot) {
	s.snapshot = Snapshot{Zxid: snap.Zxid, Data: slices.Clone(snap.Data)}
}

// Snapshot returns the last snapshot set or installed.
func (s *MemoryStorage) Snapshot() Snapshot { return s.snapshot }

// HardState returns the persisted epochs.
func (s *MemoryStorage) HardState() HardState { return s.hard }

// LastZxid returns the last logged zxid, or the snapshot's if the log is empty.
func (s *MemoryStorage) LastZxid() Zxid {
	if n := len(s.entries); n > 0 && s.entries[n-1].Zxid > s.snapshot.Zxid {
		return s.entries[n-1].Zxid
	}
	return s.snapshot.Zxid
}
