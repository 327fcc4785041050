package ui

import (
	"fmt"
	"html/template"
	"maps"
	"net/url"
	"sort"
	"strings"
	"time"
)

// LogsView is a page of audit log entries with a chart of actions per day, as the logs
// partial ("logs" in _logs.html) shows them for a repository, an organization, the user
// or the whole registry.
type LogsView struct {
	// Entries are the entries of this page, newest first.
	Entries []LogEntry
	// Chart is the SVG of actions per day over the window.
	Chart template.HTML
	// Total is the number of actions in the window.
	Total int
	// From and To are the window's first and last days.
	From, To string
	// Ranges are links to other windows; NextURL the next page ("" on the last one).
	Ranges  []LogRange
	NextURL string
	// FirstURL goes back to the first page ("" on it).
	FirstURL string
}

// LogEntry is one audit entry in words.
type LogEntry struct {
	Time, Kind, Action, Performer, Detail, IP string
	Robot                                     bool
}

// LogRange is a window the logs may show.
type LogRange struct {
	Label, URL string
	Current    bool
}

// logDay is the API's day format for starttime and endtime.
const logDay = "01/02/2006"

// logsView reads the logs at apiBase + "/logs" and the counts at apiBase +
// "/aggregatelogs": apiBase is /api/v1/repository/NS/NAME, /api/v1/organization/ORG,
// /api/v1/user or /api/v1/superuser. The request's query (days, next_page, performer)
// selects the window and the page; links keep the page's other parameters (its tab).
func (q *request) logsView(apiBase string) (*LogsView, error) {
	in := q.r.URL.Query()
	days := 7
	if in.Get("days") == "30" {
		days = 30
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	from := today.AddDate(0, 0, -(days - 1))
	query := url.Values{"starttime": {from.Format(logDay)}, "endtime": {today.Format(logDay)}}
	if p := in.Get("performer"); p != "" {
		query.Set("performer", p)
	}
	var agg struct {
		Aggregated []struct {
			Kind     string `json:"kind"`
			Count    int    `json:"count"`
			Datetime string `json:"datetime"`
		} `json:"aggregated"`
	}
	if err := q.get(apiBase+"/aggregatelogs", query, &agg); err != nil {
		return nil, err
	}
	if tok := in.Get("next_page"); tok != "" {
		query.Set("next_page", tok)
	}
	var page struct {
		Logs     []logJSON `json:"logs"`
		NextPage string    `json:"next_page"`
	}
	if err := q.get(apiBase+"/logs", query, &page); err != nil {
		return nil, err
	}
	v := &LogsView{From: from.Format("2006-01-02"), To: today.Format("2006-01-02")}
	perDay := map[string]map[string]int{}
	for _, a := range agg.Aggregated {
		t, ok := toTime(a.Datetime)
		if !ok {
			continue
		}
		day := t.UTC().Format("2006-01-02")
		if perDay[day] == nil {
			perDay[day] = map[string]int{}
		}
		perDay[day][a.Kind] += a.Count
		v.Total += a.Count
	}
	var bars []Bar
	for d := from; !d.After(today); d = d.AddDate(0, 0, 1) {
		day := d.Format("2006-01-02")
		bars = append(bars, dayBar(d, perDay[day]))
	}
	v.Chart = barChart(bars, fmt.Sprintf("Actions per day from %s to %s: %d in all", v.From, v.To, v.Total))
	for _, e := range page.Logs {
		v.Entries = append(v.Entries, e.entry())
	}
	link := func(set map[string]string) string {
		u := *q.r.URL
		vals := u.Query()
		vals.Del("next_page")
		for k, val := range set {
			if val == "" {
				vals.Del(k)
			} else {
				vals.Set(k, val)
			}
		}
		u.RawQuery = vals.Encode()
		return u.RequestURI()
	}
	for _, r := range []struct {
		label string
		days  int
	}{{"Last 7 days", 7}, {"Last 30 days", 30}} {
		d := ""
		if r.days != 7 {
			d = fmt.Sprint(r.days)
		}
		v.Ranges = append(v.Ranges, LogRange{Label: r.label, URL: link(map[string]string{"days": d}), Current: r.days == days})
	}
	if page.NextPage != "" {
		v.NextURL = link(map[string]string{"next_page": page.NextPage})
	}
	if in.Get("next_page") != "" {
		v.FirstURL = link(nil)
	}
	return v, nil
}

// dayBar is the bar of one day: its total, and its kinds in the title.
func dayBar(d time.Time, kinds map[string]int) Bar {
	total := 0
	var parts []string
	for k, n := range kinds {
		total += n
		parts = append(parts, fmt.Sprintf("%s %d", actionWords(k), n))
	}
	sort.Strings(parts)
	title := fmt.Sprintf("%s: %d actions", d.Format("Mon 2 Jan"), total)
	if len(parts) > 0 {
		title += " (" + strings.Join(parts, ", ") + ")"
	}
	return Bar{Label: d.Format("Jan 2"), Value: total, Title: title}
}

// logJSON is a log entry as the API answers it.
type logJSON struct {
	Kind      string         `json:"kind"`
	Metadata  map[string]any `json:"metadata"`
	IP        string         `json:"ip"`
	Datetime  string         `json:"datetime"`
	Performer *struct {
		Name    string `json:"name"`
		IsRobot bool   `json:"is_robot"`
	} `json:"performer"`
}

func (e logJSON) entry() LogEntry {
	le := LogEntry{Time: datetime(e.Datetime), Kind: e.Kind, Action: actionWords(e.Kind), Detail: logDetail(e.Metadata), IP: e.IP}
	if e.Performer != nil {
		le.Performer, le.Robot = e.Performer.Name, e.Performer.IsRobot
	}
	return le
}

// actions says the common log kinds in words; others are spelled from their name.
var actions = map[string]string{
	"push_repo":                     "Push",
	"pull_repo":                     "Pull",
	"create_repo":                   "Create repository",
	"delete_repo":                   "Delete repository",
	"change_repo_visibility":        "Change visibility",
	"set_repo_description":          "Change description",
	"create_tag":                    "Create tag",
	"move_tag":                      "Move tag",
	"delete_tag":                    "Delete tag",
	"revert_tag":                    "Restore tag",
	"restore_tag":                   "Restore tag",
	"change_tag_expiration":         "Change tag expiration",
	"add_repo_permission":           "Grant permission",
	"change_repo_permission":        "Change permission",
	"delete_repo_permission":        "Remove permission",
	"manifest_label_add":            "Add label",
	"manifest_label_delete":         "Delete label",
	"create_robot":                  "Create robot",
	"delete_robot":                  "Delete robot",
	"regenerate_robot_token":        "Regenerate robot token",
	"org_create":                    "Create organization",
	"org_create_team":               "Create team",
	"org_delete_team":               "Delete team",
	"org_add_team_member":           "Add team member",
	"org_remove_team_member":        "Remove team member",
	"org_set_team_role":             "Change team role",
	"create_prototype_permission":   "Create default permission",
	"delete_prototype_permission":   "Delete default permission",
	"create_application":            "Create application",
	"delete_application":            "Delete application",
	"login_success":                 "Sign in",
	"login_failure":                 "Failed sign-in",
	"user_create":                   "Create user",
	"create_app_specific_token":     "Create app token",
	"revoke_app_specific_token":     "Revoke app token",
	"change_password":               "Change password",
	"user_change_email":             "Change e-mail",
	"create_global_message":         "Post global message",
	"delete_global_message":         "Delete global message",
	"take_ownership":                "Take ownership",
	"vulnerability_found":           "Vulnerability found",
	"org_change_email":              "Change organization e-mail",
	"change_organization_team_sync": "Change team sync",
}

// actionWords says a log kind in words: "push_repo" is "Push"; an unknown
// "some_new_thing" is "Some new thing".
func actionWords(kind string) string {
	if w, ok := actions[kind]; ok {
		return w
	}
	s := strings.ReplaceAll(kind, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// logDetail describes an entry's metadata shortly: the tag and digest, the role and whom
// it was given to, then any other values.
func logDetail(m map[string]any) string {
	str := func(k string) string {
		if v, ok := m[k]; ok && v != nil {
			return fmt.Sprint(v)
		}
		return ""
	}
	var parts []string
	used := map[string]bool{"repo": true, "namespace": true}
	add := func(s string, keys ...string) {
		parts = append(parts, s)
		for _, k := range keys {
			used[k] = true
		}
	}
	if list, ok := m["tags"].([]any); ok && len(list) > 0 && str("tag") == "" {
		names := make([]string, 0, len(list))
		for _, t := range list {
			names = append(names, fmt.Sprint(t))
		}
		m = maps.Clone(m)
		m["tag"] = strings.Join(names, ", ")
		delete(m, "tags")
	}
	if t := str("tag"); t != "" {
		s := "tag " + t
		if d := str("manifest_digest"); d != "" {
			s += " → " + shortDigest(d)
		}
		add(s, "tag", "manifest_digest")
	}
	if r := str("role"); r != "" {
		who := str("username")
		if who == "" {
			who = str("team")
		}
		if who != "" {
			add("role "+r+" for "+who, "role", "username", "team")
		} else {
			add("role "+r, "role")
		}
	}
	if v := str("visibility"); v != "" {
		add("now "+v, "visibility")
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if !used[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := str(k)
		if v == "" || len(v) > 80 {
			continue
		}
		if strings.HasPrefix(v, "sha256:") {
			v = shortDigest(v)
		}
		parts = append(parts, k+" "+v)
	}
	return strings.Join(parts, ", ")
}
