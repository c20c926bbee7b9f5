package main

import (
	"bytes"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// pingUntilGoAway opens a gRPC stream (a Watch) on addr over raw HTTP/2,
// then pings every interval, n times, and reports whether the server sent
// GOAWAY with gRPC's "too_many_pings".
func pingUntilGoAway(t *testing.T, addr string, interval time.Duration, n int) bool {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", "/etcdserverpb.Watch/Watch"},
		{":authority", addr}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	// The reader answers SETTINGS while this goroutine pings: a Framer's
	// writes share one buffer, so they take turns.
	var wmu sync.Mutex
	goaway := make(chan string, 1)
	go func() {
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				close(goaway)
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					wmu.Lock()
					_ = fr.WriteSettingsAck()
					wmu.Unlock()
				}
			case *http2.GoAwayFrame:
				goaway <- f.ErrCode.String() + " " + string(f.DebugData())
				return
			}
		}
	}()
	time.Sleep(200 * time.Millisecond) // the stream is open before the first ping
	for i := range n {
		wmu.Lock()
		err := fr.WritePing(false, [8]byte{byte(i)})
		wmu.Unlock()
		if err != nil {
			break
		}
		time.Sleep(interval)
	}
	select {
	case g, ok := <-goaway:
		return ok && strings.Contains(g, "too_many_pings")
	case <-time.After(time.Second):
		return false
	}
}

// TestGRPCKeepaliveEnforced: --grpc-keepalive-min-time is the server's
// keepalive enforcement policy, as etcd sets it: a client pinging more often
// gets GOAWAY "too_many_pings"; one within the limit keeps its connection.
func TestGRPCKeepaliveEnforced(t *testing.T) {
	strict := startSingle(t) // etcd's default: 5s
	if !pingUntilGoAway(t, strings.TrimPrefix(strict.client, "http://"), 100*time.Millisecond, 6) {
		t.Error("pings every 100ms with the default --grpc-keepalive-min-time=5s: no GOAWAY too_many_pings")
	}
	lax := startSingle(t, "--grpc-keepalive-min-time", "10ms")
	if pingUntilGoAway(t, strings.TrimPrefix(lax.client, "http://"), 100*time.Millisecond, 6) {
		t.Error("pings every 100ms with --grpc-keepalive-min-time=10ms: GOAWAY too_many_pings")
	}
}
