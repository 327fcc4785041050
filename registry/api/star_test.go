package api_test

import (
	"strings"
	"testing"
)

// TestStars stars and unstars repositories through Quay's API, lists them, filters the
// repository list by stars, name and visibility, and refuses stars on what the caller may
// not read.
func TestStars(t *testing.T) {
	e, _ := rtWorld(t)
	rtRepo(e, "acme", "public", true)
	rtRepo(e, "acme", "private", false)
	shared := rtRepo(e, "acme", "shared", false)
	rtGrant(e, shared, "dave", "read")
	rtRepo(e, "dave", "mine", false)

	star := func(repo string) map[string]string {
		ns, name, _ := strings.Cut(repo, "/")
		return map[string]string{"namespace": ns, "repository": name}
	}
	e.must(201, "POST", "/api/v1/user/starred", "dave", star("acme/shared"), nil)
	e.must(201, "POST", "/api/v1/user/starred", "dave", star("acme/public"), nil)
	e.must(201, "POST", "/api/v1/user/starred", "dave", star("acme/public"), nil) // twice is once
	// What dave may not read cannot be starred, and looks like what does not exist.
	e.must(404, "POST", "/api/v1/user/starred", "dave", star("acme/private"), nil)
	e.must(404, "POST", "/api/v1/user/starred", "dave", star("acme/nothing"), nil)
	e.must(401, "POST", "/api/v1/user/starred", "", star("acme/public"), nil)

	list := func(path string) []string {
		t.Helper()
		var out struct {
			Repositories []map[string]any `json:"repositories"`
		}
		e.must(200, "GET", path, "dave", nil, &out)
		var got []string
		for _, r := range out.Repositories {
			s := r["namespace"].(string) + "/" + r["name"].(string)
			if r["is_starred"] == true {
				s += "*"
			}
			got = append(got, s)
		}
		return got
	}
	cases := []struct{ path, want string }{
		{"/api/v1/user/starred", "acme/public acme/shared"},
		{"/api/v1/repository?starred=true", "acme/public* acme/shared*"},
		{"/api/v1/repository?public=true", "acme/public* acme/shared* dave/mine"},
		{"/api/v1/repository?public=true&filter=SHA", "acme/shared*"},
		{"/api/v1/repository?public=true&visibility=private", "acme/shared* dave/mine"},
		{"/api/v1/repository?namespace=acme&public=true&visibility=public", "acme/public*"},
	}
	for _, c := range cases {
		if got := strings.Join(list(c.path), " "); got != c.want {
			t.Errorf("%s: %q, want %q", c.path, got, c.want)
		}
	}
	e.must(400, "GET", "/api/v1/repository?public=true&visibility=secret", "dave", nil, nil)
	var repo map[string]any
	e.must(200, "GET", "/api/v1/repository/acme/shared", "dave", nil, &repo)
	if repo["is_starred"] != true {
		t.Errorf("getRepo: is_starred = %v", repo["is_starred"])
	}
	e.must(204, "DELETE", "/api/v1/user/starred/acme/shared", "dave", nil, nil)
	if got := strings.Join(list("/api/v1/user/starred"), " "); got != "acme/public" {
		t.Errorf("after unstarring: %q", got)
	}
	// Alice's stars are her own.
	var alice struct {
		Repositories []any `json:"repositories"`
	}
	e.must(200, "GET", "/api/v1/user/starred", "alice", nil, &alice)
	if len(alice.Repositories) != 0 {
		t.Errorf("alice sees dave's stars: %v", alice.Repositories)
	}
}
