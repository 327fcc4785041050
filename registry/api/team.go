package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

func (a *API) teamRoutes() []*Route {
	return []*Route{
		{Method: "PUT", Path: "/api/v1/organization/{orgname}/team/{teamname}", Op: "updateOrganizationTeam", Group: "team", Scope: auth.ScopeOrgAdmin,
			Body: true, Summary: "Update the org-wide permission for the specified team.", Handle: a.updateOrganizationTeam},
		{Method: "DELETE", Path: "/api/v1/organization/{orgname}/team/{teamname}", Op: "deleteOrganizationTeam", Group: "team", Scope: auth.ScopeOrgAdmin,
			Status: http.StatusNoContent, Summary: "Delete the specified team.", Handle: a.deleteOrganizationTeam},
		{Method: "GET", Path: "/api/v1/organization/{orgname}/team/{teamname}/members", Op: "getOrganizationTeamMembers", Group: "team", Scope: auth.ScopeOrgAdmin,
			Query: []string{"includePending"}, Summary: "Retrieve the list of members for the specified team.", Handle: a.getOrganizationTeamMembers},
		{Method: "PUT", Path: "/api/v1/organization/{orgname}/team/{teamname}/members/{membername}", Op: "updateOrganizationTeamMember", Group: "team",
			Scope: auth.ScopeOrgAdmin, Summary: "Adds a member to an existing team.", Handle: a.updateOrganizationTeamMember},
		{Method: "DELETE", Path: "/api/v1/organization/{orgname}/team/{teamname}/members/{membername}", Op: "deleteOrganizationTeamMember", Group: "team",
			Scope: auth.ScopeOrgAdmin, Status: http.StatusNoContent, Summary: "Delete a member of a team.", Handle: a.deleteOrganizationTeamMember},
		{Method: "POST", Path: "/api/v1/organization/{orgname}/team/{teamname}/syncing", Op: "enableOrganizationTeamSync", Group: "team",
			Scope: auth.ScopeOrgAdmin, Body: true, Summary: "Synchronize the team's members with a directory group.", Handle: a.enableOrganizationTeamSync},
		{Method: "DELETE", Path: "/api/v1/organization/{orgname}/team/{teamname}/syncing", Op: "disableOrganizationTeamSync", Group: "team",
			Scope: auth.ScopeOrgAdmin, Summary: "Stop synchronizing the team with its directory group.", Handle: a.disableOrganizationTeamSync},
		{Method: "GET", Path: "/api/v1/organization/{orgname}/team/{teamname}/permissions", Op: "getOrganizationTeamPermissions", Group: "team",
			Scope: auth.ScopeOrgAdmin, Summary: "Returns the list of repository permissions for the org's team.", Handle: a.getOrganizationTeamPermissions},
	}
}

// acctTeamView is Quay's view of a team after a change.
func acctTeamView(t store.Team, newTeam bool) map[string]any {
	return map[string]any{
		"name":        t.Name,
		"description": t.Description,
		"can_view":    true,
		"role":        t.Role,
		"avatar":      acctAvatar(t.Name, t.Name, "team"),
		"new_team":    newTeam,
		"is_synced":   t.SyncGroup != "",
	}
}

// acctOrgTeam loads the {teamname} team of an organization.
func (a *API) acctOrgTeam(c *Call, org store.Namespace) (store.Team, error) {
	name := c.Param("teamname")
	t, err := a.store.Team(c.R.Context(), org.ID, name)
	if err != nil {
		return store.Team{}, acctStoreErr(err, "team "+name)
	}
	return t, nil
}

// acctCallerAdminTeams returns the names of the organization's admin teams the caller is in.
func (a *API) acctCallerAdminTeams(ctx context.Context, c *Call, orgID int64) (map[string]bool, error) {
	out := map[string]bool{}
	if c.ID.User == nil {
		return out, nil
	}
	teams, err := a.store.UserTeams(ctx, orgID, c.ID.User.ID)
	if err != nil {
		return nil, err
	}
	for _, t := range teams {
		if t.Role == store.TeamAdmin {
			out[t.Name] = true
		}
	}
	return out, nil
}

type acctTeamRequest struct {
	Role        *string `json:"role"`
	Description *string `json:"description"`
}

func (a *API) updateOrganizationTeam(c *Call) (any, error) {
	org, err := c.Org(true)
	if err != nil {
		return nil, err
	}
	ctx := c.R.Context()
	var req acctTeamRequest
	if err := c.Decode(&req); err != nil {
		return nil, err
	}
	if req.Role != nil && !store.ValidTeamRole(*req.Role) {
		return nil, badRequest("role must be member, creator or admin")
	}
	name := c.Param("teamname")
	existing, err := a.store.Team(ctx, org.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		if err := acctValidName("team", name); err != nil {
			return nil, err
		}
		role, desc := store.TeamMember, ""
		if req.Role != nil {
			role = *req.Role
		}
		if req.Description != nil {
			desc = *req.Description
		}
		t, err := a.store.PutTeam(ctx, org.ID, name, role, desc)
		if err != nil {
			return nil, fmt.Errorf("create team: %w", err)
		}
		a.auth.Forget()
		if err := c.Log("org_create_team", org.Name, org.ID, "", 0, map[string]any{"team": name, "role": role}); err != nil {
			return nil, err
		}
		return acctTeamView(t, true), nil
	}
	if err != nil {
		return nil, err
	}
	role, desc := existing.Role, existing.Description
	if req.Role != nil {
		role = *req.Role
	}
	if req.Description != nil {
		desc = *req.Description
	}
	if existing.Role == store.TeamAdmin && role != store.TeamAdmin {
		mine, err := a.acctCallerAdminTeams(ctx, c, org.ID)
		if err != nil {
			return nil, err
		}
		if mine[existing.Name] && len(mine) <= 1 {
			return nil, badRequest(fmt.Sprintf("Cannot remove admin from team '%s' because calling user would no longer have admin on org '%s'", existing.Name, org.Name))
		}
		if err := a.acctRequireOtherAdminTeam(ctx, org, existing); err != nil {
			return nil, err
		}
	}
	t, err := a.store.PutTeam(ctx, org.ID, name, role, desc)
	if err != nil {
		return nil, fmt.Errorf("update team: %w", err)
	}
	if desc != existing.Description {
		if err := c.Log("org_set_team_description", org.Name, org.ID, "", 0, map[string]any{"team": name, "description": desc}); err != nil {
			return nil, err
		}
	}
	if role != existing.Role {
		a.auth.Forget()
		if err := c.Log("org_set_team_role", org.Name, org.ID, "", 0, map[string]any{"team": name, "role": role}); err != nil {
			return nil, err
		}
	}
	return acctTeamView(t, false), nil
}

// acctRequireOtherAdminTeam refuses a change that would leave the organization without an admin
// team.
func (a *API) acctRequireOtherAdminTeam(ctx context.Context, org store.Namespace, t store.Team) error {
	teams, err := a.store.Teams(ctx, org.ID)
	if err != nil {
		return err
	}
	for _, o := range teams {
		if o.ID != t.ID && o.Role == store.TeamAdmin {
			return nil
		}
	}
	return badRequest(fmt.Sprintf("team '%s' is the last admin team of organization '%s'", t.Name, org.Name))
}

func (a *API) deleteOrganizationTeam(c *Call) (any, error) {
	org, err := c.Org(true)
	if err != nil {
		return nil, err
	}
	ctx := c.R.Context()
	t, err := a.acctOrgTeam(c, org)
	if err != nil {
		return nil, err
	}
	if t.Role == store.TeamAdmin {
		mine, err := a.acctCallerAdminTeams(ctx, c, org.ID)
		if err != nil {
			return nil, err
		}
		if mine[t.Name] && len(mine) <= 1 {
			return nil, badRequest(fmt.Sprintf("Deleting team '%s' would remove admin ability for user '%s' in organization '%s'", t.Name, c.ID.Name(), org.Name))
		}
		if err := a.acctRequireOtherAdminTeam(ctx, org, t); err != nil {
			return nil, err
		}
	}
	if err := a.store.DeleteTeam(ctx, t.ID); err != nil {
		return nil, acctStoreErr(err, "team "+t.Name)
	}
	a.auth.Forget()
	if err := c.Log("org_delete_team", org.Name, org.ID, "", 0, map[string]any{"team": t.Name}); err != nil {
		return nil, err
	}
	return nil, nil
}

// acctTeamSyncConfigured reports whether team syncing can work: FEATURE_TEAM_SYNCING with an
// LDAP directory.
func (a *API) acctTeamSyncConfigured() bool {
	return a.opts.TeamSyncing && a.auth.Options().AuthenticationType == auth.AuthLDAP
}

func (a *API) getOrganizationTeamMembers(c *Call) (any, error) {
	org, err := c.Org(false)
	if err != nil {
		return nil, err
	}
	ctx := c.R.Context()
	admin, _, err := a.acctOrgAccess(c, org)
	if err != nil {
		return nil, err
	}
	t, err := a.acctOrgTeam(c, org)
	if err != nil {
		return nil, err
	}
	members, err := a.store.TeamMembers(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	if !admin {
		in := false
		for _, m := range members {
			in = in || (c.ID.User != nil && m.ID == c.ID.User.ID)
		}
		if !in {
			return nil, forbidden("you may view only the teams you are in, unless you administer organization " + org.Name)
		}
	}
	views := make([]map[string]any, 0, len(members))
	for _, m := range members {
		views = append(views, map[string]any{
			"name":     m.Name,
			"kind":     store.KindUser,
			"is_robot": m.Robot(),
			"avatar":   acctUserAvatar(m),
			"invited":  false,
		})
	}
	out := map[string]any{"name": t.Name, "members": views, "can_edit": admin}
	if a.acctTeamSyncConfigured() {
		if c.Superuser() {
			out["can_sync"] = map[string]any{"service": "ldap"}
		}
		if t.SyncGroup != "" {
			synced := map[string]any{"service": "ldap"}
			if c.Superuser() {
				var last any
				if t.SyncLastUpdate > 0 {
					last = acctDate(time.UnixMicro(t.SyncLastUpdate))
				}
				synced["last_updated"] = last
				synced["config"] = map[string]any{"group_dn": t.SyncGroup}
			}
			out["synced"] = synced
		}
	}
	return out, nil
}

// teamMemberChange loads the organization (as admin), the team and the member of a
// membership change, refusing changes of people in a synchronized team.
func (a *API) teamMemberChange(c *Call) (store.Namespace, store.Team, store.User, error) {
	org, err := c.Org(true)
	if err != nil {
		return store.Namespace{}, store.Team{}, store.User{}, err
	}
	t, err := a.acctOrgTeam(c, org)
	if err != nil {
		return store.Namespace{}, store.Team{}, store.User{}, err
	}
	name := c.Param("membername")
	// Robots are not in the directory, so a synced team still takes robots by hand.
	if t.SyncGroup != "" && a.acctTeamSyncConfigured() && !strings.Contains(name, "+") {
		return store.Namespace{}, store.Team{}, store.User{}, badRequest("Cannot call this method on an auth-synced team")
	}
	m, err := a.store.Account(c.R.Context(), name)
	if err != nil || m.Kind == store.KindOrg {
		if err == nil || errors.Is(err, store.ErrNotFound) {
			return org, t, store.User{}, acctErrUnknownMember
		}
		return store.Namespace{}, store.Team{}, store.User{}, err
	}
	return org, t, m, nil
}

var acctErrUnknownMember = errors.New("unknown member")

func (a *API) updateOrganizationTeamMember(c *Call) (any, error) {
	org, t, m, err := a.teamMemberChange(c)
	if errors.Is(err, acctErrUnknownMember) {
		return nil, badRequest("Unknown user")
	}
	if err != nil {
		return nil, err
	}
	if m.Robot() && m.OwnerID != org.ID {
		return nil, badRequest("Cannot add the specified robot to this team, as it is not a member of the organization")
	}
	if err := a.store.AddTeamMember(c.R.Context(), t.ID, m.ID); err != nil {
		return nil, fmt.Errorf("add team member: %w", err)
	}
	a.auth.Forget()
	if err := c.Log("org_add_team_member", org.Name, org.ID, "", 0, map[string]any{"member": m.Name, "team": t.Name}); err != nil {
		return nil, err
	}
	return map[string]any{
		"name":     m.Name,
		"kind":     store.KindUser,
		"is_robot": m.Robot(),
		"avatar":   acctUserAvatar(m),
		"invited":  false,
	}, nil
}

func (a *API) deleteOrganizationTeamMember(c *Call) (any, error) {
	org, t, m, err := a.teamMemberChange(c)
	if errors.Is(err, acctErrUnknownMember) {
		return nil, notFound("member " + c.Param("membername"))
	}
	if err != nil {
		return nil, err
	}
	ctx := c.R.Context()
	if c.ID.User != nil && m.ID == c.ID.User.ID && t.Role == store.TeamAdmin {
		mine, err := a.acctCallerAdminTeams(ctx, c, org.ID)
		if err != nil {
			return nil, err
		}
		if len(mine) <= 1 {
			return nil, badRequest("User cannot remove themselves from their only admin team.")
		}
	}
	if err := a.store.RemoveTeamMember(ctx, t.ID, m.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, badRequest(fmt.Sprintf("User %s does not belong to team %s", m.Name, t.Name))
		}
		return nil, err
	}
	a.auth.Forget()
	if err := c.Log("org_remove_team_member", org.Name, org.ID, "", 0, map[string]any{"member": m.Name, "team": t.Name}); err != nil {
		return nil, err
	}
	return nil, nil
}

// acctTeamSyncSetup checks a team syncing change: FEATURE_TEAM_SYNCING (404 when off), a
// superuser caller (Quay's default, without NONSUPERUSER_TEAM_SYNCING_SETUP) and the team.
func (a *API) acctTeamSyncSetup(c *Call) (store.Namespace, store.Team, error) {
	if !a.opts.TeamSyncing {
		return store.Namespace{}, store.Team{}, fail(http.StatusNotFound, "not_found", "team syncing is disabled (FEATURE_TEAM_SYNCING)")
	}
	org, err := c.Org(true)
	if err != nil {
		return store.Namespace{}, store.Team{}, err
	}
	if err := c.RequireSuperuser(); err != nil {
		return store.Namespace{}, store.Team{}, err
	}
	t, err := a.acctOrgTeam(c, org)
	if err != nil {
		return store.Namespace{}, store.Team{}, err
	}
	return org, t, nil
}

type acctTeamSyncRequest struct {
	GroupDN string `json:"group_dn"`
}

func (a *API) enableOrganizationTeamSync(c *Call) (any, error) {
	org, t, err := a.acctTeamSyncSetup(c)
	if err != nil {
		return nil, err
	}
	ctx := c.R.Context()
	var req acctTeamSyncRequest
	if err := c.Decode(&req); err != nil {
		return nil, err
	}
	req.GroupDN = strings.TrimSpace(req.GroupDN)
	if a.auth.Options().AuthenticationType != auth.AuthLDAP {
		return nil, badRequest("Could not sync to group: team syncing needs AUTHENTICATION_TYPE LDAP")
	}
	if req.GroupDN == "" {
		return nil, badRequest("Could not sync to group: group_dn is required")
	}
	if dir := a.auth.Options().Directory; dir != nil {
		if _, err := dir.GroupMembers(ctx, req.GroupDN); err != nil {
			return nil, badRequest("Could not sync to group: " + err.Error())
		}
	}
	if err := a.store.SetTeamSync(ctx, t.ID, req.GroupDN); err != nil {
		return nil, err
	}
	if err := c.Log("enable_team_sync", org.Name, org.ID, "", 0, map[string]any{"team": t.Name, "group_dn": req.GroupDN}); err != nil {
		return nil, err
	}
	if t, err = a.store.Team(ctx, org.ID, t.Name); err != nil {
		return nil, err
	}
	if a.opts.SyncTeam != nil {
		if err := a.opts.SyncTeam(c.R, t); err != nil {
			// The periodic synchronization retries; the setting itself is saved.
			a.log.WarnContext(ctx, "team sync failed", "org", org.Name, "team", t.Name, "err", err)
		}
		a.auth.Forget()
		if t, err = a.store.Team(ctx, org.ID, t.Name); err != nil {
			return nil, err
		}
	}
	return acctTeamView(t, false), nil
}

func (a *API) disableOrganizationTeamSync(c *Call) (any, error) {
	org, t, err := a.acctTeamSyncSetup(c)
	if err != nil {
		return nil, err
	}
	ctx := c.R.Context()
	if t.SyncGroup == "" {
		return nil, badRequest("team " + t.Name + " is not synchronized")
	}
	if err := a.store.SetTeamSync(ctx, t.ID, ""); err != nil {
		return nil, err
	}
	if err := c.Log("disable_team_sync", org.Name, org.ID, "", 0, map[string]any{"team": t.Name}); err != nil {
		return nil, err
	}
	t.SyncGroup, t.SyncLastUpdate = "", 0
	return acctTeamView(t, false), nil
}

// acctPermissionViews is Quay's list of an account's or team's repository roles.
func acctPermissionViews(perms []store.Permission) []map[string]any {
	out := make([]map[string]any, 0, len(perms))
	for _, p := range perms {
		out = append(out, map[string]any{
			"repository": map[string]any{"name": p.Repository.Name, "is_public": p.Repository.Public},
			"role":       p.Role,
		})
	}
	return out
}

func (a *API) getOrganizationTeamPermissions(c *Call) (any, error) {
	org, err := c.Org(true)
	if err != nil {
		return nil, err
	}
	t, err := a.acctOrgTeam(c, org)
	if err != nil {
		return nil, err
	}
	perms, err := a.store.TeamRepoPermissions(c.R.Context(), t.ID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"permissions": acctPermissionViews(perms)}, nil
}
