package server

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"

	"github.com/wharf-registry/wharf/registry/audit"
	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/auth/ldap"
	"github.com/wharf-registry/wharf/registry/auth/oidc"
	"github.com/wharf-registry/wharf/schema"
)

// ldapDirectory builds the LDAP directory a config names.
func ldapDirectory(cfg *schema.Config, cas *x509.CertPool) (*ldap.Directory, error) {
	d, err := ldap.New(ldap.ConfigFrom(cfg, cas))
	if err != nil {
		return nil, fmt.Errorf("LDAP: %w", err)
	}
	return d, nil
}

// directory adapts the LDAP directory to auth.Directory.
type directory struct{ d *ldap.Directory }

var _ auth.Directory = directory{}

func external(u ldap.User) auth.ExternalUser {
	return auth.ExternalUser{ID: u.Username, Username: u.Username, Email: u.Email}
}

func (d directory) Verify(ctx context.Context, login, password string) (auth.ExternalUser, error) {
	u, err := d.d.Verify(ctx, login, password)
	if errors.Is(err, ldap.ErrInvalidCredentials) || errors.Is(err, ldap.ErrNotFound) || errors.Is(err, ldap.ErrAmbiguous) {
		return auth.ExternalUser{}, auth.ErrBadCredentials
	}
	if err != nil {
		return auth.ExternalUser{}, err
	}
	return external(u), nil
}

func (d directory) Lookup(ctx context.Context, username string) (auth.ExternalUser, error) {
	u, err := d.d.Lookup(ctx, username)
	if err != nil {
		return auth.ExternalUser{}, err
	}
	return external(u), nil
}

func (d directory) GroupMembers(ctx context.Context, group string) ([]auth.ExternalUser, error) {
	users, err := d.d.GroupMembers(ctx, group)
	if err != nil {
		return nil, err
	}
	out := make([]auth.ExternalUser, len(users))
	for i, u := range users {
		out[i] = external(u)
	}
	return out, nil
}

// oidcProviders builds the *_LOGIN_CONFIG OpenID providers.
func (s *Server) oidcProviders(ctx context.Context, cas *x509.CertPool) ([]*oidc.Provider, error) {
	if len(s.Config.LoginConfigs) == 0 {
		return nil, nil
	}
	keys, err := s.Store.SigningKeys(ctx, "HMAC-oidc-state", func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, err
	}
	var out []*oidc.Provider
	for key, lc := range s.Config.LoginConfigs {
		name, ok := oidc.NameFromConfigKey(key)
		if !ok {
			s.log.Warn("login provider not supported: only OpenID Connect providers are", "key", key)
			continue
		}
		p, err := oidc.New(oidc.Config{
			Name: name, ServiceName: lc.ServiceName, ClientID: lc.ClientID, ClientSecret: lc.ClientSecret,
			Issuer: lc.OIDCServer, Scopes: lc.LoginScopes, PreferredUsernameClaim: lc.PreferredUsernameClaimName,
			RedirectURL: s.Config.PreferredURLScheme + "://" + s.Config.ServerHostname + "/oauth2/" + name + "/callback",
			RootCAs:     cas, StateKey: keys[0].PrivateKey, Logger: s.log,
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// oidcLogin signs a user in after the provider vouched for them: the local account linked to
// the provider's subject (created on first login) gets a web session.
func (s *Server) oidcLogin(p *oidc.Provider) func(w http.ResponseWriter, r *http.Request, id oidc.Identity, next string) {
	return func(w http.ResponseWriter, r *http.Request, id oidc.Identity, next string) {
		ctx := r.Context()
		u, err := s.Auth.ExternalUser(ctx, "oidc:"+p.Name(), auth.ExternalUser{ID: id.Issuer + "#" + id.Subject, Username: id.Username, Email: id.Email})
		if err == nil && !u.Enabled {
			err = errors.New("this account is disabled: ask an administrator")
		}
		if err == nil {
			_, err = s.Auth.StartSession(ctx, w, r, u)
		}
		if err == nil {
			err = s.Audit.Log(ctx, audit.Event{Kind: "login_success", Performer: &u, Namespace: u.Name, NamespaceID: u.ID, IP: audit.ClientIP(r),
				Metadata: map[string]any{"type": "oidc", "provider": p.Name(), "useragent": r.UserAgent()}})
		}
		if err != nil {
			s.log.ErrorContext(ctx, "OIDC login failed", "provider", p.Name(), "err", err)
			http.Error(w, "signing in failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, next, http.StatusFound)
	}
}
