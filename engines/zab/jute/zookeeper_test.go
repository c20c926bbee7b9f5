package jute

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const zooKeeperJar = "/usr/share/java/zookeeper.jar" // Debian's zookeeper package

// startZooKeeper runs a fresh standalone ZooKeeper 3.8 (TTL nodes enabled)
// on a free loopback port. Without Java or ZooKeeper it skips, or fails
// under CI=true.
func startZooKeeper(t *testing.T) string {
	t.Helper()
	java, err := exec.LookPath("java")
	if err == nil {
		_, err = os.Stat(zooKeeperJar)
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("this test needs java and %s (scripts/setup.sh installs them): %v", zooKeeperJar, err)
		}
		t.Skipf("no ZooKeeper here (%v); CI runs this test", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	conf := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"admin.enableServer=false\n4lw.commands.whitelist=srvr\n", filepath.Join(dir, "data"), port)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(java, "-Xmx256m", "-Dzookeeper.extendedTypesEnabled=true", "-cp", zooKeeperJar,
		"org.apache.zookeeper.server.ZooKeeperServerMain", cfg)
	logf, err := os.Create(filepath.Join(dir, "zookeeper.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ZooKeeper: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	// Ready when srvr reports a mode (ruok answers before sessions are
	// served); poll with a deadline.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			c.Write([]byte("srvr"))
			var out bytes.Buffer
			out.ReadFrom(c)
			c.Close()
			if strings.Contains(out.String(), "Mode: standalone") {
				return addr
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("ZooKeeper at %s not serving after 60 s; its log:\n%s", addr, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// rawClient speaks the protocol with this package only.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	xid  int32
}

func (c *rawClient) send(frame []byte) {
	c.t.Helper()
	c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.conn.Write(frame); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawClient) readFrame() []byte {
	c.t.Helper()
	body, err := ReadFrame(c.r, nil, 0)
	if err != nil {
		c.t.Fatalf("read reply: %v", err)
	}
	return body
}

// checkReencode asserts that a decoded reply encodes back to the bytes
// ZooKeeper sent.
func (c *rawClient) checkReencode(what string, body []byte, h ReplyHeader, rec Record) {
	c.t.Helper()
	again := AppendReply(nil, h, rec)
	if !bytes.Equal(again[4:], body) {
		c.t.Errorf("%s: re-encoded reply differs from ZooKeeper's\n got %x\nwant %x\n(%#v)", what, again[4:], body, rec)
	}
}

// call sends one request and returns its reply, after decoding (and
// re-encoding) any notifications that arrive first.
func (c *rawClient) call(op Op, body Record) (ReplyHeader, Record, []WatcherEvent) {
	c.t.Helper()
	c.xid++
	xid := c.xid
	if op == OpPing {
		xid = XidPing
	}
	c.send(AppendRequest(nil, RequestHeader{Xid: xid, Type: op}, body))
	var events []WatcherEvent
	for {
		raw := c.readFrame()
		h, rec, err := DecodeReply(raw, op)
		if err != nil {
			c.t.Fatalf("%v: DecodeReply(%x): %v", op, raw, err)
		}
		c.checkReencode(op.String(), raw, h, rec)
		if h.Xid == XidWatch {
			events = append(events, *rec.(*WatcherEvent))
			continue
		}
		if h.Xid != xid {
			c.t.Fatalf("%v: reply xid %d, want %d", op, h.Xid, xid)
		}
		return h, rec, events
	}
}

// TestAgainstZooKeeper sends every request this package encodes to a real
// ZooKeeper 3.8 over a raw socket, decodes every reply with DecodeReply,
// checks the decoded fields that matter, and requires each reply to
// re-encode to exactly the bytes ZooKeeper sent. It covers the records the
// captured golden frames do not.
func TestAgainstZooKeeper(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a JVM")
	}
	addr := startZooKeeper(t)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &rawClient{t: t, conn: conn, r: bufio.NewReader(conn)}

	// Java-style connect (with the readOnly byte): the reply mirrors it.
	c.send(AppendFrame(nil, &ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16), HasReadOnly: true}))
	raw := c.readFrame()
	cr, err := DecodeConnectResponse(raw)
	if err != nil {
		t.Fatalf("DecodeConnectResponse(%x): %v", raw, err)
	}
	if cr.SessionID == 0 || cr.TimeOut != 10000 || len(cr.Passwd) != 16 || !cr.HasReadOnly {
		t.Fatalf("connect response %+v", cr)
	}
	if again := AppendFrame(nil, cr); !bytes.Equal(again[4:], raw) {
		t.Fatalf("connect response re-encodes to %x, ZooKeeper sent %x", again[4:], raw)
	}

	open := OpenACLUnsafe()
	expectErr := func(what string, h ReplyHeader, want Code) {
		t.Helper()
		if h.Err != want {
			t.Errorf("%s: err %v, want %v", what, h.Err, want)
		}
	}
	var lastZxid int64
	var setWatchEvents []WatcherEvent
	steps := []struct {
		name  string
		op    Op
		body  Record
		want  Code
		check func(rec Record, ev []WatcherEvent) string // "" when fine
	}{
		{"create", OpCreate, &CreateRequest{Path: "/t", Data: []byte("x"), ACL: open}, ZOK, func(r Record, _ []WatcherEvent) string {
			return eq(r.(*CreateResponse).Path, "/t")
		}},
		{"create2", OpCreate2, &CreateRequest{Path: "/t/s-", Data: nil, ACL: open, Flags: FlagEphemeralSequential}, ZOK, func(r Record, _ []WatcherEvent) string {
			cr := r.(*Create2Response)
			return eq(cr.Path, "/t/s-0000000000") + eq(cr.Stat.DataLength, int32(0)) + eq(cr.Stat.EphemeralOwner != 0, true)
		}},
		{"createContainer", OpCreateContainer, &CreateRequest{Path: "/c", ACL: open, Flags: FlagContainer}, ZOK, func(r Record, _ []WatcherEvent) string {
			return eq(r.(*Create2Response).Path, "/c")
		}},
		{"createTTL", OpCreateTTL, &CreateTTLRequest{Path: "/ttl", ACL: open, Flags: FlagPersistentWithTTL, TTL: 60000}, ZOK, func(r Record, _ []WatcherEvent) string {
			return eq(r.(*Create2Response).Path, "/ttl")
		}},
		{"create exists", OpCreate, &CreateRequest{Path: "/t", ACL: open}, ZNODEEXISTS, nil},
		{"exists+watch", OpExists, &PathWatchRequest{Path: "/t", Watch: true}, ZOK, func(r Record, _ []WatcherEvent) string {
			return eq(r.(*StatResponse).Stat.NumChildren, int32(1))
		}},
		{"exists missing", OpExists, &PathWatchRequest{Path: "/nope"}, ZNONODE, nil},
		{"getData+watch", OpGetData, &PathWatchRequest{Path: "/t", Watch: true}, ZOK, func(r Record, _ []WatcherEvent) string {
			return eq(string(r.(*GetDataResponse).Data), "x")
		}},
		{"setData fires the watch first", OpSetData, &SetDataRequest{Path: "/t", Data: []byte("y"), Version: 0}, ZOK, func(r Record, ev []WatcherEvent) string {
			return eq(r.(*StatResponse).Stat.Version, int32(1)) + eq(len(ev), 1) +
				eq(fmt.Sprint(ev), fmt.Sprint([]WatcherEvent{{Type: EventNodeDataChanged, State: StateSyncConnected, Path: "/t"}}))
		}},
		{"setData stale", OpSetData, &SetDataRequest{Path: "/t", Data: []byte("z"), Version: 0}, ZBADVERSION, nil},
		{"getACL", OpGetACL, &PathRequest{Path: "/t"}, ZOK, func(r Record, _ []WatcherEvent) string {
			return eq(fmt.Sprint(r.(*GetACLResponse).ACL), fmt.Sprint(open))
		}},
		{"setACL", OpSetACL, &SetACLRequest{Path: "/c", ACL: []ACL{{Perms: PermAll, ID: WorldAnyone}}, Version: 0}, ZOK, func(r Record, _ []WatcherEvent) string {
			return eq(r.(*StatResponse).Stat.Aversion, int32(1))
		}},
		{"getChildren", OpGetChildren, &PathWatchRequest{Path: "/t", Watch: true}, ZOK, func(r Record, _ []WatcherEvent) string {
			return eq(fmt.Sprint(r.(*GetChildrenResponse).Children), "[s-0000000000]")
		}},
		{"getChildren2", OpGetChildren2, &PathWatchRequest{Path: "/t"}, ZOK, func(r Record, _ []WatcherEvent) string {
			return eq(r.(*GetChildren2Response).Stat.NumChildren, int32(1))
		}},
		{"sync", OpSync, &PathRequest{Path: "/t"}, ZOK, func(r Record, _ []WatcherEvent) string {
			return eq(r.(*PathRequest).Path, "/t")
		}},
		{"multi ok", OpMulti, &MultiRequest{Ops: []MultiOp{
			{OpCreate, &CreateRequest{Path: "/m", Data: []byte("1"), ACL: open}},
			{OpCreate2, &CreateRequest{Path: "/m2", ACL: open}},
			{OpCreateContainer, &CreateRequest{Path: "/m3", ACL: open, Flags: FlagContainer}},
			{OpCreateTTL, &CreateTTLRequest{Path: "/m4", ACL: open, Flags: FlagPersistentWithTTL, TTL: 60000}},
			{OpSetData, &SetDataRequest{Path: "/m", Data: []byte("2"), Version: 0}},
			{OpCheck, &CheckVersionRequest{Path: "/m", Version: 1}},
			{OpDelete, &DeleteRequest{Path: "/m", Version: 1}},
		}}, ZOK, func(r Record, _ []WatcherEvent) string {
			var types []Op
			for _, res := range r.(*MultiResponse).Results {
				types = append(types, res.Type)
			}
			// 3.8 answers create and create2 with a create result (path
			// only), createContainer and createTTL with a create2 result.
			return eq(fmt.Sprint(types), fmt.Sprint([]Op{OpCreate, OpCreate, OpCreate2, OpCreate2, OpSetData, OpCheck, OpDelete}))
		}},
		{"multi failed", OpMulti, &MultiRequest{Ops: []MultiOp{
			{OpCreate, &CreateRequest{Path: "/f", ACL: open}},
			{OpDelete, &DeleteRequest{Path: "/nope", Version: -1}},
			{OpSetData, &SetDataRequest{Path: "/t", Version: -1}},
		}}, ZOK, func(r Record, _ []WatcherEvent) string {
			var errs []Code
			for _, res := range r.(*MultiResponse).Results {
				errs = append(errs, res.Err)
			}
			return eq(fmt.Sprint(errs), fmt.Sprint([]Code{ZOK, ZNONODE, ZRUNTIMEINCONSISTENCY}))
		}},
		{"multiRead", OpMultiRead, &MultiRequest{Ops: []MultiOp{
			{OpGetData, &PathWatchRequest{Path: "/t"}},
			{OpGetChildren, &PathWatchRequest{Path: "/t"}},
			{OpGetData, &PathWatchRequest{Path: "/nope"}},
		}}, ZOK, func(r Record, _ []WatcherEvent) string {
			res := r.(*MultiResponse).Results
			if len(res) != 3 {
				return fmt.Sprintf("%d results", len(res))
			}
			return eq(string(res[0].Body.(*GetDataResponse).Data), "y") +
				eq(fmt.Sprint(res[1].Body.(*GetChildrenResponse).Children), "[s-0000000000]") + eq(res[2].Err, ZNONODE)
		}},
		{"getEphemerals", OpGetEphemerals, &PathRequest{Path: "/"}, ZOK, func(r Record, _ []WatcherEvent) string {
			return eq(fmt.Sprint(r.(*GetEphemeralsResponse).Ephemerals), "[/t/s-0000000000]")
		}},
		{"getAllChildrenNumber", OpGetAllChildrenNumber, &PathRequest{Path: "/t"}, ZOK, func(r Record, _ []WatcherEvent) string {
			return eq(r.(*GetAllChildrenNumberResponse).TotalNumber, int32(1))
		}},
		{"addWatch", OpAddWatch, &AddWatchRequest{Path: "/t", Mode: AddWatchPersistentRecursive}, ZOK, func(r Record, _ []WatcherEvent) string {
			return eq(r.(*ErrorResponse).Err, ZOK)
		}},
		{"persistent recursive watch fires", OpDelete, &DeleteRequest{Path: "/t/s-0000000000", Version: -1}, ZOK, func(_ Record, ev []WatcherEvent) string {
			// The recursive watch replaced the one-shot child watch on /t
			// (one mode per connection and path in 3.8), and recursive
			// watches get no NodeChildrenChanged.
			return eq(fmt.Sprint(ev), fmt.Sprint([]WatcherEvent{
				{Type: EventNodeDeleted, State: StateSyncConnected, Path: "/t/s-0000000000"},
			}))
		}},
		{"checkWatches", OpCheckWatches, &WatchesRequest{Path: "/t", Type: WatcherAny}, ZOK, nil},
		// 3.8 knows only watcher types 1-3 (znode accepts 4 and 5 as 3.9 does).
		{"checkWatches persistent type", OpCheckWatches, &WatchesRequest{Path: "/t", Type: WatcherPersistentRecursive}, ZMARSHALLINGERROR, nil},
		{"removeWatches", OpRemoveWatches, &WatchesRequest{Path: "/t", Type: WatcherAny}, ZOK, nil},
		{"removeWatches none", OpRemoveWatches, &WatchesRequest{Path: "/t", Type: WatcherData}, ZNOWATCHER, nil},
		{"setWatches", OpSetWatches, &SetWatches{RelativeZxid: 1, DataWatches: []string{"/t"}, ExistWatches: []string{"/gone"}, ChildWatches: []string{}}, ZOK, func(_ Record, ev []WatcherEvent) string {
			setWatchEvents = append(setWatchEvents, ev...)
			return ""
		}},
		// /t changed after zxid 1, so setWatches fired NodeDataChanged at
		// once; it arrives around setWatches' reply, so collect both steps.
		{"setWatches2", OpSetWatches2, &SetWatches{RelativeZxid: 1 << 40, DataWatches: []string{}, ExistWatches: []string{}, ChildWatches: []string{},
			PersistentWatches: []string{"/c"}, PersistentRecursiveWatches: []string{}, Has2: true}, ZOK, func(_ Record, ev []WatcherEvent) string {
			setWatchEvents = append(setWatchEvents, ev...)
			return eq(fmt.Sprint(setWatchEvents), fmt.Sprint([]WatcherEvent{{Type: EventNodeDataChanged, State: StateSyncConnected, Path: "/t"}}))
		}},
		{"auth", OpAuth, &AuthPacket{Scheme: "digest", Auth: []byte("alice:pw")}, ZOK, nil},
		{"whoAmI", OpWhoAmI, nil, ZOK, func(r Record, _ []WatcherEvent) string {
			return eq(strings.Contains(fmt.Sprint(r.(*WhoAmIResponse).ClientInfo), "alice"), true)
		}},
		{"ping", OpPing, nil, ZOK, nil},
		{"closeSession", OpCloseSession, nil, ZOK, nil},
	}
	for _, s := range steps {
		h, rec, ev := c.call(s.op, s.body)
		expectErr(s.name, h, s.want)
		if h.Zxid < lastZxid && s.op != OpAuth { // the auth reply carries zxid 0
			t.Errorf("%s: reply zxid %d went back from %d", s.name, h.Zxid, lastZxid)
		}
		lastZxid = max(lastZxid, h.Zxid)
		if s.check != nil && h.Err == ZOK {
			if msg := s.check(rec, ev); msg != "" {
				t.Errorf("%s: %s (reply %#v, events %v)", s.name, msg, rec, ev)
			}
		}
	}
}

func eq[T comparable](got, want T) string {
	if got != want {
		return fmt.Sprintf("got %v, want %v; ", got, want)
	}
	return ""
}
