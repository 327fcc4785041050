package ui_test

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// dirImage writes a one-layer image in skopeo's dir: format and returns the directory and
// the manifest's digest there. content makes images differ.
func dirImage(t *testing.T, content string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	write := func(b []byte) string {
		sum := fmt.Sprintf("%x", sha256.Sum256(b))
		if err := os.WriteFile(filepath.Join(dir, sum), b, 0o600); err != nil {
			t.Fatal(err)
		}
		return "sha256:" + sum
	}
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{"Labels":{"content":"` + content + `"}}}`)
	layer := []byte("layer of " + content)
	cd, ld := write(config), write(layer)
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
		cd, len(config), ld, len(layer))
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "version"), []byte("Directory Transport Version: 1.1\n"), 0o600)
	return dir, fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(manifest)))
}

// skopeoPush copies the image in dir to host/repoTag with skopeo, logging in as creds
// (USER:PASSWORD).
func skopeoPush(t *testing.T, host, creds, dir, repoTag string) {
	t.Helper()
	policy := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o600)
	cmd := exec.Command(testservers.LookTool(t, "skopeo"), "--policy", policy, "copy", "--dest-tls-verify=false",
		"--dest-creds", creds, "dir:"+dir, "docker://"+host+"/"+repoTag)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy to %s: %v\n%s", repoTag, err, out)
	}
}

// tagDigest reads where a tag points through the API ("" when it does not exist).
func tagDigest(t *testing.T, w *testservers.Wharf, repo, tag string) string {
	t.Helper()
	var tags struct {
		Tags []struct {
			Name           string `json:"name"`
			ManifestDigest string `json:"manifest_digest"`
		} `json:"tags"`
	}
	api(t, w.URL, w.User, w.Password, "GET", "/api/v1/repository/"+repo+"/tag/?onlyActiveTags=true&specificTag="+tag, nil, &tags)
	for _, tg := range tags.Tags {
		if tg.Name == tag {
			return tg.ManifestDigest
		}
	}
	return ""
}

// TestWalk is the web UI's walk through, as a person does it: sign in, create an
// organization, a team and a robot, create a private repository and let the robot write
// to it, push with the robot's credentials from skopeo, see the tags appear, restore an
// earlier tag from the history, change a permission, find all of it in the usage logs, sign
// out; then a user without permission finds neither the repository nor its name anywhere.
func TestWalk(t *testing.T) {
	w := testservers.StartWharf(t, testservers.WharfOptions{Config: "REGISTRY_TITLE: Walk Registry\n"})
	settingsServerErrors(t, w)
	danaPass := settingsNewUser(t, w, "dana")
	evePass := settingsNewUser(t, w, "eve")
	const repo = "acme/secret-app"

	b := newTab(t, w.URL, false)
	b.signIn(t, "dana", danaPass)

	// An organization, a team, a robot.
	b.open(t, "/organization/")
	b.submit(t, "open the new organization form", "#create-org")
	b.run(t, "name the organization", fill("#org-name", "acme"), fill("#org-email", "ops@acme.test"))
	b.submit(t, "create the organization", "#org-new-submit")
	orgExpectFlash(t, b, "creating the organization", "acme")
	b.open(t, "/organization/acme?tab=teams")
	b.run(t, "describe a team", fill("#team-name", "builders"), chromedp.SetValue("#team-role", "member", chromedp.ByQuery))
	b.submit(t, "create the team", "#team-submit")
	orgExpectFlash(t, b, "creating the team", "builders")
	b.open(t, "/organization/acme?tab=robots")
	b.run(t, "name a robot", fill("#robot-name", "ci"), fill("#robot-description", "CI pushes"))
	b.submit(t, "create the robot", "#robot-submit")
	orgExpectFlash(t, b, "creating the robot", "acme+ci")
	b.open(t, "/organization/acme?tab=robots&robot=ci")
	token := orgRobotToken(t, b, "acme+ci", w.Host)

	// A private repository, written by the robot.
	createRepoInUI(t, b, "acme", "secret-app", "private")
	b.open(t, "/repository/"+repo+"?tab=settings")
	b.run(t, "grant the robot write", fill("#perm-name", "acme+ci"), chromedp.SetValue("#perm-role", "write", chromedp.ByQuery))
	b.submit(t, "grant", "#perm-add-submit")
	orgExpectFlash(t, b, "granting the robot", "acme+ci now has write")

	// Push two builds as latest with skopeo and the robot's credentials: latest moves.
	// (skopeo may compress the layers on the way, so the digests are read back.)
	first, _ := dirImage(t, "first build")
	second, _ := dirImage(t, "second build")
	skopeoPush(t, w.Host, "acme+ci:"+token, first, repo+":latest")
	firstDigest := tagDigest(t, w, repo, "latest")
	skopeoPush(t, w.Host, "acme+ci:"+token, first, repo+":v1")
	skopeoPush(t, w.Host, "acme+ci:"+token, second, repo+":latest")
	secondDigest := tagDigest(t, w, repo, "latest")
	if firstDigest == "" || secondDigest == firstDigest || tagDigest(t, w, repo, "v1") != firstDigest {
		t.Fatalf("after the pushes latest went from %q to %q, v1 is at %q", firstDigest, secondDigest, tagDigest(t, w, repo, "v1"))
	}

	// The tags appear.
	walkSeeTags(t, b, repo, map[string]string{"latest": secondDigest, "v1": firstDigest})

	// Restore latest to the first build from the history.
	walkRestore(t, b, repo, "latest", firstDigest)
	if got := tagDigest(t, w, repo, "latest"); got != firstDigest {
		t.Fatalf("latest points at %s after the restore, want %s", got, firstDigest)
	}

	// Change a permission: the team may read; the robot only reads now.
	b.open(t, "/repository/"+repo+"?tab=settings")
	b.run(t, "grant the team read", chromedp.SetValue("#perm-kind", "team", chromedp.ByQuery), fill("#perm-name", "builders"), chromedp.SetValue("#perm-role", "read", chromedp.ByQuery))
	b.submit(t, "grant the team", "#perm-add-submit")
	b.run(t, "make the robot a reader", chromedp.SetValue("#role-robot-acme\\+ci", "read", chromedp.ByQuery))
	b.submit(t, "change the robot's role", "#perm-robot-acme\\+ci button")
	users, teams := repoPerms(t, w, repo)
	if users["acme+ci"] != "read" || teams["builders"] != "read" {
		t.Fatalf("permissions after the change: users %v, teams %v", users, teams)
	}

	// The usage logs tell it all.
	b.open(t, "/repository/"+repo+"?tab=logs")
	logs := b.text(t, "#logs-table")
	for _, want := range []string{"Create repository", "Grant permission", "role write for acme+ci", "Push", "acme+ci", "Restore tag", "role read for builders", "Change permission"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the usage logs lack %q:\n%s", want, logs)
		}
	}
	b.signOut(t)
	if loc := b.location(t); !strings.Contains(loc, "/signin") {
		t.Errorf("after signing out the browser is at %s", loc)
	}
	b.open(t, "/settings/")
	if loc := b.location(t); !strings.Contains(loc, "/signin?next=") {
		t.Errorf("after signing out, /settings/ shows %s instead of the sign-in page", loc)
	}

	// Eve has no permission: the repository and its name appear nowhere she can go.
	eve := newTab(t, w.URL, false)
	eve.signIn(t, "eve", evePass)
	for _, path := range []string{
		"/repository/", "/repository/?filter=secret", "/repository/?namespace=acme", "/repository/" + repo,
		"/repository/" + repo + "?tab=tags", "/repository/" + repo + "?tab=history", "/repository/" + repo + "?tab=logs",
		"/repository/" + repo + "/manifest/" + firstDigest, "/organization/", "/organization/acme", "/organization/acme?tab=repos",
		"/settings/?tab=logs",
	} {
		eve.open(t, path)
		if html := eve.html(t); strings.Contains(html, "secret-app") {
			t.Errorf("eve sees the repository's name at %s", path)
		}
	}
	// Nor does an anonymous visitor; one who types its address is asked to sign in, exactly
	// as for a repository that does not exist.
	for _, path := range []string{"/repository/", "/repository/?filter=secret", "/repository/?namespace=acme"} {
		if _, body := get(t, w.URL+path); strings.Contains(body, "secret-app") {
			t.Errorf("an anonymous visitor sees the repository's name at %s", path)
		}
	}
	for _, path := range []string{"/repository/" + repo, "/repository/acme/no-such-app"} {
		resp, err := http.Get(w.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Request.URL.Path != "/signin" {
			t.Errorf("an anonymous visitor at %s lands on %s, not the sign-in page", path, resp.Request.URL)
		}
	}
}

// createRepoInUI creates a repository with the form at /repository/new.
func createRepoInUI(t *testing.T, b *tab, ns, name, visibility string) {
	t.Helper()
	b.open(t, "/repository/")
	b.submit(t, "open the new repository form", "#create-repo")
	b.run(t, "describe the repository",
		chromedp.SetValue("#repo-new-namespace", ns, chromedp.ByQuery), fill("#repo-new-name", name),
		click("#repo-new-"+visibility), fill("#repo-new-description", "# "+name+"\n\nBuilt by *CI*."))
	b.submit(t, "create the repository", "#repo-new-submit")
	orgExpectFlash(t, b, "creating the repository", "Created "+visibility+" repository "+ns+"/"+name)
	if got := b.text(t, "#repo-name"); got != name {
		t.Fatalf("after creating, the page names %q", got)
	}
}

// walkSeeTags opens the tags tab and checks each tag's row shows its digest.
func walkSeeTags(t *testing.T, b *tab, repo string, tags map[string]string) {
	t.Helper()
	b.open(t, "/repository/"+repo+"?tab=tags")
	for tag, digest := range tags {
		var got string
		b.run(t, "read the digest of "+tag, chromedp.AttributeValue("#tag-"+tag+" code.digest", "data-digest", &got, nil, chromedp.ByQuery))
		if got != digest {
			t.Errorf("the tags tab shows %s at %s, want %s", tag, got, digest)
		}
	}
}

// walkRestore restores tag to digest with the history tab's button.
func walkRestore(t *testing.T, b *tab, repo, tag, digest string) {
	t.Helper()
	b.open(t, "/repository/"+repo+"?tab=history")
	var id string
	b.run(t, "find the entry", chromedp.Evaluate(`(() => {
		const row = [...document.querySelectorAll("tr.history-entry")].find(r => r.dataset.tag === `+"`"+tag+"`"+` && r.dataset.digest === `+"`"+digest+"`"+` && r.querySelector("button.restore"));
		return row ? row.querySelector("button.restore").id : "";
	})()`, &id))
	if id == "" {
		t.Fatalf("the history has no restore button for %s at %s:\n%s", tag, digest, b.text(t, "#history-table"))
	}
	b.submit(t, "restore "+tag, "#"+id)
	orgExpectFlash(t, b, "restoring", "Restored "+tag)
}
