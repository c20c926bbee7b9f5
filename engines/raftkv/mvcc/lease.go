package mvcc

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
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

// Lease bucket record, as etcd writes it (so etcd can restore our snapshots): key =
// 8-byte big-endian ID; value = etcd's leasepb.Lease protobuf {ID = 1, TTL = 2,
// RemainingTTL = 3}, all int64 varints, encoded by hand (leasepb lives in etcd's server
// module).
func leaseKey(id int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(id)) }

func encodeLease(l *leaseState) []byte {
	b := make([]byte, 0, 3*11)
	b = appendVarintField(b, 1, l.id)
	b = appendVarintField(b, 2, l.ttl)
	return appendVarintField(b, 3, l.remaining)
}

func decodeLease(k, v []byte) (*leaseState, error) {
	bad := func(why string) error { return fmt.Errorf("%w: bad lease record %x=%x: %s", ErrCorrupt, k, v, why) }
	if len(k) != 8 {
		return nil, bad("key is not 8 bytes")
	}
	l := &leaseState{id: int64(binary.BigEndian.Uint64(k)), keys: make(map[string]struct{})}
	for len(v) > 0 {
		num, typ, n := protowire.ConsumeTag(v)
		if n < 0 {
			return nil, bad("tag")
		}
		v = v[n:]
		if typ != protowire.VarintType {
			n = protowire.ConsumeFieldValue(num, typ, v)
			if n < 0 {
				return nil, bad("field")
			}
			v = v[n:]
			continue
		}
		x, n := protowire.ConsumeVarint(v)
		if n < 0 {
			return nil, bad("varint")
		}
		v = v[n:]
		switch num {
		case 1:
			if int64(x) != l.id {
				return nil, bad("ID differs from the key")
			}
		case 2:
			l.ttl = int64(x)
		case 3:
			l.remaining = int64(x)
		}
	}
	return l, nil
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
