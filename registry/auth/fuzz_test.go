package auth

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// FuzzParseScopes checks ParseScopes, which reads the scope parameters of token requests, on
// two scope parameters at once. It never panics; it refuses exactly the input that has a
// space-separated scope without two colons; and what it returns
//
//   - has one entry per (type, name) pair, merging the scopes that repeat one;
//   - covers every requested action of every scope, and no other;
//   - has no empty or repeated action, and no action with a comma, colon or space;
//   - has types without colons, parentheses classes or spaces, and names without spaces;
//   - reads back the same from each entry's String();
//   - grants (Allows) each of its actions on its own type and name.
//
// Types and names may be empty (":name:pull", "repository::pull"): ParseScopes does not
// promise otherwise, and Grant gives nothing for them.
func FuzzParseScopes(f *testing.F) {
	for _, s := range [][2]string{
		{"repository:admin/app:pull,push", ""},
		{"repository:admin/app:pull", "repository:admin/app:push,delete"},
		{"repository:admin/app:pull repository:admin/other:pull", "registry:catalog:*"},
		{"repository(plugin):admin/app:pull", ""},
		{"repository:localhost:5000/admin/app:pull", ""},
		{"repository:admin/app:", "repository:admin/app:pull,,pull"},
		{"repository:admin/app", ""},
		{"nocolon", ""},
		{":name:pull", "repository::pull"},
		{"(x):n:a", "a(b:n:c"},
		{"", "   "},
		{"repository:a:b:c:d", "\trepository:x:pull\n"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		values := []string{a, b}
		var got []Access
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("ParseScopes(%q) panicked: %v", values, r)
				}
			}()
			got, err = ParseScopes(values)
		}()

		// What the scopes ask for, read independently.
		type key struct{ typ, name string }
		want := map[key][]string{}
		valid := true
		for _, v := range values {
			for _, s := range strings.Fields(v) {
				first, last := strings.Index(s, ":"), strings.LastIndex(s, ":")
				if first < 0 || first == last {
					valid = false
					continue
				}
				typ := s[:first]
				if i := strings.Index(typ, "("); i >= 0 && strings.HasSuffix(typ, ")") {
					typ = typ[:i]
				}
				k := key{typ, s[first+1 : last]}
				if _, ok := want[k]; !ok {
					want[k] = []string{}
				}
				for _, act := range strings.Split(s[last+1:], ",") {
					if act != "" && !slices.Contains(want[k], act) {
						want[k] = append(want[k], act)
					}
				}
			}
		}
		if (err == nil) != valid {
			t.Fatalf("ParseScopes(%q) error = %v, want an error: %t", values, err, !valid)
		}
		if err != nil {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("ParseScopes(%q) = %d entries %v, want %d", values, len(got), got, len(want))
		}
		seen := map[key]bool{}
		for _, acc := range got {
			k := key{acc.Type, acc.Name}
			if seen[k] {
				t.Fatalf("ParseScopes(%q): %s:%s listed twice", values, acc.Type, acc.Name)
			}
			seen[k] = true
			acts, ok := want[k]
			if !ok {
				t.Fatalf("ParseScopes(%q) returned %v, which no scope asked for", values, acc)
			}
			if !sameSet(acc.Actions, acts) {
				t.Fatalf("ParseScopes(%q): %s:%s has actions %q, want %q", values, acc.Type, acc.Name, acc.Actions, acts)
			}
			if strings.ContainsAny(acc.Type, ": \t\r\n\v\f") || (strings.Contains(acc.Type, "(") && strings.HasSuffix(acc.Type, ")")) ||
				strings.ContainsAny(acc.Name, " \t\r\n\v\f") {
				t.Fatalf("ParseScopes(%q) returned type %q and name %q", values, acc.Type, acc.Name)
			}
			for i, act := range acc.Actions {
				if act == "" || strings.ContainsAny(act, ",: \t\r\n\v\f") || slices.Contains(acc.Actions[:i], act) {
					t.Fatalf("ParseScopes(%q): %s has action %q", values, acc, act)
				}
				if !acc.Allows(acc.Type, acc.Name, act) {
					t.Fatalf("%v does not allow its own action %q", acc, act)
				}
			}
			again, err := ParseScopes([]string{acc.String()})
			if err != nil || len(again) != 1 || !reflect.DeepEqual(normalize(again[0]), normalize(acc)) {
				t.Fatalf("ParseScopes(%q) = %v, %v: want %v back", acc.String(), again, err, acc)
			}
		}
	})
}

func sameSet(a, b []string) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(s string) bool { return !slices.Contains(b, s) })
}

// normalize makes an access comparable: no actions is nil.
func normalize(a Access) Access {
	if len(a.Actions) == 0 {
		a.Actions = nil
	}
	return a
}
