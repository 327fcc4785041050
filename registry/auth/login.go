package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/wharf-registry/wharf/registry/audit"
	"github.com/wharf-registry/wharf/registry/store"
)

// Special user names of Basic credentials, as Quay spells them.
const (
	// AppTokenUser logs in with an app-specific token as the password.
	AppTokenUser = "$app"
	// OAuthTokenUser logs in with an OAuth access token as the password.
	OAuthTokenUser = "$oauthtoken"
)

// clientKeyPrefix marks encrypted passwords.
const clientKeyPrefix = "wcp_"

// LoginContext says where a login happens.
type LoginContext struct {
	// Registry is set for the registry API, where FEATURE_REQUIRE_ENCRYPTED_BASIC_AUTH
	// refuses plain passwords.
	Registry bool
	// IP is the client address, for throttling and the audit log.
	IP string
	// Kind names the login for the audit log: docker, api, ui.
	Kind string
}

// Login checks Basic credentials: a password (from the database or the LDAP directory), an
// encrypted password, an app-specific token ($app or the owner's name), an OAuth access
// token ($oauthtoken) or a robot token (OWNER+NAME). Repeated failures for one user name or
// one client address make further attempts wait (ThrottledError).
func (s *Service) Login(ctx context.Context, username, password string, lc LoginContext) (Identity, error) {
	if username == "" || password == "" {
		return Identity{}, ErrBadCredentials
	}
	key := sha256.Sum256([]byte(username + "\x00" + password))
	s.mu.Lock()
	c, ok := s.passwords[key]
	s.mu.Unlock()
	if ok && time.Now().Before(c.expires) {
		return c.id, nil
	}
	if err := s.throttled(ctx, username, lc.IP); err != nil {
		return Identity{}, err
	}
	id, err := s.verify(ctx, username, password, lc)
	if err != nil {
		if errors.Is(err, ErrBadCredentials) || errors.Is(err, ErrEncryptedPasswordRequired) {
			s.failed(ctx, username, lc, err)
		}
		return Identity{}, err
	}
	if id.User.FailedLogins > 0 {
		if _, _, err := s.store.RecordLogin(ctx, id.User.ID, lc.IP, true); err != nil {
			return Identity{}, err
		}
	}
	s.mu.Lock()
	if len(s.passwords) >= maxCacheEntries {
		clear(s.passwords)
	}
	s.passwords[key] = cachedUser{id: id, expires: time.Now().Add(passwordCacheTTL)}
	s.mu.Unlock()
	return id, nil
}

func (s *Service) verify(ctx context.Context, username, password string, lc LoginContext) (Identity, error) {
	switch {
	case username == AppTokenUser:
		return s.appTokenLogin(ctx, "", password)
	case username == OAuthTokenUser:
		return s.OAuthLogin(ctx, password)
	case strings.Contains(username, "+"):
		robot, err := s.store.Account(ctx, username)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (!robot.Robot() || !robot.Enabled)) {
			return Identity{}, ErrBadCredentials
		}
		if err != nil {
			return Identity{}, fmt.Errorf("login: %w", err)
		}
		tok, err := s.RobotToken(ctx, robot)
		if err != nil {
			return Identity{}, fmt.Errorf("login: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(tok), []byte(password)) != 1 {
			return Identity{}, ErrBadCredentials
		}
		if err := s.store.TouchAccount(ctx, robot.ID); err != nil {
			return Identity{}, fmt.Errorf("login: %w", err)
		}
		return Identity{User: &robot, Via: "robot"}, nil
	}
	if strings.HasPrefix(password, clientKeyPrefix) {
		plain, err := s.decryptPassword(username, password)
		if err != nil {
			return Identity{}, ErrBadCredentials
		}
		id, err := s.passwordLogin(ctx, username, plain)
		id.Via = "client_key"
		return id, err
	}
	if s.opts.AppTokens && looksLikeAppToken(password) {
		if id, err := s.appTokenLogin(ctx, username, password); err == nil {
			return id, nil
		}
	}
	if s.opts.AuthenticationType == AuthOIDC || (lc.Registry && s.opts.RequireEncryptedPasswords) {
		return Identity{}, ErrEncryptedPasswordRequired
	}
	return s.passwordLogin(ctx, username, password)
}

// passwordLogin checks a user's password against the database or the directory.
func (s *Service) passwordLogin(ctx context.Context, username, password string) (Identity, error) {
	switch s.opts.AuthenticationType {
	case AuthLDAP:
		ext, err := s.opts.Directory.Verify(ctx, username, password)
		if err != nil {
			if errors.Is(err, ErrBadCredentials) {
				return Identity{}, ErrBadCredentials
			}
			return Identity{}, fmt.Errorf("login: %w", err)
		}
		u, err := s.ExternalUser(ctx, "ldap", ext)
		if err != nil {
			return Identity{}, err
		}
		if !u.Enabled {
			return Identity{}, ErrBadCredentials
		}
		return Identity{User: &u, Via: "password"}, nil
	case AuthOIDC:
		return Identity{}, ErrEncryptedPasswordRequired
	}
	u, err := s.store.UserByName(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return Identity{}, ErrBadCredentials
	}
	if err != nil {
		return Identity{}, fmt.Errorf("login: %w", err)
	}
	if !u.Enabled || !CheckPassword(u.PasswordHash, password) {
		return Identity{}, ErrBadCredentials
	}
	return Identity{User: &u, Via: "password"}, nil
}

// ExternalUser returns the local user linked to a user of an external source (ldap,
// oidc:NAME), creating it on first login with the source's user name (made unique).
func (s *Service) ExternalUser(ctx context.Context, source string, ext ExternalUser) (store.User, error) {
	if ext.ID == "" {
		ext.ID = ext.Username
	}
	u, err := s.store.UserByExternalID(ctx, source, ext.ID)
	if err == nil {
		return u, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return store.User{}, fmt.Errorf("external login: %w", err)
	}
	base := SanitizeUsername(ext.Username)
	for i := 0; i < 100; i++ {
		name := base
		if i > 0 {
			name = fmt.Sprintf("%s%d", base, i)
		}
		u, err = s.store.CreateUser(ctx, store.User{Name: name, Email: ext.Email, LoginSource: source, ExternalID: ext.ID})
		if errors.Is(err, store.ErrExists) {
			continue
		}
		if err != nil {
			return store.User{}, fmt.Errorf("external login: %w", err)
		}
		if s.opts.Audit != nil {
			if err := s.opts.Audit.Log(ctx, audit.Event{Kind: "user_create", Performer: &u, Namespace: u.Name, NamespaceID: u.ID,
				Metadata: map[string]any{"source": source, "external_id": ext.ID}}); err != nil {
				return store.User{}, err
			}
		}
		return s.store.UserByName(ctx, name)
	}
	return store.User{}, fmt.Errorf("external login: no free user name for %q", ext.Username)
}

// SanitizeUsername turns an external user name into a valid Wharf user name.
func SanitizeUsername(name string) string {
	name = strings.ToLower(name)
	if at := strings.IndexByte(name, '@'); at > 0 {
		name = name[:at]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '.' || r == '_' || r == '-':
			b.WriteRune('_')
		}
	}
	out := strings.Trim(b.String(), "_")
	for strings.Contains(out, "___") {
		out = strings.ReplaceAll(out, "___", "__")
	}
	if len(out) < 2 {
		out = "user" + out
	}
	return out
}

// throttled refuses a login while the user name or the address is backing off.
func (s *Service) throttled(ctx context.Context, username, ip string) error {
	uf, ulast, ipf, iplast, err := s.store.LoginFailures(ctx, username, ip)
	if err != nil {
		return err
	}
	now := s.store.Now()
	wait := max(backoff(uf, s.opts.UserThrottle, ulast, now, s.opts.MaxThrottle), backoff(ipf, s.opts.IPThrottle, iplast, now, s.opts.MaxThrottle))
	if wait > 0 {
		return &ThrottledError{RetryAfter: wait}
	}
	return nil
}

// backoff is how long to wait after failures (doubling from 1s once over the threshold).
func backoff(failures, threshold int, last int64, now time.Time, limit time.Duration) time.Duration {
	if failures < threshold || last == 0 {
		return 0
	}
	delay := time.Duration(math.Min(math.Pow(2, float64(failures-threshold)), limit.Seconds())) * time.Second
	until := time.UnixMicro(last).Add(delay)
	if now.Before(until) {
		return until.Sub(now)
	}
	return 0
}

// failed counts and logs a failed login.
func (s *Service) failed(ctx context.Context, username string, lc LoginContext, cause error) {
	var uid int64
	var performer *store.User
	if u, err := s.store.Account(ctx, username); err == nil {
		uid, performer = u.ID, &u
	}
	if _, _, err := s.store.RecordLogin(ctx, uid, lc.IP, false); err != nil {
		return
	}
	if s.opts.Audit != nil {
		ev := audit.Event{Kind: "login_failure", Performer: performer, IP: lc.IP,
			Metadata: map[string]any{"type": lc.Kind, "username": username, "message": cause.Error()}}
		if performer != nil && !performer.Robot() {
			ev.Namespace, ev.NamespaceID = performer.Name, performer.ID
		}
		s.opts.Audit.Log(ctx, ev)
	}
}

// RandomToken returns n random characters from [A-Za-z0-9].
func RandomToken(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// HashToken is how tokens are stored: the hex SHA-256 of the secret.
func HashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

const appTokenLength = 40

func looksLikeAppToken(s string) bool {
	if len(s) != appTokenLength {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (s *Service) appTokenLogin(ctx context.Context, username, token string) (Identity, error) {
	if !s.opts.AppTokens {
		return Identity{}, ErrBadCredentials
	}
	t, err := s.store.AppTokenByHash(ctx, HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return Identity{}, ErrBadCredentials
	}
	if err != nil {
		return Identity{}, fmt.Errorf("login: %w", err)
	}
	if !t.ExpiresAt.IsZero() && s.store.Now().After(t.ExpiresAt) {
		return Identity{}, ErrBadCredentials
	}
	u, err := s.store.AccountByID(ctx, t.UserID)
	if err != nil {
		return Identity{}, fmt.Errorf("login: %w", err)
	}
	if !u.Enabled || (username != "" && username != u.Name) {
		return Identity{}, ErrBadCredentials
	}
	return Identity{User: &u, Via: "app_token"}, nil
}

// CreateAppToken makes an app-specific token for a user and returns it with its secret,
// which is shown only this once.
func (s *Service) CreateAppToken(ctx context.Context, u store.User, title string, expires time.Time) (store.AppToken, string, error) {
	secret := RandomToken(appTokenLength)
	t, err := s.store.CreateAppToken(ctx, store.AppToken{UUID: NewUUID(), UserID: u.ID, Title: title, TokenHash: HashToken(secret), ExpiresAt: expires})
	if err != nil {
		return store.AppToken{}, "", err
	}
	return t, secret, nil
}

// EncryptPassword returns the encrypted form of a user's password (Quay's "encrypted
// password" for CLI logins), after checking the password.
func (s *Service) EncryptPassword(ctx context.Context, u store.User, password string) (string, error) {
	if _, err := s.passwordLogin(ctx, u.Name, password); err != nil {
		return "", err
	}
	nonce := make([]byte, s.clientKey.NonceSize())
	rand.Read(nonce)
	sealed := s.clientKey.Seal(nonce, nonce, []byte(password), []byte(u.Name))
	return clientKeyPrefix + base64.RawURLEncoding.EncodeToString(sealed), nil
}

func (s *Service) decryptPassword(username, key string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(key, clientKeyPrefix))
	if err != nil || len(raw) < s.clientKey.NonceSize() {
		return "", ErrBadCredentials
	}
	nonce, sealed := raw[:s.clientKey.NonceSize()], raw[s.clientKey.NonceSize():]
	plain, err := s.clientKey.Open(nil, nonce, sealed, []byte(username))
	if err != nil {
		return "", ErrBadCredentials
	}
	return string(plain), nil
}
