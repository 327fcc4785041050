package ui_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// repoNames reads the repository names the list shows.
func repoNames(t *testing.T, b *tab) []string {
	t.Helper()
	var names []string
	b.run(t, "read the list", chromedp.Evaluate(`[...document.querySelectorAll("a.repo-link")].map(a => a.textContent)`, &names))
	return names
}

func has(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestRepositories searches and filters the list, creates a repository, edits its
// description (Markdown that tries a script), and adds, moves, expires, labels, deletes and
// restores tags, checking each change through the API; then reads with JavaScript off.
func TestRepositories(t *testing.T) {
	w := testservers.StartWharf(t, testservers.WharfOptions{Config: "TAG_EXPIRATION_OPTIONS: [1d, 1w]\n"})
	settingsServerErrors(t, w)
	su, pw := w.User, w.Password
	api(t, w.URL, su, pw, "POST", "/api/v1/organization/", map[string]string{"name": "acme", "email": "acme@example.test"}, nil)
	for _, r := range []struct{ ns, name, vis string }{{"acme", "web", "public"}, {"acme", "hidden", "private"}, {"admin", "tools", "private"}} {
		api(t, w.URL, su, pw, "POST", "/api/v1/repository", map[string]string{"namespace": r.ns, "repository": r.name, "visibility": r.vis, "description": ""}, nil)
	}
	d1 := pushRandom(t, w.Host, su, pw, "acme/web:v1", 1)
	d2 := pushRandom(t, w.Host, su, pw, "acme/web:v2", 2)
	bobPass := settingsNewUser(t, w, "bob")

	b := newTab(t, w.URL, false)
	b.signIn(t, su, pw)
	b.open(t, "/repository/")
	if names := repoNames(t, b); !has(names, "acme/web") || !has(names, "acme/hidden") || !has(names, "admin/tools") {
		t.Fatalf("the superuser's list: %v", names)
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"?filter=WEB", []string{"acme/web"}},
		{"?namespace=acme", []string{"acme/web", "acme/hidden"}},
		{"?visibility=private", []string{"acme/hidden", "admin/tools"}},
		{"?namespace=acme&visibility=public", []string{"acme/web"}},
		{"?filter=nothing-like-it", nil},
	} {
		b.open(t, "/repository/"+c.query)
		if got := repoNames(t, b); strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("/repository/%s lists %v, want %v", c.query, got, c.want)
		}
	}
	// The filter form does the same as the URL.
	b.open(t, "/repository/")
	b.run(t, "search", fill("#repo-filter", "tool"))
	b.submit(t, "search", "#repo-filter-submit")
	if got := repoNames(t, b); len(got) != 1 || got[0] != "admin/tools" {
		t.Errorf("searching tool lists %v", got)
	}

	// Bob sees only what he may read.
	bob := newTab(t, w.URL, false)
	bob.signIn(t, "bob", bobPass)
	bob.open(t, "/repository/")
	if names := repoNames(t, bob); len(names) != 1 || names[0] != "acme/web" {
		t.Errorf("bob's list: %v", names)
	}
	if html := bob.html(t); strings.Contains(html, "acme/hidden") || strings.Contains(html, "admin/tools") {
		t.Error("bob's list names a private repository")
	}
	bob.open(t, "/repository/?filter=acme%2F")
	if names := repoNames(t, bob); len(names) != 1 || names[0] != "acme/web" {
		t.Errorf("bob's search for acme/: %v", names)
	}

	// Create a public repository in bob's namespace.
	createRepoInUI(t, bob, "bob", "notes", "public")
	var created struct {
		IsPublic    bool   `json:"is_public"`
		Description string `json:"description"`
	}
	api(t, w.URL, su, pw, "GET", "/api/v1/repository/bob/notes?includeTags=false", nil, &created)
	if !created.IsPublic || !strings.Contains(created.Description, "Built by *CI*") {
		t.Fatalf("the created repository: %+v", created)
	}

	// The description: Markdown rendered, a script and a javascript: link not.
	b.open(t, "/repository/acme/web")
	b.run(t, "open the editor", click("#description-edit"))
	b.run(t, "write markdown", fill("#description-text", "# Web\n\n**bold** <script>document.title='owned'</script> [x](javascript:alert(1)) [ok](https://example.test/)"))
	b.submit(t, "save the description", "#description-save")
	var scripts int
	var html, title string
	b.run(t, "inspect", chromedp.Evaluate(`document.querySelectorAll("#repo-description script").length`, &scripts),
		chromedp.InnerHTML("#repo-description", &html, chromedp.ByQuery), chromedp.Title(&title))
	if scripts != 0 || strings.Contains(html, "javascript:") || title == "owned" || !strings.Contains(html, "<strong>bold</strong>") || !strings.Contains(html, `href="https://example.test/"`) {
		t.Errorf("the description renders as %q (title %q)", html, title)
	}

	// Stars: star from the page, filter the list by stars, unstar.
	b.submit(t, "star acme/web", "#star")
	orgExpectFlash(t, b, "starring", "Starred acme/web")
	b.open(t, "/repository/?starred=1")
	if got := repoNames(t, b); len(got) != 1 || got[0] != "acme/web" {
		t.Errorf("starred repositories: %v", got)
	}
	var starred struct {
		Repositories []struct {
			Name string `json:"name"`
		} `json:"repositories"`
	}
	api(t, w.URL, su, pw, "GET", "/api/v1/user/starred", nil, &starred)
	if len(starred.Repositories) != 1 || starred.Repositories[0].Name != "web" {
		t.Errorf("the API's starred list: %+v", starred)
	}
	b.open(t, "/repository/acme/web")
	b.submit(t, "unstar acme/web", "#unstar")
	b.open(t, "/repository/?starred=1")
	if got := repoNames(t, b); len(got) != 0 {
		t.Errorf("after unstarring: %v", got)
	}

	// Tags: the table shows them; add, move, expire, label, delete, restore.
	b.open(t, "/repository/acme/web?tab=tags")
	for tag, d := range map[string]string{"v1": d1, "v2": d2} {
		var got string
		b.run(t, "read "+tag, chromedp.AttributeValue("#tag-"+tag+" code.digest", "data-digest", &got, nil, chromedp.ByQuery))
		if got != d {
			t.Errorf("%s shows %s, want %s", tag, got, d)
		}
	}
	if size := b.text(t, "#tag-v2 td:nth-child(3)"); !strings.Contains(size, "KiB") {
		t.Errorf("v2's size reads %q", size)
	}
	b.open(t, "/repository/acme/web?tab=tags&tag=v1")
	b.run(t, "name a new tag", fill("#tag-add-name", "stable"))
	b.submit(t, "add the tag", "#tag-add")
	if got := tagDigestAs(t, w, "acme/web", "stable"); got != d1 {
		t.Fatalf("stable points at %q, want %s", got, d1)
	}
	b.open(t, "/repository/acme/web?tab=tags&tag=stable")
	b.run(t, "move stable to v2", fill("#tag-move-to", "v2"))
	b.submit(t, "move the tag", "#tag-move")
	if got := tagDigestAs(t, w, "acme/web", "stable"); got != d2 {
		t.Fatalf("after the move stable points at %q, want %s", got, d2)
	}
	b.run(t, "choose a week", chromedp.SetValue("#tag-expires-in", "1w", chromedp.ByQuery))
	b.submit(t, "set the expiration", "#tag-expire")
	if msg := b.flash(t); !strings.Contains(msg, "stable expires on") {
		t.Errorf("after setting the expiration: %q", msg)
	}
	if exp := tagField(t, w, "acme/web", "stable", "expiration"); exp == "" {
		t.Error("the API shows no expiration on stable")
	}
	b.run(t, "describe a label", fill("#label-key", "owner"), fill("#label-value", "team-web"))
	b.submit(t, "add the label", "#label-add")
	if labels := b.text(t, "#tag-labels"); !strings.Contains(labels, "owner=team-web") {
		t.Fatalf("labels: %q", labels)
	}
	b.submit(t, "delete the label", "#label-delete-owner")
	if labels := b.text(t, "#tag-labels"); strings.Contains(labels, "owner=team-web") {
		t.Fatalf("the label is still there: %q", labels)
	}
	b.submit(t, "delete the tag", "#tag-delete")
	if got := tagDigestAs(t, w, "acme/web", "stable"); got != "" {
		t.Fatalf("stable still points at %s", got)
	}
	walkRestore(t, b, "acme/web", "stable", d2)
	if got := tagDigestAs(t, w, "acme/web", "stable"); got != d2 {
		t.Fatalf("after the restore stable points at %q", got)
	}
	// A move to nothing: the API's refusal shows; nothing changes.
	b.open(t, "/repository/acme/web?tab=tags&tag=v1")
	b.run(t, "a bad digest", fill("#tag-move-digest", "sha256:nope"))
	b.submit(t, "move to a bad digest", "#tag-move")
	if msg := b.flash(t); msg == "" || strings.Contains(msg, "Moved") {
		t.Errorf("moving to a bad digest: %q", msg)
	}

	// Reading without JavaScript: the list, the tags, the history.
	nojs := newTab(t, w.URL, true)
	nojs.signIn(t, su, pw)
	for path, want := range map[string]string{"/repository/": "acme/web", "/repository/acme/web?tab=tags": "v2", "/repository/acme/web?tab=history": "stable"} {
		nojs.open(t, path)
		if !strings.Contains(nojs.text(t, "#main"), want) {
			t.Errorf("%s without JavaScript lacks %q", path, want)
		}
	}
}

// tagDigestAs is tagDigest, as the superuser.
func tagDigestAs(t *testing.T, w *testservers.Wharf, repo, tag string) string {
	return tagField(t, w, repo, tag, "manifest_digest")
}

// tagField reads a field of an active tag through the API ("" when absent).
func tagField(t *testing.T, w *testservers.Wharf, repo, tag, field string) string {
	t.Helper()
	var tags struct {
		Tags []map[string]any `json:"tags"`
	}
	api(t, w.URL, w.User, w.Password, "GET", "/api/v1/repository/"+repo+"/tag/?onlyActiveTags=true&specificTag="+tag, nil, &tags)
	for _, tg := range tags.Tags {
		if tg["name"] == tag {
			if v, ok := tg[field].(string); ok {
				return v
			}
		}
	}
	return ""
}
