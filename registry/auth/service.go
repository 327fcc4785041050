package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
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

	"github.com/wharf-registry/wharf/registry/store"
)

// ErrBadCredentials is returned for a wrong user name, password or token.
var ErrBadCredentials = errors.New("invalid username, password or token")

// Options configure the auth service.
type Options struct {
	// Service is the token audience and issuer: SERVER_HOSTNAME.
	Service string
	// AnonymousAccess lets unauthenticated clients pull public repositories.
	AnonymousAccess bool
	// SuperUsers are the names with superuser rights (besides users flagged in the database).
	SuperUsers []string
	// SuperUsersEnabled is FEATURE_SUPER_USERS.
	SuperUsersEnabled bool
	// TokenTTL is the lifetime of issued tokens.
	TokenTTL time.Duration
}

// Service authenticates requests and grants access.
type Service struct {
	store *store.Store
	opts  Options
	keys  []signingKey

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
	user    store.User
	expires time.Time
}

const (
	passwordCacheTTL = 30 * time.Second
	maxCacheEntries  = 10000
	keyAlgorithm     = "EdDSA"
)

// New loads (or creates) the token signing keys and returns the service.
func New(ctx context.Context, st *store.Store, opts Options) (*Service, error) {
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
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
	return s, nil
}

// Identity is who a request comes from. A nil User is anonymous.
type Identity struct {
	User *store.User
}

// Anonymous reports whether no user is signed in.
func (id Identity) Anonymous() bool { return id.User == nil }

// Name is the user name, or "" for anonymous.
func (id Identity) Name() string {
	if id.User == nil {
		return ""
	}
	return id.User.Name
}

// Superuser reports superuser rights.
func (s *Service) Superuser(id Identity) bool {
	if id.User == nil {
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
		return store.Viewer{}
	}
	return store.Viewer{UserID: id.User.ID, All: s.Superuser(id)}
}

// Login checks a user name and password.
func (s *Service) Login(ctx context.Context, username, password string) (Identity, error) {
	key := sha256.Sum256([]byte(username + "\x00" + password))
	s.mu.Lock()
	c, ok := s.passwords[key]
	s.mu.Unlock()
	if ok && time.Now().Before(c.expires) {
		u := c.user
		return Identity{User: &u}, nil
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
	s.mu.Lock()
	if len(s.passwords) >= maxCacheEntries {
		clear(s.passwords)
	}
	s.passwords[key] = cachedUser{user: u, expires: time.Now().Add(passwordCacheTTL)}
	s.mu.Unlock()
	return Identity{User: &u}, nil
}

// Credentials is what a request carried.
type Credentials struct {
	Identity Identity
	// Token is set when the request carried a bearer token: its grants, not the user's
	// rights, decide what the request may do.
	Token *Token
	// Presented is set when the request carried any credentials.
	Presented bool
}

// Authenticate reads the Authorization header: Basic user:password, or a Bearer token this
// service issued. No header means anonymous.
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
		id, err := s.Login(r.Context(), user, pass)
		return Credentials{Identity: id, Presented: true}, err
	case "bearer":
		tok, err := s.VerifyToken(strings.TrimSpace(value))
		if err != nil {
			return Credentials{Presented: true}, err
		}
		id := Identity{}
		if tok.Subject != "" {
			id.User = &store.User{ID: tok.UserID, Name: tok.Subject, Superuser: tok.Superuser, Enabled: true}
		}
		return Credentials{Identity: id, Token: tok, Presented: true}, nil
	}
	return Credentials{Presented: true}, ErrBadCredentials
}

// RepositoryActions returns what an identity may do on NAMESPACE/NAME: the namespace owner and
// superusers may pull, push and delete; anyone may pull a public repository (anonymous users
// only with FEATURE_ANONYMOUS_ACCESS).
func (s *Service) RepositoryActions(ctx context.Context, id Identity, namespace, name string) ([]string, error) {
	if id.User != nil && (id.User.Name == namespace || s.Superuser(id)) {
		return []string{ActionPull, ActionPush, ActionDelete}, nil
	}
	if id.User == nil && !s.opts.AnonymousAccess {
		return nil, nil
	}
	repo, err := s.store.Repository(ctx, namespace, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if repo.Public {
		return []string{ActionPull}, nil
	}
	return nil, nil
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
