package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

func (a *API) organizationRoutes() []*Route {
	return []*Route{
		{Method: "POST", Path: "/api/v1/organization/", Op: "createOrganization", Group: "organization", Scope: auth.ScopeUserAdmin,
			Body: true, Status: http.StatusCreated, Summary: "Create a new organization.", Handle: a.createOrganization},
		{Method: "GET", Path: "/api/v1/organization/{orgname}", Op: "getOrganization", Group: "organization", Anonymous: true,
			Summary: "Get the details for the specified organization.", Handle: a.getOrganization},
		{Method: "PUT", Path: "/api/v1/organization/{orgname}", Op: "changeOrganizationDetails", Group: "organization", Scope: auth.ScopeOrgAdmin,
			Body: true, Summary: "Change the details for the specified organization.", Handle: a.changeOrganizationDetails},
		{Method: "DELETE", Path: "/api/v1/organization/{orgname}", Op: "deleteAdminedOrganization", Group: "organization", Scope: auth.ScopeOrgAdmin,
			Status: http.StatusNoContent, Summary: "Deletes the specified organization.", Handle: a.deleteAdminedOrganization},
		{Method: "GET", Path: "/api/v1/organization/{orgname}/members", Op: "getOrganizationMembers", Group: "organization", Scope: auth.ScopeOrgAdmin,
			Summary: "List the human members of the specified organization.", Handle: a.getOrganizationMembers},
		{Method: "GET", Path: "/api/v1/organization/{orgname}/members/{membername}", Op: "getOrganizationMember", Group: "organization", Scope: auth.ScopeOrgAdmin,
			Summary: "Retrieves the details of a member of the organization.", Handle: a.getOrganizationMember},
		{Method: "DELETE", Path: "/api/v1/organization/{orgname}/members/{membername}", Op: "removeOrganizationMember", Group: "organization", Scope: auth.ScopeOrgAdmin,
			Status:  http.StatusNoContent,
			Summary: "Removes a member from an organization, revoking all its repository privileges and removing it from all teams in the organization.",
			Handle:  a.removeOrganizationMember},
	}
}

type acctNewOrgRequest struct {
	Name         string `json:"name"`
	Email        string `json:"email"`
	ContactEmail string `json:"contact_email"`
}

func (a *API) createOrganization(c *Call) (any, error) {
	me, err := acctMe(c)
	if err != nil {
		return nil, err
	}
	ctx := c.R.Context()
	var req acctNewOrgRequest
	if err := c.Decode(&req); err != nil {
		return nil, err
	}
	if req.Name == "" {
		return nil, badRequest("name is required")
	}
	if err := auth.ValidUsername(req.Name); err != nil {
		return nil, badRequest(err.Error())
	}
	email := req.ContactEmail
	if email == "" {
		email = req.Email
	}
	if email != "" && !acctValidEmail(email) {
		return nil, badRequest("Invalid email address")
	}
	if _, err := a.store.NamespaceID(ctx, req.Name); err == nil {
		return nil, badRequest("A user or organization with this name already exists")
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	org, err := a.store.CreateOrganization(ctx, req.Name, email, me.ID)
	if errors.Is(err, store.ErrExists) {
		return nil, badRequest("A user or organization with this name already exists")
	}
	if err != nil {
		return nil, fmt.Errorf("create organization: %w", err)
	}
	a.auth.Forget()
	if err := c.Log("org_create", org.Name, org.ID, "", 0, map[string]any{"email": email, "namespace": org.Name}); err != nil {
		return nil, err
	}
	return "Created", nil
}

// acctOrgTeamView is a team as the organization view lists it.
func acctOrgTeamView(t store.Team, canView bool) map[string]any {
	return map[string]any{
		"name":         t.Name,
		"description":  t.Description,
		"role":         t.Role,
		"avatar":       acctAvatar(t.Name, t.Name, "team"),
		"can_view":     canView,
		"repo_count":   t.RepoCount,
		"member_count": t.MemberCount,
		"is_synced":    t.SyncGroup != "",
	}
}

// acctOrgAccess is what the caller may do in an organization: admin requires the org:admin
// scope for OAuth tokens, as the framework's Org does.
func (a *API) acctOrgAccess(c *Call, org store.Namespace) (admin, member bool, err error) {
	role, err := a.auth.OrgRole(c.R.Context(), c.ID, org.ID)
	if err != nil {
		return false, false, err
	}
	return role == store.TeamAdmin && c.ID.HasScope(auth.ScopeOrgAdmin), role != "", nil
}

// acctOrgView is Quay's view of an organization for the caller: anyone sees its name and
// avatar, members its teams, admins its email and settings.
func (a *API) acctOrgView(c *Call, org store.Namespace) (map[string]any, error) {
	ctx := c.R.Context()
	admin, member, err := a.acctOrgAccess(c, org)
	if err != nil {
		return nil, err
	}
	email := ""
	if admin {
		email = org.Email
	}
	view := map[string]any{
		"name":      org.Name,
		"email":     email,
		"avatar":    acctAvatar(org.Name, org.Email, store.KindOrg),
		"is_admin":  admin,
		"is_member": member,
	}
	if member {
		teams, err := a.store.Teams(ctx, org.ID)
		if err != nil {
			return nil, err
		}
		mine := map[int64]bool{}
		if !admin && c.ID.User != nil {
			own, err := a.store.UserTeams(ctx, org.ID, c.ID.User.ID)
			if err != nil {
				return nil, err
			}
			for _, t := range own {
				mine[t.ID] = true
			}
		}
		views := map[string]any{}
		ordered := make([]string, 0, len(teams))
		for _, t := range teams {
			views[t.Name] = acctOrgTeamView(t, admin || mine[t.ID])
			ordered = append(ordered, t.Name)
		}
		view["teams"] = views
		view["ordered_teams"] = ordered
	}
	if admin {
		view["invoice_email"] = false
		view["tag_expiration_s"] = int64(a.opts.TagExpiration.Seconds())
	}
	return view, nil
}

func (a *API) getOrganization(c *Call) (any, error) {
	if c.ID.Anonymous() && !a.auth.Options().AnonymousAccess {
		return nil, unauthorized()
	}
	name := c.Param("orgname")
	org, err := a.store.Namespace(c.R.Context(), name)
	if errors.Is(err, store.ErrNotFound) || (err == nil && org.Kind != store.KindOrg) {
		return nil, notFound("organization " + name)
	}
	if err != nil {
		return nil, err
	}
	return a.acctOrgView(c, org)
}

type acctChangeOrgRequest struct {
	Email        *string `json:"email"`
	ContactEmail *string `json:"contact_email"`
}

func (a *API) changeOrganizationDetails(c *Call) (any, error) {
	org, err := c.Org(true)
	if err != nil {
		return nil, err
	}
	ctx := c.R.Context()
	var req acctChangeOrgRequest
	if err := c.Decode(&req); err != nil {
		return nil, err
	}
	email := req.Email
	if req.ContactEmail != nil {
		email = req.ContactEmail
	}
	if email != nil && *email != org.Email {
		if *email != "" && !acctValidEmail(*email) {
			return nil, badRequest("Invalid email address")
		}
		acc, err := a.store.AccountByID(ctx, org.ID)
		if err != nil {
			return nil, err
		}
		old := acc.Email
		acc.Email = *email
		if err := a.store.UpdateAccount(ctx, acc); err != nil {
			return nil, fmt.Errorf("change organization email: %w", err)
		}
		org.Email = acc.Email
		if err := c.Log("org_change_email", org.Name, org.ID, "", 0,
			map[string]any{"email": org.Email, "namespace": org.Name, "old_email": old}); err != nil {
			return nil, err
		}
	}
	return a.acctOrgView(c, org)
}

func (a *API) deleteAdminedOrganization(c *Call) (any, error) {
	org, err := c.Org(true)
	if err != nil {
		return nil, err
	}
	// Logged first, as Quay does: the namespace is gone afterwards.
	if err := c.Log("org_delete", org.Name, org.ID, "", 0, map[string]any{"namespace": org.Name}); err != nil {
		return nil, err
	}
	if err := a.store.DeleteNamespace(c.R.Context(), org.ID); err != nil {
		return nil, acctStoreErr(err, "organization "+org.Name)
	}
	a.auth.Forget()
	return nil, nil
}

func acctOrgMemberTeams(names []string) []map[string]any {
	out := make([]map[string]any, 0, len(names))
	for _, n := range names {
		out = append(out, map[string]any{"name": n, "avatar": acctAvatar(n, n, "team")})
	}
	return out
}

func acctStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (a *API) getOrganizationMembers(c *Call) (any, error) {
	org, err := c.Org(true)
	if err != nil {
		return nil, err
	}
	ctx := c.R.Context()
	members, teams, err := a.store.OrgMembers(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	repos, err := a.store.OrgMemberRepositories(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, m := range members {
		if m.Robot() {
			continue
		}
		out = append(out, map[string]any{
			"name":         m.Name,
			"kind":         store.KindUser,
			"avatar":       acctUserAvatar(m),
			"teams":        acctOrgMemberTeams(teams[m.ID]),
			"repositories": acctStrings(repos[m.ID]),
		})
	}
	return map[string]any{"members": out}, nil
}

func (a *API) getOrganizationMember(c *Call) (any, error) {
	org, err := c.Org(true)
	if err != nil {
		return nil, err
	}
	ctx := c.R.Context()
	name := c.Param("membername")
	m, err := a.store.Account(ctx, name)
	if err != nil || m.Kind == store.KindOrg {
		if err == nil || errors.Is(err, store.ErrNotFound) {
			return nil, notFound("member " + name)
		}
		return nil, err
	}
	teams, err := a.store.UserTeams(ctx, org.ID, m.ID)
	if err != nil {
		return nil, err
	}
	if len(teams) == 0 && !(m.Robot() && m.OwnerID == org.ID) {
		return nil, notFound("member " + name)
	}
	names := make([]string, 0, len(teams))
	for _, t := range teams {
		names = append(names, t.Name)
	}
	repos, err := a.store.OrgMemberRepositories(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	kind := store.KindUser
	if m.Robot() {
		kind = store.KindRobot
	}
	return map[string]any{
		"name":         m.Name,
		"kind":         kind,
		"avatar":       acctUserAvatar(m),
		"teams":        acctOrgMemberTeams(names),
		"repositories": acctStrings(repos[m.ID]),
	}, nil
}

func (a *API) removeOrganizationMember(c *Call) (any, error) {
	org, err := c.Org(true)
	if err != nil {
		return nil, err
	}
	ctx := c.R.Context()
	name := c.Param("membername")
	u, err := a.store.UserByName(ctx, name)
	if err != nil {
		return nil, acctStoreErr(err, "user "+name)
	}
	admins, err := a.store.OrgAdminIDs(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	if len(admins) == 1 && admins[0] == u.ID {
		return nil, badRequest("Cannot remove user as they are the only organization admin")
	}
	if err := a.store.RemoveOrgMember(ctx, org.ID, u.ID); err != nil {
		return nil, acctStoreErr(err, "member "+name)
	}
	a.auth.Forget()
	if err := c.Log("org_remove_member", org.Name, org.ID, "", 0, map[string]any{"member": u.Name}); err != nil {
		return nil, err
	}
	return nil, nil
}
