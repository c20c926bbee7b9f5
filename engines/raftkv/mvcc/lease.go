package mvcc

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// Lease is a lease as data: what the store knows of it. Expiry timers are not data: the
// leader's server keeps them and revokes through the log.
type Lease struct {
	// ID is the lease ID (never 0).
	ID int64
	// TTL is the granted TTL in seconds (after raising it to Config.MinLeaseTTL).
	TTL int64
	// RemainingTTL is the remaining TTL in seconds from the last LeaseCheckpoint, 0 if the
	// lease was never checkpointed.
	RemainingTTL int64
	// Keys are the keys attached to the lease, sorted.
	Keys [][]byte
}

type leaseState struct {
	id        int64
	ttl       int64
	remaining int64
	keys      map[string]struct{}
}

func (l *leaseState) export() Lease {
	keys := make([]string, 0, len(l.keys))
	for k := range l.keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := Lease{ID: l.id, TTL: l.ttl, RemainingTTL: l.remaining, Keys: make([][]byte, len(keys))}
	for i, k := range keys {
		out.Keys[i] = []byte(k)
	}
	return out
}

// sortedKeys returns the attached keys in order (lease revoke deletes them in this order,
// as etcd's lessor does, so sub revisions agree on every member).
func (l *leaseState) sortedKeys() []string {
	keys := make([]string, 0, len(l.keys))
	for k := range l.keys {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, strings.Compare)
	return keys
}

// Lease bucket record: key = 8-byte big-endian ID; value = TTL, remaining TTL (8 bytes each).
func leaseKey(id int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(id)) }

func encodeLease(l *leaseState) []byte {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(l.ttl))
	return binary.BigEndian.AppendUint64(v, uint64(l.remaining))
}

func decodeLease(k, v []byte) (*leaseState, error) {
	if len(k) != 8 || len(v) != 16 {
		return nil, fmt.Errorf("%w: bad lease record %x=%x", ErrCorrupt, k, v)
	}
	return &leaseState{
		id:        int64(binary.BigEndian.Uint64(k)),
		ttl:       int64(binary.BigEndian.Uint64(v[:8])),
		remaining: int64(binary.BigEndian.Uint64(v[8:])),
		keys:      make(map[string]struct{}),
	}, nil
}

// Leases returns every lease, sorted by ID.
func (s *Store) Leases() []Lease {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := make([]int64, 0, len(s.leases))
	for id := range s.leases {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]Lease, len(ids))
	for i, id := range ids {
		out[i] = s.leases[id].export()
	}
	return out
}

// Lease returns the lease with the given ID.
func (s *Store) Lease(id int64) (Lease, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	l, ok := s.leases[id]
	if !ok {
		return Lease{}, false
	}
	return l.export(), true
}

// pickLeaseID derives a lease ID from the raft index, so every member picks the same one
// for a grant with ID 0: a splitmix64 mix of the index (IDs look random, as etcd's do),
// made positive, then the next free ID.
func (s *Store) pickLeaseID(index uint64) int64 {
	z := index + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	id := int64(z & (1<<63 - 1))
	for {
		if _, taken := s.leases[id]; id != 0 && !taken {
			return id
		}
		id = (id + 1) & (1<<63 - 1)
	}
}
