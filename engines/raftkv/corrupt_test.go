package raftkv

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/protobuf/proto"
)

// corruptStore rewrites the value of the newest revision in a stopped
// member's store file, as a bad disk would: the file stays readable.
func corruptStore(t *testing.T, dataDir string) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dataDir, "member", "snap", "db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("key"))
		k, v := b.Cursor().Last()
		var kv mvccpb.KeyValue
		if err := proto.Unmarshal(v, &kv); err != nil {
			return err
		}
		kv.Value = []byte("flipped")
		nv, err := proto.Marshal(&kv)
		if err != nil {
			return err
		}
		return b.Put(append([]byte(nil), k...), nv)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCorruptionCheck: a member whose store differs from its peers' at the
// same revision is refused at start with --experimental-initial-corrupt-check,
// and, started without it, is caught by the leader's periodic check
// (--experimental-corrupt-check-time): the CORRUPT alarm is raised and keys
// can be neither written nor read until it is disarmed.
func TestCorruptionCheck(t *testing.T) {
	c := newTestCluster(t, 3, func(c *Config) { c.CorruptCheckTime = 200 * time.Millisecond })
	lead := c.waitLeader()
	for i := range 20 {
		mustPut(t, c.servers[lead], "k"+string(rune('a'+i)), "v")
	}
	// Let every member apply the last write, then stop one and damage it.
	victim := (lead + 1) % 3
	deadline := time.Now().Add(10 * time.Second)
	for c.servers[victim].Store().Rev() != c.servers[lead].Store().Rev() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	c.stop(victim)
	corruptStore(t, c.cfgs[victim].DataDir)

	c.cfgs[victim].InitialCorruptCheck = true
	s, err := New(c.cfgs[victim])
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start()
	if err == nil || !strings.Contains(err.Error(), "found data inconsistency with peers") {
		if err == nil {
			s.Stop()
		}
		t.Fatalf("start of the damaged member with the initial check: %v, want data inconsistency", err)
	}

	// Without the initial check it starts; the leader's periodic check
	// raises CORRUPT.
	c.cfgs[victim].InitialCorruptCheck = false
	c.start(victim)
	lead = c.waitLeader()
	deadline = time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := put(ctx, c.servers[lead], "after", "v")
		cancel()
		if errors.Is(err, rpctypes.ErrGRPCCorrupt) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("put 15s after a damaged member joined: %v, want %v", err, rpctypes.ErrGRPCCorrupt)
		}
		time.Sleep(100 * time.Millisecond)
	}
	alarms := c.servers[lead].Store().Alarms()
	if len(alarms) != 1 || alarms[0].Alarm != pb.AlarmType_CORRUPT {
		t.Fatalf("alarms %v, want one CORRUPT", alarms)
	}
}
