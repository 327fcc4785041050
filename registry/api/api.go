// Package api is the REST API at /api/v1, following Quay's paths and JSON shapes so that
// existing Quay clients and scripts work. Every endpoint is one Route in the route table:
// the router, the OAuth scope check and the OpenAPI document at /api/v1/discovery all come
// from that table, so the document lists exactly what the server serves.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wharf-registry/wharf/registry/audit"
	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

// Options are the features the API honours.
type Options struct {
	// UserCreation is FEATURE_USER_CREATION: anyone may sign up.
	UserCreation bool
	// UserInitialize is FEATURE_USER_INITIALIZE: POST /api/v1/user/initialize creates the
	// first user of an empty instance.
	UserInitialize bool
	// UserLogAccess is FEATURE_USER_LOG_ACCESS: users may read their own action logs.
	UserLogAccess bool
	// TeamSyncing is FEATURE_TEAM_SYNCING.
	TeamSyncing bool
	// ServerHostname and Scheme make absolute URLs.
	ServerHostname, Scheme string
	// TagExpiration is DEFAULT_TAG_EXPIRATION: how long deleted and moved tags stay
	// restorable (the time machine window); the views report it as tag_expiration_s.
	// Zero means Quay's default, two weeks.
	TagExpiration time.Duration
	// SyncTeam synchronizes a team with its directory group at once (nil when no
	// directory is configured).
	SyncTeam func(r *http.Request, team store.Team) error
	// Security answers the manifest security endpoint: the scan status and, with
	// vulnerabilities, what affects the manifest (nil when FEATURE_SECURITY_SCANNER is off:
	// the endpoint is then not found, as in Quay).
	Security func(ctx context.Context, m store.Manifest, vulnerabilities bool) (any, error)
}

// API serves /api/v1.
type API struct {
	store  *store.Store
	auth   *auth.Service
	audit  *audit.Logger
	opts   Options
	log    *slog.Logger
	routes []*Route
}

// New returns the API handler.
func New(st *store.Store, as *auth.Service, al *audit.Logger, opts Options, log *slog.Logger) *API {
	if opts.TagExpiration <= 0 {
		opts.TagExpiration = 14 * 24 * time.Hour
	}
	a := &API{store: st, auth: as, audit: al, opts: opts, log: log}
	for _, group := range [][]*Route{
		a.discoveryRoutes(),
		a.userRoutes(),
		a.organizationRoutes(),
		a.teamRoutes(),
		a.robotRoutes(),
		a.repositoryRoutes(),
		a.starRoutes(),
		a.permissionRoutes(),
		a.prototypeRoutes(),
		a.tagRoutes(),
		a.manifestRoutes(),
		a.logRoutes(),
		a.superuserRoutes(),
		a.superuserExtraRoutes(),
		a.messageRoutes(),
		a.applicationRoutes(),
	} {
		for _, r := range group {
			r.compile()
			a.routes = append(a.routes, r)
		}
	}
	return a
}

// Routes lists the API's routes.
func (a *API) Routes() []*Route { return a.routes }

// Route is one endpoint.
type Route struct {
	Method string
	// Path is Quay's path template, e.g. /api/v1/repository/{repository}/tag/{tag}. The
	// {repository} parameter spans NAMESPACE/NAME (two or more segments); others one.
	Path string
	// Op is the OpenAPI operationId (Quay's name for the operation).
	Op string
	// Group is the OpenAPI tag: user, organization, team, robot, repository, ...
	Group   string
	Summary string
	// Scope is the OAuth scope a token needs ("" when none is needed).
	Scope string
	// Anonymous lets unauthenticated callers in (the handler decides what they see).
	Anonymous bool
	// Status is the success status (200 when zero).
	Status int
	// Query lists the query parameters the endpoint reads, for the OpenAPI document.
	Query []string
	// Body is set when the endpoint reads a JSON body.
	Body   bool
	Handle func(c *Call) (any, error)

	segments []string
}

func (r *Route) compile() {
	r.segments = strings.Split(strings.Trim(r.Path, "/"), "/")
}

// literals counts the route's fixed segments.
func (r *Route) literals() int {
	n := 0
	for _, s := range r.segments {
		if !strings.HasPrefix(s, "{") {
			n++
		}
	}
	return n
}

// match matches a path's segments against the route, filling params.
func (r *Route) match(segs []string) (map[string]string, bool) {
	params := map[string]string{}
	if matchSegments(r.segments, segs, params) {
		return params, true
	}
	return nil, false
}

func matchSegments(pattern, segs []string, params map[string]string) bool {
	if len(pattern) == 0 {
		return len(segs) == 0 || (len(segs) == 1 && segs[0] == "")
	}
	p := pattern[0]
	if p == "{repository}" {
		// NAMESPACE/NAME[/MORE...]: at least two segments; try the longest first.
		for n := len(segs) - (len(pattern) - 1); n >= 2; n-- {
			if n > len(segs) {
				continue
			}
			if matchSegments(pattern[1:], segs[n:], params) {
				params["repository"] = strings.Join(segs[:n], "/")
				return true
			}
		}
		return false
	}
	if len(segs) == 0 {
		return false
	}
	if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
		if segs[0] == "" {
			return false
		}
		if matchSegments(pattern[1:], segs[1:], params) {
			params[p[1:len(p)-1]] = segs[0]
			return true
		}
		return false
	}
	return p == segs[0] && matchSegments(pattern[1:], segs[1:], params)
}

// Error is the one JSON shape of API errors (Quay's).
type Error struct {
	Status       int    `json:"status"`
	ErrorMessage string `json:"error_message"`
	Title        string `json:"title"`
	ErrorType    string `json:"error_type"`
	Detail       string `json:"detail"`
	// RetryAfter is sent as the Retry-After header of a 429.
	RetryAfter int `json:"-"`
}

func fail(status int, title, msg string) *Error {
	return &Error{Status: status, ErrorMessage: msg, Title: title, ErrorType: title, Detail: msg}
}

func (e *Error) Error() string { return e.ErrorMessage }

// Common errors.
func badRequest(msg string) *Error { return fail(http.StatusBadRequest, "invalid_request", msg) }
func notFound(what string) *Error  { return fail(http.StatusNotFound, "not_found", what+" not found") }
func forbidden(msg string) *Error  { return fail(http.StatusForbidden, "insufficient_scope", msg) }
func unauthorized() *Error {
	return fail(http.StatusUnauthorized, "unauthorized", "authentication required: sign in, or send an OAuth token or Basic credentials")
}

// ServeHTTP routes an API request.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if strings.HasSuffix(r.URL.Path, "/") {
		segs = append(segs, "")
	}
	// The most specific route wins: the one with the most literal segments ({repository}
	// spans any number of segments, so /repository/{repository} matches every longer path).
	var route *Route
	var params map[string]string
	var allowed []string
	best := -1
	for _, rt := range a.routes {
		// A trailing slash is optional both ways (Quay's /api/v1/user/ is also /api/v1/user).
		p, ok := rt.match(segs)
		if !ok && strings.HasSuffix(r.URL.Path, "/") {
			p, ok = rt.match(segs[:len(segs)-1])
		} else if !ok {
			p, ok = rt.match(append(segs[:len(segs):len(segs)], ""))
		}
		if !ok {
			continue
		}
		if rt.Method != r.Method {
			allowed = append(allowed, rt.Method)
			continue
		}
		if n := rt.literals(); n > best {
			route, params, best = rt, p, n
		}
	}
	if route != nil {
		allowed = nil
	}
	if route == nil {
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			a.writeError(w, r, fail(http.StatusMethodNotAllowed, "method_not_allowed", "use "+strings.Join(allowed, " or ")))
			return
		}
		a.writeError(w, r, fail(http.StatusNotFound, "not_found", "no such API endpoint"))
		return
	}
	c := &Call{R: r, W: w, api: a, params: params, route: route}
	out, err := a.serve(c)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	status := route.Status
	if status == 0 {
		status = http.StatusOK
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, out)
}

func (a *API) serve(c *Call) (any, error) {
	id, err := a.auth.APIAuthenticate(c.R)
	if err != nil {
		var te *auth.ThrottledError
		switch {
		case errors.As(err, &te):
			e := fail(http.StatusTooManyRequests, "too_many_requests", te.Error())
			e.RetryAfter = int(te.RetryAfter.Seconds() + 0.999)
			return nil, e
		case errors.Is(err, auth.ErrCSRF):
			return nil, fail(http.StatusForbidden, "csrf_failure", err.Error())
		case errors.Is(err, auth.ErrBadCredentials), errors.Is(err, auth.ErrEncryptedPasswordRequired):
			return nil, fail(http.StatusUnauthorized, "invalid_token", err.Error())
		}
		return nil, err
	}
	if id.Robot() {
		return nil, forbidden("robot accounts cannot use the API: use a user's OAuth token")
	}
	c.ID = id
	if id.Anonymous() && !c.route.Anonymous {
		return nil, unauthorized()
	}
	if c.route.Scope != "" && !id.Anonymous() && !id.HasScope(c.route.Scope) {
		return nil, forbidden("this OAuth token lacks the " + c.route.Scope + " scope")
	}
	return c.route.Handle(c)
}

func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		a.log.ErrorContext(r.Context(), "api request failed", "path", r.URL.Path, "err", err)
		e = fail(http.StatusInternalServerError, "internal_error", "internal error: see the server log")
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	writeJSON(w, e.Status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// Call is one API request being served.
type Call struct {
	R *http.Request
	W http.ResponseWriter
	// ID is the caller (anonymous only on routes that allow it).
	ID     auth.Identity
	api    *API
	params map[string]string
	route  *Route
}

// Param returns a path parameter.
func (c *Call) Param(name string) string { return c.params[name] }

// Decode reads the JSON body into v; a malformed body is a 400.
func (c *Call) Decode(v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(c.W, c.R.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		return badRequest("invalid JSON body: " + err.Error())
	}
	return nil
}

// Superuser reports whether the caller is a superuser with the super:user scope.
func (c *Call) Superuser() bool {
	return c.api.auth.Superuser(c.ID) && c.ID.HasScope(auth.ScopeSuperUser)
}

// RequireSuperuser refuses callers that are not superusers.
func (c *Call) RequireSuperuser() error {
	if !c.Superuser() {
		return forbidden("superuser rights (and the super:user scope) required")
	}
	return nil
}

// Repo loads the {repository} of the path, requiring role (read, write or admin). A caller
// without the role is refused the same way whether or not the repository exists.
func (c *Call) Repo(role string) (store.Repository, error) {
	full := c.Param("repository")
	ns, name, ok := strings.Cut(full, "/")
	if !ok {
		return store.Repository{}, badRequest("repository must be NAMESPACE/NAME")
	}
	acc, err := c.api.auth.RepositoryAccess(c.R.Context(), c.ID, ns, name)
	if err != nil {
		return store.Repository{}, err
	}
	if store.StrongerRole(acc.Role, role) != acc.Role || acc.Role == "" {
		if c.ID.Anonymous() {
			return store.Repository{}, unauthorized()
		}
		return store.Repository{}, forbidden("you need " + role + " permission on " + full)
	}
	if !acc.Exists {
		return store.Repository{}, notFound("repository " + full)
	}
	repo, err := c.api.store.Repository(c.R.Context(), ns, name)
	if errors.Is(err, store.ErrNotFound) {
		return store.Repository{}, notFound("repository " + full)
	}
	return repo, err
}

// Org loads the {orgname} organization; admin requires the caller to administer it (an
// organization admin or superuser, with the org:admin scope), else membership is enough
// (or superuser).
func (c *Call) Org(admin bool) (store.Namespace, error) {
	name := c.Param("orgname")
	ns, err := c.api.store.Namespace(c.R.Context(), name)
	if errors.Is(err, store.ErrNotFound) || (err == nil && ns.Kind != store.KindOrg) {
		if c.api.auth.Superuser(c.ID) {
			return store.Namespace{}, notFound("organization " + name)
		}
		return store.Namespace{}, forbidden("you are not an administrator of organization " + name)
	}
	if err != nil {
		return store.Namespace{}, err
	}
	role, err := c.api.auth.OrgRole(c.R.Context(), c.ID, ns.ID)
	if err != nil {
		return store.Namespace{}, err
	}
	if admin && (role != store.TeamAdmin || !c.ID.HasScope(auth.ScopeOrgAdmin)) {
		return store.Namespace{}, forbidden("you are not an administrator of organization " + name)
	}
	if !admin && role == "" {
		return store.Namespace{}, forbidden("you are not a member of organization " + name)
	}
	return ns, nil
}

// Log records an audit event performed by the caller.
func (c *Call) Log(kind string, ns string, nsID int64, repo string, repoID int64, meta map[string]any) error {
	if c.api.audit == nil {
		return nil
	}
	if meta == nil {
		meta = map[string]any{}
	}
	if c.ID.Via == "oauth" {
		meta["oauth_token"] = true
	}
	return c.api.audit.Log(c.R.Context(), audit.Event{Kind: kind, Performer: c.ID.User, Namespace: ns, NamespaceID: nsID,
		Repository: repo, RepositoryID: repoID, IP: audit.ClientIP(c.R), Metadata: meta})
}

// LogRepo records an audit event on a repository.
func (c *Call) LogRepo(kind string, repo store.Repository, meta map[string]any) error {
	return c.Log(kind, repo.Namespace, repo.NamespaceID, repo.Name, repo.ID, meta)
}

// Query returns a query parameter.
func (c *Call) Query(name string) string { return c.R.URL.Query().Get(name) }

// oneOf reports whether v is one of the allowed values.
func oneOf(v string, allowed ...string) bool { return slices.Contains(allowed, v) }
