package raftkv

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The clock endpoint can expire every lease: it must not be reachable
// through the handler served on the client and metrics URLs.
func TestClockEndpointOnlyOnAdminHandler(t *testing.T) {
	c := newTestCluster(t, 1, nil)
	s := c.servers[0]

	post := func(h http.Handler, body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/admin/clock", strings.NewReader(body)))
		return rec
	}
	if rec := post(s.HTTPHandler(), `{"offset":"2h"}`); rec.Code != http.StatusNotFound {
		t.Fatalf("POST /admin/clock on HTTPHandler: status %d (%s), want 404", rec.Code, rec.Body)
	}
	// Nor on the peer URL, over the real listener.
	resp, err := http.Post(c.cfgs[0].PeerURLs[0]+"/admin/clock", "application/json", strings.NewReader(`{"offset":"2h"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("POST /admin/clock on the peer URL: status %d, want 404", resp.StatusCode)
	}
	if got := s.ClockOffset(); got != 0 {
		t.Fatalf("after POSTs on HTTPHandler and the peer URL the lease clock offset is %v, want 0", got)
	}

	rec := post(s.AdminHandler(), `{"offset":"-3s"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("POST /admin/clock on AdminHandler: status %d (%s), want 200", rec.Code, rec.Body)
	}
	var reply clockReply
	if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil || reply.Offset != "-3s" {
		t.Fatalf("POST /admin/clock on AdminHandler answered %q (%v), want offset -3s", rec.Body, err)
	}
	if got := s.ClockOffset(); got != -3*time.Second {
		t.Fatalf("lease clock offset %v, want -3s", got)
	}
	if rec := post(s.AdminHandler(), `{"offset":"soon"}`); rec.Code != http.StatusBadRequest {
		t.Fatalf("POST bad offset: status %d, want 400", rec.Code)
	}
	for _, path := range []string{"/health", "/metrics", "/version"} {
		rec := httptest.NewRecorder()
		s.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s on AdminHandler: status %d, want 404 (it serves only /admin/clock)", path, rec.Code)
		}
	}
}
