package mvcc

import (
	"hash/crc32"

	bolt "go.etcd.io/bbolt"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// HashKV is etcd's HashKV: a CRC-32 (Castagnoli) over the key bucket's name and then the
// bucket key and value of every revision with main revision <= rev still in the store, in
// revision order. rev 0 means the current revision. Members that applied the same
// entries and compacted at the same revisions agree on it. It returns the compact
// revision too; ErrFutureRev above the current revision, ErrCompacted below the compact
// revision. It scans the whole key bucket under the shared lock (Apply waits).
func (s *Store) HashKV(rev int64) (hash uint32, compactRev int64, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, 0, ErrClosed
	}
	switch {
	case rev > s.rev:
		return 0, s.compactRev, ErrFutureRev
	case rev > 0 && rev < s.compactRev:
		return 0, s.compactRev, ErrCompacted
	case rev <= 0:
		rev = s.rev
	}
	h := crc32.New(castagnoli)
	h.Write(keyBucket)
	err = s.view(func(keyB, _ *bolt.Bucket) error {
		c := keyB.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			r, _, err := parseRevKey(k)
			if err != nil {
				return err
			}
			if r.Main > rev {
				break
			}
			h.Write(k)
			h.Write(v)
		}
		return nil
	})
	if err != nil {
		return 0, s.compactRev, err
	}
	return h.Sum32(), s.compactRev, nil
}

// Hash is a CRC-32 (Castagnoli) over the key and lease buckets (name, then every key and
// value), as etcd's Hash covers its backend. It leaves out the meta bucket, whose
// consistent index differs between members at any moment. It sees applied but
// uncommitted writes.
func (s *Store) Hash() (uint32, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	h := crc32.New(castagnoli)
	err := s.view(func(keyB, leaseB *bolt.Bucket) error {
		for _, b := range []struct {
			name []byte
			b    *bolt.Bucket
		}{{keyBucket, keyB}, {leaseBucket, leaseB}} {
			h.Write(b.name)
			c := b.b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				h.Write(k)
				h.Write(v)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return h.Sum32(), nil
}
