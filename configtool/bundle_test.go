package configtool

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func sampleSource() Source {
	return Source{Files: map[string][]byte{
		ConfigFile:                  []byte("SERVER_HOSTNAME: registry.example.com\n"),
		CertFile:                    []byte("-----BEGIN CERTIFICATE-----\ncert\n-----END CERTIFICATE-----\n"),
		KeyFile:                     []byte("-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n"),
		ExtraCADir + "/ldap.crt":    []byte("ldap ca"),
		ExtraCADir + "/storage.pem": []byte("storage ca"),
	}}
}

// member is one tar entry for building test bundles by hand.
type member struct {
	name     string
	typeflag byte
	body     string
	size     int64 // when > 0, a body of this many zero bytes
	link     string
}

func makeTar(t testing.TB, gz bool, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	tw := tar.NewWriter(w)
	for _, m := range members {
		body := []byte(m.body)
		if m.size > 0 {
			body = make([]byte, m.size)
		}
		hdr := &tar.Header{Name: m.name, Typeflag: m.typeflag, Mode: 0o644, Linkname: m.link}
		if m.typeflag == tar.TypeReg {
			hdr.Size = int64(len(body))
		}
		if m.typeflag == tar.TypeXGlobalHeader {
			hdr = &tar.Header{Name: m.name, Typeflag: m.typeflag, PAXRecords: map[string]string{"comment": "git archive"}, Format: tar.FormatPAX}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if m.typeflag == tar.TypeReg {
			if _, err := tw.Write(body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

func TestBundleRoundTrip(t *testing.T) {
	src := sampleSource()
	var buf bytes.Buffer
	if err := WriteBundle(&buf, src); err != nil {
		t.Fatal(err)
	}
	got, err := ReadBundle(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Files, src.Files) {
		t.Fatalf("round trip changed the files:\n got %q\nwant %q", got.Files, src.Files)
	}

	// The archive is gzip, in bundle order, with private files 0600.
	zr, err := gzip.NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("bundle is not gzip: %v", err)
	}
	tr := tar.NewReader(zr)
	var names []string
	modes := map[string]int64{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		modes[hdr.Name] = hdr.Mode
	}
	wantNames := []string{"config.yaml", "ssl.cert", "ssl.key", "extra_ca_certs/", "extra_ca_certs/ldap.crt", "extra_ca_certs/storage.pem"}
	if !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("members %q, want %q", names, wantNames)
	}
	for name, want := range map[string]int64{"config.yaml": 0o600, "ssl.key": 0o600, "ssl.cert": 0o644, "extra_ca_certs/ldap.crt": 0o644, "extra_ca_certs/": 0o755} {
		if modes[name] != want {
			t.Errorf("%s: mode %o, want %o", name, modes[name], want)
		}
	}
}

func TestReadBundleAccepts(t *testing.T) {
	cfg := "SERVER_HOSTNAME: a.example\n"
	tests := []struct {
		name    string
		bundle  []byte
		wantCAs []string
	}{
		{"made by tar czf . (./ prefixes, directory entries)", makeTar(t, true,
			member{name: "./", typeflag: tar.TypeDir},
			member{name: "./config.yaml", typeflag: tar.TypeReg, body: cfg},
			member{name: "./extra_ca_certs/", typeflag: tar.TypeDir},
			member{name: "./extra_ca_certs/a.crt", typeflag: tar.TypeReg, body: "a"}), []string{"extra_ca_certs/a.crt"}},
		{"uncompressed tar", makeTar(t, false,
			member{name: "config.yaml", typeflag: tar.TypeReg, body: cfg}), nil},
		{"pax global header (git archive)", makeTar(t, true,
			member{name: "pax_global_header", typeflag: tar.TypeXGlobalHeader},
			member{name: "config.yaml", typeflag: tar.TypeReg, body: cfg}), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := ReadBundle(bytes.NewReader(tc.bundle))
			if err != nil {
				t.Fatal(err)
			}
			if string(src.Config()) != cfg {
				t.Errorf("config.yaml = %q", src.Config())
			}
			var cas []string
			for n := range src.Files {
				if strings.HasPrefix(n, ExtraCADir+"/") {
					cas = append(cas, n)
				}
			}
			sort.Strings(cas)
			if !reflect.DeepEqual(cas, tc.wantCAs) {
				t.Errorf("extra CAs %q, want %q", cas, tc.wantCAs)
			}
		})
	}
}

func TestReadBundleRefuses(t *testing.T) {
	cfg := member{name: "config.yaml", typeflag: tar.TypeReg, body: "{}\n"}
	tests := []struct {
		name    string
		bundle  []byte
		wantErr string
	}{
		{"absolute path", makeTar(t, true, cfg, member{name: "/etc/passwd", typeflag: tar.TypeReg, body: "x"}), "absolute"},
		{"climbs out", makeTar(t, true, cfg, member{name: "extra_ca_certs/../../x", typeflag: tar.TypeReg, body: "x"}), "no .."},
		{"climbs out at the top", makeTar(t, true, member{name: "../config.yaml", typeflag: tar.TypeReg, body: "x"}), "no .."},
		{"symlink", makeTar(t, true, cfg, member{name: "ssl.key", typeflag: tar.TypeSymlink, link: "/etc/shadow"}), "links are not allowed"},
		{"hard link", makeTar(t, true, cfg, member{name: "ssl.key", typeflag: tar.TypeLink, link: "config.yaml"}), "links are not allowed"},
		{"device", makeTar(t, true, cfg, member{name: "ssl.key", typeflag: tar.TypeChar}), "only regular files"},
		{"unknown file", makeTar(t, true, cfg, member{name: "notes.txt", typeflag: tar.TypeReg, body: "x"}), "not a config file"},
		{"nested CA directory", makeTar(t, true, cfg, member{name: "extra_ca_certs/sub/a.crt", typeflag: tar.TypeReg, body: "x"}), "not a config file"},
		{"unknown directory", makeTar(t, true, cfg, member{name: "data/", typeflag: tar.TypeDir}), "unexpected directory"},
		{"duplicate", makeTar(t, true, cfg, member{name: "./config.yaml", typeflag: tar.TypeReg, body: "{}"}), "appears twice"},
		{"oversize member", makeTar(t, true, cfg, member{name: "ssl.cert", typeflag: tar.TypeReg, size: maxFileBytes + 1}), "too large"},
		{"too large in all", makeTar(t, true, cfg,
			member{name: "extra_ca_certs/1", typeflag: tar.TypeReg, size: maxFileBytes},
			member{name: "extra_ca_certs/2", typeflag: tar.TypeReg, size: maxFileBytes},
			member{name: "extra_ca_certs/3", typeflag: tar.TypeReg, size: maxFileBytes},
			member{name: "extra_ca_certs/4", typeflag: tar.TypeReg, size: maxFileBytes},
			member{name: "extra_ca_certs/5", typeflag: tar.TypeReg, size: maxFileBytes}), "larger than 64 MiB"},
		{"no config.yaml", makeTar(t, true, member{name: "ssl.cert", typeflag: tar.TypeReg, body: "x"}), "holds no config.yaml"},
		{"not an archive", []byte("SERVER_HOSTNAME: x\n"), "not a tar.gz"},
		{"corrupt gzip", []byte{0x1f, 0x8b, 8, 0, 0, 0}, "read config bundle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadBundle(bytes.NewReader(tc.bundle))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ReadBundle: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestWriteBundleRefusesUnknownFiles(t *testing.T) {
	for _, name := range []string{"notes.txt", "extra_ca_certs/a/b", "extra_ca_certs/..", "../config.yaml"} {
		src := sampleSource()
		src.Files[name] = []byte("x")
		if err := WriteBundle(io.Discard, src); err == nil || !strings.Contains(err.Error(), "not a config file") {
			t.Errorf("WriteBundle with %q: %v, want a refusal", name, err)
		}
	}
	if err := WriteBundle(io.Discard, Source{Files: map[string][]byte{CertFile: nil}}); err == nil {
		t.Error("WriteBundle without config.yaml succeeded")
	}
}

func TestWriteDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "conf")
	src := sampleSource()
	ch, err := WriteDirReport(dir, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.BackedUp) != 0 || len(ch.Removed) != 0 || len(ch.Written) != 5 {
		t.Errorf("first write changes: %+v", ch)
	}
	got, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Files, src.Files) {
		t.Fatalf("ReadDir after WriteDir:\n got %q\nwant %q", got.Files, src.Files)
	}
	for name, want := range map[string]os.FileMode{"config.yaml": 0o600, "ssl.key": 0o600, "ssl.cert": 0o644, "extra_ca_certs/ldap.crt": 0o644} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %o, want %o", name, st.Mode().Perm(), want)
		}
	}

	// A second write with a changed config, no key and one CA fewer: the old config and key
	// are kept as .bak, the dropped CA is removed, nothing else is left behind.
	next := sampleSource()
	next.Files[ConfigFile] = []byte("SERVER_HOSTNAME: other.example.com\n")
	delete(next.Files, KeyFile)
	delete(next.Files, ExtraCADir+"/storage.pem")
	ch, err = WriteDirReport(dir, next)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"config.yaml.bak", "ssl.key.bak"}; !reflect.DeepEqual(ch.BackedUp, want) {
		t.Errorf("backed up %q, want %q", ch.BackedUp, want)
	}
	if want := []string{"ssl.key", "extra_ca_certs/storage.pem"}; !reflect.DeepEqual(ch.Removed, want) {
		t.Errorf("removed %q, want %q", ch.Removed, want)
	}
	got, err = ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Files, next.Files) {
		t.Fatalf("ReadDir after the second WriteDir:\n got %q\nwant %q", got.Files, next.Files)
	}
	bak, err := os.ReadFile(filepath.Join(dir, "config.yaml.bak"))
	if err != nil || string(bak) != string(src.Files[ConfigFile]) {
		t.Errorf("config.yaml.bak = %q, %v; want the previous config", bak, err)
	}
	if st, err := os.Stat(filepath.Join(dir, "config.yaml.bak")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("config.yaml.bak must be private: %v %v", st, err)
	}
	assertNoTemps(t, dir)

	// Writing the same source again changes nothing that needs a backup.
	os.Remove(filepath.Join(dir, "config.yaml.bak"))
	ch, err = WriteDirReport(dir, next)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.BackedUp) != 0 {
		t.Errorf("unchanged write backed up %q", ch.BackedUp)
	}
}

func TestWriteDirFailureLeavesConfigWhole(t *testing.T) {
	dir := t.TempDir()
	old := []byte("SERVER_HOSTNAME: old.example.com\n")
	os.WriteFile(filepath.Join(dir, ConfigFile), old, 0o600)
	// extra_ca_certs is a file, so the CA directory cannot be made: nothing may change.
	os.WriteFile(filepath.Join(dir, ExtraCADir), []byte("in the way"), 0o600)
	err := WriteDir(dir, sampleSource())
	if err == nil || !strings.Contains(err.Error(), ExtraCADir) {
		t.Fatalf("WriteDir: %v, want an error naming %s", err, ExtraCADir)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, ConfigFile)); !bytes.Equal(got, old) {
		t.Errorf("config.yaml changed by a failed write: %q", got)
	}
	assertNoTemps(t, dir)

	// config.yaml itself cannot be replaced (a directory is in the way): the staged files are
	// cleaned up and the error names the file.
	dir2 := t.TempDir()
	os.MkdirAll(filepath.Join(dir2, ConfigFile, "x"), 0o700)
	err = WriteDir(dir2, Source{Files: map[string][]byte{ConfigFile: []byte("{}\n")}})
	if err == nil || !strings.Contains(err.Error(), ConfigFile) {
		t.Fatalf("WriteDir over a directory: %v", err)
	}
	assertNoTemps(t, dir2)

	if err := WriteDir(t.TempDir(), Source{Files: map[string][]byte{"evil/../../x": nil, ConfigFile: nil}}); err == nil {
		t.Error("WriteDir accepted a file name outside the config layout")
	}
}

func assertNoTemps(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".wharf-") {
			t.Errorf("temporary file left behind: %s", path)
		}
		return nil
	})
}

func FuzzReadBundle(f *testing.F) {
	var good bytes.Buffer
	if err := WriteBundle(&good, sampleSource()); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes())
	f.Add(makeTar(f, false, member{name: "./config.yaml", typeflag: tar.TypeReg, body: "{}"}, member{name: "extra_ca_certs/", typeflag: tar.TypeDir}))
	f.Add(makeTar(f, true, member{name: "config.yaml", typeflag: tar.TypeReg, body: "{}"}, member{name: "ssl.key", typeflag: tar.TypeSymlink, link: "/x"}))
	f.Add(makeTar(f, false, member{name: "../config.yaml", typeflag: tar.TypeReg, body: "{}"}))
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := ReadBundle(bytes.NewReader(data))
		if err != nil {
			return
		}
		if _, ok := src.Files[ConfigFile]; !ok {
			t.Fatal("accepted a bundle without config.yaml")
		}
		for name, b := range src.Files {
			if err := CheckFileName(name); err != nil {
				t.Fatalf("accepted member %q: %v", name, err)
			}
			if len(b) > maxFileBytes {
				t.Fatalf("accepted %s of %d bytes", name, len(b))
			}
		}
		// What was accepted writes back to a bundle that reads the same.
		var buf bytes.Buffer
		if err := WriteBundle(&buf, src); err != nil {
			t.Fatalf("WriteBundle of an accepted bundle: %v", err)
		}
		again, err := ReadBundle(&buf)
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if len(again.Files) != len(src.Files) {
			t.Fatalf("re-read holds %d files, want %d", len(again.Files), len(src.Files))
		}
		for name, b := range src.Files {
			if !bytes.Equal(again.Files[name], b) {
				t.Fatalf("re-read changed %s", name)
			}
		}
		// And a config directory written from it reads back the same.
		dir := t.TempDir()
		if err := WriteDir(dir, src); err != nil {
			t.Fatalf("WriteDir of an accepted bundle: %v", err)
		}
	})
}
