package store

import "context"

// UserLogs lists the entries in a user's own namespace or performed by the user anywhere,
// newest first, further narrowed by f.
func (s *Store) UserLogs(ctx context.Context, userID int64, f LogFilter) ([]LogEntry, error) {
	f.Involving = userID
	return s.Logs(ctx, f)
}

// AggregateUserLogs counts, by kind and day (UTC), the entries UserLogs would list.
func (s *Store) AggregateUserLogs(ctx context.Context, userID int64, f LogFilter) ([]LogCount, error) {
	f.Involving = userID
	return s.AggregateLogs(ctx, f)
}
