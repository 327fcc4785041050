package auth

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/registry/store"
)

func newService(t *testing.T, opts Options) (*Service, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{URI: "sqlite:///" + filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if opts.Service == "" {
		opts.Service = "registry.test"
	}
	s, err := New(context.Background(), st, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

func TestParseScopes(t *testing.T) {
	tests := []struct {
		in   []string
		want []Access
		err  bool
	}{
		{[]string{"repository:a/b:pull,push"}, []Access{{"repository", "a/b", []string{"pull", "push"}}}, false},
		{[]string{"repository:a/b:pull repository:c/d:pull"}, []Access{{"repository", "a/b", []string{"pull"}}, {"repository", "c/d", []string{"pull"}}}, false},
		{[]string{"repository:a/b:pull", "repository:a/b:push"}, []Access{{"repository", "a/b", []string{"pull", "push"}}}, false},
		{[]string{"repository(plugin):a/b:pull"}, []Access{{"repository", "a/b", []string{"pull"}}}, false},
		{[]string{"registry:catalog:*"}, []Access{{"registry", "catalog", []string{"*"}}}, false},
		{[]string{"repository:host:5000/a/b:pull"}, []Access{{"repository", "host:5000/a/b", []string{"pull"}}}, false},
		{[]string{"nonsense"}, nil, true},
		{[]string{"repository:onlyname"}, nil, true},
		{nil, nil, false},
	}
	for _, tc := range tests {
		got, err := ParseScopes(tc.in)
		if (err != nil) != tc.err || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseScopes(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestGrant(t *testing.T) {
	ctx := context.Background()
	s, st := newService(t, Options{AnonymousAccess: true, SuperUsersEnabled: true, SuperUsers: []string{"root"}})
	alice, err := CreateUser(ctx, st, "alice", "alice-password", "", false)
	if err != nil {
		t.Fatal(err)
	}
	bob, _ := CreateUser(ctx, st, "bob", "bob-password", "", false)
	root, _ := CreateUser(ctx, st, "root", "root-password", "", false)
	pub, _, _ := st.EnsureRepository(ctx, "alice", "public", 0)
	st.SetVisibility(ctx, pub.ID, true)
	st.EnsureRepository(ctx, "alice", "private", 0)

	all := []string{"pull", "push", "delete"}
	tests := []struct {
		who  Identity
		repo string
		want []string
	}{
		{Identity{User: &alice}, "alice/private", all},
		{Identity{User: &alice}, "alice/new/nested", all},
		{Identity{User: &bob}, "alice/private", nil},
		{Identity{User: &bob}, "alice/public", []string{"pull"}},
		{Identity{User: &bob}, "alice/missing", nil},
		{Identity{}, "alice/public", []string{"pull"}},
		{Identity{}, "alice/private", nil},
		{Identity{User: &root}, "alice/private", all},
	}
	for _, tc := range tests {
		got, err := s.Grant(ctx, tc.who, []Access{{Type: "repository", Name: tc.repo, Actions: all}})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		if len(got) == 1 {
			actions = got[0].Actions
		}
		if !reflect.DeepEqual(actions, tc.want) {
			t.Errorf("%s on %s: granted %v, want %v", tc.who.Name(), tc.repo, actions, tc.want)
		}
	}
	// Without anonymous access, anonymous users get nothing, not even public pulls.
	s2, st2 := newService(t, Options{AnonymousAccess: false})
	CreateUser(ctx, st2, "alice", "alice-password", "", false)
	p2, _, _ := st2.EnsureRepository(ctx, "alice", "public", 0)
	st2.SetVisibility(ctx, p2.ID, true)
	if got, _ := s2.Grant(ctx, Identity{}, []Access{{Type: "repository", Name: "alice/public", Actions: []string{"pull"}}}); len(got) != 0 {
		t.Fatalf("anonymous access disabled, but granted %v", got)
	}
	if got, _ := s2.Grant(ctx, Identity{}, []Access{{Type: "registry", Name: "catalog", Actions: []string{"*"}}}); len(got) != 0 {
		t.Fatalf("anonymous catalog granted %v", got)
	}
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	s, st := newService(t, Options{TokenTTL: time.Minute})
	u, _ := CreateUser(ctx, st, "alice", "alice-password", "", false)
	access := []Access{{Type: "repository", Name: "alice/app", Actions: []string{"pull", "push"}}}
	tok, err := s.IssueToken(Identity{User: &u}, access)
	if err != nil {
		t.Fatal(err)
	}
	if tok.ExpiresIn != 60 {
		t.Fatalf("expires_in = %d", tok.ExpiresIn)
	}
	got, err := s.VerifyToken(tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != "alice" || got.UserID != u.ID || !got.Allows("repository", "alice/app", "push") || got.Allows("repository", "alice/app", "delete") {
		t.Fatalf("verified token = %+v", got)
	}
	// A second service on the same database (another node) verifies it too.
	s2, err := New(ctx, st, Options{Service: "registry.test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.VerifyToken(tok.Token); err != nil {
		t.Fatalf("another node rejects the token: %v", err)
	}
	// Other audiences, tampered tokens and garbage are refused.
	s3, _ := New(ctx, st, Options{Service: "other.test"})
	if _, err := s3.VerifyToken(tok.Token); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("token for another service accepted: %v", err)
	}
	parts := strings.Split(tok.Token, ".")
	tampered := parts[0] + "." + strings.TrimRight(parts[1], "=") + "x." + parts[2]
	if _, err := s.VerifyToken(tampered); err == nil {
		t.Fatal("tampered token accepted")
	}
	if _, err := s.VerifyToken("not.a.token"); err == nil {
		t.Fatal("garbage accepted")
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	s, st := newService(t, Options{})
	CreateUser(ctx, st, "alice", "alice-password", "", false)
	req := func(h string) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, "/v2/", nil)
		if h != "" {
			r.Header.Set("Authorization", h)
		}
		return r
	}
	basic := func(u, p string) string {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.SetBasicAuth(u, p)
		return r.Header.Get("Authorization")
	}
	creds, err := s.Authenticate(req(""))
	if err != nil || creds.Presented || !creds.Identity.Anonymous() {
		t.Fatalf("no header: %+v %v", creds, err)
	}
	for i := range 2 { // the second login comes from the cache
		creds, err = s.Authenticate(req(basic("alice", "alice-password")))
		if err != nil || creds.Identity.Name() != "alice" || creds.Token != nil {
			t.Fatalf("basic login %d: %+v %v", i, creds, err)
		}
	}
	for _, h := range []string{basic("alice", "wrong-password"), basic("nobody", "x"), "Bearer garbage", "Digest x", "Basic !!!"} {
		if _, err := s.Authenticate(req(h)); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("%q: %v, want ErrBadCredentials", h, err)
		}
	}
	u, _ := st.UserByName(ctx, "alice")
	tok, _ := s.IssueToken(Identity{User: &u}, nil)
	creds, err = s.Authenticate(req("Bearer " + tok.Token))
	if err != nil || creds.Token == nil || creds.Identity.Name() != "alice" {
		t.Fatalf("bearer: %+v %v", creds, err)
	}
}

func TestCreateUserValidation(t *testing.T) {
	ctx := context.Background()
	_, st := newService(t, Options{})
	for _, name := range []string{"A", "Alice", "a", "-x", "x-", "has space", strings.Repeat("a", 256)} {
		if _, err := CreateUser(ctx, st, name, "long-password", "", false); err == nil {
			t.Errorf("user name %q accepted", name)
		}
	}
	for _, name := range []string{"ab", "alice", "a.b", "a_b", "a-b", "a__b", "ci-bot-2"} {
		if _, err := CreateUser(ctx, st, name, "long-password", "", false); err != nil {
			t.Errorf("user name %q refused: %v", name, err)
		}
	}
	if _, err := CreateUser(ctx, st, "shortpw", "1234567", "", false); err == nil {
		t.Error("7-character password accepted")
	}
	if _, err := CreateUser(ctx, st, "longpw", strings.Repeat("x", 73), "", false); err == nil {
		t.Error("73-byte password accepted")
	}
}

func TestAllowed(t *testing.T) {
	ctx := context.Background()
	s, st := newService(t, Options{})
	u, _ := CreateUser(ctx, st, "alice", "alice-password", "", false)
	alice := Identity{User: &u}
	tok, _ := s.IssueToken(alice, []Access{{Type: "repository", Name: "alice/app", Actions: []string{"pull"}}})
	verified, err := s.VerifyToken(tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		creds   Credentials
		actions []string
		want    bool
	}{
		{"owner, basic", Credentials{Identity: alice, Presented: true}, []string{"pull", "push", "delete"}, true},
		{"token grants pull", Credentials{Identity: alice, Token: verified, Presented: true}, []string{"pull"}, true},
		// A token is limited to its grants even when its holder has more rights.
		{"token lacks push", Credentials{Identity: alice, Token: verified, Presented: true}, []string{"pull", "push"}, false},
		{"anonymous, private", Credentials{}, []string{"pull"}, false},
	}
	for _, tc := range tests {
		got, err := s.Allowed(ctx, tc.creds, "alice", "app", tc.actions...)
		if err != nil || got != tc.want {
			t.Errorf("%s: Allowed = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}
