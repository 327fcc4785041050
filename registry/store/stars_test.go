package store_test

import (
	"testing"

	"github.com/wharf-registry/wharf/registry/store"
)

// TestStarsAndListing stars repositories, lists them with StarredBy, and filters listings by
// a part of the name and by visibility.
func TestStarsAndListing(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		alice, err := s.CreateUser(ctx, store.User{Name: "alice", PasswordHash: "x"})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, r := range []struct {
			name   string
			public bool
		}{{"Web-App", true}, {"api", false}, {"web_old", false}} {
			repo, err := s.CreateRepository(ctx, store.NewRepository{Namespace: "alice", Name: r.name, Public: r.public, CreatorID: alice.ID})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, repo.ID)
		}
		if err := s.StarRepository(ctx, alice.ID, ids[1]); err != nil {
			t.Fatal(err)
		}
		if err := s.StarRepository(ctx, alice.ID, ids[1]); err != nil {
			t.Fatalf("starring twice: %v", err)
		}
		all := store.Viewer{UserID: alice.ID, Public: true}
		names := func(l store.RepoListing) []string {
			t.Helper()
			l.Viewer, l.Limit = all, 10
			repos, err := s.ListRepositories(ctx, l)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range repos {
				out = append(out, r.Name)
			}
			return out
		}
		cases := []struct {
			name string
			l    store.RepoListing
			want string
		}{
			{"starred", store.RepoListing{StarredBy: alice.ID}, "api"},
			{"filter any case", store.RepoListing{Filter: "WEB"}, "Web-App web_old"},
			{"filter namespace/name", store.RepoListing{Filter: "alice/ap"}, "api"},
			{"underscore is no wildcard", store.RepoListing{Filter: "b_o"}, "web_old"},
			{"percent is no wildcard", store.RepoListing{Filter: "%"}, ""},
			{"public", store.RepoListing{Visibility: "public"}, "Web-App"},
			{"private web", store.RepoListing{Visibility: "private", Filter: "web"}, "web_old"},
		}
		for _, c := range cases {
			if got := names(c.l); joinNames(got) != c.want {
				t.Errorf("%s: %q, want %q", c.name, joinNames(got), c.want)
			}
		}
		marked, err := s.StarredAmong(ctx, alice.ID, ids)
		if err != nil || len(marked) != 1 || !marked[ids[1]] {
			t.Fatalf("StarredAmong = %v, %v", marked, err)
		}
		if err := s.UnstarRepository(ctx, alice.ID, ids[1]); err != nil {
			t.Fatal(err)
		}
		if got := names(store.RepoListing{StarredBy: alice.ID}); len(got) != 0 {
			t.Fatalf("after unstarring: %v", got)
		}
		// Deleting a starred repository takes its star with it.
		if err := s.StarRepository(ctx, alice.ID, ids[2]); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteRepository(ctx, ids[2]); err != nil {
			t.Fatal(err)
		}
		if marked, _ := s.StarredAmong(ctx, alice.ID, ids); len(marked) != 0 {
			t.Fatalf("a deleted repository is still starred: %v", marked)
		}
	})
}

func joinNames(n []string) string {
	out := ""
	for i, s := range n {
		if i > 0 {
			out += " "
		}
		out += s
	}
	return out
}
