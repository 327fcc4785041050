package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Repository is a repository row.
type Repository struct {
	ID            int64
	NamespaceID   int64
	Namespace     string
	NamespaceKind string
	Name          string
	Public        bool
	Description   string
	CreatedAt     time.Time
	// LastModified is the start of the newest tag lifetime (zero when never tagged); set
	// by ListRepositories.
	LastModified time.Time
}

// FullName is NAMESPACE/NAME.
func (r Repository) FullName() string { return r.Namespace + "/" + r.Name }

const repoColumns = "r.id, r.namespace_id, n.name, n.kind, r.name, r.visibility = 'public', r.description, r.created_at"

const repoSelect = "SELECT " + repoColumns + " FROM repository r JOIN namespace n ON n.id = r.namespace_id"

func scanRepo(row scanner) (Repository, error) {
	var r Repository
	var created int64
	err := row.Scan(&r.ID, &r.NamespaceID, &r.Namespace, &r.NamespaceKind, &r.Name, &r.Public, &r.Description, &created)
	r.CreatedAt = fromMicros(created)
	return r, err
}

// Repository looks up NAMESPACE/NAME.
func (s *Store) Repository(ctx context.Context, namespace, name string) (Repository, error) {
	r, err := scanRepo(s.queryRow(ctx, repoSelect+" WHERE n.name = ? AND r.name = ?", namespace, name))
	if err != nil {
		return Repository{}, notFound(err, "repository "+namespace+"/"+name)
	}
	return r, nil
}

// NewRepository describes a repository to create.
type NewRepository struct {
	Namespace, Name string
	Public          bool
	Description     string
	// CreatorID is the account creating it. In an organization, a creator who is not an
	// organization admin gets the admin role on it, and the organization's default
	// permissions (prototypes) that apply to the creator are granted.
	CreatorID int64
}

// CreateRepository creates a repository with its initial permissions in one transaction. It
// returns ErrExists when the name is taken.
func (s *Store) CreateRepository(ctx context.Context, nr NewRepository) (Repository, error) {
	ns, err := s.Namespace(ctx, nr.Namespace)
	if err != nil {
		return Repository{}, err
	}
	visibility := "private"
	if nr.Public {
		visibility = "public"
	}
	var id int64
	err = s.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, s.q(`INSERT INTO repository (namespace_id, name, visibility, description, created_at)
			VALUES (?, ?, ?, ?, ?) RETURNING id`), ns.ID, nr.Name, visibility, nr.Description, s.now()).Scan(&id)
		if isUniqueViolation(err) {
			return fmt.Errorf("create repository %s/%s: %w", nr.Namespace, nr.Name, ErrExists)
		}
		if err != nil {
			return fmt.Errorf("create repository %s/%s: %w", nr.Namespace, nr.Name, err)
		}
		if ns.Kind != KindOrg {
			return nil
		}
		return s.applyDefaultPermissions(ctx, tx, ns.ID, id, nr.CreatorID)
	})
	if err != nil {
		return Repository{}, err
	}
	return s.Repository(ctx, nr.Namespace, nr.Name)
}

// applyDefaultPermissions grants, on a new repository of an organization, admin to its
// creator (unless an organization admin) and what the organization's prototypes say.
func (s *Store) applyDefaultPermissions(ctx context.Context, tx *sql.Tx, orgID, repoID, creatorID int64) error {
	if creatorID != 0 {
		var admin int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM team t JOIN team_member m ON m.team_id = t.id
			WHERE t.org_id = ? AND t.role = 'admin' AND m.user_id = ?`), orgID, creatorID).Scan(&admin); err != nil {
			return fmt.Errorf("default permissions: %w", err)
		}
		var kind string
		if err := tx.QueryRowContext(ctx, s.q("SELECT kind FROM namespace WHERE id = ?"), creatorID).Scan(&kind); err != nil {
			return fmt.Errorf("default permissions: %w", err)
		}
		if admin == 0 && kind == KindUser {
			if _, err := tx.ExecContext(ctx, s.q("INSERT INTO repo_user_permission (repository_id, user_id, role) VALUES (?, ?, 'admin')"),
				repoID, creatorID); err != nil {
				return fmt.Errorf("grant creator admin: %w", err)
			}
		}
	}
	rows, err := tx.QueryContext(ctx, s.q(`SELECT COALESCE(delegate_user_id, 0), COALESCE(delegate_team_id, 0), role FROM prototype
		WHERE org_id = ? AND (activating_user_id IS NULL OR activating_user_id = ?) ORDER BY id`), orgID, creatorID)
	if err != nil {
		return fmt.Errorf("default permissions: %w", err)
	}
	type grant struct {
		user, team int64
		role       string
	}
	var grants []grant
	for rows.Next() {
		var g grant
		if err := rows.Scan(&g.user, &g.team, &g.role); err != nil {
			rows.Close()
			return err
		}
		grants = append(grants, g)
	}
	rows.Close()
	for _, g := range grants {
		var err error
		if g.user != 0 {
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO repo_user_permission (repository_id, user_id, role) VALUES (?, ?, ?)
				ON CONFLICT (repository_id, user_id) DO UPDATE SET role = CASE WHEN repo_user_permission.role = 'admin' OR excluded.role = 'read' AND repo_user_permission.role = 'write' THEN repo_user_permission.role ELSE excluded.role END`),
				repoID, g.user, g.role)
		} else if g.team != 0 {
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO repo_team_permission (repository_id, team_id, role) VALUES (?, ?, ?)
				ON CONFLICT (repository_id, team_id) DO UPDATE SET role = CASE WHEN repo_team_permission.role = 'admin' OR excluded.role = 'read' AND repo_team_permission.role = 'write' THEN repo_team_permission.role ELSE excluded.role END`),
				repoID, g.team, g.role)
		}
		if err != nil {
			return fmt.Errorf("apply default permission: %w", err)
		}
	}
	return nil
}

// EnsureRepository returns NAMESPACE/NAME, creating it (private, with its default
// permissions) when it does not exist. The namespace must exist. It reports whether it
// created the repository.
func (s *Store) EnsureRepository(ctx context.Context, namespace, name string, creatorID int64) (Repository, bool, error) {
	if r, err := s.Repository(ctx, namespace, name); err == nil {
		return r, false, nil
	}
	r, err := s.CreateRepository(ctx, NewRepository{Namespace: namespace, Name: name, CreatorID: creatorID})
	if errors.Is(err, ErrExists) {
		r, err = s.Repository(ctx, namespace, name)
		return r, false, err
	}
	return r, err == nil, err
}

// SetVisibility makes a repository public or private.
func (s *Store) SetVisibility(ctx context.Context, repoID int64, public bool) error {
	v := "private"
	if public {
		v = "public"
	}
	res, err := s.exec(ctx, "UPDATE repository SET visibility = ? WHERE id = ?", v, repoID)
	if err != nil {
		return fmt.Errorf("set visibility: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("set visibility: repository %d: %w", repoID, ErrNotFound)
	}
	return nil
}

// Viewer says whose view of the registry a listing takes: which repositories it may see.
type Viewer struct {
	// UserID is the signed-in user, 0 for anonymous.
	UserID int64
	// All is set for superusers, who see everything.
	All bool
	// Public includes every public repository.
	Public bool
}

// Catalog lists the full names of repositories the viewer can read, in lexical order, after
// last, at most n.
func (s *Store) Catalog(ctx context.Context, v Viewer, last string, n int) ([]string, error) {
	full := "n.name || '/' || r.name"
	where := []string{full + " > ?"}
	args := []any{last}
	clause, cargs := readableClause(v)
	where = append(where, clause)
	args = append(args, cargs...)
	query := "SELECT " + full + " FROM repository r JOIN namespace n ON n.id = r.namespace_id WHERE " +
		strings.Join(where, " AND ") + " ORDER BY 1"
	if s.dialect == Postgres {
		query = strings.Replace(query, "ORDER BY 1", "ORDER BY ("+full+`) COLLATE "C"`, 1)
		query = strings.Replace(query, full+" > ?", "("+full+`) COLLATE "C" > ?`, 1)
	}
	query += " LIMIT ?"
	args = append(args, n)
	return list(ctx, s, "catalog", scanString, query, args...)
}

// DeleteRepository deletes a repository with its tags, manifests, links, uploads, permissions
// and labels. Blob bytes are left to the garbage collector.
func (s *Store) DeleteRepository(ctx context.Context, repoID int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return s.deleteRepositoryTx(ctx, tx, repoID) })
}

func (s *Store) deleteRepositoryTx(ctx context.Context, tx *sql.Tx, repoID int64) error {
	res, err := tx.ExecContext(ctx, s.q("DELETE FROM repository WHERE id = ?"), repoID)
	if err != nil {
		return fmt.Errorf("delete repository %d: %w", repoID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete repository %d: %w", repoID, ErrNotFound)
	}
	return nil
}

// SetRepositoryDescription changes a repository's description.
func (s *Store) SetRepositoryDescription(ctx context.Context, repoID int64, description string) error {
	if _, err := s.exec(ctx, "UPDATE repository SET description = ? WHERE id = ?", description, repoID); err != nil {
		return fmt.Errorf("set description: %w", err)
	}
	return nil
}

// RepoListing selects repositories for the API's list.
type RepoListing struct {
	Viewer Viewer
	// Namespace limits the list to one namespace ("" for any).
	Namespace string
	// Filter keeps repositories whose NAMESPACE/NAME contains it, ignoring case ("" for all).
	Filter string
	// Visibility keeps only public or only private repositories ("" for both).
	Visibility string
	// StarredBy keeps the repositories this user starred (0 for all).
	StarredBy int64
	// AfterID pages: only repositories with a larger id.
	AfterID int64
	Limit   int
}

// ListRepositories lists the repositories the viewer can read, by id, with the time their
// newest tag was set.
func (s *Store) ListRepositories(ctx context.Context, l RepoListing) ([]Repository, error) {
	clause, args := readableClause(l.Viewer)
	query := "SELECT " + repoColumns + `, COALESCE((SELECT MAX(t.lifetime_start) FROM tag t WHERE t.repository_id = r.id), 0)
		FROM repository r JOIN namespace n ON n.id = r.namespace_id WHERE ` + clause + " AND r.id > ?"
	args = append(args, l.AfterID)
	if l.Namespace != "" {
		query += " AND n.name = ?"
		args = append(args, l.Namespace)
	}
	if l.Filter != "" {
		query += ` AND LOWER(n.name || '/' || r.name) LIKE ? ESCAPE '\'`
		args = append(args, "%"+likeEscaper.Replace(strings.ToLower(l.Filter))+"%")
	}
	if l.StarredBy != 0 {
		query += " AND r.id IN (SELECT repository_id FROM repository_star WHERE user_id = ?)"
		args = append(args, l.StarredBy)
	}
	if l.Visibility == "public" || l.Visibility == "private" {
		query += " AND r.visibility = ?"
		args = append(args, l.Visibility)
	}
	query += " ORDER BY r.id LIMIT ?"
	args = append(args, l.Limit)
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("list repositories: %w", err)
	}
	defer rows.Close()
	out := []Repository{}
	for rows.Next() {
		var modified int64
		r, err := scanRepo(rowSuffix{rows, &modified})
		if err != nil {
			return nil, fmt.Errorf("list repositories: %w", err)
		}
		if modified > 0 {
			r.LastModified = fromMicros(modified)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// likeEscaper escapes LIKE's wildcards (with ESCAPE '\').
var likeEscaper = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)

// rowSuffix scans trailing columns into extra destinations after a row scanner's own.
type rowSuffix struct {
	row  scanner
	last any
}

func (p rowSuffix) Scan(dest ...any) error { return p.row.Scan(append(dest, p.last)...) }
