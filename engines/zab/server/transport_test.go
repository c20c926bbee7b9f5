package server

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"coordlab/proctest"
)

func testMembers(t testing.TB, n int) []Member {
	var ms []Member
	for i := 1; i <= n; i++ {
		ms = append(ms, Member{ID: uint64(i), Host: "127.0.0.1", QuorumPort: proctest.FreePort(t), ElectionPort: proctest.FreePort(t)})
	}
	return ms
}

func newTestTransport(t *testing.T, id uint64, ms []Member, queue int) *Transport {
	t.Helper()
	tr, err := NewTransport(TransportConfig{ID: id, Members: ms, QueueLen: queue, InboxLen: 1024, MaxFrameBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	tr.Start()
	return tr
}

// waitData returns the next data frame from peer, skipping status events.
func waitData(t *testing.T, tr *Transport) PeerEvent {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-tr.Inbox():
			if ev.Data != nil {
				return ev
			}
		case <-timeout:
			t.Fatal("no frame within 10s")
		}
	}
}

func waitUp(t *testing.T, tr *Transport, peer uint64) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-tr.Inbox():
			if ev.From == peer && ev.Up {
				return
			}
		case <-timeout:
			t.Fatalf("peer %d not up within 10s", peer)
		}
	}
}

func TestTransportFIFOAllPairs(t *testing.T) {
	ms := testMembers(t, 3)
	trs := map[uint64]*Transport{}
	for _, m := range ms {
		trs[m.ID] = newTestTransport(t, m.ID, ms, 1024)
		defer trs[m.ID].Stop()
	}
	for from, tr := range trs {
		for to := range trs {
			if to == from {
				continue
			}
			for !tr.Connected(to) {
				time.Sleep(time.Millisecond) // polling a condition, not timing
			}
		}
	}
	const n = 200
	for i := range n {
		for from, tr := range trs {
			for to := range trs {
				if to != from {
					tr.Send(to, []byte(fmt.Sprintf("%d>%d:%d", from, to, i)))
				}
			}
		}
	}
	for id, tr := range trs {
		next := map[uint64]int{}
		for range 2 * n {
			ev := waitData(t, tr)
			want := fmt.Sprintf("%d>%d:%d", ev.From, id, next[ev.From])
			if string(ev.Data) != want {
				t.Fatalf("member %d got %q, want %q (FIFO per peer)", id, ev.Data, want)
			}
			next[ev.From]++
		}
	}
}

func TestTransportReconnectAfterRestart(t *testing.T) {
	ms := testMembers(t, 2)
	a := newTestTransport(t, 1, ms, 64)
	defer a.Stop()
	b := newTestTransport(t, 2, ms, 64)
	waitUp(t, a, 2)
	b.Stop()
	b.Stop() // twice is fine
	b = newTestTransport(t, 2, ms, 64)
	defer b.Stop()
	waitUp(t, b, 1)
	for !a.Connected(2) {
		time.Sleep(time.Millisecond)
	}
	a.Send(2, []byte("hello"))
	if ev := waitData(t, b); string(ev.Data) != "hello" || ev.From != 1 {
		t.Fatalf("got %+v, want hello from 1", ev)
	}
}

func TestTransportRejectsStrangers(t *testing.T) {
	ms := testMembers(t, 2)
	a := newTestTransport(t, 2, ms, 64)
	defer a.Stop()
	for _, hs := range [][]byte{[]byte("GARBAGE-GARBAGE-GARB"), append([]byte(peerMagic), make([]byte, 16)...)} {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(ms[1].QuorumPort)))
		if err != nil {
			t.Fatal(err)
		}
		c.Write(hs)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("handshake %q: connection not closed", hs)
		}
		c.Close()
	}
	if a.Connected(1) {
		t.Fatal("a stranger counted as peer 1")
	}
}
