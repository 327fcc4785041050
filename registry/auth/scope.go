package auth

import (
	"fmt"
	"slices"
	"strings"
)

// Actions on repositories.
const (
	ActionPull   = "pull"
	ActionPush   = "push"
	ActionDelete = "delete"
	ActionAll    = "*"
)

// Access is a resource scope: requested by a client or granted in a token.
type Access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// String renders the scope as the token flow spells it: repository:NAME:pull,push.
func (a Access) String() string {
	return a.Type + ":" + a.Name + ":" + strings.Join(a.Actions, ",")
}

// Allows reports whether the access grants action on the resource.
func (a Access) Allows(typ, name, action string) bool {
	return a.Type == typ && a.Name == name && (slices.Contains(a.Actions, action) || slices.Contains(a.Actions, ActionAll))
}

// ParseScopes reads scope parameters of a token request. Each value may hold several
// space-separated scopes; the type may carry a class in parentheses (repository(plugin)).
func ParseScopes(values []string) ([]Access, error) {
	var out []Access
	for _, v := range values {
		for _, s := range strings.Fields(v) {
			first := strings.Index(s, ":")
			last := strings.LastIndex(s, ":")
			if first < 0 || last == first {
				return nil, fmt.Errorf("invalid scope %q: want TYPE:NAME:ACTIONS", s)
			}
			typ := s[:first]
			if i := strings.Index(typ, "("); i >= 0 && strings.HasSuffix(typ, ")") {
				typ = typ[:i]
			}
			name := s[first+1 : last]
			var actions []string
			for _, a := range strings.Split(s[last+1:], ",") {
				if a != "" && !slices.Contains(actions, a) {
					actions = append(actions, a)
				}
			}
			out = mergeAccess(out, Access{Type: typ, Name: name, Actions: actions})
		}
	}
	return out, nil
}

func mergeAccess(list []Access, a Access) []Access {
	for i := range list {
		if list[i].Type == a.Type && list[i].Name == a.Name {
			for _, act := range a.Actions {
				if !slices.Contains(list[i].Actions, act) {
					list[i].Actions = append(list[i].Actions, act)
				}
			}
			return list
		}
	}
	return append(list, a)
}
