package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Namespace kinds.
const (
	KindUser  = "user"
	KindOrg   = "org"
	KindRobot = "robot"
)

// User is an account that can sign in: a person (KindUser) or a robot (KindRobot, named
// OWNER+NAME and owned by the OWNER namespace).
type User struct {
	ID           int64
	Name         string
	Kind         string
	Email        string
	PasswordHash string
	Superuser    bool
	Enabled      bool
	// OwnerID is the namespace that owns a robot.
	OwnerID int64
	// LoginSource is where the user authenticates: "database", "ldap" or "oidc:NAME".
	LoginSource string
	// ExternalID is the user's identifier at LoginSource (LDAP uid, OIDC subject).
	ExternalID  string
	Description string
	CreatedAt   time.Time
	// LastAccessed is when a robot or token last authenticated (zero when never).
	LastAccessed time.Time
	// FailedLogins counts failures since the last success; LastFailedLogin is the latest.
	FailedLogins    int
	LastFailedLogin time.Time
}

// Robot reports whether the account is a robot.
func (u User) Robot() bool { return u.Kind == KindRobot }

const userColumns = `id, name, kind, email, password_hash, superuser, enabled, COALESCE(owner_id, 0), login_source,
	external_id, description, created_at, COALESCE(last_accessed, 0), failed_logins, last_failed_login`

func scanUser(row scanner) (User, error) {
	var u User
	var created, accessed, failed int64
	err := row.Scan(&u.ID, &u.Name, &u.Kind, &u.Email, &u.PasswordHash, &u.Superuser, &u.Enabled, &u.OwnerID,
		&u.LoginSource, &u.ExternalID, &u.Description, &created, &accessed, &u.FailedLogins, &failed)
	u.CreatedAt = fromMicros(created)
	if accessed > 0 {
		u.LastAccessed = fromMicros(accessed)
	}
	if failed > 0 {
		u.LastFailedLogin = fromMicros(failed)
	}
	return u, err
}

// CreateUser adds a user and its namespace. It returns ErrExists when the name is taken.
func (s *Store) CreateUser(ctx context.Context, u User) (User, error) {
	var id int64
	if u.LoginSource == "" {
		u.LoginSource = "database"
	}
	err := s.queryRow(ctx, `INSERT INTO namespace (name, kind, email, password_hash, superuser, enabled, login_source, external_id, created_at)
		VALUES (?, 'user', ?, ?, ?, TRUE, ?, ?, ?) RETURNING id`, u.Name, u.Email, u.PasswordHash, u.Superuser,
		u.LoginSource, u.ExternalID, s.now()).Scan(&id)
	if isUniqueViolation(err) {
		return User{}, fmt.Errorf("create user %s: %w", u.Name, ErrExists)
	}
	if err != nil {
		return User{}, fmt.Errorf("create user %s: %w", u.Name, err)
	}
	u.ID, u.Enabled, u.Kind = id, true, KindUser
	return u, nil
}

// CreateFirstUser creates u only when no user exists yet, in one transaction, so that of
// several nodes starting at once exactly one creates it. It reports whether it did.
func (s *Store) CreateFirstUser(ctx context.Context, u User) (bool, error) {
	created := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if s.dialect == Postgres {
			if _, err := tx.ExecContext(ctx, "LOCK TABLE namespace IN SHARE ROW EXCLUSIVE MODE"); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM namespace WHERE kind = 'user'").Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO namespace (name, kind, email, password_hash, superuser, enabled, created_at)
			VALUES (?, 'user', ?, ?, ?, TRUE, ?)`), u.Name, u.Email, u.PasswordHash, u.Superuser, s.now())
		created = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("create first user: %w", err)
	}
	return created, nil
}

// UserByName looks a user up by name.
func (s *Store) UserByName(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.queryRow(ctx, "SELECT "+userColumns+" FROM namespace WHERE name = ? AND kind = 'user'", name))
	if err != nil {
		return User{}, notFound(err, "user "+name)
	}
	return u, nil
}

// SetPassword replaces a user's password hash.
func (s *Store) SetPassword(ctx context.Context, userID int64, hash string) error {
	res, err := s.exec(ctx, "UPDATE namespace SET password_hash = ? WHERE id = ? AND kind = 'user'", hash, userID)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("set password: user %d: %w", userID, ErrNotFound)
	}
	return nil
}

// CountUsers returns the number of users.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM namespace WHERE kind = 'user'").Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// NamespaceID returns the id of a namespace (user or organization) by name.
func (s *Store) NamespaceID(ctx context.Context, name string) (int64, error) {
	var id int64
	if err := s.queryRow(ctx, "SELECT id FROM namespace WHERE name = ?", name).Scan(&id); err != nil {
		return 0, notFound(err, "namespace "+name)
	}
	return id, nil
}
