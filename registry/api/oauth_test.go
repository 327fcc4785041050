package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/registry/store"
)

// oauthEnv serves the OAuth endpoints beside the API.
type oauthEnv struct {
	*env
	srv    *httptest.Server
	client *http.Client
}

func newOAuthEnv(t *testing.T) *oauthEnv {
	e := newEnv(t)
	srv := httptest.NewServer(e.api.OAuthHandler())
	t.Cleanup(srv.Close)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &oauthEnv{env: e, srv: srv, client: client}
}

// session signs u in and returns the session cookie and its CSRF token.
func (o *oauthEnv) session(u store.User) (*http.Cookie, string) {
	o.t.Helper()
	rec := httptest.NewRecorder()
	csrf, err := o.auth.StartSession(context.Background(), rec, httptest.NewRequest("POST", "/signin", nil), u)
	if err != nil {
		o.t.Fatal(err)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		o.t.Fatalf("session cookies: %v", cookies)
	}
	return cookies[0], csrf
}

// do makes a request to the OAuth server with a session cookie (or nil) and extra headers
// ("basic:USER:PASSWORD" in who adds Basic credentials).
func (o *oauthEnv) do(method, path string, cookie *http.Cookie, who as, form url.Values, header map[string]string) (*http.Response, string) {
	o.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, o.srv.URL+path, body)
	if err != nil {
		o.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	setCredentials(req, who)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := o.client.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

// fragment returns the parameters in the fragment of a redirect.
func fragment(t *testing.T, resp *http.Response) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want a redirect", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := url.ParseQuery(loc.Fragment)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOAuthImplicitGrant(t *testing.T) {
	o := newOAuthEnv(t)
	alice := o.user("alice")
	o.user("bob")
	root := o.user("root")
	adminOrg(o.env, "acme", alice)
	adminRepo(o.env, "acme", "app", alice)
	var app appView
	o.must(200, "POST", "/api/v1/organization/acme/applications", "alice",
		map[string]string{"name": "Dashboard <b>", "redirect_uri": "https://dash.example.test/cb"}, &app)

	authorize := func(scope, redirect, responseType string) string {
		return "/oauth/authorize?" + url.Values{"client_id": {app.ClientID}, "redirect_uri": {redirect}, "scope": {scope},
			"response_type": {responseType}, "state": {"xyz"}}.Encode()
	}
	grant := func(scope, csrf string) url.Values {
		return url.Values{"client_id": {app.ClientID}, "redirect_uri": {"https://dash.example.test/cb/done"}, "scope": {scope},
			"response_type": {"token"}, "state": {"xyz"}, "_csrf_token": {csrf}}
	}
	cookie, csrf := o.session(alice)

	// The consent page needs a signed-in user.
	if resp, _ := o.do("GET", authorize("repo:read", "https://dash.example.test/cb", "token"), nil, "", nil, nil); resp.StatusCode != 401 {
		t.Fatalf("anonymous consent page: %d", resp.StatusCode)
	}
	resp, page := o.do("GET", authorize("repo:read org:admin", "https://dash.example.test/cb", "token"), cookie, "", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(page, "Dashboard &lt;b&gt;") || !strings.Contains(page, `value="`+csrf+`"`) ||
		!strings.Contains(page, "org:admin") || !strings.Contains(page, `action="/oauth/authorizeapp"`) || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("consent page %d: %s", resp.StatusCode, page)
	}
	for _, tc := range []struct {
		name, path string
		want       int
	}{
		{"code grant", authorize("repo:read", "https://dash.example.test/cb", "code"), 200},
		{"unknown response type", authorize("repo:read", "https://dash.example.test/cb", "id_token"), 400},
		{"foreign redirect", authorize("repo:read", "https://evil.example.test/cb", "token"), 400},
		{"sibling path on the same host", authorize("repo:read", "https://dash.example.test/cb.evil.test", "token"), 200},
		{"redirect climbing out", authorize("repo:read", "https://dash.example.test/cb/../x", "token"), 400},
		{"redirect with escapes", authorize("repo:read", "https://dash.example.test/cb/%2e%2e/x", "token"), 400},
		{"unknown client", "/oauth/authorize?client_id=nope&redirect_uri=https://dash.example.test/cb&scope=repo:read&response_type=token", 404},
		{"unknown scope", authorize("repo:everything", "https://dash.example.test/cb", "token"), 302},
		{"superuser scope", authorize("super:user", "https://dash.example.test/cb", "token"), 302},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := o.do("GET", tc.path, cookie, "", nil, nil)
			if resp.StatusCode != tc.want {
				t.Fatalf("%d, want %d: %s", resp.StatusCode, tc.want, body)
			}
			if tc.want == 302 && fragment(t, resp).Get("error") != "invalid_scope" {
				t.Fatalf("redirect: %s", resp.Header.Get("Location"))
			}
		})
	}

	// Granting needs the session's CSRF token.
	if resp, _ := o.do("POST", "/oauth/authorizeapp", cookie, "", grant("repo:read", "wrong"), nil); resp.StatusCode != 403 {
		t.Fatalf("grant without CSRF token: %d", resp.StatusCode)
	}
	if resp, _ := o.do("POST", "/oauth/authorizeapp", nil, "", grant("repo:read", csrf), nil); resp.StatusCode != 401 {
		t.Fatalf("grant without session: %d", resp.StatusCode)
	}
	resp, _ = o.do("POST", "/oauth/authorizeapp", cookie, "", grant("repo:read", csrf), nil)
	v := fragment(t, resp)
	if !strings.HasPrefix(resp.Header.Get("Location"), "https://dash.example.test/cb/done#") || v.Get("access_token") == "" ||
		v.Get("token_type") != "Bearer" || v.Get("scope") != "repo:read" || v.Get("state") != "xyz" || v.Get("expires_in") == "0" {
		t.Fatalf("grant redirect: %s", resp.Header.Get("Location"))
	}
	readToken := "bearer:" + v.Get("access_token")

	resp, _ = o.do("POST", "/oauth/authorizeapp", cookie, "", grant("org:admin", csrf), nil)
	adminTok := "bearer:" + fragment(t, resp).Get("access_token")
	resp, _ = o.do("POST", "/oauth/authorizeapp", cookie, "", grant("super:user", csrf), nil)
	if fragment(t, resp).Get("error") != "invalid_scope" {
		t.Fatalf("super:user granted to a non-superuser: %s", resp.Header.Get("Location"))
	}
	rootCookie, rootCSRF := o.session(root)
	resp, _ = o.do("POST", "/oauth/authorizeapp", rootCookie, "", grant("super:user", rootCSRF), nil)
	superTok := "bearer:" + fragment(t, resp).Get("access_token")

	// The tokens work on the API with exactly their scopes.
	o.must(403, "GET", "/api/v1/organization/acme/logs", readToken, nil, nil)
	o.must(403, "GET", "/api/v1/repository/acme/app/logs", readToken, nil, nil)
	o.must(200, "GET", "/api/v1/organization/acme/logs", adminTok, nil, nil)
	o.must(403, "GET", "/api/v1/user/logs", adminTok, nil, nil)
	o.must(200, "GET", "/api/v1/superuser/logs", superTok, nil, nil)
	o.must(403, "GET", "/api/v1/superuser/users/", adminTok, nil, nil)
	ops := map[string]bool{}
	for _, r := range o.api.Routes() {
		ops[r.Op] = true
	}
	if ops["getRepo"] {
		o.must(200, "GET", "/api/v1/repository/acme/app", readToken, nil, nil)
		o.must(403, "GET", "/api/v1/repository/acme/app", adminTok, nil, nil)
	}
	if ops["changeRepoVisibility"] {
		o.must(403, "POST", "/api/v1/repository/acme/app/changevisibility", readToken, map[string]string{"visibility": "public"}, nil)
	}

	// Scripts authorize with Basic credentials; browsers' cross-site posts are refused.
	resp, _ = o.do("POST", "/oauth/authorizeapp", nil, "bob", grant("repo:read", ""), nil)
	if fragment(t, resp).Get("access_token") == "" {
		t.Fatalf("Basic grant: %s", resp.Header.Get("Location"))
	}
	if resp, _ := o.do("POST", "/oauth/authorizeapp", nil, "bob", grant("repo:read", ""), map[string]string{"Origin": "https://evil.example.test"}); resp.StatusCode != 403 {
		t.Fatalf("cross-site Basic grant: %d", resp.StatusCode)
	}
	if resp, _ := o.do("POST", "/oauth/authorizeapp", nil, readToken, grant("org:admin", ""), nil); resp.StatusCode != 401 {
		t.Fatalf("a bearer token minting tokens: %d", resp.StatusCode)
	}

	// Deny.
	resp, _ = o.do("POST", "/oauth/denyapp", cookie, "", grant("repo:read", csrf), nil)
	if v := fragment(t, resp); v.Get("error") != "access_denied" || v.Get("state") != "xyz" || v.Get("access_token") != "" {
		t.Fatalf("deny: %s", resp.Header.Get("Location"))
	}
	if resp, body := o.do("POST", "/oauth/access_token", nil, "", url.Values{"grant_type": {"password"}}, nil); resp.StatusCode != 400 ||
		!strings.Contains(body, "unsupported_grant_type") {
		t.Fatalf("access_token with the password grant: %d %s", resp.StatusCode, body)
	}

	// Deleting the application revokes its tokens.
	o.must(204, "DELETE", "/api/v1/organization/acme/applications/"+app.ClientID, "alice", nil, nil)
	o.must(401, "GET", "/api/v1/organization/acme/logs", adminTok, nil, nil)
	if rows := o.logs("delete_application"); len(rows) != 1 {
		t.Fatalf("delete_application rows: %+v", rows)
	}
}

func TestOAuthCodeGrant(t *testing.T) {
	o := newOAuthEnv(t)
	alice := o.user("alice")
	adminOrg(o.env, "acme", alice)
	var app appView
	o.must(200, "POST", "/api/v1/organization/acme/applications", "alice",
		map[string]string{"name": "CI dashboard", "redirect_uri": "https://dash.example.test/cb"}, &app)
	cookie, csrf := o.session(alice)
	const redirect = "https://dash.example.test/cb/done"

	// The consent page of the code grant, then the grant: a code in the redirect's query.
	authorize := "/oauth/authorize?" + url.Values{"client_id": {app.ClientID}, "redirect_uri": {redirect},
		"scope": {"org:admin user:read"}, "response_type": {"code"}, "state": {"s1"}}.Encode()
	if resp, page := o.do("GET", authorize, cookie, "", nil, nil); resp.StatusCode != 200 || !strings.Contains(page, `name="response_type" value="code"`) {
		t.Fatalf("consent page: %d %s", resp.StatusCode, page)
	}
	codeFor := func(scope string) string {
		t.Helper()
		resp, _ := o.do("POST", "/oauth/authorizeapp", cookie, "", url.Values{"client_id": {app.ClientID}, "redirect_uri": {redirect},
			"scope": {scope}, "response_type": {"code"}, "state": {"s1"}, "_csrf_token": {csrf}}, nil)
		loc, err := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != 302 || err != nil || loc.Fragment != "" || !strings.HasPrefix(loc.String(), redirect+"?") {
			t.Fatalf("code grant redirect: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		q := loc.Query()
		if q.Get("state") != "s1" || q.Get("code") == "" || q.Get("access_token") != "" {
			t.Fatalf("code grant redirect: %s", loc)
		}
		return q.Get("code")
	}
	code := codeFor("org:admin user:read")

	exchange := func(code, clientID, secret, redirectURI string) (int, map[string]any) {
		t.Helper()
		resp, body := o.do("POST", "/oauth/access_token", nil, "", url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"client_id": {clientID}, "client_secret": {secret}, "redirect_uri": {redirectURI}}, nil)
		var out map[string]any
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatalf("token endpoint answer %q: %v", body, err)
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("token endpoint without Cache-Control: no-store")
		}
		return resp.StatusCode, out
	}
	for _, tc := range []struct {
		name, clientID, secret, redirect string
		status                           int
		errCode                          string
	}{
		{"wrong secret", app.ClientID, "wrong", redirect, 401, "invalid_client"},
		{"unknown client", "nope", app.ClientSecret, redirect, 401, "invalid_client"},
		{"no secret", app.ClientID, "", redirect, 401, "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, out := exchange(code, tc.clientID, tc.secret, tc.redirect)
			if st != tc.status || out["error"] != tc.errCode {
				t.Fatalf("%d %v, want %d %s", st, out, tc.status, tc.errCode)
			}
		})
	}
	// The failed client checks did not use the code up.
	st, out := exchange(code, app.ClientID, app.ClientSecret, redirect)
	if st != 200 || out["token_type"] != "Bearer" || out["scope"] != "org:admin user:read" || out["expires_in"].(float64) <= 0 {
		t.Fatalf("exchange: %d %v", st, out)
	}
	token := "bearer:" + out["access_token"].(string)
	o.must(200, "GET", "/api/v1/organization/acme/logs", token, nil, nil)
	o.must(200, "GET", "/api/v1/user/", token, nil, nil)
	o.must(403, "GET", "/api/v1/user/logs", token, nil, nil)

	// A code works once, and only with the redirect URI it was issued for.
	if st, out := exchange(code, app.ClientID, app.ClientSecret, redirect); st != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("second exchange: %d %v", st, out)
	}
	other := codeFor("user:read")
	if st, out := exchange(other, app.ClientID, app.ClientSecret, "https://dash.example.test/cb/other"); st != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("exchange with another redirect_uri: %d %v", st, out)
	}
	if st, out := exchange(other, app.ClientID, app.ClientSecret, redirect); st != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("a code presented with a wrong redirect_uri stays usable: %d %v", st, out)
	}

	// Client credentials as Basic work too.
	third := codeFor("user:read")
	resp, body := o.do("POST", "/oauth/access_token", nil, "basic:"+app.ClientID+":"+app.ClientSecret,
		url.Values{"grant_type": {"authorization_code"}, "code": {third}, "redirect_uri": {redirect}}, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"access_token"`) {
		t.Fatalf("exchange with Basic client credentials: %d %s", resp.StatusCode, body)
	}

	// Deleting the application voids its codes.
	fourth := codeFor("user:read")
	o.must(204, "DELETE", "/api/v1/organization/acme/applications/"+app.ClientID, "alice", nil, nil)
	if st, out := exchange(fourth, app.ClientID, app.ClientSecret, redirect); st != 401 || out["error"] != "invalid_client" {
		t.Fatalf("exchange after the application was deleted: %d %v", st, out)
	}
}
