package server

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// Latency samples are whole milliseconds, so the average never leaves
// [min, max] (srvr printed 2/2.2020/2 when the average kept the fractions
// that min and max dropped).
func TestLatencyMillis(t *testing.T) {
	var l latencyStats
	if mn, avg, mx := l.millis(); mn != 0 || avg != 0 || mx != 0 {
		t.Fatalf("no requests: %d/%v/%d, want 0/0/0", mn, avg, mx)
	}
	for _, d := range []time.Duration{2200 * time.Microsecond, 2900 * time.Microsecond, 2100 * time.Microsecond} {
		l.add(d)
	}
	mn, avg, mx := l.millis()
	if mn != 2 || mx != 2 || avg != 2 {
		t.Fatalf("2.2, 2.9, 2.1 ms: min/avg/max %d/%v/%d, want 2/2/2", mn, avg, mx)
	}
	l.add(700 * time.Microsecond)
	l.add(5 * time.Millisecond)
	if mn, avg, mx := l.millis(); mn != 0 || mx != 5 || avg != 11.0/5 {
		t.Fatalf("after 0.7 and 5 ms: %d/%v/%d, want 0/2.2/5", mn, avg, mx)
	}
}

// fourLWFields parses "key: value" lines (srvr) or "zk_key\tvalue" lines (mntr).
func fourLWFields(out string) map[string]string {
	f := map[string]string{}
	for line := range strings.SplitSeq(out, "\n") {
		if k, v, ok := strings.Cut(line, "\t"); ok {
			f[k] = v
		} else if k, v, ok := strings.Cut(line, ": "); ok {
			f[k] = v
		}
	}
	return f
}

// TestSrvrCountersAfterRequests: srvr and mntr count the packets and the
// latency of every request served since start, including those of
// connections that are gone (they printed Received: 0 / Sent: 0 once the
// clients had left), and each four-letter word is a packet in and its
// answer one out, as ZooKeeper 3.8 counts them.
func TestSrvrCountersAfterRequests(t *testing.T) {
	ss := startInProcess(t, 1, func(c *Config) { c.FourLetterWords = []string{"*"} })
	s := waitLeader(t, ss)
	c := zkConnect(t, s.ClientAddr())
	const n = 20
	for i := range n {
		p := fmt.Sprintf("/c%d", i)
		if _, err := c.Create(p, []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Get(p); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	// connect + 2n requests + closeSession in; as many replies out (and
	// pings both ways, if any).
	const want = 2*n + 2
	// The loop publishes its status now and then: wait for one taken after
	// the close, with the requests counted (an older one says 0 of both).
	deadline := time.Now().Add(10 * time.Second)
	for st := s.status(); st.connections != 0 || st.received < want || st.sent < want; st = s.status() {
		if time.Now().After(deadline) {
			t.Fatalf("published status 10s after Close: %d connections, %d received, %d sent", st.connections, st.received, st.sent)
		}
		time.Sleep(10 * time.Millisecond) // polling the published status
	}
	srvr := fourLWFields(fourLW(t, s.ClientAddr(), "srvr"))
	mntr := fourLWFields(fourLW(t, s.ClientAddr(), "mntr"))
	num := func(m map[string]string, k string) float64 {
		t.Helper()
		v, err := strconv.ParseFloat(m[k], 64)
		if err != nil {
			t.Fatalf("%s: %q is not a number (%v)", k, m[k], err)
		}
		return v
	}
	if got := num(srvr, "Received"); got < want {
		t.Fatalf("srvr Received: %v after %d requests, want >= %d", got, 2*n, want)
	}
	if got := num(srvr, "Sent"); got < want {
		t.Fatalf("srvr Sent: %v after %d replies, want >= %d", got, 2*n, want)
	}
	// As ZooKeeper 3.8 (NIOServerCnxn.checkFourLetterWord counts the command
	// received, its answer sent): mntr sees srvr's answer and itself.
	if num(mntr, "zk_packets_received") != num(srvr, "Received")+1 || num(mntr, "zk_packets_sent") != num(srvr, "Sent")+1 {
		t.Fatalf("mntr packets %s/%s after srvr's %s/%s: want one more of each (srvr's answer, mntr's command)",
			mntr["zk_packets_received"], mntr["zk_packets_sent"], srvr["Received"], srvr["Sent"])
	}
	lat := strings.Split(srvr["Latency min/avg/max"], "/")
	if len(lat) != 3 {
		t.Fatalf("srvr latency line %q", srvr["Latency min/avg/max"])
	}
	mn, _ := strconv.ParseFloat(lat[0], 64)
	avg, _ := strconv.ParseFloat(lat[1], 64)
	mx, _ := strconv.ParseFloat(lat[2], 64)
	if mn > avg || avg > mx {
		t.Fatalf("srvr latency min/avg/max %v/%v/%v: want min <= avg <= max", mn, avg, mx)
	}
	if num(mntr, "zk_min_latency") != mn || num(mntr, "zk_max_latency") != mx || num(mntr, "zk_avg_latency") != avg {
		t.Fatalf("mntr latency %s/%s/%s differs from srvr's %v/%v/%v", mntr["zk_min_latency"], mntr["zk_avg_latency"], mntr["zk_max_latency"], mn, avg, mx)
	}
}
