package authz

import (
	"context"
	"net/http"
	"testing"

	"github.com/wharf-registry/wharf/registry/store"
)

// TestCreateNamespaceOnPush checks Quay's CREATE_NAMESPACE_ON_PUSH (mirror-registry turns it
// on): off, a push into a namespace that does not exist is refused; on, a user's push creates
// the organization, owned by the user, and the repository, with their audit rows; robots and
// anonymous callers still cannot.
func TestCreateNamespaceOnPush(t *testing.T) {
	off := newFixture(t, "sqlite")
	if st, body := off.do(outsider, "POST", "/v2/neworg/app/blobs/uploads/", "", nil); st != http.StatusForbidden {
		t.Fatalf("push into a missing namespace without CREATE_NAMESPACE_ON_PUSH: %d %s", st, body)
	}

	f := newFixture(t, "sqlite", "CREATE_NAMESPACE_ON_PUSH: true\n")
	ctx := context.Background()
	for _, role := range []string{anonymous, robot} {
		want := http.StatusForbidden
		if role == anonymous {
			want = http.StatusUnauthorized
		}
		if st, body := f.do(role, "POST", "/v2/robotorg/app/blobs/uploads/", "", nil); st != want {
			t.Fatalf("%s pushing into a missing namespace: %d %s, want %d", role, st, body, want)
		}
	}
	if _, err := f.srv.Store.Namespace(ctx, "robotorg"); err == nil {
		t.Fatal("a refused push created the namespace")
	}

	last := f.lastLogID(t)
	f.push(t, outsider, "neworg/app", "v1")
	org, err := f.srv.Store.Namespace(ctx, "neworg")
	if err != nil || org.Kind != store.KindOrg {
		t.Fatalf("the push did not create organization neworg: %+v %v", org, err)
	}
	f.checkLogs(t, outsider, check{action: "push into a new namespace", allowed: true,
		logs: []string{"org_create", "create_repo", "push_repo"}}, last)
	// The pusher owns the organization: it may read the repository and manage the org.
	if st, _ := f.do(outsider, "GET", "/v2/neworg/app/manifests/v1", "", nil); st != http.StatusOK {
		t.Fatalf("the creator pulling from the new organization: %d", st)
	}
	if st, _ := f.do(outsider, "GET", "/api/v1/organization/neworg/logs", "", nil); st != http.StatusOK {
		t.Fatalf("the creator reading the new organization's logs: %d", st)
	}
	// Another user may not push there now that it exists.
	if st, _ := f.do(member, "POST", "/v2/neworg/app/blobs/uploads/", "", nil); st != http.StatusForbidden {
		t.Fatalf("another user pushing into the new organization: %d", st)
	}
}
