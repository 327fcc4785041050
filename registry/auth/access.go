package auth

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/wharf-registry/wharf/registry/store"
)

// RepoAccess is what an identity may do with one repository.
type RepoAccess struct {
	// Role is admin, write, read or "" (none).
	Role string
	// Exists reports whether the repository exists.
	Exists bool
	// Namespace describes the repository's namespace (Kind "" when it does not exist).
	NamespaceID   int64
	NamespaceKind string
	RepositoryID  int64
	Public        bool
}

// RepositoryAccess applies the permission model to NAMESPACE/NAME:
//   - superusers and the namespace's own user are admins of every repository in it;
//   - organization admins (members of a team with role admin) are admins of its repositories;
//   - otherwise the strongest role the identity holds directly or through its teams counts;
//   - anyone may read a public repository (anonymous callers only with
//     FEATURE_ANONYMOUS_ACCESS);
//   - a repository that does not exist may be created (the identity is its admin-to-be) by
//     the namespace's user, organization admins and creators, and superusers.
func (s *Service) RepositoryAccess(ctx context.Context, id Identity, namespace, name string) (RepoAccess, error) {
	var uid int64
	if id.User != nil {
		uid = id.User.ID
	}
	f, err := s.store.AccessFacts(ctx, uid, namespace, name)
	if err != nil {
		return RepoAccess{}, err
	}
	a := RepoAccess{Exists: f.RepositoryID != 0, NamespaceID: f.NamespaceID, NamespaceKind: f.NamespaceKind,
		RepositoryID: f.RepositoryID, Public: f.Public}
	if f.NamespaceID == 0 {
		if s.opts.CreateNamespaceOnPush && id.User != nil && id.User.Kind == store.KindUser {
			// The push creates the organization (owned by the user), then the repository.
			a.Role = store.RoleAdmin
			if id.Scopes != nil {
				a.Role = limitByScopes(a.Role, id.Scopes, false)
			}
		}
		return a, nil
	}
	switch {
	case s.Superuser(id):
		a.Role = store.RoleAdmin
	case id.User != nil && f.NamespaceKind == store.KindUser && id.User.ID == f.NamespaceID:
		a.Role = store.RoleAdmin
	case f.NamespaceKind == store.KindOrg && f.OrgRole == store.TeamAdmin:
		a.Role = store.RoleAdmin
	case !a.Exists:
		if f.NamespaceKind == store.KindOrg && f.OrgRole == store.TeamCreator {
			a.Role = store.RoleAdmin
		}
	default:
		a.Role = f.RepoRole
	}
	if a.Exists && a.Public && a.Role == "" && (id.User != nil || s.opts.AnonymousAccess) {
		a.Role = store.RoleRead
	}
	if id.Scopes != nil {
		a.Role = limitByScopes(a.Role, id.Scopes, a.Exists)
	}
	return a, nil
}

// limitByScopes caps a role by an OAuth token's repo:* scopes.
func limitByScopes(role string, scopes []string, exists bool) string {
	allowed := ""
	for _, sc := range scopes {
		switch sc {
		case ScopeRepoAdmin:
			allowed = store.StrongerRole(allowed, store.RoleAdmin)
		case ScopeRepoWrite:
			allowed = store.StrongerRole(allowed, store.RoleWrite)
		case ScopeRepoRead:
			allowed = store.StrongerRole(allowed, store.RoleRead)
		case ScopeRepoCreate:
			if !exists {
				allowed = store.StrongerRole(allowed, store.RoleAdmin)
			}
		}
	}
	if store.StrongerRole(role, allowed) == role {
		return allowed
	}
	return role
}

// RoleActions are the registry actions a repository role allows.
func RoleActions(role string) []string {
	switch role {
	case store.RoleAdmin:
		return []string{ActionPull, ActionPush, ActionDelete}
	case store.RoleWrite:
		return []string{ActionPull, ActionPush}
	case store.RoleRead:
		return []string{ActionPull}
	}
	return nil
}

// RepositoryActions returns the registry actions an identity may take on NAMESPACE/NAME.
func (s *Service) RepositoryActions(ctx context.Context, id Identity, namespace, name string) ([]string, error) {
	a, err := s.RepositoryAccess(ctx, id, namespace, name)
	if err != nil {
		return nil, err
	}
	return RoleActions(a.Role), nil
}

// OrgRole is an identity's strongest team role in an organization ("" for none); superusers
// count as admins.
func (s *Service) OrgRole(ctx context.Context, id Identity, orgID int64) (string, error) {
	if s.Superuser(id) {
		return store.TeamAdmin, nil
	}
	if id.User == nil {
		return "", nil
	}
	teams, err := s.store.UserTeams(ctx, orgID, id.User.ID)
	if err != nil {
		return "", err
	}
	role := ""
	rank := map[string]int{store.TeamMember: 1, store.TeamCreator: 2, store.TeamAdmin: 3}
	for _, t := range teams {
		if rank[t.Role] > rank[role] {
			role = t.Role
		}
	}
	return role, nil
}

// OAuth 2 scopes of the REST API, as Quay names them.
const (
	ScopeRepoRead   = "repo:read"
	ScopeRepoWrite  = "repo:write"
	ScopeRepoAdmin  = "repo:admin"
	ScopeRepoCreate = "repo:create"
	ScopeUserRead   = "user:read"
	ScopeUserAdmin  = "user:admin"
	ScopeOrgAdmin   = "org:admin"
	ScopeSuperUser  = "super:user"
)

// AllScopes lists every scope with its description.
var AllScopes = []struct{ Scope, Description string }{
	{ScopeRepoRead, "View all visible repositories"},
	{ScopeRepoWrite, "Read/Write to any accessible repositories"},
	{ScopeRepoAdmin, "Administer Repositories"},
	{ScopeRepoCreate, "Create Repositories"},
	{ScopeUserRead, "Read User Information"},
	{ScopeUserAdmin, "Administer User"},
	{ScopeOrgAdmin, "Administer Organization"},
	{ScopeSuperUser, "Super User Access"},
}

// ValidScope reports whether sc is a known scope.
func ValidScope(sc string) bool {
	for _, s := range AllScopes {
		if s.Scope == sc {
			return true
		}
	}
	return false
}

// HasScope reports whether the identity's token allows scope (always, without a token).
// A stronger scope implies the weaker ones of its kind.
func (id Identity) HasScope(scope string) bool {
	if id.Scopes == nil {
		return true
	}
	implied := map[string][]string{
		ScopeRepoRead:  {ScopeRepoRead, ScopeRepoWrite, ScopeRepoAdmin},
		ScopeRepoWrite: {ScopeRepoWrite, ScopeRepoAdmin},
		ScopeUserRead:  {ScopeUserRead, ScopeUserAdmin},
	}
	want := implied[scope]
	if want == nil {
		want = []string{scope}
	}
	for _, have := range id.Scopes {
		for _, w := range want {
			if have == w {
				return true
			}
		}
	}
	return false
}

// NewUUID returns a random (version 4) UUID.
func NewUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
