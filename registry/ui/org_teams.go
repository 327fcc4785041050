package ui

import (
	"net/http"
	"net/url"

	"github.com/wharf-registry/wharf/registry/api"
)

// Teams: created and deleted on the organization's teams tab; a team's page changes its
// role and description, its members, and its directory (LDAP) synchronization.

func orgTeamAPI(org, team string) string {
	return orgAPI(org) + "/team/" + url.PathEscape(team)
}

func orgTeamURL(org, team string) string {
	return "/organization/" + url.PathEscape(org) + "/teams/" + url.PathEscape(team)
}

func orgTeamCreate(q *request, o *orgInfo) error {
	back := orgURL(o.Name, "teams")
	name := q.form("name")
	if !uiName.MatchString(name) {
		return q.redirect(back, "error", "A team's name is letters, digits, dots, dashes and underscores, starting with a letter or a digit.")
	}
	if _, exists := o.Teams[name]; exists {
		return q.redirect(back, "error", "Team "+name+" already exists.")
	}
	body := map[string]string{"role": q.form("role"), "description": q.form("description")}
	if err := q.call(http.MethodPut, orgTeamAPI(o.Name, name), nil, body, nil); err != nil {
		return q.back(back, err)
	}
	return q.redirect(orgTeamURL(o.Name, name), "ok", "Team "+name+" was created.")
}

func orgTeamDelete(q *request, o *orgInfo) error {
	back := orgURL(o.Name, "teams")
	name := q.form("team")
	if !uiName.MatchString(name) {
		return q.redirect(back, "error", "No team was named.")
	}
	if err := q.call(http.MethodDelete, orgTeamAPI(o.Name, name), nil, nil, nil); err != nil {
		return q.back(back, err)
	}
	return q.redirect(back, "ok", "Team "+name+" was deleted.")
}

// teamMembers is the API's answer about a team's members.
type teamMembers struct {
	Name    string `json:"name"`
	Members []struct {
		Name    string `json:"name"`
		IsRobot bool   `json:"is_robot"`
	} `json:"members"`
	CanEdit bool `json:"can_edit"`
	CanSync *struct {
		Service string `json:"service"`
	} `json:"can_sync"`
	Synced *struct {
		Service     string `json:"service"`
		LastUpdated any    `json:"last_updated"`
		Config      *struct {
			GroupDN string `json:"group_dn"`
		} `json:"config"`
	} `json:"synced"`
}

// orgTeamData is what org_team.html shows.
type orgTeamData struct {
	Org         *orgInfo
	Team        teamInfo
	URL         string
	Members     teamMembers
	Permissions []RepoPermission
	Roles       []string
}

// loadTeam reads the organization and the team named in the path; a team the viewer may
// not see is not found.
func (q *request) loadTeam() (*orgTeamData, error) {
	o, err := q.loadOrg()
	if err != nil {
		return nil, err
	}
	name := q.r.PathValue("team")
	t, ok := o.Teams[name]
	if !ok || !t.CanView {
		return nil, notFound("This team")
	}
	d := &orgTeamData{Org: o, Team: t, URL: orgTeamURL(o.Name, name), Roles: teamRoles}
	if err := q.get(orgTeamAPI(o.Name, name)+"/members", nil, &d.Members); err != nil {
		if _, refused := settingsRefusal(err); refused {
			return nil, notFound("This team")
		}
		return nil, err
	}
	return d, nil
}

func (u *UI) orgTeamPage(q *request) error {
	d, err := q.loadTeam()
	if err != nil {
		return err
	}
	if d.Org.IsAdmin {
		var perms struct {
			Permissions []RepoPermission `json:"permissions"`
		}
		if err := q.get(orgTeamAPI(d.Org.Name, d.Team.Name)+"/permissions", nil, &perms); err != nil {
			return err
		}
		d.Permissions = perms.Permissions
	}
	return q.render(http.StatusOK, "org_team", d.Team.Name+" · "+d.Org.Name, "organizations", d)
}

func (u *UI) orgTeamPost(q *request) error {
	d, err := q.loadTeam()
	if err != nil {
		return err
	}
	if !d.Org.IsAdmin {
		return &api.Error{Status: http.StatusForbidden, ErrorMessage: "Only the administrators of " + d.Org.Name + " may change its teams."}
	}
	back, path := d.URL, orgTeamAPI(d.Org.Name, d.Team.Name)
	switch q.form("op") {
	case "team.update":
		body := map[string]string{"role": q.form("role"), "description": q.form("description")}
		if err := q.call(http.MethodPut, path, nil, body, nil); err != nil {
			return q.back(back, err)
		}
		return q.redirect(back, "ok", "Team "+d.Team.Name+" was saved.")
	case "member.add", "member.remove":
		name := q.form("member")
		if name == "" || len(name) > 512 || !uiName.MatchString(stripRobot(name)) {
			return q.redirect(back, "error", "Name a user, or a robot as "+d.Org.Name+"+NAME.")
		}
		if q.form("op") == "member.add" {
			if err := q.call(http.MethodPut, path+"/members/"+url.PathEscape(name), nil, nil, nil); err != nil {
				return q.back(back, err)
			}
			return q.redirect(back, "ok", name+" was added to team "+d.Team.Name+".")
		}
		if err := q.call(http.MethodDelete, path+"/members/"+url.PathEscape(name), nil, nil, nil); err != nil {
			return q.back(back, err)
		}
		return q.redirect(back, "ok", name+" was removed from team "+d.Team.Name+".")
	case "sync.enable":
		if err := q.call(http.MethodPost, path+"/syncing", nil, map[string]string{"group_dn": q.form("group_dn")}, nil); err != nil {
			return q.back(back, err)
		}
		return q.redirect(back, "ok", "Team "+d.Team.Name+" now follows the directory group.")
	case "sync.disable":
		if err := q.call(http.MethodDelete, path+"/syncing", nil, nil, nil); err != nil {
			return q.back(back, err)
		}
		return q.redirect(back, "ok", "Team "+d.Team.Name+" no longer follows a directory group: its members are managed here.")
	}
	return &api.Error{Status: http.StatusBadRequest, ErrorMessage: "This form does not say what to do (op " + q.form("op") + ")."}
}

// stripRobot makes OWNER+NAME one name to check ("OWNER_NAME").
func stripRobot(name string) string {
	out := []byte(name)
	for i, c := range out {
		if c == '+' {
			out[i] = '_'
		}
	}
	return string(out)
}
