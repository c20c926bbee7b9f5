package server

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"coordlab/engines/zab/znode"
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
	watchConns   int // wchs: data watches only
	watchPaths   int
	watchTotal   int
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

// inLoop runs f in the loop and waits for it; false if the loop did not
// take it within 100 ms (busy, or stopping).
func (s *Server) inLoop(f func()) bool {
	done := make(chan struct{})
	timeout := time.NewTimer(100 * time.Millisecond)
	defer timeout.Stop()
	select {
	case s.loopCalls <- func() { f(); close(done) }:
	case <-timeout.C:
		return false
	case <-s.stopCh:
		return false
	}
	select {
	case <-done:
		return true
	case <-s.stopCh:
		return false
	}
}

// freshStatus asks the loop for a view taken now, as ZooKeeper's
// four-letter words read live counters; if the loop does not take the
// request in time the last published view, at most half a tickTime old,
// is used.
func (s *Server) freshStatus() *statusView {
	s.inLoop(s.publishStatus)
	return s.status()
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
	// As ZooKeeper's NIOServerCnxn: the command is a received packet and
	// its answer a sent one, and this connection is one of the server's
	// while it is answered (srvr, stat and mntr count it).
	cc.received.Add(1)
	s.metrics.fourLetterWords.WithLabelValues(cmd).Inc()
	if !s.cfg.FourLetterWordAllowed(cmd) {
		cc.send([]byte(cmd+" is not executed because it is not in the whitelist.\n"), true)
		return
	}
	v := *s.freshStatus()
	v.received = s.metrics.clientReceived.Load()
	v.sent = s.metrics.clientSent.Load()
	v.connections++
	// DataTree.getNodeCount: ZooKeeper's node map holds the root twice
	// (as "" and "/").
	v.nodeCount++
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
			fmt.Fprintf(&b, " /%s[0](queued=0,recved=1,sent=0)\n", cc.c.RemoteAddr().String())
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "Latency min/avg/max: %d/%s/%d\n", v.latencyMin, javaDouble(round4(v.latencyAvg)), v.latencyMax)
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
		kv("avg_latency", javaDouble(round4(v.latencyAvg)))
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
		kv("local_sessions", 0) // zab has no local sessions
		if open, limit, ok := fileDescriptors(); ok {
			kv("open_file_descriptor_count", open)
			kv("max_file_descriptor_count", limit)
		}
		kv("sessionless_connections_expired", s.SessionlessExpired())
		kv("connection_rejected", s.ConnectionsRejected())
		if v.mode == "leader" {
			kv("learners", v.learners)
			kv("synced_followers", v.synced)
			kv("pending_syncs", v.pendingSyncs)
		}
	case "srst":
		// ServerStats.reset: latency and packet counters.
		if s.inLoop(func() {
			s.st.lat = latencyStats{}
			s.metrics.clientReceived.Store(0)
			s.metrics.clientSent.Store(0)
			s.publishStatus()
		}) {
			b.WriteString("Server stats reset.\n")
		} else {
			b.WriteString(notServing)
		}
	case "crst":
		// ServerCnxn.resetStats on every connection: its own counters.
		if s.inLoop(func() {
			for c := range s.st.conns {
				c.received.n.Store(0)
				c.sent.n.Store(0)
			}
			cc.received.n.Store(0)
			cc.sent.n.Store(0)
		}) {
			b.WriteString("Connection stats reset.\n")
		} else {
			b.WriteString(notServing)
		}
	case "cons":
		var lines []string
		if !s.inLoop(func() { lines = s.connectionLines() }) {
			b.WriteString(notServing)
			break
		}
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
		fmt.Fprintf(&b, " /%s[0](queued=0,recved=1,sent=0)\n\n", cc.c.RemoteAddr().String())
	case "wchc", "wchp":
		var dump string
		if !v.serving || !s.inLoop(func() { dump = s.dumpDataWatches(cmd == "wchp") }) {
			b.WriteString(notServing)
			break
		}
		b.WriteString(dump + "\n")
	case "isro":
		// ZooKeeper's read-only mode answers ro; zab's read-only service
		// after a failed disk write is the same to a client.
		if v.mode == readOnlyMode {
			b.WriteString("ro")
		} else {
			b.WriteString("rw")
		}
	case "dirs":
		if !v.serving {
			b.WriteString(notServing)
			break
		}
		fmt.Fprintf(&b, "datadir_size: %d\nlogdir_size: %d\n", dirSize(snapDir(s.cfg.DataDir)), dirSize(filepath.Join(s.cfg.LogDir(), logSubdir)))
	case "wchs":
		if !v.serving {
			b.WriteString(notServing)
			break
		}
		fmt.Fprintf(&b, "%d connections watching %d paths\nTotal watches:%d\n", v.watchConns, v.watchPaths, v.watchTotal)
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
		id := c.ID
		if !c.Distributed() {
			id = 0 // a standalone ZooKeeper has no server id
		}
		fmt.Fprintf(&b, "clientPortListenBacklog=-1\nserverId=%d\n", id)
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

// javaDouble formats v as Java's Double.toString does (ZooKeeper prints
// averages with it): "0.0", "1.5", "0.3333333333333333", and E notation
// below 1e-3 and from 1e7 on.
func javaDouble(v float64) string {
	a := math.Abs(v)
	if a == 0 || a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(v, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(v, 'E', -1, 64) // 1.5E-04
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

// round4 rounds half up to 4 decimals, as ZooKeeper's AvgMinMaxCounter.getAvg
// (BigDecimal.setScale(4, HALF_UP)) before printing.
func round4(v float64) float64 { return math.Floor(v*10000+0.5) / 10000 }

// dumpDataWatches is ZooKeeper 3.8's WatchManager.dumpWatches over the
// data watches (wchp by path, wchc by session), in the order its HashMaps
// and HashSets of paths iterate; sessions in id order (ZooKeeper's follow
// object identity). Loop-owned.
func (s *Server) dumpDataWatches(byPath bool) string {
	var b strings.Builder
	watches := s.tree.DataWatches()
	sid := func(c znode.ConnID) int64 {
		if cc := s.st.byConnID[c]; cc != nil {
			return cc.session
		}
		return 0
	}
	if byPath {
		paths := make([]string, 0, len(watches))
		for p := range watches {
			paths = append(paths, p)
		}
		for _, p := range javaHashOrder(paths) {
			b.WriteString(p + "\n")
			ids := make([]int64, 0, len(watches[p]))
			for _, c := range watches[p] {
				ids = append(ids, sid(c))
			}
			slices.Sort(ids)
			for _, id := range ids {
				fmt.Fprintf(&b, "\t0x%x\n", uint64(id))
			}
		}
		return b.String()
	}
	bySession := map[int64][]string{}
	for p, conns := range watches {
		for _, c := range conns {
			bySession[sid(c)] = append(bySession[sid(c)], p)
		}
	}
	ids := make([]int64, 0, len(bySession))
	for id := range bySession {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		fmt.Fprintf(&b, "0x%x\n", uint64(id))
		for _, p := range javaHashOrder(bySession[id]) {
			b.WriteString("\t" + p + "\n")
		}
	}
	return b.String()
}

// javaHashOrder orders distinct strings as a java.util.HashMap or HashSet
// of them iterates: by bin (the spread String.hashCode masked by the
// table size, 16 doubled while more than 3/4 full), ties by name.
func javaHashOrder(keys []string) []string {
	n := 16
	for len(keys) > n*3/4 {
		n *= 2
	}
	bin := func(k string) int {
		h := javaStringHash(k)
		return int((h ^ int32(uint32(h)>>16)) & int32(n-1))
	}
	out := slices.Clone(keys)
	slices.SortFunc(out, func(a, b string) int {
		if d := bin(a) - bin(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return out
}

// connectionLines is cons's line for each client connection, as
// ServerCnxn.dumpConnectionInfo prints it (in connection order; ZooKeeper's
// follows a hash set). Loop-owned.
func (s *Server) connectionLines() []string {
	var out []string
	conns := make([]*clientConn, 0, len(s.st.conns))
	for c := range s.st.conns {
		conns = append(conns, c)
	}
	slices.SortFunc(conns, func(a, b *clientConn) int { return int(a.id) - int(b.id) })
	for _, c := range conns {
		var b strings.Builder
		fmt.Fprintf(&b, " /%s[1](queued=%d,recved=%d,sent=%d", c.c.RemoteAddr().String(), c.queued.Load(), c.received.Load(), c.sent.Load())
		if ls := s.st.sessions[c.session]; c.session != 0 && ls != nil {
			st := c.stats
			if st.lastOp == "" {
				st.lastOp = "NA"
			}
			fmt.Fprintf(&b, ",sid=0x%x,lop=%s,est=%d,to=%d", uint64(c.session), st.lastOp, c.established.UnixMilli(), ls.timeout)
			if st.lastCxid >= 0 {
				fmt.Fprintf(&b, ",lcxid=0x%x", st.lastCxid)
			}
			var avg int64
			if st.count > 0 {
				avg = st.total / st.count
			}
			fmt.Fprintf(&b, ",lzxid=0x%x,lresp=%d,llat=%d,minlat=%d,avglat=%d,maxlat=%d", uint64(st.lastZxid), st.lastResp, st.last, st.min, avg, st.max)
		}
		b.WriteString(")")
		out = append(out, b.String())
	}
	return out
}
