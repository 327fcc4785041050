package indexer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wharf-registry/wharf/scanner/indexer"
	"github.com/wharf-registry/wharf/scanner/report"
)

const debianOSRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
`

func dpkgEntry(name, version, arch, source string, status ...string) string {
	st := "install ok installed"
	if len(status) > 0 {
		st = status[0]
	}
	s := "Package: " + name + "\nStatus: " + st + "\nPriority: optional\nArchitecture: " + arch + "\n"
	if source != "" {
		s += "Source: " + source + "\n"
	}
	return s + "Version: " + version + "\nDescription: " + name + " package\n long description.\n"
}

func dpkgStatus(entries ...string) string { return strings.Join(entries, "\n") }

// debianLayers is a Debian 12 image: layer 0 installs four packages (and remembers a
// removed one), layer 1 upgrades libc6 and adds tzdata, layer 2 adds a Python package that
// layer 3 deletes again.
func debianLayers(t testing.TB) []indexer.Layer {
	status1 := dpkgStatus(
		dpkgEntry("base-files", "12.4+deb12u5", "amd64", ""),
		dpkgEntry("libc6", "2.36-9+deb12u4", "amd64", "glibc"),
		dpkgEntry("libgcc-s1", "12.2.0-14", "amd64", "gcc-12 (12.2.0-14)"),
		dpkgEntry("libgnutls30", "3.7.9-2+deb12u2+b1", "amd64", "gnutls28 (3.7.9-2+deb12u2)"),
		dpkgEntry("oldpkg", "1.0-1", "amd64", "", "deinstall ok config-files"),
	)
	status2 := dpkgStatus(
		dpkgEntry("base-files", "12.4+deb12u5", "amd64", ""),
		dpkgEntry("libc6", "2.36-9+deb12u7", "amd64", "glibc"),
		dpkgEntry("libgcc-s1", "12.2.0-14", "amd64", "gcc-12 (12.2.0-14)"),
		dpkgEntry("libgnutls30", "3.7.9-2+deb12u2+b1", "amd64", "gnutls28 (3.7.9-2+deb12u2)"),
		dpkgEntry("tzdata", "2024a-0+deb12u1", "all", ""),
	)
	return []indexer.Layer{
		mkLayer(t, gzipped,
			dir("etc"), symlink("etc/os-release", "../usr/lib/os-release"),
			dir("usr/lib"), text("usr/lib/os-release", debianOSRelease),
			dir("var/lib/dpkg"), text("var/lib/dpkg/status", status1),
		),
		mkLayer(t, zstded, dir("var/lib/dpkg"), text("var/lib/dpkg/status", status2)),
		mkLayer(t, gzipped,
			dir("usr/lib/python3/dist-packages/six-1.16.0.dist-info"),
			text("usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n"),
		),
		mkLayer(t, plain, whiteout("usr/lib/python3/dist-packages", "six-1.16.0.dist-info")),
	}
}

func TestIndex(t *testing.T) {
	debian := debianLayers(t)
	const alpineInstalled = `C:Q1abc=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
o:musl
T:the musl c library

C:Q1def=
P:libcrypto3
V:3.1.4-r5
A:x86_64
o:openssl
T:Crypto library from openssl

`
	alpine := []indexer.Layer{mkLayer(t, gzipped,
		text("etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n"),
		text("lib/apk/db/installed", alpineInstalled),
	)}

	meta := func(name, version string) string {
		return "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\nSummary: x\n"
	}
	pkgJSON := func(name, version string) string {
		return `{"name": "` + name + `", "version": "` + version + `", "description": "x"}`
	}
	const site = "usr/local/lib/python3.12/site-packages"
	const nm = "usr/local/lib/node_modules"
	languages := []indexer.Layer{
		mkLayer(t, gzipped,
			text(site+"/requests-2.31.0.dist-info/METADATA", meta("requests", "2.31.0")),
			text(site+"/urllib3-2.0.7.dist-info/METADATA", meta("urllib3", "2.0.7")),
			text(nm+"/left-pad/package.json", pkgJSON("left-pad", "1.3.0")),
			text(nm+"/lodash/package.json", pkgJSON("lodash", "4.17.20")),
			text("opt/app/lib/pkgs/minimist/package.json", pkgJSON("minimist", "1.2.5")),
		),
		// Removes urllib3, empties node_modules but puts a newer lodash back, replaces opt/app/lib
		// by a file, and hard-links a package.json (scalibr takes hard links for symbolic ones,
		// and reads neither).
		mkLayer(t, plain,
			whiteout(site, "urllib3-2.0.7.dist-info"),
			dir(nm), opaque(nm),
			text(nm+"/lodash/package.json", pkgJSON("lodash", "4.17.21")),
			text("opt/app/lib", "not a directory any more"),
			text("srv/js/node_modules/qs/package.json", pkgJSON("qs", "6.11.0")),
			hardlink("srv/js/node_modules/qs-copy/package.json", "srv/js/node_modules/qs/package.json"),
		),
		// A directory removed, then made again with other content.
		mkLayer(t, zstded, whiteout("srv", "js")),
		mkLayer(t, gzipped, text("srv/js/node_modules/debug/package.json", pkgJSON("debug", "4.3.4"))),
	}

	nonTar := []byte(`{"schemaVersion": 2, "this is": "not a layer"}`)

	tests := []struct {
		name     string
		layers   []indexer.Layer
		want     []row
		wantDist *report.Distribution
	}{
		{
			name:   "debian",
			layers: debian,
			want: []row{
				{Ecosystem: "Debian:12", Name: "base-files", Version: "12.4+deb12u5", Arch: "amd64", SrcName: "base-files", SrcVersion: "12.4+deb12u5", DB: "var/lib/dpkg/status", Layer: 0, OS: true},
				{Ecosystem: "Debian:12", Name: "libc6", Version: "2.36-9+deb12u7", Arch: "amd64", SrcName: "glibc", SrcVersion: "2.36-9+deb12u7", DB: "var/lib/dpkg/status", Layer: 1, OS: true},
				{Ecosystem: "Debian:12", Name: "libgcc-s1", Version: "12.2.0-14", Arch: "amd64", SrcName: "gcc-12", SrcVersion: "12.2.0-14", DB: "var/lib/dpkg/status", Layer: 0, OS: true},
				{Ecosystem: "Debian:12", Name: "libgnutls30", Version: "3.7.9-2+deb12u2+b1", Arch: "amd64", SrcName: "gnutls28", SrcVersion: "3.7.9-2+deb12u2", DB: "var/lib/dpkg/status", Layer: 0, OS: true},
				{Ecosystem: "Debian:12", Name: "tzdata", Version: "2024a-0+deb12u1", Arch: "all", SrcName: "tzdata", SrcVersion: "2024a-0+deb12u1", DB: "var/lib/dpkg/status", Layer: 1, OS: true},
			},
			wantDist: &report.Distribution{ID: "1", DID: "debian", Name: "Debian GNU/Linux", Version: "12 (bookworm)",
				VersionCodeName: "bookworm", VersionID: "12", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
		},
		{
			name:   "debian without the whiteout layer",
			layers: debian[:3],
			want: []row{
				{Ecosystem: "Debian:12", Name: "base-files", Version: "12.4+deb12u5", Arch: "amd64", SrcName: "base-files", SrcVersion: "12.4+deb12u5", DB: "var/lib/dpkg/status", Layer: 0, OS: true},
				{Ecosystem: "Debian:12", Name: "libc6", Version: "2.36-9+deb12u7", Arch: "amd64", SrcName: "glibc", SrcVersion: "2.36-9+deb12u7", DB: "var/lib/dpkg/status", Layer: 1, OS: true},
				{Ecosystem: "Debian:12", Name: "libgcc-s1", Version: "12.2.0-14", Arch: "amd64", SrcName: "gcc-12", SrcVersion: "12.2.0-14", DB: "var/lib/dpkg/status", Layer: 0, OS: true},
				{Ecosystem: "Debian:12", Name: "libgnutls30", Version: "3.7.9-2+deb12u2+b1", Arch: "amd64", SrcName: "gnutls28", SrcVersion: "3.7.9-2+deb12u2", DB: "var/lib/dpkg/status", Layer: 0, OS: true},
				{Ecosystem: "Debian:12", Name: "tzdata", Version: "2024a-0+deb12u1", Arch: "all", SrcName: "tzdata", SrcVersion: "2024a-0+deb12u1", DB: "var/lib/dpkg/status", Layer: 1, OS: true},
				{Ecosystem: "PyPI", Name: "six", Version: "1.16.0", DB: "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA", Layer: 2},
			},
			wantDist: &report.Distribution{ID: "1", DID: "debian", Name: "Debian GNU/Linux", Version: "12 (bookworm)",
				VersionCodeName: "bookworm", VersionID: "12", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
		},
		{
			name:   "debian base layer only",
			layers: debian[:1],
			want: []row{
				{Ecosystem: "Debian:12", Name: "base-files", Version: "12.4+deb12u5", Arch: "amd64", SrcName: "base-files", SrcVersion: "12.4+deb12u5", DB: "var/lib/dpkg/status", Layer: 0, OS: true},
				{Ecosystem: "Debian:12", Name: "libc6", Version: "2.36-9+deb12u4", Arch: "amd64", SrcName: "glibc", SrcVersion: "2.36-9+deb12u4", DB: "var/lib/dpkg/status", Layer: 0, OS: true},
				{Ecosystem: "Debian:12", Name: "libgcc-s1", Version: "12.2.0-14", Arch: "amd64", SrcName: "gcc-12", SrcVersion: "12.2.0-14", DB: "var/lib/dpkg/status", Layer: 0, OS: true},
				{Ecosystem: "Debian:12", Name: "libgnutls30", Version: "3.7.9-2+deb12u2+b1", Arch: "amd64", SrcName: "gnutls28", SrcVersion: "3.7.9-2+deb12u2", DB: "var/lib/dpkg/status", Layer: 0, OS: true},
			},
			wantDist: &report.Distribution{ID: "1", DID: "debian", Name: "Debian GNU/Linux", Version: "12 (bookworm)",
				VersionCodeName: "bookworm", VersionID: "12", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
		},
		{
			name:   "alpine",
			layers: alpine,
			want: []row{
				{Ecosystem: "Alpine:v3.19", Name: "libcrypto3", Version: "3.1.4-r5", Arch: "x86_64", SrcName: "openssl", SrcVersion: "3.1.4-r5", DB: "lib/apk/db/installed", Layer: 0, OS: true},
				{Ecosystem: "Alpine:v3.19", Name: "musl", Version: "1.2.4_git20230717-r4", Arch: "x86_64", SrcName: "musl", SrcVersion: "1.2.4_git20230717-r4", DB: "lib/apk/db/installed", Layer: 0, OS: true},
			},
			wantDist: &report.Distribution{ID: "1", DID: "alpine", Name: "Alpine Linux", VersionID: "3.19.1", PrettyName: "Alpine Linux v3.19"},
		},
		{
			name:   "python and npm with whiteouts",
			layers: languages,
			want: []row{
				{Ecosystem: "PyPI", Name: "requests", Version: "2.31.0", DB: site + "/requests-2.31.0.dist-info/METADATA", Layer: 0},
				{Ecosystem: "npm", Name: "debug", Version: "4.3.4", DB: "srv/js/node_modules/debug/package.json", Layer: 3},
				{Ecosystem: "npm", Name: "lodash", Version: "4.17.21", DB: nm + "/lodash/package.json", Layer: 1},
			},
		},
		{
			name:   "languages before the directory is removed",
			layers: languages[:2],
			want: []row{
				{Ecosystem: "PyPI", Name: "requests", Version: "2.31.0", DB: site + "/requests-2.31.0.dist-info/METADATA", Layer: 0},
				{Ecosystem: "npm", Name: "lodash", Version: "4.17.21", DB: nm + "/lodash/package.json", Layer: 1},
				{Ecosystem: "npm", Name: "qs", Version: "6.11.0", DB: "srv/js/node_modules/qs/package.json", Layer: 1},
			},
		},
		{
			name:   "no layers",
			layers: nil,
		},
		{
			name:   "a layer that is not a tar archive",
			layers: []indexer.Layer{layerOf(nonTar), layerOf(compress(t, gzipped, nonTar))},
		},
		{
			name:   "an empty blob",
			layers: []indexer.Layer{layerOf(nil)},
		},
	}
	ix := indexer.New(indexer.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ir, err := ix.Index(t.Context(), "sha256:manifest", tt.layers)
			if err != nil {
				t.Fatal(err)
			}
			if !ir.Success || ir.State != report.StateIndexFinished || ir.ManifestHash != "sha256:manifest" || ir.Err != "" {
				t.Errorf("report: success %v, state %q, hash %q, err %q", ir.Success, ir.State, ir.ManifestHash, ir.Err)
			}
			if diff := cmp.Diff(tt.want, rows(t, ir, tt.layers)); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
			var gotDist *report.Distribution
			for _, d := range ir.Distributions {
				gotDist = d
			}
			if len(ir.Distributions) > 1 {
				t.Errorf("%d distributions", len(ir.Distributions))
			}
			if diff := cmp.Diff(tt.wantDist, gotDist); diff != "" {
				t.Errorf("distribution (-want +got):\n%s", diff)
			}
		})
	}
}

// TestIndexGoBinary builds a Go program and indexes a layer holding it.
func TestIndexGoBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program")
	}
	src := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/hello\n\ngo 1.22\n")
	write("main.go", "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n")
	bin := filepath.Join(t.TempDir(), "hello")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	program, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	layers := []indexer.Layer{
		mkLayer(t, gzipped, text("etc/os-release", debianOSRelease)),
		mkLayer(t, zstded, dir("usr/local/bin"), exe("usr/local/bin/hello", string(program))),
	}
	ir, err := indexer.New(indexer.Options{}).Index(t.Context(), "sha256:go", layers)
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`^go(\d+\.\d+\.\d+)`).FindStringSubmatch(runtime.Version())
	if goVersion == nil {
		t.Skipf("toolchain version %q is not a release", runtime.Version())
	}
	want := []row{
		{Ecosystem: "Go", Name: "example.com/hello", Version: "(devel)", DB: "usr/local/bin/hello", Layer: 1},
		{Ecosystem: "Go", Name: "stdlib", Version: goVersion[1], DB: "usr/local/bin/hello", Layer: 1},
	}
	if diff := cmp.Diff(want, rows(t, ir, layers)); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	if len(ir.Distributions) != 0 {
		t.Errorf("distributions %v for an image without OS packages", ir.Distributions)
	}
}

func TestIndexErrors(t *testing.T) {
	good := mkLayer(t, gzipped, text("etc/os-release", debianOSRelease))
	tarball := tarOf(t, text("var/lib/dpkg/status", dpkgEntry("a", "1", "all", "")+strings.Repeat("#", 1000)))
	gz := compress(t, gzipped, tarball)
	zs := compress(t, zstded, tarball)
	corrupt := append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, bytes.Repeat([]byte("garbage!"), 100)...)
	badCRC := bytes.Clone(gz)
	badCRC[len(badCRC)-6] ^= 0xff // in the gzip trailer's CRC-32
	failing := indexer.Layer{Digest: "sha256:" + strings.Repeat("ab", 32), Open: func(context.Context) (io.ReadCloser, error) {
		return nil, errors.New("blob storage is down")
	}}
	tests := []struct {
		name  string
		layer indexer.Layer
		want  string // in the error, besides the layer digest
	}{
		{"corrupt gzip", layerOf(corrupt), "gzip"},
		{"truncated gzip", layerOf(gz[:len(gz)/2]), "unexpected EOF"},
		{"gzip checksum", layerOf(badCRC), "checksum"},
		{"truncated zstd", layerOf(zs[:len(zs)-10]), "zstd"},
		{"digest mismatch", blobLayer(gz, blobDigest(zs)), "does not match digest"},
		{"truncated tar", layerOf(tarball[:900]), "unexpected EOF"},
		{"open fails", failing, "blob storage is down"},
	}
	ix := indexer.New(indexer.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The bad layer on top, and below it: the error must be the same.
			for _, layers := range [][]indexer.Layer{{good, tt.layer}, {tt.layer, good}} {
				ir, err := ix.Index(t.Context(), "sha256:m", layers)
				if err == nil {
					t.Fatalf("no error; report %+v", ir)
				}
				if !strings.Contains(err.Error(), tt.layer.Digest) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error %q does not name the layer %s and %q", err, tt.layer.Digest, tt.want)
				}
			}
		})
	}
}

func TestIndexCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := indexer.New(indexer.Options{}).Index(ctx, "sha256:m", debianLayers(t))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func TestIndexDeterministic(t *testing.T) {
	layers := debianLayers(t)
	layers = append(layers[:3], mkLayer(t, gzipped,
		text("usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n"),
		text("opt/a/node_modules/x/package.json", `{"name": "x", "version": "1.0.0"}`),
		text("opt/b/node_modules/x/package.json", `{"name": "x", "version": "1.0.0"}`),
		text("opt/c/node_modules/x/package.json", `{"name": "x", "version": "2.0.0"}`),
	))
	ix := indexer.New(indexer.Options{})
	var first []byte
	for i := range 3 {
		ir, err := ix.Index(t.Context(), "sha256:m", layers)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.MarshalIndent(ir, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = b
			// The same npm package in two places is one package with two environments.
			var envs int
			for id, p := range ir.Packages {
				if p.Name == "x" && p.Version == "1.0.0" {
					envs = len(ir.Environments[id])
				}
			}
			if envs != 2 {
				t.Errorf("x 1.0.0 has %d environments, want 2", envs)
			}
			continue
		}
		if !bytes.Equal(first, b) {
			t.Fatalf("run %d differs:\n%s\n---\n%s", i, first, b)
		}
	}
}

func TestMaxLayerSize(t *testing.T) {
	small := mkLayer(t, gzipped, text("etc/os-release", debianOSRelease),
		text("var/lib/dpkg/status", dpkgEntry("small", "1", "all", "")))
	bigBlob := compress(t, plain, tarOf(t, text("var/lib/dpkg/status.d/big", dpkgEntry("big", "1", "all", "")),
		text("padding", strings.Repeat("x", 8000))))
	big := layerOf(bigBlob)
	bigUnknown := big
	bigUnknown.Size = 0
	smallUnknown := small
	smallUnknown.Size = 0
	max := int64(len(bigBlob) - 1)

	tests := []struct {
		name   string
		layers []indexer.Layer
		want   []string
	}{
		{"sizes known", []indexer.Layer{small, big}, []string{"small"}},
		{"sizes unknown", []indexer.Layer{smallUnknown, bigUnknown}, []string{"small"}},
		{"all too large", []indexer.Layer{big}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := filepath.Join(t.TempDir(), "scratch")
			ir, err := indexer.New(indexer.Options{MaxLayerSize: max, TempDir: tmp}).Index(t.Context(), "sha256:m", tt.layers)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ir.Packages {
				got = append(got, p.Name)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("scratch files left in TempDir: %v", left)
			}
		})
	}
	// Without a limit, the large layer is indexed.
	ir, err := indexer.New(indexer.Options{}).Index(t.Context(), "sha256:m", []indexer.Layer{small, bigUnknown})
	if err != nil {
		t.Fatal(err)
	}
	if len(ir.Packages) != 2 {
		t.Errorf("%d packages without a limit, want 2", len(ir.Packages))
	}
}

func TestHTTPLayers(t *testing.T) {
	layers := debianLayers(t)[:2]
	blobs := map[string][]byte{}
	for _, l := range layers {
		rc, err := l.Open(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		blobs["/blobs/"+l.Digest], _ = io.ReadAll(rc)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.Header.Get("Authorization") != "Bearer token" || r.Header.Values("X-Multi")[1] != "two" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		b, ok := blobs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	headers := map[string][]string{"Authorization": {"Bearer token"}, "X-Multi": {"one", "two"}}
	manifest := func(hashes ...string) report.Manifest {
		m := report.Manifest{Hash: "sha256:m"}
		for _, h := range hashes {
			m.Layers = append(m.Layers, report.Layer{Hash: h, URI: srv.URL + "/blobs/" + h + "?sig=secret", Headers: headers})
		}
		return m
	}
	ix := indexer.New(indexer.Options{})

	got, err := ix.Index(t.Context(), "sha256:m", indexer.HTTPLayers(srv.Client(), manifest(layers[0].Digest, layers[1].Digest)))
	if err != nil {
		t.Fatal(err)
	}
	want, err := ix.Index(t.Context(), "sha256:m", layers)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("over HTTP (-want +got):\n%s", diff)
	}

	missing := "sha256:" + strings.Repeat("0", 64)
	_, err = ix.Index(t.Context(), "sha256:m", indexer.HTTPLayers(srv.Client(), manifest(layers[0].Digest, missing)))
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing layer: error %v, want one naming %s and 404", err, missing)
	}
	if err != nil && strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q shows the URL's query", err)
	}

	l := indexer.HTTPLayers(nil, report.Manifest{Layers: []report.Layer{{Hash: "sha256:x", URI: srv.URL + "/blobs/" + layers[0].Digest}}})
	if _, err := l[0].Open(t.Context()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("without the headers: error %v, want 401", err)
	}
}

func TestState(t *testing.T) {
	a, b := indexer.New(indexer.Options{}).State(), indexer.New(indexer.Options{MaxLayerSize: 1}).State()
	if !regexp.MustCompile(`^[0-9a-f]{32,}$`).MatchString(a) {
		t.Errorf("state %q is not a hex string", a)
	}
	if a != b {
		t.Errorf("states differ: %q, %q", a, b)
	}
}

// TestIndexConcurrent indexes several images at once with one Indexer.
func TestIndexConcurrent(t *testing.T) {
	debian := debianLayers(t)
	images := [][]indexer.Layer{debian, debian[:1], debian[:2], debian[:3]}
	ix := indexer.New(indexer.Options{})
	want := make([]*report.IndexReport, len(images))
	for i, layers := range images {
		ir, err := ix.Index(t.Context(), "sha256:m", layers)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = ir
	}
	errs := make(chan error, 4*len(images))
	for range 4 {
		for i, layers := range images {
			go func() {
				ir, err := ix.Index(t.Context(), "sha256:m", layers)
				if err == nil && !cmp.Equal(want[i], ir) {
					err = errors.New("report differs:\n" + cmp.Diff(want[i], ir))
				}
				errs <- err
			}()
		}
	}
	for range 4 * len(images) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
