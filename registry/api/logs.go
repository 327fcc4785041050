package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

// logsPerPage is how many entries one page of logs holds (Quay's LOGS_PER_PAGE).
const logsPerPage = 20

// logDateLayout is how Quay formats dates in logs: RFC 2822 in UTC.
const logDateLayout = "Mon, 02 Jan 2006 15:04:05 -0000"

// logQueryLayout is the format of the starttime and endtime parameters: a day in UTC.
const logQueryLayout = "01/02/2006"

// pageTokenPrefix marks a next_page token of the logs.
const pageTokenPrefix = "logs:"

var logQuery = []string{"starttime", "endtime", "performer", "kind", "next_page"}
var aggregateQuery = []string{"starttime", "endtime", "performer", "kind"}

func (a *API) logRoutes() []*Route {
	return []*Route{
		{
			Method: "GET", Path: "/api/v1/repository/{repository}/logs", Op: "listRepoLogs", Group: "logs", Scope: auth.ScopeRepoAdmin,
			Summary: "List the logs for the specified repository.", Query: logQuery,
			Handle: func(c *Call) (any, error) {
				repo, err := c.Repo(store.RoleAdmin)
				if err != nil {
					return nil, err
				}
				return a.listLogs(c, store.LogFilter{RepositoryID: repo.ID}, 0, false)
			},
		},
		{
			Method: "GET", Path: "/api/v1/repository/{repository}/aggregatelogs", Op: "getAggregateRepoLogs", Group: "logs", Scope: auth.ScopeRepoAdmin,
			Summary: "Returns the aggregated logs for the specified repository.", Query: aggregateQuery,
			Handle: func(c *Call) (any, error) {
				repo, err := c.Repo(store.RoleAdmin)
				if err != nil {
					return nil, err
				}
				return a.aggregateLogs(c, store.LogFilter{RepositoryID: repo.ID}, 0)
			},
		},
		{
			Method: "GET", Path: "/api/v1/organization/{orgname}/logs", Op: "listOrgLogs", Group: "logs", Scope: auth.ScopeOrgAdmin,
			Summary: "List the logs for the specified organization.", Query: logQuery,
			Handle: func(c *Call) (any, error) {
				org, err := c.Org(true)
				if err != nil {
					return nil, err
				}
				return a.listLogs(c, store.LogFilter{AccountID: org.ID}, 0, false)
			},
		},
		{
			Method: "GET", Path: "/api/v1/organization/{orgname}/aggregatelogs", Op: "getAggregateOrgLogs", Group: "logs", Scope: auth.ScopeOrgAdmin,
			Summary: "Gets the aggregated logs for the specified organization.", Query: aggregateQuery,
			Handle: func(c *Call) (any, error) {
				org, err := c.Org(true)
				if err != nil {
					return nil, err
				}
				return a.aggregateLogs(c, store.LogFilter{AccountID: org.ID}, 0)
			},
		},
		{
			Method: "GET", Path: "/api/v1/user/logs", Op: "listUserLogs", Group: "logs", Scope: auth.ScopeUserAdmin,
			Summary: "List the logs for the current user: actions in the user's namespace and actions the user performed.", Query: logQuery,
			Handle: func(c *Call) (any, error) {
				if err := a.userLogAccess(); err != nil {
					return nil, err
				}
				return a.listLogs(c, store.LogFilter{}, c.ID.User.ID, true)
			},
		},
		{
			Method: "GET", Path: "/api/v1/user/aggregatelogs", Op: "getAggregateUserLogs", Group: "logs", Scope: auth.ScopeUserAdmin,
			Summary: "Returns the aggregated logs for the current user.", Query: aggregateQuery,
			Handle: func(c *Call) (any, error) {
				if err := a.userLogAccess(); err != nil {
					return nil, err
				}
				return a.aggregateLogs(c, store.LogFilter{}, c.ID.User.ID)
			},
		},
		{
			Method: "GET", Path: "/api/v1/superuser/logs", Op: "listAllLogs", Group: "superuser", Scope: auth.ScopeSuperUser,
			Summary: "List the usage logs for the current system.", Query: logQuery,
			Handle: func(c *Call) (any, error) {
				if err := c.RequireSuperuser(); err != nil {
					return nil, err
				}
				return a.listLogs(c, store.LogFilter{}, 0, true)
			},
		},
		{
			Method: "GET", Path: "/api/v1/superuser/aggregatelogs", Op: "listAllAggregateLogs", Group: "superuser", Scope: auth.ScopeSuperUser,
			Summary: "Returns the aggregated logs for the current system.", Query: aggregateQuery,
			Handle: func(c *Call) (any, error) {
				if err := c.RequireSuperuser(); err != nil {
					return nil, err
				}
				return a.aggregateLogs(c, store.LogFilter{}, 0)
			},
		},
	}
}

func (a *API) userLogAccess() error {
	if !a.opts.UserLogAccess {
		return fail(http.StatusNotFound, "not_found", "user logs are disabled on this registry (FEATURE_USER_LOG_ACCESS)")
	}
	return nil
}

// logWindow reads starttime and endtime as Quay does: days (MM/DD/YYYY) in UTC, endtime
// inclusive of its whole day; by default from a day ago to the end of today.
func logWindow(c *Call, now time.Time) (time.Time, time.Time, error) {
	parse := func(name string, def time.Time) (time.Time, error) {
		v := strings.TrimSpace(c.Query(name))
		if v == "" {
			return def, nil
		}
		t, err := time.ParseInLocation(logQueryLayout, v, time.UTC)
		if err != nil {
			return time.Time{}, badRequest(name + " must be a day as MM/DD/YYYY (UTC), e.g. " + now.UTC().Format(logQueryLayout))
		}
		return t, nil
	}
	now = now.UTC()
	start, err := parse("starttime", now.Add(-24*time.Hour))
	if err != nil {
		return start, start, err
	}
	end, err := parse("endtime", now)
	if err != nil {
		return start, end, err
	}
	end = end.Add(24 * time.Hour)
	if end.Before(start) {
		return start, end, badRequest("endtime is before starttime")
	}
	return start, end, nil
}

// logFilter completes f with the request's window, performer and kind filters.
func logFilter(c *Call, f store.LogFilter, now time.Time) (store.LogFilter, error) {
	start, end, err := logWindow(c, now)
	if err != nil {
		return f, err
	}
	f.Start, f.End = start, end
	f.Performer = strings.TrimSpace(c.Query("performer"))
	for _, v := range c.R.URL.Query()["kind"] {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				f.Kinds = append(f.Kinds, k)
			}
		}
	}
	return f, nil
}

func encodePageToken(lastID int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(pageTokenPrefix + strconv.FormatInt(lastID, 10)))
}

func decodePageToken(tok string) (int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err == nil && strings.HasPrefix(string(raw), pageTokenPrefix) {
		id, err := strconv.ParseInt(strings.TrimPrefix(string(raw), pageTokenPrefix), 10, 64)
		if err == nil && id > 0 {
			return id, nil
		}
	}
	return 0, badRequest("invalid next_page token: pass the next_page value of the previous answer")
}

// listLogs answers a page of logs. userID, when not zero, selects the entries in that
// user's namespace or performed by the user; withNamespace adds each entry's namespace.
func (a *API) listLogs(c *Call, f store.LogFilter, userID int64, withNamespace bool) (any, error) {
	f, err := logFilter(c, f, a.store.Now())
	if err != nil {
		return nil, err
	}
	if tok := c.Query("next_page"); tok != "" {
		if f.BeforeID, err = decodePageToken(tok); err != nil {
			return nil, err
		}
	}
	f.Limit = logsPerPage + 1
	var entries []store.LogEntry
	if userID != 0 {
		entries, err = a.store.UserLogs(c.R.Context(), userID, f)
	} else {
		entries, err = a.store.Logs(c.R.Context(), f)
	}
	if err != nil {
		return nil, err
	}
	out := map[string]any{"start_time": f.Start.Format(logDateLayout), "end_time": f.End.Format(logDateLayout)}
	if len(entries) > logsPerPage {
		entries = entries[:logsPerPage]
		out["next_page"] = encodePageToken(entries[len(entries)-1].ID)
	}
	accounts := accountCache{api: a, ctx: c.R.Context(), seen: map[int64]*store.User{}}
	logs := make([]map[string]any, 0, len(entries))
	for _, e := range entries {
		logs = append(logs, accounts.logView(e, withNamespace))
	}
	out["logs"] = logs
	return out, nil
}

// aggregateLogs answers the counts of logs by kind and day.
func (a *API) aggregateLogs(c *Call, f store.LogFilter, userID int64) (any, error) {
	f, err := logFilter(c, f, a.store.Now())
	if err != nil {
		return nil, err
	}
	var counts []store.LogCount
	if userID != 0 {
		counts, err = a.store.AggregateUserLogs(c.R.Context(), userID, f)
	} else {
		counts, err = a.store.AggregateLogs(c.R.Context(), f)
	}
	if err != nil {
		return nil, err
	}
	agg := make([]map[string]any, 0, len(counts))
	for _, n := range counts {
		agg = append(agg, map[string]any{"kind": n.Kind, "count": n.Count, "datetime": n.Day.UTC().Format(logDateLayout)})
	}
	return map[string]any{"aggregated": agg}, nil
}

// accountCache looks up the accounts that log entries name, once per request.
type accountCache struct {
	api  *API
	ctx  context.Context
	seen map[int64]*store.User
}

// get returns the account with id, or nil when it is gone.
func (ac accountCache) get(id int64) *store.User {
	if id == 0 {
		return nil
	}
	if u, ok := ac.seen[id]; ok {
		return u
	}
	var u *store.User
	if acc, err := ac.api.store.AccountByID(ac.ctx, id); err == nil {
		u = &acc
	} else if !errors.Is(err, store.ErrNotFound) {
		ac.api.log.WarnContext(ac.ctx, "log view: account lookup failed", "id", id, "err", err)
	}
	ac.seen[id] = u
	return u
}

// logView is Quay's JSON view of a log entry.
func (ac accountCache) logView(e store.LogEntry, withNamespace bool) map[string]any {
	meta := map[string]any{}
	if err := json.Unmarshal([]byte(e.Metadata), &meta); err != nil || meta == nil {
		meta = map[string]any{}
	}
	if e.Repository != "" {
		if _, ok := meta["repo"]; !ok {
			meta["repo"] = e.Repository
		}
		if _, ok := meta["namespace"]; !ok && e.Account != "" {
			meta["namespace"] = e.Account
		}
	}
	view := map[string]any{"kind": e.Kind, "metadata": meta, "ip": e.IP, "datetime": e.Time.UTC().Format(logDateLayout)}
	if e.Performer != "" {
		email, kind := "", e.PerformerKind
		if u := ac.get(e.PerformerID); u != nil && u.Name == e.Performer {
			email, kind = u.Email, u.Kind
		}
		robot := kind == store.KindRobot
		avKind := "user"
		if robot {
			avKind = "robot"
		}
		view["performer"] = map[string]any{"kind": "user", "name": e.Performer, "is_robot": robot,
			"avatar": adminAvatar(e.Performer, email, avKind)}
	}
	if withNamespace && e.Account != "" {
		kind, email := store.KindUser, ""
		if u := ac.get(e.AccountID); u != nil && u.Name == e.Account {
			kind, email = u.Kind, u.Email
		}
		if kind != store.KindOrg {
			kind = store.KindUser
		}
		view["namespace"] = map[string]any{"kind": kind, "name": e.Account, "avatar": adminAvatar(e.Account, email, kind)}
	}
	return view
}

// avatarColors are the avatar background colours.
var avatarColors = []string{
	"#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
	"#3b6fb6", "#c45a1b", "#4a8c3c", "#a03c78", "#5a5aa8", "#2f8f8f", "#b5482e", "#7a6a2a",
}

// adminAvatar is Quay's avatar data of an account: its name, the hash of its e-mail (of its
// name when it has none), a colour derived from the hash, and its kind.
func adminAvatar(name, email, kind string) map[string]any {
	key := email
	if key == "" {
		key = name
	}
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(key))))
	hash := hex.EncodeToString(sum[:])
	return map[string]any{"name": name, "hash": hash, "color": avatarColors[int(sum[0])%len(avatarColors)], "kind": kind}
}
