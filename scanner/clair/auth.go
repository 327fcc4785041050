package clair

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Clair's PSK authentication: every request carries "Authorization: Bearer <JWT>", the JWT
// signed with HS256 under the pre-shared key, its "iss" claim one of the issuers the server
// allows. Quay signs {"iss": "quay", "exp": now+5m}; clairctl uses the issuer "clairctl".

// DefaultIssuers are the issuers a handler with a PSK accepts unless told otherwise: Quay's
// and clairctl's.
var DefaultIssuers = []string{"quay", "clairctl"}

// DefaultIssuer is the issuer a Client names in its tokens unless told otherwise: Quay's, so
// a Clair configured for Quay accepts Wharf.
const DefaultIssuer = "quay"

const (
	// authLeeway is how far a token's exp and nbf may be off, for clock skew between hosts.
	authLeeway = time.Minute
	// tokenLifetime is how long a token a Client signs is valid.
	tokenLifetime = 2 * time.Minute
)

// signToken returns a token for one request, as Quay signs them (iss, exp) plus nbf a
// minute back, as Clair's own signer sets it. No iat: Clair refuses one in its future, so a
// server whose clock is behind ours by more than its leeway (15 seconds) would refuse it.
func signToken(key []byte, issuer string, now time.Time) (string, error) {
	claims := jwt.RegisteredClaims{
		Issuer:    issuer,
		NotBefore: jwt.NewNumericDate(now.Add(-authLeeway)),
		ExpiresAt: jwt.NewNumericDate(now.Add(tokenLifetime)),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign the scanner token: %w", err)
	}
	return s, nil
}

// errNoToken is the reason a request without a bearer token is refused.
var errNoToken = errors.New("no bearer token: send Authorization: Bearer <JWT signed with the pre-shared key>")

// pskAuth checks the requests of a handler configured with a pre-shared key.
type pskAuth struct {
	key     []byte
	issuers []string
	parser  *jwt.Parser
}

func newPSKAuth(key []byte, issuers []string) *pskAuth {
	if len(issuers) == 0 {
		issuers = DefaultIssuers
	}
	return &pskAuth{
		key:     slices.Clone(key),
		issuers: slices.Clone(issuers),
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithLeeway(authLeeway),
			jwt.WithExpirationRequired(),
		),
	}
}

// check returns nil when the request carries a valid token, or why not. The reasons are
// for the client and the log; they name no secret.
func (a *pskAuth) check(r *http.Request) error {
	token, ok := bearer(r)
	if !ok {
		return errNoToken
	}
	var claims jwt.RegisteredClaims
	_, err := a.parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return a.key, nil })
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		return errors.New("the token has expired (check the clocks of both hosts)")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return errors.New("the token is not valid yet (check the clocks of both hosts)")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return errors.New("the token has no exp claim")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return errors.New("the token is not signed with the pre-shared key (HS256)")
	default:
		return fmt.Errorf("the token is not a valid JWT: %w", err)
	}
	if !slices.Contains(a.issuers, claims.Issuer) {
		return fmt.Errorf("the token's issuer %q is not allowed", claims.Issuer)
	}
	return nil
}

// bearer returns the request's bearer token.
func bearer(r *http.Request) (string, bool) {
	for _, h := range r.Header.Values("Authorization") {
		scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			if token = strings.TrimSpace(token); token != "" {
				return token, true
			}
		}
	}
	return "", false
}

// ParsePSK decodes a pre-shared key as Quay's SECURITY_SCANNER_V4_PSK and Clair's config
// hold it: base64, surrounding white space ignored. The error is base64's.
func ParsePSK(psk string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.TrimSpace(psk))
}
