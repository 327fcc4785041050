package ui

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/wharf-registry/wharf/registry/api"
)

// Repository settings (visibility, permissions, deletion) and usage logs: the tabs only
// a repository's administrators see.

// repoPerm is one permission of a repository.
type repoPerm struct {
	Kind  string // user, robot or team
	Name  string
	Role  string
	Field string // the kind the forms send: user (robots too) or team
}

type repoSettingsData struct {
	Repo  *repoInfo
	Perms []repoPerm
	Roles []string
}

func (u *UI) repoSettingsTab(q *request, repo *repoInfo) error {
	var users, teams struct {
		Permissions map[string]struct {
			Name    string `json:"name"`
			Role    string `json:"role"`
			IsRobot bool   `json:"is_robot"`
		} `json:"permissions"`
	}
	if err := q.get(repo.API()+"/permissions/user/", nil, &users); err != nil {
		return err
	}
	d := repoSettingsData{Repo: repo, Roles: []string{"read", "write", "admin"}}
	for _, p := range users.Permissions {
		kind := "user"
		if p.IsRobot {
			kind = "robot"
		}
		d.Perms = append(d.Perms, repoPerm{Kind: kind, Name: p.Name, Role: p.Role, Field: "user"})
	}
	if repo.IsOrganization {
		if err := q.get(repo.API()+"/permissions/team/", nil, &teams); err != nil {
			return err
		}
		for _, p := range teams.Permissions {
			d.Perms = append(d.Perms, repoPerm{Kind: "team", Name: p.Name, Role: p.Role, Field: "team"})
		}
	}
	sortPerms(d.Perms)
	return q.render(http.StatusOK, "repo_settings", repo.Full+" settings", "repositories", d)
}

// sortPerms orders permissions: teams, users, robots, each by name.
func sortPerms(p []repoPerm) {
	rank := map[string]int{"team": 0, "user": 1, "robot": 2}
	sort.Slice(p, func(i, j int) bool {
		if rank[p[i].Kind] != rank[p[j].Kind] {
			return rank[p[i].Kind] < rank[p[j].Kind]
		}
		return p[i].Name < p[j].Name
	})
}

type repoLogsData struct {
	Repo *repoInfo
	Logs *LogsView
}

func (u *UI) repoLogsTab(q *request, repo *repoInfo) error {
	lv, err := q.logsView(repo.API())
	if err != nil {
		return err
	}
	return q.render(http.StatusOK, "repo_logs", repo.Full+" usage logs", "repositories", repoLogsData{Repo: repo, Logs: lv})
}

// permPath is the API path of a permission: kind is user (also robots) or team.
func permPath(repo *repoInfo, kind, name string) (string, error) {
	if kind != "user" && kind != "team" {
		return "", &api.Error{Status: http.StatusBadRequest, ErrorMessage: "Choose a user, robot or team."}
	}
	if name == "" || strings.Contains(name, "/") {
		return "", &api.Error{Status: http.StatusBadRequest, ErrorMessage: "Name whom the permission is for."}
	}
	return repo.API() + "/permissions/" + kind + "/" + url.PathEscape(name), nil
}

// repoSettingsPost runs the settings tab's forms: visibility, perm.set, perm.delete and
// delete.
func (u *UI) repoSettingsPost(q *request, repo *repoInfo, op string) (bool, error) {
	back := repo.URL() + "?tab=settings"
	switch op {
	case "visibility", "perm.set", "perm.delete", "delete":
	default:
		return false, nil
	}
	if !repo.CanAdmin {
		return true, notFound("This repository")
	}
	switch op {
	case "visibility":
		vis := q.form("visibility")
		if vis != "public" && vis != "private" {
			return true, q.redirect(back, "error", "Choose public or private.")
		}
		if err := q.call(http.MethodPost, repo.API()+"/changevisibility", nil, map[string]string{"visibility": vis}, nil); err != nil {
			return true, q.back(back, err)
		}
		return true, q.redirect(back, "ok", repo.Full+" is now "+vis+".")
	case "perm.set":
		name, role := q.form("name"), q.form("role")
		path, err := permPath(repo, q.form("kind"), name)
		if err == nil {
			err = q.call(http.MethodPut, path, nil, map[string]string{"role": role}, nil)
		}
		if err != nil {
			return true, q.back(back, err)
		}
		return true, q.redirect(back, "ok", name+" now has "+role+" permission on "+repo.Full+".")
	case "perm.delete":
		name := q.form("name")
		path, err := permPath(repo, q.form("kind"), name)
		if err == nil {
			err = q.call(http.MethodDelete, path, nil, nil, nil)
		}
		if err != nil {
			return true, q.back(back, err)
		}
		return true, q.redirect(back, "ok", name+" no longer has a permission on "+repo.Full+".")
	}
	// delete: the person typed the repository's full name.
	if q.form("confirm") != repo.Full {
		return true, q.redirect(back, "error", "Type "+repo.Full+" exactly to delete the repository.")
	}
	if err := q.call(http.MethodDelete, repo.API(), nil, nil, nil); err != nil {
		return true, q.back(back, err)
	}
	return true, q.redirect("/repository/", "ok", "Deleted "+repo.Full+".")
}
