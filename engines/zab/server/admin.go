package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus collectors, on a registry of its own
// so that several servers can live in one test process.
type metrics struct {
	reg             *prometheus.Registry
	packetsReceived prometheus.Counter
	badFrames       prometheus.Counter
	fourLetterWords *prometheus.CounterVec
	proposals       prometheus.Counter
	committed       prometheus.Counter
	fsyncs          prometheus.Counter
	fsyncSeconds    prometheus.Histogram
	batchTxns       prometheus.Histogram
	requestSeconds  *prometheus.HistogramVec
	sessionsExpired prometheus.Counter
	leaderChanges   prometheus.Counter
	snapshots       prometheus.Counter

	// Client packets since start, over every connection (srvr's and mntr's
	// Received and Sent; see packetCounter).
	clientReceived atomic.Int64
	clientSent     atomic.Int64
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.packetsReceived = prometheus.NewCounter(prometheus.CounterOpts{Name: "zab_client_packets_received_total", Help: "Client frames received."})
	m.badFrames = prometheus.NewCounter(prometheus.CounterOpts{Name: "zab_client_bad_frames_total", Help: "Client connections closed for a malformed or oversized frame."})
	m.fourLetterWords = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zab_four_letter_words_total", Help: "Four-letter-word commands received."}, []string{"cmd"})
	m.proposals = prometheus.NewCounter(prometheus.CounterOpts{Name: "zab_proposals_total", Help: "Txns proposed by this member as leader."})
	m.committed = prometheus.NewCounter(prometheus.CounterOpts{Name: "zab_committed_txns_total", Help: "Committed txns applied to the tree."})
	m.fsyncs = prometheus.NewCounter(prometheus.CounterOpts{Name: "zab_fsyncs_total", Help: "Log fsyncs (one per persisted batch)."})
	m.fsyncSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "zab_fsync_seconds", Help: "Time to write and fsync one batch.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)})
	m.batchTxns = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "zab_fsync_batch_txns", Help: "Txns made durable by one fsync.", Buckets: prometheus.ExponentialBuckets(1, 2, 12)})
	m.requestSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "zab_request_seconds", Help: "Client request latency from receipt to reply.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18)}, []string{"kind"})
	m.sessionsExpired = prometheus.NewCounter(prometheus.CounterOpts{Name: "zab_sessions_expired_total", Help: "Sessions this member expired as leader."})
	m.leaderChanges = prometheus.NewCounter(prometheus.CounterOpts{Name: "zab_role_changes_total", Help: "Role changes of this member."})
	m.snapshots = prometheus.NewCounter(prometheus.CounterOpts{Name: "zab_snapshots_total", Help: "Snapshots written."})
	for _, c := range []prometheus.Collector{m.packetsReceived, m.badFrames, m.fourLetterWords, m.proposals, m.committed, m.fsyncs,
		m.fsyncSeconds, m.batchTxns, m.requestSeconds, m.sessionsExpired, m.leaderChanges, m.snapshots} {
		f(c)
	}
	gauge := func(name, help string, get func(v *statusView) float64) {
		f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return get(s.status()) }))
	}
	gauge("zab_is_leader", "1 if this member leads.", func(v *statusView) float64 { return b2f(v.mode == "leader") })
	gauge("zab_serving", "1 if this member serves clients.", func(v *statusView) float64 { return b2f(v.serving) })
	gauge("zab_last_zxid", "Last applied zxid.", func(v *statusView) float64 { return float64(v.zxid) })
	gauge("zab_znode_count", "Znodes in the tree.", func(v *statusView) float64 { return float64(v.nodeCount) })
	gauge("zab_sessions", "Live sessions.", func(v *statusView) float64 { return float64(v.sessions) })
	gauge("zab_client_connections", "Open client connections.", func(v *statusView) float64 { return float64(v.connections) })
	gauge("zab_clock_skew_seconds", "Injected session clock skew.", func(*statusView) float64 { return time.Duration(s.clock.skew.Load()).Seconds() })
	return m
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// skewClock is the server's clock: wall time plus an offset the lab sets
// through POST /admin/clock (on zab.adminAddress) to model clock skew. Session expiry and txn
// times use it.
type skewClock struct {
	now  func() time.Time
	skew atomic.Int64 // nanoseconds
}

func (c *skewClock) Now() time.Time { return c.now().Add(time.Duration(c.skew.Load())) }

// Real is the clock without the offset. Session deadlines are set from it
// and checked against Now, so an offset of +d makes the leader expire every
// session d early (its clock runs ahead of the clients'), deterministically:
// a later touch does not absorb the jump.
func (c *skewClock) Real() time.Time { return c.now() }

// httpHandler serves the read-only endpoints of zab.httpAddress: /health,
// /metrics and /debug/pprof. Nothing here changes the server; /admin/clock
// is on the admin listener only (see clockHandler).
func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		v := s.status()
		w.Header().Set("Content-Type", "application/json")
		code := http.StatusOK
		if !v.serving {
			code = http.StatusServiceUnavailable
		}
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]any{"health": v.serving, "mode": v.mode, "zxid": v.zxid.Hex(), "id": s.cfg.ID})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	// Profiles for the benchmark: read-only, but they cost CPU; bind
	// zab.httpAddress to loopback or a private network.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	return mux
}

// clockHandler serves /admin/clock on zab.adminAddress, a listener of its
// own: the endpoint has no authentication and one POST can expire every
// session, so it is off unless asked for and never shares an address with
// /health or /metrics.
func (s *Server) clockHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/clock", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"offset": time.Duration(s.clock.skew.Load()).String()})
	})
	// POST /admin/clock {"offset":"5s"} sets the session clock's offset
	// from wall time (negative allowed); {"offset":"0s"} resets it.
	mux.HandleFunc("POST /admin/clock", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Offset string `json:"offset"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
			http.Error(w, `want JSON {"offset":"<Go duration, e.g. 5s or -2s>"}: `+err.Error(), http.StatusBadRequest)
			return
		}
		d, err := time.ParseDuration(req.Offset)
		if err != nil {
			http.Error(w, `offset: want a Go duration like "5s" or "-250ms", got `+fmt.Sprintf("%q", req.Offset), http.StatusBadRequest)
			return
		}
		s.clock.skew.Store(int64(d))
		s.logger.Info("session clock skew set", "offset", d.String())
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"offset": d.String()})
	})
	return mux
}
