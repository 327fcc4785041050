package ui

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/wharf-registry/wharf/registry/api"
)

// The superuser panel (/superuser/): users, organizations, the registry's size and counts,
// global messages and the logs of the whole registry. Anyone but a superuser gets the
// not-found page, so the panel's existence tells nothing.

// superuserTabs are the tabs of /superuser/, in order.
var superuserTabs = []settingsTab{
	{"users", "Users"},
	{"organizations", "Organizations"},
	{"registry", "Registry"},
	{"messages", "Messages"},
	{"logs", "Usage logs"},
}

// suUser is a user as the superuser API lists it.
type suUser struct {
	Username  string `json:"username"`
	Email     string `json:"email"`
	Enabled   bool   `json:"enabled"`
	SuperUser bool   `json:"super_user"`
	Avatar    Avatar `json:"avatar"`
}

// suOrg is an organization as the superuser API lists it.
type suOrg struct {
	Name   string `json:"name"`
	Email  string `json:"email"`
	Avatar Avatar `json:"avatar"`
}

// suCounts is the registry's size and counts.
type suCounts struct {
	SizeBytes     int64 `json:"size_bytes"`
	LastRan       int64 `json:"last_ran"`
	Users         int64 `json:"users"`
	Organizations int64 `json:"organizations"`
	Robots        int64 `json:"robots"`
	Repositories  int64 `json:"repositories"`
	Tags          int64 `json:"tags"`
	Manifests     int64 `json:"manifests"`
	Blobs         int64 `json:"blobs"`
}

// suCreated is a user just created, with the password the API generated (shown once).
type suCreated struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// superuserData is what superuser.html shows.
type superuserData struct {
	Tab           string
	Tabs          []settingsTab
	Me            string
	Users         []suUser
	Organizations []suOrg
	Counts        *suCounts
	Messages      []Message
	Logs          *LogsView
	LogsOff       string
	Created       *suCreated
	// Database is set when the registry keeps passwords itself (users can be created here).
	Database bool
}

// suBase is the panel's path for a tab.
func suBase(tab string) string { return "/superuser/?tab=" + tab }

// superuserOnly refuses anyone but a superuser with the not-found page.
func (q *request) superuserOnly() error {
	if !q.superuser() {
		return notFound("This page")
	}
	return nil
}

func (u *UI) superuserPage(q *request) error {
	if err := q.superuserOnly(); err != nil {
		return err
	}
	d := &superuserData{Tab: pickSettingsTab(superuserTabs, q.r.URL.Query().Get("tab")), Tabs: superuserTabs}
	if d.Tab == "" {
		return notFound("This tab")
	}
	return u.superuserRender(q, d)
}

// superuserRender reads the tab's data and renders the panel.
func (u *UI) superuserRender(q *request, d *superuserData) error {
	d.Me = q.ID.Name()
	d.Database = u.settingsDatabase()
	var err error
	switch d.Tab {
	case "users":
		var out struct {
			Users []suUser `json:"users"`
		}
		err = q.get("/api/v1/superuser/users/", nil, &out)
		d.Users = out.Users
	case "organizations":
		var out struct {
			Organizations []suOrg `json:"organizations"`
		}
		err = q.get("/api/v1/superuser/organizations/", nil, &out)
		d.Organizations = out.Organizations
	case "registry":
		d.Counts, err = q.superuserCounts()
	case "messages":
		d.Messages, err = q.superuserMessages()
	case "logs":
		d.Logs, d.LogsOff, err = q.settingsLogs("/api/v1/superuser")
	}
	if err != nil {
		return err
	}
	return q.render(http.StatusOK, "superuser", "Superuser panel", "superuser", d)
}

// superuserCounts reads the registry's size and counts.
func (q *request) superuserCounts() (*suCounts, error) {
	var c suCounts
	if err := q.get("/api/v1/superuser/counts", nil, &c); err != nil {
		return nil, err
	}
	var size struct {
		SizeBytes int64 `json:"size_bytes"`
		LastRan   int64 `json:"last_ran"`
	}
	if err := q.get("/api/v1/superuser/registrysize/", nil, &size); err != nil {
		return nil, err
	}
	c.SizeBytes, c.LastRan = size.SizeBytes, size.LastRan/1000
	return &c, nil
}

// superuserMessages lists the global messages as posted (not escaped for the layout).
func (q *request) superuserMessages() ([]Message, error) {
	var out struct {
		Messages []Message `json:"messages"`
	}
	if err := q.get("/api/v1/messages", nil, &out); err != nil {
		return nil, err
	}
	for i, m := range out.Messages {
		out.Messages[i].Severity = messageSeverity(m.Severity)
	}
	return out.Messages, nil
}

// superuserPost runs the panel's forms: each names its op.
func (u *UI) superuserPost(q *request) error {
	if err := q.superuserOnly(); err != nil {
		return err
	}
	op := q.form("op")
	switch {
	case op == "user.create":
		return u.superuserCreateUser(q)
	case strings.HasPrefix(op, "user."):
		return u.superuserUserOp(q, strings.TrimPrefix(op, "user."))
	case strings.HasPrefix(op, "org."):
		return u.superuserOrgOp(q, strings.TrimPrefix(op, "org."))
	case op == "message.create":
		return u.superuserMessageCreate(q)
	case op == "message.delete":
		return u.superuserMessageDelete(q)
	}
	return &api.Error{Status: http.StatusBadRequest, ErrorMessage: "This form does not say what to do (op " + op + ")."}
}

// superuserCreateUser creates a user and shows the generated password once, in the answer
// to the POST.
func (u *UI) superuserCreateUser(q *request) error {
	var c suCreated
	body := map[string]string{"username": q.form("username"), "email": q.form("email")}
	if err := q.call(http.MethodPost, "/api/v1/superuser/users/", nil, body, &c); err != nil {
		return q.back(suBase("users"), err)
	}
	q.flashNow(&Flash{Kind: "ok", Message: "User " + c.Username + " was created."})
	return u.superuserRender(q, &superuserData{Tab: "users", Tabs: superuserTabs, Created: &c})
}

// suName checks a user or organization name from a form before it goes into an API path.
func suName(name string) bool {
	return name != "" && !strings.ContainsAny(name, "/?#%\\") && name != "." && name != ".."
}

// superuserUserOp changes a user: enable, disable, email, password, delete.
func (u *UI) superuserUserOp(q *request, op string) error {
	back := suBase("users")
	name := q.form("username")
	if !suName(name) {
		return q.redirect(back, "error", "No user was named.")
	}
	path := "/api/v1/superuser/users/" + url.PathEscape(name)
	var body any
	var done string
	method := http.MethodPut
	switch op {
	case "enable", "disable":
		body, done = map[string]bool{"enabled": op == "enable"}, "User "+name+" was "+op+"d."
	case "email":
		body, done = map[string]string{"email": q.form("email")}, "The e-mail address of "+name+" was changed."
	case "password":
		if q.r.PostFormValue("password") != q.r.PostFormValue("confirm") {
			return q.redirect(back, "error", "The two passwords differ: nothing was changed.")
		}
		body, done = map[string]string{"password": q.r.PostFormValue("password")}, "The password of "+name+" was changed."
	case "delete":
		if q.form("confirm") != name {
			return q.redirect(back, "error", "To delete "+name+", type the user name exactly: nothing was deleted.")
		}
		method, done = http.MethodDelete, "User "+name+" was deleted."
	default:
		return &api.Error{Status: http.StatusBadRequest, ErrorMessage: "Unknown user operation " + op + "."}
	}
	if err := q.call(method, path, nil, body, nil); err != nil {
		return q.back(back, err)
	}
	return q.redirect(back, "ok", done)
}

// superuserOrgOp takes ownership of or deletes an organization.
func (u *UI) superuserOrgOp(q *request, op string) error {
	back := suBase("organizations")
	name := q.form("name")
	if !suName(name) {
		return q.redirect(back, "error", "No organization was named.")
	}
	var err error
	var done string
	switch op {
	case "takeownership":
		err = q.call(http.MethodPost, "/api/v1/superuser/takeownership/"+url.PathEscape(name), nil, nil, nil)
		done = "You are now an administrator of " + name + "."
	case "delete":
		if q.form("confirm") != name {
			return q.redirect(back, "error", "To delete "+name+", type the organization's name exactly: nothing was deleted.")
		}
		err = q.call(http.MethodDelete, "/api/v1/superuser/organizations/"+url.PathEscape(name), nil, nil, nil)
		done = "Organization " + name + " was deleted."
	default:
		return &api.Error{Status: http.StatusBadRequest, ErrorMessage: "Unknown organization operation " + op + "."}
	}
	if err != nil {
		return q.back(back, err)
	}
	return q.redirect(back, "ok", done)
}

func (u *UI) superuserMessageCreate(q *request) error {
	back := suBase("messages")
	body := map[string]any{"message": map[string]string{"content": q.form("content"), "media_type": "text/markdown", "severity": q.form("severity")}}
	if err := q.call(http.MethodPost, "/api/v1/messages", nil, body, nil); err != nil {
		return q.back(back, err)
	}
	return q.redirect(back, "ok", "The message was posted: every page shows it now.")
}

func (u *UI) superuserMessageDelete(q *request) error {
	back := suBase("messages")
	uuid := q.form("uuid")
	if !suName(uuid) {
		return q.redirect(back, "error", "No message was named.")
	}
	if err := q.call(http.MethodDelete, "/api/v1/message/"+uuid, nil, nil, nil); err != nil {
		return q.back(back, err)
	}
	return q.redirect(back, "ok", "The message was deleted.")
}
