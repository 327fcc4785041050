package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testservers"
	"github.com/wharf-registry/wharf/registry/store"
)

func TestMain(m *testing.M) { testservers.Main(m) }

// eachDialect runs fn against a fresh SQLite store and a fresh PostgreSQL store.
func eachDialect(t *testing.T, fn func(t *testing.T, s *store.Store, clock *fakeClock)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		s, err := store.Open(context.Background(), store.Options{URI: "sqlite:///" + filepath.Join(t.TempDir(), "wharf.db")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		fn(t, s, newClock(s))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		uri := testservers.Postgres(t).NewDatabase(t)
		s, err := store.Open(context.Background(), store.Options{URI: uri})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		fn(t, s, newClock(s))
	})
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock(s *store.Store) *fakeClock {
	c := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s.Now = c.Now
	return c
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Microsecond)
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var ctx = context.Background()

func mustRepo(t *testing.T, s *store.Store, user, name string) store.Repository {
	t.Helper()
	if _, err := s.UserByName(ctx, user); err != nil {
		if _, err := s.CreateUser(ctx, store.User{Name: user, PasswordHash: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	r, _, err := s.EnsureRepository(ctx, user, name, 0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func addBlob(t *testing.T, s *store.Store, repo int64, digest string) store.Blob {
	t.Helper()
	b, err := s.ReserveBlob(ctx, digest, 10, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.LinkBlob(ctx, repo, b.ID); err != nil {
		t.Fatal(err)
	}
	return b
}

func putManifest(t *testing.T, s *store.Store, p store.ManifestPut) store.Manifest {
	t.Helper()
	if p.MediaType == "" {
		p.MediaType = "application/vnd.oci.image.manifest.v1+json"
	}
	if p.Content == nil {
		p.Content = []byte(`{"m":"` + p.Digest + `"}`)
	}
	m, err := s.PutManifest(ctx, p)
	if err != nil {
		t.Fatalf("PutManifest(%s): %v", p.Digest, err)
	}
	return m
}

func TestUsers(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		created, err := s.CreateFirstUser(ctx, store.User{Name: "admin", PasswordHash: "h", Superuser: true})
		if err != nil || !created {
			t.Fatalf("CreateFirstUser = %v, %v", created, err)
		}
		created, err = s.CreateFirstUser(ctx, store.User{Name: "other", PasswordHash: "h"})
		if err != nil || created {
			t.Fatalf("second CreateFirstUser = %v, %v; want false", created, err)
		}
		if _, err := s.CreateUser(ctx, store.User{Name: "admin"}); !errors.Is(err, store.ErrExists) {
			t.Fatalf("duplicate CreateUser: %v", err)
		}
		u, err := s.UserByName(ctx, "admin")
		if err != nil || !u.Superuser || !u.Enabled || u.PasswordHash != "h" {
			t.Fatalf("UserByName = %+v, %v", u, err)
		}
		if _, err := s.UserByName(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("UserByName(nobody): %v", err)
		}
		if err := s.SetPassword(ctx, u.ID, "h2"); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.CountUsers(ctx); n != 1 {
			t.Fatalf("CountUsers = %d", n)
		}
	})
}

func TestCatalog(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		names := []string{"b/x", "a/team/app", "a/z", "a/team-b", "a/Upper"}
		for _, n := range names {
			ns, name, _ := cut(n)
			mustRepo(t, s, ns, name)
		}
		a, _ := s.UserByName(ctx, "a")
		pub, _ := s.Repository(ctx, "b", "x")
		if err := s.SetVisibility(ctx, pub.ID, true); err != nil {
			t.Fatal(err)
		}
		all, err := s.Catalog(ctx, store.Viewer{All: true}, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"a/Upper", "a/team-b", "a/team/app", "a/z", "b/x"}
		if fmt.Sprint(all) != fmt.Sprint(want) {
			t.Fatalf("Catalog(all) = %v, want %v", all, want)
		}
		page, _ := s.Catalog(ctx, store.Viewer{All: true}, "a/team-b", 2)
		if fmt.Sprint(page) != "[a/team/app a/z]" {
			t.Fatalf("Catalog page = %v", page)
		}
		if none, _ := s.Catalog(ctx, store.Viewer{}, "", 100); len(none) != 0 {
			t.Fatalf("catalog without public repositories = %v", none)
		}
		anon, _ := s.Catalog(ctx, store.Viewer{Public: true}, "", 100)
		if fmt.Sprint(anon) != "[b/x]" {
			t.Fatalf("anonymous catalog = %v", anon)
		}
		mine, _ := s.Catalog(ctx, store.Viewer{UserID: a.ID, Public: true}, "", 100)
		if len(mine) != 5 {
			t.Fatalf("user a's catalog = %v", mine)
		}
		b, _ := s.UserByName(ctx, "b")
		theirs, _ := s.Catalog(ctx, store.Viewer{UserID: b.ID}, "", 100)
		if fmt.Sprint(theirs) != "[b/x]" {
			t.Fatalf("user b's catalog = %v", theirs)
		}
		if theirs, _ = s.Catalog(ctx, store.Viewer{UserID: a.ID}, "", 100); len(theirs) != 4 {
			t.Fatalf("user b's catalog = %v", theirs)
		}
	})
}

func cut(full string) (string, string, bool) {
	for i := range full {
		if full[i] == '/' {
			return full[:i], full[i+1:], true
		}
	}
	return full, "", false
}

func TestManifestsAndTags(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		r := mustRepo(t, s, "alice", "app")
		addBlob(t, s, r.ID, "sha256:config")
		_, err := s.PutManifest(ctx, store.ManifestPut{RepositoryID: r.ID, Digest: "sha256:m1", MediaType: "x", Content: []byte("{}"),
			Blobs: []string{"sha256:config", "sha256:layer"}, Tags: []string{"latest"}})
		var missing *store.MissingError
		if !errors.As(err, &missing) || missing.Digest != "sha256:layer" || missing.Kind != "blob" {
			t.Fatalf("PutManifest with a missing layer: %v", err)
		}
		if _, err := s.ManifestByName(ctx, r.Namespace, r.Name, "", "sha256:m1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a refused manifest is visible: %v", err)
		}
		if tags, _ := s.Tags(ctx, r.ID, "", 10); len(tags) != 0 {
			t.Fatalf("a refused manifest left tags %v", tags)
		}
		addBlob(t, s, r.ID, "sha256:layer")
		putManifest(t, s, store.ManifestPut{RepositoryID: r.ID, Digest: "sha256:m1", Blobs: []string{"sha256:config", "sha256:layer"}, Tags: []string{"latest", "v1"}})
		putManifest(t, s, store.ManifestPut{RepositoryID: r.ID, Digest: "sha256:m2", Blobs: []string{"sha256:config"}, Tags: []string{"latest"}})
		m, err := s.ManifestByName(ctx, r.Namespace, r.Name, "latest", "")
		if err != nil || m.Digest != "sha256:m2" {
			t.Fatalf("latest = %+v, %v", m, err)
		}
		tags, _ := s.Tags(ctx, r.ID, "", 10)
		if fmt.Sprint(tags) != "[latest v1]" {
			t.Fatalf("Tags = %v", tags)
		}
		tags, _ = s.Tags(ctx, r.ID, "latest", 10)
		if fmt.Sprint(tags) != "[v1]" {
			t.Fatalf("Tags after latest = %v", tags)
		}
		hist, _ := s.TagHistory(ctx, r.ID, "latest", 10)
		if len(hist) != 2 || hist[0].ManifestDigest != "sha256:m2" || !hist[0].Active() || hist[1].ManifestDigest != "sha256:m1" || hist[1].Active() {
			t.Fatalf("history of latest = %+v", hist)
		}
		if err := s.RestoreTag(ctx, r.ID, "latest", "sha256:m1"); err != nil {
			t.Fatal(err)
		}
		if m, _ := s.ManifestByName(ctx, r.Namespace, r.Name, "latest", ""); m.Digest != "sha256:m1" {
			t.Fatalf("restored latest = %s", m.Digest)
		}
		if err := s.DeleteTag(ctx, r.ID, "v1"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteTag(ctx, r.ID, "v1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second DeleteTag: %v", err)
		}
		if err := s.DeleteManifest(ctx, r.ID, "sha256:m1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ManifestByName(ctx, r.Namespace, r.Name, "", "sha256:m1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted manifest still visible: %v", err)
		}
		if _, err := s.ManifestByName(ctx, r.Namespace, r.Name, "latest", ""); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("tag of deleted manifest still visible: %v", err)
		}
		if err := s.RestoreTag(ctx, r.ID, "latest", "sha256:m1"); err != nil {
			t.Fatalf("restore of a deleted manifest within the window: %v", err)
		}
		if _, err := s.ManifestByName(ctx, r.Namespace, r.Name, "", "sha256:m1"); err != nil {
			t.Fatalf("restored manifest not visible: %v", err)
		}
	})
}

func TestIndexAndReferrers(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		r := mustRepo(t, s, "bob", "multi")
		addBlob(t, s, r.ID, "sha256:c")
		_, err := s.PutManifest(ctx, store.ManifestPut{RepositoryID: r.ID, Digest: "sha256:index", MediaType: "i", Content: []byte("{}"), Children: []string{"sha256:amd64"}})
		var missing *store.MissingError
		if !errors.As(err, &missing) || missing.Kind != "manifest" {
			t.Fatalf("index with a missing child: %v", err)
		}
		putManifest(t, s, store.ManifestPut{RepositoryID: r.ID, Digest: "sha256:amd64", Blobs: []string{"sha256:c"}})
		putManifest(t, s, store.ManifestPut{RepositoryID: r.ID, Digest: "sha256:index", Children: []string{"sha256:amd64"}, Tags: []string{"v1"}})
		putManifest(t, s, store.ManifestPut{RepositoryID: r.ID, Digest: "sha256:sig", ArtifactType: "application/sig", Subject: "sha256:index", Annotations: `{"a":"b"}`})
		putManifest(t, s, store.ManifestPut{RepositoryID: r.ID, Digest: "sha256:sbom", ArtifactType: "application/sbom", Subject: "sha256:index"})
		refs, err := s.Referrers(ctx, r.ID, "sha256:index", "")
		if err != nil || len(refs) != 2 || refs[0].Digest != "sha256:sig" || refs[0].Annotations != `{"a":"b"}` {
			t.Fatalf("Referrers = %+v, %v", refs, err)
		}
		refs, _ = s.Referrers(ctx, r.ID, "sha256:index", "application/sbom")
		if len(refs) != 1 || refs[0].Digest != "sha256:sbom" {
			t.Fatalf("filtered Referrers = %+v", refs)
		}
		refs, _ = s.Referrers(ctx, r.ID, "sha256:nothing", "")
		if refs == nil || len(refs) != 0 {
			t.Fatalf("Referrers of an unknown subject = %#v, want empty non-nil", refs)
		}
	})
}

func TestGarbageCollection(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, clock *fakeClock) {
		const window = 24 * time.Hour
		r := mustRepo(t, s, "carol", "gc")
		for _, d := range []string{"sha256:shared", "sha256:old", "sha256:child", "sha256:lonely"} {
			addBlob(t, s, r.ID, d)
		}
		putManifest(t, s, store.ManifestPut{RepositoryID: r.ID, Digest: "sha256:old", Blobs: []string{"sha256:shared", "sha256:old"}, Tags: []string{"t"}})
		putManifest(t, s, store.ManifestPut{RepositoryID: r.ID, Digest: "sha256:child", Blobs: []string{"sha256:child"}})
		putManifest(t, s, store.ManifestPut{RepositoryID: r.ID, Digest: "sha256:idx", Children: []string{"sha256:child"}, Tags: []string{"multi"}})
		putManifest(t, s, store.ManifestPut{RepositoryID: r.ID, Digest: "sha256:ref", Subject: "sha256:idx", ArtifactType: "a"})
		putManifest(t, s, store.ManifestPut{RepositoryID: r.ID, Digest: "sha256:new", Blobs: []string{"sha256:shared"}, Tags: []string{"t"}})

		collect := func() store.RepoCollection {
			now := clock.Now()
			st, err := s.CollectRepository(ctx, r.ID, now.Add(-window), now.Add(-window))
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		// Within the window nothing goes: the moved tag's old manifest is restorable.
		if st := collect(); st.ManifestsDeleted != 0 || st.BlobLinksDeleted != 0 || st.TagsExpired != 0 {
			t.Fatalf("collection within the window removed %+v", st)
		}
		if marked, _ := s.MarkUnreferencedBlobs(ctx, clock.Now().Add(-window), 100); len(marked) != 0 {
			t.Fatalf("blobs marked within the window: %+v", marked)
		}
		clock.Advance(window + time.Hour)
		st := collect()
		if st.TagsExpired != 1 || st.ManifestsDeleted != 1 || st.BlobLinksDeleted != 2 {
			t.Fatalf("collection after the window = %+v, want the old tag, its manifest and the old and lonely links", st)
		}
		if err := s.RestoreTag(ctx, r.ID, "t", "sha256:old"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("restore after collection: %v", err)
		}
		for _, d := range []string{"sha256:new", "sha256:idx", "sha256:child", "sha256:ref"} {
			if _, err := s.ManifestByName(ctx, r.Namespace, r.Name, "", d); err != nil {
				t.Fatalf("live manifest %s collected: %v", d, err)
			}
		}
		for _, d := range []string{"sha256:shared", "sha256:child"} {
			if _, err := s.RepoBlob(ctx, r.ID, d); err != nil {
				t.Fatalf("live blob %s unlinked: %v", d, err)
			}
		}
		marked, err := s.MarkUnreferencedBlobs(ctx, clock.Now().Add(-window), 100)
		if err != nil || len(marked) != 2 {
			t.Fatalf("MarkUnreferencedBlobs = %+v, %v; want old and lonely", marked, err)
		}
		// A push of a blob being deleted waits for the deletion, then records a fresh row.
		done := make(chan error)
		go func() {
			_, err := s.ReserveBlob(ctx, marked[0].Digest, 10, 10*time.Second)
			done <- err
		}()
		time.Sleep(150 * time.Millisecond)
		select {
		case err := <-done:
			t.Fatalf("ReserveBlob of a blob being deleted returned early: %v", err)
		default:
		}
		for _, b := range marked {
			if err := s.FinishBlobDeletion(ctx, b.ID); err != nil {
				t.Fatal(err)
			}
		}
		if err := <-done; err != nil {
			t.Fatalf("ReserveBlob after deletion finished: %v", err)
		}
		if _, err := s.ReserveBlob(ctx, "sha256:x", 1, 0); err != nil {
			t.Fatal(err)
		}
		// Deleting the index lets its child and its referrer go after the window.
		if err := s.DeleteManifest(ctx, r.ID, "sha256:idx"); err != nil {
			t.Fatal(err)
		}
		clock.Advance(window + time.Hour)
		st = collect()
		if st.ManifestsDeleted != 3 {
			t.Fatalf("after deleting the index: %+v, want index, child and referrer collected", st)
		}
	})
}

func TestUntaggedManifestKeptWhileTouched(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, clock *fakeClock) {
		r := mustRepo(t, s, "dave", "push")
		addBlob(t, s, r.ID, "sha256:l")
		putManifest(t, s, store.ManifestPut{RepositoryID: r.ID, Digest: "sha256:bydigest", Blobs: []string{"sha256:l"}})
		now := clock.Now()
		st, err := s.CollectRepository(ctx, r.ID, now, now.Add(-time.Hour))
		if err != nil || st.ManifestsDeleted != 0 {
			t.Fatalf("a manifest pushed by digest a moment ago was collected: %+v %v", st, err)
		}
		clock.Advance(2 * time.Hour)
		now = clock.Now()
		st, err = s.CollectRepository(ctx, r.ID, now, now.Add(-time.Hour))
		if err != nil || st.ManifestsDeleted != 1 || st.BlobLinksDeleted != 1 {
			t.Fatalf("an untagged manifest past its grace: %+v %v", st, err)
		}
	})
}

func TestUploads(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, clock *fakeClock) {
		r := mustRepo(t, s, "erin", "up")
		u, err := s.CreateUpload(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AdvanceUpload(ctx, u.ID, 0, 100, []byte("state")); err != nil {
			t.Fatal(err)
		}
		if err := s.AdvanceUpload(ctx, u.ID, 0, 50, nil); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("advance from a stale offset: %v", err)
		}
		got, err := s.Upload(ctx, r.ID, u.ID)
		if err != nil || got.Size != 100 || string(got.HashState) != "state" {
			t.Fatalf("Upload = %+v, %v", got, err)
		}
		other := mustRepo(t, s, "erin", "other")
		if _, err := s.Upload(ctx, other.ID, u.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("upload visible from another repository: %v", err)
		}
		clock.Advance(time.Hour)
		stale, _ := s.StaleUploads(ctx, clock.Now().Add(-30*time.Minute), 10)
		if len(stale) != 1 || stale[0].ID != u.ID {
			t.Fatalf("StaleUploads = %+v", stale)
		}
		if err := s.DeleteUpload(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSigningKeys(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		calls := 0
		gen := func() ([]byte, error) { calls++; return []byte(fmt.Sprintf("key-%d", calls)), nil }
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.SigningKeys(ctx, "EdDSA", gen); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		keys, err := s.SigningKeys(ctx, "EdDSA", gen)
		if err != nil || len(keys) != 1 {
			t.Fatalf("SigningKeys = %+v, %v; want exactly one key", keys, err)
		}
	})
}

func TestConcurrentTagMoves(t *testing.T) {
	eachDialect(t, func(t *testing.T, s *store.Store, _ *fakeClock) {
		r := mustRepo(t, s, "frank", "race")
		addBlob(t, s, r.ID, "sha256:b")
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.PutManifest(ctx, store.ManifestPut{RepositoryID: r.ID, Digest: fmt.Sprintf("sha256:m%d", i), MediaType: "x",
					Content: []byte("{}"), Blobs: []string{"sha256:b"}, Tags: []string{"latest"}})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		hist, _ := s.TagHistory(ctx, r.ID, "latest", 100)
		active := 0
		for _, e := range hist {
			if e.Active() {
				active++
			}
		}
		if len(hist) != 8 || active != 1 {
			t.Fatalf("after 8 concurrent moves: %d history rows, %d active; want 8 and 1", len(hist), active)
		}
	})
}
