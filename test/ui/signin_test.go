package ui_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// TestSignIn signs in with a wrong and then the right password, signs out, signs up a new
// account, and checks that every form refuses a request without its CSRF token.
func TestSignIn(t *testing.T) {
	w := testservers.StartWharf(t, testservers.WharfOptions{})
	b := newTab(t, w.URL, false)

	b.open(t, "/signin")
	b.run(t, "fill in a wrong password", fill("#signin-username", w.User), fill("#signin-password", "not-the-password"))
	if status := b.submit(t, "sign in with a wrong password", "#signin-submit"); status != 401 {
		t.Errorf("a wrong password answered %d, want 401", status)
	}
	if msg := b.flash(t); !strings.Contains(msg, "Wrong user name or password") {
		t.Fatalf("after a wrong password the page says %q", msg)
	}
	b.signIn(t, w.User, w.Password)
	b.signOut(t)

	// Signing up makes an account and signs it in.
	b.open(t, "/signup")
	b.run(t, "sign up",
		fill("#signup-username", "newcomer"), fill("#signup-email", "newcomer@example.test"),
		fill("#signup-password", "newcomer-pass"), fill("#signup-confirm", "newcomer-pass"),
		click("#signup-submit"), chromedp.WaitVisible("#signed-in", chromedp.ByQuery))
	if got := b.text(t, "#username"); got != "newcomer" {
		t.Fatalf("after sign-up the header names %q", got)
	}

	// A form posted without the token (from another site, say) changes nothing.
	resp, err := http.PostForm(w.URL+"/signin", map[string][]string{"username": {w.User}, "password": {w.Password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) > 0 && resp.Cookies()[0].Name == "wharf_session" {
		t.Fatalf("sign-in without the CSRF token: %s, cookies %v", resp.Status, resp.Cookies())
	}
}

// TestSignInSettings checks FEATURE_DIRECT_LOGIN, FEATURE_USER_CREATION and
// SESSION_COOKIE_SECURE.
func TestSignInSettings(t *testing.T) {
	w := testservers.StartWharf(t, testservers.WharfOptions{Config: "FEATURE_DIRECT_LOGIN: false\nFEATURE_USER_CREATION: false\nSESSION_COOKIE_SECURE: true\n"})
	code, body := get(t, w.URL+"/signin")
	if code != http.StatusOK || strings.Contains(body, `id="signin-form"`) || strings.Contains(body, "Create account") {
		t.Fatalf("with FEATURE_DIRECT_LOGIN and FEATURE_USER_CREATION off, /signin (%d) offers a form or sign-up:\n%s", code, body)
	}
	if code, _ := get(t, w.URL+"/signup"); code != http.StatusNotFound {
		t.Fatalf("/signup answered %d with FEATURE_USER_CREATION off", code)
	}
	resp, err := http.Get(w.URL + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if !c.Secure {
			t.Errorf("cookie %s is not Secure with SESSION_COOKIE_SECURE", c.Name)
		}
	}
	if len(resp.Cookies()) == 0 {
		t.Error("the sign-in page set no CSRF cookie")
	}
}
