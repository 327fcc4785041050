package ui

import (
	"net/http"
	"net/url"
	"strings"
)

// The tabs of an organization's page and the forms they post (ops), but for teams
// (org_teams.go) and robots (robots.go).

// orgRepo is a repository of the organization.
type orgRepo struct {
	Namespace    string `json:"namespace"`
	Name         string `json:"name"`
	Description  string `json:"description"`
	IsPublic     bool   `json:"is_public"`
	LastModified any    `json:"last_modified"`
}

// orgMember is a person in the organization, with their teams.
type orgMember struct {
	Name         string   `json:"name"`
	Teams        []Named  `json:"teams"`
	Repositories []string `json:"repositories"`
}

// orgProto is a default permission.
type orgProto struct {
	ID             string `json:"id"`
	Role           string `json:"role"`
	ActivatingUser *struct {
		Name string `json:"name"`
	} `json:"activating_user"`
	Delegate struct {
		Name    string `json:"name"`
		Kind    string `json:"kind"`
		IsRobot bool   `json:"is_robot"`
	} `json:"delegate"`
}

// orgApp is an OAuth application of the organization.
type orgApp struct {
	Name           string `json:"name"`
	Description    string `json:"description"`
	ApplicationURI string `json:"application_uri"`
	ClientID       string `json:"client_id"`
	ClientSecret   string `json:"client_secret"`
	RedirectURI    string `json:"redirect_uri"`
}

// repoRoles are the roles on repositories; teamRoles the roles of teams.
var (
	repoRoles = []string{"read", "write", "admin"}
	teamRoles = []string{"member", "creator", "admin"}
)

// orgTabData reads what the page's tab shows.
func (q *request) orgTabData(d *orgPageData) error {
	o := d.Org
	base := orgAPI(o.Name)
	switch d.Tab {
	case "repos":
		var out struct {
			Repositories []orgRepo `json:"repositories"`
		}
		if err := q.get("/api/v1/repository", url.Values{"namespace": {o.Name}, "last_modified": {"true"}}, &out); err != nil {
			return err
		}
		d.Repos = out.Repositories
	case "teams":
		d.Teams = o.teamList()
		d.Roles = teamRoles
	case "members":
		var out struct {
			Members []orgMember `json:"members"`
		}
		if err := q.get(base+"/members", nil, &out); err != nil {
			return err
		}
		d.Members = out.Members
	case "robots":
		v, err := q.robotsView(o.Name, true, orgURL(o.Name, "robots"))
		if err != nil {
			return err
		}
		d.Robots = v
	case "defaultperms":
		var out struct {
			Prototypes []orgProto `json:"prototypes"`
		}
		if err := q.get(base+"/prototypes", nil, &out); err != nil {
			return err
		}
		d.Protos = out.Prototypes
		d.Teams = o.teamList()
		d.Roles = repoRoles
	case "applications":
		var out struct {
			Applications []orgApp `json:"applications"`
		}
		if err := q.get(base+"/applications", nil, &out); err != nil {
			return err
		}
		d.Apps = out.Applications
	case "logs":
		logs, off, err := q.settingsLogs(base)
		if err != nil {
			return err
		}
		d.Logs, d.LogsOff = logs, off
	}
	return nil
}

// orgOps are the forms of an organization's page, by op.
var orgOps = map[string]func(*request, *orgInfo) error{
	"team.create":   orgTeamCreate,
	"team.delete":   orgTeamDelete,
	"member.remove": orgMemberRemove,
	"proto.create":  orgProtoCreate,
	"proto.delete":  orgProtoDelete,
	"app.create":    orgAppCreate,
	"app.reset":     orgAppReset,
	"app.delete":    orgAppDelete,
	"org.email":     orgEmail,
	"org.delete":    orgDelete,
}

func orgMemberRemove(q *request, o *orgInfo) error {
	back := orgURL(o.Name, "members")
	name := q.form("member")
	if !uiName.MatchString(name) {
		return q.redirect(back, "error", "No member was named.")
	}
	if err := q.call(http.MethodDelete, orgAPI(o.Name)+"/members/"+url.PathEscape(name), nil, nil, nil); err != nil {
		return q.back(back, err)
	}
	return q.redirect(back, "ok", name+" was removed from "+o.Name+" and all its teams.")
}

func orgProtoCreate(q *request, o *orgInfo) error {
	back := orgURL(o.Name, "defaultperms")
	kind, name := q.form("delegate_kind"), q.form("delegate")
	if kind != "team" {
		kind = "user"
	}
	body := map[string]any{"role": q.form("role"), "delegate": map[string]string{"name": name, "kind": kind}}
	if a := q.form("activating_user"); a != "" {
		body["activating_user"] = map[string]string{"name": a}
	}
	if err := q.call(http.MethodPost, orgAPI(o.Name)+"/prototypes", nil, body, nil); err != nil {
		return q.back(back, err)
	}
	return q.redirect(back, "ok", "New repositories of "+o.Name+" will give "+name+" the "+q.form("role")+" role.")
}

func orgProtoDelete(q *request, o *orgInfo) error {
	back := orgURL(o.Name, "defaultperms")
	id := q.form("id")
	if id == "" || strings.ContainsAny(id, "/?#") {
		return q.redirect(back, "error", "No default permission was named.")
	}
	if err := q.call(http.MethodDelete, orgAPI(o.Name)+"/prototypes/"+url.PathEscape(id), nil, nil, nil); err != nil {
		return q.back(back, err)
	}
	return q.redirect(back, "ok", "The default permission was deleted.")
}

func orgAppCreate(q *request, o *orgInfo) error {
	back := orgURL(o.Name, "applications")
	body := map[string]string{"name": q.form("name"), "redirect_uri": q.form("redirect_uri"),
		"application_uri": q.form("application_uri"), "description": q.form("description")}
	if err := q.call(http.MethodPost, orgAPI(o.Name)+"/applications", nil, body, nil); err != nil {
		return q.back(back, err)
	}
	return q.redirect(back, "ok", "Application "+body["name"]+" was created.")
}

// orgAppPath is the API path of the application the form names.
func orgAppPath(q *request, o *orgInfo) (string, bool) {
	id := q.form("client_id")
	if id == "" || strings.ContainsAny(id, "/?#") {
		return "", false
	}
	return orgAPI(o.Name) + "/applications/" + url.PathEscape(id), true
}

func orgAppReset(q *request, o *orgInfo) error {
	back := orgURL(o.Name, "applications")
	p, ok := orgAppPath(q, o)
	if !ok {
		return q.redirect(back, "error", "No application was named.")
	}
	if err := q.call(http.MethodPost, p+"/resetclientsecret", nil, nil, nil); err != nil {
		return q.back(back, err)
	}
	return q.redirect(back, "ok", "The application has a new client secret: the old one no longer works.")
}

func orgAppDelete(q *request, o *orgInfo) error {
	back := orgURL(o.Name, "applications")
	p, ok := orgAppPath(q, o)
	if !ok {
		return q.redirect(back, "error", "No application was named.")
	}
	if err := q.call(http.MethodDelete, p, nil, nil, nil); err != nil {
		return q.back(back, err)
	}
	return q.redirect(back, "ok", "The application was deleted; its tokens no longer work.")
}

func orgEmail(q *request, o *orgInfo) error {
	back := orgURL(o.Name, "settings")
	email := q.form("email")
	if err := q.call(http.MethodPut, orgAPI(o.Name), nil, map[string]string{"email": email}, nil); err != nil {
		return q.back(back, err)
	}
	return q.redirect(back, "ok", "The e-mail address of "+o.Name+" is now "+email+".")
}

// orgDelete deletes the organization when its name was typed to confirm.
func orgDelete(q *request, o *orgInfo) error {
	back := orgURL(o.Name, "settings")
	if q.form("confirm") != o.Name {
		return q.redirect(back, "error", "The name typed is not "+o.Name+": nothing was deleted.")
	}
	if err := q.call(http.MethodDelete, orgAPI(o.Name), nil, nil, nil); err != nil {
		return q.back(back, err)
	}
	return q.redirect("/organization/", "ok", "Organization "+o.Name+" was deleted, with its repositories, teams and robots.")
}
