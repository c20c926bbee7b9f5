package raftkv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// openStream sends the stream request line and headers by hand, as a peer
// does, and returns the status code of the answer.
func openStream(t *testing.T, peerURL string, hdr map[string]string) int {
	t.Helper()
	u, err := url.Parse(peerURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\n", pathStream, u.Host)
	for k, v := range hdr {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func peerPost(t *testing.T, u string, hdr map[string]string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The peer URL checks who is talking on every request: the cluster ID (412
// for another cluster), the addressee (412), removed members (410) and
// senders that are not members (404 on the stream and the lease paths).
func TestPeerRefusesOtherClustersAndNonMembers(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.waitLeader()
	s := c.servers[0]
	peerURL := c.cfgs[0].PeerURLs[0]
	cid := fmt.Sprintf("%x", s.ClusterID())
	member := fmt.Sprintf("%x", c.servers[1].ID())
	self := fmt.Sprintf("%x", s.ID())
	const stranger = "1234abcd"

	streams := []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"a member", map[string]string{hdrFrom: member, hdrCluster: cid, hdrTo: self}, http.StatusOK},
		{"another cluster", map[string]string{hdrFrom: member, hdrCluster: "deadbeef", hdrTo: self}, http.StatusPreconditionFailed},
		{"no cluster id", map[string]string{hdrFrom: member}, http.StatusBadRequest},
		{"for another member", map[string]string{hdrFrom: member, hdrCluster: cid, hdrTo: "42"}, http.StatusPreconditionFailed},
		{"a sender that is not a member", map[string]string{hdrFrom: stranger, hdrCluster: cid, hdrTo: self}, http.StatusNotFound},
	}
	for _, tc := range streams {
		t.Run("stream from "+tc.name, func(t *testing.T) {
			if got := openStream(t, peerURL, tc.hdr); got != tc.want {
				t.Fatalf("POST %s: status %d, want %d", pathStream, got, tc.want)
			}
		})
	}
	for _, path := range []string{pathLeaseRenew, pathLeaseTTL} {
		if got := peerPost(t, peerURL+path, map[string]string{hdrFrom: stranger, hdrCluster: cid}, nil); got != http.StatusNotFound {
			t.Errorf("POST %s from a non-member: status %d, want 404", path, got)
		}
	}
	for _, path := range []string{pathMessage, pathSnapshot, pathLeaseRenew, pathLeaseTTL} {
		if got := peerPost(t, peerURL+path, map[string]string{hdrFrom: member, hdrCluster: "deadbeef"}, nil); got != http.StatusPreconditionFailed {
			t.Errorf("POST %s from another cluster: status %d, want 412", path, got)
		}
	}

	// Removed members get 410 on every path.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lead := c.waitLeader()
	victim := (lead + 1) % 3
	if victim == 0 {
		victim = (lead + 2) % 3
	}
	vid := c.servers[victim].ID()
	if _, err := c.servers[lead].RemoveMember(ctx, vid); err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	waitFor(t, "member 0 applies the removal", func() bool { return s.members.isRemoved(vid) })
	removed := map[string]string{hdrFrom: fmt.Sprintf("%x", vid), hdrCluster: cid, hdrTo: self}
	if got := openStream(t, peerURL, removed); got != http.StatusGone {
		t.Errorf("stream from a removed member: status %d, want 410", got)
	}
	for _, path := range []string{pathMessage, pathSnapshot, pathLeaseRenew} {
		if got := peerPost(t, peerURL+path, removed, nil); got != http.StatusGone {
			t.Errorf("POST %s from a removed member: status %d, want 410", path, got)
		}
	}
}

// A member that has not applied the conf change adding the current leader
// refuses the leader's stream (404, it does not know the sender) and must
// still catch up: the leader sends by POST /raft/message instead.
func TestLaggingMemberCatchesUpFromLeaderItDoesNotKnow(t *testing.T) {
	// A member is added while another is down: etcd's
	// --strict-reconfig-check would refuse that, so it is off here.
	c := newTestCluster(t, 3, func(c *Config) { c.StrictReconfigCheck = false })
	lead := c.waitLeader()
	lagger := (lead + 1) % 3
	c.stop(lagger)

	ln := freeListener(t)
	peerURL := "http://" + ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, _, err := c.servers[lead].AddMember(ctx, []string{peerURL}, false)
	if err != nil {
		t.Fatalf("AddMember: %v", err)
	}
	waitFor(t, "the running members apply the add", func() bool {
		for _, x := range c.servers {
			if x != nil {
				if _, ok := x.members.get(m.ID); !ok {
					return false
				}
			}
		}
		return true
	})
	// Join through the running members only (the stopped one would not answer).
	var initial []InitialMember
	for i, im := range c.cfgs[0].InitialCluster {
		if i != lagger {
			initial = append(initial, im)
		}
	}
	initial = append(initial, InitialMember{Name: "m3", PeerURLs: []string{peerURL}})
	cfg := memberConfig(t, "m3", peerURL, initial, t.TempDir())
	cfg.ClusterState = ClusterStateExisting
	c.cfgs = append(c.cfgs, cfg)
	c.servers = append(c.servers, nil)
	c.start(3)
	// The new member needs the log before it can ack; retry until it has it.
	waitFor(t, "a put through the new member", func() bool {
		_, err := put(ctx, c.servers[3], "joined", "yes")
		return err == nil
	})
	if err := c.servers[lead].MoveLeader(ctx, m.ID); err != nil {
		t.Fatalf("MoveLeader to the new member: %v", err)
	}
	if got := c.waitLeader(); got != 3 {
		t.Fatalf("leader is member %d, want the new member 3", got)
	}
	mustPut(t, c.servers[3], "led-by", "new")

	c.start(lagger)
	// A read right after the restart may meet the leader change it is
	// catching up through ("leader changed", which clients retry).
	waitFor(t, "the lagging member reads the new leader's write", func() bool {
		v, ok, err := get(ctx, c.servers[lagger], "led-by")
		return err == nil && ok && v == "new"
	})
	if _, ok := c.servers[lagger].members.get(m.ID); !ok {
		t.Fatalf("the lagging member caught up but does not list the new leader %x", m.ID)
	}
}

// A leader's 404 that refuses us as a sender it does not know (we joined and
// it has not applied that yet) means "ask again", not "no such lease".
func TestForwardLeaseTellsRefusalFromLeaseNotFound(t *testing.T) {
	c := newTestCluster(t, 1, nil)
	s := c.servers[0]
	c.waitLeader()
	var refuse atomic.Bool
	refuse.Store(true)
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse.Load() {
			w.Header().Set(hdrRefused, "sender-unknown")
		}
		http.Error(w, "not found", http.StatusNotFound)
	}))
	defer fake.Close()
	const fakeID = 0x99
	s.members.add(member{ID: fakeID, Name: "fake", PeerURLs: []string{fake.URL}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp := &pb.LeaseKeepAliveResponse{}
	if err := s.forwardLease(ctx, fakeID, pathLeaseRenew, &pb.LeaseKeepAliveRequest{ID: 1}, resp); !errors.Is(err, errForwardRetry) {
		t.Fatalf("forward answered by a refusal: %v, want errForwardRetry", err)
	}
	refuse.Store(false)
	if err := s.forwardLease(ctx, fakeID, pathLeaseRenew, &pb.LeaseKeepAliveRequest{ID: 1}, resp); !errors.Is(err, rpctypes.ErrGRPCLeaseNotFound) {
		t.Fatalf("forward answered by lease not found: %v, want ErrGRPCLeaseNotFound", err)
	}
}
