package raftkv

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HTTPHandler serves what etcd serves over HTTP on its client and metrics
// URLs, and nothing more:
//
//	GET  /health        {"health":"true","reason":""} with 200 when a leader is known, else 503
//	GET  /metrics       Prometheus metrics (raftkv_*)
//	GET  /version       {"etcdserver":"3.4.0+raftkv","etcdcluster":"3.4.0"}
//
// The lab's clock endpoint is not here: see AdminHandler.
func (s *Server) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", s.serveHealth)
	mux.Handle("/metrics", promhttp.HandlerFor(s.gather, promhttp.HandlerOpts{}))
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"etcdserver": Version, "etcdcluster": ClusterVersion + ".0"})
	})
	return mux
}

// AdminHandler serves the lab's fault endpoint, which etcd does not have:
//
//	POST /admin/clock   {"offset":"-3s"} shifts this member's lease clock; GET shows it
//
// It has no authentication and one POST can expire every lease of the
// cluster (and delete the keys attached to them) when this member leads, so
// it must be served only on a listener of its own, reachable by the lab and
// nobody else (cmd/raftkv: --admin-listen-url, off by default; never on the
// client, peer or metrics URLs).
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/admin/clock", s.serveClock)
	return mux
}

type healthReply struct {
	Health string `json:"health"`
	Reason string `json:"reason"`
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.donec:
		writeJSON(w, http.StatusServiceUnavailable, healthReply{Health: "false", Reason: "STOPPED"})
		return
	default:
	}
	if s.lead.Load() == 0 {
		writeJSON(w, http.StatusServiceUnavailable, healthReply{Health: "false", Reason: "RAFT NO LEADER"})
		return
	}
	writeJSON(w, http.StatusOK, healthReply{Health: "true", Reason: ""})
}

type clockReply struct {
	Offset string `json:"offset"`
}

func (s *Server) serveClock(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		var req clockReply
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, `body: want {"offset":"<Go duration, e.g. -3s>"}: `+err.Error(), http.StatusBadRequest)
			return
		}
		d, err := time.ParseDuration(req.Offset)
		if err != nil {
			http.Error(w, fmt.Sprintf("offset: want a Go duration such as -3s or 1.5s, got %q", req.Offset), http.StatusBadRequest)
			return
		}
		s.SetClockOffset(d)
		s.log.Warn("lease clock offset set", "offset", d)
	default:
		http.Error(w, "GET or POST", http.StatusMethodNotAllowed)
		return
	}
	writeJSON(w, http.StatusOK, clockReply{Offset: s.ClockOffset().String()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
