package schema

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsUpToDate regenerates docs/config.md in memory and fails when the file in the
// repository differs, so that the docs never drift from the schema.
func TestDocsUpToDate(t *testing.T) {
	want, err := Markdown()
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	got, err := os.ReadFile(filepath.Join("..", DocsPath))
	if err != nil {
		t.Fatalf("%v: docs/config.md is missing: run make docs", err)
	}
	if !bytes.Equal(got, want) {
		line := 1
		for i := 0; i < len(got) && i < len(want) && got[i] == want[i]; i++ {
			if got[i] == '\n' {
				line++
			}
		}
		t.Fatalf("docs/config.md is out of date: run make docs (first difference at line %d)", line)
	}
}

// TestDocsCoverEveryKey checks that the generated reference names every key, every field
// and every storage driver, and says of each key Wharf does not honour what it does instead.
func TestDocsCoverEveryKey(t *testing.T) {
	doc, err := Markdown()
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	keys, err := Keys()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		switch {
		case k.Honoured && !strings.Contains(text, "#### `"+k.Name+"`\n\n"+k.Description):
			t.Errorf("%s: no section with its description", k.Name)
		case !k.Honoured && !strings.Contains(text, "| `"+k.Name+"` | "):
			t.Errorf("%s: no row among the keys Wharf does not honour", k.Name)
		case !k.Honoured && !strings.Contains(text, cell(k.Note)):
			t.Errorf("%s: its note is missing", k.Name)
		}
		for _, f := range k.Fields {
			if !strings.Contains(text, "| `"+f.Name+"` | ") && !strings.Contains(text, "`"+f.Name+"`, ") && !strings.Contains(text, "`"+f.Name+"`)") {
				t.Errorf("%s/%s: field missing", k.Name, f.Name)
			}
		}
	}
	for _, d := range []string{"### LocalStorage", "### S3Storage", "### RadosGWStorage", "`RHOCSStorage`", "| `AzureStorage` |", "| `region_name` |"} {
		if !strings.Contains(text, d) {
			t.Errorf("storage drivers: %q missing", d)
		}
	}
	for _, g := range Groups {
		if !strings.Contains(text, "Field group `"+g+"`.") {
			t.Errorf("group %s missing", g)
		}
	}
}
