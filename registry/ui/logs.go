package ui

import "net/url"

// LogsView is a page of audit log entries with a chart of actions over time, as the logs
// partial ("logs" in _logs.html) shows them. Owned by the repository settings area.
type LogsView struct {
	// Entries are the API's log entries.
	Entries []map[string]any
	// NextPage is the API's token for the next page ("" at the end).
	NextPage string
}

// logsView reads the logs at apiBase + "/logs" (and "/aggregatelogs" for the chart):
// apiBase is /api/v1/repository/NS/NAME, /api/v1/organization/ORG, /api/v1/user or
// /api/v1/superuser. The request's query (starttime, endtime, performer, next_page)
// selects the page.
func (q *request) logsView(apiBase string) (*LogsView, error) {
	var out struct {
		Logs     []map[string]any `json:"logs"`
		NextPage string           `json:"next_page"`
	}
	query := url.Values{}
	for _, k := range []string{"starttime", "endtime", "performer", "next_page"} {
		if v := q.r.URL.Query().Get(k); v != "" {
			query.Set(k, v)
		}
	}
	if err := q.get(apiBase+"/logs", query, &out); err != nil {
		return nil, err
	}
	return &LogsView{Entries: out.Logs, NextPage: out.NextPage}, nil
}
