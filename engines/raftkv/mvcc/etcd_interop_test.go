package mvcc

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// requireBinary finds a program; locally a missing one skips the test, under CI=true it
// fails it (CI installs etcd).
func requireBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found under CI=true: %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestEtcdRestoresOurSnapshot: a store snapshot is a file real etcd restores
// (`etcdctl snapshot restore`) and serves with the same keys, revisions, leases and
// compaction, because the store keeps etcd's bbolt layout.
func TestEtcdRestoresOurSnapshot(t *testing.T) {
	etcd := requireBinary(t, "etcd")
	etcdctl := requireBinary(t, "etcdctl")

	h := newHarness(t)
	if _, err := h.grant(0x1234, 600); err != nil {
		t.Fatal(err)
	}
	h.put("a", "1")
	h.put("a", "2")
	if _, err := h.putLease("leased", "v", 0x1234); err != nil {
		t.Fatal(err)
	}
	h.put("b", "x")
	h.del("b", "")
	if err := h.compact(3); err != nil {
		t.Fatal(err)
	}
	h.put("c", "z")
	if err := h.s.Commit(); err != nil {
		t.Fatal(err)
	}
	want, err := h.s.Range(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}})
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	snap := filepath.Join(dir, "snap.db")
	f, err := os.Create(snap)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.WriteSnapshot(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "etcd")
	restore := exec.Command(etcdctl, "snapshot", "restore", snap, "--data-dir", data, "--skip-hash-check")
	restore.Env = append(os.Environ(), "ETCDCTL_API=3")
	if out, err := restore.CombinedOutput(); err != nil {
		t.Fatalf("etcdctl snapshot restore: %v\n%s", err, out)
	}

	client := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	cmd := exec.Command(etcd, "--data-dir", data, "--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "default="+peer)
	log, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("etcd log:\n%s", b)
		}
	}()

	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{client}, DialTimeout: 20 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := cli.Get(ctx, "\x00", clientv3.WithFromKey())
	if err != nil {
		t.Fatalf("get from the restored etcd: %v", err)
	}
	if kvsString(got.Kvs) != kvsString(want.Kvs) || got.Header.Revision != want.Header.Revision {
		t.Fatalf("restored etcd has rev %d %s, want rev %d %s", got.Header.Revision, kvsString(got.Kvs), want.Header.Revision, kvsString(want.Kvs))
	}
	if _, err := cli.Get(ctx, "a", clientv3.WithRev(2)); err == nil || err.Error() != rpctypes.ErrCompacted.Error() {
		t.Fatalf("get at the compacted revision 2: %v, want %v", err, rpctypes.ErrCompacted)
	}
	old, err := cli.Get(ctx, "a", clientv3.WithRev(3))
	if err != nil || len(old.Kvs) != 1 || string(old.Kvs[0].Value) != "2" {
		t.Fatalf("get a at revision 3 = %v, %v", old, err)
	}
	leases, err := cli.Leases(ctx)
	if err != nil || len(leases.Leases) != 1 || leases.Leases[0].ID != 0x1234 {
		t.Fatalf("leases = %+v, %v; want lease 0x1234", leases, err)
	}
}
