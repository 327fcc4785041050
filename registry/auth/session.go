package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/wharf-registry/wharf/registry/audit"
	"github.com/wharf-registry/wharf/registry/store"
)

// SessionCookie is the web UI's session cookie; CSRFHeader carries the session's CSRF token
// on state-changing API requests that authenticate with the cookie.
const (
	SessionCookie = "wharf_session"
	CSRFHeader    = "X-CSRF-Token"
	sessionTTL    = 12 * time.Hour
	oauthTokenTTL = 365 * 24 * time.Hour
)

// ErrCSRF refuses a cookie-authenticated change without the session's CSRF token.
var ErrCSRF = errors.New("missing or wrong " + CSRFHeader + " header: send the token from /api/v1/user/ with changes made in a browser session")

// StartSession signs a user in to the web UI: it stores a session and sets its cookie. It
// returns the session's CSRF token.
func (s *Service) StartSession(ctx context.Context, w http.ResponseWriter, r *http.Request, u store.User) (string, error) {
	id := RandomToken(48)
	csrf := RandomToken(32)
	if err := s.store.CreateSession(ctx, store.Session{IDHash: HashToken(id), UserID: u.ID, CSRF: csrf, ExpiresAt: time.Now().Add(sessionTTL)}); err != nil {
		return "", err
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: s.opts.SecureCookies || r.TLS != nil,
		SameSite: http.SameSiteLaxMode, MaxAge: int(sessionTTL.Seconds())})
	return csrf, nil
}

// EndSession signs the request's session out and clears its cookie.
func (s *Service) EndSession(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(SessionCookie); err == nil {
		if err := s.store.DeleteSession(ctx, HashToken(c.Value)); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.opts.SecureCookies || r.TLS != nil})
	return nil
}

// Session returns the identity of the request's session cookie and the session's CSRF
// token; ErrBadCredentials when there is no valid session.
func (s *Service) Session(r *http.Request) (Identity, string, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return Identity{}, "", ErrBadCredentials
	}
	sess, err := s.store.SessionByHash(r.Context(), HashToken(c.Value))
	if errors.Is(err, store.ErrNotFound) {
		return Identity{}, "", ErrBadCredentials
	}
	if err != nil {
		return Identity{}, "", err
	}
	u, err := s.store.AccountByID(r.Context(), sess.UserID)
	if err != nil || !u.Enabled {
		return Identity{}, "", ErrBadCredentials
	}
	return Identity{User: &u, Via: "session"}, sess.CSRF, nil
}

// APIAuthenticate identifies a REST API request: an OAuth bearer token (limited to its
// scopes), Basic credentials, or the web UI's session cookie (changes need the CSRF header).
// No credentials means anonymous.
func (s *Service) APIAuthenticate(r *http.Request) (Identity, error) {
	h := r.Header.Get("Authorization")
	scheme, value, _ := strings.Cut(h, " ")
	switch strings.ToLower(scheme) {
	case "bearer":
		return s.OAuthLogin(r.Context(), strings.TrimSpace(value))
	case "basic":
		user, pass, ok := r.BasicAuth()
		if !ok {
			return Identity{}, ErrBadCredentials
		}
		return s.Login(r.Context(), user, pass, LoginContext{IP: audit.ClientIP(r), Kind: "api"})
	case "":
	default:
		return Identity{}, ErrBadCredentials
	}
	if _, err := r.Cookie(SessionCookie); err != nil {
		return Identity{}, nil
	}
	id, csrf, err := s.Session(r)
	if err != nil {
		return Identity{}, err
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(csrf)) != 1 {
			return Identity{}, ErrCSRF
		}
	}
	return id, nil
}

// OAuthLogin checks an OAuth access token.
func (s *Service) OAuthLogin(ctx context.Context, token string) (Identity, error) {
	if token == "" || strings.Contains(token, ".") {
		return Identity{}, ErrBadCredentials
	}
	t, err := s.store.OAuthTokenByHash(ctx, HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return Identity{}, ErrBadCredentials
	}
	if err != nil {
		return Identity{}, fmt.Errorf("oauth login: %w", err)
	}
	u, err := s.store.AccountByID(ctx, t.UserID)
	if err != nil || !u.Enabled {
		return Identity{}, ErrBadCredentials
	}
	return Identity{User: &u, Scopes: strings.Fields(t.Scope), Via: "oauth"}, nil
}

// IssueOAuthToken creates an OAuth access token for a user with scopes, for an application
// (0 for none), and returns the secret, shown only this once.
func (s *Service) IssueOAuthToken(ctx context.Context, u store.User, appID int64, scopes []string) (string, error) {
	if err := s.checkScopes(u, scopes); err != nil {
		return "", err
	}
	secret := RandomToken(40)
	_, err := s.store.CreateOAuthToken(ctx, store.OAuthToken{UUID: NewUUID(), ApplicationID: appID, UserID: u.ID,
		TokenHash: HashToken(secret), Scope: strings.Join(scopes, " "), ExpiresAt: time.Now().Add(oauthTokenTTL)})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// Forget drops cached logins, so that a changed password, token or permission takes effect
// at once on this node.
func (s *Service) Forget() {
	s.mu.Lock()
	clear(s.passwords)
	s.mu.Unlock()
}
