package raftkv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// mountTmpfs mounts a tmpfs of size (mount's syntax, e.g. "2m") at dir and
// unmounts it at cleanup. It needs root: the test skips without it, and
// fails under CI=true.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("mounting a tmpfs needs root")
		}
		t.Skip("mounting a tmpfs needs root")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs at %s: %v: %s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

func resizeTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,size="+size, dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s with size %s: %v: %s", dir, size, err, out)
	}
}

// The store's file system fills up: the member must not die. Its store
// commit fails, the NOSPACE alarm is raised, writes are refused with etcd's
// error while reads serve every acknowledged write; once space is freed and
// the alarm disarmed, writes work again, and after a restart nothing
// acknowledged is missing.
func TestStoreDiskFull(t *testing.T) {
	var snapDir string
	c := newTestCluster(t, 1, func(cfg *Config) {
		snapDir = filepath.Join(cfg.DataDir, "member", "snap")
		mountTmpfs(t, snapDir, "1m")
	})
	s := c.servers[0]
	c.waitLeader()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	acked, err := putUntilError(ctx, s)
	if !isNoSpace(err) {
		t.Fatalf("after %d puts of 8 KiB on a 1 MiB file system: err %v, want NOSPACE", len(acked), err)
	}
	select {
	case <-s.Done():
		t.Fatalf("the member stopped: %v", s.Err())
	default:
	}
	if a := s.Alarms(); len(a) != 1 || a[0].Alarm != pb.AlarmType_NOSPACE || a[0].MemberID != s.ID() {
		t.Fatalf("alarms %v, want this member's NOSPACE", a)
	}
	countKeys := func(when string) {
		t.Helper()
		if err := s.LinearizableRead(ctx); err != nil {
			t.Fatalf("%s: linearizable read: %v", when, err)
		}
		resp, err := s.Store().Range(&pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l"), CountOnly: true})
		if err != nil || resp.Count != int64(len(acked)) {
			t.Fatalf("%s: %v keys (err %v), want the %d acknowledged", when, resp.GetCount(), err, len(acked))
		}
	}
	countKeys("disk full")
	if _, err := put(ctx, s, "small", "x"); !isNoSpace(err) {
		t.Fatalf("small put on a full disk: err %v, want NOSPACE", err)
	}

	// Free space, disarm: writes work and are committed.
	resizeTmpfs(t, snapDir, "64m")
	if _, err := s.Alarm(ctx, &pb.AlarmRequest{Action: pb.AlarmRequest_DEACTIVATE, MemberID: s.ID(), Alarm: pb.AlarmType_NOSPACE}); err != nil {
		t.Fatalf("disarm: %v", err)
	}
	for i := 0; i < 20; i++ {
		k := fmt.Sprintf("k%04d", len(acked)+i)
		if _, err := put(ctx, s, k, strings.Repeat("v", 8<<10)); err != nil {
			t.Fatalf("put after freeing space and disarming: %v", err)
		}
		acked = append(acked, k)
	}
	countKeys("after disarm")

	// Restart: every acknowledged key is there.
	c.stop(0)
	c.start(0)
	s = c.servers[0]
	c.waitLeader()
	countKeys("after restart")
	if len(s.Alarms()) != 0 {
		t.Fatalf("alarms after restart %v, want none", s.Alarms())
	}
}

// The WAL's file system fills up: the member is fenced, not killed. The write
// that could not be logged is not acknowledged, later writes answer NOSPACE,
// serializable reads still serve every acknowledged write, and a restart
// after space is freed loses nothing acknowledged.
func TestWALDiskFull(t *testing.T) {
	var walDir string
	c := newTestCluster(t, 1, func(cfg *Config) {
		cfg.WALSegmentBytes = 256 << 10
		walDir = filepath.Join(cfg.DataDir, "member", "wal")
		mountTmpfs(t, walDir, "1m")
	})
	s := c.servers[0]
	c.waitLeader()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	acked, err := putUntilError(ctx, s)
	if err == nil {
		t.Fatalf("%d puts of 8 KiB into a 1 MiB WAL file system all succeeded", len(acked))
	}
	// The put in flight when the WAL failed may have been logged: its
	// answer is "server stopped", indeterminate. Every later one is refused.
	if _, err := put(ctx, s, "after", "x"); !isNoSpace(err) {
		t.Fatalf("put after the WAL filled up: err %v, want NOSPACE", err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("the raft loop still runs after the WAL failed")
	}
	if !errors.Is(s.Err(), ErrWALFailed) || !isNoSpaceErr(s.Err()) {
		t.Fatalf("loop exit error %v, want ErrWALFailed wrapping ENOSPC", s.Err())
	}
	if st := s.Status(); len(st.Errors) != 1 || !strings.Contains(st.Errors[0], "no space left on device") {
		t.Fatalf("Status errors %v, want the WAL failure", st.Errors)
	}
	present := func(when string, st interface {
		Range(*pb.RangeRequest) (*pb.RangeResponse, error)
	}) {
		t.Helper()
		resp, err := st.Range(&pb.RangeRequest{Key: []byte("k"), RangeEnd: []byte("l"), KeysOnly: true})
		if err != nil {
			t.Fatalf("%s: serializable read: %v", when, err)
		}
		have := map[string]bool{}
		for _, kv := range resp.Kvs {
			have[string(kv.Key)] = true
		}
		for _, k := range acked {
			if !have[k] {
				t.Fatalf("%s: acknowledged key %s missing (%d keys served, %d acknowledged)", when, k, len(resp.Kvs), len(acked))
			}
		}
	}
	present("WAL full", s.Store())

	resizeTmpfs(t, walDir, "64m")
	c.stop(0)
	c.start(0)
	s = c.servers[0]
	c.waitLeader()
	if err := s.LinearizableRead(ctx); err != nil {
		t.Fatal(err)
	}
	present("after restart", s.Store())
	if _, err := put(ctx, s, "after", "x"); err != nil {
		t.Fatalf("put after freeing space and restarting: %v", err)
	}
}

// putUntilError puts 8 KiB values under k0000, k0001, ... (at most 2000)
// until a put fails, and returns the keys acknowledged and that error.
func putUntilError(ctx context.Context, s *Server) ([]string, error) {
	val := strings.Repeat("v", 8<<10)
	var acked []string
	for i := 0; i < 2000; i++ {
		k := fmt.Sprintf("k%04d", i)
		if _, err := put(ctx, s, k, val); err != nil {
			return acked, err
		}
		acked = append(acked, k)
	}
	return acked, nil
}
