package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Queries of the superuser panel: the registry's size and counts, and taking ownership of
// an organization.

// Stats counts what the registry holds.
type Stats struct {
	Users, Organizations, Robots int64
	// Repositories, Tags (live ones), Manifests (per repository) and Blobs (distinct
	// contents).
	Repositories, Tags, Manifests, Blobs int64
	// BlobBytes is the sum of the sizes of the distinct blobs: the storage the registry's
	// content takes, each blob counted once however many repositories share it.
	BlobBytes int64
}

// RegistryStats counts users, organizations, robots, repositories, live tags, manifests and
// blobs, and sums the blobs' sizes, in one query. Blobs being deleted by the garbage
// collector are left out.
func (s *Store) RegistryStats(ctx context.Context) (Stats, error) {
	var st Stats
	err := s.queryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM namespace WHERE kind = 'user'),
		(SELECT COUNT(*) FROM namespace WHERE kind = 'org'),
		(SELECT COUNT(*) FROM namespace WHERE kind = 'robot'),
		(SELECT COUNT(*) FROM repository),
		(SELECT COUNT(*) FROM tag WHERE lifetime_end IS NULL AND (expires_at IS NULL OR expires_at > ?)),
		(SELECT COUNT(*) FROM manifest WHERE NOT hidden),
		(SELECT COUNT(*) FROM blob WHERE NOT deleting),
		(SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM blob WHERE NOT deleting)`, s.now()).
		Scan(&st.Users, &st.Organizations, &st.Robots, &st.Repositories, &st.Tags, &st.Manifests, &st.Blobs, &st.BlobBytes)
	if err != nil {
		return Stats{}, fmt.Errorf("registry stats: %w", err)
	}
	return st, nil
}

// ownerTeamNames are the names TakeOwnership gives an admin team it has to create, in order
// of preference.
var ownerTeamNames = []string{"owners", "admins", "superusers"}

// TakeOwnership makes a user a member of an admin team of the organization orgID: its
// "owners" team when that is an admin team, else its first admin team by name, else a new
// admin team (named owners, or admins, or superusers, whichever is free). It returns the
// team's name and whether the user was added (false when already a member).
func (s *Store) TakeOwnership(ctx context.Context, orgID, userID int64) (team string, added bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		team, added = "", false
		var teamID int64
		err := tx.QueryRowContext(ctx, s.q(`SELECT id, name FROM team WHERE org_id = ? AND role = 'admin'
			ORDER BY CASE WHEN name = 'owners' THEN 0 ELSE 1 END, name LIMIT 1`+s.forUpdate()), orgID).Scan(&teamID, &team)
		if errors.Is(err, sql.ErrNoRows) {
			teamID, team, err = s.createOwnerTeam(ctx, tx, orgID)
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q("INSERT INTO team_member (team_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING"), teamID, userID)
		if err != nil {
			return fmt.Errorf("add to team %s: %w", team, err)
		}
		n, _ := res.RowsAffected()
		added = n > 0
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("take ownership: %w", err)
	}
	return team, added, nil
}

// createOwnerTeam creates an admin team in an organization that has none.
func (s *Store) createOwnerTeam(ctx context.Context, tx *sql.Tx, orgID int64) (int64, string, error) {
	for _, name := range ownerTeamNames {
		var taken int
		if err := tx.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM team WHERE org_id = ? AND name = ?"), orgID, name).Scan(&taken); err != nil {
			return 0, "", fmt.Errorf("look for team %s: %w", name, err)
		}
		if taken > 0 {
			continue
		}
		var id int64
		err := tx.QueryRowContext(ctx, s.q(`INSERT INTO team (org_id, name, role, description, created_at)
			VALUES (?, ?, 'admin', 'Owners of the organization', ?) RETURNING id`), orgID, name, s.now()).Scan(&id)
		if err != nil {
			return 0, "", fmt.Errorf("create team %s: %w", name, err)
		}
		return id, name, nil
	}
	return 0, "", fmt.Errorf("no free name for an admin team: %w", ErrExists)
}
