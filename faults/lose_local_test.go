package faults

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"coordlab/cluster"
	"coordlab/cluster/local"
	"coordlab/lazyfs"
	"coordlab/proctest"
)

// TestMain makes the test binary the acker when a test runs it as one.
func TestMain(m *testing.M) {
	proctest.MaybeAcker()
	os.Exit(m.Run())
}

// ackerTarget runs the acker (proctest) as a one-member "cluster": it
// appends records to log in its data directory and acknowledges each on
// stdout, with or without fsync.
type ackerTarget struct{ fsync bool }

func (ackerTarget) Name() string               { return "acker" }
func (ackerTarget) Protocol() cluster.Protocol { return cluster.ProtocolEtcd }
func (ackerTarget) Check() error               { return nil }
func (ackerTarget) ServesAdmin() bool          { return false }
func (a ackerTarget) Command(m cluster.Member, _ []cluster.Member) (cluster.Command, error) {
	if err := os.MkdirAll(m.DataDir(), 0o700); err != nil {
		return cluster.Command{}, err
	}
	return cluster.Command{Path: os.Args[0], Args: []string{"-test.run=^$"},
		Env: proctest.AckerCommand(filepath.Join(m.DataDir(), "log"), a.fsync)}, nil
}

// Probe: the acker serves from its start.
func (ackerTarget) Probe(context.Context, cluster.Member) (cluster.Role, error) {
	return cluster.RoleLeader, nil
}

// faultOnAcker starts the acker in the local runtime with lazyfs data
// directories, lets it acknowledge 50 records, applies f, and returns how
// many acknowledged records the member's log lacks afterwards.
func faultOnAcker(t *testing.T, f Fault, fsync bool) (lost, acked int) {
	t.Helper()
	ctx := context.Background()
	r, err := local.New(local.Config{Dir: t.TempDir(), Mode: local.ModeLoopback, LazyFS: true})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := r.Start(ctx, ackerTarget{fsync: fsync}, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
		if mounted, _ := lazyfs.Mounted(); len(mounted) > 0 {
			for _, mp := range mounted {
				if mp == ms[0].DataDir() {
					t.Errorf("%s still mounted after Stop", mp)
				}
			}
		}
	})
	m := ms[0]
	output := func() string { b, _ := os.ReadFile(m.LogPath()); return string(b) }
	deadline := time.Now().Add(30 * time.Second)
	for len(proctest.AckerAcks(output())) < 50 {
		if time.Now().After(deadline) {
			t.Fatalf("the acker acknowledged fewer than 50 records in 30 s:\n%s", output())
		}
		time.Sleep(10 * time.Millisecond)
	}
	undo, err := f.Start(ctx, Env{Runtime: r, Target: "acker", Nodes: []string{m.Name}, On: []string{m.Name}})
	if err != nil {
		t.Fatal(err)
	}
	acks := proctest.AckerAcks(output()) // the member is down: its acks are final
	lost = proctest.AckerLost(acks, proctest.AckerRecords(filepath.Join(m.DataDir(), "log")))
	if err := undo(ctx); err != nil {
		t.Fatal(err)
	}
	return lost, len(acks)
}

// TestLoseUnsyncedCatchesAMissingFsync: through the fault and the local
// runtime, a program that acknowledges before fsync loses acknowledged
// records, which a kill alone never shows; with fsync it loses none.
func TestLoseUnsyncedCatchesAMissingFsync(t *testing.T) {
	proctest.Need(t, lazyfs.Unavailable() == "", "root and /dev/fuse")
	on := On{Targets: []string{"n1"}}
	t.Run("kill without fsync", func(t *testing.T) {
		if lost, acked := faultOnAcker(t, Kill{on}, false); lost != 0 {
			t.Errorf("a kill lost %d of %d acknowledged records: the page cache should keep them", lost, acked)
		}
	})
	t.Run("lose-unsynced without fsync", func(t *testing.T) {
		if lost, acked := faultOnAcker(t, LoseUnsynced{on}, false); lost == 0 {
			t.Errorf("lose-unsynced lost none of %d acknowledged, unsynced records: it did not catch the missing fsync", acked)
		}
	})
	t.Run("lose-unsynced with fsync", func(t *testing.T) {
		if lost, acked := faultOnAcker(t, LoseUnsynced{on}, true); lost != 0 {
			t.Errorf("lose-unsynced lost %d of %d acknowledged, fsynced records", lost, acked)
		}
	})
}
