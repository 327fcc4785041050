package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

// prototypeRoutes manage an organization's default permissions: roles granted on every
// repository created in it (by anyone, or by one activating user).
func (a *API) prototypeRoutes() []*Route {
	const list = "/api/v1/organization/{orgname}/prototypes"
	return []*Route{{
		Method: "GET", Path: list, Op: "getOrganizationPrototypePermissions", Group: "prototype", Scope: auth.ScopeOrgAdmin,
		Summary: "List the existing prototypes for this organization.", Handle: a.listPrototypes,
	}, {
		Method: "POST", Path: list, Op: "createOrganizationPrototypePermission", Group: "prototype", Scope: auth.ScopeOrgAdmin,
		Summary: "Create a new permission prototype.", Body: true, Handle: a.createPrototype,
	}, {
		Method: "PUT", Path: list + "/{prototypeid}", Op: "updateOrganizationPrototypePermission", Group: "prototype",
		Scope: auth.ScopeOrgAdmin, Summary: "Update the role of an existing permission prototype.", Body: true,
		Handle: a.updatePrototype,
	}, {
		Method: "DELETE", Path: list + "/{prototypeid}", Op: "deleteOrganizationPrototypePermission", Group: "prototype",
		Scope: auth.ScopeOrgAdmin, Summary: "Delete an existing permission prototype.", Status: http.StatusNoContent,
		Handle: a.deletePrototype,
	}}
}

// prototypeContext resolves the accounts and teams prototypes name.
type prototypeContext struct {
	api     *API
	ctx     context.Context
	org     store.Namespace
	members map[int64]bool
	teams   map[int64]store.Team
	users   map[int64]store.User
}

func (a *API) newPrototypeContext(ctx context.Context, org store.Namespace) (*prototypeContext, error) {
	members, err := a.repoOrgMembers(ctx, org)
	if err != nil {
		return nil, err
	}
	teams, err := a.store.Teams(ctx, org.ID)
	if err != nil {
		return nil, fmt.Errorf("teams of %s: %w", org.Name, err)
	}
	pc := &prototypeContext{api: a, ctx: ctx, org: org, members: members, teams: map[int64]store.Team{}, users: map[int64]store.User{}}
	for _, t := range teams {
		pc.teams[t.ID] = t
	}
	return pc, nil
}

func (pc *prototypeContext) user(id int64) (store.User, error) {
	if u, ok := pc.users[id]; ok {
		return u, nil
	}
	u, err := pc.api.store.AccountByID(pc.ctx, id)
	if err != nil {
		return store.User{}, fmt.Errorf("prototype account %d: %w", id, err)
	}
	pc.users[id] = u
	return u, nil
}

func (pc *prototypeContext) userView(u store.User) map[string]any {
	return map[string]any{"name": u.Name, "is_robot": u.Robot(), "kind": "user",
		"is_org_member": u.Robot() || pc.members[u.ID], "avatar": repoAvatar(u.Name, u.Email, permAvatarKind(u))}
}

// view is Quay's shape of a prototype.
func (pc *prototypeContext) view(p store.Prototype) (map[string]any, error) {
	v := map[string]any{"id": p.UUID, "role": p.Role, "activating_user": nil}
	if p.ActivatingUserID != 0 {
		u, err := pc.user(p.ActivatingUserID)
		if err != nil {
			return nil, err
		}
		v["activating_user"] = pc.userView(u)
	}
	switch {
	case p.DelegateUserID != 0:
		u, err := pc.user(p.DelegateUserID)
		if err != nil {
			return nil, err
		}
		v["delegate"] = pc.userView(u)
	default:
		t := pc.teams[p.DelegateTeamID]
		v["delegate"] = map[string]any{"name": t.Name, "kind": "team", "avatar": repoAvatar(t.Name, "", "team")}
	}
	return v, nil
}

// logMeta is the audit metadata of a prototype change.
func (pc *prototypeContext) logMeta(c *Call, p store.Prototype) (map[string]any, error) {
	meta := map[string]any{"prototypeid": p.UUID, "username": c.ID.Name(), "activating_username": nil, "role": p.Role}
	if p.ActivatingUserID != 0 {
		u, err := pc.user(p.ActivatingUserID)
		if err != nil {
			return nil, err
		}
		meta["activating_username"] = u.Name
	}
	if p.DelegateUserID != 0 {
		u, err := pc.user(p.DelegateUserID)
		if err != nil {
			return nil, err
		}
		meta["delegate_user"] = u.Name
	} else {
		meta["delegate_team"] = pc.teams[p.DelegateTeamID].Name
	}
	return meta, nil
}

func (a *API) listPrototypes(c *Call) (any, error) {
	org, err := c.Org(true)
	if err != nil {
		return nil, err
	}
	protos, err := a.store.Prototypes(c.R.Context(), org.ID)
	if err != nil {
		return nil, err
	}
	pc, err := a.newPrototypeContext(c.R.Context(), org)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(protos))
	for _, p := range protos {
		v, err := pc.view(p)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return map[string]any{"prototypes": out}, nil
}

func (a *API) createPrototype(c *Call) (any, error) {
	org, err := c.Org(true)
	if err != nil {
		return nil, err
	}
	var body struct {
		Role           string `json:"role"`
		ActivatingUser *struct {
			Name string `json:"name"`
		} `json:"activating_user"`
		Delegate *struct {
			Name string `json:"name"`
			Kind string `json:"kind"`
		} `json:"delegate"`
	}
	if err := c.Decode(&body); err != nil {
		return nil, err
	}
	if !store.ValidRole(body.Role) {
		return nil, badRequest(`role must be "read", "write" or "admin"`)
	}
	if body.Delegate == nil || body.Delegate.Name == "" || !oneOf(body.Delegate.Kind, "user", "team") {
		return nil, badRequest(`delegate must be {"name": ..., "kind": "user" or "team"}`)
	}
	ctx := c.R.Context()
	p := store.Prototype{UUID: auth.NewUUID(), OrgID: org.ID, Role: body.Role}
	if body.ActivatingUser != nil && body.ActivatingUser.Name != "" {
		u, err := a.store.Account(ctx, body.ActivatingUser.Name)
		if errors.Is(err, store.ErrNotFound) || (err == nil && u.Kind != store.KindUser) {
			return nil, badRequest("Unknown activating user")
		}
		if err != nil {
			return nil, err
		}
		p.ActivatingUserID = u.ID
	}
	if body.Delegate.Kind == "user" {
		u, err := a.store.Account(ctx, body.Delegate.Name)
		valid := err == nil && (u.Kind == store.KindUser || (u.Robot() && u.OwnerID == org.ID))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if !valid {
			return nil, badRequest("Missing delegate user or team")
		}
		p.DelegateUserID = u.ID
	} else {
		t, err := a.store.Team(ctx, org.ID, body.Delegate.Name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, badRequest("Missing delegate user or team")
		}
		if err != nil {
			return nil, err
		}
		p.DelegateTeamID = t.ID
	}
	p, err = a.store.CreatePrototype(ctx, p)
	if err != nil {
		return nil, err
	}
	pc, err := a.newPrototypeContext(ctx, org)
	if err != nil {
		return nil, err
	}
	meta, err := pc.logMeta(c, p)
	if err != nil {
		return nil, err
	}
	if err := c.Log("create_prototype_permission", org.Name, org.ID, "", 0, meta); err != nil {
		return nil, err
	}
	return pc.view(p)
}

// orgPrototype loads the {prototypeid} default permission of an organization.
func (a *API) orgPrototype(c *Call, org store.Namespace) (store.Prototype, error) {
	p, err := a.store.Prototype(c.R.Context(), org.ID, c.Param("prototypeid"))
	if errors.Is(err, store.ErrNotFound) {
		return store.Prototype{}, notFound("default permission " + c.Param("prototypeid"))
	}
	return p, err
}

func (a *API) updatePrototype(c *Call) (any, error) {
	org, err := c.Org(true)
	if err != nil {
		return nil, err
	}
	p, err := a.orgPrototype(c, org)
	if err != nil {
		return nil, err
	}
	var body struct {
		Role string `json:"role"`
	}
	if err := c.Decode(&body); err != nil {
		return nil, err
	}
	if !store.ValidRole(body.Role) {
		return nil, badRequest(`role must be "read", "write" or "admin"`)
	}
	ctx := c.R.Context()
	if err := a.store.SetPrototypeRole(ctx, p.ID, body.Role); err != nil {
		return nil, fmt.Errorf("update default permission %s: %w", p.UUID, err)
	}
	original := p.Role
	p.Role = body.Role
	pc, err := a.newPrototypeContext(ctx, org)
	if err != nil {
		return nil, err
	}
	meta, err := pc.logMeta(c, p)
	if err != nil {
		return nil, err
	}
	meta["original_role"] = original
	if err := c.Log("modify_prototype_permission", org.Name, org.ID, "", 0, meta); err != nil {
		return nil, err
	}
	return pc.view(p)
}

func (a *API) deletePrototype(c *Call) (any, error) {
	org, err := c.Org(true)
	if err != nil {
		return nil, err
	}
	p, err := a.orgPrototype(c, org)
	if err != nil {
		return nil, err
	}
	ctx := c.R.Context()
	pc, err := a.newPrototypeContext(ctx, org)
	if err != nil {
		return nil, err
	}
	meta, err := pc.logMeta(c, p)
	if err != nil {
		return nil, err
	}
	if err := a.store.DeletePrototype(ctx, p.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound("default permission " + p.UUID)
		}
		return nil, err
	}
	if err := c.Log("delete_prototype_permission", org.Name, org.ID, "", 0, meta); err != nil {
		return nil, err
	}
	return nil, nil
}
