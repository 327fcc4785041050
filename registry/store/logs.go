package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// LogEntry is one audit log row.
type LogEntry struct {
	ID            int64
	Kind          string
	PerformerID   int64
	Performer     string
	PerformerKind string // user, robot, org or "" for anonymous
	AccountID     int64  // the namespace acted in
	Account       string
	RepositoryID  int64
	Repository    string // name within the namespace
	IP            string
	Metadata      string // JSON object
	Time          time.Time
}

// AppendLog writes an audit log entry.
func (s *Store) AppendLog(ctx context.Context, e LogEntry) error {
	if e.Metadata == "" {
		e.Metadata = "{}"
	}
	at := s.now()
	if !e.Time.IsZero() {
		at = micros(e.Time)
	}
	_, err := s.exec(ctx, `INSERT INTO log_entry (kind, performer_id, performer, performer_kind, account_id, account, repository_id, repository, ip, metadata, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Kind, nullID(e.PerformerID), e.Performer, e.PerformerKind, nullID(e.AccountID),
		e.Account, nullID(e.RepositoryID), e.Repository, e.IP, e.Metadata, at)
	if err != nil {
		return fmt.Errorf("write audit log: %w", err)
	}
	return nil
}

// LogFilter selects audit log entries. Zero fields do not filter.
type LogFilter struct {
	AccountID    int64
	RepositoryID int64
	PerformerID  int64
	Performer    string
	Kinds        []string
	Start, End   time.Time
	// Involving keeps the entries in this user's namespace or performed by the user
	// (AccountID and PerformerID are then ignored).
	Involving int64
	// BeforeID pages backwards: only entries with a smaller id.
	BeforeID int64
	Limit    int
}

func (f LogFilter) where() (string, []any) {
	var where []string
	var args []any
	add := func(cond string, v ...any) { where = append(where, cond); args = append(args, v...) }
	switch {
	case f.Involving != 0:
		add("(account_id = ? OR performer_id = ?)", f.Involving, f.Involving)
	case f.AccountID != 0 && f.PerformerID != 0:
		add("account_id = ? AND performer_id = ?", f.AccountID, f.PerformerID)
	case f.AccountID != 0:
		add("account_id = ?", f.AccountID)
	case f.PerformerID != 0:
		add("performer_id = ?", f.PerformerID)
	}
	if f.RepositoryID != 0 {
		add("repository_id = ?", f.RepositoryID)
	}
	if f.Performer != "" {
		add("performer = ?", f.Performer)
	}
	if len(f.Kinds) > 0 {
		add("kind IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(f.Kinds)), ", ")+")", anySlice(f.Kinds)...)
	}
	if !f.Start.IsZero() {
		add("created_at >= ?", micros(f.Start))
	}
	if !f.End.IsZero() {
		add("created_at < ?", micros(f.End))
	}
	if f.BeforeID != 0 {
		add("id < ?", f.BeforeID)
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

func anySlice(v []string) []any {
	out := make([]any, len(v))
	for i := range v {
		out[i] = v[i]
	}
	return out
}

// Logs lists matching entries, newest first.
func (s *Store) Logs(ctx context.Context, f LogFilter) ([]LogEntry, error) {
	where, args := f.where()
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, kind, COALESCE(performer_id, 0), performer, performer_kind, COALESCE(account_id, 0), account,
		COALESCE(repository_id, 0), repository, ip, metadata, created_at FROM log_entry`+where+" ORDER BY id DESC LIMIT ?"), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	out := []LogEntry{}
	for rows.Next() {
		var e LogEntry
		var at int64
		if err := rows.Scan(&e.ID, &e.Kind, &e.PerformerID, &e.Performer, &e.PerformerKind, &e.AccountID, &e.Account,
			&e.RepositoryID, &e.Repository, &e.IP, &e.Metadata, &at); err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		e.Time = fromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// LogCount is the number of entries of one kind on one day (UTC).
type LogCount struct {
	Kind  string
	Day   time.Time
	Count int
}

// AggregateLogs counts matching entries by kind and day.
func (s *Store) AggregateLogs(ctx context.Context, f LogFilter) ([]LogCount, error) {
	f.BeforeID, f.Limit = 0, 0
	where, args := f.where()
	const day = int64(24 * time.Hour / time.Microsecond)
	rows, err := s.db.QueryContext(ctx, s.q(fmt.Sprintf(`SELECT kind, created_at / %d AS day, COUNT(*) FROM log_entry%s GROUP BY kind, created_at / %d ORDER BY 2, 1`, day, where, day)), args...)
	if err != nil {
		return nil, fmt.Errorf("aggregate audit log: %w", err)
	}
	defer rows.Close()
	out := []LogCount{}
	for rows.Next() {
		var c LogCount
		var d int64
		if err := rows.Scan(&c.Kind, &d, &c.Count); err != nil {
			return nil, fmt.Errorf("aggregate audit log: %w", err)
		}
		c.Day = fromMicros(d * day).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// PruneLogs deletes entries older than before and returns how many went.
func (s *Store) PruneLogs(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.exec(ctx, "DELETE FROM log_entry WHERE created_at < ?", micros(before))
	if err != nil {
		return 0, fmt.Errorf("prune audit log: %w", err)
	}
	return res.RowsAffected()
}
