package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// leaseKeepAliveSession grants a 2 s lease, keeps it alive with a streaming
// "etcdctl lease keep-alive" for several renewals (longer than the TTL),
// checks its key is still there, then stops renewing and waits for the
// expiry as a DELETE on "etcdctl watch". Returns the normalised transcript.
func leaseKeepAliveSession(t *testing.T, endpoints string) string {
	t.Helper()
	var tr strings.Builder
	grant := ctl(t, endpoints, "", "lease", "grant", "2")
	var id string
	if _, err := fmt.Sscanf(grant, "lease %s granted", &id); err != nil {
		t.Fatalf("lease grant output %q: %v", grant, err)
	}
	fmt.Fprintf(&tr, "$ etcdctl lease grant 2\n%s", grant)
	fmt.Fprintf(&tr, "$ etcdctl put --lease=ID eph v\n%s", ctl(t, endpoints, "", "put", "--lease="+id, "eph", "v"))
	// clientv3 renews every TTL/3; four renewals span more than the TTL.
	fmt.Fprintf(&tr, "$ etcdctl lease keep-alive ID (4 lines)\n%s", runLines(t, endpoints, 4, "lease", "keep-alive", id))
	fmt.Fprintf(&tr, "$ etcdctl get eph\n%s", ctl(t, endpoints, "", "get", "eph"))
	// No more renewals: the lease expires and takes eph with it.
	fmt.Fprintf(&tr, "$ etcdctl watch eph --rev=2 (until the delete)\n%s", runLines(t, endpoints, 5, "watch", "eph", "--rev=2"))
	fmt.Fprintf(&tr, "$ etcdctl get eph\n%s", ctl(t, endpoints, "", "get", "eph"))
	return strings.ReplaceAll(tr.String(), id, "ID")
}

// TestEtcdctlLeaseKeepAlive runs the keep-alive and expiry session on
// raftkv and on a real etcd and requires identical transcripts.
func TestEtcdctlLeaseKeepAlive(t *testing.T) {
	needTools(t)
	t.Parallel()
	rk := startCluster(t, "raftkv", raftkvBin, 3)
	et := startCluster(t, "etcd", etcdBin, 1)
	want := leaseKeepAliveSession(t, et.endpoints())
	got := leaseKeepAliveSession(t, rk.endpoints())
	if got != want {
		t.Fatalf("raftkv transcript differs from etcd's:\n%s", lineDiff(want, got))
	}
	t.Logf("transcript (identical on both):\n%s", got)
}
