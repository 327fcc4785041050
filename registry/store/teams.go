package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Team roles, weakest first.
const (
	TeamMember  = "member"
	TeamCreator = "creator"
	TeamAdmin   = "admin"
)

// Team is a group of users and robots in an organization.
type Team struct {
	ID          int64
	OrgID       int64
	Name        string
	Role        string
	Description string
	// MemberCount and RepoCount are filled by Teams.
	MemberCount, RepoCount int
	// SyncGroup is the directory group synchronized into the team ("" when not synced).
	SyncGroup      string
	SyncLastUpdate int64
}

const teamSelect = `SELECT t.id, t.org_id, t.name, t.role, t.description,
	(SELECT COUNT(*) FROM team_member m WHERE m.team_id = t.id),
	(SELECT COUNT(*) FROM repo_team_permission p WHERE p.team_id = t.id),
	COALESCE(s.group_dn, ''), COALESCE(s.last_updated, 0)
	FROM team t LEFT JOIN team_sync s ON s.team_id = t.id`

func scanTeam(row scanner) (Team, error) {
	var t Team
	err := row.Scan(&t.ID, &t.OrgID, &t.Name, &t.Role, &t.Description, &t.MemberCount, &t.RepoCount, &t.SyncGroup, &t.SyncLastUpdate)
	return t, err
}

// PutTeam creates a team or updates its role and description.
func (s *Store) PutTeam(ctx context.Context, orgID int64, name, role, description string) (Team, error) {
	_, err := s.exec(ctx, `INSERT INTO team (org_id, name, role, description, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (org_id, name) DO UPDATE SET role = excluded.role, description = excluded.description`,
		orgID, name, role, description, s.now())
	if err != nil {
		return Team{}, fmt.Errorf("save team %s: %w", name, err)
	}
	return s.Team(ctx, orgID, name)
}

// Team looks up a team of an organization.
func (s *Store) Team(ctx context.Context, orgID int64, name string) (Team, error) {
	t, err := scanTeam(s.queryRow(ctx, teamSelect+" WHERE t.org_id = ? AND t.name = ?", orgID, name))
	if err != nil {
		return Team{}, notFound(err, "team "+name)
	}
	return t, nil
}

// Teams lists an organization's teams.
func (s *Store) Teams(ctx context.Context, orgID int64) ([]Team, error) {
	return list(ctx, s, "teams", scanTeam, teamSelect+" WHERE t.org_id = ? ORDER BY t.name", orgID)
}

// DeleteTeam deletes a team; its members lose what it granted.
func (s *Store) DeleteTeam(ctx context.Context, teamID int64) error {
	res, err := s.exec(ctx, "DELETE FROM team WHERE id = ?", teamID)
	if err != nil {
		return fmt.Errorf("delete team: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete team: %w", ErrNotFound)
	}
	return nil
}

// AddTeamMember adds a user or robot to a team (a no-op when already a member).
func (s *Store) AddTeamMember(ctx context.Context, teamID, userID int64) error {
	_, err := s.exec(ctx, "INSERT INTO team_member (team_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING", teamID, userID)
	if err != nil {
		return fmt.Errorf("add team member: %w", err)
	}
	return nil
}

// RemoveTeamMember removes a member; ErrNotFound when they were not one.
func (s *Store) RemoveTeamMember(ctx context.Context, teamID, userID int64) error {
	res, err := s.exec(ctx, "DELETE FROM team_member WHERE team_id = ? AND user_id = ?", teamID, userID)
	if err != nil {
		return fmt.Errorf("remove team member: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("remove team member: %w", ErrNotFound)
	}
	return nil
}

// TeamMembers lists a team's users and robots.
func (s *Store) TeamMembers(ctx context.Context, teamID int64) ([]User, error) {
	return s.users(ctx, "SELECT "+userColumns+` FROM namespace WHERE id IN (SELECT user_id FROM team_member WHERE team_id = ?) ORDER BY name`, teamID)
}

// OrgMembers lists the users and robots in any team of an organization, with the teams each
// is in.
func (s *Store) OrgMembers(ctx context.Context, orgID int64) ([]User, map[int64][]string, error) {
	members, err := s.users(ctx, "SELECT "+userColumns+` FROM namespace WHERE id IN
		(SELECT m.user_id FROM team_member m JOIN team t ON t.id = m.team_id WHERE t.org_id = ?) ORDER BY name`, orgID)
	if err != nil {
		return nil, nil, err
	}
	rows, err := s.query(ctx, "SELECT m.user_id, t.name FROM team_member m JOIN team t ON t.id = m.team_id WHERE t.org_id = ? ORDER BY t.name", orgID)
	if err != nil {
		return nil, nil, fmt.Errorf("org members: %w", err)
	}
	defer rows.Close()
	teams := map[int64][]string{}
	for rows.Next() {
		var uid int64
		var name string
		if err := rows.Scan(&uid, &name); err != nil {
			return nil, nil, fmt.Errorf("org members: %w", err)
		}
		teams[uid] = append(teams[uid], name)
	}
	return members, teams, rows.Err()
}

// RemoveOrgMember removes a user from every team of an organization and drops their
// permissions on its repositories.
func (s *Store) RemoveOrgMember(ctx context.Context, orgID, userID int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q("DELETE FROM team_member WHERE user_id = ? AND team_id IN (SELECT id FROM team WHERE org_id = ?)"), userID, orgID)
		if err != nil {
			return fmt.Errorf("remove member: %w", err)
		}
		n, _ := res.RowsAffected()
		res, err = tx.ExecContext(ctx, s.q("DELETE FROM repo_user_permission WHERE user_id = ? AND repository_id IN (SELECT id FROM repository WHERE namespace_id = ?)"), userID, orgID)
		if err != nil {
			return fmt.Errorf("remove member permissions: %w", err)
		}
		m, _ := res.RowsAffected()
		if n+m == 0 {
			return fmt.Errorf("remove member: %w", ErrNotFound)
		}
		return nil
	})
}

// UserTeams lists the teams of an organization a user is in.
func (s *Store) UserTeams(ctx context.Context, orgID, userID int64) ([]Team, error) {
	return list(ctx, s, "user teams", scanTeam, teamSelect+" WHERE t.org_id = ? AND t.id IN (SELECT team_id FROM team_member WHERE user_id = ?) ORDER BY t.name", orgID, userID)
}

// UserOrganizations lists the organizations a user is a member of.
func (s *Store) UserOrganizations(ctx context.Context, userID int64) ([]Namespace, error) {
	return list(ctx, s, "user organizations", func(row scanner) (n Namespace, err error) {
		return n, row.Scan(&n.ID, &n.Name, &n.Kind, &n.Email)
	}, `SELECT id, name, kind, email FROM namespace WHERE kind = 'org' AND id IN
		(SELECT t.org_id FROM team t JOIN team_member m ON m.team_id = t.id WHERE m.user_id = ?) ORDER BY name`, userID)
}

// SetTeamSync synchronizes a team with a directory group; "" stops synchronizing.
func (s *Store) SetTeamSync(ctx context.Context, teamID int64, groupDN string) error {
	var err error
	if groupDN == "" {
		_, err = s.exec(ctx, "DELETE FROM team_sync WHERE team_id = ?", teamID)
	} else {
		_, err = s.exec(ctx, `INSERT INTO team_sync (team_id, group_dn) VALUES (?, ?)
			ON CONFLICT (team_id) DO UPDATE SET group_dn = excluded.group_dn, last_updated = NULL`, teamID, groupDN)
	}
	if err != nil {
		return fmt.Errorf("set team sync: %w", err)
	}
	return nil
}

// StaleSyncedTeams lists synchronized teams last updated before cutoff (or never).
func (s *Store) StaleSyncedTeams(ctx context.Context, cutoff int64) ([]Team, error) {
	return list(ctx, s, "stale synced teams", scanTeam, teamSelect+" WHERE s.team_id IS NOT NULL AND (s.last_updated IS NULL OR s.last_updated < ?) ORDER BY t.id", cutoff)
}

// ReplaceTeamMembers makes userIDs the team's exact membership and marks the sync done. It
// returns the ids added and removed.
func (s *Store) ReplaceTeamMembers(ctx context.Context, teamID int64, userIDs []int64) (added, removed []int64, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		added, removed = nil, nil
		current, err := idList(ctx, tx, s.q("SELECT user_id FROM team_member WHERE team_id = ?"), teamID)
		if err != nil {
			return err
		}
		want := map[int64]bool{}
		for _, id := range userIDs {
			want[id] = true
		}
		have := map[int64]bool{}
		for _, id := range current {
			have[id] = true
			if !want[id] {
				if _, err := tx.ExecContext(ctx, s.q("DELETE FROM team_member WHERE team_id = ? AND user_id = ?"), teamID, id); err != nil {
					return err
				}
				removed = append(removed, id)
			}
		}
		for id := range want {
			if !have[id] {
				if _, err := tx.ExecContext(ctx, s.q("INSERT INTO team_member (team_id, user_id) VALUES (?, ?)"), teamID, id); err != nil {
					return err
				}
				added = append(added, id)
			}
		}
		_, err = tx.ExecContext(ctx, s.q("UPDATE team_sync SET last_updated = ? WHERE team_id = ?"), s.now(), teamID)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("sync team members: %w", err)
	}
	return added, removed, nil
}
