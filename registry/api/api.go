// Package api is the REST API at /api/v1, following Quay's paths and JSON shapes. This first
// part covers repository visibility and the tag time machine (history and restore).
package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

// API serves /api/v1.
type API struct {
	store *store.Store
	auth  *auth.Service
	log   *slog.Logger
}

// New returns the API handler.
func New(st *store.Store, as *auth.Service, log *slog.Logger) *API {
	return &API{store: st, auth: as, log: log}
}

var (
	reVisibility = regexp.MustCompile(`^/api/v1/repository/([^/]+)/(.+)/changevisibility$`)
	reRestore    = regexp.MustCompile(`^/api/v1/repository/([^/]+)/(.+)/tag/([^/]+)/restore$`)
	reTags       = regexp.MustCompile(`^/api/v1/repository/([^/]+)/(.+)/tag/?$`)
)

// Error is the one JSON shape of API errors.
type Error struct {
	Status       int    `json:"status"`
	ErrorMessage string `json:"error_message"`
	Title        string `json:"title"`
	Detail       string `json:"detail"`
}

func fail(status int, title, msg string) *Error {
	return &Error{Status: status, ErrorMessage: msg, Title: title, Detail: msg}
}

func (e *Error) Error() string { return e.ErrorMessage }

// ServeHTTP routes an API request.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var err error
	var out any
	p := r.URL.Path
	switch {
	case reVisibility.MatchString(p) && r.Method == http.MethodPost:
		m := reVisibility.FindStringSubmatch(p)
		out, err = a.changeVisibility(r, m[1], m[2])
	case reRestore.MatchString(p) && r.Method == http.MethodPost:
		m := reRestore.FindStringSubmatch(p)
		out, err = a.restoreTag(r, m[1], m[2], m[3])
	case reTags.MatchString(p) && r.Method == http.MethodGet:
		m := reTags.FindStringSubmatch(p)
		out, err = a.listTags(r, m[1], m[2])
	default:
		err = fail(http.StatusNotFound, "not_found", "no such API endpoint")
	}
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			a.log.ErrorContext(r.Context(), "api request failed", "path", p, "err", err)
			e = fail(http.StatusInternalServerError, "internal_error", "internal error")
		}
		writeJSON(w, e.Status, e)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// repo authenticates the caller and loads the repository, requiring action on it.
func (a *API) repo(r *http.Request, ns, name, action string) (auth.Identity, store.Repository, error) {
	creds, err := a.auth.Authenticate(r)
	if err != nil {
		return auth.Identity{}, store.Repository{}, fail(http.StatusUnauthorized, "unauthorized", "invalid credentials")
	}
	id := creds.Identity
	ok, err := a.auth.Allowed(r.Context(), creds, ns, name, action)
	if err != nil {
		return id, store.Repository{}, err
	}
	if !ok {
		if id.Anonymous() {
			return id, store.Repository{}, fail(http.StatusUnauthorized, "unauthorized", "authentication required")
		}
		return id, store.Repository{}, fail(http.StatusForbidden, "insufficient_scope", "unauthorized for this repository")
	}
	repo, err := a.store.Repository(r.Context(), ns, name)
	if errors.Is(err, store.ErrNotFound) {
		return id, store.Repository{}, fail(http.StatusNotFound, "not_found", "repository not found")
	}
	return id, repo, err
}

func (a *API) changeVisibility(r *http.Request, ns, name string) (any, error) {
	id, repo, err := a.repo(r, ns, name, auth.ActionDelete)
	if err != nil {
		return nil, err
	}
	var body struct {
		Visibility string `json:"visibility"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || (body.Visibility != "public" && body.Visibility != "private") {
		return nil, fail(http.StatusBadRequest, "invalid_request", `body must be {"visibility": "public"} or {"visibility": "private"}`)
	}
	if err := a.store.SetVisibility(r.Context(), repo.ID, body.Visibility == "public"); err != nil {
		return nil, err
	}
	a.log.InfoContext(r.Context(), "repository visibility changed", "repository", repo.FullName(), "visibility", body.Visibility, "by", id.Name())
	return map[string]bool{"success": true}, nil
}

// tagView is a tag lifetime in Quay's JSON shape.
type tagView struct {
	Name           string `json:"name"`
	ManifestDigest string `json:"manifest_digest"`
	Reversion      bool   `json:"reversion"`
	StartTS        int64  `json:"start_ts"`
	EndTS          *int64 `json:"end_ts,omitempty"`
	LastModified   string `json:"last_modified"`
	Expiration     string `json:"expiration,omitempty"`
}

func (a *API) listTags(r *http.Request, ns, name string) (any, error) {
	_, repo, err := a.repo(r, ns, name, auth.ActionPull)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	limit := 50
	if v, err := strconv.Atoi(q.Get("limit")); err == nil && v > 0 && v <= 100 {
		limit = v
	}
	page := 1
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	onlyActive := q.Get("onlyActiveTags") == "true"
	events, err := a.store.TagHistory(r.Context(), repo.ID, q.Get("specificTag"), 100000)
	if err != nil {
		return nil, err
	}
	var views []tagView
	for _, e := range events {
		if onlyActive && !e.Active() {
			continue
		}
		v := tagView{Name: e.Name, ManifestDigest: e.ManifestDigest, StartTS: e.Start.Unix(),
			LastModified: e.Start.UTC().Format(http.TimeFormat)}
		if !e.Active() {
			end := e.End.Unix()
			v.EndTS = &end
			v.Expiration = e.End.UTC().Format(http.TimeFormat)
		}
		views = append(views, v)
	}
	start := min((page-1)*limit, len(views))
	end := min(start+limit, len(views))
	return map[string]any{"tags": nonNil(views[start:end]), "page": page, "has_additional": end < len(views)}, nil
}

func nonNil(v []tagView) []tagView {
	if v == nil {
		return []tagView{}
	}
	return v
}

func (a *API) restoreTag(r *http.Request, ns, name, tag string) (any, error) {
	id, repo, err := a.repo(r, ns, name, auth.ActionPush)
	if err != nil {
		return nil, err
	}
	var body struct {
		ManifestDigest string `json:"manifest_digest"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || !strings.Contains(body.ManifestDigest, ":") {
		return nil, fail(http.StatusBadRequest, "invalid_request", `body must be {"manifest_digest": "sha256:..."}`)
	}
	err = a.store.RestoreTag(r.Context(), repo.ID, tag, body.ManifestDigest)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fail(http.StatusNotFound, "not_found", "that manifest is no longer kept; it cannot be restored")
	}
	if err != nil {
		return nil, err
	}
	a.log.InfoContext(r.Context(), "tag restored", "repository", repo.FullName(), "tag", tag, "manifest", body.ManifestDigest, "by", id.Name())
	return map[string]any{}, nil
}
