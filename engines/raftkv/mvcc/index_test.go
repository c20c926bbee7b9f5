package mvcc

import (
	"bytes"
	"fmt"
	"math/rand"
	"slices"
	"testing"
)

// TestKeyTreeAgainstSortedSet inserts and removes thousands of keys (so chunks split and
// empty) and checks point lookups and every kind of scan against a sorted slice.
func TestKeyTreeAgainstSortedSet(t *testing.T) {
	for _, seed := range []int64{1, 2} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			tree := newKeyTree()
			ref := map[string]bool{}
			key := func() string { return fmt.Sprintf("k%05d", rng.Intn(6000)) }
			for step := 0; step < 8000; step++ {
				k := key()
				if rng.Intn(3) == 0 {
					tree.remove([]byte(k))
					delete(ref, k)
				} else if tree.get([]byte(k)) == nil {
					tree.insert(&keyIndex{key: []byte(k)})
					ref[k] = true
				}
				if step%1499 != 0 {
					continue
				}
				sorted := make([]string, 0, len(ref))
				for k := range ref {
					sorted = append(sorted, k)
				}
				slices.Sort(sorted)
				if tree.len() != len(sorted) {
					t.Fatalf("seed %d step %d: len %d, want %d", seed, step, tree.len(), len(sorted))
				}
				for i, ch := range tree.chunks {
					if len(ch) == 0 || len(ch) > chunkMax {
						t.Fatalf("seed %d step %d: chunk %d has %d keys", seed, step, i, len(ch))
					}
				}
				for q := 0; q < 20; q++ {
					from, to := key(), key()
					var end []byte
					switch q % 3 {
					case 0:
						end = []byte(to)
					case 1:
						end = []byte{} // every key >= from
					}
					var got []string
					tree.ascend([]byte(from), end, func(ki *keyIndex) bool {
						got = append(got, string(ki.key))
						return true
					})
					var want []string
					for _, k := range sorted {
						if inRange([]byte(k), []byte(from), end) {
							want = append(want, k)
						}
					}
					if !slices.Equal(got, want) {
						t.Fatalf("seed %d step %d: ascend(%q, %q) = %d keys %v..., want %d keys", seed, step, from, end, len(got), head(got), len(want))
					}
				}
			}
		})
	}
}

func head(s []string) []string { return s[:min(len(s), 5)] }

func TestKeyIndexAtAndCompact(t *testing.T) {
	// put@2, put@3, del@4, put@6, put@7.
	ki := &keyIndex{key: []byte("k"), revs: []revEntry{
		{rev: Revision{Main: 2}}, {rev: Revision{Main: 3}}, {rev: Revision{Main: 4}, tomb: true},
		{rev: Revision{Main: 6}}, {rev: Revision{Main: 7, Sub: 1}},
	}}
	for _, c := range []struct {
		at   int64
		want int64 // main revision found, 0 = absent
		last bool
	}{{1, 0, false}, {2, 2, false}, {3, 3, false}, {4, 0, false}, {5, 0, false}, {6, 6, false}, {7, 7, true}, {100, 7, true}} {
		r, last, ok := ki.at(c.at)
		if (ok && r.Main != c.want) || (!ok && c.want != 0) || last != c.last {
			t.Errorf("at(%d) = %v %v %v, want %d last=%v", c.at, r, last, ok, c.want, c.last)
		}
	}
	var dropped []int64
	drop := func(e revEntry) { dropped = append(dropped, e.rev.Main) }
	if ki.compact(3, drop); !slices.Equal(dropped, []int64{2}) || ki.revs[0].rev.Main != 3 {
		t.Fatalf("compact(3) dropped %v, kept %v", dropped, ki.revs)
	}
	dropped = nil
	if ki.compact(5, drop); !slices.Equal(dropped, []int64{3, 4}) || ki.revs[0].rev.Main != 6 {
		t.Fatalf("compact(5) dropped %v (the tombstone goes too), kept %v", dropped, ki.revs)
	}
	dropped = nil
	if empty := ki.compact(7, drop); empty || !slices.Equal(dropped, []int64{6}) || len(ki.revs) != 1 {
		t.Fatalf("compact(7) dropped %v, kept %v, empty %v", dropped, ki.revs, empty)
	}
	ki.revs = append(ki.revs, revEntry{rev: Revision{Main: 8}, tomb: true})
	dropped = nil
	if empty := ki.compact(8, drop); !empty || !slices.Equal(dropped, []int64{7, 8}) {
		t.Fatalf("compact(8) after a delete dropped %v, empty %v; want [7 8], true", dropped, empty)
	}
}

func TestRevKeyRoundTrip(t *testing.T) {
	for _, c := range []struct {
		r    Revision
		tomb bool
	}{{Revision{1, 0}, false}, {Revision{1 << 40, 7}, true}} {
		k := appendRevKey(nil, c.r, c.tomb)
		r, tomb, err := parseRevKey(k)
		if err != nil || r != c.r || tomb != c.tomb {
			t.Fatalf("round trip of %v tomb=%v: %v %v %v", c.r, c.tomb, r, tomb, err)
		}
	}
	if !bytes.Equal(appendRevKey(nil, Revision{2, 1}, false)[:9], []byte{0, 0, 0, 0, 0, 0, 0, 2, '_'}) {
		t.Fatalf("revision key layout is not etcd's")
	}
	for _, bad := range [][]byte{nil, []byte("short"), append(appendRevKey(nil, Revision{1, 1}, false), 'x')} {
		if _, _, err := parseRevKey(bad); err == nil {
			t.Fatalf("parseRevKey(%x) accepted a bad key", bad)
		}
	}
}
