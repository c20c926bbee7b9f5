package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"coordlab/engines/zab/zxid"
)

// Version is what srvr, stat and mntr report. The "built on" date uses the
// MM/dd/yyyy form that go-zookeeper/zk's FLWSrvr parses.
const (
	Version    = "3.8.0-coordlab-zab"
	builtOn    = "01/01/2026 00:00 UTC"
	notServing = "This ZooKeeper instance is not currently serving requests\n"
)

// statusView is a read-only picture of the server, published by the loop
// after each iteration for the 4lw commands, /health and /metrics.
type statusView struct {
	mode         string // leader, follower, standalone, or "" while not serving
	serving      bool
	zxid         zxid.Zxid
	nodeCount    int
	watchCount   int
	ephemerals   int
	dataSize     int64
	sessions     int
	connections  int
	outstanding  int
	learners     int
	synced       int
	pendingSyncs int
	latencyMin   int64
	latencyMax   int64
	latencyAvg   float64
	received     int64
	sent         int64
	clients      []string // stat's "Clients:" lines
	lastProposal int
	minProposal  int
	maxProposal  int
}

func (s *Server) status() *statusView {
	if v := s.statusPtr.Load(); v != nil {
		return v
	}
	return &statusView{}
}

// answerFourLetterWord writes the answer to cmd and closes the connection,
// as ZooKeeper does.
func (s *Server) answerFourLetterWord(cc *clientConn, cmd string) {
	// The answer is not a client packet: ZooKeeper's Sent counts replies to
	// requests only.
	cc.sent.total.Store(nil)
	s.metrics.fourLetterWords.WithLabelValues(cmd).Inc()
	if !s.cfg.FourLetterWordAllowed(cmd) {
		cc.send([]byte(cmd+" is not executed because it is not in the whitelist.\n"), true)
		return
	}
	v := s.status()
	var b strings.Builder
	switch cmd {
	case "ruok":
		b.WriteString("imok")
	case "srvr", "stat":
		if !v.serving {
			b.WriteString(notServing)
			break
		}
		fmt.Fprintf(&b, "Zookeeper version: %s, built on %s\n", Version, builtOn)
		if cmd == "stat" {
			b.WriteString("Clients:\n")
			for _, c := range v.clients {
				b.WriteString(" " + c + "\n")
			}
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "Latency min/avg/max: %d/%.4f/%d\n", v.latencyMin, v.latencyAvg, v.latencyMax)
		fmt.Fprintf(&b, "Received: %d\nSent: %d\nConnections: %d\nOutstanding: %d\n", v.received, v.sent, v.connections, v.outstanding)
		fmt.Fprintf(&b, "Zxid: %s\nMode: %s\nNode count: %d\n", v.zxid.Hex(), v.mode, v.nodeCount)
		if v.mode == "leader" {
			fmt.Fprintf(&b, "Proposal sizes last/min/max: %d/%d/%d\n", v.lastProposal, v.minProposal, v.maxProposal)
		}
	case "mntr":
		if !v.serving {
			b.WriteString(notServing)
			break
		}
		kv := func(k string, val any) { fmt.Fprintf(&b, "zk_%s\t%v\n", k, val) }
		kv("version", Version+", built on "+builtOn)
		kv("server_state", v.mode)
		kv("avg_latency", fmt.Sprintf("%.4f", v.latencyAvg))
		kv("max_latency", v.latencyMax)
		kv("min_latency", v.latencyMin)
		kv("packets_received", v.received)
		kv("packets_sent", v.sent)
		kv("num_alive_connections", v.connections)
		kv("outstanding_requests", v.outstanding)
		kv("znode_count", v.nodeCount)
		kv("watch_count", v.watchCount)
		kv("ephemerals_count", v.ephemerals)
		kv("approximate_data_size", v.dataSize)
		kv("global_sessions", v.sessions)
		kv("uptime", time.Since(s.started).Milliseconds())
		kv("sessionless_connections_expired", s.SessionlessExpired())
		kv("connection_rejected", s.ConnectionsRejected())
		if v.mode == "leader" {
			kv("learners", v.learners)
			kv("synced_followers", v.synced)
			kv("pending_syncs", v.pendingSyncs)
		}
	case "conf":
		c := &s.cfg
		secure := c.SecureClientPort
		if secure == 0 {
			secure = -1 // ZooKeeper's value without a secure port
		}
		fmt.Fprintf(&b, "clientPort=%d\nsecureClientPort=%d\n", c.ClientPort, secure)
		fmt.Fprintf(&b, "dataDir=%s\ndataDirSize=%d\n", c.DataDir, dirSize(c.DataDir))
		fmt.Fprintf(&b, "dataLogDir=%s\ndataLogSize=%d\n", c.LogDir(), dirSize(filepath.Join(c.LogDir(), logSubdir)))
		fmt.Fprintf(&b, "tickTime=%d\nmaxClientCnxns=%d\n", c.TickTime.Milliseconds(), c.MaxClientCnxns)
		fmt.Fprintf(&b, "minSessionTimeout=%d\nmaxSessionTimeout=%d\n", c.MinSession().Milliseconds(), c.MaxSession().Milliseconds())
		fmt.Fprintf(&b, "clientPortListenBacklog=-1\nserverId=%d\n", c.ID)
		if self, ok := c.Self(); ok && c.Distributed() {
			fmt.Fprintf(&b, "initLimit=%d\nsyncLimit=%d\nelectionAlg=3\nelectionPort=%d\nquorumPort=%d\npeerType=0\nmembership: \n",
				c.InitLimit, c.SyncLimit, self.ElectionPort, self.QuorumPort)
			b.WriteString(c.QuorumConfig() + "\n")
		}
	}
	cc.send([]byte(b.String()), true)
}

// packetCounter counts one client connection's packets (stat's recved and
// sent) and adds each to a server-wide total, which srvr and mntr report
// and which, as ZooKeeper's ServerStats, outlives the connection.
type packetCounter struct {
	n     atomic.Int64
	total atomic.Pointer[atomic.Int64] // nil: not counted server-wide
}

func (c *packetCounter) Add(d int64) {
	c.n.Add(d)
	if t := c.total.Load(); t != nil {
		t.Add(d)
	}
}

func (c *packetCounter) Load() int64 { return c.n.Load() }

// millis returns the request latency min, average and max in milliseconds,
// as srvr and mntr print them; zeros before the first request. Samples are
// whole milliseconds (see add), so min <= avg <= max.
func (l *latencyStats) millis() (min int64, avg float64, max int64) {
	if l.n == 0 {
		return 0, 0, 0
	}
	return l.min.Milliseconds(), float64(l.sum.Milliseconds()) / float64(l.n), l.max.Milliseconds()
}

// dirSize sums the sizes of the regular files directly in dir.
func dirSize(dir string) int64 {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range ents {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n
}
