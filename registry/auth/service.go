package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wharf-registry/wharf/registry/audit"
	"github.com/wharf-registry/wharf/registry/store"
)

// Errors of authentication.
var (
	// ErrBadCredentials is returned for a wrong user name, password or token.
	ErrBadCredentials = errors.New("invalid username, password or token")
	// ErrEncryptedPasswordRequired refuses a plain password where
	// FEATURE_REQUIRE_ENCRYPTED_BASIC_AUTH (or an external login provider) asks for an
	// encrypted password, an app-specific token or a robot token.
	ErrEncryptedPasswordRequired = errors.New("plain passwords are not accepted here: use an encrypted password, an app-specific token or a robot token")
)

// ThrottledError says a login was refused because of earlier failures.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed logins: try again in %d seconds", int(e.RetryAfter.Seconds()+0.999))
}

// Authentication types (AUTHENTICATION_TYPE).
const (
	AuthDatabase = "Database"
	AuthLDAP     = "LDAP"
	AuthOIDC     = "OIDC"
)

// Options configure the auth service.
type Options struct {
	// Service is the token audience and issuer: SERVER_HOSTNAME.
	Service string
	// AuthenticationType is AUTHENTICATION_TYPE: Database (default), LDAP or OIDC.
	AuthenticationType string
	// Directory verifies passwords and lists groups when AuthenticationType is LDAP.
	Directory Directory
	// AnonymousAccess lets unauthenticated clients pull public repositories.
	AnonymousAccess bool
	// CreateNamespaceOnPush is Quay's CREATE_NAMESPACE_ON_PUSH: a user (not a robot) may push
	// into a namespace that does not exist, which becomes an organization they own.
	CreateNamespaceOnPush bool
	// PublicCatalog lists public repositories in the registry catalog.
	PublicCatalog bool
	// SuperUsers are the names with superuser rights (besides users flagged in the database).
	SuperUsers []string
	// SuperUsersEnabled is FEATURE_SUPER_USERS.
	SuperUsersEnabled bool
	// RequireEncryptedPasswords is FEATURE_REQUIRE_ENCRYPTED_BASIC_AUTH.
	RequireEncryptedPasswords bool
	// AppTokens is FEATURE_APP_SPECIFIC_TOKENS.
	AppTokens bool
	// TokenTTL is the lifetime of issued registry tokens.
	TokenTTL time.Duration
	// SecureCookies is SESSION_COOKIE_SECURE: the session cookie is Secure even on a request
	// that came over plain HTTP (a TLS-terminating proxy in front); it always is over TLS.
	SecureCookies bool
	// Audit records logins and failures; nil records nothing.
	Audit *audit.Logger
	// UserThrottle and IPThrottle are how many failed logins a user name or a client
	// address may have before each further attempt must wait (doubling from one second up
	// to MaxThrottle). Zero means the defaults: 5, 50 and 15 minutes.
	UserThrottle, IPThrottle int
	MaxThrottle              time.Duration
}

// Directory is an external user directory (LDAP).
type Directory interface {
	// Verify checks a login (user name or email) and password.
	Verify(ctx context.Context, login, password string) (ExternalUser, error)
	// Lookup finds a user by user name.
	Lookup(ctx context.Context, username string) (ExternalUser, error)
	// GroupMembers lists the members of a group.
	GroupMembers(ctx context.Context, group string) ([]ExternalUser, error)
}

// ExternalUser is a user as an external directory or provider knows them.
type ExternalUser struct {
	// ID is the stable identifier at the source (LDAP uid, OIDC subject).
	ID       string
	Username string
	Email    string
}

// Service authenticates requests and grants access.
type Service struct {
	store *store.Store
	opts  Options
	keys  []signingKey
	// clientKey encrypts passwords into the encrypted passwords of /api/v1/user/clientkey.
	clientKey cipher.AEAD

	mu        sync.Mutex
	passwords map[[32]byte]cachedUser
	tokens    map[string]*Token
}

type signingKey struct {
	id      string
	private ed25519.PrivateKey
	public  ed25519.PublicKey
}

type cachedUser struct {
	id      Identity
	expires time.Time
}

const (
	passwordCacheTTL = 30 * time.Second
	maxCacheEntries  = 10000
	keyAlgorithm     = "EdDSA"
	clientKeyAlg     = "AES-256-GCM"
)

// New loads (or creates) the token signing keys and returns the service.
func New(ctx context.Context, st *store.Store, opts Options) (*Service, error) {
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.AuthenticationType == "" {
		opts.AuthenticationType = AuthDatabase
	}
	if opts.AuthenticationType == AuthLDAP && opts.Directory == nil {
		return nil, errors.New("auth: AUTHENTICATION_TYPE is LDAP but no LDAP directory is configured")
	}
	if opts.UserThrottle == 0 {
		opts.UserThrottle = 5
	}
	if opts.IPThrottle == 0 {
		opts.IPThrottle = 50
	}
	if opts.MaxThrottle == 0 {
		opts.MaxThrottle = 15 * time.Minute
	}
	stored, err := st.SigningKeys(ctx, keyAlgorithm, func() ([]byte, error) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		return priv.Seed(), nil
	})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	s := &Service{store: st, opts: opts, passwords: map[[32]byte]cachedUser{}, tokens: map[string]*Token{}}
	for _, k := range stored {
		if len(k.PrivateKey) != ed25519.SeedSize {
			return nil, fmt.Errorf("auth: signing key %d is corrupt", k.ID)
		}
		priv := ed25519.NewKeyFromSeed(k.PrivateKey)
		s.keys = append(s.keys, signingKey{id: "wharf-" + strconv.FormatInt(k.ID, 10), private: priv, public: priv.Public().(ed25519.PublicKey)})
	}
	ck, err := st.SigningKeys(ctx, clientKeyAlg, func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	block, err := aes.NewCipher(ck[0].PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("auth: client key: %w", err)
	}
	if s.clientKey, err = cipher.NewGCM(block); err != nil {
		return nil, fmt.Errorf("auth: client key: %w", err)
	}
	return s, nil
}

// Options returns the service's options.
func (s *Service) Options() Options { return s.opts }

// Identity is who a request comes from. A nil User is anonymous.
type Identity struct {
	User *store.User
	// Scopes limits what an OAuth access token may do on the REST API; nil means the
	// identity's full rights.
	Scopes []string
	// Via says how the identity was proven: password, client_key, app_token, robot,
	// oauth, session or token.
	Via string
}

// Anonymous reports whether no user is signed in.
func (id Identity) Anonymous() bool { return id.User == nil }

// Robot reports whether the identity is a robot account.
func (id Identity) Robot() bool { return id.User != nil && id.User.Robot() }

// Name is the user name, or "" for anonymous.
func (id Identity) Name() string {
	if id.User == nil {
		return ""
	}
	return id.User.Name
}

// Superuser reports superuser rights.
func (s *Service) Superuser(id Identity) bool {
	if id.User == nil || id.User.Robot() {
		return false
	}
	if id.User.Superuser {
		return true
	}
	return s.opts.SuperUsersEnabled && slices.Contains(s.opts.SuperUsers, id.User.Name)
}

// Viewer returns the store's view filter for an identity.
func (s *Service) Viewer(id Identity) store.Viewer {
	if id.User == nil {
		return store.Viewer{Public: s.opts.AnonymousAccess}
	}
	return store.Viewer{UserID: id.User.ID, All: s.Superuser(id), Public: true}
}

// CatalogViewer is the view of the registry catalog: public repositories are listed only
// with FEATURE_PUBLIC_CATALOG.
func (s *Service) CatalogViewer(id Identity) store.Viewer {
	v := s.Viewer(id)
	v.Public = v.Public && s.opts.PublicCatalog
	return v
}

// Credentials is what a request carried.
type Credentials struct {
	Identity Identity
	// Token is set when the request carried a registry bearer token: its grants, not the
	// user's rights, decide what the request may do.
	Token *Token
	// Presented is set when the request carried any credentials.
	Presented bool
}

// Authenticate reads the Authorization header of a registry request: Basic credentials
// (password, encrypted password, app-specific token, robot token, OAuth token), or a Bearer
// registry token this service issued. No header means anonymous.
func (s *Service) Authenticate(r *http.Request) (Credentials, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Credentials{}, nil
	}
	scheme, value, _ := strings.Cut(h, " ")
	switch strings.ToLower(scheme) {
	case "basic":
		user, pass, ok := r.BasicAuth()
		if !ok {
			return Credentials{Presented: true}, ErrBadCredentials
		}
		id, err := s.Login(r.Context(), user, pass, LoginContext{Registry: true, IP: audit.ClientIP(r), Kind: "docker"})
		return Credentials{Identity: id, Presented: true}, err
	case "bearer":
		tok, err := s.VerifyToken(strings.TrimSpace(value))
		if err != nil {
			return Credentials{Presented: true}, err
		}
		id := Identity{Via: "token"}
		if tok.Subject != "" {
			kind := tok.Kind
			if kind == "" {
				kind = store.KindUser
			}
			id.User = &store.User{ID: tok.UserID, Name: tok.Subject, Kind: kind, Superuser: tok.Superuser, Enabled: true}
		}
		return Credentials{Identity: id, Token: tok, Presented: true}, nil
	}
	return Credentials{Presented: true}, ErrBadCredentials
}

// Allowed reports whether credentials permit every action on NAMESPACE/NAME: a bearer token by
// what it grants, other credentials by the identity's rights.
func (s *Service) Allowed(ctx context.Context, creds Credentials, namespace, name string, actions ...string) (bool, error) {
	if creds.Token != nil {
		for _, a := range actions {
			if !creds.Token.Allows("repository", namespace+"/"+name, a) {
				return false, nil
			}
		}
		return true, nil
	}
	have, err := s.RepositoryActions(ctx, creds.Identity, namespace, name)
	if err != nil {
		return false, err
	}
	for _, a := range actions {
		if !slices.Contains(have, a) {
			return false, nil
		}
	}
	return true, nil
}

// Grant returns the part of the requested access the identity holds.
func (s *Service) Grant(ctx context.Context, id Identity, requested []Access) ([]Access, error) {
	granted := []Access{}
	for _, req := range requested {
		switch req.Type {
		case "repository":
			ns, name, ok := strings.Cut(req.Name, "/")
			if !ok {
				continue
			}
			have, err := s.RepositoryActions(ctx, id, ns, name)
			if err != nil {
				return nil, err
			}
			var actions []string
			for _, a := range req.Actions {
				if a == ActionAll {
					if slices.Contains(have, ActionDelete) {
						actions = append(actions, ActionAll)
					}
					continue
				}
				if slices.Contains(have, a) {
					actions = append(actions, a)
				}
			}
			if len(actions) > 0 {
				granted = append(granted, Access{Type: req.Type, Name: req.Name, Actions: actions})
			}
		case "registry":
			if req.Name == "catalog" && (id.User != nil || s.opts.AnonymousAccess) {
				granted = append(granted, Access{Type: req.Type, Name: req.Name, Actions: []string{ActionAll}})
			}
		}
	}
	return granted, nil
}

// Token is a verified bearer token.
type Token struct {
	jwt.RegisteredClaims
	Access    []Access `json:"access"`
	UserID    int64    `json:"wharf_uid,omitempty"`
	Kind      string   `json:"wharf_kind,omitempty"`
	Superuser bool     `json:"wharf_su,omitempty"`
}

// Allows reports whether the token grants action on the resource.
func (t *Token) Allows(typ, name, action string) bool {
	for _, a := range t.Access {
		if a.Allows(typ, name, action) {
			return true
		}
	}
	return false
}

// IssuedToken is a freshly signed token.
type IssuedToken struct {
	Token     string
	ExpiresIn int
	IssuedAt  time.Time
}

// IssueToken signs a token for the identity carrying the granted access.
func (s *Service) IssueToken(id Identity, access []Access) (IssuedToken, error) {
	now := time.Now()
	jti := make([]byte, 12)
	rand.Read(jti)
	claims := Token{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.opts.Service,
			Subject:   id.Name(),
			Audience:  jwt.ClaimStrings{s.opts.Service},
			ExpiresAt: jwt.NewNumericDate(now.Add(s.opts.TokenTTL)),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        hex.EncodeToString(jti),
		},
		Access: access,
	}
	if id.User != nil {
		claims.UserID = id.User.ID
		claims.Kind = id.User.Kind
		claims.Superuser = s.Superuser(id)
	}
	key := s.keys[0]
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = key.id
	signed, err := t.SignedString(key.private)
	if err != nil {
		return IssuedToken{}, fmt.Errorf("sign token: %w", err)
	}
	return IssuedToken{Token: signed, ExpiresIn: int(s.opts.TokenTTL.Seconds()), IssuedAt: now}, nil
}

// VerifyToken checks a token's signature, issuer, audience and lifetime. Verified tokens are
// cached until they expire.
func (s *Service) VerifyToken(raw string) (*Token, error) {
	s.mu.Lock()
	cached, ok := s.tokens[raw]
	s.mu.Unlock()
	if ok {
		if cached.ExpiresAt != nil && time.Now().Before(cached.ExpiresAt.Time) {
			return cached, nil
		}
		s.mu.Lock()
		delete(s.tokens, raw)
		s.mu.Unlock()
		return nil, ErrBadCredentials
	}
	var tok Token
	_, err := jwt.ParseWithClaims(raw, &tok, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		for _, k := range s.keys {
			if k.id == kid {
				return k.public, nil
			}
		}
		return nil, fmt.Errorf("unknown signing key %q", kid)
	}, jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}), jwt.WithIssuer(s.opts.Service),
		jwt.WithAudience(s.opts.Service), jwt.WithExpirationRequired())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCredentials, err)
	}
	s.mu.Lock()
	if len(s.tokens) >= maxCacheEntries {
		clear(s.tokens)
	}
	s.tokens[raw] = &tok
	s.mu.Unlock()
	return &tok, nil
}
