package server

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"coordlab/engines/zab/jute"
	"coordlab/engines/zab/zxid"
	"coordlab/proctest"
)

func TestTxnLogRollback(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenTxnLog(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 1, 5)
	seg := lastSegment(t, dir)
	fi, _ := os.Stat(seg)
	durable := fi.Size()
	// A failed batch: appended (some bytes reached the file) but not synced,
	// part of it in a new segment.
	for z := zxid.Zxid(6); z <= 8; z++ {
		if err := l.Append(rec(z)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := l.roll(9); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(rec(9)); err != nil {
		t.Fatal(err)
	}
	l.dirty = true
	l.durSegs = l.durSegs[:1]
	l.durSegs[0].size, l.durSegs[0].last = durable, 5
	l.durLast = 5
	if err := l.Rollback(); err != nil {
		t.Fatal(err)
	}
	if l.LastZxid() != 5 {
		t.Fatalf("LastZxid after Rollback = %d, want 5", l.LastZxid())
	}
	if m, _ := filepath.Glob(filepath.Join(dir, logSubdir, "log.*")); len(m) != 1 {
		t.Fatalf("segments after Rollback: %v, want only %s", m, seg)
	}
	if fi, _ := os.Stat(seg); fi.Size() != durable {
		t.Fatalf("segment is %d bytes after Rollback, want %d", fi.Size(), durable)
	}
	appendN(t, l, 6, 7)
	l.Close()
	l, err = OpenTxnLog(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := fmt.Sprintf("%d", readAll(t, l, 0)); got != "[1 2 3 4 5 6 7]" {
		t.Fatalf("after Rollback, append and reopen: %s", got)
	}
}

// mountTmpfs mounts a tmpfs of size bytes on a fresh directory, or skips
// the test when that is not possible (not root, no mount).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file in dir until the file system is full and returns it.
func fill(t *testing.T, dir string, leave int64) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	// Give back leave bytes for the server to fill itself.
	fi, _ := f.Stat()
	if err := f.Truncate(max(0, fi.Size()-leave)); err != nil {
		t.Fatal(err)
	}
	return p
}

// A standalone member whose disk fills up refuses writes with NOTREADONLY,
// keeps serving reads and stays up; once space is freed it takes writes
// again, and after a restart every acknowledged create is there.
func TestDiskFullReadOnlyThenRecovers(t *testing.T) {
	dir := mountTmpfs(t, "4m")
	cfg := DefaultConfig()
	cfg.TickTime = 100 * time.Millisecond
	cfg.DataDir = dir
	cfg.ClientPort = proctest.FreePort(t)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer func() { s.Stop() }()
	waitLeader(t, []*Server{s})
	filler := fill(t, dir, 1<<20)
	c := zkConnectTimeout(t, s.ClientAddr(), 20*time.Second)
	data := bytes.Repeat([]byte("x"), 100<<10)
	var acked []string
	failedAt := -1
	for i := range 200 {
		p := fmt.Sprintf("/big%03d", i)
		if _, err := c.Create(p, data, 0, zk.WorldACL(zk.PermAll)); err != nil {
			failedAt = i
			t.Logf("create %d failed once the disk filled: %v", i, err)
			break
		}
		acked = append(acked, p)
	}
	if failedAt < 0 {
		t.Fatal("200 creates of 100 KiB fit in a 4 MiB tmpfs that was already full")
	}
	if len(acked) == 0 {
		t.Fatal("no create succeeded before the disk filled; leave more room")
	}
	select {
	case <-s.loopDone:
		t.Fatalf("the server loop ended on a full disk: %v", s.loopErr)
	default:
	}
	waitMode(t, s, readOnlyMode)
	// Writes get NOTREADONLY (the connection may first be re-established:
	// the failed create's connection was closed, its outcome unknown).
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := c.Create("/refused", nil, 0, zk.WorldACL(zk.PermAll))
		if err != nil && strings.Contains(err.Error(), "-119") {
			break
		}
		if err == nil {
			t.Fatal("a create succeeded on a full disk")
		}
		if time.Now().After(deadline) {
			t.Fatalf("create on a full disk: %v, want NOTREADONLY (-119)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := c.Sync("/"); err == nil || !strings.Contains(err.Error(), "-119") {
		t.Fatalf("sync on a full disk: %v, want NOTREADONLY (-119)", err)
	}
	// Reads are served, and the server is still up.
	for _, p := range acked {
		d, _, err := c.Get(p)
		if err != nil || len(d) != len(data) {
			t.Fatalf("read %s on a full disk: %d bytes, %v", p, len(d), err)
		}
	}
	select {
	case <-s.loopDone:
		t.Fatalf("the server loop ended on a full disk: %v", s.loopErr)
	default:
	}
	// A new client that allows read-only mode gets a read-only session and
	// reads; one that does not is refused, as by ZooKeeper's read-only
	// servers.
	readOnlyClientReads(t, s.ClientAddr(), acked[0], len(data))
	// Free the space: the member rejoins by itself and takes writes.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		p := fmt.Sprintf("/after%03d", i)
		_, err := c.Create(p, []byte("y"), 0, zk.WorldACL(zk.PermAll))
		if err == nil {
			acked = append(acked, p)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write accepted within 30s of freeing space: %v (mode %q)", err, s.status().mode)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := range 5 {
		p := fmt.Sprintf("/more%d", i)
		if _, err := c.Create(p, []byte("z"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create after recovery: %v", err)
		}
		acked = append(acked, p)
	}
	c.Close()
	if err := s.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	s, err = New(cfg)
	if err != nil {
		t.Fatalf("restart after the disk filled and emptied: %v", err)
	}
	s.Start()
	waitLeader(t, []*Server{s})
	c = zkConnect(t, s.ClientAddr())
	for _, p := range acked {
		if ok, _, err := c.Exists(p); err != nil || !ok {
			t.Fatalf("acknowledged %s after restart: exists=%v err=%v", p, ok, err)
		}
	}
	if ok, _, _ := c.Exists("/refused"); ok {
		t.Fatal("/refused exists although its create was answered NOTREADONLY")
	}
	if errors.Is(s.loopErr, ErrDiskWrite) {
		t.Fatal(s.loopErr)
	}
}

// In an ensemble, a leader whose disk fills leaves the quorum (it cannot
// count itself for its own proposals): the others elect a new leader and
// take writes, and the old leader rejoins and catches up once space is
// freed.
func TestDiskFullLeaderStepsOut(t *testing.T) {
	mounts := map[uint64]string{}
	ss := startInProcess(t, 3, func(c *Config) {
		c.DataDir = mountTmpfs(t, "4m")
		mounts[c.ID] = c.DataDir
	})
	leader := waitLeader(t, ss)
	var follower *Server
	for _, s := range ss {
		if s != leader {
			follower = s
			break
		}
	}
	filler := fill(t, mounts[leader.cfg.ID], 512<<10)
	c := zkConnectTimeout(t, follower.ClientAddr(), 20*time.Second)
	data := bytes.Repeat([]byte("x"), 100<<10)
	var acked []string
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; leader.status().mode != readOnlyMode; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("the leader's disk never filled (mode %q)", leader.status().mode)
		}
		p := fmt.Sprintf("/big%03d", i)
		if _, err := c.Create(p, data, 0, zk.WorldACL(zk.PermAll)); err == nil {
			acked = append(acked, p)
		}
	}
	// The two others go on without it.
	deadline = time.Now().Add(60 * time.Second)
	for i := 0; ; i++ {
		p := fmt.Sprintf("/after%03d", i)
		_, err := c.Create(p, []byte("y"), 0, zk.WorldACL(zk.PermAll))
		if err == nil {
			acked = append(acked, p)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the two members with disk space took no write within 60s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case <-leader.loopDone:
		t.Fatalf("the old leader's loop ended on a full disk: %v", leader.loopErr)
	default:
	}
	if m := leader.status().mode; m != readOnlyMode {
		t.Fatalf("old leader mode %q, want %q", m, readOnlyMode)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitLeader(t, ss)
	co := zkConnect(t, leader.ClientAddr())
	if _, err := co.Sync("/"); err != nil {
		t.Fatal(err)
	}
	for _, p := range acked {
		if ok, _, err := co.Exists(p); err != nil || !ok {
			t.Fatalf("acknowledged %s on the member that was full: exists=%v err=%v", p, ok, err)
		}
	}
}

// waitMode polls the published status (it is refreshed after the event
// that changes it) until the mode is want.
func waitMode(t *testing.T, s *Server, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.status().mode != want {
		if time.Now().After(deadline) {
			t.Fatalf("mode %q, want %q", s.status().mode, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readOnlyClientReads connects as a client that allows read-only mode,
// checks that the session is read-only, reads path and expects size bytes
// of data; then checks that a client that does not allow it is refused.
func readOnlyClientReads(t *testing.T, addr, path string, size int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := &jute.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16), ReadOnly: true, HasReadOnly: true}
	if _, err := c.Write(jute.AppendFrame(nil, req)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	payload, err := jute.ReadFrame(r, nil, 0)
	if err != nil {
		t.Fatalf("read-only connect: %v", err)
	}
	resp, err := jute.DecodeConnectResponse(payload)
	if err != nil || resp.SessionID == 0 || !resp.ReadOnly {
		t.Fatalf("read-only connect answered %+v %v, want a read-only session", resp, err)
	}
	hdr := jute.RequestHeader{Xid: 1, Type: jute.OpGetData}
	if _, err := c.Write(jute.AppendRequest(nil, hdr, &jute.PathWatchRequest{Path: path})); err != nil {
		t.Fatal(err)
	}
	payload, err = jute.ReadFrame(r, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	rh, body, err := jute.DecodeReply(payload, jute.OpGetData)
	if err != nil || rh.Err != jute.ZOK {
		t.Fatalf("getData %s on a read-only session: %+v %v", path, rh, err)
	}
	if got := len(body.(*jute.GetDataResponse).Data); got != size {
		t.Fatalf("getData %s on a read-only session: %d bytes, want %d", path, got, size)
	}
	hdr = jute.RequestHeader{Xid: 2, Type: jute.OpCreate}
	if _, err := c.Write(jute.AppendRequest(nil, hdr, &jute.CreateRequest{Path: "/ro", ACL: zkWorldACL()})); err != nil {
		t.Fatal(err)
	}
	if payload, err = jute.ReadFrame(r, nil, 0); err != nil {
		t.Fatal(err)
	}
	if rh, _, _ := jute.DecodeReply(payload, jute.OpCreate); rh.Err != jute.ZNOTREADONLY {
		t.Fatalf("create on a read-only session: %v, want ZNOTREADONLY", rh.Err)
	}
	plain, err := openRawSession(addr)
	if err == nil {
		plain.Close()
		t.Fatal("a client that does not allow read-only mode got a new session on a read-only member")
	}
}

func zkWorldACL() []jute.ACL {
	return []jute.ACL{{Perms: 31, ID: jute.Id{Scheme: "world", ID: "anyone"}}}
}
