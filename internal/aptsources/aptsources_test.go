package aptsources

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseSourcesList(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     []Source
	}{
		{"plain", "deb http://m.example/debian bookworm main contrib\n",
			[]Source{{Type: "deb", URI: "http://m.example/debian", Suites: []string{"bookworm"}, Components: []string{"main", "contrib"}}}},
		{"options", "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] https://m.example/debian bookworm-updates main\n",
			[]Source{{Type: "deb", URI: "https://m.example/debian", Suites: []string{"bookworm-updates"}, Components: []string{"main"}}}},
		{"comments and blanks", "# deb http://old.example/debian buster main\n\n   \ndeb-src http://m.example/debian bookworm main # sources\n",
			[]Source{{Type: "deb-src", URI: "http://m.example/debian", Suites: []string{"bookworm"}, Components: []string{"main"}}}},
		{"unclosed options", "deb [arch=amd64 http://m.example/debian bookworm main\n", nil},
		{"too short", "deb http://m.example/debian\n", nil},
		{"other types", "rpm http://m.example/x y z\n", nil},
		{"flat repository", "deb file:/srv/repo ./\n",
			[]Source{{Type: "deb", URI: "file:/srv/repo", Suites: []string{"./"}, Components: []string{}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := ParseSourcesList([]byte(c.in), "")
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %#v, want %#v", got, c.want)
			}
		})
	}
}

func TestParseDeb822Sources(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     []Source
		err      string
	}{
		{"two paragraphs", `Types: deb
# a comment
URIs: http://m.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb deb-src
URIs: http://s.example/debian-security
Suites: bookworm-security
Components: main
`, []Source{
			{Type: "deb", URI: "http://m.example/debian", Suites: []string{"bookworm", "bookworm-updates"}, Components: []string{"main"}},
			{Type: "deb", URI: "http://s.example/debian-security", Suites: []string{"bookworm-security"}, Components: []string{"main"}},
			{Type: "deb-src", URI: "http://s.example/debian-security", Suites: []string{"bookworm-security"}, Components: []string{"main"}},
		}, ""},
		{"disabled", "Enabled: no\nTypes: deb\nURIs: http://m.example/debian\nSuites: bookworm\nComponents: main\n", nil, ""},
		{"continuation and case", "types: deb\nuris: http://a.example/debian\n http://b.example/debian\nSUITES: bookworm\nComponents: main\n", []Source{
			{Type: "deb", URI: "http://a.example/debian", Suites: []string{"bookworm"}, Components: []string{"main"}},
			{Type: "deb", URI: "http://b.example/debian", Suites: []string{"bookworm"}, Components: []string{"main"}},
		}, ""},
		{"no suites", "Types: deb\nURIs: http://m.example/debian\n", nil, ""},
		{"not a field", "Types: deb\nthis is not a field\n", nil, "is not a \"Field: value\" line"},
		{"continuation first", " http://m.example/debian\n", nil, "continuation line"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseDeb822Sources([]byte(c.in), "x.sources")
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "x.sources:") {
					t.Fatalf("got error %v, want one naming the file and saying %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				got[i].File = ""
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %#v, want %#v", got, c.want)
			}
		})
	}
}

func TestHostSourcesAndFindMirror(t *testing.T) {
	root := t.TempDir()
	d := filepath.Join(root, "etc", "apt", "sources.list.d")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(root, "etc", "apt", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("sources.list", "deb cdrom:[Debian 12]/ bookworm main\n")
	write("sources.list.d/a-other.list", "deb http://other.example/debian bookworm contrib\n")
	write("sources.list.d/b-debian.sources", "Types: deb\nURIs: http://m.example/debian\nSuites: bookworm trixie\nComponents: main\n")
	write("sources.list.d/c-disabled.list.disabled", "deb http://disabled.example/debian bookworm main\n")
	sources, err := HostSources(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(sources) != 3 {
		t.Fatalf("got %d sources, want 3 (the disabled file left out): %+v", len(sources), sources)
	}
	for _, c := range []struct{ suite, want, err string }{
		{"bookworm", "http://m.example/debian", ""}, // not the cdrom, not the one without main
		{"trixie", "http://m.example/debian", ""},
		{"sid", "", "no apt source carries sid main"},
	} {
		t.Run(c.suite, func(t *testing.T) {
			got, err := FindMirror(sources, c.suite)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "-mirror") {
					t.Fatalf("got %q, %v; want an error saying %q and what to do", got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
	if _, err := HostSources(filepath.Join(root, "nothing")); err != nil {
		t.Errorf("a host with no apt sources: %v, want none found", err)
	}
}

func FuzzParseSourcesList(f *testing.F) {
	f.Add([]byte("deb [arch=amd64] http://m.example/debian bookworm main\n# x\n"))
	f.Add([]byte("deb [ ] x y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range ParseSourcesList(data, "f") {
			if s.URI == "" || len(s.Suites) != 1 || (s.Type != "deb" && s.Type != "deb-src") {
				t.Errorf("bad source %+v", s)
			}
		}
	})
}

func FuzzParseDeb822Sources(f *testing.F) {
	f.Add([]byte("Types: deb\nURIs: http://m.example/debian\nSuites: bookworm\nComponents: main\n\nEnabled: no\n"))
	f.Add([]byte("Types: deb\n uris\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sources, err := ParseDeb822Sources(data, "f")
		if err != nil {
			return
		}
		for _, s := range sources {
			if s.URI == "" || len(s.Suites) == 0 || (s.Type != "deb" && s.Type != "deb-src") {
				t.Errorf("bad source %+v", s)
			}
		}
	})
}

func TestHostMirror(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		suite   string
		want    string
		wantErr string
	}{
		{"deb822 only", map[string]string{
			"sources.list.d/debian.sources": "Types: deb\nURIs: http://a.test/debian\nSuites: bookworm bookworm-updates\nComponents: main\n",
		}, "bookworm", "http://a.test/debian", ""},
		{"sources.list first", map[string]string{
			"sources.list":                  "deb http://list.test/debian bookworm main\n",
			"sources.list.d/debian.sources": "Types: deb\nURIs: http://a.test/debian\nSuites: bookworm\nComponents: main\n",
		}, "bookworm", "http://list.test/debian", ""},
		{"security and other suites are not the archive", map[string]string{
			"sources.list.d/a.list":    "deb http://security.test/debian-security bookworm-security main\n",
			"sources.list.d/b.sources": "Types: deb\nURIs: http://a.test/debian\nSuites: trixie bookworm\nComponents: contrib main\n",
		}, "bookworm", "http://a.test/debian", ""},
		{"other extensions ignored", map[string]string{
			"sources.list.d/old.list.disabled": "deb http://off.test/debian bookworm main\n",
			"sources.list.d/ok.list":           "deb http://on.test/debian bookworm main\n",
		}, "bookworm", "http://on.test/debian", ""},
		{"no main component", map[string]string{
			"sources.list": "deb http://a.test/debian bookworm contrib\n",
		}, "bookworm", "", "no apt source carries bookworm main"},
		{"no sources at all", map[string]string{}, "bookworm", "", "no apt source carries bookworm main"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for name, content := range tt.files {
				p := filepath.Join(root, "etc/apt", name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := HostMirror(root, tt.suite)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("HostMirror = %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("HostMirror = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestHostMirrorOnThisHost checks that a mirror is found on the machine the tests run on, as
// make images and make vm-image need.
func TestHostMirrorOnThisHost(t *testing.T) {
	if _, err := os.Stat("/etc/debian_version"); err != nil {
		t.Skip("not a Debian host: images and the VM are built on Debian only")
	}
	if _, err := HostMirror("/", "bookworm"); err != nil {
		t.Fatal(err)
	}
}
