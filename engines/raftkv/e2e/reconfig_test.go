package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	// An id with its padding: etcdctl prints ids with %16x.
	hexIDRe = regexp.MustCompile(` *\b[0-9a-f]{12,16}\b`)
	addrRe  = regexp.MustCompile(`127\.0\.0\.1:\d+`)
)

// normalize replaces member and cluster ids and loopback ports, which
// differ between any two clusters.
func normalize(s string) string {
	return addrRe.ReplaceAllString(hexIDRe.ReplaceAllStringFunc(s, func(id string) string {
		if strings.HasPrefix(id, " ") {
			return " <id>"
		}
		return "<id>"
	}), "<addr>")
}

// sortedLines normalizes and sorts the lines of a member list (sorted by
// id, which differs between clusters).
func sortedLines(s string) string {
	ls := strings.Split(strings.TrimRight(normalize(s), "\n"), "\n")
	slices.Sort(ls)
	return strings.Join(ls, "\n") + "\n"
}

// memberIDs maps member names to ids from etcdctl member list.
func memberIDs(t *testing.T, eps string) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(ctl(t, eps, "", "member", "list")), "\n") {
		f := strings.Split(l, ", ")
		if len(f) == 6 {
			ids[f[2]] = f[0]
		}
	}
	return ids
}

// newMember returns a member of c's system on fresh ports, not started.
func newMember(t *testing.T, c *cluster, name string) *member {
	t.Helper()
	ports := freePorts(t, 2)
	dir := t.TempDir()
	m := &member{
		name:      name,
		clientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		peerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		bin:       c.members[0].bin,
		dataDir:   filepath.Join(dir, name),
		logPath:   filepath.Join(dir, name+".log"),
	}
	t.Cleanup(func() {
		m.stop()
		if _, err := os.Stat(m.logPath); err == nil && t.Failed() {
			t.Logf("--- %s %s log (tail) ---\n%s", c.system, name, tail(m.logPath, 40))
		}
	})
	return m
}

// joinArgs are the flags of a member joining with what etcdctl member add
// printed.
func joinArgs(m *member, initialCluster string) []string {
	return []string{
		"--name", m.name, "--data-dir", m.dataDir,
		"--listen-client-urls", m.clientURL, "--advertise-client-urls", m.clientURL,
		"--listen-peer-urls", m.peerURL, "--initial-advertise-peer-urls", m.peerURL,
		"--initial-cluster", initialCluster, "--initial-cluster-state", "existing",
	}
}

var initialClusterRe = regexp.MustCompile(`ETCD_INITIAL_CLUSTER="([^"]+)"`)

// learnerSession adds a learner to c, is refused what etcd 3.4 refuses,
// starts the learner, writes n keys, and promotes it; it returns the
// transcript with ids and ports normalized.
func learnerSession(t *testing.T, c *cluster, n int) string {
	t.Helper()
	eps := c.endpoints()
	var tr strings.Builder
	record := func(args []string, out string) {
		fmt.Fprintf(&tr, "$ etcdctl %s\n%s", normalize(strings.Join(args, " ")), out)
	}
	step := func(args ...string) string {
		out := ctl(t, eps, "", args...)
		record(args, normalize(out))
		return out
	}
	fail := func(ep string, args ...string) {
		record(args, ctlFail(t, ep, "", args...))
	}
	ids := memberIDs(t, eps)
	l := newMember(t, c, "l1")
	other := newMember(t, c, "l2")

	// etcd refuses reconfiguration ("unhealthy cluster") until its leader
	// has been connected to every peer for 5 s; raftkv has no such check.
	add := []string{"member", "add", "l1", "--learner", "--peer-urls=" + l.peerURL}
	var out string
	waitUntil(t, "member add --learner to be accepted", func() bool {
		var err error
		out, err = ctlTry(eps, add...)
		if err != nil && !strings.Contains(err.Error(), "unhealthy cluster") {
			t.Fatal(err)
		}
		return err == nil
	})
	// etcdctl prints ETCD_INITIAL_CLUSTER in member id order.
	record(add, initialClusterRe.ReplaceAllStringFunc(normalize(out), func(s string) string {
		entries := strings.Split(strings.TrimSuffix(strings.TrimPrefix(s, `ETCD_INITIAL_CLUSTER="`), `"`), ",")
		slices.Sort(entries)
		return `ETCD_INITIAL_CLUSTER="` + strings.Join(entries, ",") + `"`
	}))
	m := initialClusterRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("member add --learner printed no ETCD_INITIAL_CLUSTER:\n%s", out)
	}
	lid := memberIDs(t, eps)["l1"]
	if lid == "" {
		// Not started yet: no name in the list; the id is on the first line.
		lid = strings.Fields(out)[1]
	}
	fail(eps, "member", "add", "l2", "--learner", "--peer-urls="+other.peerURL)
	fail(eps, "member", "promote", lid)
	fail(eps, "member", "promote", ids["m1"])
	fail(eps, "member", "promote", "1234")
	list := ctl(t, eps, "", "member", "list")
	fmt.Fprintf(&tr, "$ etcdctl member list (sorted)\n%s", sortedLines(list))

	l.args = joinArgs(l, m[1])
	l.start(t)
	lep := strings.TrimPrefix(l.clientURL, "http://")
	cli := c.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range n {
		if _, err := cli.Put(ctx, fmt.Sprintf("k%04d", i), fmt.Sprint(i)); err != nil {
			t.Fatalf("put k%04d: %v", i, err)
		}
	}
	last := fmt.Sprintf("k%04d", n-1)
	waitUntil(t, "the learner to replicate every key", func() bool {
		out, err := ctlTry(lep, "get", last, "--consistency=s", "--print-value-only")
		return err == nil && out == fmt.Sprintf("%d\n", n-1)
	})
	st, err := cli.Status(ctx, lep)
	if err != nil || !st.IsLearner {
		t.Fatalf("learner's status: %v, %v; want IsLearner", st, err)
	}
	fail(lep, "get", last)
	step2 := func(ep string, args ...string) {
		record(args, normalize(ctl(t, ep, "", args...)))
	}
	step2(lep, "get", last, "--consistency=s")
	fail(lep, "put", "x", "y")
	fail(lep, "member", "list")
	fail(lep, "lease", "grant", "10")
	fail(lep, "compaction", "1")
	fmt.Fprintf(&tr, "$ etcdctl member list (sorted)\n%s", sortedLines(ctl(t, eps, "", "member", "list")))

	step("member", "promote", lid)
	fmt.Fprintf(&tr, "$ etcdctl member list (sorted)\n%s", sortedLines(ctl(t, eps, "", "member", "list")))
	waitUntil(t, "the promoted member to serve linearizable reads", func() bool {
		_, err := ctlTry(lep, "get", last)
		return err == nil
	})
	step2(lep, "get", last)
	fail(eps, "member", "promote", lid)

	// member update: the refusals, then a change of the learner's URL.
	fail(eps, "member", "update", lid, "--peer-urls="+c.members[0].peerURL)
	fail(eps, "member", "update", "1234", "--peer-urls="+other.peerURL)
	step("member", "update", lid, "--peer-urls="+other.peerURL)
	fmt.Fprintf(&tr, "$ etcdctl member list (sorted)\n%s", sortedLines(ctl(t, eps, "", "member", "list")))
	return tr.String()
}

// waitUntil polls cond every 100 ms for 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 30s waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEtcdctlLearner runs the same learner session with etcdctl against a
// 3-member raftkv cluster and a 3-member etcd 3.4 cluster: add --learner,
// the refusals (a second learner, promotion of a learner that has not
// started, of a voter, of an unknown id), the learner replicating 1000 keys
// and refusing linearizable reads, writes and member list while serving
// --consistency=s, the promotion, and member update; the transcripts, ids
// and ports normalized, must be identical.
func TestEtcdctlLearner(t *testing.T) {
	needTools(t)
	t.Parallel()
	rk := startCluster(t, "raftkv", raftkvBin, 3)
	et := startCluster(t, "etcd", etcdBin, 3)
	want := learnerSession(t, et, 1000)
	got := learnerSession(t, rk, 1000)
	if got != want {
		t.Fatalf("raftkv transcript differs from etcd's:\n%s", lineDiff(want, got))
	}
	t.Logf("transcript (identical on both):\n%s", got)
}

// ctlTry runs etcdctl against endpoints and returns its stdout, or an error
// with its stderr, without failing the test (for polling).
func ctlTry(endpoints string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, etcdctlBin, append([]string{"--endpoints=" + endpoints, "--command-timeout=5s"}, args...)...)
	cmd.Env = append(os.Environ(), "ETCDCTL_API=3")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("etcdctl %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// setFlag replaces the value of flag in args.
func setFlag(args []string, flag, value string) []string {
	out := slices.Clone(args)
	for i := range out[:len(out)-1] {
		if out[i] == flag {
			out[i+1] = value
		}
	}
	return out
}

// TestEtcdctlMemberUpdateRestart moves every member of a raftkv cluster to
// a new peer URL with etcdctl member update, then restarts every member on
// its new URL, with its start script's --initial-cluster unchanged (ignored
// on a restart, as etcd does): the cluster elects a leader over the new
// URLs, keeps its data and lists the new URLs.
func TestEtcdctlMemberUpdateRestart(t *testing.T) {
	needTools(t)
	t.Parallel()
	c := startCluster(t, "raftkv", raftkvBin, 3)
	eps := c.endpoints()
	ctl(t, eps, "", "put", "before", "update")
	ids := memberIDs(t, eps)
	ports := freePorts(t, len(c.members))
	for i, m := range c.members {
		newURL := fmt.Sprintf("http://127.0.0.1:%d", ports[i])
		out := ctl(t, eps, "", "member", "update", ids[m.name], "--peer-urls="+newURL)
		if !regexp.MustCompile(`^Member +` + ids[m.name] + ` updated in cluster +[0-9a-f]+\n$`).MatchString(out) {
			t.Fatalf("member update output: %q", out)
		}
		m.peerURL = newURL
	}
	for _, m := range c.members {
		m.stop()
	}
	for _, m := range c.members {
		m.args = setFlag(setFlag(m.args, "--listen-peer-urls", m.peerURL), "--initial-advertise-peer-urls", m.peerURL)
		m.start(t)
	}
	c.waitReady(t)
	if got := ctl(t, eps, "", "put", "after", "restart"); got != "OK\n" {
		t.Fatalf("put after restart: %q", got)
	}
	for _, m := range c.members {
		ep := strings.TrimPrefix(m.clientURL, "http://")
		if got := ctl(t, ep, "", "get", "before", "--print-value-only"); got != "update\n" {
			t.Fatalf("get on %s after restart: %q", m.name, got)
		}
	}
	list := ctl(t, eps, "", "member", "list")
	for _, m := range c.members {
		if !strings.Contains(list, ids[m.name]+", started, "+m.name+", "+m.peerURL+", "+m.clientURL+", false") {
			t.Fatalf("member list after restart does not show %s at %s:\n%s", m.name, m.peerURL, list)
		}
	}
}
