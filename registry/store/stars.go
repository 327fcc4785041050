package store

import (
	"context"
	"fmt"
	"strings"
)

// StarRepository marks a repository for a user; starring twice is one star.
func (s *Store) StarRepository(ctx context.Context, userID, repoID int64) error {
	if _, err := s.exec(ctx, `INSERT INTO repository_star (user_id, repository_id, created_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id, repository_id) DO NOTHING`, userID, repoID, s.now()); err != nil {
		return fmt.Errorf("star repository %d: %w", repoID, err)
	}
	return nil
}

// UnstarRepository removes a user's star (none is no error).
func (s *Store) UnstarRepository(ctx context.Context, userID, repoID int64) error {
	if _, err := s.exec(ctx, "DELETE FROM repository_star WHERE user_id = ? AND repository_id = ?", userID, repoID); err != nil {
		return fmt.Errorf("unstar repository %d: %w", repoID, err)
	}
	return nil
}

// StarredAmong returns which of the repositories the user starred.
func (s *Store) StarredAmong(ctx context.Context, userID int64, repoIDs []int64) (map[int64]bool, error) {
	out := map[int64]bool{}
	if len(repoIDs) == 0 || userID == 0 {
		return out, nil
	}
	args := []any{userID}
	marks := make([]string, len(repoIDs))
	for i, id := range repoIDs {
		marks[i] = "?"
		args = append(args, id)
	}
	rows, err := s.db.QueryContext(ctx, s.q("SELECT repository_id FROM repository_star WHERE user_id = ? AND repository_id IN ("+strings.Join(marks, ",")+")"), args...)
	if err != nil {
		return nil, fmt.Errorf("read stars: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read stars: %w", err)
		}
		out[id] = true
	}
	return out, rows.Err()
}
