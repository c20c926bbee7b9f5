package znode

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/fnv"
	"io"
	"slices"

	"coordlab/engines/zab/jute"
)

// Snapshot format (all integers big-endian):
//
//	magic "ZNSNAP01"
//	lastZxid int64
//	nodeCount uint32, then per node in sorted path order:
//	  path, data (uint32 length, 0xFFFFFFFF = nil), kind byte, ttl int64,
//	  stat (czxid, mzxid, ctime, mtime int64; version, cversion, aversion int32;
//	  ephemeralOwner, pzxid int64), acl count uint32 then (perms int32, scheme, id)
//	sessionCount uint32, then (id int64, timeout int32) in id order
//	crc32c of everything before it, uint32
var snapMagic = [8]byte{'Z', 'N', 'S', 'N', 'A', 'P', '0', '1'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type snapWriter struct {
	w   *bufio.Writer
	crc hash.Hash32
	buf [8]byte
}

func (s *snapWriter) write(b []byte) { s.w.Write(b); s.crc.Write(b) }
func (s *snapWriter) u32(v uint32) {
	binary.BigEndian.PutUint32(s.buf[:4], v)
	s.write(s.buf[:4])
}
func (s *snapWriter) u64(v uint64) {
	binary.BigEndian.PutUint64(s.buf[:8], v)
	s.write(s.buf[:8])
}
func (s *snapWriter) str(v string) { s.u32(uint32(len(v))); s.write([]byte(v)) }
func (s *snapWriter) bytes(v []byte) {
	if v == nil {
		s.u32(0xFFFFFFFF)
		return
	}
	s.u32(uint32(len(v)))
	s.write(v)
}

func (t *Tree) sortedPaths() []string {
	paths := make([]string, 0, len(t.nodes))
	for p := range t.nodes {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths
}

// WriteSnapshot writes the whole tree (nodes, sessions, last zxid) with a
// checksum. Watches and pending changes are not included. The output is a
// function of the tree's contents only.
func (t *Tree) WriteSnapshot(w io.Writer) error {
	s := &snapWriter{w: bufio.NewWriterSize(w, 64<<10), crc: crc32.New(castagnoli)}
	s.write(snapMagic[:])
	s.u64(uint64(t.lastZxid))
	paths := t.sortedPaths()
	s.u32(uint32(len(paths)))
	for _, p := range paths {
		n := t.nodes[p]
		s.str(p)
		s.bytes(n.data)
		s.write([]byte{byte(n.kind)})
		s.u64(uint64(n.ttl))
		st := &n.stat
		s.u64(uint64(st.Czxid))
		s.u64(uint64(st.Mzxid))
		s.u64(uint64(st.Ctime))
		s.u64(uint64(st.Mtime))
		s.u32(uint32(st.Version))
		s.u32(uint32(st.Cversion))
		s.u32(uint32(st.Aversion))
		s.u64(uint64(st.EphemeralOwner))
		s.u64(uint64(st.Pzxid))
		s.u32(uint32(len(n.acl)))
		for _, a := range n.acl {
			s.u32(uint32(a.Perms))
			s.str(a.ID.Scheme)
			s.str(a.ID.ID)
		}
	}
	sessions := t.Sessions()
	s.u32(uint32(len(sessions)))
	for _, se := range sessions {
		s.u64(uint64(se.ID))
		s.u32(uint32(se.Timeout))
	}
	binary.BigEndian.PutUint32(s.buf[:4], s.crc.Sum32())
	s.w.Write(s.buf[:4])
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("znode: write snapshot: %w", err)
	}
	return nil
}

type snapReader struct {
	b   []byte
	off int
	err error
}

func (r *snapReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at byte %d", ErrCorruptSnapshot, what, r.off)
	}
}

func (r *snapReader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.fail("truncated " + what)
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

func (r *snapReader) u32(what string) uint32 {
	b := r.take(4, what)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *snapReader) u64(what string) uint64 {
	b := r.take(8, what)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func (r *snapReader) str(what string) string {
	n := r.u32(what)
	if n > uint32(len(r.b)) {
		r.fail(what + " length too large")
		return ""
	}
	return string(r.take(int(n), what))
}

func (r *snapReader) bytes(what string) []byte {
	n := r.u32(what)
	if n == 0xFFFFFFFF {
		return nil
	}
	if n > uint32(len(r.b)) {
		r.fail(what + " length too large")
		return nil
	}
	return slices.Clone(r.take(int(n), what))
}

// ReadSnapshot reads what WriteSnapshot wrote and rebuilds the tree
// (children, ephemerals) from it. Input that is truncated, has a bad magic
// or checksum, or does not describe a well-formed tree is an error
// wrapping ErrCorruptSnapshot.
func ReadSnapshot(rd io.Reader) (*Tree, error) {
	b, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("znode: read snapshot: %w", err)
	}
	if len(b) < len(snapMagic)+4 {
		return nil, fmt.Errorf("%w: %d bytes is too short", ErrCorruptSnapshot, len(b))
	}
	if [8]byte(b[:8]) != snapMagic {
		return nil, fmt.Errorf("%w: bad magic %q, want %q", ErrCorruptSnapshot, b[:8], snapMagic[:])
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, fmt.Errorf("%w: checksum %08x, stored %08x", ErrCorruptSnapshot, got, sum)
	}
	r := &snapReader{b: body, off: 8}
	t := &Tree{
		nodes:      map[string]*node{},
		sessions:   map[SessionID]int32{},
		ephemerals: map[SessionID]map[string]struct{}{},
		w:          newWatches(),
		p:          newPending(),
	}
	t.lastZxid = Zxid(r.u64("lastZxid"))
	count := r.u32("node count")
	var prev string
	for i := uint32(0); i < count && r.err == nil; i++ {
		p := r.str("path")
		n := &node{}
		n.data = r.bytes("data")
		kb := r.take(1, "kind")
		if kb != nil {
			n.kind = NodeKind(kb[0])
		}
		n.ttl = int64(r.u64("ttl"))
		st := &n.stat
		st.Czxid = int64(r.u64("czxid"))
		st.Mzxid = int64(r.u64("mzxid"))
		st.Ctime = int64(r.u64("ctime"))
		st.Mtime = int64(r.u64("mtime"))
		st.Version = int32(r.u32("version"))
		st.Cversion = int32(r.u32("cversion"))
		st.Aversion = int32(r.u32("aversion"))
		st.EphemeralOwner = int64(r.u64("ephemeralOwner"))
		st.Pzxid = int64(r.u64("pzxid"))
		na := r.u32("acl count")
		if na > uint32(len(r.b)-r.off)/12 { // an ACL takes at least 12 bytes
			r.fail("acl count too large")
		}
		for j := uint32(0); j < na && r.err == nil; j++ {
			var a jute.ACL
			a.Perms = int32(r.u32("perms"))
			a.ID.Scheme = r.str("scheme")
			a.ID.ID = r.str("id")
			n.acl = append(n.acl, a)
		}
		if r.err != nil {
			break
		}
		switch {
		case !validPath(p):
			r.fail(fmt.Sprintf("invalid path %q", p))
		case i > 0 && p <= prev:
			r.fail(fmt.Sprintf("path %q out of order", p))
		case i == 0 && p != "/":
			r.fail("first node is not /")
		case n.kind < KindPersistent || n.kind > KindTTL:
			r.fail(fmt.Sprintf("node %q has unknown kind %d", p, n.kind))
		}
		if r.err != nil {
			break
		}
		if p != "/" {
			// A parent is a prefix of its child, so in sorted order it
			// always comes first.
			parent := t.nodes[parentOf(p)]
			if parent == nil {
				r.fail(fmt.Sprintf("node %q has no parent", p))
				break
			}
			if parent.kind == KindEphemeral {
				r.fail(fmt.Sprintf("node %q is the child of an ephemeral", p))
				break
			}
			parent.addChild(baseOf(p))
		}
		t.nodes[p] = n
		t.dataSize += int64(len(p) + len(n.data))
		if n.kind == KindEphemeral {
			owner := SessionID(st.EphemeralOwner)
			set := t.ephemerals[owner]
			if set == nil {
				set = map[string]struct{}{}
				t.ephemerals[owner] = set
			}
			set[p] = struct{}{}
		}
		prev = p
	}
	ns := r.u32("session count")
	for i := uint32(0); i < ns && r.err == nil; i++ {
		id := SessionID(r.u64("session id"))
		to := int32(r.u32("session timeout"))
		if r.err == nil {
			t.sessions[id] = to
		}
	}
	if r.err == nil && r.off != len(r.b) {
		r.fail("trailing bytes")
	}
	if r.err == nil && t.nodes["/"] == nil {
		r.fail("no root node")
	}
	if r.err != nil {
		return nil, r.err
	}
	return t, nil
}

// Digest is a deterministic hash of the tree's contents (nodes with data,
// ACL and Stat, sessions, last zxid): two members that applied the same
// txns have the same digest. For tests and consistency checks.
func (t *Tree) Digest() uint64 {
	h := fnv.New64a()
	if err := t.WriteSnapshot(h); err != nil {
		panic("znode: digest: hash write failed: " + err.Error())
	}
	return h.Sum64()
}
