// Package oidc is OpenID Connect login (the authorization-code flow) with Quay's
// *_LOGIN_CONFIG settings: a user who clicks "Sign in with <SERVICE_NAME>" is sent to the
// provider, signs in there, and comes back to /oauth2/<name>/callback, where the ID token is
// verified and the Identity it vouches for is handed to the caller, which signs the user in.
//
// Every login carries a random state, a nonce and a PKCE (S256) verifier, kept on the browser
// in a short-lived HMAC-signed, HttpOnly, SameSite=Lax cookie, so any node behind a load
// balancer can finish a login that another node started. The provider's discovery document
// is read on first use, not at start-up, and read again on later requests while it could not
// be: a registry starts while its identity provider is down.
//
// Where Quay's behaviour is a flaw, this package does better:
//   - OIDC_SERVER may be written with or without its trailing slash;
//   - the `next` page after login is kept only when it is a path on this site (no open
//     redirects);
//   - every failure answers a page saying what went wrong and what to do.
package oidc

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Config is one OIDC provider from Quay's config.yaml: the value of a key ending in
// _LOGIN_CONFIG, such as OIDC_LOGIN_CONFIG or KEYCLOAK_LOGIN_CONFIG.
type Config struct {
	// Name is the key's prefix lowercased ("oidc" for OIDC_LOGIN_CONFIG; see
	// NameFromConfigKey). It names the provider in paths: /oauth2/<name>/callback.
	Name string
	// ServiceName is SERVICE_NAME, shown on the login button ("Sign in with ..."); Name
	// when empty.
	ServiceName string
	// ClientID and ClientSecret are CLIENT_ID and CLIENT_SECRET, the client's credentials
	// at the provider.
	ClientID     string
	ClientSecret string
	// Issuer is OIDC_SERVER, the provider's issuer URL, with or without a trailing slash.
	Issuer string
	// Scopes is LOGIN_SCOPES; DefaultScopes when empty. "openid" is added when missing.
	Scopes []string
	// PreferredUsernameClaim is PREFERRED_USERNAME_CLAIM_NAME, the claim holding the
	// username; "preferred_username" when empty. Without it, the "name" claim is used, then
	// the local part of the email address.
	PreferredUsernameClaim string
	// RedirectURL is the absolute callback URL registered at the provider:
	// <PREFERRED_URL_SCHEME>://<SERVER_HOSTNAME>/oauth2/<name>/callback.
	RedirectURL string
	// RootCAs verifies the provider's certificate (Quay's extra_ca_certs added to the
	// system's); nil means the system pool.
	RootCAs *x509.CertPool
	// StateKey signs the login state cookie (HMAC-SHA256): at least 32 bytes, the same on
	// every node, e.g. derived from SECRET_KEY.
	StateKey []byte
	// DisableUserInfo is OIDC_DISABLE_USER_ENDPOINT: take the claims from the ID token
	// alone. By default, as in Quay, the claims of the provider's userinfo endpoint (when it
	// has one) complete and override those of the ID token.
	DisableUserInfo bool
	// Logger receives a record of each failed login; slog.Default() when nil.
	Logger *slog.Logger
}

// DefaultScopes are the scopes asked for when LOGIN_SCOPES is empty. Quay asks for "openid"
// alone; Wharf also asks for the email address and the profile (with the username).
var DefaultScopes = []string{"openid", "email", "profile"}

// DefaultPreferredUsernameClaim is the username claim when PREFERRED_USERNAME_CLAIM_NAME is
// empty.
const DefaultPreferredUsernameClaim = "preferred_username"

// MinStateKeyLen is the shortest Config.StateKey accepted.
const MinStateKeyLen = 32

// Identity is what the provider vouched for, from the verified ID token (and the userinfo
// endpoint). Issuer and Subject together identify the user for good; Username is the
// provider's suggestion for a Wharf username, to be checked and adjusted by the caller.
type Identity struct {
	Issuer        string
	Subject       string
	Username      string
	Email         string
	EmailVerified bool
}

// configKeySuffix ends every OIDC provider's key in config.yaml.
const configKeySuffix = "_LOGIN_CONFIG"

// Quay's other *_LOGIN_CONFIG keys are OAuth 2.0 logins of their own kind, not OIDC.
var nonOIDCKeys = []string{"GITHUB_LOGIN_CONFIG", "GOOGLE_LOGIN_CONFIG", "GITLAB_LOGIN_CONFIG"}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// NameFromConfigKey returns the provider name for a config.yaml key: "OIDC_LOGIN_CONFIG" gives
// "oidc", "KEYCLOAK_LOGIN_CONFIG" gives "keycloak". ok is false for keys that do not end in
// _LOGIN_CONFIG, and for Quay's GitHub, Google and GitLab logins, which are not OIDC.
func NameFromConfigKey(key string) (name string, ok bool) {
	prefix, found := strings.CutSuffix(key, configKeySuffix)
	if !found || prefix == "" || slices.Contains(nonOIDCKeys, key) {
		return "", false
	}
	name = strings.ToLower(prefix)
	if !nameRE.MatchString(name) {
		return "", false
	}
	return name, true
}

// normalize checks the configuration and fills in the defaults.
func (c Config) normalize() (Config, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !nameRE.MatchString(c.Name) {
		bad("name %q: want lowercase letters, digits, _ and -, as in the key's prefix (OIDC_LOGIN_CONFIG is \"oidc\")", c.Name)
	}
	if c.ServiceName == "" {
		c.ServiceName = c.Name
	}
	if c.ClientID == "" {
		bad("CLIENT_ID is empty")
	}
	if c.ClientSecret == "" {
		bad("CLIENT_SECRET is empty")
	}
	if err := checkURL(c.Issuer); err != nil {
		bad("OIDC_SERVER %q: %v", c.Issuer, err)
	}
	if err := checkURL(c.RedirectURL); err != nil {
		bad("redirect URL %q: %v", c.RedirectURL, err)
	} else if u, _ := url.Parse(c.RedirectURL); nameRE.MatchString(c.Name) && u.Path != callbackPath(c.Name) {
		bad("redirect URL %q: its path must be %s, where this provider's callback is served", c.RedirectURL, callbackPath(c.Name))
	}
	if len(c.StateKey) < MinStateKeyLen {
		bad("state key: %d bytes, want at least %d", len(c.StateKey), MinStateKeyLen)
	}
	scopes := []string{"openid"}
	if len(c.Scopes) == 0 {
		c.Scopes = DefaultScopes
	}
	for _, s := range c.Scopes {
		if strings.ContainsAny(s, " \t\r\n") || s == "" {
			bad("LOGIN_SCOPES: %q is not a scope", s)
			continue
		}
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	c.Scopes = scopes
	if c.PreferredUsernameClaim == "" {
		c.PreferredUsernameClaim = DefaultPreferredUsernameClaim
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.StateKey = slices.Clone(c.StateKey)
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("OIDC login %q: %w", c.Name, err)
	}
	return c, nil
}

// checkURL accepts absolute http and https URLs without query or fragment.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return errors.New("want an absolute http:// or https:// URL")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return errors.New("want a URL without user info, query or fragment")
	}
	return nil
}

func startPath(name string) string    { return "/oauth2/" + name + "/start" }
func callbackPath(name string) string { return "/oauth2/" + name + "/callback" }
