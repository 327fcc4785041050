package oidc

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Timeouts of the requests to the provider.
const (
	discoveryTimeout = 15 * time.Second
	exchangeTimeout  = 30 * time.Second
	clientTimeout    = 30 * time.Second
	// discoveryRetry is how long a failed discovery is the answer to every login before
	// the next attempt, so that many logins at once do not queue behind a provider that
	// does not answer.
	discoveryRetry = 3 * time.Second
)

// Provider is one configured OIDC login. It is safe for concurrent use.
type Provider struct {
	cfg    Config
	signer stateSigner
	client *http.Client
	now    func() time.Time

	retry time.Duration // discoveryRetry, shorter in tests

	mu       sync.Mutex
	disc     *discovered // nil until discovery succeeds
	lastErr  error       // of the last failed discovery
	lastFail time.Time   // when it ended
}

// discovered is what the provider's discovery document tells.
type discovered struct {
	provider *gooidc.Provider
	oauth2   oauth2.Config
	verifier *gooidc.IDTokenVerifier
}

// New checks the configuration and returns the provider. It does not contact the provider:
// the discovery document is read on first use, and read again on later requests for as long
// as it could not be.
func New(cfg Config) (*Provider, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.RootCAs != nil {
		transport.TLSClientConfig = &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	}
	return &Provider{
		cfg:    cfg,
		signer: stateSigner{key: cfg.StateKey, name: cfg.Name},
		client: &http.Client{Transport: transport, Timeout: clientTimeout},
		now:    time.Now,
		retry:  discoveryRetry,
	}, nil
}

// Name is the provider's name in paths, such as "oidc".
func (p *Provider) Name() string { return p.cfg.Name }

// ServiceName is the provider's name for people, shown on the login button.
func (p *Provider) ServiceName() string { return p.cfg.ServiceName }

// StartPath is where a login starts: "/oauth2/<name>/start", with an optional ?next=/path.
func (p *Provider) StartPath() string { return startPath(p.cfg.Name) }

// CallbackPath is where the provider sends the user back: "/oauth2/<name>/callback".
func (p *Provider) CallbackPath() string { return callbackPath(p.cfg.Name) }

// discover returns the provider's endpoints and keys, reading its discovery document when it
// has not been read yet. A failure is the answer for a few seconds, then the next call tries
// again.
func (p *Provider) discover(ctx context.Context) (*discovered, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.disc != nil {
		return p.disc, nil
	}
	if p.lastErr != nil && time.Since(p.lastFail) < p.retry {
		return nil, p.lastErr
	}
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	d, err := p.fetchDiscovery(ctx)
	if err != nil {
		p.lastErr, p.lastFail = fmt.Errorf("OIDC login %q: %w", p.cfg.Name, err), time.Now()
		return nil, p.lastErr
	}
	p.disc, p.lastErr = d, nil
	return d, nil
}

// badDiscovery is a discovery document that was read but cannot be used: a configuration
// error, not an outage.
type badDiscovery struct{ error }

func (e badDiscovery) Unwrap() error { return e.error }

// discoveryDoc is the part of the discovery document that Wharf uses.
type discoveryDoc struct {
	gooidc.ProviderConfig
	TokenAuthMethods []string `json:"token_endpoint_auth_methods_supported"`
}

// The ID token signing algorithms that go-oidc verifies.
var signingAlgs = []string{
	gooidc.RS256, gooidc.RS384, gooidc.RS512, gooidc.ES256, gooidc.ES384, gooidc.ES512,
	gooidc.PS256, gooidc.PS384, gooidc.PS512, gooidc.EdDSA,
}

func (p *Provider) fetchDiscovery(ctx context.Context) (*discovered, error) {
	wellKnown := strings.TrimSuffix(p.cfg.Issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, wellKnown, nil)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", wellKnown, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", wellKnown, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", wellKnown, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read %s: %s: %s", wellKnown, resp.Status, snippet(body))
	}
	var doc discoveryDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, badDiscovery{fmt.Errorf("read %s: not a discovery document: %w", wellKnown, err)}
	}
	// Quay's OIDC_SERVER usually ends in a slash that the issuer has not (or the reverse).
	if strings.TrimSuffix(doc.IssuerURL, "/") != strings.TrimSuffix(p.cfg.Issuer, "/") {
		return nil, badDiscovery{fmt.Errorf("%s names the issuer %q, not OIDC_SERVER %q", wellKnown, doc.IssuerURL, p.cfg.Issuer)}
	}
	for field, v := range map[string]string{
		"authorization_endpoint": doc.AuthURL, "token_endpoint": doc.TokenURL, "jwks_uri": doc.JWKSURL,
	} {
		if v == "" {
			return nil, badDiscovery{fmt.Errorf("%s has no %s", wellKnown, field)}
		}
	}
	doc.Algorithms = slices.DeleteFunc(doc.Algorithms, func(a string) bool { return !slices.Contains(signingAlgs, a) })
	provider := doc.ProviderConfig.NewProvider(gooidc.ClientContext(context.Background(), p.client))
	endpoint := provider.Endpoint()
	switch {
	case len(doc.TokenAuthMethods) == 0 || slices.Contains(doc.TokenAuthMethods, "client_secret_basic"):
		endpoint.AuthStyle = oauth2.AuthStyleInHeader // the default of the specification
	case slices.Contains(doc.TokenAuthMethods, "client_secret_post"):
		endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	return &discovered{
		provider: provider,
		oauth2: oauth2.Config{
			ClientID:     p.cfg.ClientID,
			ClientSecret: p.cfg.ClientSecret,
			Endpoint:     endpoint,
			RedirectURL:  p.cfg.RedirectURL,
			Scopes:       p.cfg.Scopes,
		},
		verifier: provider.Verifier(&gooidc.Config{ClientID: p.cfg.ClientID, Now: p.now}),
	}, nil
}

// loginError is a failed login: the HTTP status, what went wrong and what to do, for the page,
// and the cause, for the log.
type loginError struct {
	status int
	what   string
	todo   string
	err    error
}

func (e *loginError) Error() string {
	if e.err == nil {
		return e.what
	}
	return e.what + ": " + e.err.Error()
}

func (e *loginError) Unwrap() error { return e.err }

// Handler serves the login's two pages: StartPath sends the browser to the provider, and
// CallbackPath, where the provider sends it back, verifies the login and calls onLogin with the
// identity and the local page the user asked for (next, "/" by default). onLogin then signs
// the user in, typically by setting a session cookie and redirecting to next. Failures answer
// a page saying what went wrong and what to do, with status 400 (the browser's request is
// wrong or came too late) or 502 (the provider is unreachable or misbehaves). Mount the handler
// at both paths, or at "/oauth2/<name>/". onLogin must not be nil.
func (p *Provider) Handler(onLogin func(w http.ResponseWriter, r *http.Request, id Identity, next string)) http.Handler {
	if onLogin == nil {
		panic("oidc: Handler needs an onLogin function")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case p.StartPath():
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set("Allow", "GET, HEAD")
				p.fail(w, r, &loginError{status: http.StatusMethodNotAllowed,
					what: "This address only answers GET requests.", todo: "Start the login from the login page."})
				return
			}
			if err := p.start(w, r); err != nil {
				p.fail(w, r, err)
			}
		case p.CallbackPath():
			if r.Method != http.MethodGet {
				w.Header().Set("Allow", "GET")
				p.fail(w, r, &loginError{status: http.StatusMethodNotAllowed,
					what: "This address only answers GET requests.", todo: "Start the login again."})
				return
			}
			id, next, err := p.callback(w, r)
			if err != nil {
				p.fail(w, r, err)
				return
			}
			onLogin(w, r, id, next)
		default:
			http.NotFound(w, r)
		}
	})
}

// start remembers a new login in the state cookie and redirects to the provider.
func (p *Provider) start(w http.ResponseWriter, r *http.Request) *loginError {
	d, err := p.discover(r.Context())
	if err != nil {
		return p.unreachable(err)
	}
	st := loginState{
		State:    randomToken(),
		Nonce:    randomToken(),
		Verifier: oauth2.GenerateVerifier(),
		Next:     localPath(r.URL.Query().Get("next")),
		Expires:  p.now().Add(stateTTL).Unix(),
	}
	value, err := p.signer.encode(st)
	if err != nil {
		return &loginError{status: http.StatusInternalServerError, what: "Wharf could not start the login.", todo: "Try again.", err: err}
	}
	http.SetCookie(w, p.cookie(value, int(stateTTL/time.Second)))
	target := d.oauth2.AuthCodeURL(st.State, gooidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
	return nil
}

// callback finishes the login that the state cookie remembers.
func (p *Provider) callback(w http.ResponseWriter, r *http.Request) (Identity, string, *loginError) {
	q := r.URL.Query()
	again := fmt.Sprintf("Start the login again from the login page (%s).", p.StartPath())
	c, err := r.Cookie(p.cookieName())
	if err == nil {
		// One use only, whatever happens next.
		http.SetCookie(w, p.cookie("", -1))
	}
	if code := q.Get("error"); code != "" {
		what := fmt.Sprintf("%s did not sign you in: %s", p.cfg.ServiceName, code)
		if desc := q.Get("error_description"); desc != "" {
			what += " (" + desc + ")"
		}
		todo := again
		if code == "access_denied" {
			todo = "You, or the provider, refused to share your identity with Wharf. " + again
		}
		return Identity{}, "", &loginError{status: http.StatusBadRequest, what: what + ".", todo: todo}
	}
	if err != nil {
		return Identity{}, "", &loginError{status: http.StatusBadRequest,
			what: "This login was not started in this browser, or took too long (its cookie is missing).",
			todo: again + " Cookies must be enabled for this site."}
	}
	st, err := p.signer.decode(c.Value, p.now())
	if err != nil {
		what := "This login's cookie is not valid."
		if errors.Is(err, errStateExpired) {
			what = fmt.Sprintf("This login took more than %d minutes.", int(stateTTL/time.Minute))
		}
		return Identity{}, "", &loginError{status: http.StatusBadRequest, what: what, todo: again, err: err}
	}
	if q.Get("state") != st.State {
		return Identity{}, "", &loginError{status: http.StatusBadRequest,
			what: "The answer from the provider does not belong to the login started in this browser (state mismatch).",
			todo: again + " If you started several logins at once, finish only the last one."}
	}
	code := q.Get("code")
	if code == "" {
		return Identity{}, "", &loginError{status: http.StatusBadRequest,
			what: fmt.Sprintf("%s sent you back without an authorization code.", p.cfg.ServiceName), todo: again}
	}
	d, err := p.discover(r.Context())
	if err != nil {
		return Identity{}, "", p.unreachable(err)
	}
	id, lerr := p.identify(r.Context(), d, code, st)
	if lerr != nil {
		return Identity{}, "", lerr
	}
	return id, localPath(st.Next), nil
}

// identify exchanges the code for tokens, verifies the ID token and reads the identity.
func (p *Provider) identify(ctx context.Context, d *discovered, code string, st loginState) (Identity, *loginError) {
	ctx, cancel := context.WithTimeout(ctx, exchangeTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, p.client)
	ctx = gooidc.ClientContext(ctx, p.client)
	token, err := d.oauth2.Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		le := &loginError{status: http.StatusBadGateway,
			what: fmt.Sprintf("%s refused to confirm the login (the authorization code exchange failed)", p.cfg.ServiceName),
			todo: "Try again. If this persists, ask the administrator to check CLIENT_ID and CLIENT_SECRET of this login in config.yaml against the client registered at the provider.",
			err:  err}
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			le.what += ": " + re.ErrorCode
			if re.ErrorDescription != "" {
				le.what += " (" + re.ErrorDescription + ")"
			}
			if re.ErrorCode == "invalid_grant" {
				le.status = http.StatusBadRequest
				le.todo = "The authorization code was already used or has expired. Start the login again."
			}
		}
		le.what += "."
		return Identity{}, le
	}
	bad := func(what string, err error) *loginError {
		return &loginError{status: http.StatusBadGateway, what: what, err: err,
			todo: "Ask the administrator to check this login's settings in config.yaml (OIDC_SERVER, CLIENT_ID) against the provider."}
	}
	raw, ok := token.Extra("id_token").(string)
	if !ok || raw == "" {
		return Identity{}, bad(fmt.Sprintf("%s answered without an ID token; is \"openid\" among its scopes?", p.cfg.ServiceName), nil)
	}
	idToken, err := d.verifier.Verify(ctx, raw)
	if err != nil {
		return Identity{}, bad(fmt.Sprintf("The ID token from %s is not valid.", p.cfg.ServiceName), err)
	}
	if idToken.Nonce != st.Nonce {
		return Identity{}, &loginError{status: http.StatusBadRequest,
			what: "The ID token was not issued for the login started in this browser (nonce mismatch).",
			todo: fmt.Sprintf("Start the login again from the login page (%s).", p.StartPath())}
	}
	if idToken.AccessTokenHash != "" {
		if err := idToken.VerifyAccessToken(token.AccessToken); err != nil {
			return Identity{}, bad(fmt.Sprintf("The access token from %s does not match its ID token.", p.cfg.ServiceName), err)
		}
	}
	claims := map[string]any{}
	if err := idToken.Claims(&claims); err != nil {
		return Identity{}, bad(fmt.Sprintf("The ID token from %s cannot be read.", p.cfg.ServiceName), err)
	}
	if !p.cfg.DisableUserInfo && d.provider.UserInfoEndpoint() != "" {
		info, err := d.provider.UserInfo(ctx, oauth2.StaticTokenSource(token))
		if err != nil {
			return Identity{}, bad(fmt.Sprintf("%s's userinfo endpoint failed.", p.cfg.ServiceName), err)
		}
		if info.Subject != idToken.Subject {
			return Identity{}, bad(fmt.Sprintf("%s's userinfo endpoint answered for another user (subject %q, not %q).", p.cfg.ServiceName, info.Subject, idToken.Subject), nil)
		}
		more := map[string]any{}
		if err := info.Claims(&more); err != nil {
			return Identity{}, bad(fmt.Sprintf("%s's userinfo answer cannot be read.", p.cfg.ServiceName), err)
		}
		for k, v := range more {
			claims[k] = v
		}
	}
	id := Identity{
		Issuer:        idToken.Issuer,
		Subject:       idToken.Subject,
		Email:         stringClaim(claims, "email"),
		EmailVerified: boolClaim(claims, "email_verified"),
	}
	id.Username = p.username(claims, id.Email)
	if id.Username == "" {
		return Identity{}, bad(fmt.Sprintf("%s gave no username: its ID token has no %q, \"name\" or \"email\" claim.", p.cfg.ServiceName, p.cfg.PreferredUsernameClaim), nil)
	}
	return id, nil
}

// username is the preferred username claim, else the name claim, else the email's local part.
func (p *Provider) username(claims map[string]any, email string) string {
	for _, c := range []string{p.cfg.PreferredUsernameClaim, "name"} {
		if v := strings.TrimSpace(stringClaim(claims, c)); v != "" {
			return v
		}
	}
	local, _, _ := strings.Cut(email, "@")
	return local
}

func stringClaim(claims map[string]any, name string) string {
	s, _ := claims[name].(string)
	return s
}

// boolClaim reads a boolean claim, which some providers (such as AWS Cognito) send as a string.
func boolClaim(claims map[string]any, name string) bool {
	switch v := claims[name].(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}

// unreachable is the failure of a provider whose discovery document cannot be read or used.
func (p *Provider) unreachable(err error) *loginError {
	var bad badDiscovery
	if errors.As(err, &bad) {
		return &loginError{status: http.StatusBadGateway,
			what: fmt.Sprintf("The sign-in provider %s at %s does not match this login's settings.", p.cfg.ServiceName, p.cfg.Issuer),
			todo: "Ask the administrator to set OIDC_SERVER in config.yaml to the provider's issuer URL.",
			err:  err}
	}
	return &loginError{status: http.StatusBadGateway,
		what: fmt.Sprintf("Wharf could not reach the sign-in provider %s at %s.", p.cfg.ServiceName, p.cfg.Issuer),
		todo: "Try again in a moment. If this persists, ask the administrator to check that the provider is up and that OIDC_SERVER in config.yaml is its issuer URL.",
		err:  err}
}

func (p *Provider) cookieName() string { return "wharf_oidc_" + p.cfg.Name }

// cookie is the state cookie, sent back only to this provider's paths.
func (p *Provider) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     p.cookieName(),
		Value:    value,
		Path:     "/oauth2/" + p.cfg.Name + "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   strings.HasPrefix(p.cfg.RedirectURL, "https:"),
		SameSite: http.SameSiteLaxMode,
	}
}

// snippet shortens a response body for an error message.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
