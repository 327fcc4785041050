package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wharf-registry/wharf/registry/store"
)

// oauthCodeTTL is how long an authorization code may wait to be exchanged (RFC 6749 advises
// at most ten minutes).
const oauthCodeTTL = 10 * time.Minute

// ErrInvalidGrant is an authorization code that is unknown, used, expired, or presented
// with another redirect URI.
var ErrInvalidGrant = errors.New("invalid_grant")

// ErrInvalidClient is an OAuth application that failed to authenticate.
var ErrInvalidClient = errors.New("invalid_client")

// IssueOAuthCode makes a single-use authorization code that an application exchanges,
// with its client secret and the same redirect URI, for an access token limited to scopes.
func (s *Service) IssueOAuthCode(ctx context.Context, u store.User, appID int64, scopes []string, redirectURI string) (string, error) {
	if err := s.checkScopes(u, scopes); err != nil {
		return "", err
	}
	code := RandomToken(40)
	err := s.store.CreateOAuthCode(ctx, store.OAuthCode{CodeHash: HashToken(code), ApplicationID: appID, UserID: u.ID,
		Scope: strings.Join(scopes, " "), RedirectURI: redirectURI, ExpiresAt: time.Now().Add(oauthCodeTTL)})
	if err != nil {
		return "", err
	}
	return code, nil
}

// ExchangeOAuthCode trades an authorization code for an access token: the application
// authenticates with its client id and secret, and the redirect URI must be the one the code
// was issued for. It returns the token and the scopes it carries.
func (s *Service) ExchangeOAuthCode(ctx context.Context, code, clientID, clientSecret, redirectURI string) (string, []string, error) {
	app, err := s.store.OAuthApplicationByClientID(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, ErrInvalidClient
	}
	if err != nil {
		return "", nil, fmt.Errorf("exchange authorization code: %w", err)
	}
	if clientSecret == "" || subtle.ConstantTimeCompare([]byte(app.ClientSecret), []byte(clientSecret)) != 1 {
		return "", nil, ErrInvalidClient
	}
	c, err := s.store.ConsumeOAuthCode(ctx, HashToken(code))
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, ErrInvalidGrant
	}
	if err != nil {
		return "", nil, fmt.Errorf("exchange authorization code: %w", err)
	}
	if c.ApplicationID != app.ID || c.RedirectURI != redirectURI {
		return "", nil, ErrInvalidGrant
	}
	u, err := s.store.AccountByID(ctx, c.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !u.Enabled) {
		return "", nil, ErrInvalidGrant
	}
	if err != nil {
		return "", nil, fmt.Errorf("exchange authorization code: %w", err)
	}
	scopes := strings.Fields(c.Scope)
	token, err := s.IssueOAuthToken(ctx, u, app.ID, scopes)
	return token, scopes, err
}

// checkScopes refuses unknown scopes and super:user for those who are not superusers.
func (s *Service) checkScopes(u store.User, scopes []string) error {
	for _, sc := range scopes {
		if !ValidScope(sc) {
			return fmt.Errorf("unknown scope %q", sc)
		}
	}
	if slices.Contains(scopes, ScopeSuperUser) && !s.Superuser(Identity{User: &u}) {
		return fmt.Errorf("scope %s needs a superuser", ScopeSuperUser)
	}
	return nil
}
