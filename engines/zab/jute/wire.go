package jute

import (
	"encoding/binary"
	"strconv"
)

// Record is a jute record: fields encoded in declaration order with no tags
// or padding. Encode appends to w; Decode reads from r and reports problems
// through r (see Reader.Err), so a record's Decode is a straight list of
// field reads with no error plumbing.
type Record interface {
	Encode(w *Writer)
	Decode(r *Reader)
}

// Writer appends jute primitives to a byte slice. The zero value is ready;
// set Buf to reuse a buffer.
type Writer struct {
	Buf []byte
}

// Int appends a jute int (4 bytes, big-endian).
func (w *Writer) Int(v int32) { w.Buf = binary.BigEndian.AppendUint32(w.Buf, uint32(v)) }

// Long appends a jute long (8 bytes, big-endian).
func (w *Writer) Long(v int64) { w.Buf = binary.BigEndian.AppendUint64(w.Buf, uint64(v)) }

// Bool appends a jute boolean (one byte, 0 or 1).
func (w *Writer) Bool(v bool) {
	var b byte
	if v {
		b = 1
	}
	w.Buf = append(w.Buf, b)
}

// Buffer appends a jute buffer: nil as length -1, otherwise length and bytes.
func (w *Writer) Buffer(b []byte) {
	if b == nil {
		w.Int(-1)
		return
	}
	w.Int(int32(len(b)))
	w.Buf = append(w.Buf, b...)
}

// String appends a jute ustring (length and UTF-8 bytes).
func (w *Writer) String(s string) {
	w.Int(int32(len(s)))
	w.Buf = append(w.Buf, s...)
}

// Strings appends a vector<ustring>: nil as -1.
func (w *Writer) Strings(v []string) {
	if v == nil {
		w.Int(-1)
		return
	}
	w.Int(int32(len(v)))
	for _, s := range v {
		w.String(s)
	}
}

// ACLs appends a vector<ACL>: nil as -1.
func (w *Writer) ACLs(v []ACL) {
	if v == nil {
		w.Int(-1)
		return
	}
	w.Int(int32(len(v)))
	for i := range v {
		v[i].Encode(w)
	}
}

// Reader decodes jute primitives from a payload. The first problem is kept
// as a *DecodeError (Err) and every later read returns a zero value, so a
// record's Decode needs no error checks. A Reader never panics and never
// reads past its input.
type Reader struct {
	b      []byte
	off    int
	record string
	err    *DecodeError
}

// NewReader returns a Reader over b, labelling errors with record.
func NewReader(b []byte, record string) *Reader { return &Reader{b: b, record: record} }

// Err returns the first decode problem, or nil.
func (r *Reader) Err() error {
	if r.err == nil {
		return nil
	}
	return r.err
}

// Offset returns the number of bytes consumed.
func (r *Reader) Offset() int { return r.off }

// Remaining returns the number of bytes not yet consumed.
func (r *Reader) Remaining() int { return len(r.b) - r.off }

// SetRecord changes the record name used in errors (for nested records).
func (r *Reader) SetRecord(name string) { r.record = name }

// Fail records a problem with field at the current offset (first one wins).
func (r *Reader) Fail(field, problem string) {
	if r.err == nil {
		r.err = &DecodeError{Record: r.record, Field: field, Offset: r.off, Problem: problem}
	}
}

func (r *Reader) need(field string, n int) bool {
	if r.err != nil {
		return false
	}
	if len(r.b)-r.off < n {
		r.Fail(field, "need "+strconv.Itoa(n)+" bytes, have "+strconv.Itoa(len(r.b)-r.off)+" (truncated record)")
		return false
	}
	return true
}

// Int reads a jute int.
func (r *Reader) Int(field string) int32 {
	if !r.need(field, 4) {
		return 0
	}
	v := int32(binary.BigEndian.Uint32(r.b[r.off:]))
	r.off += 4
	return v
}

// Long reads a jute long.
func (r *Reader) Long(field string) int64 {
	if !r.need(field, 8) {
		return 0
	}
	v := int64(binary.BigEndian.Uint64(r.b[r.off:]))
	r.off += 8
	return v
}

// Bool reads a jute boolean; like Java's readBoolean, any non-zero byte is
// true.
func (r *Reader) Bool(field string) bool {
	if !r.need(field, 1) {
		return false
	}
	v := r.b[r.off] != 0
	r.off++
	return v
}

// length reads a length prefix: -1 means null, other negatives and lengths
// longer than what remains (each element being at least minElem bytes) are
// errors, so a hostile length never causes a large allocation.
func (r *Reader) length(field string, minElem int) (n int, null bool) {
	start := r.off
	v := r.Int(field)
	if r.err != nil {
		return 0, false
	}
	if v == -1 {
		return 0, true
	}
	if v < 0 {
		r.off = start
		r.Fail(field, "negative length "+strconv.Itoa(int(v)))
		return 0, false
	}
	if int64(v)*int64(minElem) > int64(len(r.b)-r.off) {
		r.off = start
		r.Fail(field, "length "+strconv.Itoa(int(v))+" exceeds the "+strconv.Itoa(len(r.b)-r.off-4)+" bytes left in the frame")
		return 0, false
	}
	return int(v), false
}

// Buffer reads a jute buffer: -1 gives nil, 0 a non-nil empty slice. The
// result is a copy, so it stays valid when the caller reuses the payload
// buffer for the next frame.
func (r *Reader) Buffer(field string) []byte {
	n, null := r.length(field, 1)
	if null || r.err != nil {
		return nil
	}
	v := make([]byte, n)
	copy(v, r.b[r.off:])
	r.off += n
	return v
}

// String reads a jute ustring; null (-1) gives "".
func (r *Reader) String(field string) string {
	n, null := r.length(field, 1)
	if null || r.err != nil {
		return ""
	}
	v := string(r.b[r.off : r.off+n])
	r.off += n
	return v
}

// Strings reads a vector<ustring>: -1 gives nil, 0 a non-nil empty slice.
func (r *Reader) Strings(field string) []string {
	n, null := r.length(field, 4)
	if null || r.err != nil {
		return nil
	}
	v := make([]string, n)
	for i := range v {
		v[i] = r.String(field)
	}
	if r.err != nil {
		return nil
	}
	return v
}

// ACLs reads a vector<ACL>: -1 gives nil, 0 a non-nil empty slice.
func (r *Reader) ACLs(field string) []ACL {
	n, null := r.length(field, 12)
	if null || r.err != nil {
		return nil
	}
	v := make([]ACL, n)
	for i := range v {
		v[i].Decode(r)
	}
	if r.err != nil {
		return nil
	}
	return v
}

// End fails if bytes remain after the record: ZooKeeper clients send none,
// so extra bytes mean the frame was not what its opcode says.
func (r *Reader) End() {
	if r.err == nil && r.off != len(r.b) {
		r.Fail("end", strconv.Itoa(len(r.b)-r.off)+" trailing bytes after the record")
	}
}
