package ui

import "testing"

func TestPickSettingsTab(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "account"}, {"account", "account"}, {"tokens", "tokens"}, {"logs", "logs"}, {"nope", ""}, {"Account", ""},
	} {
		if got := pickSettingsTab(settingsTabs, tc.in); got != tc.want {
			t.Errorf("pickSettingsTab(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := pickSettingsTab(superuserTabs, ""); got != "users" {
		t.Errorf("the superuser panel opens on %q", got)
	}
}

func TestSuName(t *testing.T) {
	for in, want := range map[string]bool{
		"alice": true, "acme.corp": true, "a_b-c": true, "": false, "a/b": false, "..": false, ".": false,
		"a?b": false, "a#b": false, "a%2F": false,
	} {
		if got := suName(in); got != want {
			t.Errorf("suName(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestSettingsTemplates parses every template, as New does, so that a broken one fails here.
func TestSettingsTemplates(t *testing.T) {
	u := &UI{}
	if err := u.parseTemplates(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"settings", "superuser"} {
		if u.pages[name] == nil {
			t.Errorf("no %s page", name)
		}
	}
}
