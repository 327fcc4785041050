package store

import (
	"context"
	"fmt"
	"time"
)

// involving narrows a filter to the entries in a user's namespace or performed by the user
// (the filter's AccountID and PerformerID are ignored).
func (f LogFilter) involving(userID int64) (string, []any) {
	f.AccountID, f.PerformerID = 0, 0
	where, args := f.where()
	cond := "(account_id = ? OR performer_id = ?)"
	if where == "" {
		return " WHERE " + cond, []any{userID, userID}
	}
	return where + " AND " + cond, append(args, userID, userID)
}

// UserLogs lists the entries in a user's own namespace or performed by the user anywhere,
// newest first, further narrowed by f.
func (s *Store) UserLogs(ctx context.Context, userID int64, f LogFilter) ([]LogEntry, error) {
	where, args := f.involving(userID)
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, kind, COALESCE(performer_id, 0), performer, performer_kind, COALESCE(account_id, 0), account,
		COALESCE(repository_id, 0), repository, ip, metadata, created_at FROM log_entry`+where+" ORDER BY id DESC LIMIT ?"), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("read user audit log: %w", err)
	}
	defer rows.Close()
	out := []LogEntry{}
	for rows.Next() {
		var e LogEntry
		var at int64
		if err := rows.Scan(&e.ID, &e.Kind, &e.PerformerID, &e.Performer, &e.PerformerKind, &e.AccountID, &e.Account,
			&e.RepositoryID, &e.Repository, &e.IP, &e.Metadata, &at); err != nil {
			return nil, fmt.Errorf("read user audit log: %w", err)
		}
		e.Time = fromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// AggregateUserLogs counts, by kind and day (UTC), the entries UserLogs would list.
func (s *Store) AggregateUserLogs(ctx context.Context, userID int64, f LogFilter) ([]LogCount, error) {
	f.BeforeID, f.Limit = 0, 0
	where, args := f.involving(userID)
	const day = int64(24 * time.Hour / time.Microsecond)
	rows, err := s.db.QueryContext(ctx, s.q(fmt.Sprintf(`SELECT kind, created_at / %d AS day, COUNT(*) FROM log_entry%s GROUP BY kind, created_at / %d ORDER BY 2, 1`,
		day, where, day)), args...)
	if err != nil {
		return nil, fmt.Errorf("aggregate user audit log: %w", err)
	}
	defer rows.Close()
	out := []LogCount{}
	for rows.Next() {
		var c LogCount
		var d int64
		if err := rows.Scan(&c.Kind, &d, &c.Count); err != nil {
			return nil, fmt.Errorf("aggregate user audit log: %w", err)
		}
		c.Day = fromMicros(d * day).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}
