package store

import (
	"context"
	"fmt"
	"strings"
)

// Repository is a repository row.
type Repository struct {
	ID          int64
	NamespaceID int64
	Namespace   string
	Name        string
	Public      bool
}

// FullName is NAMESPACE/NAME.
func (r Repository) FullName() string { return r.Namespace + "/" + r.Name }

const repoSelect = `SELECT r.id, r.namespace_id, n.name, r.name, r.visibility = 'public'
	FROM repository r JOIN namespace n ON n.id = r.namespace_id`

func scanRepo(row interface{ Scan(...any) error }) (Repository, error) {
	var r Repository
	err := row.Scan(&r.ID, &r.NamespaceID, &r.Namespace, &r.Name, &r.Public)
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

// EnsureRepository returns NAMESPACE/NAME, creating it (private) when it does not exist. The
// namespace must exist.
func (s *Store) EnsureRepository(ctx context.Context, namespace, name string) (Repository, bool, error) {
	if r, err := s.Repository(ctx, namespace, name); err == nil {
		return r, false, nil
	}
	nsID, err := s.NamespaceID(ctx, namespace)
	if err != nil {
		return Repository{}, false, err
	}
	res, err := s.exec(ctx, `INSERT INTO repository (namespace_id, name, visibility, created_at) VALUES (?, ?, 'private', ?)
		ON CONFLICT (namespace_id, name) DO NOTHING`, nsID, name, s.now())
	if err != nil {
		return Repository{}, false, fmt.Errorf("create repository %s/%s: %w", namespace, name, err)
	}
	created, _ := res.RowsAffected()
	r, err := s.Repository(ctx, namespace, name)
	return r, created > 0, err
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
}

// Catalog lists the full names of repositories the viewer can read, in lexical order, after
// last, at most n.
func (s *Store) Catalog(ctx context.Context, v Viewer, last string, n int) ([]string, error) {
	full := "n.name || '/' || r.name"
	where := []string{full + " > ?"}
	args := []any{last}
	if !v.All {
		where = append(where, "(r.visibility = 'public' OR r.namespace_id = ?)")
		args = append(args, v.UserID)
	}
	query := "SELECT " + full + " FROM repository r JOIN namespace n ON n.id = r.namespace_id WHERE " +
		strings.Join(where, " AND ") + " ORDER BY 1"
	if s.dialect == Postgres {
		query = strings.Replace(query, "ORDER BY 1", "ORDER BY ("+full+`) COLLATE "C"`, 1)
		query = strings.Replace(query, full+" > ?", "("+full+`) COLLATE "C" > ?`, 1)
	}
	query += " LIMIT ?"
	args = append(args, n)
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	names := []string{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		names = append(names, name)
	}
	return names, rows.Err()
}
