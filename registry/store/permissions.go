package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Repository roles, weakest first.
const (
	RoleRead  = "read"
	RoleWrite = "write"
	RoleAdmin = "admin"
)

var roleRank = map[string]int{RoleRead: 1, RoleWrite: 2, RoleAdmin: 3}
var rankRole = []string{"", RoleRead, RoleWrite, RoleAdmin}
var teamRoleRank = map[string]int{TeamMember: 1, TeamCreator: 2, TeamAdmin: 3}
var rankTeamRole = []string{"", TeamMember, TeamCreator, TeamAdmin}

// AccessFacts are what authorization needs to know about one account and one repository.
type AccessFacts struct {
	// NamespaceID and NamespaceKind describe the namespace (0 and "" when it does not exist).
	NamespaceID   int64
	NamespaceKind string
	// RepositoryID is 0 when the repository does not exist.
	RepositoryID int64
	Public       bool
	// OrgRole is the account's strongest team role in the namespace ("" when none).
	OrgRole string
	// RepoRole is the strongest role the account holds on the repository, directly or
	// through a team ("" when none).
	RepoRole string
}

// AccessFacts gathers, in one query, what authorizing accountID (0 for anonymous) on
// NAMESPACE/NAME needs.
func (s *Store) AccessFacts(ctx context.Context, accountID int64, namespace, name string) (AccessFacts, error) {
	var f AccessFacts
	var repoID sql.NullInt64
	var public sql.NullBool
	var orgRank, repoRank sql.NullInt64
	err := s.queryRow(ctx, `SELECT n.id, n.kind, r.id, r.visibility = 'public',
		(SELECT MAX(CASE t.role WHEN 'admin' THEN 3 WHEN 'creator' THEN 2 ELSE 1 END)
			FROM team t JOIN team_member m ON m.team_id = t.id WHERE t.org_id = n.id AND m.user_id = ?),
		(SELECT MAX(CASE p.role WHEN 'admin' THEN 3 WHEN 'write' THEN 2 ELSE 1 END) FROM (
			SELECT role FROM repo_user_permission WHERE repository_id = r.id AND user_id = ?
			UNION ALL
			SELECT tp.role FROM repo_team_permission tp JOIN team_member m ON m.team_id = tp.team_id
				WHERE tp.repository_id = r.id AND m.user_id = ?) p)
		FROM namespace n LEFT JOIN repository r ON r.namespace_id = n.id AND r.name = ?
		WHERE n.name = ? AND n.kind <> 'robot'`, accountID, accountID, accountID, name, namespace).
		Scan(&f.NamespaceID, &f.NamespaceKind, &repoID, &public, &orgRank, &repoRank)
	if err == sql.ErrNoRows {
		return AccessFacts{}, nil
	}
	if err != nil {
		return AccessFacts{}, fmt.Errorf("access facts for %s/%s: %w", namespace, name, err)
	}
	f.RepositoryID, f.Public = repoID.Int64, public.Bool
	f.OrgRole = rankTeamRole[orgRank.Int64]
	f.RepoRole = rankRole[repoRank.Int64]
	return f, nil
}

// StrongerRole returns the stronger of two repository roles.
func StrongerRole(a, b string) string {
	if roleRank[b] > roleRank[a] {
		return b
	}
	return a
}

// ValidRole reports whether role is a repository role.
func ValidRole(role string) bool { return roleRank[role] > 0 }

// ValidTeamRole reports whether role is a team role.
func ValidTeamRole(role string) bool { return teamRoleRank[role] > 0 }

// readableClause is a WHERE condition on repository r true when viewer v may read it.
func readableClause(v Viewer) (string, []any) {
	if v.All {
		return "TRUE", nil
	}
	public := "r.visibility = 'public'"
	if !v.Public {
		public = "FALSE"
	}
	if v.UserID == 0 {
		return public, nil
	}
	return "(" + public + ` OR r.namespace_id = ?
		OR EXISTS (SELECT 1 FROM repo_user_permission p WHERE p.repository_id = r.id AND p.user_id = ?)
		OR EXISTS (SELECT 1 FROM repo_team_permission p JOIN team_member m ON m.team_id = p.team_id
			WHERE p.repository_id = r.id AND m.user_id = ?)
		OR EXISTS (SELECT 1 FROM team t JOIN team_member m ON m.team_id = t.id
			WHERE t.org_id = r.namespace_id AND t.role = 'admin' AND m.user_id = ?))`,
		[]any{v.UserID, v.UserID, v.UserID, v.UserID}
}

// Permission is one account's or team's role on a repository.
type Permission struct {
	Role string
	// Account is set for user and robot permissions, Team for team permissions.
	Account User
	Team    Team
	// Repository is set by the listings by account or team.
	Repository Repository
}

// SetUserPermission gives a user or robot a role on a repository.
func (s *Store) SetUserPermission(ctx context.Context, repoID, userID int64, role string) error {
	_, err := s.exec(ctx, `INSERT INTO repo_user_permission (repository_id, user_id, role) VALUES (?, ?, ?)
		ON CONFLICT (repository_id, user_id) DO UPDATE SET role = excluded.role`, repoID, userID, role)
	if err != nil {
		return fmt.Errorf("set permission: %w", err)
	}
	return nil
}

// DeleteUserPermission removes a user's or robot's role on a repository.
func (s *Store) DeleteUserPermission(ctx context.Context, repoID, userID int64) error {
	return s.deleteOne(ctx, "DELETE FROM repo_user_permission WHERE repository_id = ? AND user_id = ?", "permission", repoID, userID)
}

// SetTeamPermission gives a team a role on a repository.
func (s *Store) SetTeamPermission(ctx context.Context, repoID, teamID int64, role string) error {
	_, err := s.exec(ctx, `INSERT INTO repo_team_permission (repository_id, team_id, role) VALUES (?, ?, ?)
		ON CONFLICT (repository_id, team_id) DO UPDATE SET role = excluded.role`, repoID, teamID, role)
	if err != nil {
		return fmt.Errorf("set team permission: %w", err)
	}
	return nil
}

// DeleteTeamPermission removes a team's role on a repository.
func (s *Store) DeleteTeamPermission(ctx context.Context, repoID, teamID int64) error {
	return s.deleteOne(ctx, "DELETE FROM repo_team_permission WHERE repository_id = ? AND team_id = ?", "team permission", repoID, teamID)
}

func (s *Store) deleteOne(ctx context.Context, query, what string, args ...any) error {
	res, err := s.exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("delete %s: %w", what, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete %s: %w", what, ErrNotFound)
	}
	return nil
}

// UserPermissions lists the users' and robots' roles on a repository.
func (s *Store) UserPermissions(ctx context.Context, repoID int64) ([]Permission, error) {
	return list(ctx, s, "permissions", func(row scanner) (p Permission, err error) {
		p.Account, err = scanUser(rowPrefix{row, &p.Role})
		return p, err
	}, "SELECT p.role, "+userColumns+` FROM repo_user_permission p
		JOIN namespace n ON n.id = p.user_id WHERE p.repository_id = ? ORDER BY n.name`, repoID)
}

// TeamPermissions lists the teams' roles on a repository.
func (s *Store) TeamPermissions(ctx context.Context, repoID int64) ([]Permission, error) {
	return list(ctx, s, "team permissions", func(row scanner) (p Permission, err error) {
		return p, row.Scan(&p.Role, &p.Team.ID, &p.Team.OrgID, &p.Team.Name, &p.Team.Role, &p.Team.Description)
	}, `SELECT p.role, t.id, t.org_id, t.name, t.role, t.description FROM repo_team_permission p
		JOIN team t ON t.id = p.team_id WHERE p.repository_id = ? ORDER BY t.name`, repoID)
}

// AccountRepoPermissions lists the repositories a user or robot holds a direct role on.
func (s *Store) AccountRepoPermissions(ctx context.Context, userID int64) ([]Permission, error) {
	return s.repoPermissions(ctx, "SELECT p.role, "+repoColumns+" FROM repo_user_permission p JOIN repository r ON r.id = p.repository_id JOIN namespace n ON n.id = r.namespace_id WHERE p.user_id = ? ORDER BY n.name, r.name", userID)
}

// TeamRepoPermissions lists the repositories a team holds a role on.
func (s *Store) TeamRepoPermissions(ctx context.Context, teamID int64) ([]Permission, error) {
	return s.repoPermissions(ctx, "SELECT p.role, "+repoColumns+" FROM repo_team_permission p JOIN repository r ON r.id = p.repository_id JOIN namespace n ON n.id = r.namespace_id WHERE p.team_id = ? ORDER BY n.name, r.name", teamID)
}

func (s *Store) repoPermissions(ctx context.Context, query string, id int64) ([]Permission, error) {
	return list(ctx, s, "permissions", func(row scanner) (p Permission, err error) {
		p.Repository, err = scanRepo(rowPrefix{row, &p.Role})
		return p, err
	}, query, id)
}

// rowPrefix scans leading columns into extra destinations before a row scanner's own.
type rowPrefix struct {
	row   scanner
	first any
}

func (p rowPrefix) Scan(dest ...any) error { return p.row.Scan(append([]any{p.first}, dest...)...) }

// Prototype is a default permission: on repositories created in the organization (by
// ActivatingUser, or by anyone when it is zero), the delegate gets Role.
type Prototype struct {
	ID               int64
	UUID             string
	OrgID            int64
	ActivatingUserID int64
	DelegateUserID   int64
	DelegateTeamID   int64
	Role             string
}

const prototypeColumns = "id, uuid, org_id, COALESCE(activating_user_id, 0), COALESCE(delegate_user_id, 0), COALESCE(delegate_team_id, 0), role"

func scanPrototype(row scanner) (Prototype, error) {
	var p Prototype
	err := row.Scan(&p.ID, &p.UUID, &p.OrgID, &p.ActivatingUserID, &p.DelegateUserID, &p.DelegateTeamID, &p.Role)
	return p, err
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// CreatePrototype adds a default permission.
func (s *Store) CreatePrototype(ctx context.Context, p Prototype) (Prototype, error) {
	err := s.queryRow(ctx, `INSERT INTO prototype (uuid, org_id, activating_user_id, delegate_user_id, delegate_team_id, role)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, p.UUID, p.OrgID, nullID(p.ActivatingUserID), nullID(p.DelegateUserID),
		nullID(p.DelegateTeamID), p.Role).Scan(&p.ID)
	if err != nil {
		return Prototype{}, fmt.Errorf("create default permission: %w", err)
	}
	return p, nil
}

// Prototypes lists an organization's default permissions.
func (s *Store) Prototypes(ctx context.Context, orgID int64) ([]Prototype, error) {
	return list(ctx, s, "default permissions", scanPrototype, "SELECT "+prototypeColumns+" FROM prototype WHERE org_id = ? ORDER BY id", orgID)
}

// Prototype looks up a default permission of an organization by uuid.
func (s *Store) Prototype(ctx context.Context, orgID int64, uuid string) (Prototype, error) {
	p, err := scanPrototype(s.queryRow(ctx, "SELECT "+prototypeColumns+" FROM prototype WHERE org_id = ? AND uuid = ?", orgID, uuid))
	if err != nil {
		return Prototype{}, notFound(err, "default permission "+uuid)
	}
	return p, nil
}

// SetPrototypeRole changes a default permission's role.
func (s *Store) SetPrototypeRole(ctx context.Context, id int64, role string) error {
	_, err := s.exec(ctx, "UPDATE prototype SET role = ? WHERE id = ?", role, id)
	return err
}

// DeletePrototype removes a default permission.
func (s *Store) DeletePrototype(ctx context.Context, id int64) error {
	return s.deleteOne(ctx, "DELETE FROM prototype WHERE id = ?", "default permission", id)
}
