package api

import (
	"crypto/subtle"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wharf-registry/wharf/registry/audit"
	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

// OAuthHandler serves the OAuth 2 authorization endpoints under /oauth/ (mount it there):
//
//   - GET /oauth/authorize?client_id&redirect_uri&scope&response_type&state shows a
//     signed-in user (web session, or Basic credentials for scripts) a consent page;
//   - POST /oauth/authorizeapp grants the consent. With response_type=token (the implicit
//     grant, as Quay's UI uses it) it issues an access token limited to the scopes and
//     redirects to redirect_uri#access_token=...; with response_type=code (the
//     authorization code grant, Quay's default) it redirects to redirect_uri?code=...;
//   - POST /oauth/denyapp refuses it: it redirects with error=access_denied;
//   - POST /oauth/access_token exchanges a code (grant_type=authorization_code, code,
//     redirect_uri, and the application's client_id and client_secret, in the form or as
//     Basic credentials) for an access token, once.
func (a *API) OAuthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/authorize", a.oauthAuthorize)
	mux.HandleFunc("POST /oauth/authorizeapp", a.oauthAuthorizeApp)
	mux.HandleFunc("POST /oauth/denyapp", a.oauthDenyApp)
	mux.HandleFunc("POST /oauth/access_token", a.oauthAccessToken)
	return mux
}

// oauthRequest is an authorization request, from the query or the consent form.
type oauthRequest struct {
	ClientID, RedirectURI, ResponseType, State string
	Scopes                                     []string
}

func readOAuthRequest(v url.Values) oauthRequest {
	rt := v.Get("response_type")
	if rt == "" {
		rt = "code" // Quay's default
	}
	var scopes []string
	for _, s := range strings.FieldsFunc(v.Get("scope"), func(r rune) bool { return r == ' ' || r == ',' || r == '+' }) {
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	return oauthRequest{ClientID: v.Get("client_id"), RedirectURI: v.Get("redirect_uri"), ResponseType: rt, State: v.Get("state"), Scopes: scopes}
}

// oauthUser identifies the user authorizing: the web session (with its CSRF token) or
// Basic credentials (no CSRF token).
func (a *API) oauthUser(r *http.Request) (auth.Identity, string, error) {
	if user, pass, ok := r.BasicAuth(); ok {
		id, err := a.auth.Login(r.Context(), user, pass, auth.LoginContext{IP: audit.ClientIP(r), Kind: "oauth"})
		if err != nil {
			return auth.Identity{}, "", err
		}
		if id.Robot() || id.Scopes != nil {
			return auth.Identity{}, "", auth.ErrBadCredentials
		}
		return id, "", nil
	}
	return a.auth.Session(r)
}

func oauthText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(msg + "\n"))
}

func (a *API) oauthAuthFailed(w http.ResponseWriter, r *http.Request, err error) {
	var te *auth.ThrottledError
	switch {
	case errors.As(err, &te):
		w.Header().Set("Retry-After", strconv.Itoa(int(te.RetryAfter.Seconds()+0.999)))
		oauthText(w, http.StatusTooManyRequests, te.Error())
	case errors.Is(err, auth.ErrBadCredentials), errors.Is(err, auth.ErrEncryptedPasswordRequired):
		oauthText(w, http.StatusUnauthorized, "sign in to the registry first (or send Basic credentials), then open this page again to authorize the application")
	default:
		a.log.ErrorContext(r.Context(), "oauth authorization failed", "err", err)
		oauthText(w, http.StatusInternalServerError, "internal error: see the server log")
	}
}

// checkOAuthRequest validates a request up to the point where errors may be sent to the
// redirect URI: the application and the redirect URI. It writes the error itself.
func (a *API) checkOAuthRequest(w http.ResponseWriter, r *http.Request, req oauthRequest) (store.OAuthApplication, bool) {
	if req.ClientID == "" || req.RedirectURI == "" {
		oauthText(w, http.StatusBadRequest, "invalid_request: client_id and redirect_uri are required")
		return store.OAuthApplication{}, false
	}
	app, err := a.store.OAuthApplicationByClientID(r.Context(), req.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		oauthText(w, http.StatusNotFound, "unauthorized_client: no application has this client_id")
		return app, false
	}
	if err != nil {
		a.oauthAuthFailed(w, r, err)
		return app, false
	}
	if !redirectAllowed(app.RedirectURI, req.RedirectURI) {
		oauthText(w, http.StatusBadRequest, "redirect_uri_mismatch: the redirect_uri must lie under the application's registered redirect URI")
		return app, false
	}
	if req.ResponseType != "token" && req.ResponseType != "code" {
		oauthText(w, http.StatusBadRequest, "unsupported_response_type: use code or token")
		return app, false
	}
	return app, true
}

// redirectAllowed reports whether a redirect URI lies under the registered one: it starts
// with it, has the same scheme and host, no credentials or fragment, and nothing past the
// registered path that could climb out of it (dot segments, escapes, @).
func redirectAllowed(registered, given string) bool {
	if registered == "" || !strings.HasPrefix(given, registered) {
		return false
	}
	reg, err1 := url.Parse(registered)
	got, err2 := url.Parse(given)
	if err1 != nil || err2 != nil || got.Scheme != reg.Scheme || !strings.EqualFold(got.Host, reg.Host) ||
		got.User != nil || got.Fragment != "" || got.Opaque != "" {
		return false
	}
	if !strings.HasPrefix(got.Path, reg.Path) || strings.Contains(got.Path, "..") || strings.Contains(got.Path, "@") {
		return false
	}
	return !strings.Contains(strings.TrimPrefix(got.EscapedPath(), reg.EscapedPath()), "%")
}

// redirectWith sends the browser to the redirect URI with parameters: in its fragment for
// the implicit grant (response type token), in its query for the code grant.
func redirectWith(w http.ResponseWriter, req oauthRequest, params url.Values) {
	if req.State != "" {
		params.Set("state", req.State)
	}
	loc := req.RedirectURI + "#" + params.Encode()
	if req.ResponseType == "code" {
		sep := "?"
		if strings.Contains(req.RedirectURI, "?") {
			sep = "&"
		}
		loc = req.RedirectURI + sep + params.Encode()
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusFound)
}

// scopeProblem explains why the scopes cannot be granted to id ("" when they can).
func (a *API) scopeProblem(id auth.Identity, scopes []string) string {
	if len(scopes) == 0 {
		return "no scope requested"
	}
	for _, s := range scopes {
		if !auth.ValidScope(s) {
			return "unknown scope " + s
		}
		if s == auth.ScopeSuperUser && !a.auth.Superuser(id) {
			return "only superusers may grant " + s
		}
	}
	return ""
}

var consentPage = template.Must(template.New("consent").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Authorize {{.App.Name}}</title>
<style>body{font-family:sans-serif;max-width:40em;margin:3em auto;padding:0 1em}li{margin:.3em 0}.danger{color:#b00}button{margin-right:1em;padding:.4em 1.2em}</style>
</head><body>
<h1>Authorize {{.App.Name}}</h1>
<p><strong>{{.App.Name}}</strong> (of organization <strong>{{.Org}}</strong>) asks to act as <strong>{{.User}}</strong> with these permissions:</p>
{{if .App.Description}}<p>{{.App.Description}}</p>{{end}}
<ul>{{range .Scopes}}<li{{if .Dangerous}} class="danger"{{end}}><code>{{.Scope}}</code>: {{.Description}}</li>{{end}}</ul>
<p>It will be sent back to <code>{{.Req.RedirectURI}}</code>.</p>
<form method="post" action="/oauth/authorizeapp" style="display:inline">{{template "fields" .}}<button type="submit">Authorize</button></form>
<form method="post" action="/oauth/denyapp" style="display:inline">{{template "fields" .}}<button type="submit">Deny</button></form>
</body></html>
{{define "fields"}}<input type="hidden" name="client_id" value="{{.Req.ClientID}}"><input type="hidden" name="redirect_uri" value="{{.Req.RedirectURI}}">
<input type="hidden" name="scope" value="{{.ScopeString}}"><input type="hidden" name="response_type" value="{{.Req.ResponseType}}">
<input type="hidden" name="state" value="{{.Req.State}}"><input type="hidden" name="_csrf_token" value="{{.CSRF}}">{{end}}`))

type consentScope struct {
	Scope, Description string
	Dangerous          bool
}

func (a *API) oauthAuthorize(w http.ResponseWriter, r *http.Request) {
	id, csrf, err := a.oauthUser(r)
	if err != nil {
		a.oauthAuthFailed(w, r, err)
		return
	}
	req := readOAuthRequest(r.URL.Query())
	app, ok := a.checkOAuthRequest(w, r, req)
	if !ok {
		return
	}
	if p := a.scopeProblem(id, req.Scopes); p != "" {
		redirectWith(w, req, url.Values{"error": {"invalid_scope"}, "error_description": {p}})
		return
	}
	org, err := a.store.AccountByID(r.Context(), app.OrgID)
	if err != nil {
		a.oauthAuthFailed(w, r, err)
		return
	}
	var scopes []consentScope
	for _, s := range auth.AllScopes {
		if slices.Contains(req.Scopes, s.Scope) {
			scopes = append(scopes, consentScope{Scope: s.Scope, Description: s.Description,
				Dangerous: s.Scope == auth.ScopeSuperUser || s.Scope == auth.ScopeOrgAdmin || s.Scope == auth.ScopeUserAdmin || s.Scope == auth.ScopeRepoAdmin})
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	err = consentPage.Execute(w, map[string]any{"App": app, "Org": org.Name, "User": id.Name(), "Scopes": scopes,
		"Req": req, "ScopeString": strings.Join(req.Scopes, " "), "CSRF": csrf})
	if err != nil {
		a.log.ErrorContext(r.Context(), "oauth consent page", "err", err)
	}
}

// checkConsent authenticates a consent form: a session needs its CSRF token; Basic
// credentials (scripts) need a request that is not a browser's cross-site one.
func (a *API) checkConsent(w http.ResponseWriter, r *http.Request) (auth.Identity, bool) {
	id, csrf, err := a.oauthUser(r)
	if err != nil {
		a.oauthAuthFailed(w, r, err)
		return id, false
	}
	if csrf != "" {
		if subtle.ConstantTimeCompare([]byte(r.PostFormValue("_csrf_token")), []byte(csrf)) != 1 {
			oauthText(w, http.StatusForbidden, "csrf_failure: the form's _csrf_token does not match your session: open /oauth/authorize again")
			return id, false
		}
		return id, true
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		oauthText(w, http.StatusForbidden, "csrf_failure: cross-site authorization refused")
		return id, false
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		if u, err := url.Parse(origin); err != nil || !strings.EqualFold(u.Host, r.Host) {
			oauthText(w, http.StatusForbidden, "csrf_failure: cross-site authorization refused")
			return id, false
		}
	}
	return id, true
}

func (a *API) oauthAuthorizeApp(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		oauthText(w, http.StatusBadRequest, "invalid_request: "+err.Error())
		return
	}
	id, ok := a.checkConsent(w, r)
	if !ok {
		return
	}
	req := readOAuthRequest(r.PostForm)
	app, ok := a.checkOAuthRequest(w, r, req)
	if !ok {
		return
	}
	if p := a.scopeProblem(id, req.Scopes); p != "" {
		redirectWith(w, req, url.Values{"error": {"invalid_scope"}, "error_description": {p}})
		return
	}
	if req.ResponseType == "code" {
		code, err := a.auth.IssueOAuthCode(r.Context(), *id.User, app.ID, req.Scopes, req.RedirectURI)
		if err != nil {
			a.oauthAuthFailed(w, r, err)
			return
		}
		redirectWith(w, req, url.Values{"code": {code}})
		return
	}
	token, err := a.auth.IssueOAuthToken(r.Context(), *id.User, app.ID, req.Scopes)
	if err != nil {
		a.oauthAuthFailed(w, r, err)
		return
	}
	redirectWith(w, req, url.Values{"access_token": {token}, "token_type": {"Bearer"},
		"expires_in": {strconv.FormatInt(a.oauthExpiresIn(r, token), 10)}, "scope": {strings.Join(req.Scopes, " ")}})
}

// oauthExpiresIn is the lifetime left to an access token, in seconds.
func (a *API) oauthExpiresIn(r *http.Request, token string) int64 {
	if t, err := a.store.OAuthTokenByHash(r.Context(), auth.HashToken(token)); err == nil {
		return int64(time.Until(t.ExpiresAt).Seconds())
	}
	return 0
}

// oauthAccessToken is the token endpoint of the authorization code grant (RFC 6749 4.1.3).
func (a *API) oauthAccessToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": err.Error()})
		return
	}
	if gt := r.PostFormValue("grant_type"); gt != "authorization_code" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type",
			"error_description": "grant_type must be authorization_code (or use response_type=token at /oauth/authorize)"})
		return
	}
	clientID, secret, basic := r.BasicAuth()
	if !basic {
		clientID, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	code, redirectURI := r.PostFormValue("code"), r.PostFormValue("redirect_uri")
	if code == "" || redirectURI == "" || clientID == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "code, redirect_uri and client_id are required"})
		return
	}
	token, scopes, err := a.auth.ExchangeOAuthCode(r.Context(), code, clientID, secret, redirectURI)
	switch {
	case errors.Is(err, auth.ErrInvalidClient):
		if basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="oauth"`)
		}
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "unknown client_id or wrong client_secret"})
	case errors.Is(err, auth.ErrInvalidGrant):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant",
			"error_description": "the code is unknown, used, expired, or was issued for another redirect_uri: authorize again"})
	case err != nil:
		a.log.ErrorContext(r.Context(), "oauth code exchange", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error", "error_description": "see the server log"})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"access_token": token, "token_type": "Bearer",
			"expires_in": a.oauthExpiresIn(r, token), "scope": strings.Join(scopes, " ")})
	}
}

func (a *API) oauthDenyApp(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		oauthText(w, http.StatusBadRequest, "invalid_request: "+err.Error())
		return
	}
	if _, ok := a.checkConsent(w, r); !ok {
		return
	}
	req := readOAuthRequest(r.PostForm)
	if _, ok := a.checkOAuthRequest(w, r, req); !ok {
		return
	}
	redirectWith(w, req, url.Values{"error": {"access_denied"}})
}
