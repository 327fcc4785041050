package api

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

func (a *API) superuserRoutes() []*Route {
	return []*Route{
		{
			Method: "GET", Path: "/api/v1/superuser/users/", Op: "listAllUsers", Group: "superuser", Scope: auth.ScopeSuperUser,
			Summary: "Returns a list of all users in the system.", Query: []string{"disabled"},
			Handle: a.listAllUsers,
		},
		{
			Method: "POST", Path: "/api/v1/superuser/users/", Op: "createInstallUser", Group: "superuser", Scope: auth.ScopeSuperUser,
			Summary: "Creates a new user with a generated password.", Body: true,
			Handle: a.createInstallUser,
		},
		{
			Method: "GET", Path: "/api/v1/superuser/users/{username}", Op: "getInstallUser", Group: "superuser", Scope: auth.ScopeSuperUser,
			Summary: "Returns information about the specified user.",
			Handle: func(c *Call) (any, error) {
				u, err := a.managedUser(c)
				if err != nil {
					return nil, err
				}
				return a.superUserView(u), nil
			},
		},
		{
			Method: "PUT", Path: "/api/v1/superuser/users/{username}", Op: "changeInstallUser", Group: "superuser", Scope: auth.ScopeSuperUser,
			Summary: "Updates information about the specified user: password, email, enabled, superuser.", Body: true,
			Handle: a.changeInstallUser,
		},
		{
			Method: "DELETE", Path: "/api/v1/superuser/users/{username}", Op: "deleteInstallUser", Group: "superuser", Scope: auth.ScopeSuperUser,
			Summary: "Deletes the specified user.", Status: http.StatusNoContent,
			Handle: a.deleteInstallUser,
		},
		{
			Method: "GET", Path: "/api/v1/superuser/organizations/", Op: "listAllOrganizations", Group: "superuser", Scope: auth.ScopeSuperUser,
			Summary: "Returns a list of all organizations in the system.",
			Handle: func(c *Call) (any, error) {
				if err := c.RequireSuperuser(); err != nil {
					return nil, err
				}
				orgs, err := a.store.ListAccounts(c.R.Context(), store.KindOrg)
				if err != nil {
					return nil, err
				}
				out := make([]map[string]any, 0, len(orgs))
				for _, o := range orgs {
					out = append(out, superOrgView(o))
				}
				return map[string]any{"organizations": out}, nil
			},
		},
		{
			Method: "PUT", Path: "/api/v1/superuser/organizations/{name}", Op: "changeOrganization", Group: "superuser", Scope: auth.ScopeSuperUser,
			Summary: "Updates the specified organization (renaming is not supported).", Body: true,
			Handle: func(c *Call) (any, error) {
				org, err := a.managedOrg(c)
				if err != nil {
					return nil, err
				}
				var body struct {
					Name *string `json:"name"`
				}
				if err := c.Decode(&body); err != nil {
					return nil, err
				}
				if body.Name != nil && *body.Name != org.Name {
					return nil, badRequest("renaming organizations is not supported")
				}
				return superOrgView(org), nil
			},
		},
		{
			Method: "DELETE", Path: "/api/v1/superuser/organizations/{name}", Op: "deleteOrganization", Group: "superuser", Scope: auth.ScopeSuperUser,
			Summary: "Deletes the specified organization.", Status: http.StatusNoContent,
			Handle: func(c *Call) (any, error) {
				org, err := a.managedOrg(c)
				if err != nil {
					return nil, err
				}
				if err := c.Log("org_delete", org.Name, org.ID, "", 0, map[string]any{"namespace": org.Name, "superuser": c.ID.Name()}); err != nil {
					return nil, err
				}
				if err := a.store.DeleteNamespace(c.R.Context(), org.ID); err != nil {
					return nil, err
				}
				a.auth.Forget()
				return nil, nil
			},
		},
	}
}

// superUserView is Quay's view of a user for superusers.
func (a *API) superUserView(u store.User) map[string]any {
	return map[string]any{
		"kind": "user", "name": u.Name, "username": u.Name, "email": u.Email,
		"verified": true, "avatar": adminAvatar(u.Name, u.Email, "user"),
		"super_user": a.auth.Superuser(auth.Identity{User: &u}), "enabled": u.Enabled,
	}
}

func superOrgView(o store.User) map[string]any {
	return map[string]any{"name": o.Name, "email": o.Email, "avatar": adminAvatar(o.Name, o.Email, store.KindOrg)}
}

func (a *API) listAllUsers(c *Call) (any, error) {
	if err := c.RequireSuperuser(); err != nil {
		return nil, err
	}
	users, err := a.store.ListAccounts(c.R.Context(), store.KindUser)
	if err != nil {
		return nil, err
	}
	enabledOnly := strings.EqualFold(c.Query("disabled"), "false")
	out := make([]map[string]any, 0, len(users))
	for _, u := range users {
		if enabledOnly && !u.Enabled {
			continue
		}
		out = append(out, a.superUserView(u))
	}
	return map[string]any{"users": out}, nil
}

// databaseAuth refuses changes that only the database login source supports.
func (a *API) databaseAuth(what string) error {
	if t := a.auth.Options().AuthenticationType; t != "" && t != auth.AuthDatabase {
		return badRequest("cannot " + what + " with AUTHENTICATION_TYPE " + t)
	}
	return nil
}

func (a *API) createInstallUser(c *Call) (any, error) {
	if err := c.RequireSuperuser(); err != nil {
		return nil, err
	}
	if err := a.databaseAuth("create a user"); err != nil {
		return nil, err
	}
	var body struct {
		Username string `json:"username"`
		Email    string `json:"email"`
	}
	if err := c.Decode(&body); err != nil {
		return nil, err
	}
	if err := auth.ValidUsername(body.Username); err != nil {
		return nil, badRequest(err.Error())
	}
	if body.Email != "" && !strings.Contains(body.Email, "@") {
		return nil, badRequest("invalid e-mail address")
	}
	ctx := c.R.Context()
	password, err := auth.GeneratePassword()
	if err != nil {
		return nil, err
	}
	u, err := auth.CreateUser(ctx, a.store, body.Username, password, body.Email, false)
	if errors.Is(err, store.ErrExists) {
		return nil, badRequest("the name " + body.Username + " is already taken")
	}
	if err != nil {
		return nil, err
	}
	encrypted, err := a.auth.EncryptPassword(ctx, u, password)
	if err != nil {
		return nil, err
	}
	if err := c.Log("user_create", u.Name, u.ID, "", 0, map[string]any{"email": body.Email, "username": u.Name, "superuser": c.ID.Name()}); err != nil {
		return nil, err
	}
	return map[string]any{"username": u.Name, "email": body.Email, "password": password, "encrypted_password": encrypted}, nil
}

// managedUser loads the {username} user for a superuser.
func (a *API) managedUser(c *Call) (store.User, error) {
	if err := c.RequireSuperuser(); err != nil {
		return store.User{}, err
	}
	u, err := a.store.UserByName(c.R.Context(), c.Param("username"))
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, notFound("user " + c.Param("username"))
	}
	return u, err
}

// managedOrg loads the {name} organization for a superuser.
func (a *API) managedOrg(c *Call) (store.User, error) {
	if err := c.RequireSuperuser(); err != nil {
		return store.User{}, err
	}
	o, err := a.store.Account(c.R.Context(), c.Param("name"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && o.Kind != store.KindOrg) {
		return store.User{}, notFound("organization " + c.Param("name"))
	}
	return o, err
}

func (a *API) changeInstallUser(c *Call) (any, error) {
	u, err := a.managedUser(c)
	if err != nil {
		return nil, err
	}
	var body struct {
		Password  *string `json:"password"`
		Email     *string `json:"email"`
		Enabled   *bool   `json:"enabled"`
		Superuser *bool   `json:"superuser"`
	}
	if err := c.Decode(&body); err != nil {
		return nil, err
	}
	ctx := c.R.Context()
	if a.auth.Superuser(auth.Identity{User: &u}) {
		// As in Quay, superusers are not managed here; the one exception is taking the
		// database superuser flag away (SUPER_USERS in the configuration stays).
		if body.Password != nil || body.Email != nil || body.Enabled != nil || body.Superuser == nil || *body.Superuser {
			return nil, badRequest("cannot update a superuser")
		}
	}
	if (body.Password != nil || body.Email != nil) && u.LoginSource != "" && u.LoginSource != "database" {
		return nil, badRequest("the user signs in through " + u.LoginSource + ": change the password and e-mail there")
	}
	meta := func(extra map[string]any) map[string]any {
		m := map[string]any{"username": u.Name, "superuser": c.ID.Name()}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	var encrypted string
	if body.Password != nil {
		if err := a.databaseAuth("change a password"); err != nil {
			return nil, err
		}
		hash, err := auth.HashPassword(*body.Password)
		if err != nil {
			return nil, badRequest(err.Error())
		}
		if err := a.store.SetPassword(ctx, u.ID, hash); err != nil {
			return nil, err
		}
		a.auth.Forget()
		if err := c.Log("user_change_password", u.Name, u.ID, "", 0, meta(nil)); err != nil {
			return nil, err
		}
		u.PasswordHash = hash
		if encrypted, err = a.auth.EncryptPassword(ctx, u, *body.Password); err != nil {
			return nil, err
		}
	}
	changed := false
	oldEmail := u.Email
	if body.Email != nil && *body.Email != u.Email {
		if *body.Email != "" && !strings.Contains(*body.Email, "@") {
			return nil, badRequest("invalid e-mail address")
		}
		u.Email, changed = *body.Email, true
	}
	oldEnabled := u.Enabled
	if body.Enabled != nil {
		if !*body.Enabled && u.ID == c.ID.User.ID {
			return nil, badRequest("you cannot disable your own account")
		}
		u.Enabled = *body.Enabled
		changed = changed || u.Enabled != oldEnabled
	}
	oldSuper := u.Superuser
	if body.Superuser != nil {
		if !*body.Superuser && slices.Contains(a.auth.Options().SuperUsers, u.Name) && a.auth.Options().SuperUsersEnabled {
			return nil, badRequest(u.Name + " is listed in SUPER_USERS: change the configuration")
		}
		u.Superuser = *body.Superuser
		changed = changed || u.Superuser != oldSuper
	}
	if changed {
		if err := a.store.UpdateAccount(ctx, u); err != nil {
			if errors.Is(err, store.ErrExists) {
				return nil, badRequest("the e-mail address is already in use")
			}
			return nil, err
		}
		a.auth.Forget()
	}
	if u.Email != oldEmail {
		if err := c.Log("user_change_email", u.Name, u.ID, "", 0, meta(map[string]any{"old_email": oldEmail, "email": u.Email})); err != nil {
			return nil, err
		}
	}
	if u.Enabled != oldEnabled {
		kind := "user_disable"
		if u.Enabled {
			kind = "user_enable"
		}
		if err := c.Log(kind, u.Name, u.ID, "", 0, meta(nil)); err != nil {
			return nil, err
		}
	}
	if u.Superuser != oldSuper {
		// Quay keeps superusers in its configuration and logs no event; Wharf's database
		// flag is a security-relevant change, so it is logged.
		kind := "user_revoke_superuser"
		if u.Superuser {
			kind = "user_grant_superuser"
		}
		if err := c.Log(kind, u.Name, u.ID, "", 0, meta(nil)); err != nil {
			return nil, err
		}
	}
	view := a.superUserView(u)
	if encrypted != "" {
		view["encrypted_password"] = encrypted
	}
	return view, nil
}

func (a *API) deleteInstallUser(c *Call) (any, error) {
	u, err := a.managedUser(c)
	if err != nil {
		return nil, err
	}
	if a.auth.Superuser(auth.Identity{User: &u}) {
		return nil, badRequest("cannot delete a superuser")
	}
	if err := c.Log("user_delete", u.Name, u.ID, "", 0, map[string]any{"username": u.Name, "superuser": c.ID.Name()}); err != nil {
		return nil, err
	}
	if err := a.store.DeleteNamespace(c.R.Context(), u.ID); err != nil {
		return nil, err
	}
	a.auth.Forget()
	return nil, nil
}
