package oidc

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestStateCookieSigning(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	signer := stateSigner{key: testKey, name: "oidc"}
	want := loginState{State: "st", Nonce: "no", Verifier: "ve", Next: "/home", Expires: now.Add(stateTTL).Unix()}
	value, err := signer.encode(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := signer.decode(value, now)
	if err != nil || got != want {
		t.Fatalf("decode(encode(%+v)) = %+v, %v", want, got, err)
	}
	if strings.ContainsAny(value, " ;,\"") {
		t.Errorf("cookie value %q has characters that cookies cannot hold", value)
	}

	payload, sig, _ := strings.Cut(value, ".")
	flip := func(s string) string { // changes the first character, keeping base64url
		if s[0] == 'A' {
			return "B" + s[1:]
		}
		return "A" + s[1:]
	}
	other := func(st loginState) string {
		v, err := signer.encode(st)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	incomplete := want
	incomplete.Verifier = ""
	tests := []struct {
		name   string
		signer stateSigner
		value  string
		at     time.Time
		want   error
	}{
		{"good", signer, value, now, nil},
		{"just before expiry", signer, value, now.Add(stateTTL - time.Second), nil},
		{"expired", signer, value, now.Add(stateTTL), errStateExpired},
		{"payload changed", signer, flip(payload) + "." + sig, now, errStateSignature},
		{"signature changed", signer, payload + "." + flip(sig), now, errStateSignature},
		{"signature dropped", signer, payload + ".", now, errStateSignature},
		{"other key", stateSigner{key: []byte(strings.Repeat("k", 32)), name: "oidc"}, value, now, errStateSignature},
		{"other provider", stateSigner{key: testKey, name: "keycloak"}, value, now, errStateSignature},
		{"no dot", signer, payload, now, errStateMalformed},
		{"bad base64 signature", signer, payload + ".!!!", now, errStateMalformed},
		{"empty", signer, "", now, errStateMalformed},
		{"signed but incomplete", signer, other(incomplete), now, errStateMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.signer.decode(tc.value, tc.at)
			if !errors.Is(err, tc.want) {
				t.Errorf("decode: %v, want %v", err, tc.want)
			}
		})
	}

	// Two logins never share a state, nonce or cookie.
	if a, b := randomToken(), randomToken(); a == b || len(a) != 43 {
		t.Errorf("randomToken gave %q and %q", a, b)
	}
}

func TestLocalPath(t *testing.T) {
	tests := []struct{ next, want string }{
		{"", "/"},
		{"/", "/"},
		{"/home", "/home"},
		{"/repository/alice/app?tab=tags#top", "/repository/alice/app?tab=tags#top"},
		{"//evil.example", "/"},
		{"//evil.example/path", "/"},
		{"https://evil.example", "/"},
		{"http://evil.example/home", "/"},
		{"javascript:alert(1)", "/"},
		{"/\\evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/home\\..\\x", "/"},
		{"evil.example", "/"},
		{"home", "/"},
		{"/" + strings.Repeat("a", 3000), "/"},
	}
	for _, tc := range tests {
		if got := localPath(tc.next); got != tc.want {
			t.Errorf("localPath(%q) = %q, want %q", tc.next, got, tc.want)
		}
	}
}

func TestNameFromConfigKey(t *testing.T) {
	tests := []struct {
		key  string
		want string
		ok   bool
	}{
		{"OIDC_LOGIN_CONFIG", "oidc", true},
		{"KEYCLOAK_LOGIN_CONFIG", "keycloak", true},
		{"AZURE_AD_LOGIN_CONFIG", "azure_ad", true},
		{"_LOGIN_CONFIG", "", false},
		{"LOGIN_CONFIG", "", false},
		{"OIDC_LOGIN", "", false},
		{"GITHUB_LOGIN_CONFIG", "", false},
		{"GOOGLE_LOGIN_CONFIG", "", false},
		{"MY.IDP_LOGIN_CONFIG", "", false},
	}
	for _, tc := range tests {
		got, ok := NameFromConfigKey(tc.key)
		if got != tc.want || ok != tc.ok {
			t.Errorf("NameFromConfigKey(%q) = %q, %v; want %q, %v", tc.key, got, ok, tc.want, tc.ok)
		}
	}
}

func validConfig() Config {
	return Config{
		Name:         "oidc",
		ClientID:     "wharf",
		ClientSecret: "secret",
		Issuer:       "https://sso.example.com/realms/wharf/",
		RedirectURL:  "https://registry.example.com/oauth2/oidc/callback",
		StateKey:     testKey,
	}
}

func TestNew(t *testing.T) {
	p, err := New(validConfig())
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "oidc" || p.ServiceName() != "oidc" || p.StartPath() != "/oauth2/oidc/start" || p.CallbackPath() != "/oauth2/oidc/callback" {
		t.Errorf("Name %q ServiceName %q StartPath %q CallbackPath %q", p.Name(), p.ServiceName(), p.StartPath(), p.CallbackPath())
	}
	if got := strings.Join(p.cfg.Scopes, " "); got != "openid email profile" {
		t.Errorf("default scopes %q, want openid email profile", got)
	}
	if p.cfg.PreferredUsernameClaim != "preferred_username" {
		t.Errorf("default username claim %q", p.cfg.PreferredUsernameClaim)
	}
	if c := p.cookie("v", 60); !c.Secure {
		t.Error("the state cookie of an https site is not Secure")
	}

	cfg := validConfig()
	cfg.Scopes = []string{"email", "groups", "email"}
	if p, err := New(cfg); err != nil || strings.Join(p.cfg.Scopes, " ") != "openid email groups" {
		t.Errorf("scopes %v: got %v, %v; want openid added and duplicates dropped", cfg.Scopes, p.cfg.Scopes, err)
	}

	tests := []struct {
		name   string
		change func(*Config)
		says   string
	}{
		{"no name", func(c *Config) { c.Name = "" }, "name"},
		{"name with a slash", func(c *Config) { c.Name = "a/b" }, "name"},
		{"no client ID", func(c *Config) { c.ClientID = "" }, "CLIENT_ID"},
		{"no client secret", func(c *Config) { c.ClientSecret = "" }, "CLIENT_SECRET"},
		{"no issuer", func(c *Config) { c.Issuer = "" }, "OIDC_SERVER"},
		{"relative issuer", func(c *Config) { c.Issuer = "sso.example.com" }, "OIDC_SERVER"},
		{"issuer with a query", func(c *Config) { c.Issuer = "https://sso.example.com/?x=1" }, "OIDC_SERVER"},
		{"ftp issuer", func(c *Config) { c.Issuer = "ftp://sso.example.com" }, "OIDC_SERVER"},
		{"no redirect URL", func(c *Config) { c.RedirectURL = "" }, "redirect URL"},
		{"redirect URL elsewhere", func(c *Config) { c.RedirectURL = "https://registry.example.com/callback" }, "/oauth2/oidc/callback"},
		{"short state key", func(c *Config) { c.StateKey = []byte("short") }, "state key"},
		{"scope with a space", func(c *Config) { c.Scopes = []string{"openid email"} }, "LOGIN_SCOPES"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig()
			tc.change(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("New: %v, want an error about %s", err, tc.says)
			}
		})
	}
}

func TestUsernameClaims(t *testing.T) {
	tests := []struct {
		name   string
		claim  string // PreferredUsernameClaim
		claims map[string]any
		want   string
	}{
		{"preferred_username", "", map[string]any{"preferred_username": "alice", "name": "Alice A", "email": "a@x"}, "alice"},
		{"name when no preferred_username", "", map[string]any{"name": "Alice A", "email": "a@x"}, "Alice A"},
		{"email's local part last", "", map[string]any{"email": "alice.a@example.com"}, "alice.a"},
		{"blank claims skipped", "", map[string]any{"preferred_username": " ", "name": "", "email": "bob@x"}, "bob"},
		{"configured claim", "upn", map[string]any{"upn": "carol", "preferred_username": "alice"}, "carol"},
		{"configured claim missing", "upn", map[string]any{"preferred_username": "alice", "name": "Alice"}, "Alice"},
		{"not a string", "", map[string]any{"preferred_username": 42, "email": "dave@x"}, "dave"},
		{"nothing", "", map[string]any{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig()
			cfg.PreferredUsernameClaim = tc.claim
			p, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.username(tc.claims, stringClaim(tc.claims, "email")); got != tc.want {
				t.Errorf("username = %q, want %q", got, tc.want)
			}
		})
	}
	for v, want := range map[any]bool{true: true, false: false, "true": true, "TRUE": true, "false": false, 1: false} {
		if got := boolClaim(map[string]any{"email_verified": v}, "email_verified"); got != want {
			t.Errorf("boolClaim(%#v) = %v, want %v", v, got, want)
		}
	}
}
