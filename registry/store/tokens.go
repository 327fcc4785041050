package store

import (
	"context"
	"fmt"
	"time"
)

// AppToken is an application-specific token: a password substitute for CLI clients. Only
// the SHA-256 of the secret is stored.
type AppToken struct {
	ID           int64
	UUID         string
	UserID       int64
	Title        string
	TokenHash    string
	CreatedAt    time.Time
	ExpiresAt    time.Time // zero: never
	LastAccessed time.Time // zero: never
}

const appTokenColumns = "id, uuid, user_id, title, token_hash, created_at, COALESCE(expires_at, 0), COALESCE(last_accessed, 0)"

func scanAppToken(row scanner) (AppToken, error) {
	var t AppToken
	var created, expires, accessed int64
	err := row.Scan(&t.ID, &t.UUID, &t.UserID, &t.Title, &t.TokenHash, &created, &expires, &accessed)
	t.CreatedAt = fromMicros(created)
	if expires > 0 {
		t.ExpiresAt = fromMicros(expires)
	}
	if accessed > 0 {
		t.LastAccessed = fromMicros(accessed)
	}
	return t, err
}

func optMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return micros(t)
}

// CreateAppToken stores a new app token.
func (s *Store) CreateAppToken(ctx context.Context, t AppToken) (AppToken, error) {
	t.CreatedAt = s.Now()
	err := s.queryRow(ctx, `INSERT INTO app_token (uuid, user_id, title, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		t.UUID, t.UserID, t.Title, t.TokenHash, micros(t.CreatedAt), optMicros(t.ExpiresAt)).Scan(&t.ID)
	if err != nil {
		return AppToken{}, fmt.Errorf("create app token: %w", err)
	}
	return t, nil
}

// AppTokens lists a user's app tokens.
func (s *Store) AppTokens(ctx context.Context, userID int64) ([]AppToken, error) {
	rows, err := s.query(ctx, "SELECT "+appTokenColumns+" FROM app_token WHERE user_id = ? ORDER BY created_at", userID)
	if err != nil {
		return nil, fmt.Errorf("list app tokens: %w", err)
	}
	defer rows.Close()
	out := []AppToken{}
	for rows.Next() {
		t, err := scanAppToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// AppToken looks up a user's token by uuid.
func (s *Store) AppToken(ctx context.Context, userID int64, uuid string) (AppToken, error) {
	t, err := scanAppToken(s.queryRow(ctx, "SELECT "+appTokenColumns+" FROM app_token WHERE user_id = ? AND uuid = ?", userID, uuid))
	if err != nil {
		return AppToken{}, notFound(err, "app token "+uuid)
	}
	return t, nil
}

// AppTokenByHash looks up a token by the hash of its secret and records the access.
func (s *Store) AppTokenByHash(ctx context.Context, hash string) (AppToken, error) {
	t, err := scanAppToken(s.queryRow(ctx, "SELECT "+appTokenColumns+" FROM app_token WHERE token_hash = ?", hash))
	if err != nil {
		return AppToken{}, notFound(err, "app token")
	}
	if _, err := s.exec(ctx, "UPDATE app_token SET last_accessed = ? WHERE id = ?", s.now(), t.ID); err != nil {
		return AppToken{}, fmt.Errorf("app token: %w", err)
	}
	return t, nil
}

// DeleteAppToken revokes a token.
func (s *Store) DeleteAppToken(ctx context.Context, id int64) error {
	return s.deleteOne(ctx, "DELETE FROM app_token WHERE id = ?", "app token", id)
}

// OAuthApplication is an OAuth 2 client registered in an organization.
type OAuthApplication struct {
	ID             int64
	OrgID          int64
	ClientID       string
	ClientSecret   string
	Name           string
	Description    string
	ApplicationURI string
	RedirectURI    string
	AvatarEmail    string
}

const oauthAppColumns = "id, org_id, client_id, client_secret, name, description, application_uri, redirect_uri, avatar_email"

func scanOAuthApp(row scanner) (OAuthApplication, error) {
	var a OAuthApplication
	err := row.Scan(&a.ID, &a.OrgID, &a.ClientID, &a.ClientSecret, &a.Name, &a.Description, &a.ApplicationURI, &a.RedirectURI, &a.AvatarEmail)
	return a, err
}

// CreateOAuthApplication registers an application.
func (s *Store) CreateOAuthApplication(ctx context.Context, a OAuthApplication) (OAuthApplication, error) {
	err := s.queryRow(ctx, `INSERT INTO oauth_application (org_id, client_id, client_secret, name, description, application_uri, redirect_uri, avatar_email, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, a.OrgID, a.ClientID, a.ClientSecret, a.Name, a.Description, a.ApplicationURI,
		a.RedirectURI, a.AvatarEmail, s.now()).Scan(&a.ID)
	if err != nil {
		return OAuthApplication{}, fmt.Errorf("create application: %w", err)
	}
	return a, nil
}

// UpdateOAuthApplication saves an application's fields.
func (s *Store) UpdateOAuthApplication(ctx context.Context, a OAuthApplication) error {
	_, err := s.exec(ctx, `UPDATE oauth_application SET client_secret = ?, name = ?, description = ?, application_uri = ?, redirect_uri = ?, avatar_email = ?
		WHERE id = ?`, a.ClientSecret, a.Name, a.Description, a.ApplicationURI, a.RedirectURI, a.AvatarEmail, a.ID)
	if err != nil {
		return fmt.Errorf("update application: %w", err)
	}
	return nil
}

// OAuthApplications lists an organization's applications.
func (s *Store) OAuthApplications(ctx context.Context, orgID int64) ([]OAuthApplication, error) {
	rows, err := s.query(ctx, "SELECT "+oauthAppColumns+" FROM oauth_application WHERE org_id = ? ORDER BY name", orgID)
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	defer rows.Close()
	out := []OAuthApplication{}
	for rows.Next() {
		a, err := scanOAuthApp(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// OAuthApplicationByClientID looks up an application by its client id.
func (s *Store) OAuthApplicationByClientID(ctx context.Context, clientID string) (OAuthApplication, error) {
	a, err := scanOAuthApp(s.queryRow(ctx, "SELECT "+oauthAppColumns+" FROM oauth_application WHERE client_id = ?", clientID))
	if err != nil {
		return OAuthApplication{}, notFound(err, "application "+clientID)
	}
	return a, nil
}

// DeleteOAuthApplication removes an application and its tokens.
func (s *Store) DeleteOAuthApplication(ctx context.Context, id int64) error {
	return s.deleteOne(ctx, "DELETE FROM oauth_application WHERE id = ?", "application", id)
}

// OAuthToken is an OAuth 2 access token (only its hash is stored).
type OAuthToken struct {
	ID            int64
	UUID          string
	ApplicationID int64 // 0 for tokens not issued to an application (user/initialize)
	UserID        int64
	TokenHash     string
	Scope         string // space-separated
	ExpiresAt     time.Time
}

// CreateOAuthToken stores an access token.
func (s *Store) CreateOAuthToken(ctx context.Context, t OAuthToken) (OAuthToken, error) {
	err := s.queryRow(ctx, `INSERT INTO oauth_token (uuid, application_id, user_id, token_hash, scope, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, t.UUID, nullID(t.ApplicationID), t.UserID, t.TokenHash, t.Scope, s.now(),
		micros(t.ExpiresAt)).Scan(&t.ID)
	if err != nil {
		return OAuthToken{}, fmt.Errorf("create access token: %w", err)
	}
	return t, nil
}

// OAuthTokenByHash looks up an unexpired access token.
func (s *Store) OAuthTokenByHash(ctx context.Context, hash string) (OAuthToken, error) {
	var t OAuthToken
	var expires int64
	err := s.queryRow(ctx, `SELECT id, uuid, COALESCE(application_id, 0), user_id, token_hash, scope, expires_at FROM oauth_token
		WHERE token_hash = ? AND expires_at > ?`, hash, s.now()).Scan(&t.ID, &t.UUID, &t.ApplicationID, &t.UserID, &t.TokenHash, &t.Scope, &expires)
	if err != nil {
		return OAuthToken{}, notFound(err, "access token")
	}
	t.ExpiresAt = fromMicros(expires)
	return t, nil
}

// Session is a signed-in web UI session (only the hash of its id is stored).
type Session struct {
	IDHash    string
	UserID    int64
	CSRF      string
	ExpiresAt time.Time
}

// CreateSession stores a session.
func (s *Store) CreateSession(ctx context.Context, sess Session) error {
	_, err := s.exec(ctx, "INSERT INTO web_session (id_hash, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
		sess.IDHash, sess.UserID, sess.CSRF, s.now(), micros(sess.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionByHash looks up an unexpired session.
func (s *Store) SessionByHash(ctx context.Context, hash string) (Session, error) {
	var sess Session
	var expires int64
	err := s.queryRow(ctx, "SELECT id_hash, user_id, csrf, expires_at FROM web_session WHERE id_hash = ? AND expires_at > ?", hash, s.now()).
		Scan(&sess.IDHash, &sess.UserID, &sess.CSRF, &expires)
	if err != nil {
		return Session{}, notFound(err, "session")
	}
	sess.ExpiresAt = fromMicros(expires)
	return sess, nil
}

// DeleteSession signs a session out.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	_, err := s.exec(ctx, "DELETE FROM web_session WHERE id_hash = ?", hash)
	return err
}

// OAuthCode is an authorization code of the OAuth 2 authorization code grant.
type OAuthCode struct {
	CodeHash      string
	ApplicationID int64
	UserID        int64
	Scope         string // space-separated
	RedirectURI   string
	ExpiresAt     time.Time
}

// CreateOAuthCode stores an authorization code (by its hash).
func (s *Store) CreateOAuthCode(ctx context.Context, c OAuthCode) error {
	_, err := s.exec(ctx, `INSERT INTO oauth_code (code_hash, application_id, user_id, scope, redirect_uri, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`, c.CodeHash, c.ApplicationID, c.UserID, c.Scope, c.RedirectURI, micros(c.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create authorization code: %w", err)
	}
	return nil
}

// ConsumeOAuthCode takes an unexpired authorization code out of the store: a code works
// once, even when two exchanges race. Expired codes are swept on the way.
func (s *Store) ConsumeOAuthCode(ctx context.Context, hash string) (OAuthCode, error) {
	now := s.now()
	if _, err := s.exec(ctx, "DELETE FROM oauth_code WHERE expires_at <= ?", now); err != nil {
		return OAuthCode{}, fmt.Errorf("sweep authorization codes: %w", err)
	}
	c := OAuthCode{CodeHash: hash}
	var expires int64
	err := s.queryRow(ctx, `DELETE FROM oauth_code WHERE code_hash = ? AND expires_at > ?
		RETURNING application_id, user_id, scope, redirect_uri, expires_at`, hash, now).Scan(&c.ApplicationID, &c.UserID, &c.Scope, &c.RedirectURI, &expires)
	if err != nil {
		return OAuthCode{}, notFound(err, "authorization code")
	}
	c.ExpiresAt = fromMicros(expires)
	return c, nil
}
