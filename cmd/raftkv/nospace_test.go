package main

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

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func isNoSpace(err error) bool {
	return err != nil && (errors.Is(err, rpctypes.ErrNoSpace) || strings.Contains(err.Error(), "database space exceeded"))
}

// etcdctl runs etcdctl against ep and returns its combined output and error.
func etcdctl(t *testing.T, ep string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("etcdctl", append([]string{"--endpoints", ep, "--command-timeout", "10s"}, args...)...)
	cmd.Env = append(os.Environ(), "ETCDCTL_API=3")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// --quota-backend-bytes works as etcd's: over quota a put is refused with
// "database space exceeded" and the NOSPACE alarm is listed and disarmed
// through etcdctl, and shown by endpoint status.
func TestQuotaBackendBytesProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	m := startSingle(t, "--quota-backend-bytes", fmt.Sprint(512<<10))
	cli := newClient(t, m.client)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	val := strings.Repeat("x", 16<<10)
	// The store's size is known at each backend commit (once a second by
	// default, as etcd's is per batch interval), so a burst can overshoot.
	var err error
	n := 0
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); n++ {
		if _, err = cli.Put(ctx, fmt.Sprintf("k%05d", n), val); err != nil {
			break
		}
	}
	if !isNoSpace(err) || n == 0 {
		t.Fatalf("after %d puts of 16 KiB under a 512 KiB quota: err %v, want database space exceeded", n, err)
	}
	resp, err := cli.Get(ctx, "k", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || resp.Count != int64(n) {
		t.Fatalf("get under NOSPACE: %v %v, want %d keys", resp, err, n)
	}
	if _, err := exec.LookPath("etcdctl"); err != nil {
		t.Skip("etcdctl not installed: the etcdctl part is skipped")
	}
	out, err := etcdctl(t, m.client, "put", "one-more", "v")
	if err == nil || !strings.Contains(out, "database space exceeded") {
		t.Fatalf("etcdctl put under NOSPACE: err %v, output %q", err, out)
	}
	out, err = etcdctl(t, m.client, "alarm", "list")
	if err != nil || !strings.Contains(out, "alarm:NOSPACE") {
		t.Fatalf("etcdctl alarm list: err %v, output %q", err, out)
	}
	out, err = etcdctl(t, m.client, "endpoint", "status", "-w", "table")
	if err != nil || !strings.Contains(out, "alarm:NOSPACE") {
		t.Fatalf("etcdctl endpoint status: err %v, output %q, want the alarm in ERRORS", err, out)
	}
	// Make room, disarm: writes work.
	if out, err := etcdctl(t, m.client, "del", "k", "--prefix"); err != nil {
		t.Fatalf("etcdctl del under NOSPACE: %v %s", err, out)
	}
	st, err := cli.Status(ctx, m.client)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := etcdctl(t, m.client, "compact", fmt.Sprint(st.Header.Revision), "--physical"); err != nil {
		t.Fatalf("etcdctl compact: %v %s", err, out)
	}
	// The freed room shows in dbSizeInUse after the next backend commit.
	for deadline := time.Now().Add(15 * time.Second); ; {
		st, err := cli.Status(ctx, m.client)
		if err == nil && st.DbSizeInUse < 256<<10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %v (err %v): dbSizeInUse not below 256 KiB 15s after deleting and compacting everything", st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := etcdctl(t, m.client, "alarm", "disarm"); err != nil || !strings.Contains(out, "alarm:NOSPACE") {
		t.Fatalf("etcdctl alarm disarm: %v %s", err, out)
	}
	if out, err := etcdctl(t, m.client, "alarm", "list"); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("etcdctl alarm list after disarm: %v %q, want nothing", err, out)
	}
	if out, err := etcdctl(t, m.client, "put", "after", "v"); err != nil {
		t.Fatalf("etcdctl put after disarm: %v %s", err, out)
	}
}

// The WAL's file system fills up: the process stays up, refuses writes
// with NOSPACE, serves serializable reads, and after space is freed and it
// is restarted every acknowledged write is there.
func TestWALDiskFullProcessStaysUp(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("mounting a tmpfs needs root")
		}
		t.Skip("mounting a tmpfs needs root")
	}
	dataDir := filepath.Join(t.TempDir(), "full")
	walDir := filepath.Join(dataDir, "member", "wal")
	if err := os.MkdirAll(walDir, 0o700); err != nil {
		t.Fatal(err)
	}
	// One 64 MiB segment fits, the next does not.
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=80m", "tmpfs", walDir).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", walDir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v %s", err, out)
		}
	})
	m := startSingle(t, "--data-dir", dataDir)
	cli := newClient(t, m.client)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	val := strings.Repeat("x", 1<<20)
	var acked []string
	var err error
	for i := 0; i < 200; i++ {
		k := fmt.Sprintf("k%04d", i)
		if _, err = cli.Put(ctx, k, val); err != nil {
			break
		}
		acked = append(acked, k)
	}
	if err == nil {
		t.Fatalf("%d puts of 1 MiB into an 80 MiB WAL file system all succeeded", len(acked))
	}
	if _, err := cli.Put(ctx, "after", "v"); !isNoSpace(err) {
		t.Fatalf("put after the WAL filled up: err %v, want database space exceeded", err)
	}
	select {
	case <-m.proc.Done():
		t.Fatalf("raftkv exited (%d) when its WAL filled up", m.proc.ExitCode())
	default:
	}
	resp, err := cli.Get(ctx, "k", clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithSerializable())
	if err != nil {
		t.Fatalf("serializable get with the WAL full: %v", err)
	}
	if len(resp.Kvs) < len(acked) {
		t.Fatalf("serializable get with the WAL full: %d keys, want at least the %d acknowledged", len(resp.Kvs), len(acked))
	}
	if !strings.Contains(m.proc.Output(), "restart this member") {
		t.Errorf("stderr does not say what to do:\n%s", m.proc.Output())
	}

	m.kill()
	if out, err := exec.Command("mount", "-o", "remount,size=256m", walDir).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v %s", err, out)
	}
	m.start(t)
	want := map[string]bool{}
	for _, k := range acked {
		want[k] = true
	}
	waitAllPresent(t, m.client, "k", want)
}
