package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// fillAndSnapshot writes n keys (k000..) and a leased key through c, saves
// a snapshot with etcdctl snapshot save from its first member and returns
// the snapshot's path.
func fillAndSnapshot(t *testing.T, c *cluster, n int) string {
	t.Helper()
	cli := c.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range n {
		if _, err := cli.Put(ctx, fmt.Sprintf("k%03d", i), fmt.Sprintf("%s-%d", c.system, i)); err != nil {
			t.Fatalf("put on %s: %v", c.system, err)
		}
	}
	lease, err := cli.Grant(ctx, 3600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "leased", c.system, clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), c.system+".db")
	first := strings.TrimPrefix(c.members[0].clientURL, "http://")
	if out := ctl(t, first, "", "snapshot", "save", path); out != "Snapshot saved at "+path+"\n" {
		t.Fatalf("snapshot save from %s: %q", c.system, out)
	}
	return path
}

// restoredCluster restores snap with etcdctl snapshot restore into the data
// dirs of a new 3-member cluster, as etcd's disaster-recovery guide does,
// and starts raftkv on them with etcd's flags.
func restoredCluster(t *testing.T, snap string) *cluster {
	t.Helper()
	ports := freePorts(t, 6)
	dir := t.TempDir()
	c := &cluster{system: "raftkv"}
	var initial []string
	for i := range 3 {
		m := &member{
			name:      fmt.Sprintf("r%d", i+1),
			clientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			peerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
			bin:       raftkvBin,
		}
		m.dataDir = filepath.Join(dir, m.name+".etcd")
		m.logPath = filepath.Join(dir, m.name+".log")
		initial = append(initial, m.name+"="+m.peerURL)
		c.members = append(c.members, m)
	}
	for _, m := range c.members {
		ctl(t, "127.0.0.1:1", "", "snapshot", "restore", snap, "--name", m.name,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-token", "restored",
			"--initial-advertise-peer-urls", m.peerURL, "--data-dir", m.dataDir)
		m.args = []string{
			"--name", m.name, "--data-dir", m.dataDir,
			"--listen-client-urls", m.clientURL, "--advertise-client-urls", m.clientURL,
			"--listen-peer-urls", m.peerURL, "--initial-advertise-peer-urls", m.peerURL,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-token", "restored",
		}
		m.start(t)
	}
	t.Cleanup(func() {
		for _, m := range c.members {
			m.stop()
			if t.Failed() {
				t.Logf("--- restored %s log (tail) ---\n%s", m.name, tail(m.logPath, 40))
			}
		}
	})
	c.waitReady(t)
	return c
}

// checkRestored reads every key back from every member of c, serializable
// (the member's own store) and linearizable.
func checkRestored(t *testing.T, c *cluster, system string, n int) {
	t.Helper()
	for _, m := range c.members {
		ep := strings.TrimPrefix(m.clientURL, "http://")
		for _, consistency := range []string{"s", "l"} {
			out := ctl(t, ep, "", "get", "k", "--prefix", "--consistency="+consistency, "--print-value-only")
			var want strings.Builder
			for i := range n {
				fmt.Fprintf(&want, "%s-%d\n", system, i)
			}
			if out != want.String() {
				t.Fatalf("restored %s on %s (--consistency=%s): got %d lines, want %d:\n%s",
					system, m.name, consistency, strings.Count(out, "\n"), n, lineDiff(want.String(), out))
			}
		}
		if got := ctl(t, ep, "", "get", "leased", "--print-value-only"); got != system+"\n" {
			t.Fatalf("restored %s on %s: leased key %q", system, m.name, got)
		}
	}
	if out := ctl(t, c.endpoints(), "", "lease", "list"); !strings.HasPrefix(out, "found 1 leases\n") {
		t.Fatalf("restored %s: lease list %q, want the lease of the snapshot", system, out)
	}
}

// TestEtcdctlSnapshotRestore: a snapshot taken with etcdctl snapshot save
// from a raftkv cluster, and one from a real etcd 3.4, are restored with
// etcdctl snapshot restore (etcd's data dir layout and WAL); a 3-member
// raftkv cluster starts from the restored dirs, serves every key on every
// member, takes writes, and keeps all of it across a restart.
func TestEtcdctlSnapshotRestore(t *testing.T) {
	needTools(t)
	t.Parallel()
	const n = 200
	et := startCluster(t, "etcd", etcdBin, 1)
	snaps := map[string]string{
		"raftkv": fillAndSnapshot(t, startCluster(t, "raftkv", raftkvBin, 3), n),
		"etcd":   fillAndSnapshot(t, et, n),
	}
	t.Run("refuses-a-running-etcd-data-dir", func(t *testing.T) {
		// A live etcd member's data dir (its log holds writes) is not a
		// restore output: raftkv refuses it and says what to do.
		m := et.members[0]
		m.stop()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, raftkvBin, setFlag(m.args, "--initial-cluster-token", "x")...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "etcdctl snapshot restore") {
			t.Fatalf("raftkv on a running etcd's data dir: err %v, output:\n%s", err, out)
		}
	})
	for _, system := range []string{"raftkv", "etcd"} {
		t.Run("from-"+system, func(t *testing.T) {
			c := restoredCluster(t, snaps[system])
			checkRestored(t, c, system, n)
			list := ctl(t, c.endpoints(), "", "member", "list")
			for _, m := range c.members {
				if !strings.Contains(list, ", started, "+m.name+", "+m.peerURL+", "+m.clientURL+", false") {
					t.Fatalf("member list of the restored cluster lacks %s:\n%s", m.name, list)
				}
			}
			if got := ctl(t, c.endpoints(), "", "put", "after", "restore"); got != "OK\n" {
				t.Fatalf("put on the restored cluster: %q", got)
			}
			for _, m := range c.members {
				m.stop()
			}
			for _, m := range c.members {
				m.start(t)
			}
			c.waitReady(t)
			checkRestored(t, c, system, n)
			if got := ctl(t, c.endpoints(), "", "get", "after", "--print-value-only"); got != "restore\n" {
				t.Fatalf("after a restart of the restored cluster: %q", got)
			}
		})
	}
}
