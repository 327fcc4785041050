// Package ui_test drives the web UI in a real headless chromium (Debian's), as a person
// would, against a real `wharf serve`. Every tab records what the browser reports as an
// error (exceptions, console errors, resources refused by the Content-Security-Policy or
// not found) and fails the test at its end if there was any.
package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/wharf-registry/wharf/internal/testservers"
)

func TestMain(m *testing.M) { testservers.Main(m) }

// tab is a browser tab for one person.
type tab struct {
	ctx context.Context
	// base is the registry's URL (http://127.0.0.1:PORT).
	base    string
	console *testservers.Console
}

// newTab starts a fresh browser (its own profile: no cookies) on the registry at base. With
// noScript, JavaScript is off, as for a person who turned it off.
func newTab(t *testing.T, base string, noScript bool) *tab {
	t.Helper()
	ctx := testservers.Browser(t)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(cancel)
	b := &tab{ctx: ctx, base: base, console: testservers.WatchConsole(ctx, true)}
	chromedp.ListenTarget(ctx, func(ev any) {
		// A stylesheet, script or image that fails is a broken page.
		if ev, ok := ev.(*network.EventResponseReceived); ok && ev.Type != network.ResourceTypeDocument && ev.Response.Status >= 400 {
			b.console.Add(fmt.Sprintf("%s %s answered %d", ev.Type, ev.Response.URL, ev.Response.Status))
		}
	})
	actions := []chromedp.Action{network.Enable(), cdplog.Enable(), runtime.Enable()}
	if noScript {
		actions = append(actions, emulation.SetScriptExecutionDisabled(true))
	}
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p := b.console.Problems(); len(p) > 0 {
			t.Errorf("the browser reported errors:\n%s", strings.Join(p, "\n"))
		}
	})
	return b
}

// run runs actions; on failure the test ends, showing where the browser was and what the
// page said.
func (b *tab) run(t *testing.T, what string, actions ...chromedp.Action) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		var loc, body string
		c2, cancel2 := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel2()
		chromedp.Run(c2, chromedp.Location(&loc), chromedp.Text("body", &body, chromedp.ByQuery))
		t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, body)
	}
}

// open loads a page of the registry (path starts with /) and waits for its main part.
func (b *tab) open(t *testing.T, path string) {
	t.Helper()
	b.run(t, "open "+path, chromedp.Navigate(b.base+path), chromedp.WaitReady("#main", chromedp.ByQuery))
}

// text reads the text of the first element matching sel.
func (b *tab) text(t *testing.T, sel string) string {
	t.Helper()
	var s string
	b.run(t, "read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
	return s
}

// html reads the whole page's HTML, as served and changed by scripts.
func (b *tab) html(t *testing.T) string {
	t.Helper()
	var s string
	b.run(t, "read the page", chromedp.OuterHTML("html", &s, chromedp.ByQuery))
	return s
}

// location is the tab's current URL.
func (b *tab) location(t *testing.T) string {
	t.Helper()
	var s string
	b.run(t, "read the location", chromedp.Location(&s))
	return s
}

// fill types value into the field sel, replacing what it held.
func fill(sel, value string) chromedp.Action {
	return chromedp.Tasks{
		chromedp.WaitVisible(sel, chromedp.ByQuery),
		chromedp.Focus(sel, chromedp.ByQuery),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(input.ModifierCtrl)),
		chromedp.KeyEvent(kb.Delete),
		chromedp.SendKeys(sel, value, chromedp.ByQuery),
	}
}

// click clicks sel (retrying when the page replaced it just then).
func click(sel string) chromedp.Action { return testservers.Click(sel) }

// submit clicks the button sel (a form's, or a link) and waits until the page it leads to
// has loaded; it returns that page's HTTP status.
func (b *tab) submit(t *testing.T, what, sel string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, testservers.Click(sel))
	if err != nil {
		var loc, body string
		c2, cancel2 := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel2()
		chromedp.Run(c2, chromedp.Location(&loc), chromedp.Text("body", &body, chromedp.ByQuery))
		t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, body)
	}
	if resp == nil {
		return 0
	}
	return int(resp.Status)
}

// signIn signs in with the password form and waits for the signed-in header.
func (b *tab) signIn(t *testing.T, user, password string) {
	t.Helper()
	b.open(t, "/signin")
	b.run(t, "sign in as "+user,
		fill("#signin-username", user),
		fill("#signin-password", password),
		click("#signin-submit"),
		chromedp.WaitVisible("#signed-in", chromedp.ByQuery))
	if got := b.text(t, "#username"); got != user {
		t.Fatalf("signed in as %q, want %q", got, user)
	}
}

// signOut signs out with the header's button.
func (b *tab) signOut(t *testing.T) {
	t.Helper()
	b.run(t, "sign out", click("#signout"), chromedp.WaitVisible("#signin-link", chromedp.ByQuery))
}

// flash reads the message a form left on the page ("" when none).
func (b *tab) flash(t *testing.T) string {
	t.Helper()
	var nodes int
	b.run(t, "look for a message", chromedp.Evaluate(`document.querySelectorAll("#flash").length`, &nodes))
	if nodes == 0 {
		return ""
	}
	return b.text(t, "#flash")
}

// api calls the REST API with Basic credentials and decodes the JSON answer into out (when
// not nil); a status other than 2xx fails the test.
func api(t *testing.T, base, user, password, method, path string, body, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s: %s", method, path, resp.Status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
}

// get fetches a page over plain HTTP with the session cookie of no one (anonymous) and
// returns its status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
