package ldap

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
)

// searchLimit bounds the entries one login may match; more is ambiguous anyway.
const searchLimit = 20

// Verify checks a login (the user's UID or email) and password: it finds the user with the
// admin bind, then binds as the user's DN with the password. An unknown login, a wrong password
// and an empty password are ErrInvalidCredentials (an unknown login also matches ErrNotFound);
// other errors are the directory's or the configuration's.
func (d *Directory) Verify(ctx context.Context, login, password string) (User, error) {
	if password == "" {
		// An LDAP simple bind with a DN and no password is an anonymous bind that servers
		// accept: it must never count as a login.
		return User{}, fmt.Errorf("%w: empty password refused", ErrInvalidCredentials)
	}
	if strings.TrimSpace(login) == "" {
		return User{}, fmt.Errorf("%w: empty username", ErrInvalidCredentials)
	}
	s, err := d.connectAdmin(ctx)
	if err != nil {
		return User{}, err
	}
	defer s.close()
	u, err := d.findUser(s, login, true)
	if errors.Is(err, ErrNotFound) {
		return User{}, fmt.Errorf("%w: %w", ErrInvalidCredentials, err)
	}
	if err != nil {
		return User{}, err
	}
	err = s.conn.Bind(u.DN, password)
	switch {
	case err == nil:
		return u, nil
	case goldap.IsErrorAnyOf(err, goldap.LDAPResultInvalidCredentials, goldap.LDAPResultInappropriateAuthentication):
		return User{}, fmt.Errorf("%w: the directory refused the password of %s", ErrInvalidCredentials, u.DN)
	default:
		return User{}, s.fail(fmt.Errorf("ldap: bind as %s: %w", u.DN, err))
	}
}

// Lookup returns the user whose UID attribute is username, in the user subtrees and passing
// the user filter; ErrNotFound when there is none.
func (d *Directory) Lookup(ctx context.Context, username string) (User, error) {
	if strings.TrimSpace(username) == "" {
		return User{}, fmt.Errorf("%w: empty username", ErrNotFound)
	}
	s, err := d.connectAdmin(ctx)
	if err != nil {
		return User{}, err
	}
	defer s.close()
	return d.findUser(s, username, false)
}

// GroupMembers returns the users of a group, sorted by username. groupDN is absolute or
// relative to LDAP_BASE_DN (as Quay's team sync group_dn, e.g. "cn=devs,ou=groups"). Members
// are the user DNs of the group's member and uniqueMember values and the UIDs of its memberUid
// values; those that are no user (outside the user subtrees, failing the user filter, or gone)
// are left out. A group that does not exist is an error matching ErrNotFound.
func (d *Directory) GroupMembers(ctx context.Context, groupDN string) ([]User, error) {
	dn, err := d.absoluteDN(groupDN)
	if err != nil {
		return nil, err
	}
	s, err := d.connectAdmin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.close()

	res, err := s.conn.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1,
		d.timeLimit(), false, "(objectClass=*)", []string{"member", "uniqueMember", "memberUid"}, nil))
	switch {
	case goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject):
		return nil, fmt.Errorf("%w: group %s does not exist: check the group DN (relative to LDAP_BASE_DN %s or absolute)", ErrNotFound, dn, d.baseDN)
	case err != nil:
		return nil, s.fail(fmt.Errorf("ldap: read group %s: %w", dn, err))
	case len(res.Entries) != 1:
		return nil, fmt.Errorf("%w: group %s is not readable by LDAP_ADMIN_DN %s", ErrNotFound, dn, d.cfg.AdminDN)
	}
	group := res.Entries[0]

	seen := map[string]bool{}
	var users []User
	add := func(u User) {
		key := strings.ToLower(u.DN)
		if !seen[key] {
			seen[key] = true
			users = append(users, u)
		}
	}
	memberDNs := append(group.GetEqualFoldAttributeValues("member"), group.GetEqualFoldAttributeValues("uniqueMember")...)
	for _, m := range memberDNs {
		u, err := d.userByDN(s, uniqueMemberDN(m))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("ldap: group %s: %w", dn, err)
		}
		add(u)
	}
	for _, uid := range group.GetEqualFoldAttributeValues("memberUid") {
		u, err := d.findUser(s, uid, false)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("ldap: group %s: %w", dn, err)
		}
		add(u)
	}
	sort.Slice(users, func(i, j int) bool { return users[i].Username < users[j].Username })
	return users, nil
}

// Ping connects, binds as LDAP_ADMIN_DN and checks that every user subtree exists: a
// configuration check.
func (d *Directory) Ping(ctx context.Context) error {
	s, err := d.connectAdmin(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	for _, base := range d.userDNs {
		_, err := s.conn.Search(goldap.NewSearchRequest(base, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1,
			d.timeLimit(), false, "(objectClass=*)", []string{"1.1"}, nil))
		if err != nil {
			return d.searchError(s, base, err)
		}
	}
	return nil
}

// findUser finds the one user whose UID (or, with byEmail, email) is login, searching the user
// subtrees in order and stopping at the first that has a match.
func (d *Directory) findUser(s *session, login string, byEmail bool) (User, error) {
	value := goldap.EscapeFilter(login)
	match := "(" + d.cfg.UIDAttr + "=" + value + ")"
	if byEmail {
		match = "(|" + match + "(" + d.cfg.EmailAttr + "=" + value + "))"
	}
	filter := d.userFilter(match)
	for _, base := range d.userDNs {
		res, err := s.conn.Search(goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
			searchLimit, d.timeLimit(), false, filter, d.attributes(), nil))
		if err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) {
			return User{}, d.searchError(s, base, err)
		}
		var users []User
		for _, e := range res.Entries {
			if e.DN == "" {
				continue // some servers return such entries
			}
			u, ok := d.user(e)
			if ok {
				users = append(users, u)
			}
		}
		switch {
		case len(users) == 1:
			return users[0], nil
		case len(users) > 1:
			// An exact UID match wins over entries that match by email.
			var exact []User
			for _, u := range users {
				if strings.EqualFold(u.Username, login) {
					exact = append(exact, u)
				}
			}
			if len(exact) == 1 {
				return exact[0], nil
			}
			return User{}, fmt.Errorf("%w: %q matches %s and %s under %s: make %s and %s values unique, or narrow LDAP_USER_FILTER",
				ErrAmbiguous, login, users[0].DN, users[1].DN, base, d.cfg.UIDAttr, d.cfg.EmailAttr)
		}
	}
	return User{}, fmt.Errorf("%w: no user %q in %s", ErrNotFound, login, strings.Join(d.userDNs, "; "))
}

// userByDN reads the user at dn: ErrNotFound when it is outside the user subtrees, fails the
// user filter or does not exist.
func (d *Directory) userByDN(s *session, dn string) (User, error) {
	parsed, err := goldap.ParseDN(dn)
	if err != nil {
		return User{}, fmt.Errorf("%w: member %q is not a DN", ErrNotFound, dn)
	}
	inside := false
	for _, base := range d.userBases {
		if base.AncestorOfFold(parsed) {
			inside = true
			break
		}
	}
	if !inside {
		return User{}, fmt.Errorf("%w: %s is outside the user subtrees", ErrNotFound, dn)
	}
	res, err := s.conn.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1,
		d.timeLimit(), false, d.userFilter(""), d.attributes(), nil))
	switch {
	case goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject):
		return User{}, fmt.Errorf("%w: %s does not exist", ErrNotFound, dn)
	case err != nil:
		return User{}, s.fail(fmt.Errorf("ldap: read %s: %w", dn, err))
	case len(res.Entries) == 0:
		return User{}, fmt.Errorf("%w: %s does not pass LDAP_USER_FILTER", ErrNotFound, dn)
	}
	u, ok := d.user(res.Entries[0])
	if !ok {
		return User{}, fmt.Errorf("%w: %s has no %s attribute", ErrNotFound, dn, d.cfg.UIDAttr)
	}
	return u, nil
}

// user makes a User of an entry; false when it has no UID.
func (d *Directory) user(e *goldap.Entry) (User, bool) {
	u := User{
		Username: e.GetEqualFoldAttributeValue(d.cfg.UIDAttr),
		Email:    e.GetEqualFoldAttributeValue(d.cfg.EmailAttr),
		DN:       e.DN,
	}
	return u, u.Username != ""
}

// userFilter ANDs match with LDAP_USER_FILTER; an empty match means any entry.
func (d *Directory) userFilter(match string) string {
	switch {
	case d.filter == "" && match == "":
		return "(objectClass=*)"
	case d.filter == "":
		return match
	case match == "":
		return d.filter
	}
	return "(&" + match + d.filter + ")"
}

func (d *Directory) attributes() []string { return []string{d.cfg.UIDAttr, d.cfg.EmailAttr} }

// timeLimit is the server-side search time limit in seconds.
func (d *Directory) timeLimit() int { return max(1, int(d.cfg.Timeout.Seconds())) }

// searchError explains a failed search under a user subtree.
func (d *Directory) searchError(s *session, base string, err error) error {
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		return fmt.Errorf("ldap: user subtree %s does not exist: check LDAP_BASE_DN, LDAP_USER_RDN and LDAP_SECONDARY_USER_RDNS", base)
	}
	return s.fail(fmt.Errorf("ldap: search %s: %w", base, err))
}

// absoluteDN makes a group DN absolute: one not ending with LDAP_BASE_DN is relative to it.
func (d *Directory) absoluteDN(dn string) (string, error) {
	dn = strings.TrimSpace(dn)
	if dn == "" {
		return "", errors.New("ldap: empty group DN: give it relative to LDAP_BASE_DN, e.g. cn=devs,ou=groups")
	}
	parsed, err := goldap.ParseDN(dn)
	if err != nil {
		return "", fmt.Errorf("ldap: group DN %q is not a DN: %w", dn, err)
	}
	if d.base.AncestorOfFold(parsed) || d.base.EqualFold(parsed) {
		return dn, nil
	}
	return dn + "," + d.baseDN, nil
}

// uniqueMemberDN drops the optional unique identifier of a uniqueMember value
// ("cn=x,dc=y#'0101'B", RFC 4517's NameAndOptionalUID).
func uniqueMemberDN(v string) string {
	if i := strings.LastIndex(v, "#'"); i > 0 && strings.HasSuffix(v, "'B") {
		return v[:i]
	}
	return v
}
