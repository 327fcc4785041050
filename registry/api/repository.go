package api

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/oci"
	"github.com/wharf-registry/wharf/registry/store"
)

// reposPerPage is the page size of the repository list (Quay's).
const reposPerPage = 100

// repositoryRoutes are the repository list, creation and visibility. The routes on
// /api/v1/repository/{repository} itself come last in the route table (see
// repositoryItemRoutes): {repository} spans any number of segments, so they would otherwise
// take the paths of the more specific routes below them.
func (a *API) repositoryRoutes() []*Route {
	return []*Route{{
		Method: "POST", Path: "/api/v1/repository", Op: "createRepo", Group: "repository",
		Summary: "Create a new repository.", Scope: auth.ScopeRepoCreate, Status: http.StatusCreated, Body: true,
		Handle: a.createRepo,
	}, {
		Method: "GET", Path: "/api/v1/repository", Op: "listRepos", Group: "repository", Anonymous: true,
		Summary: "Fetch the list of repositories visible to the current user under a variety of situations.",
		Scope:   auth.ScopeRepoRead,
		Query:   []string{"namespace", "starred", "public", "last_modified", "popularity", "repo_kind", "next_page", "filter", "visibility"},
		Handle:  a.listRepos,
	}, {
		Method: "POST", Path: "/api/v1/repository/{repository}/changevisibility", Op: "changeRepoVisibility", Group: "repository",
		Summary: "Change the visibility of a repository.", Scope: auth.ScopeRepoAdmin, Body: true,
		Handle: a.changeRepoVisibility,
	}}
}

// repositoryItemRoutes are the routes on one repository's own path. They must follow every
// other /api/v1/repository/{repository}/... route in the table.
func (a *API) repositoryItemRoutes() []*Route {
	return []*Route{{
		Method: "GET", Path: "/api/v1/repository/{repository}", Op: "getRepo", Group: "repository", Anonymous: true,
		Summary: "Fetch the specified repository.", Scope: auth.ScopeRepoRead, Query: []string{"includeTags"},
		Handle: a.getRepo,
	}, {
		Method: "PUT", Path: "/api/v1/repository/{repository}", Op: "updateRepo", Group: "repository",
		Summary: "Update the description in the specified repository.", Scope: auth.ScopeRepoWrite, Body: true,
		Handle: a.updateRepo,
	}, {
		Method: "DELETE", Path: "/api/v1/repository/{repository}", Op: "deleteRepository", Group: "repository",
		Summary: "Delete a repository.", Scope: auth.ScopeRepoAdmin, Status: http.StatusNoContent,
		Handle: a.deleteRepository,
	}}
}

func (a *API) createRepo(c *Call) (any, error) {
	var body struct {
		Namespace   string  `json:"namespace"`
		Repository  string  `json:"repository"`
		Visibility  string  `json:"visibility"`
		Description string  `json:"description"`
		RepoKind    *string `json:"repo_kind"`
	}
	if err := c.Decode(&body); err != nil {
		return nil, err
	}
	if !oneOf(body.Visibility, "public", "private") {
		return nil, badRequest(`visibility must be "public" or "private"`)
	}
	if body.RepoKind != nil && *body.RepoKind != "" && *body.RepoKind != "image" {
		return nil, badRequest(`repo_kind must be "image": this registry holds image repositories only`)
	}
	ns := body.Namespace
	if ns == "" {
		ns = c.ID.User.Name
	}
	ctx := c.R.Context()
	acc, err := a.auth.RepositoryAccess(ctx, c.ID, ns, body.Repository)
	if err != nil {
		return nil, err
	}
	if acc.Role != store.RoleAdmin {
		if acc.NamespaceID == 0 && a.auth.Superuser(c.ID) {
			return nil, notFound("namespace " + ns)
		}
		return nil, forbidden("you may not create repositories in namespace " + ns)
	}
	if acc.Exists {
		return nil, badRequest("Repository already exists")
	}
	if _, err := oci.ParseRepoName(ns + "/" + body.Repository); err != nil || body.Repository == "" {
		return nil, badRequest("Invalid repository name: use lowercase letters, digits and separators (. _ __ -) in slash-separated components")
	}
	repo, err := a.store.CreateRepository(ctx, store.NewRepository{Namespace: ns, Name: body.Repository,
		Public: body.Visibility == "public", Description: body.Description, CreatorID: c.ID.User.ID})
	if errors.Is(err, store.ErrExists) {
		return nil, badRequest("Repository already exists")
	}
	if err != nil {
		return nil, fmt.Errorf("create repository %s/%s: %w", ns, body.Repository, err)
	}
	a.auth.Forget()
	if err := c.LogRepo("create_repo", repo, map[string]any{"repo": repo.Name, "namespace": repo.Namespace}); err != nil {
		return nil, err
	}
	return map[string]any{"namespace": repo.Namespace, "name": repo.Name, "kind": "image"}, nil
}

// repoQueryBool reads a boolean query parameter as Quay does (true, 1, yes, on...).
func repoQueryBool(c *Call, name string, def bool) bool {
	v := strings.ToLower(strings.TrimSpace(c.Query(name)))
	switch v {
	case "":
		return def
	case "true", "t", "1", "yes", "y", "on":
		return true
	}
	return false
}

// repoPageToken encodes the id a repository page ends at as an opaque next_page token.
func repoPageToken(lastID int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("repo:" + strconv.FormatInt(lastID, 10)))
}

func parseRepoPageToken(tok string) (int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, badRequest("invalid next_page token")
	}
	rest, ok := strings.CutPrefix(string(raw), "repo:")
	id, err := strconv.ParseInt(rest, 10, 64)
	if !ok || err != nil || id < 0 {
		return 0, badRequest("invalid next_page token")
	}
	return id, nil
}

func (a *API) listRepos(c *Call) (any, error) {
	namespace := c.Query("namespace")
	starred := repoQueryBool(c, "starred", false)
	public := repoQueryBool(c, "public", false)
	lastModified := repoQueryBool(c, "last_modified", false)
	popularity := repoQueryBool(c, "popularity", false)
	if namespace == "" && !starred && !public {
		return nil, badRequest("namespace, starred or public are required for this API call")
	}
	if starred && c.ID.Anonymous() {
		return nil, badRequest("starred repositories need a signed-in user")
	}
	var after int64
	if tok := c.Query("next_page"); tok != "" {
		var err error
		if after, err = parseRepoPageToken(tok); err != nil {
			return nil, err
		}
	}
	out := map[string]any{"repositories": []any{}}
	if kind := c.Query("repo_kind"); kind != "" && kind != "image" {
		// Wharf has only image repositories.
		return out, nil
	}
	viewer := a.auth.Viewer(c.ID)
	viewer.Public = viewer.Public && (public || starred)
	viewer.All = c.Superuser()
	var starredBy int64
	if starred {
		starredBy = c.ID.User.ID
	}
	// Wharf's additions: filter (a part of NAMESPACE/NAME, any case) and visibility
	// (public or private), applied before paging.
	visibility := c.Query("visibility")
	if visibility != "" && visibility != "public" && visibility != "private" {
		return nil, badRequest("visibility must be public or private")
	}
	repos, err := a.store.ListRepositories(c.R.Context(), store.RepoListing{Viewer: viewer, Namespace: namespace,
		Filter: strings.TrimSpace(c.Query("filter")), Visibility: visibility, StarredBy: starredBy, AfterID: after, Limit: reposPerPage + 1})
	if err != nil {
		return nil, fmt.Errorf("list repositories: %w", err)
	}
	if len(repos) > reposPerPage {
		repos = repos[:reposPerPage]
		out["next_page"] = repoPageToken(repos[len(repos)-1].ID)
	}
	stars, err := a.starredAmong(c, repos)
	if err != nil {
		return nil, err
	}
	list := make([]any, 0, len(repos))
	for _, r := range repos {
		v := map[string]any{"namespace": r.Namespace, "name": r.Name, "description": r.Description, "is_public": r.Public,
			"kind": "image", "state": "NORMAL"}
		if !c.ID.Anonymous() {
			v["is_starred"] = stars[r.ID]
		}
		if lastModified {
			if r.LastModified.IsZero() {
				v["last_modified"] = nil
			} else {
				v["last_modified"] = r.LastModified.Unix()
			}
		}
		if popularity {
			v["popularity"] = 0.0
		}
		list = append(list, v)
	}
	out["repositories"] = list
	return out, nil
}

func (a *API) getRepo(c *Call) (any, error) {
	repo, err := c.Repo(store.RoleRead)
	if err != nil {
		return nil, err
	}
	acc, err := a.auth.RepositoryAccess(c.R.Context(), c.ID, repo.Namespace, repo.Name)
	if err != nil {
		return nil, err
	}
	out := map[string]any{
		"namespace": repo.Namespace, "name": repo.Name, "kind": "image", "description": repo.Description,
		"is_public": repo.Public, "is_organization": repo.NamespaceKind == store.KindOrg, "is_starred": false,
		"status_token": "", "trust_enabled": false, "tag_expiration_s": int64(a.opts.TagExpiration.Seconds()), "state": "NORMAL",
		"can_write": store.StrongerRole(acc.Role, store.RoleWrite) == acc.Role && acc.Role != "",
		"can_admin": acc.Role == store.RoleAdmin,
	}
	if stars, err := a.starredAmong(c, []store.Repository{repo}); err != nil {
		return nil, err
	} else if stars[repo.ID] {
		out["is_starred"] = true
	}
	if repoQueryBool(c, "includeTags", true) {
		records, err := a.store.TagRecords(c.R.Context(), repo.ID, store.TagQuery{ActiveOnly: true, Limit: 500})
		if err != nil {
			return nil, err
		}
		tags := map[string]any{}
		for _, r := range records {
			t := map[string]any{"name": r.Name, "size": r.Size, "manifest_digest": r.ManifestDigest,
				"last_modified": tagDate(r.Start)}
			if !r.Expires.IsZero() {
				t["expiration"] = tagDate(r.Expires)
			}
			tags[r.Name] = t
		}
		out["tags"] = tags
	}
	return out, nil
}

func (a *API) updateRepo(c *Call) (any, error) {
	repo, err := c.Repo(store.RoleWrite)
	if err != nil {
		return nil, err
	}
	var body struct {
		Description *string `json:"description"`
	}
	if err := c.Decode(&body); err != nil {
		return nil, err
	}
	if body.Description == nil {
		return nil, badRequest("description is required")
	}
	if err := a.store.SetRepositoryDescription(c.R.Context(), repo.ID, *body.Description); err != nil {
		return nil, err
	}
	if err := c.LogRepo("set_repo_description", repo, map[string]any{"repo": repo.Name, "namespace": repo.Namespace,
		"description": *body.Description}); err != nil {
		return nil, err
	}
	return map[string]any{"success": true}, nil
}

func (a *API) deleteRepository(c *Call) (any, error) {
	repo, err := c.Repo(store.RoleAdmin)
	if err != nil {
		return nil, err
	}
	if err := a.store.DeleteRepository(c.R.Context(), repo.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound("repository " + repo.FullName())
		}
		return nil, err
	}
	a.auth.Forget()
	if err := c.LogRepo("delete_repo", repo, map[string]any{"repo": repo.Name, "namespace": repo.Namespace}); err != nil {
		return nil, err
	}
	return nil, nil
}

func (a *API) changeRepoVisibility(c *Call) (any, error) {
	repo, err := c.Repo(store.RoleAdmin)
	if err != nil {
		return nil, err
	}
	var body struct {
		Visibility string `json:"visibility"`
	}
	if err := c.Decode(&body); err != nil {
		return nil, err
	}
	if !oneOf(body.Visibility, "public", "private") {
		return nil, badRequest(`body must be {"visibility": "public"} or {"visibility": "private"}`)
	}
	if err := a.store.SetVisibility(c.R.Context(), repo.ID, body.Visibility == "public"); err != nil {
		return nil, err
	}
	a.auth.Forget()
	if err := c.LogRepo("change_repo_visibility", repo, map[string]any{"repo": repo.Name, "namespace": repo.Namespace,
		"visibility": body.Visibility}); err != nil {
		return nil, err
	}
	return map[string]any{"success": true}, nil
}

// repoAvatar is Quay's avatar object for an account or team: a hash to draw it from and a
// color.
func repoAvatar(name, email, kind string) map[string]any {
	seed := email
	if seed == "" {
		seed = name
	}
	sum := md5.Sum([]byte(seed))
	palette := []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
		"#bcbd22", "#17becf"}
	return map[string]any{"name": name, "hash": hex.EncodeToString(sum[:]), "color": palette[int(sum[0])%len(palette)], "kind": kind}
}
