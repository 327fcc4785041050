package store_test

import (
	"testing"

	"github.com/wharf-registry/wharf/registry/store"
)

func TestRegistryStats(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		st, err := s.RegistryStats(ctx)
		if err != nil || st != (store.Stats{}) {
			t.Fatalf("RegistryStats on an empty store = %+v, %v", st, err)
		}
		r1 := mustRepo(t, s, "alice", "one")
		r2 := mustRepo(t, s, "alice", "two")
		addBlob(t, s, r1.ID, "sha256:aa")
		addBlob(t, s, r2.ID, "sha256:aa") // the same content in two repositories counts once
		addBlob(t, s, r2.ID, "sha256:bb")
		putManifest(t, s, store.ManifestPut{RepositoryID: r1.ID, Digest: "sha256:m1", Blobs: []string{"sha256:aa"}, Tags: []string{"latest", "v1"}})
		putManifest(t, s, store.ManifestPut{RepositoryID: r2.ID, Digest: "sha256:m2", Blobs: []string{"sha256:aa", "sha256:bb"}, Tags: []string{"latest"}})
		org, err := s.CreateOrganization(ctx, "acme", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateRobot(ctx, org.ID, "acme+bot", "", "x"); err != nil {
			t.Fatal(err)
		}
		st, err = s.RegistryStats(ctx)
		want := store.Stats{Users: 1, Organizations: 1, Robots: 1, Repositories: 2, Tags: 3, Manifests: 2, Blobs: 2, BlobBytes: 20}
		if err != nil || st != want {
			t.Fatalf("RegistryStats = %+v, %v; want %+v", st, err, want)
		}
	})
}

func TestTakeOwnership(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		alice, err := s.CreateUser(ctx, store.User{Name: "alice", PasswordHash: "x"})
		if err != nil {
			t.Fatal(err)
		}
		root, err := s.CreateUser(ctx, store.User{Name: "root", PasswordHash: "x"})
		if err != nil {
			t.Fatal(err)
		}
		org, err := s.CreateOrganization(ctx, "acme", "", alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		team, added, err := s.TakeOwnership(ctx, org.ID, root.ID)
		if err != nil || team != "owners" || !added {
			t.Fatalf("TakeOwnership = %q, %v, %v", team, added, err)
		}
		if teams, _ := s.UserTeams(ctx, org.ID, root.ID); len(teams) != 1 || teams[0].Role != store.TeamAdmin {
			t.Fatalf("root's teams: %+v", teams)
		}
		if team, added, err = s.TakeOwnership(ctx, org.ID, root.ID); err != nil || team != "owners" || added {
			t.Fatalf("second TakeOwnership = %q, %v, %v", team, added, err)
		}

		// An organization without an admin team gets one; an "owners" team of a weaker role
		// is left alone.
		bare, err := s.CreateOrganization(ctx, "bare", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutTeam(ctx, bare.ID, "owners", store.TeamMember, ""); err != nil {
			t.Fatal(err)
		}
		team, added, err = s.TakeOwnership(ctx, bare.ID, root.ID)
		if err != nil || team != "admins" || !added {
			t.Fatalf("TakeOwnership without an admin team = %q, %v, %v", team, added, err)
		}
		if tm, _ := s.Team(ctx, bare.ID, "owners"); tm.Role != store.TeamMember || tm.MemberCount != 0 {
			t.Fatalf("the owners team changed: %+v", tm)
		}
	})
}
