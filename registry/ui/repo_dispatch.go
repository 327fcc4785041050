package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/wharf-registry/wharf/registry/api"
)

// repoInfo is a repository as its pages show it (the API's getRepo answer).
type repoInfo struct {
	Namespace      string `json:"namespace"`
	Name           string `json:"name"`
	Description    string `json:"description"`
	IsPublic       bool   `json:"is_public"`
	IsOrganization bool   `json:"is_organization"`
	IsStarred      bool   `json:"is_starred"`
	CanWrite       bool   `json:"can_write"`
	CanAdmin       bool   `json:"can_admin"`
	TagExpirationS int64  `json:"tag_expiration_s"`
	// Full is NAMESPACE/NAME; Tab is the tab shown (info, tags, history, logs, settings);
	// Host is the registry's host for pull commands.
	Full, Tab, Host string
}

// URL is the repository page's path.
func (r *repoInfo) URL() string { return "/repository/" + r.Full }

// API is the repository's REST API path.
func (r *repoInfo) API() string { return "/api/v1/repository/" + r.Full }

// repoTabs are the tabs of a repository page, in order, and who sees them.
var repoTabs = []struct {
	Name, Label string
	Admin       bool
}{
	{"info", "Information", false},
	{"tags", "Tags", false},
	{"history", "Tag history", false},
	{"logs", "Usage logs", true},
	{"settings", "Settings", true},
}

// Tabs lists the tabs the viewer may open.
func (r *repoInfo) Tabs() []struct{ Name, Label string } {
	var out []struct{ Name, Label string }
	for _, t := range repoTabs {
		if !t.Admin || r.CanAdmin {
			out = append(out, struct{ Name, Label string }{t.Name, t.Label})
		}
	}
	return out
}

// repoRoutes registers the repository pages. /repository/NS/NAME[?tab=...] is a repository
// (names may have more segments), /repository/NS/NAME/manifest/sha256:... a manifest's
// security report; every form on them posts to the repository's path with an op field.
func (u *UI) repoRoutes() {
	u.handle("GET /repository/{$}", u.repoList)
	u.handle("GET /repository/new", u.repoNewPage)
	u.handle("POST /repository/new", u.repoCreate)
	u.handle("GET /repository/{path...}", u.repoPage)
	u.handle("POST /repository/{path...}", u.repoPost)
}

// splitRepoPath splits NS/NAME[/manifest/DIGEST].
func splitRepoPath(p string) (full, digest string) {
	if i := strings.Index(p, "/manifest/"); i > 0 {
		return p[:i], p[i+len("/manifest/"):]
	}
	return strings.TrimSuffix(p, "/"), ""
}

// loadRepo reads a repository as the viewer may see it; one the viewer may not see is not
// found, whether it exists or not.
func (u *UI) loadRepo(q *request, full string) (*repoInfo, error) {
	if strings.Count(full, "/") < 1 {
		return nil, notFound("This repository")
	}
	var r repoInfo
	err := q.get("/api/v1/repository/"+full, url.Values{"includeTags": {"false"}}, &r)
	var e *api.Error
	if errors.As(err, &e) && (e.Status == http.StatusForbidden || e.Status == http.StatusNotFound || (e.Status == http.StatusUnauthorized && q.signedIn())) {
		return nil, notFound("This repository")
	}
	if err != nil {
		return nil, err
	}
	r.Full, r.Host = r.Namespace+"/"+r.Name, u.opts.Hostname
	return &r, nil
}

func (u *UI) repoPage(q *request) error {
	full, digest := splitRepoPath(q.r.PathValue("path"))
	repo, err := u.loadRepo(q, full)
	if err != nil {
		return err
	}
	if digest != "" {
		repo.Tab = "tags"
		return u.repoSecurityPage(q, repo, digest)
	}
	repo.Tab = q.r.URL.Query().Get("tab")
	switch repo.Tab {
	case "", "info":
		repo.Tab = "info"
		return u.repoInfoTab(q, repo)
	case "tags":
		return u.repoTagsTab(q, repo)
	case "history":
		return u.repoHistoryTab(q, repo)
	case "logs":
		if !repo.CanAdmin {
			return notFound("This tab")
		}
		return u.repoLogsTab(q, repo)
	case "settings":
		if !repo.CanAdmin {
			return notFound("This tab")
		}
		return u.repoSettingsTab(q, repo)
	}
	return notFound("This tab")
}

// repoPost runs a form posted to a repository page: its op field says what to do.
func (u *UI) repoPost(q *request) error {
	full, _ := splitRepoPath(q.r.PathValue("path"))
	repo, err := u.loadRepo(q, full)
	if err != nil {
		return err
	}
	op := q.form("op")
	for _, h := range []func(*request, *repoInfo, string) (bool, error){u.repoContentPost, u.repoSettingsPost} {
		if handled, err := h(q, repo, op); handled || err != nil {
			return err
		}
	}
	return &api.Error{Status: http.StatusBadRequest, ErrorMessage: "Unknown form action " + op + "."}
}
