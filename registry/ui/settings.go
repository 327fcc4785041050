package ui

import (
	"errors"
	"net/http"
	"strings"

	"github.com/wharf-registry/wharf/registry/api"
	"github.com/wharf-registry/wharf/registry/auth"
)

// Owned by the settings area: the user's settings (/settings/) and the superuser panel
// (/superuser/, in superuser.go).

func (u *UI) settingsRoutes() {
	u.handle("GET /settings", func(q *request) error {
		http.Redirect(q.w, q.r, "/settings/", http.StatusMovedPermanently)
		return nil
	})
	u.handle("GET /settings/{$}", u.settingsPage)
	u.handle("POST /settings/{$}", u.settingsPost)
}

func (u *UI) superuserRoutes() {
	u.handle("GET /superuser", func(q *request) error {
		if !q.superuser() {
			return notFound("This page")
		}
		http.Redirect(q.w, q.r, "/superuser/", http.StatusMovedPermanently)
		return nil
	})
	u.handle("GET /superuser/{$}", u.superuserPage)
	u.handle("POST /superuser/{$}", u.superuserPost)
}

// settingsTab is a tab of a page with tabs.
type settingsTab struct {
	Name, Label string
}

// settingsTabs are the tabs of /settings/, in order.
var settingsTabs = []settingsTab{
	{"account", "Account"},
	{"tokens", "App tokens"},
	{"cli", "CLI password"},
	{"robots", "Robot accounts"},
	{"logs", "Usage logs"},
}

// pickSettingsTab returns the tab name asks for, the first tab when name is empty, or ""
// when there is no such tab.
func pickSettingsTab(tabs []settingsTab, name string) string {
	if name == "" {
		return tabs[0].Name
	}
	for _, t := range tabs {
		if t.Name == name {
			return name
		}
	}
	return ""
}

// appToken is an app-specific token as the API lists it.
type appToken struct {
	UUID         string `json:"uuid"`
	Title        string `json:"title"`
	Created      any    `json:"created"`
	LastAccessed any    `json:"last_accessed"`
	Expiration   any    `json:"expiration"`
	TokenCode    string `json:"token_code"`
}

// settingsData is what settings.html shows.
type settingsData struct {
	Tab  string
	Tabs []settingsTab
	// Database is set when passwords are the registry's own (AUTHENTICATION_TYPE Database).
	Database bool
	// OIDC is set when users sign in with OIDC (no CLI password then).
	OIDC bool
	// Tokens are the user's app tokens; TokensOff says why there are none to show.
	Tokens    []appToken
	TokensOff string
	// NewToken is a token just created (shown once); ClientKey a CLI password just made.
	NewToken  *appToken
	ClientKey string
	Robots    *RobotsView
	Logs      *LogsView
	LogsOff   string
}

// settingsUser is the signed-in user; an anonymous visitor is sent to sign in.
func (q *request) settingsUser() (*Me, error) {
	me, err := q.viewer()
	if err != nil {
		return nil, err
	}
	if me == nil {
		return nil, &api.Error{Status: http.StatusUnauthorized, ErrorMessage: "Sign in to see your settings."}
	}
	return me, nil
}

func (u *UI) settingsPage(q *request) error {
	me, err := q.settingsUser()
	if err != nil {
		return err
	}
	d := &settingsData{Tab: pickSettingsTab(settingsTabs, q.r.URL.Query().Get("tab")), Tabs: settingsTabs}
	if d.Tab == "" {
		return notFound("This tab")
	}
	return u.settingsRender(q, me, d)
}

// settingsRender fills the tab's data and renders the page.
func (u *UI) settingsRender(q *request, me *Me, d *settingsData) error {
	d.Database = u.settingsDatabase()
	d.OIDC = u.opts.AuthenticationType == auth.AuthOIDC
	var err error
	switch d.Tab {
	case "tokens":
		err = q.settingsTokens(d)
	case "robots":
		d.Robots, err = q.robotsView(me.Username, false, "/settings/?tab=robots")
	case "logs":
		d.Logs, d.LogsOff, err = q.settingsLogs("/api/v1/user")
	}
	if err != nil {
		return err
	}
	return q.render(http.StatusOK, "settings", "Settings", "settings", d)
}

// settingsTokens lists the user's app tokens; when the feature is off it says so.
func (q *request) settingsTokens(d *settingsData) error {
	var out struct {
		Tokens []appToken `json:"tokens"`
	}
	err := q.get("/api/v1/user/apptoken", nil, &out)
	if msg, ok := settingsRefusal(err); ok {
		d.TokensOff = msg
		return nil
	}
	d.Tokens = out.Tokens
	return err
}

// settingsLogs reads a page of logs, or the reason the API refuses them.
func (q *request) settingsLogs(apiBase string) (*LogsView, string, error) {
	logs, err := q.logsView(apiBase)
	if msg, ok := settingsRefusal(err); ok {
		return nil, msg, nil
	}
	return logs, "", err
}

// settingsDatabase reports whether the registry keeps passwords itself (AUTHENTICATION_TYPE
// Database).
func (u *UI) settingsDatabase() bool {
	return u.opts.AuthenticationType == auth.AuthDatabase || u.opts.AuthenticationType == ""
}

// settingsRefusal returns the message of an API refusal (a 4xx answer).
func settingsRefusal(err error) (string, bool) {
	var e *api.Error
	if errors.As(err, &e) && e.Status >= 400 && e.Status < 500 {
		return e.ErrorMessage, true
	}
	return "", false
}

// settingsPost runs the forms of /settings/: each names its op.
func (u *UI) settingsPost(q *request) error {
	me, err := q.settingsUser()
	if err != nil {
		return err
	}
	op := q.form("op")
	if strings.HasPrefix(op, "robot.") {
		if done, err := q.robotPost(me.Username, false, "/settings/?tab=robots", op); done || err != nil {
			return err
		}
	}
	switch op {
	case "email":
		return u.settingsEmail(q)
	case "password":
		return u.settingsPassword(q)
	case "token.create":
		return u.settingsTokenCreate(q, me)
	case "token.revoke":
		return u.settingsTokenRevoke(q)
	case "clientkey":
		return u.settingsClientKey(q, me)
	}
	return &api.Error{Status: http.StatusBadRequest, ErrorMessage: "This form does not say what to do (op " + op + ")."}
}

func (u *UI) settingsEmail(q *request) error {
	const back = "/settings/?tab=account"
	email := q.form("email")
	if err := q.call(http.MethodPut, "/api/v1/user/", nil, map[string]string{"email": email}, nil); err != nil {
		return q.back(back, err)
	}
	return q.redirect(back, "ok", "Your e-mail address is now "+email+".")
}

// settingsPassword changes the password. The API signs every session out, so the browser is
// given a new one.
func (u *UI) settingsPassword(q *request) error {
	const back = "/settings/?tab=account"
	password := q.r.PostFormValue("password")
	if password != q.r.PostFormValue("confirm") {
		return q.redirect(back, "error", "The two passwords differ: nothing was changed.")
	}
	if err := q.call(http.MethodPut, "/api/v1/user/", nil, map[string]string{"password": password}, nil); err != nil {
		return q.back(back, err)
	}
	if q.ID.User != nil {
		if _, err := u.auth.StartSession(q.r.Context(), q.w, q.r, *q.ID.User); err != nil {
			return err
		}
	}
	return q.redirect(back, "ok", "Your password was changed; other sessions were signed out.")
}

// settingsTokenCreate creates an app token and shows it at once, in the answer to the POST:
// the secret never travels in a URL or a cookie.
func (u *UI) settingsTokenCreate(q *request, me *Me) error {
	var out struct {
		Token appToken `json:"token"`
	}
	if err := q.call(http.MethodPost, "/api/v1/user/apptoken", nil, map[string]string{"title": q.form("title")}, &out); err != nil {
		return q.back("/settings/?tab=tokens", err)
	}
	q.flashNow(&Flash{Kind: "ok", Message: "Token " + out.Token.Title + " was created. Copy it now: it is not shown again."})
	return u.settingsRender(q, me, &settingsData{Tab: "tokens", Tabs: settingsTabs, NewToken: &out.Token})
}

func (u *UI) settingsTokenRevoke(q *request) error {
	const back = "/settings/?tab=tokens"
	uuid := q.form("uuid")
	if uuid == "" || strings.ContainsAny(uuid, "/?#") {
		return q.redirect(back, "error", "No token was named.")
	}
	if err := q.call(http.MethodDelete, "/api/v1/user/apptoken/"+uuid, nil, nil, nil); err != nil {
		return q.back(back, err)
	}
	return q.redirect(back, "ok", "The token was revoked.")
}

// settingsClientKey makes the encrypted CLI password and shows it once, in the answer to
// the POST.
func (u *UI) settingsClientKey(q *request, me *Me) error {
	var out struct {
		Key string `json:"key"`
	}
	if err := q.call(http.MethodPost, "/api/v1/user/clientkey", nil, map[string]string{"password": q.r.PostFormValue("password")}, &out); err != nil {
		return q.back("/settings/?tab=cli", err)
	}
	q.flashNow(&Flash{Kind: "ok", Message: "Your encrypted password was made. Copy it now: it is not shown again."})
	return u.settingsRender(q, me, &settingsData{Tab: "cli", Tabs: settingsTabs, ClientKey: out.Key})
}
