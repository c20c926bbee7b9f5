package mvcc

import (
	"encoding/binary"
	"testing"
)

// FuzzDecodeLease: decoding a lease record never panics, and what decodes re-encodes to
// a record that decodes to the same lease.
func FuzzDecodeLease(f *testing.F) {
	f.Add(int64(7), encodeLease(&leaseState{id: 7, ttl: 60, remaining: 42}))
	f.Add(int64(1), []byte{})
	f.Add(int64(-1), []byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add(int64(3), []byte{0x22, 0x01, 0x00}) // an unknown bytes field
	f.Fuzz(func(t *testing.T, id int64, v []byte) {
		k := binary.BigEndian.AppendUint64(nil, uint64(id))
		l, err := decodeLease(k, v)
		if err != nil {
			return
		}
		again, err := decodeLease(k, encodeLease(l))
		if err != nil {
			t.Fatalf("re-encoded lease %+v does not decode: %v", l, err)
		}
		if again.id != l.id || again.ttl != l.ttl || again.remaining != l.remaining {
			t.Fatalf("round trip changed %+v into %+v", l, again)
		}
	})
}

// FuzzParseRevKey: parsing never panics, and a parsed key re-encodes to itself.
func FuzzParseRevKey(f *testing.F) {
	f.Add(appendRevKey(nil, Revision{Main: 5, Sub: 2}, false))
	f.Add(appendRevKey(nil, Revision{Main: 5, Sub: 2}, true))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, k []byte) {
		r, tomb, err := parseRevKey(k)
		if err != nil {
			return
		}
		if got := appendRevKey(nil, r, tomb); string(got) != string(k) {
			t.Fatalf("parseRevKey(%x) = %v %v, re-encodes to %x", k, r, tomb, got)
		}
	})
}
