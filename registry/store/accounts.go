package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Namespace is a user or organization: what a repository name's first component names.
type Namespace struct {
	ID    int64
	Name  string
	Kind  string
	Email string
}

// Namespace looks up a user or organization by name (robots are not namespaces).
func (s *Store) Namespace(ctx context.Context, name string) (Namespace, error) {
	var n Namespace
	err := s.queryRow(ctx, "SELECT id, name, kind, email FROM namespace WHERE name = ? AND kind <> 'robot'", name).
		Scan(&n.ID, &n.Name, &n.Kind, &n.Email)
	if err != nil {
		return Namespace{}, notFound(err, "namespace "+name)
	}
	return n, nil
}

// Account looks up any account (user, organization or robot) by name.
func (s *Store) Account(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.queryRow(ctx, "SELECT "+userColumns+" FROM namespace WHERE name = ?", name))
	if err != nil {
		return User{}, notFound(err, "account "+name)
	}
	return u, nil
}

// AccountByID looks up any account by id.
func (s *Store) AccountByID(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(s.queryRow(ctx, "SELECT "+userColumns+" FROM namespace WHERE id = ?", id))
	if err != nil {
		return User{}, notFound(err, fmt.Sprintf("account %d", id))
	}
	return u, nil
}

// UserByExternalID finds the user that an external login source knows by id.
func (s *Store) UserByExternalID(ctx context.Context, source, externalID string) (User, error) {
	u, err := scanUser(s.queryRow(ctx, "SELECT "+userColumns+" FROM namespace WHERE kind = 'user' AND login_source = ? AND external_id = ?",
		source, externalID))
	if err != nil {
		return User{}, notFound(err, "user from "+source)
	}
	return u, nil
}

// ListAccounts lists the accounts of one kind in name order.
func (s *Store) ListAccounts(ctx context.Context, kind string) ([]User, error) {
	return s.users(ctx, "SELECT "+userColumns+" FROM namespace WHERE kind = ? ORDER BY name", kind)
}

func (s *Store) users(ctx context.Context, query string, args ...any) ([]User, error) {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// CreateOrganization adds an organization and makes creator a member of its "owners" team
// (role admin), in one transaction.
func (s *Store) CreateOrganization(ctx context.Context, name, email string, creatorID int64) (Namespace, error) {
	var org Namespace
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		var id int64
		err := tx.QueryRowContext(ctx, s.q(`INSERT INTO namespace (name, kind, email, enabled, created_at)
			VALUES (?, 'org', ?, TRUE, ?) RETURNING id`), name, email, now).Scan(&id)
		if isUniqueViolation(err) {
			return fmt.Errorf("create organization %s: %w", name, ErrExists)
		}
		if err != nil {
			return fmt.Errorf("create organization %s: %w", name, err)
		}
		var teamID int64
		if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO team (org_id, name, role, description, created_at)
			VALUES (?, 'owners', 'admin', 'Owners of the organization', ?) RETURNING id`), id, now).Scan(&teamID); err != nil {
			return fmt.Errorf("create owners team: %w", err)
		}
		if creatorID != 0 {
			if _, err := tx.ExecContext(ctx, s.q("INSERT INTO team_member (team_id, user_id) VALUES (?, ?)"), teamID, creatorID); err != nil {
				return fmt.Errorf("add creator to owners: %w", err)
			}
		}
		org = Namespace{ID: id, Name: name, Kind: KindOrg, Email: email}
		return nil
	})
	return org, err
}

// UpdateAccount changes an account's email, description, enabled flag and, when hash is not
// empty, its password hash.
func (s *Store) UpdateAccount(ctx context.Context, u User) error {
	res, err := s.exec(ctx, "UPDATE namespace SET email = ?, description = ?, enabled = ?, superuser = ? WHERE id = ?",
		u.Email, u.Description, u.Enabled, u.Superuser, u.ID)
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("update %s: %w", u.Name, ErrExists)
		}
		return fmt.Errorf("update %s: %w", u.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update %s: %w", u.Name, ErrNotFound)
	}
	return nil
}

// DeleteNamespace deletes a user or organization with its repositories, teams and robots.
// Blob bytes are left to the garbage collector.
func (s *Store) DeleteNamespace(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q("DELETE FROM namespace WHERE owner_id = ?"), id); err != nil {
			return fmt.Errorf("delete robots: %w", err)
		}
		repoIDs, err := idList(ctx, tx, s.q("SELECT id FROM repository WHERE namespace_id = ?"), id)
		if err != nil {
			return err
		}
		for _, r := range repoIDs {
			if err := s.deleteRepositoryTx(ctx, tx, r); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, s.q("DELETE FROM namespace WHERE id = ?"), id)
		if err != nil {
			return fmt.Errorf("delete namespace: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("delete namespace %d: %w", id, ErrNotFound)
		}
		return nil
	})
}

func idList(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// CreateRobot adds robot OWNER+NAME with its token (stored as given: auth seals it first).
func (s *Store) CreateRobot(ctx context.Context, ownerID int64, fullName, description, token string) (User, error) {
	var id int64
	err := s.queryRow(ctx, `INSERT INTO namespace (name, kind, owner_id, description, robot_token, enabled, created_at)
		VALUES (?, 'robot', ?, ?, ?, TRUE, ?) RETURNING id`, fullName, ownerID, description, token, s.now()).Scan(&id)
	if isUniqueViolation(err) {
		return User{}, fmt.Errorf("create robot %s: %w", fullName, ErrExists)
	}
	if err != nil {
		return User{}, fmt.Errorf("create robot %s: %w", fullName, err)
	}
	return s.AccountByID(ctx, id)
}

// Robots lists the robots a namespace owns.
func (s *Store) Robots(ctx context.Context, ownerID int64) ([]User, error) {
	return s.users(ctx, "SELECT "+userColumns+" FROM namespace WHERE kind = 'robot' AND owner_id = ? ORDER BY name", ownerID)
}

// RobotToken returns a robot's token as stored (sealed by auth).
func (s *Store) RobotToken(ctx context.Context, robotID int64) (string, error) {
	var tok string
	if err := s.queryRow(ctx, "SELECT robot_token FROM namespace WHERE id = ? AND kind = 'robot'", robotID).Scan(&tok); err != nil {
		return "", notFound(err, "robot")
	}
	return tok, nil
}

// SetRobotToken replaces a robot's token.
func (s *Store) SetRobotToken(ctx context.Context, robotID int64, token string) error {
	res, err := s.exec(ctx, "UPDATE namespace SET robot_token = ? WHERE id = ? AND kind = 'robot'", token, robotID)
	if err != nil {
		return fmt.Errorf("set robot token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("set robot token: %w", ErrNotFound)
	}
	return nil
}

// DeleteAccount deletes a user or robot row (its permissions and memberships go with it).
func (s *Store) DeleteAccount(ctx context.Context, id int64) error {
	res, err := s.exec(ctx, "DELETE FROM namespace WHERE id = ? AND kind IN ('user', 'robot')", id)
	if err != nil {
		return fmt.Errorf("delete account: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete account %d: %w", id, ErrNotFound)
	}
	return nil
}

// TouchAccount records that an account (a robot, usually) authenticated.
func (s *Store) TouchAccount(ctx context.Context, id int64) error {
	_, err := s.exec(ctx, "UPDATE namespace SET last_accessed = ? WHERE id = ?", s.now(), id)
	return err
}

// RecordLogin counts a failed login for the user and the client address, or clears the
// user's count after a success. It returns the failure counts after the change.
func (s *Store) RecordLogin(ctx context.Context, userID int64, ip string, ok bool) (userFailures, ipFailures int, err error) {
	now := s.now()
	if ok {
		if userID != 0 {
			if _, err := s.exec(ctx, "UPDATE namespace SET failed_logins = 0 WHERE id = ? AND failed_logins <> 0", userID); err != nil {
				return 0, 0, fmt.Errorf("record login: %w", err)
			}
		}
		return 0, 0, nil
	}
	if userID != 0 {
		if err := s.queryRow(ctx, "UPDATE namespace SET failed_logins = failed_logins + 1, last_failed_login = ? WHERE id = ? RETURNING failed_logins",
			now, userID).Scan(&userFailures); err != nil {
			return 0, 0, fmt.Errorf("record failed login: %w", err)
		}
	}
	if ip != "" {
		if err := s.queryRow(ctx, `INSERT INTO login_failure (ip, failures, last_failure) VALUES (?, 1, ?)
			ON CONFLICT (ip) DO UPDATE SET failures = login_failure.failures + 1, last_failure = excluded.last_failure
			RETURNING failures`, ip, now).Scan(&ipFailures); err != nil {
			return 0, 0, fmt.Errorf("record failed login: %w", err)
		}
	}
	return userFailures, ipFailures, nil
}

// LoginFailures returns the failures counted for a user name and a client address, and
// when the latest of each happened.
func (s *Store) LoginFailures(ctx context.Context, username, ip string) (userFailures int, userLast int64, ipFailures int, ipLast int64, err error) {
	err = s.queryRow(ctx, "SELECT failed_logins, last_failed_login FROM namespace WHERE name = ?", username).Scan(&userFailures, &userLast)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, 0, 0, 0, fmt.Errorf("login failures: %w", err)
	}
	err = s.queryRow(ctx, "SELECT failures, last_failure FROM login_failure WHERE ip = ?", ip).Scan(&ipFailures, &ipLast)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, 0, 0, 0, fmt.Errorf("login failures: %w", err)
	}
	return userFailures, userLast, ipFailures, ipLast, nil
}

// ClearIPFailures forgets an address's failures after a successful login from it.
func (s *Store) ClearIPFailures(ctx context.Context, ip string) error {
	_, err := s.exec(ctx, "DELETE FROM login_failure WHERE ip = ?", ip)
	return err
}

// SearchAccounts finds users, robots and organizations whose names start with prefix.
func (s *Store) SearchAccounts(ctx context.Context, prefix string, limit int) ([]User, error) {
	esc := strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(prefix)
	return s.users(ctx, "SELECT "+userColumns+` FROM namespace WHERE name LIKE ? ESCAPE '\' ORDER BY name LIMIT ?`, esc+"%", limit)
}
