package ui

import (
	"net/http"
	"net/url"
	"strings"
)

// The repository list, creating a repository, and the information tab.

// repoRow is a repository in the list.
type repoRow struct {
	Namespace    string `json:"namespace"`
	Name         string `json:"name"`
	Description  string `json:"description"`
	IsPublic     bool   `json:"is_public"`
	IsStarred    bool   `json:"is_starred"`
	LastModified int64  `json:"last_modified"`
}

// Full is NAMESPACE/NAME.
func (r repoRow) Full() string { return r.Namespace + "/" + r.Name }

// Summary is the description's first line, without Markdown's heading marks.
func (r repoRow) Summary() string {
	line, _, _ := strings.Cut(strings.TrimSpace(r.Description), "\n")
	return strings.TrimSpace(strings.TrimLeft(line, "# "))
}

type repoListData struct {
	Repos []repoRow
	// The filters as chosen, and the namespaces to choose from.
	Filter, Namespace, Visibility string
	Starred                       bool
	Namespaces                    []string
	NextURL, FirstURL             string
}

// repoList lists the repositories the viewer may read, a page at a time, filtered.
func (u *UI) repoList(q *request) error {
	in := q.r.URL.Query()
	d := repoListData{Filter: strings.TrimSpace(in.Get("filter")), Namespace: in.Get("namespace"), Visibility: in.Get("visibility"),
		Starred: in.Get("starred") == "1"}
	if d.Visibility != "public" && d.Visibility != "private" {
		d.Visibility = ""
	}
	// public=true: public repositories too, besides those the viewer has a permission on.
	query := url.Values{"last_modified": {"true"}, "public": {"true"}}
	if d.Namespace != "" {
		query.Set("namespace", d.Namespace)
	}
	if d.Starred && q.signedIn() {
		query.Set("starred", "true")
	}
	for k, v := range map[string]string{"filter": d.Filter, "visibility": d.Visibility, "next_page": in.Get("next_page")} {
		if v != "" {
			query.Set(k, v)
		}
	}
	var out struct {
		Repositories []repoRow `json:"repositories"`
		NextPage     string    `json:"next_page"`
	}
	if err := q.get("/api/v1/repository", query, &out); err != nil {
		return err
	}
	d.Repos = out.Repositories
	me, err := q.viewer()
	if err != nil {
		return err
	}
	if me != nil {
		d.Namespaces = append(d.Namespaces, me.Username)
		for _, o := range me.Organizations {
			d.Namespaces = append(d.Namespaces, o.Name)
		}
	}
	page := url.Values{}
	for k, v := range map[string]string{"filter": d.Filter, "visibility": d.Visibility, "namespace": d.Namespace} {
		if v != "" {
			page.Set(k, v)
		}
	}
	if d.Starred {
		page.Set("starred", "1")
	}
	if in.Get("next_page") != "" {
		d.FirstURL = "/repository/?" + page.Encode()
	}
	if out.NextPage != "" {
		page.Set("next_page", out.NextPage)
		d.NextURL = "/repository/?" + page.Encode()
	}
	return q.render(http.StatusOK, "repo_list", "Repositories", "repositories", d)
}

type repoNewData struct {
	Namespaces                                     []string
	Namespace, Name, Visibility, Description, Back string
}

// creatable lists the namespaces the signed-in user may create repositories in.
func (q *request) creatable() ([]string, error) {
	me, err := q.viewer()
	if err != nil || me == nil {
		return nil, err
	}
	ns := []string{me.Username}
	for _, o := range me.Organizations {
		if o.CanCreateRepo {
			ns = append(ns, o.Name)
		}
	}
	return ns, nil
}

func (u *UI) repoNewPage(q *request) error {
	if !q.signedIn() {
		http.Redirect(q.w, q.r, "/signin?next=/repository/new", http.StatusSeeOther)
		return nil
	}
	ns, err := q.creatable()
	if err != nil {
		return err
	}
	d := repoNewData{Namespaces: ns, Namespace: q.r.URL.Query().Get("namespace"), Visibility: "private"}
	return q.render(http.StatusOK, "repo_new", "Create repository", "repositories", d)
}

// repoCreate creates a repository through the API and opens it.
func (u *UI) repoCreate(q *request) error {
	if !q.signedIn() {
		return notFound("This page")
	}
	d := repoNewData{Namespace: q.form("namespace"), Name: q.form("name"), Visibility: q.form("visibility"), Description: q.r.PostFormValue("description")}
	body := map[string]string{"namespace": d.Namespace, "repository": d.Name, "visibility": d.Visibility, "description": d.Description}
	if err := q.call(http.MethodPost, "/api/v1/repository", nil, body, nil); err != nil {
		return q.back("/repository/new?namespace="+url.QueryEscape(d.Namespace), err)
	}
	return q.redirect("/repository/"+d.Namespace+"/"+d.Name, "ok", "Created "+d.Visibility+" repository "+d.Namespace+"/"+d.Name+". Push to it with podman push "+u.opts.Hostname+"/"+d.Namespace+"/"+d.Name+":TAG")
}

type repoInfoData struct {
	Repo       *repoInfo
	Tags       int
	MoreTags   bool
	LastChange int64
}

// repoInfoTab shows the description and a summary.
func (u *UI) repoInfoTab(q *request, repo *repoInfo) error {
	var tags tagPage
	if err := q.get(repo.API()+"/tag/", url.Values{"onlyActiveTags": {"true"}, "limit": {"100"}}, &tags); err != nil {
		return err
	}
	d := repoInfoData{Repo: repo, Tags: len(tags.Tags), MoreTags: tags.HasAdditional}
	for _, t := range tags.Tags {
		if t.StartTS > d.LastChange {
			d.LastChange = t.StartTS
		}
	}
	return q.render(http.StatusOK, "repo_info", repo.Full, "repositories", d)
}
