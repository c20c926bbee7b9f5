package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// ctl runs etcdctl (API 3) against endpoints with stdin and returns stdout.
func ctl(t *testing.T, endpoints, stdin string, args ...string) string {
	t.Helper()
	out, _ := ctl2(t, endpoints, stdin, args...)
	return out
}

// ctl2 is ctl returning stderr too (etcdctl 3.4 prints endpoint health there).
func ctl2(t *testing.T, endpoints, stdin string, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, err := runCtl(endpoints, stdin, args...)
	if err != nil {
		t.Fatalf("etcdctl %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout, stderr
}

// runCtl runs etcdctl (API 3, at most 30 s) against endpoints with stdin.
func runCtl(endpoints, stdin string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, etcdctlBin, append([]string{"--endpoints=" + endpoints, "--command-timeout=10s"}, args...)...)
	cmd.Env = append(os.Environ(), "ETCDCTL_API=3")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// ctlFail runs etcdctl expecting it to fail and returns its "Error:" lines
// (stderr also carries timestamped client logs, left out).
func ctlFail(t *testing.T, endpoints, stdin string, args ...string) string {
	t.Helper()
	out, errb, err := runCtl(endpoints, stdin, args...)
	if err == nil {
		t.Fatalf("etcdctl %s succeeded, want an error; stdout: %s", strings.Join(args, " "), out)
	}
	var lines []string
	for _, l := range strings.Split(errb, "\n") {
		if strings.HasPrefix(l, "Error:") {
			lines = append(lines, l)
		}
	}
	return out + strings.Join(lines, "\n") + "\n"
}

// ctlWatch runs etcdctl watch with args and returns its first n output
// lines, then stops it; it fails after 20 s without them.
func ctlWatch(t *testing.T, endpoints string, n int, args ...string) string {
	t.Helper()
	return runLines(t, endpoints, n, append([]string{"watch"}, args...)...)
}

// runLines runs a long-lived etcdctl command (watch, lease keep-alive),
// returns its first n output lines and stops it; it fails after 20 s
// without them.
func runLines(t *testing.T, endpoints string, n int, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, etcdctlBin, append([]string{"--endpoints=" + endpoints}, args...)...)
	cmd.Env = append(os.Environ(), "ETCDCTL_API=3")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()
	var lines []string
	sc := bufio.NewScanner(stdout)
	for len(lines) < n && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < n {
		t.Fatalf("etcdctl %s: got %d of %d lines: %q (stderr %s)", strings.Join(args, " "), len(lines), n, lines, errb.String())
	}
	return strings.Join(lines, "\n") + "\n"
}

var (
	leaseIDRe   = regexp.MustCompile(`lease [0-9a-f]+ `)
	remainingRe = regexp.MustCompile(`remaining\(\d+s\)`)
)

// session runs the deterministic part of the etcdctl tour against one
// system and returns a transcript: each command and its output, with lease
// ids and remaining seconds normalised.
func session(t *testing.T, endpoints string) string {
	t.Helper()
	var tr strings.Builder
	step := func(stdin string, args ...string) string {
		out := ctl(t, endpoints, stdin, args...)
		fmt.Fprintf(&tr, "$ etcdctl %s\n%s", strings.Join(args, " "), out)
		return out
	}
	step("", "put", "foo", "bar")                    // rev 2
	step("", "put", "foo2", "x")                     // rev 3
	step("", "put", "fop", "y")                      // rev 4
	step("", "get", "foo")                           //
	step("", "get", "--prefix", "foo")               //
	step("", "get", "foo", "--rev=2")                //
	step("", "get", "--prefix", "fo", "--keys-only") //
	step("", "get", "--from-key", "foo2", "--limit=1")
	step("", "put", "foo", "bar2") // rev 5
	step("", "get", "foo", "--rev=2")
	step("", "get", "foo", "-w", "fields") // all key fields, revisions included (header ids differ: dropped below)
	step("", "del", "foo")                 // rev 6
	step("", "del", "nothing")
	step("", "del", "--prev-kv", "--prefix", "fop")                                      // rev 7
	step("value(\"foo2\") = \"x\"\n\nput foo2 baz\n\nput foo2 nope\n\n", "txn")          // rev 8: success
	step("mod(\"foo2\") < \"3\"\n\nput foo2 never\n\nget foo2\n\n", "txn")               // failure, no rev
	step("create(\"foo2\") = \"3\"\nversion(\"foo2\") = \"2\"\n\ndel foo2\n\n\n", "txn") // rev 9
	fmt.Fprintf(&tr, "$ etcdctl watch foo2 --rev=1\n%s", ctlWatch(t, endpoints, 9, "foo2", "--rev=1"))
	fmt.Fprintf(&tr, "$ etcdctl watch --prefix fo --rev=5 --prev-kv\n%s", ctlWatch(t, endpoints, 25, "--prefix", "fo", "--rev=5", "--prev-kv"))

	// A TTL under the minimum is raised to it (2 s with etcd's default
	// election timeout); revoked at once so it cannot expire mid-session.
	short := step("", "lease", "grant", "1")
	var shortID string
	if _, err := fmt.Sscanf(short, "lease %s granted", &shortID); err != nil {
		t.Fatalf("lease grant output %q: %v", short, err)
	}
	step("", "lease", "revoke", shortID)
	grant := step("", "lease", "grant", "60")
	var id string
	if _, err := fmt.Sscanf(grant, "lease %s granted", &id); err != nil {
		t.Fatalf("lease grant output %q: %v", grant, err)
	}
	step("", "put", "--lease="+id, "leased", "v") // rev 10
	step("", "lease", "keep-alive", "--once", id)
	step("", "lease", "timetolive", "--keys", id)
	step("", "lease", "list")
	step("", "lease", "revoke", id) // rev 11: leased deleted
	step("", "get", "leased")
	step("", "lease", "timetolive", id)
	step("", "get", "", "--prefix")

	// Errors, as etcdctl prints them.
	failIn := func(stdin string, args ...string) {
		fmt.Fprintf(&tr, "$ etcdctl %s (fails)\n%s", strings.Join(args, " "), ctlFail(t, endpoints, stdin, args...))
	}
	fail := func(args ...string) { failIn("", args...) }
	step("", "put", "c", "1") // rev 12
	step("", "put", "c", "2") // rev 13
	step("", "compaction", "12")
	step("", "get", "c", "--rev=12")
	fail("get", "c", "--rev=11")
	fail("get", "c", "--rev=100")
	fail("compaction", "12")
	fail("compaction", "100")
	fail("lease", "revoke", id)
	fail("lease", "keep-alive", "--once", id)
	fail("put", "--lease="+id, "x", "y")
	fail("put", "", "empty-key")
	failIn("\nput k 1\nput k 2\n\n\n", "txn")
	failIn("\nput k 1\ndel a z\n\n\n", "txn")

	out := tr.String()
	out = leaseIDRe.ReplaceAllString(out, "lease ID ")
	out = strings.ReplaceAll(out, id, "ID")
	out = strings.ReplaceAll(out, shortID, "ID1")
	out = remainingRe.ReplaceAllString(out, "remaining(Ns)")
	return dropVarying(out)
}

// dropVarying removes the fields of "-w fields" output that name a cluster
// or member (they differ between any two clusters).
func dropVarying(s string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, `"ClusterID"`) || strings.HasPrefix(line, `"MemberID"`) || strings.HasPrefix(line, `"RaftTerm"`) {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

// TestEtcdctl runs the same etcdctl commands against a 3-member raftkv
// cluster and a single real etcd, and requires identical transcripts.
func TestEtcdctl(t *testing.T) {
	needTools(t)
	t.Parallel()
	rk := startCluster(t, "raftkv", raftkvBin, 3)
	et := startCluster(t, "etcd", etcdBin, 1)
	start := time.Now()
	want := session(t, et.endpoints())
	etcdTook := time.Since(start)
	start = time.Now()
	got := session(t, rk.endpoints())
	// Information only (never asserted): most of it is etcdctl start-up.
	t.Logf("session took %v on etcd (1 member), %v on raftkv (3 members)", etcdTook, time.Since(start))
	if got != want {
		t.Fatalf("raftkv transcript differs from etcd's:\n%s", lineDiff(want, got))
	}
	t.Logf("transcript (identical on both):\n%s", got)
}

// TestEtcdctlCluster checks the commands whose output names members, sizes
// or timings against etcd's format, on raftkv and on etcd alike.
func TestEtcdctlCluster(t *testing.T) {
	needTools(t)
	t.Parallel()
	rk := startCluster(t, "raftkv", raftkvBin, 3)
	et := startCluster(t, "etcd", etcdBin, 1)
	memberRe := regexp.MustCompile(`^[0-9a-f]+, started, m[1-3], http://127\.0\.0\.1:\d+, http://127\.0\.0\.1:\d+, false$`)
	// The version is semver; raftkv's carries build metadata naming it
	// (3.4.0+raftkv).
	statusRe := regexp.MustCompile(`^127\.0\.0\.1:\d+, [0-9a-f]+, \d+\.\d+\.\d+(\+[0-9A-Za-z.-]+)?, [0-9.]+ [kMG]?B, (true|false), false, \d+, \d+, \d+, $`)
	healthRe := regexp.MustCompile(`^127\.0\.0\.1:\d+ is healthy: successfully committed proposal: took = [0-9.]+[µmn]?s$`)
	snapStatusRe := regexp.MustCompile(`^[0-9a-f]+, (\d+), \d+, [0-9.]+ [kMG]?B$`)

	for _, c := range []*cluster{et, rk} {
		t.Run(c.system, func(t *testing.T) {
			n := len(c.members)
			check := func(what, out string, re *regexp.Regexp, lines int) []string {
				t.Helper()
				ls := strings.Split(strings.TrimRight(out, "\n"), "\n")
				if len(ls) != lines {
					t.Fatalf("%s: %d lines, want %d:\n%s", what, len(ls), lines, out)
				}
				for _, l := range ls {
					if !re.MatchString(l) {
						t.Fatalf("%s: line %q does not match etcd's format %s", what, l, re)
					}
				}
				return ls
			}
			check("member list", ctl(t, c.endpoints(), "", "member", "list"), memberRe, n)
			status := check("endpoint status", ctl(t, c.endpoints(), "", "endpoint", "status"), statusRe, n)
			leaders := 0
			for _, l := range status {
				if strings.Contains(l, ", true, false, ") {
					leaders++
				}
			}
			if leaders != 1 {
				t.Fatalf("endpoint status: %d members say they lead, want 1:\n%s", leaders, strings.Join(status, "\n"))
			}
			checkStatusJSON(t, c, ctl(t, c.endpoints(), "", "endpoint", "status", "-w", "json"))
			_, health := ctl2(t, c.endpoints(), "", "endpoint", "health")
			check("endpoint health", health, healthRe, n)

			// Puts through the member that takes the snapshot: a member
			// acknowledges a put once it applied it, so the snapshot has it.
			first := strings.TrimPrefix(c.members[0].clientURL, "http://")
			for i := range 5 {
				ctl(t, first, "", "put", fmt.Sprintf("snap/%d", i), "v") // revs 2..6
			}
			path := filepath.Join(t.TempDir(), "snap.db")
			saved := ctl(t, first, "", "snapshot", "save", path)
			if saved != "Snapshot saved at "+path+"\n" {
				t.Fatalf("snapshot save: %q", saved)
			}
			st := check("snapshot status", ctl(t, first, "", "snapshot", "status", path), snapStatusRe, 1)
			m := snapStatusRe.FindStringSubmatch(st[0])
			// Fields: hash, revision, total keys (of every bucket, so not
			// comparable between the two stores), size.
			if m[1] != "6" {
				t.Fatalf("snapshot status %q: revision %s, want 6", st[0], m[1])
			}
		})
	}
}

// lineDiff shows the lines of got that differ from want.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		mark := "  "
		if wl != gl {
			mark = "! "
		}
		fmt.Fprintf(&b, "%s%-50q %q\n", mark, wl, gl)
	}
	return b.String()
}

// checkStatusJSON checks the headers of "endpoint status -w json": one
// cluster id, each member's own id (as member list shows it), the raft term
// of the status, and the same store revision everywhere.
func checkStatusJSON(t *testing.T, c *cluster, out string) {
	t.Helper()
	var sts []struct {
		Endpoint string
		Status   struct {
			Header struct {
				ClusterID uint64 `json:"cluster_id"`
				MemberID  uint64 `json:"member_id"`
				Revision  int64  `json:"revision"`
				RaftTerm  uint64 `json:"raft_term"`
			} `json:"header"`
			Leader   uint64 `json:"leader"`
			RaftTerm uint64 `json:"raftTerm"`
		}
	}
	if err := json.Unmarshal([]byte(out), &sts); err != nil {
		t.Fatalf("endpoint status -w json: %v\n%s", err, out)
	}
	var members struct {
		Members []struct {
			ID         uint64   `json:"ID"`
			ClientURLs []string `json:"clientURLs"`
		} `json:"members"`
	}
	if err := json.Unmarshal([]byte(ctl(t, c.endpoints(), "", "member", "list", "-w", "json")), &members); err != nil {
		t.Fatal(err)
	}
	idOf := make(map[string]uint64)
	for _, m := range members.Members {
		for _, u := range m.ClientURLs {
			idOf[strings.TrimPrefix(u, "http://")] = m.ID
		}
	}
	if len(sts) != len(c.members) {
		t.Fatalf("endpoint status: %d entries, want %d", len(sts), len(c.members))
	}
	for _, st := range sts {
		h := st.Status.Header
		if h.ClusterID == 0 || h.ClusterID != sts[0].Status.Header.ClusterID {
			t.Fatalf("%s: cluster id %x, want %x on every member", st.Endpoint, h.ClusterID, sts[0].Status.Header.ClusterID)
		}
		if h.MemberID != idOf[st.Endpoint] || h.MemberID == 0 {
			t.Fatalf("%s: member id %x, member list says %x", st.Endpoint, h.MemberID, idOf[st.Endpoint])
		}
		if h.RaftTerm != st.Status.RaftTerm || h.RaftTerm == 0 || st.Status.Leader == 0 {
			t.Fatalf("%s: header term %d, status term %d, leader %x", st.Endpoint, h.RaftTerm, st.Status.RaftTerm, st.Status.Leader)
		}
		if h.Revision != 1 {
			t.Fatalf("%s: revision %d, want 1 on a fresh cluster", st.Endpoint, h.Revision)
		}
	}
}
