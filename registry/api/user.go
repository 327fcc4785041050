package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

// acctAvatarColors are the background colors of generated avatars.
var acctAvatarColors = []string{
	"#8c564b", "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#e377c2", "#17becf", "#bcbd22",
	"#7f7f7f", "#ff7f0e", "#3949ab", "#00897b", "#6d4c41", "#c2185b", "#5e35b1", "#43a047",
}

// acctAvatar is the avatar block of an account or team: its name, the hash of its email (or
// id) and a color derived from the hash.
func acctAvatar(name, emailOrID, kind string) map[string]any {
	key := emailOrID
	if key == "" {
		key = name
	}
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(key))))
	return map[string]any{
		"name":  name,
		"hash":  hex.EncodeToString(sum[:]),
		"color": acctAvatarColors[int(sum[0])%len(acctAvatarColors)],
		"kind":  kind,
	}
}

// acctUserAvatar is the avatar of a user, robot or organization.
func acctUserAvatar(u store.User) map[string]any {
	return acctAvatar(u.Name, u.Email, u.Kind)
}

// acctDate formats a time as Quay's API does (RFC 2822 in UTC); nil for the zero time.
func acctDate(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("Mon, 02 Jan 2006 15:04:05 -0000")
}

// acctTruthy reads a boolean query parameter, def when absent.
func acctTruthy(v string, def bool) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "":
		return def
	case "1", "true", "t", "yes", "y", "on":
		return true
	}
	return false
}

// acctDecodeOptional decodes a JSON body that may be absent or empty.
func acctDecodeOptional(c *Call, v any) error {
	raw, err := io.ReadAll(http.MaxBytesReader(c.W, c.R.Body, 1<<20))
	if err != nil {
		return badRequest("cannot read the request body: " + err.Error())
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return badRequest("invalid JSON body: " + err.Error())
	}
	return nil
}

// acctNameRE is Quay's pattern for robot short names and team names.
var acctNameRE = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

// acctValidName checks a robot short name or team name.
func acctValidName(what, name string) error {
	if len(name) < 2 || len(name) > 255 || !acctNameRE.MatchString(name) {
		return badRequest(fmt.Sprintf("invalid %s name %q: use 2 to 255 lowercase letters and digits, separated by single '.', '_' or '-'", what, name))
	}
	return nil
}

// acctValidEmail is a light check of an email address.
func acctValidEmail(email string) bool {
	at := strings.IndexByte(email, '@')
	return at > 0 && at < len(email)-1 && !strings.ContainsAny(email, " \t\r\n")
}

// acctStoreErr maps the store's not-found and exists errors to API errors.
func acctStoreErr(err error, what string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound(what)
	case errors.Is(err, store.ErrExists):
		return badRequest(what + " already exists")
	}
	return err
}

// acctMe is the caller as a user (never anonymous on routes that call it).
func acctMe(c *Call) (store.User, error) {
	if c.ID.User == nil {
		return store.User{}, unauthorized()
	}
	return *c.ID.User, nil
}

func (a *API) userRoutes() []*Route {
	return []*Route{
		{Method: "GET", Path: "/api/v1/user/", Op: "getLoggedInUser", Group: "user", Scope: auth.ScopeUserRead,
			Summary: "Get user information for the authenticated user.", Handle: a.getLoggedInUser},
		{Method: "POST", Path: "/api/v1/user/", Op: "createNewUser", Group: "user", Anonymous: true, Body: true,
			Summary: "Create a new user.", Handle: a.createNewUser},
		{Method: "PUT", Path: "/api/v1/user/", Op: "changeUserDetails", Group: "user", Scope: auth.ScopeUserAdmin, Body: true,
			Summary: "Update a users details such as password or email.", Handle: a.changeUserDetails},
		{Method: "POST", Path: "/api/v1/user/initialize", Op: "initializeUser", Group: "user", Anonymous: true, Body: true,
			Summary: "Create the first user of an empty instance.", Handle: a.initializeUser},
		{Method: "GET", Path: "/api/v1/user/apptoken", Op: "listAppTokens", Group: "appspecifictokens", Scope: auth.ScopeUserAdmin,
			Query: []string{"expiring"}, Summary: "Lists the app specific tokens for the user.", Handle: a.listAppTokens},
		{Method: "POST", Path: "/api/v1/user/apptoken", Op: "createAppToken", Group: "appspecifictokens", Scope: auth.ScopeUserAdmin, Body: true,
			Summary: "Create a new app specific token for user.", Handle: a.createAppToken},
		{Method: "GET", Path: "/api/v1/user/apptoken/{token_uuid}", Op: "getAppToken", Group: "appspecifictokens", Scope: auth.ScopeUserAdmin,
			Summary: "Returns a specific app token for the user.", Handle: a.getAppToken},
		{Method: "DELETE", Path: "/api/v1/user/apptoken/{token_uuid}", Op: "revokeAppToken", Group: "appspecifictokens", Scope: auth.ScopeUserAdmin,
			Status: http.StatusNoContent, Summary: "Revokes a specific app token for the user.", Handle: a.revokeAppToken},
		{Method: "POST", Path: "/api/v1/user/clientkey", Op: "generateUserClientKey", Group: "user", Scope: auth.ScopeUserAdmin, Body: true,
			Summary: "Return's the user's private client key.", Handle: a.generateUserClientKey},
	}
}

// acctUserView is Quay's view of a user as that user sees it.
func (a *API) acctUserView(c *Call, u store.User) (map[string]any, error) {
	ctx := c.R.Context()
	orgs, err := a.store.UserOrganizations(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	orgViews := make([]map[string]any, 0, len(orgs))
	for _, o := range orgs {
		teams, err := a.store.UserTeams(ctx, o.ID, u.ID)
		if err != nil {
			return nil, err
		}
		admin, creator := false, false
		for _, t := range teams {
			admin = admin || t.Role == store.TeamAdmin
			creator = creator || t.Role == store.TeamCreator
		}
		orgViews = append(orgViews, map[string]any{
			"name":                o.Name,
			"avatar":              acctAvatar(o.Name, o.Email, store.KindOrg),
			"can_create_repo":     admin || creator,
			"public":              false,
			"is_org_admin":        admin,
			"preferred_namespace": false,
		})
	}
	view := map[string]any{
		"anonymous":           false,
		"username":            u.Name,
		"avatar":              acctUserAvatar(u),
		"can_create_repo":     true,
		"is_me":               true,
		"verified":            true,
		"email":               u.Email,
		"logins":              []any{},
		"invoice_email":       false,
		"preferred_namespace": false,
		"tag_expiration_s":    int64(a.opts.TagExpiration.Seconds()),
		"prompts":             []any{},
		"organizations":       orgViews,
		"super_user":          a.auth.Superuser(auth.Identity{User: &u}),
	}
	if c.ID.Via == "session" && c.ID.User != nil && c.ID.User.ID == u.ID {
		if _, csrf, err := a.auth.Session(c.R); err == nil {
			view["csrf_token"] = csrf
		}
	}
	return view, nil
}

func (a *API) getLoggedInUser(c *Call) (any, error) {
	me, err := acctMe(c)
	if err != nil {
		return nil, err
	}
	return a.acctUserView(c, me)
}

type acctNewUserRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Email    string `json:"email"`
}

// acctCheckPassword applies Quay's password rule: at least 8 characters, no whitespace.
func acctCheckPassword(pw string) error {
	if len(pw) < 8 || strings.ContainsAny(pw, " \t\r\n\v\f") {
		return badRequest("Invalid password, password must be at least 8 characters and contain no whitespace.")
	}
	if len(pw) > 72 {
		return badRequest("Invalid password, password must be at most 72 bytes.")
	}
	return nil
}

// acctCheckNewUser validates a sign-up body.
func (a *API) acctCheckNewUser(c *Call, req acctNewUserRequest) error {
	if req.Username == "" || req.Password == "" {
		return badRequest("username and password are required")
	}
	if err := auth.ValidUsername(req.Username); err != nil {
		return badRequest(err.Error())
	}
	if err := acctCheckPassword(req.Password); err != nil {
		return err
	}
	if req.Email != "" && !acctValidEmail(req.Email) {
		return badRequest("Invalid email address")
	}
	if _, err := a.store.NamespaceID(c.R.Context(), req.Username); err == nil {
		return badRequest("The username already exists")
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if req.Email != "" {
		if _, err := a.store.UserByEmail(c.R.Context(), req.Email); err == nil {
			return badRequest("E-mail address already used")
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

func (a *API) createNewUser(c *Call) (any, error) {
	if a.auth.Options().AuthenticationType != auth.AuthDatabase {
		return nil, fail(http.StatusNotFound, "not_found", "users are created by the "+a.auth.Options().AuthenticationType+" login source, not here")
	}
	if !a.opts.UserCreation && !c.Superuser() {
		return nil, forbidden("user creation is disabled (FEATURE_USER_CREATION)")
	}
	var req acctNewUserRequest
	if err := c.Decode(&req); err != nil {
		return nil, err
	}
	if err := a.acctCheckNewUser(c, req); err != nil {
		return nil, err
	}
	u, err := auth.CreateUser(c.R.Context(), a.store, req.Username, req.Password, req.Email, false)
	if err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil, badRequest("The username already exists")
		}
		return nil, fmt.Errorf("create user: %w", err)
	}
	if err := c.Log("user_create", u.Name, u.ID, "", 0, map[string]any{"email": req.Email, "username": u.Name}); err != nil {
		return nil, err
	}
	return a.acctUserView(c, u)
}

type acctChangeUserRequest struct {
	Password *string `json:"password"`
	Email    *string `json:"email"`
}

func (a *API) changeUserDetails(c *Call) (any, error) {
	me, err := acctMe(c)
	if err != nil {
		return nil, err
	}
	ctx := c.R.Context()
	var req acctChangeUserRequest
	if err := c.Decode(&req); err != nil {
		return nil, err
	}
	if req.Password != nil {
		if a.auth.Options().AuthenticationType != auth.AuthDatabase || me.LoginSource != "database" {
			return nil, badRequest("the password is managed by the " + a.auth.Options().AuthenticationType + " login source and cannot be changed here")
		}
		if err := acctCheckPassword(*req.Password); err != nil {
			return nil, err
		}
	}
	if req.Email != nil && *req.Email != me.Email {
		if *req.Email != "" && !acctValidEmail(*req.Email) {
			return nil, badRequest("Invalid email address")
		}
		if other, err := a.store.UserByEmail(ctx, *req.Email); err == nil && other.ID != me.ID && *req.Email != "" {
			return nil, badRequest("E-mail address already used")
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	var newCSRF string
	if req.Password != nil {
		hash, err := auth.HashPassword(*req.Password)
		if err != nil {
			return nil, badRequest(err.Error())
		}
		if err := a.store.SetPassword(ctx, me.ID, hash); err != nil {
			return nil, fmt.Errorf("change password: %w", err)
		}
		// A new password signs every browser session out; the caller's own session, if it
		// used one, is replaced by a fresh one.
		if err := a.store.DeleteUserSessions(ctx, me.ID); err != nil {
			return nil, err
		}
		a.auth.Forget()
		if c.ID.Via == "session" {
			if newCSRF, err = a.auth.StartSession(ctx, c.W, c.R, me); err != nil {
				return nil, fmt.Errorf("renew session: %w", err)
			}
		}
		if err := c.Log("account_change_password", me.Name, me.ID, "", 0, nil); err != nil {
			return nil, err
		}
	}
	if req.Email != nil && *req.Email != me.Email {
		old := me.Email
		acc, err := a.store.AccountByID(ctx, me.ID)
		if err != nil {
			return nil, err
		}
		acc.Email = *req.Email
		if err := a.store.UpdateAccount(ctx, acc); err != nil {
			return nil, fmt.Errorf("change email: %w", err)
		}
		me.Email = acc.Email
		a.auth.Forget()
		if err := c.Log("user_change_email", me.Name, me.ID, "", 0, map[string]any{"email": me.Email, "old_email": old}); err != nil {
			return nil, err
		}
	}
	view, err := a.acctUserView(c, me)
	if err != nil {
		return nil, err
	}
	if newCSRF != "" {
		view["csrf_token"] = newCSRF
	}
	return view, nil
}

type acctInitializeRequest struct {
	acctNewUserRequest
	AccessToken bool `json:"access_token"`
}

func (a *API) initializeUser(c *Call) (any, error) {
	ctx := c.R.Context()
	if !a.opts.UserInitialize {
		return nil, badRequest("Cannot initialize user, FEATURE_USER_INITIALIZE is False")
	}
	if a.auth.Options().AuthenticationType != auth.AuthDatabase {
		return nil, badRequest("Cannot initialize user in a non-database auth system")
	}
	n, err := a.store.CountUsers(ctx)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, badRequest("Cannot initialize user in a non-empty database")
	}
	var req acctInitializeRequest
	if err := c.Decode(&req); err != nil {
		return nil, err
	}
	if err := a.acctCheckNewUser(c, req.acctNewUserRequest); err != nil {
		return nil, err
	}
	hash, err := auth.HashPassword(req.Password)
	if err != nil {
		return nil, badRequest(err.Error())
	}
	created, err := a.store.CreateFirstUser(ctx, store.User{Name: req.Username, Email: req.Email, PasswordHash: hash})
	if err != nil {
		return nil, err
	}
	if !created {
		return nil, badRequest("Cannot initialize user in a non-empty database")
	}
	u, err := a.store.UserByName(ctx, req.Username)
	if err != nil {
		return nil, fmt.Errorf("initialize user: %w", err)
	}
	if err := c.Log("user_create", u.Name, u.ID, "", 0, map[string]any{"email": req.Email, "username": u.Name, "initialize": true}); err != nil {
		return nil, err
	}
	key, err := a.auth.EncryptPassword(ctx, u, req.Password)
	if err != nil {
		return nil, fmt.Errorf("initialize user: %w", err)
	}
	out := map[string]any{"username": u.Name, "email": req.Email, "encrypted_password": key}
	if req.AccessToken {
		// Every scope, as Quay grants; super:user only when the user is a superuser (listed
		// in SUPER_USERS), since a token cannot carry more than its user has.
		var scopes []string
		for _, s := range auth.AllScopes {
			if s.Scope == auth.ScopeSuperUser && !a.auth.Superuser(auth.Identity{User: &u}) {
				continue
			}
			scopes = append(scopes, s.Scope)
		}
		tok, err := a.auth.IssueOAuthToken(ctx, u, 0, scopes)
		if err != nil {
			return nil, fmt.Errorf("initialize user: %w", err)
		}
		out["access_token"] = tok
	}
	return out, nil
}

// acctAppTokensEnabled refuses the app token endpoints when FEATURE_APP_SPECIFIC_TOKENS is off.
func (a *API) acctAppTokensEnabled() error {
	if !a.auth.Options().AppTokens {
		return fail(http.StatusNotFound, "not_found", "app-specific tokens are disabled (FEATURE_APP_SPECIFIC_TOKENS)")
	}
	return nil
}

func acctAppTokenView(t store.AppToken, code string) map[string]any {
	v := map[string]any{
		"uuid":          t.UUID,
		"title":         t.Title,
		"last_accessed": acctDate(t.LastAccessed),
		"created":       acctDate(t.CreatedAt),
		"expiration":    acctDate(t.ExpiresAt),
	}
	if code != "" {
		v["token_code"] = code
	}
	return v
}

func (a *API) listAppTokens(c *Call) (any, error) {
	if err := a.acctAppTokensEnabled(); err != nil {
		return nil, err
	}
	me, err := acctMe(c)
	if err != nil {
		return nil, err
	}
	tokens, err := a.store.AppTokens(c.R.Context(), me.ID)
	if err != nil {
		return nil, err
	}
	var expiring any
	soon := time.Time{}
	if c.Query("expiring") != "" {
		e := acctTruthy(c.Query("expiring"), false)
		expiring = e
		if e {
			// Quay's window: a tenth of the default four-week token lifetime.
			soon = a.store.Now().Add(28 * 24 * time.Hour / 10)
		}
	}
	views := []map[string]any{}
	for _, t := range tokens {
		if !soon.IsZero() && (t.ExpiresAt.IsZero() || t.ExpiresAt.After(soon)) {
			continue
		}
		views = append(views, acctAppTokenView(t, ""))
	}
	return map[string]any{"tokens": views, "only_expiring": expiring}, nil
}

type acctNewAppTokenRequest struct {
	Title string `json:"title"`
}

func (a *API) createAppToken(c *Call) (any, error) {
	if err := a.acctAppTokensEnabled(); err != nil {
		return nil, err
	}
	me, err := acctMe(c)
	if err != nil {
		return nil, err
	}
	var req acctNewAppTokenRequest
	if err := c.Decode(&req); err != nil {
		return nil, err
	}
	req.Title = strings.TrimSpace(req.Title)
	if req.Title == "" || len(req.Title) > 255 {
		return nil, badRequest("title is required (at most 255 characters)")
	}
	t, secret, err := a.auth.CreateAppToken(c.R.Context(), me, req.Title, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("create app token: %w", err)
	}
	if err := c.Log("create_app_specific_token", me.Name, me.ID, "", 0,
		map[string]any{"app_specific_token_title": t.Title, "app_specific_token": t.UUID}); err != nil {
		return nil, err
	}
	return map[string]any{"token": acctAppTokenView(t, secret)}, nil
}

func (a *API) getAppToken(c *Call) (any, error) {
	if err := a.acctAppTokensEnabled(); err != nil {
		return nil, err
	}
	me, err := acctMe(c)
	if err != nil {
		return nil, err
	}
	t, err := a.store.AppToken(c.R.Context(), me.ID, c.Param("token_uuid"))
	if err != nil {
		return nil, acctStoreErr(err, "app token")
	}
	// Only the hash of the secret is stored, so token_code cannot be shown again.
	return map[string]any{"token": acctAppTokenView(t, "")}, nil
}

func (a *API) revokeAppToken(c *Call) (any, error) {
	if err := a.acctAppTokensEnabled(); err != nil {
		return nil, err
	}
	me, err := acctMe(c)
	if err != nil {
		return nil, err
	}
	ctx := c.R.Context()
	t, err := a.store.AppToken(ctx, me.ID, c.Param("token_uuid"))
	if err != nil {
		return nil, acctStoreErr(err, "app token")
	}
	if err := a.store.DeleteAppToken(ctx, t.ID); err != nil {
		return nil, acctStoreErr(err, "app token")
	}
	a.auth.Forget()
	if err := c.Log("revoke_app_specific_token", me.Name, me.ID, "", 0,
		map[string]any{"app_specific_token_title": t.Title, "app_specific_token": t.UUID}); err != nil {
		return nil, err
	}
	return nil, nil
}

type acctClientKeyRequest struct {
	Password string `json:"password"`
}

func (a *API) generateUserClientKey(c *Call) (any, error) {
	me, err := acctMe(c)
	if err != nil {
		return nil, err
	}
	if a.auth.Options().AuthenticationType == auth.AuthOIDC {
		return nil, fail(http.StatusNotFound, "not_found", "encrypted passwords are not supported with OIDC login")
	}
	var req acctClientKeyRequest
	if err := c.Decode(&req); err != nil {
		return nil, err
	}
	if req.Password == "" {
		return nil, badRequest("password is required")
	}
	key, err := a.auth.EncryptPassword(c.R.Context(), me, req.Password)
	if err != nil {
		if errors.Is(err, auth.ErrBadCredentials) || errors.Is(err, auth.ErrEncryptedPasswordRequired) {
			return nil, badRequest("Invalid password")
		}
		return nil, fmt.Errorf("client key: %w", err)
	}
	if err := c.Log("user_generate_client_key", me.Name, me.ID, "", 0, nil); err != nil {
		return nil, err
	}
	return map[string]any{"key": key}, nil
}

// acctLimit parses a limit query parameter (0: none).
func acctLimit(c *Call) (int, error) {
	v := c.Query("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badRequest("limit must be a non-negative integer")
	}
	return n, nil
}
