package clair_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wharf-registry/wharf/scanner/clair"
	"github.com/wharf-registry/wharf/scanner/report"
)

var (
	psk      = []byte("0123456789abcdef0123456789abcdef")
	wrongPSK = []byte("fedcba9876543210fedcba9876543210")
)

// token signs claims with key, HS256 unless method says otherwise.
func token(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPSK(t *testing.T) {
	h := clair.NewHandler(newMemBackend(), clair.HandlerOptions{PSK: psk})
	now := time.Now()
	exp := now.Add(5 * time.Minute).Unix()
	hs := jwt.SigningMethodHS256
	tests := []struct {
		name          string
		authorization string
		path          string
		wantStatus    int
		invalidToken  bool // the challenge says error="invalid_token"
	}{
		{"Quay's token", "Bearer " + token(t, hs, psk, jwt.MapClaims{"iss": "quay", "exp": exp}), "", 200, false},
		{"clairctl's token", "Bearer " + token(t, hs, psk, jwt.MapClaims{"iss": "clairctl", "exp": exp, "nbf": now.Unix(), "iat": now.Unix()}), "", 200, false},
		{"lower-case scheme", "bearer " + token(t, hs, psk, jwt.MapClaims{"iss": "quay", "exp": exp}), "", 200, false},
		{"expired within the leeway", "Bearer " + token(t, hs, psk, jwt.MapClaims{"iss": "quay", "exp": now.Add(-30 * time.Second).Unix()}), "", 200, false},
		{"not yet valid within the leeway", "Bearer " + token(t, hs, psk, jwt.MapClaims{"iss": "quay", "exp": exp, "nbf": now.Add(30 * time.Second).Unix()}), "", 200, false},
		{"missing", "", "", 401, false},
		{"missing, unknown path", "", "/nope", 401, false},
		{"Basic", "Basic cXVheTpzZWNyZXQ=", "", 401, false},
		{"empty bearer", "Bearer ", "", 401, false},
		{"wrong key", "Bearer " + token(t, hs, wrongPSK, jwt.MapClaims{"iss": "quay", "exp": exp}), "", 401, true},
		{"wrong issuer", "Bearer " + token(t, hs, psk, jwt.MapClaims{"iss": "mallory", "exp": exp}), "", 401, true},
		{"no issuer", "Bearer " + token(t, hs, psk, jwt.MapClaims{"exp": exp}), "", 401, true},
		{"expired", "Bearer " + token(t, hs, psk, jwt.MapClaims{"iss": "quay", "exp": now.Add(-2 * time.Minute).Unix()}), "", 401, true},
		{"not yet valid", "Bearer " + token(t, hs, psk, jwt.MapClaims{"iss": "quay", "exp": exp, "nbf": now.Add(3 * time.Minute).Unix()}), "", 401, true},
		{"no expiry", "Bearer " + token(t, hs, psk, jwt.MapClaims{"iss": "quay"}), "", 401, true},
		{"HS512", "Bearer " + token(t, jwt.SigningMethodHS512, psk, jwt.MapClaims{"iss": "quay", "exp": exp}), "", 401, true},
		{"alg none", "Bearer " + token(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"iss": "quay", "exp": exp}), "", 401, true},
		{"garbage", "Bearer not.a.jwt", "", 401, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr http.Header
			if tt.authorization != "" {
				hdr = http.Header{"Authorization": {tt.authorization}}
			}
			path := tt.path
			if path == "" {
				path = "/indexer/api/v1/index_state"
			}
			rec := do(t, h, http.MethodGet, path, hdr, "")
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus != 401 {
				return
			}
			challenge := rec.Header().Get("WWW-Authenticate")
			if !strings.HasPrefix(challenge, "Bearer ") || strings.Contains(challenge, "invalid_token") != tt.invalidToken {
				t.Errorf("WWW-Authenticate %q", challenge)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/vnd.clair.error.v1+json" {
				t.Errorf("Content-Type %q", ct)
			}
			var e report.Error
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code != "unauthorized" || e.Message == "" {
				t.Errorf("error document %q (%v)", rec.Body, err)
			}
			if strings.Contains(rec.Body.String(), string(psk)) {
				t.Error("the answer shows the key")
			}
		})
	}
}

func TestPSKIssuers(t *testing.T) {
	h := clair.NewHandler(newMemBackend(), clair.HandlerOptions{PSK: psk, Issuers: []string{"wharf"}})
	exp := time.Now().Add(time.Minute).Unix()
	for iss, want := range map[string]int{"wharf": 200, "quay": 401, "clairctl": 401} {
		rec := do(t, h, http.MethodGet, "/indexer/api/v1/index_state", http.Header{"Authorization": {"Bearer " + token(t, jwt.SigningMethodHS256, psk, jwt.MapClaims{"iss": iss, "exp": exp})}}, "")
		if rec.Code != want {
			t.Errorf("issuer %s: %d, want %d", iss, rec.Code, want)
		}
	}
}

func TestClientPSK(t *testing.T) {
	tests := []struct {
		name   string
		opts   clair.ClientOptions
		wantOK bool
	}{
		{"right key", clair.ClientOptions{PSK: psk}, true},
		{"right key, clairctl", clair.ClientOptions{PSK: psk, Issuer: "clairctl"}, true},
		{"wrong key", clair.ClientOptions{PSK: wrongPSK}, false},
		{"wrong issuer", clair.ClientOptions{PSK: psk, Issuer: "mallory"}, false},
		{"no key", clair.ClientOptions{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newMemBackend()
			_, c := serve(t, b, clair.HandlerOptions{PSK: psk}, tt.opts)
			m := manifest("authed", 1)
			_, err := c.Index(t.Context(), m)
			if tt.wantOK {
				if err != nil {
					t.Fatal(err)
				}
				// Every call signs its own token.
				for range 3 {
					if _, err := c.VulnerabilityReport(t.Context(), m.Hash); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			var se *clair.StatusError
			if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized || se.Code != "unauthorized" {
				t.Errorf("%v, want a 401 StatusError", err)
			}
			if b.indexCalls != 0 {
				t.Error("the backend was called without authentication")
			}
		})
	}
}
