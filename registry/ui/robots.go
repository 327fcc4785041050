package ui

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Robots: the robot accounts of an organization (its robots tab) or of the signed-in user
// (the robots tab of /settings/), shown by the "robots" partial in _robots.html.

// RobotsView is the robots of a namespace, as the robots partial ("robots" in
// _robots.html) shows them.
type RobotsView struct {
	// Owner is the organization or user; Base is the page (path and tab) the forms come
	// back to.
	Owner, Base string
	// Org is set for an organization's robots.
	Org bool
	// Robots are the namespace's robots, without their tokens.
	Robots []Robot
	// Selected is the robot whose credentials were asked for (?robot=SHORT), with its token
	// and the snippets that use it; nil when none was.
	Selected *RobotCredentials
}

// Robot is a robot account as the list shows it.
type Robot struct {
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	Created      any      `json:"created"`
	LastAccessed any      `json:"last_accessed"`
	Teams        []Named  `json:"teams"`
	Repositories []string `json:"repositories"`
	Token        string   `json:"token"`
	// Short is the NAME of OWNER+NAME.
	Short string `json:"-"`
}

// Named is an object of the API with a name (a team in a list, say).
type Named struct {
	Name string `json:"name"`
}

// RobotCredentials is one robot with its token, ready to paste.
type RobotCredentials struct {
	Robot
	// Podman is a podman login command; KubeSecret a Kubernetes pull secret; DockerConfig a
	// docker config.json.
	Podman, KubeSecret, DockerConfig string
	// Permissions are the robot's repository permissions.
	Permissions []RepoPermission
}

// RepoPermission is a role on a repository.
type RepoPermission struct {
	Repository struct {
		Name     string `json:"name"`
		IsPublic bool   `json:"is_public"`
	} `json:"repository"`
	Role string `json:"role"`
}

// uiName accepts the names of users, organizations, teams and robots' short names as they
// appear in page paths and forms; anything else names nothing.
var uiName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$`)

// robotsAPI is the API path of an owner's robots.
func robotsAPI(owner string, org bool) string {
	if org {
		return "/api/v1/organization/" + url.PathEscape(owner) + "/robots"
	}
	return "/api/v1/user/robots"
}

// withParam adds a query parameter to a page path that may already have a query.
func withParam(base, key, value string) string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + key + "=" + url.QueryEscape(value)
}

// robotsView reads the robots of an organization (org true) or of the signed-in user.
func (q *request) robotsView(owner string, org bool, base string) (*RobotsView, error) {
	v := &RobotsView{Owner: owner, Base: base, Org: org}
	var out struct {
		Robots []Robot `json:"robots"`
	}
	apiBase := robotsAPI(owner, org)
	if err := q.get(apiBase, url.Values{"permissions": {"true"}, "token": {"false"}}, &out); err != nil {
		return nil, err
	}
	for i := range out.Robots {
		out.Robots[i].Token = ""
		_, out.Robots[i].Short, _ = strings.Cut(out.Robots[i].Name, "+")
	}
	v.Robots = out.Robots
	short := q.r.URL.Query().Get("robot")
	if short == "" {
		return v, nil
	}
	if !uiName.MatchString(short) {
		return nil, notFound("This robot")
	}
	var r Robot
	if err := q.get(apiBase+"/"+url.PathEscape(short), nil, &r); err != nil {
		if _, ok := settingsRefusal(err); ok {
			return nil, notFound("This robot")
		}
		return nil, err
	}
	r.Short = short
	creds := robotCredentials(r, q.u.opts.Hostname)
	var perms struct {
		Permissions []RepoPermission `json:"permissions"`
	}
	if err := q.get(apiBase+"/"+url.PathEscape(short)+"/permissions", nil, &perms); err != nil {
		return nil, err
	}
	creds.Permissions = perms.Permissions
	v.Selected = creds
	return v, nil
}

// robotCredentials makes the snippets that log in as robot r at host.
func robotCredentials(r Robot, host string) *RobotCredentials {
	c := &RobotCredentials{Robot: r}
	c.Podman = "podman login -u '" + r.Name + "' -p '" + r.Token + "' " + host
	auth := base64.StdEncoding.EncodeToString([]byte(r.Name + ":" + r.Token))
	type entry struct {
		Auth string `json:"auth"`
	}
	cfg := map[string]map[string]entry{"auths": {host: {Auth: auth}}}
	compact, _ := json.Marshal(cfg)
	pretty, _ := json.MarshalIndent(cfg, "", "  ")
	c.DockerConfig = string(pretty)
	c.KubeSecret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + kubeName(r.Name) + "-pull-secret\n" +
		"type: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: " + base64.StdEncoding.EncodeToString(compact) + "\n"
	return c
}

// kubeName turns a robot's name into a Kubernetes object name (lower case letters, digits
// and dashes).
func kubeName(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

// robotPost runs a robots form (ops "robot.*") for the organization owner (org true) or
// the signed-in user, then goes back to base.
func (q *request) robotPost(owner string, org bool, base, op string) (bool, error) {
	apiBase := robotsAPI(owner, org)
	short := q.form("robot")
	switch op {
	case "robot.create", "robot.regenerate", "robot.delete":
	default:
		return false, nil
	}
	if !uiName.MatchString(short) {
		return true, q.redirect(base, "error", "A robot's name is letters, digits, dots, dashes and underscores, starting with a letter or a digit.")
	}
	full := owner + "+" + short
	path := apiBase + "/" + url.PathEscape(short)
	switch op {
	case "robot.create":
		if err := q.call(http.MethodPut, path, nil, map[string]string{"description": q.form("description")}, nil); err != nil {
			return true, q.back(base, err)
		}
		return true, q.redirect(withParam(base, "robot", short), "ok", "Robot "+full+" was created.")
	case "robot.regenerate":
		if err := q.call(http.MethodPost, path+"/regenerate", nil, nil, nil); err != nil {
			return true, q.back(base, err)
		}
		return true, q.redirect(withParam(base, "robot", short), "ok", "Robot "+full+" has a new token: the old one no longer works.")
	default:
		if err := q.call(http.MethodDelete, path, nil, nil, nil); err != nil {
			return true, q.back(base, err)
		}
		return true, q.redirect(base, "ok", "Robot "+full+" was deleted.")
	}
}
