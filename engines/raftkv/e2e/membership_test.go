package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEtcdctlMemberAddRemove grows the cluster with etcdctl member add,
// starts the new member with the settings etcdctl printed (as an etcd
// operator would), uses it, and removes it with etcdctl member remove.
func TestEtcdctlMemberAddRemove(t *testing.T) {
	needTools(t)
	t.Parallel()
	c := startCluster(t, "raftkv", raftkvBin, 3)
	eps := c.endpoints()
	ports := freePorts(t, 2)
	m4 := &member{
		name:      "m4",
		clientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		peerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		bin:       raftkvBin,
	}
	dir := t.TempDir()
	m4.dataDir, m4.logPath = filepath.Join(dir, "m4"), filepath.Join(dir, "m4.log")

	// etcdctl prints ids with %16x, so short ones are padded with spaces.
	out := ctl(t, eps, "", "member", "add", "m4", "--peer-urls="+m4.peerURL)
	addRe := regexp.MustCompile(`^Member +([0-9a-f]+) added to cluster +([0-9a-f]+)\n\nETCD_NAME="m4"\nETCD_INITIAL_CLUSTER="([^"]+)"\nETCD_INITIAL_ADVERTISE_PEER_URLS="([^"]+)"\nETCD_INITIAL_CLUSTER_STATE="existing"\n$`)
	m := addRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("member add output does not match etcd's:\n%s", out)
	}
	id, initial := m[1], m[3]
	if m[4] != m4.peerURL || strings.Count(initial, "=") != 4 || !strings.Contains(initial, "m4="+m4.peerURL) {
		t.Fatalf("member add: initial cluster %q, peer urls %q; want the 3 members and m4=%s", initial, m[4], m4.peerURL)
	}

	m4.args = []string{
		"--name", "m4", "--data-dir", m4.dataDir,
		"--listen-client-urls", m4.clientURL, "--advertise-client-urls", m4.clientURL,
		"--listen-peer-urls", m4.peerURL, "--initial-advertise-peer-urls", m4.peerURL,
		"--initial-cluster", initial, "--initial-cluster-state", "existing",
	}
	m4.start(t)
	t.Cleanup(func() {
		m4.stop()
		if t.Failed() {
			t.Logf("--- m4 log (tail) ---\n%s", tail(m4.logPath, 40))
		}
	})
	grown := &cluster{system: "raftkv", members: append(append([]*member(nil), c.members...), m4)}
	grown.waitReady(t)

	ep4 := strings.TrimPrefix(m4.clientURL, "http://")
	if got := ctl(t, ep4, "", "put", "via-m4", "hello"); got != "OK\n" {
		t.Fatalf("put via m4: %q", got)
	}
	if got := ctl(t, eps, "", "get", "via-m4"); got != "via-m4\nhello\n" {
		t.Fatalf("get via the first three: %q", got)
	}
	list := ctl(t, eps, "", "member", "list")
	if n := strings.Count(list, "\n"); n != 4 || !strings.Contains(list, id+", started, m4, "+m4.peerURL+", "+m4.clientURL+", false") {
		t.Fatalf("member list after add (%d lines):\n%s", n, list)
	}

	out = ctl(t, eps, "", "member", "remove", id)
	if !regexp.MustCompile(`^Member +` + id + ` removed from cluster +[0-9a-f]+\n$`).MatchString(out) {
		t.Fatalf("member remove output: %q", out)
	}
	list = ctl(t, eps, "", "member", "list")
	if strings.Count(list, "\n") != 3 || strings.Contains(list, id) {
		t.Fatalf("member list after remove:\n%s", list)
	}
	if got := ctl(t, eps, "", "put", "after-remove", "v"); got != "OK\n" {
		t.Fatalf("put after remove: %q", got)
	}
}
