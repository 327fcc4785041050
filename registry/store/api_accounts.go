package store

import (
	"context"
	"fmt"
)

// Queries of the REST API's user, organization, team and robot endpoints.

// UserByEmail finds the user with an email address (compared without case).
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	u, err := scanUser(s.queryRow(ctx, "SELECT "+userColumns+" FROM namespace WHERE kind = 'user' AND LOWER(email) = LOWER(?) ORDER BY id LIMIT 1", email))
	if err != nil {
		return User{}, notFound(err, "user with email "+email)
	}
	return u, nil
}

// OrgAdminIDs lists the users (not robots) in a team of the organization whose role is
// admin.
func (s *Store) OrgAdminIDs(ctx context.Context, orgID int64) ([]int64, error) {
	rows, err := s.query(ctx, `SELECT DISTINCT m.user_id FROM team_member m JOIN team t ON t.id = m.team_id
		JOIN namespace n ON n.id = m.user_id WHERE t.org_id = ? AND t.role = 'admin' AND n.kind = 'user' ORDER BY m.user_id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("organization admins: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("organization admins: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// OrgMemberRepositories maps each account holding a direct role on a repository of the
// organization to the names of those repositories (in name order).
func (s *Store) OrgMemberRepositories(ctx context.Context, orgID int64) (map[int64][]string, error) {
	rows, err := s.query(ctx, `SELECT p.user_id, r.name FROM repo_user_permission p JOIN repository r ON r.id = p.repository_id
		WHERE r.namespace_id = ? ORDER BY r.name`, orgID)
	if err != nil {
		return nil, fmt.Errorf("organization member repositories: %w", err)
	}
	defer rows.Close()
	out := map[int64][]string{}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("organization member repositories: %w", err)
		}
		out[id] = append(out[id], name)
	}
	return out, rows.Err()
}

// DeleteUserSessions signs a user out of every web session.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) error {
	if _, err := s.exec(ctx, "DELETE FROM web_session WHERE user_id = ?", userID); err != nil {
		return fmt.Errorf("delete sessions: %w", err)
	}
	return nil
}
