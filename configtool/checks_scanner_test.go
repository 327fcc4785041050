package configtool

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// clairIndexer serves Clair v4's index_state endpoint as Clair does: GET only, JSON with the
// state and an ETag, and, with a PSK, only for requests carrying a JWT signed with it
// (HS256) by an issuer Clair accepts. (A real Clair is not installable offline; `wharf
// scanner serve` will speak the same API.)
func clairIndexer(t *testing.T, psk []byte) http.Handler {
	t.Helper()
	const state = "8a2c4e0f1b3d5a7c"
	mux := http.NewServeMux()
	mux.HandleFunc("GET /indexer/api/v1/index_state", func(w http.ResponseWriter, r *http.Request) {
		if psk != nil {
			raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			_, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return psk, nil },
				jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("quay"), jwt.WithExpirationRequired())
			if !ok || err != nil {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"`+state+`"`)
		json.NewEncoder(w).Encode(map[string]string{"state": state})
	})
	return mux
}

func TestScannerCheck(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	psk := base64.StdEncoding.EncodeToString(key)
	open := httptest.NewServer(clairIndexer(t, nil))
	defer open.Close()
	guarded := httptest.NewServer(clairIndexer(t, key))
	defer guarded.Close()
	secure := httptest.NewTLSServer(clairIndexer(t, nil))
	defer secure.Close()
	secureCA := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: secure.Certificate().Raw}))
	notClair := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/indexer/api/v1/index_state" {
			w.Write([]byte("<html>hello</html>"))
			return
		}
		http.NotFound(w, r)
	}))
	defer notClair.Close()
	closed := testservers.FreePort(t)
	scanner := func(endpoint, psk string) string {
		c := "FEATURE_SECURITY_SCANNER: true\nSECURITY_SCANNER_V4_ENDPOINT: " + endpoint + "\n"
		if psk != "" {
			c += "SECURITY_SCANNER_V4_PSK: " + psk + "\n"
		}
		return c
	}
	cases := []struct {
		name   string
		config string
		files  map[string]string
		wants  []want
	}{
		{"healthy", scanner(open.URL, ""), nil,
			[]want{{StatusOK, "index state", "SECURITY_SCANNER_V4_ENDPOINT", []string{"the scanner at " + open.URL + " is healthy", "8a2c4e0f1b3d5a7c"}}}},
		{"trailing slash", scanner(open.URL+"/", ""), nil,
			[]want{{StatusOK, "index state", "", nil}}},
		{"signed with the right PSK", scanner(guarded.URL, psk), nil,
			[]want{{StatusOK, "index state", "", []string{"healthy"}}}},
		{"signed with the wrong PSK", scanner(guarded.URL, base64.StdEncoding.EncodeToString([]byte("another key"))), nil,
			[]want{{StatusFailed, "index state", "SECURITY_SCANNER_V4_PSK", []string{"refused the request signed with SECURITY_SCANNER_V4_PSK", "401"}}}},
		{"no PSK where one is needed", scanner(guarded.URL, ""), nil,
			[]want{{StatusFailed, "index state", "SECURITY_SCANNER_V4_PSK", []string{"wants authentication", "set SECURITY_SCANNER_V4_PSK"}}}},
		{"HTTPS with the CA in extra_ca_certs", scanner(secure.URL, ""), map[string]string{"extra_ca_certs/scanner.pem": secureCA},
			[]want{{StatusOK, "index state", "", []string{"healthy"}}}},
		{"HTTPS without its CA", scanner(secure.URL, ""), nil,
			[]want{{StatusFailed, "index state", "SECURITY_SCANNER_V4_ENDPOINT", []string{"unknown authority", "extra_ca_certs"}}}},
		{"the endpoint includes the API path", scanner(open.URL+"/indexer", ""), nil,
			[]want{{StatusFailed, "index state", "", []string{"answered 404", "without /indexer"}}}},
		{"not a Clair", scanner(notClair.URL, ""), nil,
			[]want{{StatusFailed, "index state", "", []string{"not with Clair's index state"}}}},
		{"closed port", scanner("http://127.0.0.1:"+strconv.Itoa(closed), ""), nil,
			[]want{{StatusFailed, "index state", "SECURITY_SCANNER_V4_ENDPOINT", []string{"connection refused", "check SECURITY_SCANNER_V4_ENDPOINT"}}}},
		{"built-in scanner", "FEATURE_SECURITY_SCANNER: true\n", nil,
			[]want{{StatusSkipped, "index state", "", []string{"built-in scanner"}}}},
		{"scanner off", "FEATURE_SECURITY_SCANNER: false\nSECURITY_SCANNER_V4_ENDPOINT: http://clair:8080\n", nil,
			[]want{{StatusSkipped, "index state", "", []string{"FEATURE_SECURITY_SCANNER is off"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expect(t, checkGroup(t, GroupScanner, c.config, c.files), c.wants...)
		})
	}
}

func TestScannerSettingProblems(t *testing.T) {
	problems := problemsOf(t, "FEATURE_SECURITY_SCANNER: true\nSECURITY_SCANNER_V4_ENDPOINT: http://clair:8080\nSECURITY_SCANNER_V4_PSK: not*base64!\n", nil)
	if len(problems) != 1 {
		t.Errorf("got %d problems, want 1: %v", len(problems), problems)
	}
	expectProblem(t, problems, "SECURITY_SCANNER_V4_PSK", 3, "not base64")
	// As in Quay, the PSK is optional.
	if problems := problemsOf(t, "FEATURE_SECURITY_SCANNER: true\nSECURITY_SCANNER_V4_ENDPOINT: http://clair:8080\n", nil); len(problems) != 0 {
		t.Errorf("problems without a PSK: %v", problems)
	}
}
