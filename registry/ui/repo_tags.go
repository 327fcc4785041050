package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The tags and tag history tabs, and the forms of the repository's content: description,
// tags, labels.

// tagsPerPage is how many tags a page of the tags and history tabs shows.
const tagsPerPage = 50

// tagJSON is a tag as the API lists it.
type tagJSON struct {
	Name           string `json:"name"`
	StartTS        int64  `json:"start_ts"`
	EndTS          *int64 `json:"end_ts"`
	ManifestDigest string `json:"manifest_digest"`
	IsManifestList bool   `json:"is_manifest_list"`
	Size           int64  `json:"size"`
	Expiration     string `json:"expiration"`
	Reversion      bool   `json:"reversion"`
}

// Ended reports whether the entry is history (moved or deleted), not the tag's present.
func (t tagJSON) Ended() bool { return t.EndTS != nil && time.Unix(*t.EndTS, 0).Before(time.Now()) }

type tagPage struct {
	Tags          []tagJSON `json:"tags"`
	Page          int       `json:"page"`
	HasAdditional bool      `json:"has_additional"`
}

// tagRow is a row of the tags tab.
type tagRow struct {
	tagJSON
	// Security is the scan's summary ("" when the scanner is off).
	Security []SeverityCount
	Status   string
}

// Child is a platform image of a multi-arch index.
type Child struct{ Platform, Digest string }

// Label is a manifest label.
type Label struct {
	ID         string `json:"id"`
	Key        string `json:"key"`
	Value      string `json:"value"`
	SourceType string `json:"source_type"`
}

type repoTagsData struct {
	Repo *repoInfo
	Rows []tagRow
	Page int
	More bool
	// Selected is the tag whose details show (?tag=NAME): its labels and platforms.
	Selected *tagRow
	Labels   []Label
	Children []Child
	// Expirations are the TAG_EXPIRATION_OPTIONS, as durations from now.
	Expirations []string
	Prev, Next  string
}

func pageParam(q *request) int {
	p, err := strconv.Atoi(q.r.URL.Query().Get("page"))
	if err != nil || p < 1 {
		return 1
	}
	return p
}

// repoTagsTab lists the active tags, a page at a time, with the details of one.
func (u *UI) repoTagsTab(q *request, repo *repoInfo) error {
	page := pageParam(q)
	var tags tagPage
	if err := q.get(repo.API()+"/tag/", url.Values{"onlyActiveTags": {"true"}, "limit": {strconv.Itoa(tagsPerPage)}, "page": {strconv.Itoa(page)}}, &tags); err != nil {
		return err
	}
	d := repoTagsData{Repo: repo, Page: page, More: tags.HasAdditional}
	for _, e := range u.opts.TagExpirationOptions {
		if e > 0 {
			d.Expirations = append(d.Expirations, humanDuration(e))
		}
	}
	selected := q.r.URL.Query().Get("tag")
	for _, t := range tags.Tags {
		row := tagRow{tagJSON: t}
		if u.opts.Security {
			row.Status, row.Security = q.securitySummary(repo, t.ManifestDigest)
		}
		d.Rows = append(d.Rows, row)
	}
	if selected != "" {
		if err := q.selectTag(repo, selected, &d); err != nil {
			return err
		}
	}
	d.Prev, d.Next = pageLinks(repo.URL()+"?tab=tags&page=", page, d.More)
	return q.render(http.StatusOK, "repo_tags", repo.Full+" tags", "repositories", d)
}

// pageLinks are the links to the previous and next pages ("" when there is none): base
// ends with page=.
func pageLinks(base string, page int, more bool) (prev, next string) {
	if page > 1 {
		prev = base + strconv.Itoa(page-1)
	}
	if more {
		next = base + strconv.Itoa(page+1)
	}
	return prev, next
}

// selectTag loads one tag's details: its labels and, for an index, its platforms.
func (q *request) selectTag(repo *repoInfo, name string, d *repoTagsData) error {
	var one tagPage
	if err := q.get(repo.API()+"/tag/", url.Values{"onlyActiveTags": {"true"}, "specificTag": {name}}, &one); err != nil {
		return err
	}
	for _, t := range one.Tags {
		if t.Name == name {
			d.Selected = &tagRow{tagJSON: t}
		}
	}
	if d.Selected == nil {
		return nil
	}
	digest := d.Selected.ManifestDigest
	var labels struct {
		Labels []Label `json:"labels"`
	}
	if err := q.get(repo.API()+"/manifest/"+digest+"/labels", nil, &labels); err != nil {
		return err
	}
	d.Labels = labels.Labels
	if d.Selected.IsManifestList {
		var m struct {
			ManifestData string `json:"manifest_data"`
		}
		if err := q.get(repo.API()+"/manifest/"+digest, nil, &m); err != nil {
			return err
		}
		d.Children = indexChildren(m.ManifestData)
	}
	return nil
}

// indexChildren reads the platforms and digests of an image index or manifest list.
func indexChildren(data string) []Child {
	var idx struct {
		Manifests []struct {
			Digest   string `json:"digest"`
			Platform *struct {
				OS           string `json:"os"`
				Architecture string `json:"architecture"`
				Variant      string `json:"variant"`
			} `json:"platform"`
		} `json:"manifests"`
	}
	if json.Unmarshal([]byte(data), &idx) != nil {
		return nil
	}
	var out []Child
	for _, m := range idx.Manifests {
		p := "unknown"
		if m.Platform != nil {
			p = m.Platform.OS + "/" + m.Platform.Architecture
			if m.Platform.Variant != "" {
				p += "/" + m.Platform.Variant
			}
		}
		out = append(out, Child{Platform: p, Digest: m.Digest})
	}
	return out
}

// securitySummary reads a manifest's scan: its status and counts per severity.
func (q *request) securitySummary(repo *repoInfo, digest string) (string, []SeverityCount) {
	var doc securityJSON
	if err := q.get(repo.API()+"/manifest/"+digest+"/security", url.Values{"vulnerabilities": {"true"}}, &doc); err != nil {
		return "unknown", nil
	}
	if doc.Status != "scanned" {
		return doc.Status, nil
	}
	var counts []SeverityCount
	for _, c := range countSeverities(summarize(doc).findings) {
		if c.Count > 0 {
			counts = append(counts, c)
		}
	}
	return doc.Status, counts
}

type repoHistoryData struct {
	Repo    *repoInfo
	Entries []tagJSON
	Page    int
	Window  string
	// Restorable says whether an ended entry is still inside the time machine window.
	Since      int64
	Prev, Next string
}

// repoHistoryTab lists every move of every tag, newest first, with restore buttons.
func (u *UI) repoHistoryTab(q *request, repo *repoInfo) error {
	page := pageParam(q)
	var tags tagPage
	if err := q.get(repo.API()+"/tag/", url.Values{"onlyActiveTags": {"false"}, "limit": {strconv.Itoa(tagsPerPage)}, "page": {strconv.Itoa(page)}}, &tags); err != nil {
		return err
	}
	d := repoHistoryData{Repo: repo, Entries: tags.Tags, Page: page, Window: humanDuration(repo.TagExpirationS),
		Since: time.Now().Unix() - repo.TagExpirationS}
	d.Prev, d.Next = pageLinks(repo.URL()+"?tab=history&page=", page, tags.HasAdditional)
	return q.render(http.StatusOK, "repo_history", repo.Full+" tag history", "repositories", d)
}

// repoContentPost runs the forms of the information, tags and history tabs.
func (u *UI) repoContentPost(q *request, repo *repoInfo, op string) (bool, error) {
	if op == "star" || op == "unstar" {
		return true, q.star(repo, op == "star")
	}
	if op != "description" && !strings.HasPrefix(op, "tag.") && !strings.HasPrefix(op, "label.") {
		return false, nil
	}
	if !repo.CanWrite {
		return true, notFound("This repository")
	}
	tag := q.form("tag")
	tagAPI := repo.API() + "/tag/" + url.PathEscape(tag)
	back := repo.URL() + "?tab=tags"
	if tag != "" && op != "tag.restore" && op != "tag.delete" {
		back += "&tag=" + url.QueryEscape(tag)
	}
	var err error
	var msg string
	switch op {
	case "description":
		back = repo.URL()
		err = q.call(http.MethodPut, repo.API(), nil, map[string]string{"description": q.r.PostFormValue("description")}, nil)
		msg = "Saved the description."
	case "tag.add":
		newTag := q.form("new_tag")
		err = q.call(http.MethodPut, repo.API()+"/tag/"+url.PathEscape(newTag), nil, map[string]string{"manifest_digest": q.form("digest")}, nil)
		msg = "Tag " + newTag + " now points at " + shortDigest(q.form("digest")) + "."
	case "tag.move":
		digest := q.form("digest")
		if other := q.form("to_tag"); digest == "" && other != "" {
			digest, err = q.tagManifest(repo, other)
		}
		if err == nil {
			err = q.call(http.MethodPut, tagAPI, nil, map[string]string{"manifest_digest": digest}, nil)
		}
		msg = "Moved " + tag + " to " + shortDigest(digest) + "."
	case "tag.delete":
		err = q.call(http.MethodDelete, tagAPI, nil, nil, nil)
		msg = "Deleted tag " + tag + "; the tag history can restore it."
	case "tag.expire":
		var exp any
		exp, msg, err = expiration(q.form("expires_in"), q.form("expires_at"))
		if err == nil {
			err = q.call(http.MethodPut, tagAPI, nil, map[string]any{"expiration": exp}, nil)
		}
		msg = strings.Replace(msg, "TAG", tag, 1)
	case "tag.restore":
		back = repo.URL() + "?tab=history"
		err = q.call(http.MethodPost, tagAPI+"/restore", nil, map[string]string{"manifest_digest": q.form("digest")}, nil)
		msg = "Restored " + tag + " to " + shortDigest(q.form("digest")) + "."
	case "label.add":
		err = q.call(http.MethodPost, repo.API()+"/manifest/"+q.form("digest")+"/labels", nil,
			map[string]string{"key": q.form("key"), "value": q.form("value"), "media_type": "text/plain"}, nil)
		msg = "Added the label " + q.form("key") + "."
	case "label.delete":
		err = q.call(http.MethodDelete, repo.API()+"/manifest/"+q.form("digest")+"/labels/"+url.PathEscape(q.form("label")), nil, nil, nil)
		msg = "Deleted the label."
	default:
		return false, nil
	}
	if err != nil {
		return true, q.back(back, err)
	}
	return true, q.redirect(back, "ok", msg)
}

// star stars or unstars a repository for the signed-in user.
func (q *request) star(repo *repoInfo, on bool) error {
	if !q.signedIn() {
		return notFound("This repository")
	}
	var err error
	msg := "Starred " + repo.Full + "."
	if on {
		err = q.call(http.MethodPost, "/api/v1/user/starred", nil, map[string]string{"namespace": repo.Namespace, "repository": repo.Name}, nil)
	} else {
		err = q.call(http.MethodDelete, "/api/v1/user/starred/"+repo.Full, nil, nil, nil)
		msg = "Removed the star from " + repo.Full + "."
	}
	if err != nil {
		return q.back(repo.URL(), err)
	}
	return q.redirect(repo.URL(), "ok", msg)
}

// tagManifest reads the digest a tag points at.
func (q *request) tagManifest(repo *repoInfo, tag string) (string, error) {
	var one tagPage
	if err := q.get(repo.API()+"/tag/", url.Values{"onlyActiveTags": {"true"}, "specificTag": {tag}}, &one); err != nil {
		return "", err
	}
	for _, t := range one.Tags {
		if t.Name == tag {
			return t.ManifestDigest, nil
		}
	}
	return "", notFound("Tag " + tag)
}

// expiration reads the expiration form: a duration from now (one of the options, "never"
// to clear) or a date and time (UTC); it returns the API's value (Unix seconds or nil) and
// the message to show (TAG stands for the tag).
func expiration(in, at string) (any, string, error) {
	switch {
	case in == "never":
		return nil, "TAG no longer expires.", nil
	case in != "":
		d, err := parseDuration(in)
		if err != nil {
			return nil, "", badForm("Choose how long the tag stays.")
		}
		t := time.Now().Add(d)
		return t.Unix(), "TAG expires on " + t.UTC().Format("2006-01-02 15:04 UTC") + ".", nil
	case at != "":
		t, err := time.ParseInLocation("2006-01-02T15:04", at, time.UTC)
		if err != nil {
			return nil, "", badForm("Give the expiration as a date and time.")
		}
		return t.Unix(), "TAG expires on " + t.Format("2006-01-02 15:04 UTC") + ".", nil
	}
	return nil, "", badForm("Choose when the tag expires, or never.")
}

// parseDuration reads 2w, 3d, 12h, 30m, 45s.
func parseDuration(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("duration %q", s)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("duration %q", s)
	}
	unit := map[byte]time.Duration{'w': 7 * 24 * time.Hour, 'd': 24 * time.Hour, 'h': time.Hour, 'm': time.Minute, 's': time.Second}[s[len(s)-1]]
	if unit == 0 {
		return 0, fmt.Errorf("duration %q", s)
	}
	return time.Duration(n) * unit, nil
}
