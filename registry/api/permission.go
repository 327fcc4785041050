package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

// permissionRoutes manage the roles users, robots and teams hold on a repository. All of
// them need the admin role on the repository.
func (a *API) permissionRoutes() []*Route {
	const user = "/api/v1/repository/{repository}/permissions/user/"
	const team = "/api/v1/repository/{repository}/permissions/team/"
	return []*Route{{
		Method: "GET", Path: user, Op: "listRepoUserPermissions", Group: "permission", Scope: auth.ScopeRepoAdmin,
		Summary: "List all user permissions.", Handle: a.listRepoUserPermissions,
	}, {
		Method: "GET", Path: user + "{username}", Op: "getUserPermissions", Group: "permission", Scope: auth.ScopeRepoAdmin,
		Summary: "Get the permission for the specified user.", Handle: a.getUserPermissions,
	}, {
		Method: "PUT", Path: user + "{username}", Op: "changeUserPermissions", Group: "permission", Scope: auth.ScopeRepoAdmin,
		Summary: "Update the permissions for an existing repository.", Body: true, Handle: a.changeUserPermissions,
	}, {
		Method: "DELETE", Path: user + "{username}", Op: "deleteUserPermissions", Group: "permission", Scope: auth.ScopeRepoAdmin,
		Summary: "Delete the permission for the user.", Status: http.StatusNoContent, Handle: a.deleteUserPermissions,
	}, {
		Method: "GET", Path: team, Op: "listRepoTeamPermissions", Group: "permission", Scope: auth.ScopeRepoAdmin,
		Summary: "List all team permission.", Handle: a.listRepoTeamPermissions,
	}, {
		Method: "GET", Path: team + "{teamname}", Op: "getTeamPermissions", Group: "permission", Scope: auth.ScopeRepoAdmin,
		Summary: "Fetch the permission for the specified team.", Handle: a.getTeamPermissions,
	}, {
		Method: "PUT", Path: team + "{teamname}", Op: "changeTeamPermissions", Group: "permission", Scope: auth.ScopeRepoAdmin,
		Summary: "Update the existing team permission.", Body: true, Handle: a.changeTeamPermissions,
	}, {
		Method: "DELETE", Path: team + "{teamname}", Op: "deleteTeamPermissions", Group: "permission", Scope: auth.ScopeRepoAdmin,
		Summary: "Delete the permission for the specified team.", Status: http.StatusNoContent, Handle: a.deleteTeamPermissions,
	}}
}

// repoOrgMembers returns the ids of the members of an organization (nil for a user namespace).
func (a *API) repoOrgMembers(ctx context.Context, ns store.Namespace) (map[int64]bool, error) {
	if ns.Kind != store.KindOrg {
		return nil, nil
	}
	members, _, err := a.store.OrgMembers(ctx, ns.ID)
	if err != nil {
		return nil, fmt.Errorf("members of %s: %w", ns.Name, err)
	}
	set := map[int64]bool{}
	for _, m := range members {
		set[m.ID] = true
	}
	return set, nil
}

func permAvatarKind(u store.User) string {
	if u.Robot() {
		return "robot"
	}
	return "user"
}

// repoUserPermView is Quay's shape of a user's or robot's role on a repository.
func repoUserPermView(p store.Permission, repo store.Repository, members map[int64]bool) map[string]any {
	v := map[string]any{"role": p.Role, "name": p.Account.Name, "is_robot": p.Account.Robot(),
		"avatar": repoAvatar(p.Account.Name, p.Account.Email, permAvatarKind(p.Account))}
	if repo.NamespaceKind == store.KindOrg {
		v["is_org_member"] = p.Account.Robot() || members[p.Account.ID]
	}
	return v
}

func repoTeamPermView(p store.Permission) map[string]any {
	return map[string]any{"role": p.Role, "name": p.Team.Name, "avatar": repoAvatar(p.Team.Name, "", "team")}
}

func repoNamespaceOf(repo store.Repository) store.Namespace {
	return store.Namespace{ID: repo.NamespaceID, Name: repo.Namespace, Kind: repo.NamespaceKind}
}

func (a *API) listRepoUserPermissions(c *Call) (any, error) {
	repo, err := c.Repo(store.RoleAdmin)
	if err != nil {
		return nil, err
	}
	perms, err := a.store.UserPermissions(c.R.Context(), repo.ID)
	if err != nil {
		return nil, err
	}
	members, err := a.repoOrgMembers(c.R.Context(), repoNamespaceOf(repo))
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, p := range perms {
		out[p.Account.Name] = repoUserPermView(p, repo, members)
	}
	return map[string]any{"permissions": out}, nil
}

// repoUserPermission finds the direct role of an account on a repository (ok false when none).
func (a *API) repoUserPermission(ctx context.Context, repoID int64, username string) (store.Permission, bool, error) {
	perms, err := a.store.UserPermissions(ctx, repoID)
	return findPermission(perms, err, func(p store.Permission) bool { return p.Account.Name == username })
}

// findPermission picks the permission match selects from a listing (ok false when none).
func findPermission(perms []store.Permission, err error, match func(store.Permission) bool) (store.Permission, bool, error) {
	if err != nil {
		return store.Permission{}, false, err
	}
	for _, p := range perms {
		if match(p) {
			return p, true, nil
		}
	}
	return store.Permission{}, false, nil
}

// logGrant records a role given on a repository: add_repo_permission when the holder had
// none, change_repo_permission with the original role otherwise. holder names who (the
// "username" or "team" metadata).
func logGrant(c *Call, repo store.Repository, holder map[string]any, role string, prev store.Permission, existed bool) error {
	kind, meta := "add_repo_permission", map[string]any{"repo": repo.Name, "namespace": repo.Namespace, "role": role}
	maps.Copy(meta, holder)
	if existed {
		kind = "change_repo_permission"
		meta["original_role"] = prev.Role
	}
	return c.LogRepo(kind, repo, meta)
}

func (a *API) getUserPermissions(c *Call) (any, error) {
	repo, err := c.Repo(store.RoleAdmin)
	if err != nil {
		return nil, err
	}
	p, ok, err := a.repoUserPermission(c.R.Context(), repo.ID, c.Param("username"))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("permission of " + c.Param("username") + " on " + repo.FullName())
	}
	members, err := a.repoOrgMembers(c.R.Context(), repoNamespaceOf(repo))
	if err != nil {
		return nil, err
	}
	return repoUserPermView(p, repo, members), nil
}

// decodeRepoRole reads a {"role": ...} body.
func decodeRepoRole(c *Call) (string, error) {
	var body struct {
		Role string `json:"role"`
	}
	if err := c.Decode(&body); err != nil {
		return "", err
	}
	if !store.ValidRole(body.Role) {
		return "", badRequest(`role must be "read", "write" or "admin"`)
	}
	return body.Role, nil
}

func (a *API) changeUserPermissions(c *Call) (any, error) {
	repo, err := c.Repo(store.RoleAdmin)
	if err != nil {
		return nil, err
	}
	role, err := decodeRepoRole(c)
	if err != nil {
		return nil, err
	}
	ctx := c.R.Context()
	username := c.Param("username")
	if username == repo.Namespace {
		return nil, badRequest("Namespace owner must always be admin.")
	}
	acct, err := a.store.Account(ctx, username)
	if errors.Is(err, store.ErrNotFound) || (err == nil && acct.Kind == store.KindOrg) {
		return nil, badRequest("Invalid username: " + username)
	}
	if err != nil {
		return nil, err
	}
	if acct.Robot() && acct.OwnerID != repo.NamespaceID {
		return nil, badRequest(fmt.Sprintf("Cannot add robot %s under namespace %s", username, repo.Namespace))
	}
	prev, existed, err := a.repoUserPermission(ctx, repo.ID, username)
	if err != nil {
		return nil, err
	}
	if err := a.store.SetUserPermission(ctx, repo.ID, acct.ID, role); err != nil {
		return nil, err
	}
	a.auth.Forget()
	if err := logGrant(c, repo, map[string]any{"username": username}, role, prev, existed); err != nil {
		return nil, err
	}
	members, err := a.repoOrgMembers(ctx, repoNamespaceOf(repo))
	if err != nil {
		return nil, err
	}
	return repoUserPermView(store.Permission{Role: role, Account: acct}, repo, members), nil
}

func (a *API) deleteUserPermissions(c *Call) (any, error) {
	repo, err := c.Repo(store.RoleAdmin)
	if err != nil {
		return nil, err
	}
	ctx := c.R.Context()
	username := c.Param("username")
	p, ok, err := a.repoUserPermission(ctx, repo.ID, username)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, badRequest("User does not have permission for repo.")
	}
	if err := a.store.DeleteUserPermission(ctx, repo.ID, p.Account.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, badRequest("User does not have permission for repo.")
		}
		return nil, err
	}
	a.auth.Forget()
	if err := c.LogRepo("delete_repo_permission", repo, map[string]any{"username": username, "repo": repo.Name,
		"namespace": repo.Namespace, "role": p.Role}); err != nil {
		return nil, err
	}
	return nil, nil
}

func (a *API) listRepoTeamPermissions(c *Call) (any, error) {
	repo, err := c.Repo(store.RoleAdmin)
	if err != nil {
		return nil, err
	}
	perms, err := a.store.TeamPermissions(c.R.Context(), repo.ID)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, p := range perms {
		out[p.Team.Name] = repoTeamPermView(p)
	}
	return map[string]any{"permissions": out}, nil
}

// repoTeam loads the {teamname} team of the repository's organization.
func (a *API) repoTeam(c *Call, repo store.Repository) (store.Team, error) {
	name := c.Param("teamname")
	if repo.NamespaceKind != store.KindOrg {
		return store.Team{}, badRequest(repo.Namespace + " is not an organization: only organizations have teams")
	}
	t, err := a.store.Team(c.R.Context(), repo.NamespaceID, name)
	if errors.Is(err, store.ErrNotFound) {
		return store.Team{}, badRequest(fmt.Sprintf("No team %s in organization %s", name, repo.Namespace))
	}
	return t, err
}

// repoTeamPermission finds a team's role on a repository (ok false when none).
func (a *API) repoTeamPermission(ctx context.Context, repoID, teamID int64) (store.Permission, bool, error) {
	perms, err := a.store.TeamPermissions(ctx, repoID)
	return findPermission(perms, err, func(p store.Permission) bool { return p.Team.ID == teamID })
}

func (a *API) getTeamPermissions(c *Call) (any, error) {
	repo, err := c.Repo(store.RoleAdmin)
	if err != nil {
		return nil, err
	}
	t, err := a.repoTeam(c, repo)
	if err != nil {
		return nil, err
	}
	p, ok, err := a.repoTeamPermission(c.R.Context(), repo.ID, t.ID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("permission of team " + t.Name + " on " + repo.FullName())
	}
	return repoTeamPermView(p), nil
}

func (a *API) changeTeamPermissions(c *Call) (any, error) {
	repo, err := c.Repo(store.RoleAdmin)
	if err != nil {
		return nil, err
	}
	role, err := decodeRepoRole(c)
	if err != nil {
		return nil, err
	}
	t, err := a.repoTeam(c, repo)
	if err != nil {
		return nil, err
	}
	ctx := c.R.Context()
	prev, existed, err := a.repoTeamPermission(ctx, repo.ID, t.ID)
	if err != nil {
		return nil, err
	}
	if err := a.store.SetTeamPermission(ctx, repo.ID, t.ID, role); err != nil {
		return nil, err
	}
	a.auth.Forget()
	if err := logGrant(c, repo, map[string]any{"team": t.Name}, role, prev, existed); err != nil {
		return nil, err
	}
	return repoTeamPermView(store.Permission{Role: role, Team: t}), nil
}

func (a *API) deleteTeamPermissions(c *Call) (any, error) {
	repo, err := c.Repo(store.RoleAdmin)
	if err != nil {
		return nil, err
	}
	t, err := a.repoTeam(c, repo)
	if err != nil {
		return nil, err
	}
	ctx := c.R.Context()
	p, ok, err := a.repoTeamPermission(ctx, repo.ID, t.ID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, badRequest("Team does not have permission for repo.")
	}
	if err := a.store.DeleteTeamPermission(ctx, repo.ID, t.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, badRequest("Team does not have permission for repo.")
		}
		return nil, err
	}
	a.auth.Forget()
	if err := c.LogRepo("delete_repo_permission", repo, map[string]any{"team": t.Name, "repo": repo.Name,
		"namespace": repo.Namespace, "role": p.Role}); err != nil {
		return nil, err
	}
	return nil, nil
}
