package auth

import (
	"context"
	"fmt"
	"regexp"

	"github.com/wharf-registry/wharf/registry/store"
)

// Usernames are namespaces, so they follow the repository name component rules.
var usernameRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$`)

// ValidUsername reports whether name can be a user (and namespace) name.
func ValidUsername(name string) error {
	if len(name) < 2 || len(name) > 255 || !usernameRE.MatchString(name) {
		return fmt.Errorf("invalid user name %q: use 2 to 255 lowercase letters, digits and separators (. _ -), starting and ending with a letter or digit", name)
	}
	return nil
}

// CreateUser validates and stores a new user with a hashed password.
func CreateUser(ctx context.Context, st *store.Store, name, password, email string, superuser bool) (store.User, error) {
	if err := ValidUsername(name); err != nil {
		return store.User{}, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return store.User{}, err
	}
	u, err := st.CreateUser(ctx, store.User{Name: name, Email: email, PasswordHash: hash, Superuser: superuser})
	if err != nil {
		return store.User{}, err
	}
	return u, nil
}
