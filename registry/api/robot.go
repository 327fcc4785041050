package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

func (a *API) robotRoutes() []*Route {
	const user, org = "/api/v1/user/robots", "/api/v1/organization/{orgname}/robots"
	listQuery := []string{"permissions", "token", "limit"}
	return []*Route{
		{Method: "GET", Path: user, Op: "getUserRobots", Group: "robot", Scope: auth.ScopeUserAdmin, Query: listQuery,
			Summary: "List the available robots for the user.", Handle: a.acctUserRobotHandler(a.acctListRobots)},
		{Method: "GET", Path: user + "/{robot_shortname}", Op: "getUserRobot", Group: "robot", Scope: auth.ScopeUserAdmin,
			Summary: "Returns the user's robot with the specified name.", Handle: a.acctUserRobotHandler(a.acctGetRobot)},
		{Method: "PUT", Path: user + "/{robot_shortname}", Op: "createUserRobot", Group: "robot", Scope: auth.ScopeUserAdmin, Body: true,
			Status: http.StatusCreated, Summary: "Create a new user robot with the specified name.", Handle: a.acctUserRobotHandler(a.acctCreateRobot)},
		{Method: "DELETE", Path: user + "/{robot_shortname}", Op: "deleteUserRobot", Group: "robot", Scope: auth.ScopeUserAdmin,
			Status: http.StatusNoContent, Summary: "Delete an existing robot.", Handle: a.acctUserRobotHandler(a.acctDeleteRobot)},
		{Method: "POST", Path: user + "/{robot_shortname}/regenerate", Op: "regenerateUserRobotToken", Group: "robot", Scope: auth.ScopeUserAdmin,
			Summary: "Regenerates the token for a user's robot.", Handle: a.acctUserRobotHandler(a.acctRegenerateRobot)},
		{Method: "GET", Path: user + "/{robot_shortname}/permissions", Op: "getUserRobotPermissions", Group: "robot", Scope: auth.ScopeUserAdmin,
			Summary: "Returns the list of repository permissions for the user's robot.", Handle: a.acctUserRobotHandler(a.acctRobotPermissions)},

		{Method: "GET", Path: org, Op: "getOrgRobots", Group: "robot", Scope: auth.ScopeOrgAdmin, Query: listQuery,
			Summary: "List the organization's robots.", Handle: a.acctOrgRobotHandler(false, a.acctListRobots)},
		{Method: "GET", Path: org + "/{robot_shortname}", Op: "getOrgRobot", Group: "robot", Scope: auth.ScopeOrgAdmin,
			Summary: "Returns the organization's robot with the specified name.", Handle: a.acctOrgRobotHandler(true, a.acctGetRobot)},
		{Method: "PUT", Path: org + "/{robot_shortname}", Op: "createOrgRobot", Group: "robot", Scope: auth.ScopeOrgAdmin, Body: true,
			Status: http.StatusCreated, Summary: "Create a new robot in the organization.", Handle: a.acctOrgRobotHandler(true, a.acctCreateRobot)},
		{Method: "DELETE", Path: org + "/{robot_shortname}", Op: "deleteOrgRobot", Group: "robot", Scope: auth.ScopeOrgAdmin,
			Status: http.StatusNoContent, Summary: "Delete an existing organization robot.", Handle: a.acctOrgRobotHandler(true, a.acctDeleteRobot)},
		{Method: "POST", Path: org + "/{robot_shortname}/regenerate", Op: "regenerateOrgRobotToken", Group: "robot", Scope: auth.ScopeOrgAdmin,
			Summary: "Regenerates the token for an organization robot.", Handle: a.acctOrgRobotHandler(true, a.acctRegenerateRobot)},
		{Method: "GET", Path: org + "/{robot_shortname}/permissions", Op: "getOrgRobotPermissions", Group: "robot", Scope: auth.ScopeOrgAdmin,
			Summary: "Returns the list of repository permissions for the org's robot.", Handle: a.acctOrgRobotHandler(true, a.acctRobotPermissions)},
	}
}

// acctRobotOwner is the namespace whose robots a request manages, and whether the caller may
// see their tokens and permissions.
type acctRobotOwner struct {
	ID    int64
	Name  string
	Org   bool
	Admin bool
}

type acctRobotHandler func(c *Call, owner acctRobotOwner) (any, error)

// acctUserRobotHandler serves /api/v1/user/robots: the caller's own robots.
func (a *API) acctUserRobotHandler(h acctRobotHandler) func(*Call) (any, error) {
	return func(c *Call) (any, error) {
		me, err := acctMe(c)
		if err != nil {
			return nil, err
		}
		return h(c, acctRobotOwner{ID: me.ID, Name: me.Name, Admin: true})
	}
}

// acctOrgRobotHandler serves an organization's robots: admin endpoints need an organization
// admin (or superuser); the listing is open to members, without tokens and permissions.
func (a *API) acctOrgRobotHandler(admin bool, h acctRobotHandler) func(*Call) (any, error) {
	return func(c *Call) (any, error) {
		org, err := c.Org(admin)
		if err != nil {
			return nil, err
		}
		isAdmin := admin
		if !admin {
			if isAdmin, _, err = a.acctOrgAccess(c, org); err != nil {
				return nil, err
			}
		}
		return h(c, acctRobotOwner{ID: org.ID, Name: org.Name, Org: true, Admin: isAdmin})
	}
}

// acctRobotShortName is the NAME of OWNER+NAME.
func acctRobotShortName(full string) string {
	_, short, _ := strings.Cut(full, "+")
	return short
}

// acctLoadRobot finds the {robot_shortname} robot of an owner.
func (a *API) acctLoadRobot(c *Call, owner acctRobotOwner) (store.User, error) {
	short := c.Param("robot_shortname")
	full := owner.Name + "+" + short
	r, err := a.store.Account(c.R.Context(), full)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (!r.Robot() || r.OwnerID != owner.ID)) {
		return store.User{}, notFound("robot " + full)
	}
	return r, err
}

// acctRobotView is Quay's view of a robot; the token only for those who manage the robot.
func (a *API) acctRobotView(ctx context.Context, owner acctRobotOwner, r store.User, token, perms bool) (map[string]any, error) {
	v := map[string]any{
		"name":                  r.Name,
		"description":           r.Description,
		"created":               acctDate(r.CreatedAt),
		"last_accessed":         acctDate(r.LastAccessed),
		"unstructured_metadata": map[string]any{},
	}
	if token && owner.Admin {
		tok, err := a.auth.RobotToken(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("robot token: %w", err)
		}
		v["token"] = tok
	}
	if perms && owner.Admin {
		teams := []map[string]any{}
		if owner.Org {
			ts, err := a.store.UserTeams(ctx, owner.ID, r.ID)
			if err != nil {
				return nil, err
			}
			for _, t := range ts {
				teams = append(teams, map[string]any{"name": t.Name, "avatar": acctAvatar(t.Name, t.Name, "team")})
			}
		}
		ps, err := a.store.AccountRepoPermissions(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		repos := []string{}
		seen := map[string]bool{}
		for _, p := range ps {
			if !seen[p.Repository.Name] {
				seen[p.Repository.Name] = true
				repos = append(repos, p.Repository.Name)
			}
		}
		v["teams"] = teams
		v["repositories"] = repos
	}
	return v, nil
}

func (a *API) acctListRobots(c *Call, owner acctRobotOwner) (any, error) {
	ctx := c.R.Context()
	limit, err := acctLimit(c)
	if err != nil {
		return nil, err
	}
	robots, err := a.store.Robots(ctx, owner.ID)
	if err != nil {
		return nil, err
	}
	if limit > 0 && len(robots) > limit {
		robots = robots[:limit]
	}
	token := acctTruthy(c.Query("token"), true)
	perms := acctTruthy(c.Query("permissions"), false)
	views := make([]map[string]any, 0, len(robots))
	for _, r := range robots {
		v, err := a.acctRobotView(ctx, owner, r, token, perms)
		if err != nil {
			return nil, err
		}
		views = append(views, v)
	}
	return map[string]any{"robots": views}, nil
}

func (a *API) acctGetRobot(c *Call, owner acctRobotOwner) (any, error) {
	r, err := a.acctLoadRobot(c, owner)
	if err != nil {
		return nil, err
	}
	return a.acctRobotView(c.R.Context(), owner, r, true, true)
}

type acctNewRobotRequest struct {
	Description          string         `json:"description"`
	UnstructuredMetadata map[string]any `json:"unstructured_metadata"`
}

func (a *API) acctCreateRobot(c *Call, owner acctRobotOwner) (any, error) {
	ctx := c.R.Context()
	short := c.Param("robot_shortname")
	if err := acctValidName("robot", short); err != nil {
		return nil, err
	}
	var req acctNewRobotRequest
	if err := acctDecodeOptional(c, &req); err != nil {
		return nil, err
	}
	if len(req.Description) > 255 {
		return nil, badRequest("description is limited to 255 characters")
	}
	if len(req.UnstructuredMetadata) > 0 {
		return nil, badRequest("unstructured_metadata is not supported")
	}
	full := owner.Name + "+" + short
	r, _, err := a.auth.CreateRobot(ctx, owner.ID, full, req.Description, "")
	if errors.Is(err, store.ErrExists) {
		return nil, badRequest("Existing robot with name: " + full)
	}
	if err != nil {
		return nil, fmt.Errorf("create robot: %w", err)
	}
	if err := c.Log("create_robot", owner.Name, owner.ID, "", 0,
		map[string]any{"robot": short, "description": req.Description, "unstructured_metadata": map[string]any{}}); err != nil {
		return nil, err
	}
	return a.acctRobotView(ctx, owner, r, true, true)
}

func (a *API) acctDeleteRobot(c *Call, owner acctRobotOwner) (any, error) {
	r, err := a.acctLoadRobot(c, owner)
	if err != nil {
		return nil, err
	}
	if err := a.store.DeleteAccount(c.R.Context(), r.ID); err != nil {
		return nil, acctStoreErr(err, "robot "+r.Name)
	}
	a.auth.Forget()
	if err := c.Log("delete_robot", owner.Name, owner.ID, "", 0, map[string]any{"robot": acctRobotShortName(r.Name)}); err != nil {
		return nil, err
	}
	return nil, nil
}

func (a *API) acctRegenerateRobot(c *Call, owner acctRobotOwner) (any, error) {
	ctx := c.R.Context()
	r, err := a.acctLoadRobot(c, owner)
	if err != nil {
		return nil, err
	}
	if _, err := a.auth.RegenerateRobotToken(ctx, r); err != nil {
		return nil, acctStoreErr(err, "robot "+r.Name)
	}
	if err := c.Log("regenerate_robot_token", owner.Name, owner.ID, "", 0, map[string]any{"robot": acctRobotShortName(r.Name)}); err != nil {
		return nil, err
	}
	return a.acctRobotView(ctx, owner, r, true, true)
}

func (a *API) acctRobotPermissions(c *Call, owner acctRobotOwner) (any, error) {
	r, err := a.acctLoadRobot(c, owner)
	if err != nil {
		return nil, err
	}
	perms, err := a.store.AccountRepoPermissions(c.R.Context(), r.ID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"permissions": acctPermissionViews(perms)}, nil
}
