package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

// Stars: the repositories a user marked (Quay's /api/v1/user/starred).
func (a *API) starRoutes() []*Route {
	return []*Route{
		{Method: "GET", Path: "/api/v1/user/starred", Op: "listStarredRepos", Group: "user", Scope: auth.ScopeRepoRead,
			Query: []string{"next_page"}, Summary: "List all starred repositories.", Handle: a.listStarredRepos},
		{Method: "POST", Path: "/api/v1/user/starred", Op: "createStar", Group: "user", Scope: auth.ScopeRepoRead, Body: true,
			Status: http.StatusCreated, Summary: "Star a repository.", Handle: a.createStar},
		{Method: "DELETE", Path: "/api/v1/user/starred/{repository}", Op: "deleteStar", Group: "user", Scope: auth.ScopeRepoRead,
			Status: http.StatusNoContent, Summary: "Removes a star from a repository.", Handle: a.deleteStar},
	}
}

func (a *API) listStarredRepos(c *Call) (any, error) {
	var after int64
	if tok := c.Query("next_page"); tok != "" {
		var err error
		if after, err = parseRepoPageToken(tok); err != nil {
			return nil, err
		}
	}
	viewer := a.auth.Viewer(c.ID)
	viewer.All = c.Superuser()
	repos, err := a.store.ListRepositories(c.R.Context(), store.RepoListing{Viewer: viewer, StarredBy: c.ID.User.ID, AfterID: after, Limit: reposPerPage + 1})
	if err != nil {
		return nil, fmt.Errorf("list starred repositories: %w", err)
	}
	out := map[string]any{}
	if len(repos) > reposPerPage {
		repos = repos[:reposPerPage]
		out["next_page"] = repoPageToken(repos[len(repos)-1].ID)
	}
	list := make([]any, 0, len(repos))
	for _, r := range repos {
		list = append(list, map[string]any{"namespace": r.Namespace, "name": r.Name, "description": r.Description,
			"is_public": r.Public, "kind": "image"})
	}
	out["repositories"] = list
	return out, nil
}

// readableRepo loads NAMESPACE/NAME when the caller may read it; otherwise (or when it does
// not exist) the same not-found.
func (a *API) readableRepo(c *Call, full string) (store.Repository, error) {
	ns, name, ok := strings.Cut(full, "/")
	if !ok || ns == "" || name == "" {
		return store.Repository{}, badRequest("repository must be NAMESPACE/NAME")
	}
	acc, err := a.auth.RepositoryAccess(c.R.Context(), c.ID, ns, name)
	if err != nil {
		return store.Repository{}, err
	}
	if acc.Role == "" || !acc.Exists {
		return store.Repository{}, notFound("repository " + full)
	}
	repo, err := a.store.Repository(c.R.Context(), ns, name)
	if errors.Is(err, store.ErrNotFound) {
		return store.Repository{}, notFound("repository " + full)
	}
	return repo, err
}

func (a *API) createStar(c *Call) (any, error) {
	var body struct {
		Namespace  string `json:"namespace"`
		Repository string `json:"repository"`
	}
	if err := c.Decode(&body); err != nil {
		return nil, err
	}
	repo, err := a.readableRepo(c, body.Namespace+"/"+body.Repository)
	if err != nil {
		return nil, err
	}
	if err := a.store.StarRepository(c.R.Context(), c.ID.User.ID, repo.ID); err != nil {
		return nil, err
	}
	return map[string]any{"namespace": repo.Namespace, "repository": repo.Name}, nil
}

func (a *API) deleteStar(c *Call) (any, error) {
	repo, err := a.readableRepo(c, c.Param("repository"))
	if err != nil {
		return nil, err
	}
	return nil, a.store.UnstarRepository(c.R.Context(), c.ID.User.ID, repo.ID)
}

// starredAmong marks which of repos the caller starred (none for anonymous callers).
func (a *API) starredAmong(c *Call, repos []store.Repository) (map[int64]bool, error) {
	if c.ID.Anonymous() || len(repos) == 0 {
		return map[int64]bool{}, nil
	}
	ids := make([]int64, len(repos))
	for i, r := range repos {
		ids[i] = r.ID
	}
	return a.store.StarredAmong(c.R.Context(), c.ID.User.ID, ids)
}
