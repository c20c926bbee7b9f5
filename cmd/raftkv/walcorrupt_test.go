package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// walRecordOffsets walks the records of a WAL segment (uint32 length, then
// CRC, type and payload) up to the preallocated zeros.
func walRecordOffsets(t *testing.T, b []byte) []int {
	t.Helper()
	var offs []int
	for off := 0; off+9 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		if n == 0 {
			break
		}
		offs = append(offs, off)
		off += 8 + n
	}
	return offs
}

// A bit flipped in a record's length field mid-log used to make replay take
// it for a torn tail and drop every acknowledged write after it; the member
// then served fewer keys (or, in a cluster, panicked). It must refuse to
// start and say how to recover.
func TestCorruptWALLengthRefusesToStart(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	m := startSingle(t)
	cli := newClient(t, m.client)
	const n = 300
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := cli.Put(ctx, fmt.Sprintf("k%04d", i), "v")
		cancel()
		if err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	// SIGKILL: the store may not hold the last batch; the WAL does.
	m.kill()

	var dataDir string
	for i, a := range m.args {
		if a == "--data-dir" {
			dataDir = m.args[i+1]
		}
	}
	segs, err := filepath.Glob(filepath.Join(dataDir, "member", "wal", "*.wal"))
	if err != nil || len(segs) != 1 {
		t.Fatalf("WAL segments %v (%v), want one", segs, err)
	}
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	offs := walRecordOffsets(t, b)
	if len(offs) < 100 {
		t.Fatalf("only %d WAL records for %d acknowledged puts", len(offs), n)
	}
	mid := offs[len(offs)/2]
	b[mid+2] ^= 0x10 // the length's third byte: +1 MiB, past every record
	if err := os.WriteFile(segs[0], b, 0o600); err != nil {
		t.Fatal(err)
	}

	m.start(t)
	select {
	case <-m.proc.Done():
	case <-time.After(30 * time.Second):
		cli2 := newClient(t, m.client)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := cli2.Get(ctx, "k", clientv3.WithPrefix(), clientv3.WithCountOnly())
		cancel()
		count := int64(-1)
		if err == nil {
			count = resp.Count
		}
		t.Fatalf("raftkv started from a WAL with a corrupt length mid-log (serving %d of %d acknowledged keys); want it to refuse", count, n)
	}
	if m.proc.ExitCode() == 0 {
		t.Fatalf("raftkv exited 0 on a corrupt WAL")
	}
	out := strings.TrimSpace(m.proc.Output())
	for _, want := range []string{"corrupt record", segs[0], fmt.Sprintf("offset %d", mid), "etcdctl member remove", "etcdctl member add", "--initial-cluster-state existing"} {
		if !strings.Contains(out, want) {
			t.Errorf("stderr does not name %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "\n") != 0 {
		t.Errorf("stderr has %d lines, want the error on one line:\n%s", strings.Count(out, "\n")+1, out)
	}
}
