package api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

// Lengths of generated OAuth client credentials.
const (
	clientIDLength     = 20
	clientSecretLength = 40
)

func (a *API) applicationRoutes() []*Route {
	return []*Route{
		{
			Method: "GET", Path: "/api/v1/organization/{orgname}/applications", Op: "getOrganizationApplications", Group: "organization",
			Scope: auth.ScopeOrgAdmin, Summary: "List the applications for the specified organization.",
			Handle: func(c *Call) (any, error) {
				org, err := c.Org(true)
				if err != nil {
					return nil, err
				}
				apps, err := a.store.OAuthApplications(c.R.Context(), org.ID)
				if err != nil {
					return nil, err
				}
				out := make([]map[string]any, 0, len(apps))
				for _, app := range apps {
					out = append(out, appView(app))
				}
				return map[string]any{"applications": out}, nil
			},
		},
		{
			Method: "POST", Path: "/api/v1/organization/{orgname}/applications", Op: "createOrganizationApplication", Group: "organization",
			Scope: auth.ScopeOrgAdmin, Summary: "Creates a new application under this organization.", Body: true,
			Handle: a.createApplication,
		},
		{
			Method: "GET", Path: "/api/v1/organization/{orgname}/applications/{client_id}", Op: "getOrganizationApplication", Group: "organization",
			Scope: auth.ScopeOrgAdmin, Summary: "Retrieves the application with the specified client_id under the specified organization.",
			Handle: func(c *Call) (any, error) {
				_, app, err := a.orgApplication(c)
				if err != nil {
					return nil, err
				}
				return appView(app), nil
			},
		},
		{
			Method: "PUT", Path: "/api/v1/organization/{orgname}/applications/{client_id}", Op: "updateOrganizationApplication", Group: "organization",
			Scope: auth.ScopeOrgAdmin, Summary: "Updates an application under this organization.", Body: true,
			Handle: a.updateApplication,
		},
		{
			Method: "DELETE", Path: "/api/v1/organization/{orgname}/applications/{client_id}", Op: "deleteOrganizationApplication", Group: "organization",
			Scope: auth.ScopeOrgAdmin, Summary: "Deletes the application under this organization, with the tokens issued through it.", Status: http.StatusNoContent,
			Handle: func(c *Call) (any, error) {
				org, app, err := a.orgApplication(c)
				if err != nil {
					return nil, err
				}
				if err := a.store.DeleteOAuthApplication(c.R.Context(), app.ID); err != nil {
					return nil, err
				}
				a.auth.Forget()
				return nil, c.Log("delete_application", org.Name, org.ID, "", 0,
					map[string]any{"application_name": app.Name, "client_id": app.ClientID})
			},
		},
		{
			Method: "POST", Path: "/api/v1/organization/{orgname}/applications/{client_id}/resetclientsecret", Op: "resetOrganizationApplicationClientSecret",
			Group: "organization", Scope: auth.ScopeOrgAdmin, Summary: "Resets the client secret of the application.",
			Handle: func(c *Call) (any, error) {
				org, app, err := a.orgApplication(c)
				if err != nil {
					return nil, err
				}
				app.ClientSecret = auth.RandomToken(clientSecretLength)
				if err := a.store.UpdateOAuthApplication(c.R.Context(), app); err != nil {
					return nil, err
				}
				if err := c.Log("reset_application_client_secret", org.Name, org.ID, "", 0,
					map[string]any{"application_name": app.Name, "client_id": app.ClientID}); err != nil {
					return nil, err
				}
				return appView(app), nil
			},
		},
		{
			Method: "GET", Path: "/api/v1/app/{client_id}", Op: "getApplicationInformation", Group: "organization", Anonymous: true,
			Summary: "Get public information on the specified application.",
			Handle: func(c *Call) (any, error) {
				app, err := a.store.OAuthApplicationByClientID(c.R.Context(), c.Param("client_id"))
				if errors.Is(err, store.ErrNotFound) {
					return nil, notFound("application")
				}
				if err != nil {
					return nil, err
				}
				org, err := a.store.AccountByID(c.R.Context(), app.OrgID)
				if err != nil {
					return nil, err
				}
				email := app.AvatarEmail
				if email == "" {
					email = org.Email
				}
				return map[string]any{
					"name": app.Name, "description": app.Description, "uri": app.ApplicationURI,
					"avatar":       adminAvatar(app.Name, email, "app"),
					"organization": map[string]any{"name": org.Name, "avatar": adminAvatar(org.Name, org.Email, store.KindOrg)},
				}, nil
			},
		},
	}
}

// appView is Quay's view of an application for the administrators of its organization.
func appView(app store.OAuthApplication) map[string]any {
	return map[string]any{
		"name": app.Name, "description": app.Description, "application_uri": app.ApplicationURI,
		"client_id": app.ClientID, "client_secret": app.ClientSecret, "redirect_uri": app.RedirectURI,
		"avatar_email": app.AvatarEmail,
	}
}

// appFields is the body of a new or changed application.
type appFields struct {
	Name           *string `json:"name"`
	RedirectURI    *string `json:"redirect_uri"`
	ApplicationURI *string `json:"application_uri"`
	Description    *string `json:"description"`
	AvatarEmail    *string `json:"avatar_email"`
}

func appStr(p *string) string {
	if p == nil {
		return ""
	}
	return strings.TrimSpace(*p)
}

// validate checks the fields; update requires those Quay's UpdateApp requires.
func (f appFields) validate(update bool) error {
	if appStr(f.Name) == "" {
		return badRequest("name is required")
	}
	if update && (f.RedirectURI == nil || f.ApplicationURI == nil) {
		return badRequest("name, redirect_uri and application_uri are required")
	}
	for field, v := range map[string]string{"redirect_uri": appStr(f.RedirectURI), "application_uri": appStr(f.ApplicationURI)} {
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return badRequest(field + " must be an absolute http or https URL without credentials")
		}
	}
	if e := appStr(f.AvatarEmail); e != "" && !strings.Contains(e, "@") {
		return badRequest("avatar_email must be an e-mail address")
	}
	return nil
}

// meta is the audit metadata of a change (Quay logs the request's fields).
func (f appFields) meta(app store.OAuthApplication) map[string]any {
	return map[string]any{
		"name": app.Name, "redirect_uri": app.RedirectURI, "application_uri": app.ApplicationURI,
		"description": app.Description, "avatar_email": app.AvatarEmail,
		"application_name": app.Name, "client_id": app.ClientID,
	}
}

func (a *API) createApplication(c *Call) (any, error) {
	org, err := c.Org(true)
	if err != nil {
		return nil, err
	}
	var body appFields
	if err := c.Decode(&body); err != nil {
		return nil, err
	}
	if err := body.validate(false); err != nil {
		return nil, err
	}
	app, err := a.store.CreateOAuthApplication(c.R.Context(), store.OAuthApplication{
		OrgID: org.ID, ClientID: auth.RandomToken(clientIDLength), ClientSecret: auth.RandomToken(clientSecretLength),
		Name: appStr(body.Name), Description: appStr(body.Description), ApplicationURI: appStr(body.ApplicationURI),
		RedirectURI: appStr(body.RedirectURI), AvatarEmail: appStr(body.AvatarEmail),
	})
	if err != nil {
		return nil, err
	}
	if err := c.Log("create_application", org.Name, org.ID, "", 0, body.meta(app)); err != nil {
		return nil, err
	}
	return appView(app), nil
}

func (a *API) updateApplication(c *Call) (any, error) {
	org, app, err := a.orgApplication(c)
	if err != nil {
		return nil, err
	}
	var body appFields
	if err := c.Decode(&body); err != nil {
		return nil, err
	}
	if err := body.validate(true); err != nil {
		return nil, err
	}
	app.Name, app.RedirectURI, app.ApplicationURI = appStr(body.Name), appStr(body.RedirectURI), appStr(body.ApplicationURI)
	app.Description, app.AvatarEmail = appStr(body.Description), appStr(body.AvatarEmail)
	if err := a.store.UpdateOAuthApplication(c.R.Context(), app); err != nil {
		return nil, err
	}
	if err := c.Log("update_application", org.Name, org.ID, "", 0, body.meta(app)); err != nil {
		return nil, err
	}
	return appView(app), nil
}

// orgApplication loads the {client_id} application of the {orgname} organization, which
// the caller must administer.
func (a *API) orgApplication(c *Call) (store.Namespace, store.OAuthApplication, error) {
	org, err := c.Org(true)
	if err != nil {
		return org, store.OAuthApplication{}, err
	}
	app, err := a.store.OAuthApplicationByClientID(c.R.Context(), c.Param("client_id"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && app.OrgID != org.ID) {
		return org, store.OAuthApplication{}, notFound("application")
	}
	return org, app, err
}
