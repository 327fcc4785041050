// Package ui is the web UI served at / by wharf serve: pages rendered on the server with
// html/template, embedded in the binary, with a little JavaScript for conveniences only
// (every page reads without it). A page shows and changes what the REST API lets its user
// see and change, because every read and every change goes through the API's own route
// handlers in process (api.Invoke): the same permission checks, the same audit entries, and
// nothing a user may not see can reach a template.
package ui

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/wharf-registry/wharf/registry/api"
	"github.com/wharf-registry/wharf/registry/auth"
)

//go:embed all:templates static
var files embed.FS

// Provider is an external login provider offered on the sign-in page (OIDC).
type Provider struct {
	// Name is what the button says: "Sign in with Name".
	Name string
	// StartPath starts a login; "?next=/path" may follow.
	StartPath string
}

// Options configure the UI from config.yaml.
type Options struct {
	// Title is REGISTRY_TITLE; Hostname is SERVER_HOSTNAME and Scheme PREFERRED_URL_SCHEME
	// (pull commands and absolute links name them).
	Title, Hostname, Scheme string
	// AuthenticationType is Database, LDAP or OIDC.
	AuthenticationType string
	// DirectLogin is FEATURE_DIRECT_LOGIN: the sign-in page offers a user name and password
	// form (Database and LDAP only).
	DirectLogin bool
	// UserCreation is FEATURE_USER_CREATION (Database only): the sign-up page.
	UserCreation bool
	// SecureCookies is SESSION_COOKIE_SECURE: cookies are Secure even over plain HTTP
	// (always over TLS).
	SecureCookies bool
	// Security is FEATURE_SECURITY_SCANNER: tags show security summaries.
	Security bool
	// TagExpirationOptions are TAG_EXPIRATION_OPTIONS.
	TagExpirationOptions []time.Duration
	// Providers are the OIDC logins.
	Providers []Provider
}

// UI is the web UI's handler.
type UI struct {
	api   *api.API
	auth  *auth.Service
	opts  Options
	log   *slog.Logger
	pages map[string]*template.Template
	mux   *http.ServeMux
	// assetVersion makes static URLs change when the embedded files change.
	assetVersion string
	static       fs.FS
	hasVendor    bool
}

// New builds the UI over the REST API a (every page reads and writes through it) and the
// auth service (sessions and sign-in).
func New(a *api.API, as *auth.Service, opts Options, log *slog.Logger) (*UI, error) {
	if log == nil {
		log = slog.Default()
	}
	u := &UI{api: a, auth: as, opts: opts, log: log, mux: http.NewServeMux()}
	static, err := fs.Sub(files, "static")
	if err != nil {
		return nil, fmt.Errorf("ui: static files: %w", err)
	}
	u.static = static
	if err := u.loadAssets(); err != nil {
		return nil, err
	}
	if err := u.parseTemplates(); err != nil {
		return nil, err
	}
	u.routes()
	return u, nil
}

// ServeHTTP serves a page.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	u.mux.ServeHTTP(w, r)
}

// handle registers a page handler for a ServeMux pattern ("GET /repository/{path...}").
func (u *UI) handle(pattern string, h handlerFunc) {
	u.mux.Handle(pattern, u.wrap(h))
}
