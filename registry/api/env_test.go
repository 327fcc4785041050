package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/wharf-registry/wharf/internal/testservers"
	"github.com/wharf-registry/wharf/registry/api"
	"github.com/wharf-registry/wharf/registry/audit"
	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

// TestMain runs every API test on SQLite, then on PostgreSQL.
func TestMain(m *testing.M) { testservers.MainDialects(m) }

// env is an API server over a fresh database of the run's dialect (testservers.Dialect).
type env struct {
	t     *testing.T
	srv   *httptest.Server
	store *store.Store
	auth  *auth.Service
	api   *api.API
}

// envOptions tune the server under test.
type envOptions struct {
	auth auth.Options
	api  api.Options
	// postgres runs on a fresh PostgreSQL database instead of SQLite.
	postgres bool
}

// newEnv starts the API with Quay's defaults: app tokens, user creation, user log access,
// team syncing, and "root" listed in SUPER_USERS.
func newEnv(t *testing.T) *env {
	return newEnvWith(t, envOptions{
		auth: auth.Options{AnonymousAccess: true, AppTokens: true, SuperUsersEnabled: true, SuperUsers: []string{"root"}},
		api:  api.Options{UserCreation: true, UserInitialize: true, UserLogAccess: true, TeamSyncing: true},
	})
}

func newEnvWith(t *testing.T, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	opts := store.Options{URI: "sqlite:///" + filepath.Join(t.TempDir(), "wharf.db")}
	if o.postgres || testservers.Dialect() == "postgres" {
		opts.URI = testservers.Postgres(t).NewDatabase(t)
	}
	st, err := store.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	al := audit.New(st)
	o.auth.Service = "registry.test"
	o.auth.Audit = al
	as, err := auth.New(ctx, st, o.auth)
	if err != nil {
		t.Fatal(err)
	}
	o.api.ServerHostname, o.api.Scheme = "registry.test", "http"
	a := api.New(st, as, al, o.api, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, store: st, auth: as, api: a}
}

// user creates a user whose password is NAME-password.
func (e *env) user(name string) store.User {
	e.t.Helper()
	u, err := auth.CreateUser(context.Background(), e.store, name, name+"-password", name+"@example.test", false)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// as is who makes a request: a user name (Basic with NAME-password), "" for anonymous, or
// "bearer:TOKEN" / "basic:USER:SECRET" for other credentials.
type as = string

// call makes a request and decodes the JSON answer into out (when not nil). It returns the
// status.
func (e *env) call(method, path string, who as, body any, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	setCredentials(req, who)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

// must makes a request that must answer want, decoding into out.
func (e *env) must(want int, method, path string, who as, body any, out any) {
	e.t.Helper()
	var raw json.RawMessage
	got := e.call(method, path, who, body, &raw)
	if got != want {
		e.t.Fatalf("%s %s as %q: status %d, want %d: %s", method, path, who, got, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
}

func setCredentials(req *http.Request, who as) {
	switch {
	case who == "":
	case len(who) > 7 && who[:7] == "bearer:":
		req.Header.Set("Authorization", "Bearer "+who[7:])
	case len(who) > 6 && who[:6] == "basic:":
		user, secret, _ := cut(who[6:], ':')
		req.SetBasicAuth(user, secret)
	default:
		req.SetBasicAuth(who, who+"-password")
	}
}

func cut(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// logs returns the audit entries of a kind, oldest first.
func (e *env) logs(kind string) []store.LogEntry {
	e.t.Helper()
	entries, err := e.store.Logs(context.Background(), store.LogFilter{Kinds: []string{kind}, Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	for i, j := 0, len(entries)-1; i < j; i, j = i+1, j-1 {
		entries[i], entries[j] = entries[j], entries[i]
	}
	return entries
}
