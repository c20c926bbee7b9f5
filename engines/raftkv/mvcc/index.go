package mvcc

import (
	"bytes"
	"slices"
	"sort"

	"go.etcd.io/etcd/api/v3/mvccpb"
)

// revEntry is one revision of a key: a put, or a tombstone (delete).
type revEntry struct {
	rev  Revision
	tomb bool
}

// keyIndex is the in-memory history of one key, like etcd's keyIndex but flat: every
// revision of the key still in the key bucket, ascending. A tombstone ends an incarnation
// (etcd's generation); the next put starts a new one with version 1.
type keyIndex struct {
	key  []byte
	revs []revEntry
	// cur is the key's current value, nil while the key is deleted. It is the value of
	// revs[len(revs)-1]. Kept in memory so puts, compares and current reads never touch
	// bbolt. Never modified once published: a put replaces it.
	cur *mvccpb.KeyValue
}

// at returns the newest revision of the key at or below main, if the key was live then.
// last reports whether that is the key's latest revision (so cur holds its value).
func (ki *keyIndex) at(main int64) (r Revision, last, ok bool) {
	i := sort.Search(len(ki.revs), func(i int) bool { return ki.revs[i].rev.Main > main })
	if i == 0 {
		return Revision{}, false, false
	}
	e := ki.revs[i-1]
	if e.tomb {
		return Revision{}, false, false
	}
	return e.rev, i == len(ki.revs), true
}

// compact drops the revisions the store no longer needs once revisions <= main are
// compacted: all but the newest revision <= main, and that one too if it is a tombstone.
// It calls drop for each removed revision and reports whether the key has no revisions left.
func (ki *keyIndex) compact(main int64, drop func(revEntry)) (empty bool) {
	i := sort.Search(len(ki.revs), func(i int) bool { return ki.revs[i].rev.Main > main })
	// revs[:i] are <= main; keep revs[i-1] unless it is a tombstone.
	keepFrom := i - 1
	if i == 0 {
		return len(ki.revs) == 0
	}
	if ki.revs[i-1].tomb {
		keepFrom = i
	}
	for _, e := range ki.revs[:keepFrom] {
		drop(e)
	}
	ki.revs = slices.Delete(ki.revs, 0, keepFrom)
	return len(ki.revs) == 0
}

// chunkMax is the largest chunk of the key tree; a chunk that grows past it splits in two.
const chunkMax = 512

// keyTree is the sorted set of keys: a map for point lookups plus a list of sorted chunks
// for ordered scans (a two-level B-tree; inserting costs O(chunkMax + n/chunkMax) moves).
type keyTree struct {
	m      map[string]*keyIndex
	chunks [][]*keyIndex
}

func newKeyTree() *keyTree { return &keyTree{m: make(map[string]*keyIndex)} }

func (t *keyTree) len() int { return len(t.m) }

func (t *keyTree) get(key []byte) *keyIndex { return t.m[string(key)] }

// seek returns the position of the first key >= key.
func (t *keyTree) seek(key []byte) (ci, i int) {
	ci = sort.Search(len(t.chunks), func(c int) bool {
		ch := t.chunks[c]
		return bytes.Compare(ch[len(ch)-1].key, key) >= 0
	})
	if ci == len(t.chunks) {
		return ci, 0
	}
	ch := t.chunks[ci]
	i = sort.Search(len(ch), func(j int) bool { return bytes.Compare(ch[j].key, key) >= 0 })
	return ci, i
}

// insert adds ki, whose key must not be present.
func (t *keyTree) insert(ki *keyIndex) {
	t.m[string(ki.key)] = ki
	if len(t.chunks) == 0 {
		t.chunks = append(t.chunks, []*keyIndex{ki})
		return
	}
	ci, i := t.seek(ki.key)
	if ci == len(t.chunks) { // beyond the last key: append to the last chunk
		ci = len(t.chunks) - 1
		i = len(t.chunks[ci])
	}
	ch := slices.Insert(t.chunks[ci], i, ki)
	if len(ch) > chunkMax {
		half := len(ch) / 2
		right := slices.Clone(ch[half:])
		clear(ch[half:])
		ch = ch[:half]
		t.chunks[ci] = ch
		t.chunks = slices.Insert(t.chunks, ci+1, right)
		return
	}
	t.chunks[ci] = ch
}

// remove deletes key if present.
func (t *keyTree) remove(key []byte) {
	if _, ok := t.m[string(key)]; !ok {
		return
	}
	delete(t.m, string(key))
	ci, i := t.seek(key)
	ch := slices.Delete(t.chunks[ci], i, i+1)
	if len(ch) == 0 {
		t.chunks = slices.Delete(t.chunks, ci, ci+1)
		return
	}
	t.chunks[ci] = ch
}

// ascend calls fn for each key in [key, end) in order until fn returns false. end nil
// means the single key; an empty non-nil end means every key >= key.
func (t *keyTree) ascend(key, end []byte, fn func(*keyIndex) bool) {
	if end == nil {
		if ki := t.get(key); ki != nil {
			fn(ki)
		}
		return
	}
	ci, i := t.seek(key)
	for ; ci < len(t.chunks); ci, i = ci+1, 0 {
		ch := t.chunks[ci]
		for ; i < len(ch); i++ {
			ki := ch[i]
			if len(end) > 0 && bytes.Compare(ki.key, end) >= 0 {
				return
			}
			if !fn(ki) {
				return
			}
		}
	}
}

// each calls fn for every key in order.
func (t *keyTree) each(fn func(*keyIndex)) {
	for _, ch := range t.chunks {
		for _, ki := range ch {
			fn(ki)
		}
	}
}

// inRange reports whether k lies in [key, end) with etcd's range_end conventions (end nil:
// the single key; end empty: every key >= key).
func inRange(k, key, end []byte) bool {
	if end == nil {
		return bytes.Equal(k, key)
	}
	if bytes.Compare(k, key) < 0 {
		return false
	}
	return len(end) == 0 || bytes.Compare(k, end) < 0
}

// normEnd maps etcd's range_end to the index's convention: "\x00" (all keys >= key)
// becomes an empty non-nil slice; an absent range_end stays nil (single key).
func normEnd(end []byte) []byte {
	if len(end) == 1 && end[0] == 0 {
		return []byte{}
	}
	if len(end) == 0 {
		return nil
	}
	return end
}
