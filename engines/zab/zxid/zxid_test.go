package zxid_test

import (
	"math"
	"testing"

	"coordlab/engines/zab"
	"coordlab/engines/zab/znode"
	"coordlab/engines/zab/zxid"
)

func TestZxid(t *testing.T) {
	z := zxid.Make(1, 3)
	if uint64(z) != 0x100000003 || z.Epoch() != 1 || z.Counter() != 3 {
		t.Fatalf("Make(1, 3) = %#x (epoch %d, counter %d)", uint64(z), z.Epoch(), z.Counter())
	}
	if z.String() != "1:3" || z.Hex() != "0x100000003" {
		t.Fatalf("String %q, Hex %q; want 1:3 and 0x100000003", z.String(), z.Hex())
	}
	// The jute boundary: every value round-trips through int64.
	for _, v := range []zxid.Zxid{0, z, zxid.Make(math.MaxUint32, math.MaxUint32), zxid.Make(0x80000000, 0)} {
		if zxid.Zxid(int64(v)) != v {
			t.Fatalf("%s does not round-trip through int64", v)
		}
	}
}

// The core, the tree and this package share one type: these assignments
// compile only if zab.Zxid and znode.Zxid are zxid.Zxid.
func TestOneType(t *testing.T) {
	var core zab.Zxid = zab.MakeZxid(2, 1)
	var tree znode.Zxid = core
	var leaf zxid.Zxid = tree
	if leaf != zxid.Make(2, 1) {
		t.Fatalf("got %s", leaf)
	}
}
