package ui_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// TestSuperuserUsers creates a user in the panel and signs in as them, disables them (their
// sign-in is refused), enables them, and deletes them by typing their name.
func TestSuperuserUsers(t *testing.T) {
	w := testservers.StartWharf(t, testservers.WharfOptions{})
	settingsServerErrors(t, w)
	b := newTab(t, w.URL, true)
	b.signIn(t, w.User, w.Password)

	b.open(t, "/superuser/")
	if cur := b.text(t, `#tab-users[aria-current="page"]`); cur != "Users" {
		t.Fatalf("the current tab is %q", cur)
	}
	b.run(t, "fill in the new user", click("#su-create-open"),
		fill("#su-create-username", "erin"), fill("#su-create-email", "erin@example.test"))
	b.submit(t, "create the user", "#su-create-submit")
	password := strings.TrimSpace(b.text(t, "#su-created-password"))
	if password == "" {
		t.Fatal("no password shown for the new user")
	}
	erin := newTab(t, w.URL, true)
	erin.signIn(t, "erin", password)
	erin.signOut(t)

	// Disabled, erin cannot sign in.
	b.submit(t, "disable erin", "#su-toggle-erin")
	if msg := b.flash(t); !strings.Contains(msg, "disabled") {
		t.Fatalf("after disabling the page says %q", msg)
	}
	var user struct {
		Enabled bool `json:"enabled"`
	}
	api(t, w.URL, w.User, w.Password, "GET", "/api/v1/superuser/users/erin", nil, &user)
	if user.Enabled {
		t.Fatal("the API says erin is enabled")
	}
	erin.open(t, "/signin")
	erin.run(t, "sign in as disabled erin", fill("#signin-username", "erin"), fill("#signin-password", password))
	if st := erin.submit(t, "sign in as disabled erin", "#signin-submit"); st != http.StatusUnauthorized {
		t.Fatalf("a disabled user's sign-in answered %d", st)
	}

	// Enabled again, erin signs in.
	b.submit(t, "enable erin", "#su-toggle-erin")
	if msg := b.flash(t); !strings.Contains(msg, "enabled") {
		t.Fatalf("after enabling the page says %q", msg)
	}
	erin.signIn(t, "erin", password)

	// A wrong name deletes nothing; the right one deletes erin.
	b.run(t, "type a wrong name", click("#su-manage-open-erin"), fill("#su-delete-confirm-erin", "erim"))
	b.submit(t, "delete erin", "#su-delete-erin")
	if msg := b.flash(t); !strings.Contains(msg, "nothing was deleted") {
		t.Fatalf("with a wrong name the page says %q", msg)
	}
	api(t, w.URL, w.User, w.Password, "GET", "/api/v1/superuser/users/erin", nil, nil)
	b.run(t, "type erin's name", click("#su-manage-open-erin"), fill("#su-delete-confirm-erin", "erin"))
	b.submit(t, "delete erin", "#su-delete-erin")
	if msg := b.flash(t); !strings.Contains(msg, "was deleted") {
		t.Fatalf("after deleting the page says %q", msg)
	}
	if st := settingsStatus(t, w.URL+"/api/v1/superuser/users/erin", w.User, w.Password); st != http.StatusNotFound {
		t.Fatalf("erin after deletion: %d", st)
	}
	if st := settingsStatus(t, w.URL+"/api/v1/user/", "erin", password); st != http.StatusUnauthorized {
		t.Fatalf("deleted erin's password answered %d", st)
	}
}

// TestSuperuserOrganizations takes ownership of another user's organization and deletes it;
// a user who is not a superuser finds no panel.
func TestSuperuserOrganizations(t *testing.T) {
	w := testservers.StartWharf(t, testservers.WharfOptions{})
	settingsServerErrors(t, w)
	olga := settingsNewUser(t, w, "olga")
	api(t, w.URL, "olga", olga, "POST", "/api/v1/organization/", map[string]string{"name": "olgacorp", "email": "corp@example.test"}, nil)

	b := newTab(t, w.URL, false)
	b.signIn(t, w.User, w.Password)
	b.open(t, "/superuser/?tab=organizations")
	b.submit(t, "take ownership", "#su-take-olgacorp")
	if msg := b.flash(t); !strings.Contains(msg, "administrator of olgacorp") {
		t.Fatalf("after taking ownership the page says %q", msg)
	}
	var me struct {
		Organizations []struct {
			Name       string `json:"name"`
			IsOrgAdmin bool   `json:"is_org_admin"`
		} `json:"organizations"`
	}
	api(t, w.URL, w.User, w.Password, "GET", "/api/v1/user/", nil, &me)
	if len(me.Organizations) != 1 || me.Organizations[0].Name != "olgacorp" || !me.Organizations[0].IsOrgAdmin {
		t.Fatalf("the superuser's organizations: %+v", me.Organizations)
	}
	var members struct {
		Members []struct {
			Name string `json:"name"`
		} `json:"members"`
	}
	api(t, w.URL, "olga", olga, "GET", "/api/v1/organization/olgacorp/team/owners/members", nil, &members)
	if names := suMemberNames(members.Members); names != "admin,olga" {
		t.Fatalf("owners of olgacorp: %s", names)
	}

	b.run(t, "type the organization's name", click("#su-org-manage-open-olgacorp"), fill("#su-org-delete-confirm-olgacorp", "olgacorp"))
	b.submit(t, "delete the organization", "#su-org-delete-olgacorp")
	if msg := b.flash(t); !strings.Contains(msg, "was deleted") {
		t.Fatalf("after deleting the page says %q", msg)
	}
	if st := settingsStatus(t, w.URL+"/api/v1/organization/olgacorp", w.User, w.Password); st != http.StatusNotFound {
		t.Fatalf("olgacorp after deletion: %d", st)
	}

	// Not a superuser: no panel, and no link to it.
	o := newTab(t, w.URL, false)
	o.signIn(t, "olga", olga)
	if strings.Contains(o.html(t), `href="/superuser/"`) {
		t.Fatal("a user who is not a superuser sees a link to the panel")
	}
	if st := o.settingsOpen(t, "/superuser/"); st != http.StatusNotFound {
		t.Fatalf("/superuser/ answered %d to a user who is not a superuser", st)
	}
	if st := o.settingsOpen(t, "/superuser/?tab=messages"); st != http.StatusNotFound {
		t.Fatalf("/superuser/?tab=messages answered %d to a user who is not a superuser", st)
	}
	if st, _ := get(t, w.URL+"/superuser/"); st != http.StatusNotFound {
		t.Fatalf("/superuser/ answered %d to an anonymous visitor", st)
	}
}

// suAnonJSON reads a JSON document anonymously.
func suAnonJSON(t *testing.T, url string, out any) {
	t.Helper()
	st, body := get(t, url)
	if st != http.StatusOK {
		t.Fatalf("GET %s: %d: %s", url, st, body)
	}
	if err := json.Unmarshal([]byte(body), out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func suMemberNames(members []struct {
	Name string `json:"name"`
}) string {
	var names []string
	for _, m := range members {
		names = append(names, m.Name)
	}
	return strings.Join(names, ",")
}

// TestSuperuserMessages posts a global message that an anonymous visitor sees atop the
// repositories page, and deletes it.
func TestSuperuserMessages(t *testing.T) {
	w := testservers.StartWharf(t, testservers.WharfOptions{})
	settingsServerErrors(t, w)
	b := newTab(t, w.URL, true)
	b.signIn(t, w.User, w.Password)
	b.open(t, "/superuser/?tab=messages")
	b.run(t, "write a message", fill("#su-message-content", "**Maintenance** tonight at 22:00"),
		chromedp.SetValue("#su-message-severity", "warning", chromedp.ByQuery))
	b.submit(t, "post the message", "#su-message-submit")
	if msg := b.flash(t); !strings.Contains(msg, "posted") {
		t.Fatalf("after posting the page says %q", msg)
	}
	var list struct {
		Messages []struct {
			UUID     string `json:"uuid"`
			Content  string `json:"content"`
			Severity string `json:"severity"`
		} `json:"messages"`
	}
	suAnonJSON(t, w.URL+"/api/v1/messages", &list)
	if len(list.Messages) != 1 || list.Messages[0].Severity != "warning" || list.Messages[0].Content != "**Maintenance** tonight at 22:00" {
		t.Fatalf("messages: %+v", list)
	}

	anon := newTab(t, w.URL, false)
	anon.open(t, "/repository/")
	if got := anon.text(t, ".global-message.warning strong"); got != "Maintenance" {
		t.Fatalf("an anonymous visitor sees %q as the message's bold part", got)
	}

	b.submit(t, "delete the message", "#su-message-delete-"+list.Messages[0].UUID)
	if msg := b.flash(t); !strings.Contains(msg, "deleted") {
		t.Fatalf("after deleting the page says %q", msg)
	}
	suAnonJSON(t, w.URL+"/api/v1/messages", &list)
	if len(list.Messages) != 0 {
		t.Fatalf("messages after deletion: %+v", list)
	}
	anon.open(t, "/repository/")
	if strings.Contains(anon.html(t), "global-message") {
		t.Fatal("the deleted message is still shown")
	}
}

// TestSuperuserRegistry pushes an image and reads the registry's size and counts.
func TestSuperuserRegistry(t *testing.T) {
	w := testservers.StartWharf(t, testservers.WharfOptions{})
	settingsServerErrors(t, w)
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(w.Host+"/"+w.User+"/app:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: w.User, Password: w.Password})); err != nil {
		t.Fatalf("push: %v", err)
	}
	var want int64
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		want += n
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	want += int64(len(cfg))

	b := newTab(t, w.URL, false)
	b.signIn(t, w.User, w.Password)
	b.open(t, "/superuser/?tab=registry")
	for sel, v := range map[string]string{
		"#su-size-bytes": strconv.FormatInt(want, 10), "#su-count-users": "1", "#su-count-repositories": "1",
		"#su-count-tags": "1", "#su-count-manifests": "1", "#su-count-blobs": "3", "#su-count-organizations": "0",
	} {
		if got := b.text(t, sel); got != v {
			t.Errorf("%s reads %q, want %q", sel, got, v)
		}
	}
	var size struct {
		SizeBytes int64 `json:"size_bytes"`
	}
	api(t, w.URL, w.User, w.Password, "GET", "/api/v1/superuser/registrysize/", nil, &size)
	if size.SizeBytes != want {
		t.Errorf("the API says the registry holds %d bytes, want %d", size.SizeBytes, want)
	}
	b.open(t, "/superuser/?tab=logs")
	if logs := b.text(t, "#su-logs"); !strings.Contains(logs, w.User) {
		t.Errorf("the registry's logs show:\n%s", logs)
	}
}
