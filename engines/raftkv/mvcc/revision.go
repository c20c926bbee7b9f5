package mvcc

import (
	"encoding/binary"
	"fmt"
)

// Revision is a point in the store's history: Main is the store revision of a write txn,
// Sub orders the changes inside that txn (0, 1, 2, ...), as etcd's revision{main, sub}.
type Revision struct {
	Main int64
	Sub  int64
}

// revKeyLen is the length of a revision key in the key bucket: 8-byte big-endian main,
// '_', 8-byte big-endian sub; a tombstone carries one more byte, 't' (etcd's layout).
const (
	revKeyLen     = 17
	tombRevKeyLen = 18
	tombMark      = 't'
)

// appendRevKey appends the bucket key of r (tomb marks a tombstone) to dst.
func appendRevKey(dst []byte, r Revision, tomb bool) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.Main))
	dst = append(dst, '_')
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.Sub))
	if tomb {
		dst = append(dst, tombMark)
	}
	return dst
}

// parseRevKey decodes a bucket key written by appendRevKey.
func parseRevKey(k []byte) (Revision, bool, error) {
	if (len(k) != revKeyLen && len(k) != tombRevKeyLen) || k[8] != '_' ||
		(len(k) == tombRevKeyLen && k[17] != tombMark) {
		return Revision{}, false, fmt.Errorf("%w: bad revision key %x", ErrCorrupt, k)
	}
	r := Revision{Main: int64(binary.BigEndian.Uint64(k[:8])), Sub: int64(binary.BigEndian.Uint64(k[9:17]))}
	return r, len(k) == tombRevKeyLen, nil
}

// less orders revisions.
func (r Revision) less(o Revision) bool {
	return r.Main < o.Main || (r.Main == o.Main && r.Sub < o.Sub)
}
