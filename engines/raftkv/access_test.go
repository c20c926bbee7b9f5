package raftkv

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAccessController: --host-whitelist refuses unknown Host headers over
// plain HTTP with 421; --cors sends CORS headers for allowed origins (every
// response with the default *), and OPTIONS is answered at once.
func TestAccessController(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	log := slog.New(slog.DiscardHandler)
	do := func(h http.Handler, method, host, origin string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "http://"+host+"/health", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	def := accessController(Config{CORS: []string{"*"}, HostWhitelist: []string{"*"}}, log, ok)
	if w := do(def, "GET", "evil.example:2379", ""); w.Code != http.StatusTeapot || w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("defaults: %d %v", w.Code, w.Header())
	}
	strict := accessController(Config{CORS: []string{"https://ui.example"}, HostWhitelist: []string{"etcd.local", "127.0.0.1"}}, log, ok)
	w := do(strict, "GET", "evil.example:2379", "")
	if w.Code != http.StatusMisdirectedRequest || !strings.Contains(w.Body.String(), `etcd --host-whitelist "evil.example"`) {
		t.Fatalf("unlisted host: %d %q", w.Code, w.Body.String())
	}
	if w := do(strict, "GET", "etcd.local:2379", "https://ui.example"); w.Code != http.StatusTeapot || w.Header().Get("Access-Control-Allow-Origin") != "https://ui.example" {
		t.Fatalf("listed host, allowed origin: %d %v", w.Code, w.Header())
	}
	if w := do(strict, "GET", "127.0.0.1:2379", "https://other.example"); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("origin not allowed got CORS headers: %v", w.Header())
	}
	if w := do(strict, "OPTIONS", "127.0.0.1:2379", "https://ui.example"); w.Code != http.StatusOK {
		t.Fatalf("OPTIONS: %d", w.Code)
	}
}
