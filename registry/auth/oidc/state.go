package oidc

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// stateTTL is how long a user has to sign in at the provider.
const stateTTL = 10 * time.Minute

// loginState is what a login remembers between its start and its callback, in a signed cookie
// on the browser: the state sent to the provider, the nonce expected in the ID token, the PKCE
// verifier and the page to go to afterwards.
type loginState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"r"`
	Expires  int64  `json:"e"` // Unix seconds
}

// Errors of decodeState.
var (
	errStateMalformed = errors.New("the login cookie is malformed")
	errStateSignature = errors.New("the login cookie's signature is wrong")
	errStateExpired   = errors.New("the login cookie has expired")
)

// stateSigner signs and checks login states for one provider.
type stateSigner struct {
	key  []byte
	name string // the provider's name: a state made for one provider is refused by another
}

// mac is the HMAC-SHA256 of the encoded payload, bound to the provider's name.
func (s stateSigner) mac(payload string) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte("wharf-oidc-state-v1\x00" + s.name + "\x00" + payload))
	return h.Sum(nil)
}

// encode returns the cookie value: base64url(JSON) "." base64url(HMAC).
func (s stateSigner) encode(st loginState) (string, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return "", fmt.Errorf("encode the login state: %w", err)
	}
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.mac(payload)), nil
}

// decode checks the cookie value's signature and expiry and returns its state.
func (s stateSigner) decode(value string, now time.Time) (loginState, error) {
	payload, sig, ok := strings.Cut(value, ".")
	if !ok {
		return loginState{}, errStateMalformed
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return loginState{}, errStateMalformed
	}
	if !hmac.Equal(got, s.mac(payload)) {
		return loginState{}, errStateSignature
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return loginState{}, errStateMalformed
	}
	var st loginState
	if err := json.Unmarshal(b, &st); err != nil || st.State == "" || st.Nonce == "" || st.Verifier == "" {
		return loginState{}, errStateMalformed
	}
	if now.Unix() >= st.Expires {
		return loginState{}, errStateExpired
	}
	return st, nil
}

// randomToken returns 32 random bytes, base64url-encoded.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return base64.RawURLEncoding.EncodeToString(b)
}

// localPath returns next when it is a path on this site, and "/" otherwise: an absolute URL,
// a scheme-relative "//host" (or "/\host", which browsers read the same way) or anything with
// control characters (which browsers drop, so "/\t/host" is "//host" to them) would let a
// link to the login page send the user to another site.
func localPath(next string) string {
	if next == "" || next[0] != '/' || len(next) > 2048 {
		return "/"
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return "/"
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}
