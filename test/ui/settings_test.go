package ui_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// settingsStatus makes a request with Basic credentials (none when user is "") and returns the
// answer's status.
func settingsStatus(t *testing.T, url, user, password string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// settingsOpen loads a page and returns its HTTP status.
func (b *tab) settingsOpen(t *testing.T, path string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(b.base+path))
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	b.run(t, "wait for "+path, chromedp.WaitReady("#main", chromedp.ByQuery))
	return int(resp.Status)
}

// settingsServerErrors shows, when the test fails, what the server logged about failed pages.
func settingsServerErrors(t *testing.T, w *testservers.Wharf) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, line := range strings.Split(w.Logs(), "\n") {
			if strings.Contains(line, "failed") || strings.Contains(line, "ERROR") {
				t.Log(line)
			}
		}
	})
}

// settingsNewUser creates a user through the superuser API and returns the generated password.
func settingsNewUser(t *testing.T, w *testservers.Wharf, name string) string {
	t.Helper()
	var created struct {
		Password string `json:"password"`
	}
	api(t, w.URL, w.User, w.Password, "POST", "/api/v1/superuser/users/", map[string]string{"username": name, "email": name + "@example.test"}, &created)
	if created.Password == "" {
		t.Fatalf("no password generated for %s", name)
	}
	return created.Password
}

// TestSettings changes the e-mail address and the password, creates an app token and logs
// in to the registry with it, revokes it, makes the encrypted CLI password and uses it, and
// reads the user's own logs.
func TestSettings(t *testing.T) {
	w := testservers.StartWharf(t, testservers.WharfOptions{Config: "FEATURE_USER_LOG_ACCESS: true\nFEATURE_APP_SPECIFIC_TOKENS: true\n"})
	settingsServerErrors(t, w)
	password := settingsNewUser(t, w, "dana")
	b := newTab(t, w.URL, false)
	b.signIn(t, "dana", password)

	// E-mail.
	b.open(t, "/settings/")
	if cur := b.text(t, `#tab-account[aria-current="page"]`); cur != "Account" {
		t.Fatalf("the current tab is %q", cur)
	}
	b.run(t, "type an e-mail address", fill("#settings-email", "dana.new@example.test"))
	if st := b.submit(t, "change the e-mail", "#settings-email-submit"); st != http.StatusOK {
		t.Fatalf("changing the e-mail answered %d", st)
	}
	if msg := b.flash(t); !strings.Contains(msg, "dana.new@example.test") {
		t.Fatalf("after changing the e-mail the page says %q", msg)
	}
	var me struct {
		Email string `json:"email"`
	}
	api(t, w.URL, "dana", password, "GET", "/api/v1/user/", nil, &me)
	if me.Email != "dana.new@example.test" {
		t.Fatalf("the API says the e-mail is %q", me.Email)
	}

	// Password: two different entries change nothing; the same twice does.
	b.run(t, "type two different passwords", fill("#settings-password", "first-password-1"), fill("#settings-confirm", "other-password-2"))
	b.submit(t, "change the password", "#settings-password-submit")
	if msg := b.flash(t); !strings.Contains(msg, "differ") {
		t.Fatalf("with two different passwords the page says %q", msg)
	}
	const newPassword = "dana-new-password"
	b.run(t, "type the new password twice", fill("#settings-password", newPassword), fill("#settings-confirm", newPassword))
	b.submit(t, "change the password", "#settings-password-submit")
	if msg := b.flash(t); !strings.Contains(msg, "password was changed") {
		t.Fatalf("after changing the password the page says %q", msg)
	}
	if got := b.text(t, "#username"); got != "dana" {
		t.Fatalf("after changing the password the header names %q", got)
	}
	if st := settingsStatus(t, w.URL+"/api/v1/user/", "dana", password); st != http.StatusUnauthorized {
		t.Fatalf("the old password answered %d", st)
	}
	if st := settingsStatus(t, w.URL+"/api/v1/user/", "dana", newPassword); st != http.StatusOK {
		t.Fatalf("the new password answered %d", st)
	}

	// App token: created, shown once, logs in to the registry, revoked.
	b.open(t, "/settings/?tab=tokens")
	b.run(t, "name a token", fill("#token-title", "ci pipeline"))
	b.submit(t, "create a token", "#token-submit")
	token := strings.TrimSpace(b.text(t, "#new-token-code"))
	if login := b.text(t, "#new-token-login"); !strings.Contains(login, "podman login -u '$app' -p "+token+" "+w.Host) {
		t.Fatalf("the login command reads %q", login)
	}
	if st := settingsStatus(t, w.URL+"/v2/", "$app", token); st != http.StatusOK {
		t.Fatalf("GET /v2/ with the app token answered %d", st)
	}
	b.open(t, "/settings/?tab=tokens")
	if strings.Contains(b.html(t), token) {
		t.Fatal("the token is shown again")
	}
	var tokens struct {
		Tokens []struct {
			UUID  string `json:"uuid"`
			Title string `json:"title"`
		} `json:"tokens"`
	}
	api(t, w.URL, "dana", newPassword, "GET", "/api/v1/user/apptoken", nil, &tokens)
	if len(tokens.Tokens) != 1 || tokens.Tokens[0].Title != "ci pipeline" {
		t.Fatalf("tokens: %+v", tokens)
	}
	b.submit(t, "revoke the token", "#revoke-"+tokens.Tokens[0].UUID)
	if msg := b.flash(t); !strings.Contains(msg, "revoked") {
		t.Fatalf("after revoking the page says %q", msg)
	}
	if st := settingsStatus(t, w.URL+"/v2/", "$app", token); st != http.StatusUnauthorized {
		t.Fatalf("GET /v2/ with the revoked token answered %d", st)
	}

	// Encrypted CLI password: a wrong password is refused; the right one makes a key that
	// logs in.
	b.open(t, "/settings/?tab=cli")
	b.run(t, "type a wrong password", fill("#cli-password", "not-my-password"))
	b.submit(t, "ask for the CLI password", "#cli-submit")
	if msg := b.flash(t); !strings.Contains(msg, "Invalid password") {
		t.Fatalf("with a wrong password the page says %q", msg)
	}
	b.run(t, "type the password", fill("#cli-password", newPassword))
	b.submit(t, "ask for the CLI password", "#cli-submit")
	key := strings.TrimSpace(b.text(t, "#client-key-code"))
	if !strings.Contains(b.text(t, "#client-key-docker"), "docker login -u 'dana' -p "+key) {
		t.Fatal("no docker login command with the key")
	}
	if st := settingsStatus(t, w.URL+"/v2/", "dana", key); st != http.StatusOK {
		t.Fatalf("GET /v2/ with the encrypted password answered %d", st)
	}

	// The robots tab renders; the logs tab shows what dana did.
	b.open(t, "/settings/?tab=robots")
	b.open(t, "/settings/?tab=logs")
	if logs := b.text(t, "#settings-logs"); !strings.Contains(logs, "dana") || strings.Contains(logs, "No entries") {
		t.Fatalf("the logs tab shows:\n%s", logs)
	}

	// Anonymous visitors are sent to sign in.
	b.signOut(t)
	b.open(t, "/settings/?tab=tokens")
	if loc := b.location(t); !strings.Contains(loc, "/signin?next=") {
		t.Fatalf("an anonymous visitor is at %s", loc)
	}
}

// TestSettingsLogsOff shows that the logs tab says so when FEATURE_USER_LOG_ACCESS is off,
// and that the token tab does with FEATURE_APP_SPECIFIC_TOKENS off.
func TestSettingsLogsOff(t *testing.T) {
	w := testservers.StartWharf(t, testservers.WharfOptions{Config: "FEATURE_USER_LOG_ACCESS: false\nFEATURE_APP_SPECIFIC_TOKENS: false\n"})
	settingsServerErrors(t, w)
	b := newTab(t, w.URL, true)
	b.signIn(t, w.User, w.Password)
	b.open(t, "/settings/?tab=logs")
	if msg := b.text(t, "#logs-off"); !strings.Contains(msg, "FEATURE_USER_LOG_ACCESS") {
		t.Fatalf("with user logs off the tab says %q", msg)
	}
	b.open(t, "/settings/?tab=tokens")
	if msg := b.text(t, "#tokens-off"); !strings.Contains(msg, "FEATURE_APP_SPECIFIC_TOKENS") {
		t.Fatalf("with app tokens off the tab says %q", msg)
	}
}
