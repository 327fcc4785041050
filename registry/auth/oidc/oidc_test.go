package oidc

import (
	"context"
	"crypto/x509"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/wharf-registry/wharf/internal/testservers"
)

func TestMain(m *testing.M) { testservers.Main(m) }

var (
	alice      = testservers.DexUser{Email: "alice@example.com", Username: "alice", Password: "alice-password"}
	testSecret = "wharf-client-secret"
	testKey    = []byte("0123456789abcdef0123456789abcdef")
)

// site is a web site with one OIDC login: the provider's handler, and an onLogin that shows
// who signed in.
type site struct {
	*httptest.Server
	p *Provider

	handler http.Handler  // set once the provider exists
	ready   chan struct{} // closed then

	mu       sync.Mutex
	logins   []login
	statuses []int         // of the callback's answers
	headers  []http.Header // of the callback's answers
}

type login struct {
	id   Identity
	next string
}

// newSite starts the web server; its provider comes later, from attach, since the provider
// needs the server's URL.
func newSite(t *testing.T) *site {
	s := &site{ready: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-s.ready
		rec := &recorder{ResponseWriter: w}
		s.handler.ServeHTTP(rec, r)
		if r.URL.Path == s.p.CallbackPath() {
			s.mu.Lock()
			s.statuses = append(s.statuses, rec.status)
			s.headers = append(s.headers, w.Header().Clone())
			s.mu.Unlock()
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *site) redirectURL() string { return s.URL + "/oauth2/oidc/callback" }

// attach creates the site's provider from cfg, filling in what the site decides.
func (s *site) attach(t *testing.T, cfg Config) *Provider {
	t.Helper()
	cfg.Name = "oidc"
	cfg.ServiceName = "Dex"
	cfg.RedirectURL = s.redirectURL()
	if cfg.StateKey == nil {
		cfg.StateKey = testKey
	}
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s.p = p
	mux := http.NewServeMux()
	mux.Handle("/oauth2/oidc/", p.Handler(func(w http.ResponseWriter, r *http.Request, id Identity, next string) {
		s.mu.Lock()
		s.logins = append(s.logins, login{id, next})
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><p id="who">signed in as %s %s</p><p id="next">%s</p>`,
			html.EscapeString(id.Username), html.EscapeString(id.Email), html.EscapeString(next))
	}))
	s.handler = mux
	close(s.ready)
	return p
}

func (s *site) lastCallback() (int, http.Header, []login) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.statuses) == 0 {
		return 0, nil, nil
	}
	return s.statuses[len(s.statuses)-1], s.headers[len(s.headers)-1], append([]login(nil), s.logins...)
}

// testWriter writes a provider's log to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// browserLogin starts a login at the site in the browser, signs in at Dex's form and returns
// the text of the page the browser ends on and its address.
func browserLogin(t *testing.T, browser context.Context, startURL string, user testservers.DexUser) (text, location string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(browser, 60*time.Second)
	defer cancel()
	err := chromedp.Run(ctx,
		chromedp.Navigate(startURL),
		chromedp.WaitVisible("#login", chromedp.ByQuery),
		chromedp.SendKeys("#login", user.Email, chromedp.ByQuery),
		chromedp.SendKeys("#password", user.Password, chromedp.ByQuery),
		chromedp.Click("#submit-login", chromedp.ByQuery),
		// The site's answer: onLogin's page, or the login's error page.
		chromedp.WaitVisible("#who, #oidc-error", chromedp.ByQuery),
		chromedp.Text("body", &text, chromedp.ByQuery),
		chromedp.Location(&location),
	)
	if err != nil {
		var page string
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		defer pcancel()
		chromedp.Run(pctx, chromedp.Location(&location), chromedp.Text("body", &page, chromedp.ByQuery))
		t.Fatalf("browser login: %v; the browser is at %s, showing:\n%s", err, location, page)
	}
	return text, location
}

func TestLoginWithDexInBrowser(t *testing.T) {
	good, badSecret := newSite(t), newSite(t)
	dex := testservers.Dex(t,
		[]testservers.DexClient{{ID: "wharf", Secret: testSecret, RedirectURIs: []string{good.redirectURL(), badSecret.redirectURL()}}},
		[]testservers.DexUser{alice})
	// OIDC_SERVER as Quay users write it, with a trailing slash that the issuer has not.
	good.attach(t, Config{ClientID: "wharf", ClientSecret: testSecret, Issuer: dex.Issuer + "/"})
	badSecret.attach(t, Config{ClientID: "wharf", ClientSecret: "not-the-secret", Issuer: dex.Issuer})

	t.Run("login", func(t *testing.T) {
		began := time.Now()
		browser := testservers.Browser(t)
		text, location := browserLogin(t, browser, good.URL+good.p.StartPath()+"?next=/home", alice)
		t.Logf("browser start and login took %s", time.Since(began).Round(time.Millisecond))
		if want := "signed in as alice alice@example.com"; !strings.Contains(text, want) {
			t.Fatalf("the page says %q, want %q", text, want)
		}
		if !strings.HasPrefix(location, good.redirectURL()+"?") {
			t.Errorf("the browser is at %s, want the callback %s", location, good.redirectURL())
		}
		status, header, logins := good.lastCallback()
		if status != http.StatusOK || len(logins) != 1 {
			t.Fatalf("callback: status %d, %d logins; want 200 and one login", status, len(logins))
		}
		got := logins[0]
		if got.id.Issuer != dex.Issuer || got.id.Subject == "" || got.id.Username != "alice" ||
			got.id.Email != alice.Email || !got.id.EmailVerified || got.next != "/home" {
			t.Errorf("onLogin got %+v next %q; want alice at issuer %s, verified email, next /home", got.id, got.next, dex.Issuer)
		}
		if c := header.Get("Set-Cookie"); !strings.Contains(c, "wharf_oidc_oidc=;") || !strings.Contains(c, "Max-Age=0") {
			t.Errorf("the callback did not clear the state cookie: Set-Cookie %q", c)
		}

		// The same answer again (a reload, or a replay): the cookie is gone.
		ctx, cancel := context.WithTimeout(browser, 30*time.Second)
		defer cancel()
		var again string
		if err := chromedp.Run(ctx,
			chromedp.Navigate(location),
			chromedp.WaitVisible("#oidc-error", chromedp.ByQuery),
			chromedp.Text("#oidc-error-what", &again, chromedp.ByQuery),
		); err != nil {
			t.Fatal(err)
		}
		if status, _, _ := good.lastCallback(); status != http.StatusBadRequest || !strings.Contains(again, "cookie is missing") {
			t.Errorf("replayed callback: status %d, page %q; want 400 saying the cookie is missing", status, again)
		}
	})

	t.Run("wrong client secret", func(t *testing.T) {
		text, _ := browserLogin(t, testservers.Browser(t), badSecret.URL+badSecret.p.StartPath(), alice)
		status, _, logins := badSecret.lastCallback()
		if status != http.StatusBadGateway || len(logins) != 0 {
			t.Errorf("callback: status %d with %d logins, want 502 and none", status, len(logins))
		}
		for _, want := range []string{"Dex refused to confirm the login", "invalid_client", "CLIENT_SECRET"} {
			if !strings.Contains(text, want) {
				t.Errorf("the error page does not say %q:\n%s", want, text)
			}
		}
	})
}

// noRedirects is an HTTP client that shows redirects instead of following them.
var noRedirects = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// get requests url with the cookies given and returns the status, the headers and the body.
func get(t *testing.T, url string, cookies ...*http.Cookie) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

// startLogin starts a login over plain HTTP and returns the state cookie and the provider's
// authorization URL.
func startLogin(t *testing.T, s *site, query string) (*http.Cookie, *url.URL) {
	t.Helper()
	status, header, body := get(t, s.URL+s.p.StartPath()+query)
	if status != http.StatusFound {
		t.Fatalf("start: %d, want 302:\n%s", status, body)
	}
	loc, err := url.Parse(header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp := http.Response{Header: header}
	for _, c := range resp.Cookies() {
		if c.Name == "wharf_oidc_oidc" {
			return c, loc
		}
	}
	t.Fatalf("start set no state cookie: %v", header["Set-Cookie"])
	return nil, nil
}

func TestStartAndCallbackErrors(t *testing.T) {
	s := newSite(t)
	dex := testservers.Dex(t,
		[]testservers.DexClient{{ID: "wharf", Secret: testSecret, RedirectURIs: []string{s.redirectURL()}}},
		[]testservers.DexUser{alice})
	p := s.attach(t, Config{ClientID: "wharf", ClientSecret: testSecret, Issuer: dex.Issuer})
	callback := s.URL + p.CallbackPath()

	t.Run("start", func(t *testing.T) {
		cookie, loc := startLogin(t, s, "?next=/repository/alice/app?tab=tags")
		if !strings.HasPrefix(loc.String(), dex.Issuer+"/auth?") {
			t.Errorf("start redirects to %s, want Dex's authorization endpoint", loc)
		}
		q := loc.Query()
		for k, want := range map[string]string{
			"client_id": "wharf", "redirect_uri": s.redirectURL(), "response_type": "code",
			"scope": "openid email profile", "code_challenge_method": "S256",
		} {
			if q.Get(k) != want {
				t.Errorf("authorization URL: %s = %q, want %q", k, q.Get(k), want)
			}
		}
		for _, k := range []string{"state", "nonce", "code_challenge"} {
			if len(q.Get(k)) < 40 {
				t.Errorf("authorization URL: %s = %q, want a long random value", k, q.Get(k))
			}
		}
		if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/oauth2/oidc/" ||
			cookie.MaxAge != 600 || cookie.Secure {
			t.Errorf("state cookie %+v: want HttpOnly, SameSite=Lax, Path /oauth2/oidc/, Max-Age 600, not Secure on http", cookie)
		}
		st, err := p.signer.decode(cookie.Value, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if st.State != q.Get("state") || st.Next != "/repository/alice/app?tab=tags" {
			t.Errorf("the cookie holds state %q next %q; want the URL's state and the next page", st.State, st.Next)
		}
	})

	t.Run("open redirects", func(t *testing.T) {
		for _, next := range []string{"//evil.example", "https://evil.example", "/\\evil.example", "/\t/evil.example", "evil"} {
			cookie, _ := startLogin(t, s, "?next="+url.QueryEscape(next))
			st, err := p.signer.decode(cookie.Value, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if st.Next != "/" {
				t.Errorf("next %q kept as %q, want /", next, st.Next)
			}
		}
	})

	cookie, loc := startLogin(t, s, "")
	state := loc.Query().Get("state")
	payload, sig, _ := strings.Cut(cookie.Value, ".")
	otherKey := &Provider{signer: stateSigner{key: []byte("another key, another key, another"), name: "oidc"}}
	forged, err := otherKey.signer.encode(loginState{State: state, Nonce: "n", Verifier: "v", Expires: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := p.signer.encode(loginState{State: state, Nonce: "n", Verifier: "v", Expires: time.Now().Add(-time.Second).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	withValue := func(v string) *http.Cookie { return &http.Cookie{Name: cookie.Name, Value: v} }
	tests := []struct {
		name   string
		query  url.Values
		cookie *http.Cookie
		status int
		says   string
	}{
		{"no cookie", url.Values{"state": {state}, "code": {"x"}}, nil, 400, "cookie is missing"},
		{"tampered state", url.Values{"state": {state + "x"}, "code": {"x"}}, cookie, 400, "state mismatch"},
		{"tampered cookie payload", url.Values{"state": {state}, "code": {"x"}}, withValue("e30" + payload + "." + sig), 400, "cookie is not valid"},
		{"cookie signed with another key", url.Values{"state": {state}, "code": {"x"}}, withValue(forged), 400, "cookie is not valid"},
		{"expired cookie", url.Values{"state": {state}, "code": {"x"}}, withValue(expired), 400, "took more than 10 minutes"},
		{"no code", url.Values{"state": {state}}, cookie, 400, "without an authorization code"},
		{"access denied", url.Values{"state": {state}, "error": {"access_denied"}, "error_description": {"the user said no"}}, cookie, 400, "refused to share your identity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var cookies []*http.Cookie
			if tc.cookie != nil {
				cookies = append(cookies, tc.cookie)
			}
			status, header, body := get(t, callback+"?"+tc.query.Encode(), cookies...)
			if status != tc.status || !strings.Contains(html.UnescapeString(body), tc.says) {
				t.Errorf("status %d, want %d saying %q; page:\n%s", status, tc.status, tc.says, body)
			}
			if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q, want text/html", ct)
			}
			if tc.cookie != nil && !strings.Contains(header.Get("Set-Cookie"), "Max-Age=0") {
				t.Errorf("the state cookie was not cleared: Set-Cookie %q", header.Get("Set-Cookie"))
			}
		})
	}
	t.Run("code unknown to the provider", func(t *testing.T) {
		cookie, loc := startLogin(t, s, "")
		q := url.Values{"state": {loc.Query().Get("state")}, "code": {"made-up"}}
		status, _, body := get(t, callback+"?"+q.Encode(), cookie)
		// Dex answers invalid_grant (400: start again), older Dex invalid_request (502).
		if status != http.StatusBadRequest && status != http.StatusBadGateway || !strings.Contains(body, "refused to confirm the login") {
			t.Errorf("status %d, want 400 or 502 saying the exchange failed; page:\n%s", status, body)
		}
	})
	if _, _, logins := s.lastCallback(); len(logins) != 0 {
		t.Errorf("onLogin was called %d times, want never", len(logins))
	}

	t.Run("methods and paths", func(t *testing.T) {
		resp, err := noRedirects.Post(s.URL+p.StartPath(), "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST start: %d, want 405", resp.StatusCode)
		}
		if status, _, _ := get(t, s.URL+"/oauth2/oidc/other"); status != http.StatusNotFound {
			t.Errorf("GET /oauth2/oidc/other: %d, want 404", status)
		}
	})
}

func TestProviderDown(t *testing.T) {
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String() + "/dex"
	l.Close()

	s := newSite(t)
	p := s.attach(t, Config{ClientID: "wharf", ClientSecret: testSecret, Issuer: down})
	for i := 0; i < 2; i++ { // and again, from the remembered failure
		status, _, body := get(t, s.URL+p.StartPath())
		body = html.UnescapeString(body)
		if status != http.StatusBadGateway || !strings.Contains(body, "could not reach the sign-in provider Dex at "+down) ||
			!strings.Contains(body, "connection refused") || !strings.Contains(body, "OIDC_SERVER") {
			t.Fatalf("start with the provider down: %d, want 502 saying so:\n%s", status, body)
		}
	}
	status, _, body := get(t, s.URL+p.CallbackPath()+"?state=x&code=y", &http.Cookie{Name: "wharf_oidc_oidc", Value: mustEncode(t, p, "x")})
	if status != http.StatusBadGateway || !strings.Contains(body, "could not reach") {
		t.Errorf("callback with the provider down: %d, want 502:\n%s", status, body)
	}
}

func mustEncode(t *testing.T, p *Provider, state string) string {
	t.Helper()
	v, err := p.signer.encode(loginState{State: state, Nonce: "n", Verifier: "v", Expires: time.Now().Add(time.Minute).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDiscoveryRetriedAfterFailure(t *testing.T) {
	var up atomic.Bool
	var issuer string
	var fetches atomic.Int32
	op := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		if !up.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":"%[1]s/authorize","token_endpoint":"%[1]s/token",
			"jwks_uri":"%[1]s/keys","id_token_signing_alg_values_supported":["RS256","none","HS256"]}`, issuer)
	}))
	defer op.Close()
	issuer = op.URL + "/realms/wharf"

	s := newSite(t)
	p := s.attach(t, Config{ClientID: "wharf", ClientSecret: testSecret, Issuer: issuer + "/"})
	for i := 0; i < 2; i++ {
		status, _, body := get(t, s.URL+p.StartPath())
		if status != http.StatusBadGateway || !strings.Contains(body, "503 Service Unavailable") {
			t.Fatalf("start while the provider answers 503: %d, want 502 with the cause:\n%s", status, body)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("the discovery document was read %d times by two logins a moment apart, want once", n)
	}

	p.mu.Lock()
	p.retry = 0 // the pause is over
	p.mu.Unlock()
	up.Store(true)
	_, loc := startLogin(t, s, "")
	if !strings.HasPrefix(loc.String(), issuer+"/authorize?") {
		t.Errorf("start redirects to %s, want %s/authorize", loc, issuer)
	}
	startLogin(t, s, "")
	if n := fetches.Load(); n != 2 {
		t.Errorf("the discovery document was read %d times, want 2 (once failing, then once and kept)", n)
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	op := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"issuer":"https://elsewhere.example","authorization_endpoint":"https://elsewhere.example/a",
			"token_endpoint":"https://elsewhere.example/t","jwks_uri":"https://elsewhere.example/k"}`)
	}))
	defer op.Close()
	s := newSite(t)
	p := s.attach(t, Config{ClientID: "wharf", ClientSecret: testSecret, Issuer: op.URL})
	status, _, body := get(t, s.URL+p.StartPath())
	if body = html.UnescapeString(body); status != http.StatusBadGateway || !strings.Contains(body, "does not match this login's settings") ||
		!strings.Contains(body, `names the issuer "https://elsewhere.example"`) {
		t.Errorf("start: %d, want 502 naming the issuer:\n%s", status, body)
	}
}

func TestProviderCertificate(t *testing.T) {
	op := httptest.NewTLSServer(nil)
	defer op.Close()
	op.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":"%[1]s/a","token_endpoint":"%[1]s/t","jwks_uri":"%[1]s/k"}`, op.URL)
	})
	pool := x509.NewCertPool()
	pool.AddCert(op.Certificate())
	tests := []struct {
		name   string
		roots  *x509.CertPool
		status int
		says   string
	}{
		{"unknown CA", nil, http.StatusBadGateway, "certificate"},
		{"CA given", pool, http.StatusFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t)
			p := s.attach(t, Config{ClientID: "wharf", ClientSecret: testSecret, Issuer: op.URL, RootCAs: tc.roots})
			status, _, body := get(t, s.URL+p.StartPath())
			if status != tc.status || !strings.Contains(body, tc.says) {
				t.Errorf("start: %d, want %d saying %q:\n%s", status, tc.status, tc.says, body)
			}
		})
	}
}

// Dex before v2.26 does not check PKCE, so the verifier is checked here, at a token endpoint
// that only records what it was sent.
func TestPKCEVerifierSent(t *testing.T) {
	type tokenRequest struct {
		form       url.Values
		user, pass string
	}
	got := make(chan tokenRequest, 1)
	var op *httptest.Server
	op = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":"%[1]s/a","token_endpoint":"%[1]s/token","jwks_uri":"%[1]s/k"}`, op.URL)
		case "/token":
			r.ParseForm()
			user, pass, _ := r.BasicAuth()
			select {
			case got <- tokenRequest{r.PostForm, user, pass}:
			default:
				t.Error("the token endpoint was called more than once")
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"recorded"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer op.Close()
	s := newSite(t)
	p := s.attach(t, Config{ClientID: "wharf", ClientSecret: testSecret, Issuer: op.URL})
	cookie, loc := startLogin(t, s, "")
	q := url.Values{"state": {loc.Query().Get("state")}, "code": {"the-code"}}
	status, _, body := get(t, s.URL+p.CallbackPath()+"?"+q.Encode(), cookie)
	if status != http.StatusBadRequest || !strings.Contains(body, "invalid_grant") {
		t.Errorf("callback: %d, want 400 with the token endpoint's invalid_grant:\n%s", status, body)
	}
	req := <-got
	verifier := req.form.Get("code_verifier")
	if verifier == "" || oauth2.S256ChallengeFromVerifier(verifier) != loc.Query().Get("code_challenge") {
		t.Errorf("token request sent code_verifier %q, which does not match the code_challenge %q", verifier, loc.Query().Get("code_challenge"))
	}
	if req.form.Get("code") != "the-code" || req.form.Get("grant_type") != "authorization_code" || req.form.Get("redirect_uri") != s.redirectURL() {
		t.Errorf("token request form %v", req.form)
	}
	if req.user != "wharf" || req.pass != testSecret {
		t.Errorf("token request authenticated as %q:%q, want the client's credentials in HTTP basic auth", req.user, req.pass)
	}
}
