package api

import (
	"errors"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

// More superuser endpoints: taking ownership of an organization, the registry's size (as
// Quay answers it) and Wharf's counts of what the registry holds.

func (a *API) superuserExtraRoutes() []*Route {
	return []*Route{
		{
			Method: "POST", Path: "/api/v1/superuser/takeownership/{namespace}", Op: "takeOwnership", Group: "superuser", Scope: auth.ScopeSuperUser,
			Summary: "Takes ownership of the specified organization: the superuser joins its admin team. " +
				"Unlike Quay, a user namespace is not converted into an organization (400).",
			Handle: a.takeOwnership,
		},
		{
			Method: "GET", Path: "/api/v1/superuser/registrysize/", Op: "getRegistrySize", Group: "superuser", Scope: auth.ScopeSuperUser,
			Summary: "Returns the size of the registry: the sum of the sizes of its distinct blobs, computed when asked (never queued).",
			Handle:  a.getRegistrySize,
		},
		{
			Method: "GET", Path: "/api/v1/superuser/counts", Op: "getRegistryCounts", Group: "superuser", Scope: auth.ScopeSuperUser,
			Summary: "Wharf: counts users, organizations, robots, repositories, live tags, manifests and distinct blobs.",
			Handle:  a.getRegistryCounts,
		},
	}
}

// takeOwnership makes the calling superuser a member of an admin team of the organization
// (its owners team, as Quay does). Quay also takes over a user namespace by converting the
// user into an organization; Wharf refuses that, since it would end the user's account.
func (a *API) takeOwnership(c *Call) (any, error) {
	if err := c.RequireSuperuser(); err != nil {
		return nil, err
	}
	name := c.Param("namespace")
	ctx := c.R.Context()
	ns, err := a.store.Namespace(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("namespace " + name)
	}
	if err != nil {
		return nil, err
	}
	if ns.Kind != store.KindOrg {
		return nil, badRequest("only organizations are supported: " + name + " is a user, and converting a user into an organization is not")
	}
	team, added, err := a.store.TakeOwnership(ctx, ns.ID, c.ID.User.ID)
	if err != nil {
		return nil, err
	}
	if added {
		if err := c.Log("take_ownership", ns.Name, ns.ID, "", 0, map[string]any{"entity_id": ns.ID, "namespace": ns.Name,
			"was_user": false, "team": team, "superuser": c.ID.Name()}); err != nil {
			return nil, err
		}
	}
	return map[string]any{"namespace": ns.Name}, nil
}

func (a *API) getRegistrySize(c *Call) (any, error) {
	if err := c.RequireSuperuser(); err != nil {
		return nil, err
	}
	st, err := a.store.RegistryStats(c.R.Context())
	if err != nil {
		return nil, err
	}
	return map[string]any{"size_bytes": st.BlobBytes, "last_ran": a.store.Now().UnixMilli(), "queued": false, "running": false}, nil
}

func (a *API) getRegistryCounts(c *Call) (any, error) {
	if err := c.RequireSuperuser(); err != nil {
		return nil, err
	}
	st, err := a.store.RegistryStats(c.R.Context())
	if err != nil {
		return nil, err
	}
	return map[string]any{"users": st.Users, "organizations": st.Organizations, "robots": st.Robots,
		"repositories": st.Repositories, "tags": st.Tags, "manifests": st.Manifests, "blobs": st.Blobs,
		"size_bytes": st.BlobBytes}, nil
}
