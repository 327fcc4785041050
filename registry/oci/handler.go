package oci

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wharf-registry/wharf/registry/audit"
	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/storage"
	"github.com/wharf-registry/wharf/registry/store"
)

// Options configure the registry API.
type Options struct {
	// Scheme and Host are PREFERRED_URL_SCHEME and SERVER_HOSTNAME: the base of the token realm.
	Scheme, Host string
	// RealmFromRequest builds the token realm from the host the client asked for instead of
	// Host: for the embedded default, whose clients may say localhost or 127.0.0.1.
	RealmFromRequest bool
	// MaxLayerSize is MAXIMUM_LAYER_SIZE.
	MaxLayerSize int64
	// PageSize is V2_PAGINATION_SIZE: the default and largest page of tags and the catalog.
	PageSize int
	// ProxyStorage is FEATURE_PROXY_STORAGE: stream blobs instead of redirecting to storage.
	ProxyStorage bool
	// AnonymousAccess is FEATURE_ANONYMOUS_ACCESS.
	AnonymousAccess bool
	// CreateNamespaceOnPush is CREATE_NAMESPACE_ON_PUSH: a push into a missing namespace
	// creates it as an organization owned by the pushing user.
	CreateNamespaceOnPush bool
	// ReadOnly refuses every write (REGISTRY_STATE: readonly).
	ReadOnly bool
	// RedirectExpiry is how long signed storage URLs stay valid.
	RedirectExpiry time.Duration
	// BlobReserveWait bounds how long a push waits for the collector to finish removing an
	// earlier copy of the same blob.
	BlobReserveWait time.Duration
	// Audit records pushes, pulls, deletions and repository creation; nil records nothing.
	Audit *audit.Logger
	// AllowPullsWithoutStrictLogging lets a pull succeed when its audit entry cannot be
	// written (ALLOW_PULLS_WITHOUT_STRICT_LOGGING); every other action fails instead.
	AllowPullsWithoutStrictLogging bool
	// Pushed, when set, is told of each manifest stored (after its transaction committed):
	// the security scanner's worker queues it.
	Pushed func(digest, mediaType string)
}

// Handler serves /v2/.
type Handler struct {
	store   *store.Store
	storage storage.Driver
	auth    *auth.Service
	opts    Options
	log     *slog.Logger

	uploadMu sync.Mutex
	uploads  map[string]*uploadLock
}

// NewHandler returns the registry API handler.
func NewHandler(st *store.Store, sd storage.Driver, as *auth.Service, opts Options, log *slog.Logger) *Handler {
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	if opts.RedirectExpiry <= 0 {
		opts.RedirectExpiry = 10 * time.Minute
	}
	if opts.BlobReserveWait <= 0 {
		opts.BlobReserveWait = 30 * time.Second
	}
	if opts.MaxLayerSize <= 0 {
		opts.MaxLayerSize = 20 << 30
	}
	return &Handler{store: st, storage: sd, auth: as, opts: opts, log: log, uploads: map[string]*uploadLock{}}
}

// endpoint names what a /v2/NAME/... path addresses.
type endpoint int

const (
	epNone endpoint = iota
	epUploads
	epUpload
	epManifest
	epBlob
	epTags
	epReferrers
)

// parsePath splits a path below /v2/ into the endpoint, the repository name and the last
// segment (reference, digest or upload id). Each endpoint's tail is one segment, so a
// repository whose name contains "blobs" or "manifests" is still read right.
func parsePath(path string) (endpoint, string, string) {
	if name, ok := strings.CutSuffix(path, "/tags/list"); ok {
		return epTags, name, ""
	}
	if name, ok := strings.CutSuffix(strings.TrimSuffix(path, "/"), "/blobs/uploads"); ok {
		return epUploads, name, ""
	}
	for _, m := range []struct {
		marker string
		ep     endpoint
	}{{"/blobs/uploads/", epUpload}, {"/manifests/", epManifest}, {"/blobs/", epBlob}, {"/referrers/", epReferrers}} {
		i := strings.LastIndex(path, m.marker)
		if i <= 0 {
			continue
		}
		tail := path[i+len(m.marker):]
		if tail == "" || strings.Contains(tail, "/") {
			continue
		}
		return m.ep, path[:i], tail
	}
	return epNone, "", ""
}

// request is one API call, parsed.
type request struct {
	w     http.ResponseWriter
	r     *http.Request
	ctx   context.Context
	creds auth.Credentials
	name  RepoName
}

// ServeHTTP routes a /v2/ request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	path := strings.TrimPrefix(r.URL.Path, "/v2/")
	if path == r.URL.Path {
		writeError(w, r, ErrUnsupported.WithMessage("not a registry API path"))
		return
	}
	req := &request{w: w, r: r, ctx: r.Context()}
	var err error
	switch {
	case path == "" || path == "/":
		err = h.base(req)
	case path == "_catalog":
		err = h.catalog(req)
	default:
		err = h.route(req, path)
	}
	if err != nil {
		e := asError(err)
		if e.Code.Status >= 500 {
			h.log.ErrorContext(r.Context(), "registry request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		} else if e.Cause != nil {
			h.log.DebugContext(r.Context(), "registry request refused", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		writeError(w, r, e)
	}
}

func (h *Handler) route(req *request, path string) error {
	ep, name, arg := parsePath(path)
	var fn func(*request, string) error
	m := req.r.Method
	switch ep {
	case epNone:
		return &Error{Code: Code{"NOT_FOUND", http.StatusNotFound, "no such registry API endpoint"}}
	case epUploads:
		if m == http.MethodPost {
			fn = h.startUpload
		}
	case epUpload:
		switch m {
		case http.MethodGet:
			fn = h.uploadStatus
		case http.MethodPatch:
			fn = h.patchUpload
		case http.MethodPut:
			fn = h.finishUpload
		case http.MethodDelete:
			fn = h.cancelUpload
		}
	case epManifest:
		switch m {
		case http.MethodGet, http.MethodHead:
			fn = h.getManifest
		case http.MethodPut:
			fn = h.putManifest
		case http.MethodDelete:
			fn = h.deleteManifest
		}
	case epBlob:
		switch m {
		case http.MethodGet, http.MethodHead:
			fn = h.getBlob
		case http.MethodDelete:
			fn = h.deleteBlob
		}
	case epTags:
		if m == http.MethodGet {
			fn = h.listTags
		}
	case epReferrers:
		if m == http.MethodGet {
			fn = h.referrers
		}
	}
	repoName, err := ParseRepoName(name)
	if err != nil {
		return ErrNameInvalid.WithMessage("%v", err)
	}
	req.name = repoName
	if fn == nil {
		return ErrUnsupported.WithMessage("method %s is not supported here", m)
	}
	return fn(req, arg)
}

// base answers GET /v2/: 200 for valid credentials, 401 with the token challenge otherwise.
func (h *Handler) base(req *request) error {
	creds, err := h.auth.Authenticate(req.r)
	if err != nil {
		return h.authError(req, "", err)
	}
	if !creds.Presented {
		h.challenge(req, "", false)
		return ErrUnauthorized.Err()
	}
	req.w.Header().Set("Content-Type", "application/json")
	req.w.Write([]byte("{}"))
	return nil
}

// challenge sets the WWW-Authenticate header that sends clients to the token endpoint.
func (h *Handler) challenge(req *request, scope string, insufficient bool) {
	host := h.opts.Host
	if h.opts.RealmFromRequest && req.r.Host != "" {
		host = req.r.Host
	}
	v := `Bearer realm="` + h.opts.Scheme + "://" + host + `/v2/auth",service="` + h.opts.Host + `"`
	if scope != "" {
		v += `,scope="` + scope + `"`
	}
	if insufficient {
		v += `,error="insufficient_scope"`
	}
	req.w.Header().Set("WWW-Authenticate", v)
}

// authorize checks that the request may perform every action on its repository, answering
// the refusal itself: 401 with a challenge for anonymous clients and tokens that lack the
// scope, 403 for signed-in users without the right.
func (h *Handler) authorize(req *request, actions ...string) error {
	creds, err := h.auth.Authenticate(req.r)
	scope := "repository:" + req.name.String() + ":" + strings.Join(actions, ",")
	if err != nil {
		return h.authError(req, scope, err)
	}
	req.creds = creds
	ok, err := h.allowed(req.ctx, creds, req.name, actions...)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	switch {
	case creds.Token != nil:
		h.challenge(req, scope, true)
		return ErrUnauthorized.WithDetail([]auth.Access{{Type: "repository", Name: req.name.String(), Actions: actions}})
	case creds.Identity.Anonymous():
		h.challenge(req, scope, false)
		return ErrUnauthorized.WithDetail([]auth.Access{{Type: "repository", Name: req.name.String(), Actions: actions}})
	default:
		return ErrDenied.WithMessage("%s may not %s %s", creds.Identity.Name(), strings.Join(actions, " and "), req.name)
	}
}

// allowed reports whether the credentials permit every action on a repository.
func (h *Handler) allowed(ctx context.Context, creds auth.Credentials, name RepoName, actions ...string) (bool, error) {
	ok, err := h.auth.Allowed(ctx, creds, name.Namespace, name.Name, actions...)
	if err != nil {
		return false, ErrInternal.Wrap(err)
	}
	return ok, nil
}

// repository loads the request's repository, or answers NAME_UNKNOWN.
func (h *Handler) repository(req *request) (store.Repository, error) {
	repo, err := h.store.Repository(req.ctx, req.name.Namespace, req.name.Name)
	if errors.Is(err, store.ErrNotFound) {
		return store.Repository{}, ErrNameUnknown.WithMessage("repository %s not found", req.name)
	}
	if err != nil {
		return store.Repository{}, ErrInternal.Wrap(err)
	}
	return repo, nil
}

// writableRepository loads or creates the request's repository for a push.
func (h *Handler) writableRepository(req *request) (store.Repository, error) {
	if h.opts.ReadOnly {
		return store.Repository{}, ErrUnsupported.WithMessage("the registry is in read-only mode")
	}
	var creator int64
	if u := req.creds.Identity.User; u != nil {
		creator = u.ID
	}
	repo, created, err := h.store.EnsureRepository(req.ctx, req.name.Namespace, req.name.Name, creator)
	if errors.Is(err, store.ErrNotFound) && h.opts.CreateNamespaceOnPush && creator != 0 && !req.creds.Identity.Robot() {
		if err := h.createNamespace(req, creator); err != nil {
			return store.Repository{}, err
		}
		repo, created, err = h.store.EnsureRepository(req.ctx, req.name.Namespace, req.name.Name, creator)
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.Repository{}, ErrNameUnknown.WithMessage("namespace %s does not exist", req.name.Namespace)
	}
	if err != nil {
		return store.Repository{}, ErrInternal.Wrap(err)
	}
	if created {
		h.log.InfoContext(req.ctx, "repository created", "repository", req.name.String(), "by", req.creds.Identity.Name())
		if err := h.record(req, "create_repo", repo.ID, nil); err != nil {
			return store.Repository{}, err
		}
	}
	return repo, nil
}

// createNamespace makes the request's missing namespace an organization owned by the
// pushing user (CREATE_NAMESPACE_ON_PUSH); another push creating it at the same time is fine.
func (h *Handler) createNamespace(req *request, owner int64) error {
	_, err := h.store.CreateOrganization(req.ctx, req.name.Namespace, "", owner)
	if errors.Is(err, store.ErrExists) {
		return nil
	}
	if err != nil {
		return ErrNameInvalid.WithMessage("cannot create organization %s for this push: %v", req.name.Namespace, err)
	}
	h.log.InfoContext(req.ctx, "organization created by a push", "organization", req.name.Namespace, "by", req.creds.Identity.Name())
	if h.opts.Audit == nil {
		return nil
	}
	return h.opts.Audit.Log(req.ctx, audit.Event{Kind: "org_create", Performer: req.creds.Identity.User, Namespace: req.name.Namespace,
		IP: audit.ClientIP(req.r), Metadata: map[string]any{"email": "", "namespace": req.name.Namespace, "created_on_push": true}})
}

// authError answers credentials that failed: 429 while logins are throttled, else 401
// with the token challenge.
func (h *Handler) authError(req *request, scope string, err error) error {
	var te *auth.ThrottledError
	if errors.As(err, &te) {
		req.w.Header().Set("Retry-After", strconv.Itoa(int(te.RetryAfter.Seconds()+0.999)))
		return ErrTooManyRequests.WithMessage("%v", te)
	}
	h.challenge(req, scope, false)
	if errors.Is(err, auth.ErrEncryptedPasswordRequired) {
		return ErrUnauthorized.WithMessage("%v", err)
	}
	return ErrUnauthorized.WithMessage("invalid credentials")
}

// record writes an audit log entry for the request's repository.
func (h *Handler) record(req *request, kind string, repoID int64, meta map[string]any) error {
	if h.opts.Audit == nil {
		return nil
	}
	if meta == nil {
		meta = map[string]any{}
	}
	id := req.creds.Identity
	if id.Via != "" {
		meta["auth"] = id.Via
	}
	if id.Robot() {
		meta["robot"] = id.Name()
	}
	meta["useragent"] = req.r.UserAgent()
	err := h.opts.Audit.Log(req.ctx, audit.Event{Kind: kind, Performer: id.User, Namespace: req.name.Namespace,
		Repository: req.name.Name, RepositoryID: repoID, IP: audit.ClientIP(req.r), Metadata: meta})
	if err != nil {
		if kind == "pull_repo" && h.opts.AllowPullsWithoutStrictLogging {
			h.log.WarnContext(req.ctx, "pull not logged", "repository", req.name.String(), "err", err)
			return nil
		}
		return ErrInternal.Wrap(err)
	}
	return nil
}

// lockUpload serializes requests on one upload session within this node.
func (h *Handler) lockUpload(id string) func() {
	h.uploadMu.Lock()
	l, ok := h.uploads[id]
	if !ok {
		l = &uploadLock{}
		h.uploads[id] = l
	}
	l.refs++
	h.uploadMu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		h.uploadMu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(h.uploads, id)
		}
		h.uploadMu.Unlock()
	}
}

type uploadLock struct {
	mu   sync.Mutex
	refs int
}
