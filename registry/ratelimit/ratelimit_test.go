package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestLimiterAnswers429WithRetryAfter(t *testing.T) {
	l := New(1, 3)
	h := l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	send := func(addr string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/v2/", nil)
		req.RemoteAddr = addr
		h.ServeHTTP(rec, req)
		return rec
	}
	for i := 0; i < 3; i++ {
		if rec := send("10.0.0.1:1000"); rec.Code != http.StatusNoContent {
			t.Fatalf("request %d within the burst: %d", i, rec.Code)
		}
	}
	rec := send("10.0.0.1:1001")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("over the burst: %d, Retry-After %q; want 429 and 1", rec.Code, rec.Header().Get("Retry-After"))
	}
	if rec := send("10.0.0.2:1000"); rec.Code != http.StatusNoContent {
		t.Fatalf("another address is limited too: %d", rec.Code)
	}
}
