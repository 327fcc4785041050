package ui

import (
	"errors"
	"net/http"
	"net/url"
	"sort"

	"github.com/wharf-registry/wharf/registry/api"
)

// Owned by the organizations area: organizations, members, teams, robots (also the user's
// own, shown in settings, in robots.go), default permissions, OAuth applications and
// organization logs. The tabs are in org_tabs.go, teams in org_teams.go.

func (u *UI) orgRoutes() {
	u.handle("GET /organization", func(q *request) error {
		http.Redirect(q.w, q.r, "/organization/", http.StatusMovedPermanently)
		return nil
	})
	u.handle("GET /organization/{$}", u.orgList)
	u.handle("GET /organization/new", u.orgNewPage)
	u.handle("POST /organization/new", u.orgCreate)
	u.handle("GET /organization/{org}", u.orgPage)
	u.handle("POST /organization/{org}", u.orgPost)
	u.handle("GET /organization/{org}/teams/{team}", u.orgTeamPage)
	u.handle("POST /organization/{org}/teams/{team}", u.orgTeamPost)
}

// orgInfo is an organization as the API shows it to the viewer.
type orgInfo struct {
	Name         string              `json:"name"`
	Email        string              `json:"email"`
	IsAdmin      bool                `json:"is_admin"`
	IsMember     bool                `json:"is_member"`
	Avatar       Avatar              `json:"avatar"`
	Teams        map[string]teamInfo `json:"teams"`
	OrderedTeams []string            `json:"ordered_teams"`
	// URL is the organization's page.
	URL string `json:"-"`
}

// teamInfo is a team as the organization lists it.
type teamInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Role        string `json:"role"`
	CanView     bool   `json:"can_view"`
	RepoCount   int    `json:"repo_count"`
	MemberCount int    `json:"member_count"`
	IsSynced    bool   `json:"is_synced"`
}

// teamList is the organization's teams in order.
func (o *orgInfo) teamList() []teamInfo {
	names := o.OrderedTeams
	if len(names) == 0 {
		for n := range o.Teams {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	out := make([]teamInfo, 0, len(names))
	for _, n := range names {
		if t, ok := o.Teams[n]; ok {
			out = append(out, t)
		}
	}
	return out
}

// orgAPI is the API path of an organization.
func orgAPI(org string) string { return "/api/v1/organization/" + url.PathEscape(org) }

// orgURL is the page of an organization, at a tab.
func orgURL(org, tab string) string {
	p := "/organization/" + url.PathEscape(org)
	if tab != "" {
		p += "?tab=" + tab
	}
	return p
}

// loadOrg reads the organization named in the path. One the viewer is not a member of is
// not found, whether it exists or not; anonymous visitors are sent to sign in.
func (q *request) loadOrg() (*orgInfo, error) {
	if !q.signedIn() {
		return nil, &api.Error{Status: http.StatusUnauthorized, ErrorMessage: "Sign in to see organizations."}
	}
	name := q.r.PathValue("org")
	if !uiName.MatchString(name) {
		return nil, notFound("This organization")
	}
	var o orgInfo
	err := q.get(orgAPI(name), nil, &o)
	var e *api.Error
	if errors.As(err, &e) && e.Status >= 400 && e.Status < 500 {
		return nil, notFound("This organization")
	}
	if err != nil {
		return nil, err
	}
	if !o.IsMember && !o.IsAdmin {
		return nil, notFound("This organization")
	}
	o.URL = orgURL(o.Name, "")
	return &o, nil
}

// orgListData is what org_list.html shows.
type orgListData struct {
	Orgs []orgListEntry
}

type orgListEntry struct {
	Name          string
	IsOrgAdmin    bool
	CanCreateRepo bool
	Avatar        Avatar
}

func (u *UI) orgList(q *request) error {
	me, err := q.settingsUser()
	if err != nil {
		return err
	}
	d := &orgListData{}
	for _, o := range me.Organizations {
		d.Orgs = append(d.Orgs, orgListEntry{Name: o.Name, IsOrgAdmin: o.IsOrgAdmin, CanCreateRepo: o.CanCreateRepo, Avatar: o.Avatar})
	}
	sort.Slice(d.Orgs, func(i, j int) bool { return d.Orgs[i].Name < d.Orgs[j].Name })
	return q.render(http.StatusOK, "org_list", "Organizations", "organizations", d)
}

func (u *UI) orgNewPage(q *request) error {
	me, err := q.settingsUser()
	if err != nil {
		return err
	}
	return q.render(http.StatusOK, "org_new", "New organization", "organizations", map[string]string{"Email": me.Email})
}

func (u *UI) orgCreate(q *request) error {
	if _, err := q.settingsUser(); err != nil {
		return err
	}
	name := q.form("name")
	body := map[string]string{"name": name, "email": q.form("email")}
	if err := q.call(http.MethodPost, "/api/v1/organization/", nil, body, nil); err != nil {
		return q.back("/organization/new", err)
	}
	return q.redirect(orgURL(name, "teams"), "ok", "Organization "+name+" was created; you administer it as a member of its owners team.")
}

// orgTab is a tab of an organization's page; Admin tabs are shown to its administrators
// only.
type orgTab struct {
	Name, Label string
	Admin       bool
}

var orgTabs = []orgTab{
	{"repos", "Repositories", false},
	{"teams", "Teams", false},
	{"members", "Members", true},
	{"robots", "Robot accounts", true},
	{"defaultperms", "Default permissions", true},
	{"applications", "OAuth applications", true},
	{"logs", "Usage logs", true},
	{"settings", "Settings", true},
}

// orgPageData is what org_page.html shows.
type orgPageData struct {
	Org  *orgInfo
	Tab  string
	Tabs []orgTab
	// One of these, by tab.
	Repos   []orgRepo
	Teams   []teamInfo
	Members []orgMember
	Robots  *RobotsView
	Protos  []orgProto
	Apps    []orgApp
	Logs    *LogsView
	LogsOff string
	Roles   []string
}

func (u *UI) orgPage(q *request) error {
	o, err := q.loadOrg()
	if err != nil {
		return err
	}
	d := &orgPageData{Org: o, Tab: q.r.URL.Query().Get("tab")}
	if d.Tab == "" {
		d.Tab = "repos"
	}
	found := false
	for _, t := range orgTabs {
		if t.Admin && !o.IsAdmin {
			continue
		}
		d.Tabs = append(d.Tabs, t)
		found = found || t.Name == d.Tab
	}
	if !found {
		return notFound("This tab")
	}
	if err := q.orgTabData(d); err != nil {
		return err
	}
	return q.render(http.StatusOK, "org_page", o.Name, "organizations", d)
}

// orgPost runs a form posted to an organization's page: its op says what to do. Only the
// organization's administrators change it.
func (u *UI) orgPost(q *request) error {
	o, err := q.loadOrg()
	if err != nil {
		return err
	}
	if !o.IsAdmin {
		return &api.Error{Status: http.StatusForbidden, ErrorMessage: "Only the administrators of " + o.Name + " may change it."}
	}
	op := q.form("op")
	if done, err := q.robotPost(o.Name, true, orgURL(o.Name, "robots"), op); done || err != nil {
		return err
	}
	if h, ok := orgOps[op]; ok {
		return h(q, o)
	}
	return &api.Error{Status: http.StatusBadRequest, ErrorMessage: "This form does not say what to do (op " + op + ")."}
}
