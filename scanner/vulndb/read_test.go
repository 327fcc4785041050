package vulndb_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/scanner/vulndb"
)

// member is one file of a test zip.
type member struct{ name, body string }

// zipBytes builds a zip archive of members, in order.
func zipBytes(t *testing.T, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		w, err := zw.Create(m.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(m.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// osvRecord is a small OSV record of a Debian 12 package.
func osvRecord(id, modified, pkg, fixed string) string {
	return fmt.Sprintf(`{"id":%q,"modified":%q,"published":"2024-01-01T00:00:00Z","details":"details of %s",
		"affected":[{"package":{"ecosystem":"Debian:12","name":%q},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":%q}]}],
		"ecosystem_specific":{"urgency":"medium"}}]}`, id, modified, id, pkg, fixed)
}

const secdbMain = `{"distroversion":"v3.19","reponame":"main","packages":[
	{"pkg":{"name":"openssl","secfixes":{"3.1.4-r1":["CVE-2023-5363"],"3.1.4-r3":["CVE-2023-5678"]}}}]}`

// readAll reads a file with vulndb.Read and returns the documents' names and ids.
func readAll(t *testing.T, file string) ([]string, error) {
	t.Helper()
	var got []string
	err := vulndb.Read(context.Background(), file, func(d vulndb.Document) error {
		s := d.Name + " " + string(d.Format)
		for _, a := range d.Advisories {
			s += " " + a.ID
		}
		if d.Invalid != nil {
			s += " invalid"
		}
		got = append(got, s)
		return nil
	})
	return got, err
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	many := []member{{"README.md", "not a document"}, {"osv/", ""}}
	for i := range 700 { // more than one chunk of parallel parsing
		many = append(many, member{fmt.Sprintf("osv/CVE-%04d.json", i), osvRecord(fmt.Sprintf("CVE-%04d", i), "2024-01-01T00:00:00Z", "glibc", "2.36-9")})
	}
	many = append(many, member{"__MACOSX/osv/._CVE-0001.json", "\x00\x05junk"}, member{"3.19/main.json", secdbMain})
	zipFile := writeFile(t, filepath.Join(dir, "all.zip"), zipBytes(t, many...))
	got, err := readAll(t, zipFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 701 || got[0] != zipFile+":osv/CVE-0000.json osv CVE-0000" || got[699] != zipFile+":osv/CVE-0699.json osv CVE-0699" ||
		got[700] != zipFile+":3.19/main.json alpine-secdb CVE-2023-5363 CVE-2023-5678" {
		t.Fatalf("Read(zip) = %d documents: %v ... %v", len(got), got[:2], got[len(got)-2:])
	}

	tree := filepath.Join(dir, "tree")
	writeFile(t, filepath.Join(tree, "b", "CVE-2.json"), []byte(osvRecord("CVE-2", "2024-01-01T00:00:00Z", "zlib", "1")))
	writeFile(t, filepath.Join(tree, "a", "CVE-1.json"), []byte(osvRecord("CVE-1", "2024-01-01T00:00:00Z", "zlib", "1")))
	writeFile(t, filepath.Join(tree, "a", "notes.txt"), []byte("skipped"))
	writeFile(t, filepath.Join(tree, ".git", "x.json"), []byte("skipped"))
	got, err = readAll(t, tree)
	want := []string{filepath.Join(tree, "a", "CVE-1.json") + " osv CVE-1", filepath.Join(tree, "b", "CVE-2.json") + " osv CVE-2"}
	if err != nil || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Read(directory) = %v, %v; want %v", got, err, want)
	}

	single := writeFile(t, filepath.Join(dir, "main.json"), []byte(secdbMain))
	if got, err = readAll(t, single); err != nil || len(got) != 1 || !strings.HasSuffix(got[0], "alpine-secdb CVE-2023-5363 CVE-2023-5678") {
		t.Fatalf("Read(secdb json) = %v, %v", got, err)
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	good := zipBytes(t, member{"a/CVE-1.json", osvRecord("CVE-1", "2024-01-01T00:00:00Z", "glibc", "1")},
		member{"a/CVE-2.json", osvRecord("CVE-2", "2024-01-01T00:00:00Z", "glibc", "1")})
	// Flip a byte inside the first member's compressed data: its checksum no longer holds.
	corrupt := bytes.Clone(good)
	corrupt[30+len("a/CVE-1.json")+20] ^= 0xff
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"truncated.zip", good[:len(good)/2], "truncated.zip: zip: not a valid zip file"},
		{"corrupt.zip", corrupt, "corrupt.zip:a/CVE-1.json: "},
		{"unknown.zip", zipBytes(t, member{"a/CVE-1.json", osvRecord("CVE-1", "2024-01-01T00:00:00Z", "glibc", "1")},
			member{"a/package.json", `{"name":"left-pad","version":"1.0.0"}`}), "unknown.zip:a/package.json: neither an OSV record nor an Alpine secdb file"},
		{"text.zip", zipBytes(t, member{"x.json", "hello"}), "text.zip:x.json: neither an OSV record nor an Alpine secdb file: not a JSON object"},
		{"empty.zip", zipBytes(t, member{"README", "nothing here"}), "empty.zip: no .json documents"},
		{"notes.json", []byte("# notes"), "notes.json: neither an OSV record nor an Alpine secdb file"},
		{"array.json", []byte(`[` + osvRecord("CVE-1", "2024-01-01T00:00:00Z", "glibc", "1") + `]`), "array.json: neither"},
	} {
		file := writeFile(t, filepath.Join(dir, tc.name), tc.data)
		_, err := readAll(t, file)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Read(%s) = %v; want an error containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := readAll(t, filepath.Join(dir, "missing.zip")); err == nil {
		t.Error("Read of a missing file succeeded")
	}

	// An invalid record is a document with Invalid set; the others are read.
	mixed := writeFile(t, filepath.Join(dir, "mixed.zip"), zipBytes(t, member{"a.json", osvRecord("CVE-1", "2024-01-01T00:00:00Z", "glibc", "1")},
		member{"b.json", `{"id":"CVE-2","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12"}}]}`}))
	got, err := readAll(t, mixed)
	if err != nil || len(got) != 2 || !strings.HasSuffix(got[1], "b.json osv invalid") {
		t.Fatalf("Read(mixed) = %v, %v", got, err)
	}

	// fn's error stops the reading.
	stop := fmt.Errorf("stop")
	n := 0
	err = vulndb.Read(context.Background(), mixed, func(vulndb.Document) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("Read with a failing fn = %v after %d documents", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := vulndb.Read(ctx, mixed, func(vulndb.Document) error { return nil }); err == nil {
		t.Fatal("Read with a cancelled context succeeded")
	}
}
