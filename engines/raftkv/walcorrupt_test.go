package raftkv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"coordlab/engines/raftkv/wal"
)

// A member whose WAL has a corrupt length mid-log refuses to start (it used
// to zero the rest of its log and panic with "tocommit out of range"), and
// the recovery its error names works: remove it, wipe its data dir, add it
// back and start it with --initial-cluster-state existing; it catches up with
// every acknowledged write.
func TestCorruptWALMemberRecoversByReAdd(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	lead := c.waitLeader()
	victim := (lead + 1) % 3
	const n = 200
	for i := range n {
		mustPut(t, c.servers[lead], fmt.Sprintf("k%04d", i), "v")
	}
	// Every member has logged every put before the victim is stopped.
	waitFor(t, "victim applied every put", func() bool {
		return c.servers[victim].AppliedIndex() >= c.servers[lead].AppliedIndex()
	})
	oldID := c.servers[victim].ID()
	c.stop(victim)

	segs, err := filepath.Glob(filepath.Join(c.cfgs[victim].DataDir, "member", "wal", "*.wal"))
	if err != nil || len(segs) != 1 {
		t.Fatalf("segments %v (%v)", segs, err)
	}
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	var offs []int
	for off := 0; off+9 <= len(b); {
		l := int(binary.LittleEndian.Uint32(b[off:]))
		if l == 0 {
			break
		}
		offs = append(offs, off)
		off += 8 + l
	}
	mid := offs[len(offs)/2]
	binary.LittleEndian.PutUint32(b[mid:], 0) // a length lost mid-log
	if err := os.WriteFile(segs[0], b, 0o600); err != nil {
		t.Fatal(err)
	}

	_, err = New(c.cfgs[victim])
	if !errors.Is(err, wal.ErrCorrupt) {
		t.Fatalf("New on a WAL with a zeroed length mid-log: %v, want wal.ErrCorrupt", err)
	}
	for _, want := range []string{fmt.Sprintf("etcdctl member remove %x", oldID), c.cfgs[victim].DataDir, "etcdctl member add " + c.cfgs[victim].Name, "--initial-cluster-state existing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}

	// The recovery the error names.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.servers[lead].RemoveMember(ctx, oldID); err != nil {
		t.Fatalf("member remove: %v", err)
	}
	if err := os.RemoveAll(c.cfgs[victim].DataDir); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.servers[lead].AddMember(ctx, c.cfgs[victim].PeerURLs, false); err != nil {
		t.Fatalf("member add: %v", err)
	}
	c.cfgs[victim].ClusterState = ClusterStateExisting
	c.start(victim)
	for i := range n {
		mustGet(t, c.servers[victim], fmt.Sprintf("k%04d", i), "v")
	}
	mustPut(t, c.servers[victim], "after", "recovery")
}
