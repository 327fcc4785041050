package indexer_test

import (
	"database/sql"
	"encoding/binary"
	"hash/adler32"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	_ "modernc.org/sqlite" // to read the header blobs rpm wrote, for the ndb database

	"github.com/wharf-registry/wharf/scanner/indexer"
	"github.com/wharf-registry/wharf/scanner/report"
)

// The RPMs the test builds: two specs, four binary packages. wharf-test-common is built from
// wharf-test-a's spec, so its source RPM is wharf-test-a's; wharf-test-b has an epoch, which
// its noarch subpackage wharf-test-b-doc inherits (a source RPM's file name never shows it).
const (
	specA = `Name: wharf-test-a
Version: 1.2.3
Release: 4.el9
Summary: Wharf test package a
License: MIT
BuildArch: noarch

%description
Package a.

%package -n wharf-test-common
Summary: Wharf test package common, built from a's source

%description -n wharf-test-common
Files a and others share.

%files

%files -n wharf-test-common
`
	specB = `Name: wharf-test-b
Epoch: 2
Version: 0.9
Release: 1.el9
Summary: Wharf test package b
License: MIT

%description
Package b.

%package doc
Summary: Documentation of b
BuildArch: noarch

%description doc
b's documentation.

%files

%files doc
`
	rockyOSRelease = `NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
`
	rhelOSRelease = `NAME="Red Hat Enterprise Linux"
VERSION="9.3 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.3 (Plow)"
CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"
`
)

// rpmPackages are the RPM files buildRPMs built: the first three make the base layer's
// database; the second layer's erases wharf-test-common and adds wharf-test-b-doc.
type rpmPackages struct {
	a, common, b, bDoc string
}

// requireTool returns the path of an rpm tool, failing the test when it is not installed.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (Debian's rpm package): run make deps (%v)", name, err)
	}
	return p
}

// rpmEnv is the environment of the rpm tools: a HOME of their own, so that no ~/.rpmmacros
// counts and Debian's default %_dbpath (~/.rpmdb) is not the host's.
func rpmEnv(home string) []string {
	env := []string{"HOME=" + home, "LC_ALL=C"}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	return env
}

func runRPM(t *testing.T, home string, args ...string) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = rpmEnv(home)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// buildRPMs builds the test packages with rpmbuild in a %_topdir of their own.
func buildRPMs(t *testing.T) rpmPackages {
	t.Helper()
	rpmbuild := requireTool(t, "rpmbuild")
	dir := t.TempDir()
	home, top := filepath.Join(dir, "home"), filepath.Join(dir, "top")
	for _, d := range []string{home, top} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, spec := range map[string]string{"a.spec": specA, "b.spec": specB} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
		// x86_64 whatever the machine: the packages have no files, there is nothing to build.
		runRPM(t, home, rpmbuild, "--quiet", "--target", "x86_64", "--define", "_topdir "+top, "-bb", path)
	}
	pkgs := rpmPackages{
		a:      filepath.Join(top, "RPMS/noarch/wharf-test-a-1.2.3-4.el9.noarch.rpm"),
		common: filepath.Join(top, "RPMS/noarch/wharf-test-common-1.2.3-4.el9.noarch.rpm"),
		b:      filepath.Join(top, "RPMS/x86_64/wharf-test-b-0.9-1.el9.x86_64.rpm"),
		bDoc:   filepath.Join(top, "RPMS/noarch/wharf-test-b-doc-0.9-1.el9.noarch.rpm"),
	}
	for _, p := range []string{pkgs.a, pkgs.common, pkgs.b, pkgs.bDoc} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("rpmbuild did not make %s: %v", p, err)
		}
	}
	return pkgs
}

// rpmDBs are the two states of the image's database, as rpm wrote them with its sqlite
// backend: the files of ROOT/var/lib/rpm after the first and after the second transaction.
type rpmDBs struct {
	base, next map[string][]byte // file name in the db directory: content
}

// installRPMs makes the databases with rpm itself: --justdb, so that nothing but the
// database is written, under a --root of the test's own.
func installRPMs(t *testing.T, pkgs rpmPackages) rpmDBs {
	t.Helper()
	rpm := requireTool(t, "rpm")
	dir := t.TempDir()
	home, root := filepath.Join(dir, "home"), filepath.Join(dir, "root")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	common := []string{rpm, "--root", root, "--dbpath", "/var/lib/rpm", "--define", "_db_backend sqlite", "--nodeps", "--justdb", "--noscripts"}
	runRPM(t, home, append(common, "-i", pkgs.a, pkgs.common, pkgs.b)...)
	dbs := rpmDBs{base: readDir(t, filepath.Join(root, "var/lib/rpm"))}
	runRPM(t, home, append(common, "-e", "wharf-test-common")...)
	runRPM(t, home, append(common, "-i", pkgs.bDoc)...)
	dbs.next = readDir(t, filepath.Join(root, "var/lib/rpm"))
	if dbs.base["rpmdb.sqlite"] == nil || dbs.next["rpmdb.sqlite"] == nil {
		t.Fatalf("rpm wrote no rpmdb.sqlite: %v", keys(dbs.base))
	}
	return dbs
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}

func keys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// rpmHeader is one package's header blob in an rpm database, under its header number.
type rpmHeader struct {
	num  uint32
	blob []byte
}

// sqliteHeaders reads the header blobs of an rpmdb.sqlite.
func sqliteHeaders(t *testing.T, files map[string][]byte) []rpmHeader {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "rpmdb.sqlite")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT hnum, blob FROM Packages ORDER BY hnum")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var hs []rpmHeader
	for rows.Next() {
		var h rpmHeader
		if err := rows.Scan(&h.num, &h.blob); err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return hs
}

// ndbFile lays header blobs out as rpm's ndb backend (lib/backend/ndb/rpmpkg.c, the
// Packages.db of SUSE) writes them, since Debian's rpm is built without that backend: a
// 32-byte header, then a page of 16-byte slots (the header takes the first two), then each
// blob in 16-byte blocks: a head (magic, header number, time, length), the header, zero
// padding and a tail (Adler-32 of all that, length, magic). layout is the database as the
// headers were first written; a header missing from present has been erased since, which
// rpm does by clearing its slot and zeroing its blocks.
func ndbFile(t *testing.T, layout, present []rpmHeader) []byte {
	t.Helper()
	const page, blk, headSize, tailSize = 4096, 16, 16, 12
	le := binary.LittleEndian
	kept := map[uint32]bool{}
	for _, h := range present {
		kept[h.num] = true
	}
	if len(layout) > page/16-2 {
		t.Fatalf("%d headers do not fit one slot page", len(layout))
	}
	f := make([]byte, page)
	next := uint32(1)
	for i := 0; i < page/16; i++ {
		le.PutUint32(f[i*16:], 'S'|'l'<<8|'o'<<16|'t'<<24)
	}
	for i, h := range layout {
		blkoff := len(f) / blk
		blkcnt := (headSize + len(h.blob) + tailSize + blk - 1) / blk
		blob := make([]byte, blkcnt*blk)
		f = append(f, blob...)
		next = max(next, h.num+1)
		if !kept[h.num] {
			continue // a free slot over zeroed blocks
		}
		le.PutUint32(blob[0:], 'B'|'l'<<8|'b'<<16|'S'<<24)
		le.PutUint32(blob[4:], h.num)
		le.PutUint32(blob[8:], uint32(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).Unix()))
		le.PutUint32(blob[12:], uint32(len(h.blob)))
		copy(blob[headSize:], h.blob)
		tail := blob[len(blob)-tailSize:]
		le.PutUint32(tail[0:], adler32.Checksum(blob[:len(blob)-tailSize]))
		le.PutUint32(tail[4:], uint32(len(h.blob)))
		le.PutUint32(tail[8:], 'B'|'l'<<8|'b'<<16|'E'<<24)
		copy(f[blkoff*blk:], blob)
		slot := f[(2+i)*16:]
		le.PutUint32(slot[4:], h.num)
		le.PutUint32(slot[8:], uint32(blkoff))
		le.PutUint32(slot[12:], uint32(blkcnt))
	}
	le.PutUint32(f[0:], 'R'|'p'<<8|'m'<<16|'P'<<24)
	le.PutUint32(f[4:], 0)                     // version
	le.PutUint32(f[8:], uint32(len(layout)*2)) // generation
	le.PutUint32(f[12:], 1)                    // slot pages
	le.PutUint32(f[16:], next)                 // next header number
	clear(f[20:32])
	return f
}

// TestIndexRPM indexes images whose RPM databases rpm itself wrote, for each database
// format scalibr's rpm extractor reads that can be made here, on Rocky Linux and RHEL.
func TestIndexRPM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds RPMs and databases with rpmbuild and rpm")
	}
	start := time.Now()
	pkgs := buildRPMs(t)
	dbs := installRPMs(t, pkgs)
	built := time.Since(start)

	// The ndb databases: the same headers rpm wrote to rpmdb.sqlite, in a Packages.db.
	baseHeaders, nextHeaders := sqliteHeaders(t, dbs.base), sqliteHeaders(t, dbs.next)
	if len(baseHeaders) != 3 || len(nextHeaders) != 3 {
		t.Fatalf("rpmdb.sqlite holds %d and %d headers, want 3 and 3", len(baseHeaders), len(nextHeaders))
	}
	// The second transaction's database: wharf-test-common's slot cleared and its blocks zeroed,
	// as rpm erases, and b-doc in the next slot after the others (rpm would reuse the freed
	// slot; both are valid databases).
	var nextLayout []rpmHeader
	nextLayout = append(nextLayout, baseHeaders...)
	for _, h := range nextHeaders {
		if h.num > baseHeaders[len(baseHeaders)-1].num {
			nextLayout = append(nextLayout, h)
		}
	}
	ndbBase, ndbNext := ndbFile(t, baseHeaders, baseHeaders), ndbFile(t, nextLayout, nextHeaders)

	// Rocky Linux and RHEL 9 keep the database in var/lib/rpm; SUSE (ndb) and Fedora in
	// usr/lib/sysimage/rpm, with var/lib/rpm a symbolic link to it.
	sqliteLayer := func(files map[string][]byte, osRelease ...file) []file {
		fs := append(slices.Clone(osRelease), dir("var/lib/rpm"))
		for _, name := range []string{".rpm.lock", "rpmdb.sqlite", "rpmdb.sqlite-shm", "rpmdb.sqlite-wal"} {
			if b, ok := files[name]; ok {
				fs = append(fs, text("var/lib/rpm/"+name, string(b)))
			}
		}
		return fs
	}
	ndbLayer := func(db []byte, osRelease ...file) []file {
		fs := slices.Clone(osRelease)
		if len(osRelease) > 0 {
			fs = append(fs, dir("var/lib"), symlink("var/lib/rpm", "../../usr/lib/sysimage/rpm"))
		}
		return append(fs, dir("usr/lib/sysimage/rpm"), text("usr/lib/sysimage/rpm/Packages.db", string(db)))
	}
	backends := []struct {
		name       string
		db         string
		base, next func(osRelease ...file) []file
	}{
		{
			name: "sqlite", db: "var/lib/rpm/rpmdb.sqlite",
			base: func(osr ...file) []file { return sqliteLayer(dbs.base, osr...) },
			next: func(...file) []file { return sqliteLayer(dbs.next) },
		},
		{
			name: "ndb", db: "usr/lib/sysimage/rpm/Packages.db",
			base: func(osr ...file) []file { return ndbLayer(ndbBase, osr...) },
			next: func(...file) []file { return ndbLayer(ndbNext) },
		},
	}
	// bdb (the Berkeley DB Packages of RHEL 7 and 8) is left out: Debian's rpm 4.18 reads it
	// (bdb_ro) but cannot write it.

	distros := []struct {
		name, osRelease, ecosystem string
		dist                       *report.Distribution
	}{
		{
			name: "rocky", osRelease: rockyOSRelease, ecosystem: "Rocky Linux:9",
			dist: &report.Distribution{ID: "1", DID: "rocky", Name: "Rocky Linux", Version: "9.3 (Blue Onyx)", VersionID: "9.3",
				CPE: "cpe:/o:rocky:rocky:9::baseos", PrettyName: "Rocky Linux 9.3 (Blue Onyx)"},
		},
		{
			// scalibr names RHEL's ecosystem "Red Hat" followed by the part of the metadata's
			// OSCPEName after ":redhat:", but its rpm extractor never sets OSCPEName: the suffix
			// OSV's Red Hat ecosystems have ("Red Hat:enterprise_linux:9::baseos") is missing.
			name: "rhel", osRelease: rhelOSRelease, ecosystem: "Red Hat",
			dist: &report.Distribution{ID: "1", DID: "rhel", Name: "Red Hat Enterprise Linux", Version: "9.3 (Plow)", VersionID: "9.3",
				CPE: "cpe:/o:redhat:enterprise_linux:9::baseos", PrettyName: "Red Hat Enterprise Linux 9.3 (Plow)"},
		},
	}

	ix := indexer.New(indexer.Options{})
	for _, be := range backends {
		for _, d := range distros {
			t.Run(be.name+"/"+d.name, func(t *testing.T) {
				osRelease := []file{dir("etc"), text("etc/os-release", d.osRelease)}
				layers := []indexer.Layer{
					mkLayer(t, gzipped, be.base(osRelease...)...),
					mkLayer(t, zstded, be.next()...),
				}
				pkg := func(name, version, arch, src string, layer int) row {
					srcName, srcVersion, _ := strings.Cut(src, " ")
					return row{Ecosystem: d.ecosystem, Name: name, Version: version, Arch: arch,
						SrcName: srcName, SrcVersion: srcVersion, DB: be.db, Layer: layer, OS: true}
				}
				for _, tt := range []struct {
					name   string
					layers []indexer.Layer
					want   []row
				}{
					{
						name:   "base layer",
						layers: layers[:1],
						want: []row{
							pkg("wharf-test-a", "1.2.3-4.el9", "noarch", "wharf-test-a 1.2.3-4.el9", 0),
							pkg("wharf-test-b", "2:0.9-1.el9", "x86_64", "wharf-test-b 2:0.9-1.el9", 0),
							pkg("wharf-test-common", "1.2.3-4.el9", "noarch", "wharf-test-a 1.2.3-4.el9", 0),
						},
					},
					{
						// The second layer rewrites the database: common is gone, b-doc is new,
						// a and b are still the base layer's.
						name:   "after the second transaction",
						layers: layers,
						want: []row{
							pkg("wharf-test-a", "1.2.3-4.el9", "noarch", "wharf-test-a 1.2.3-4.el9", 0),
							pkg("wharf-test-b", "2:0.9-1.el9", "x86_64", "wharf-test-b 2:0.9-1.el9", 0),
							pkg("wharf-test-b-doc", "2:0.9-1.el9", "noarch", "wharf-test-b 2:0.9-1.el9", 1),
						},
					},
				} {
					t.Run(tt.name, func(t *testing.T) {
						ir, err := ix.Index(t.Context(), "sha256:rpm", tt.layers)
						if err != nil {
							t.Fatal(err)
						}
						if !ir.Success || ir.State != report.StateIndexFinished || ir.Err != "" {
							t.Errorf("report: success %v, state %q, err %q", ir.Success, ir.State, ir.Err)
						}
						if diff := cmp.Diff(tt.want, rows(t, ir, tt.layers)); diff != "" {
							t.Errorf("packages (-want +got):\n%s", diff)
						}
						if len(ir.Distributions) != 1 {
							t.Errorf("%d distributions, want 1", len(ir.Distributions))
						}
						if diff := cmp.Diff(d.dist, ir.Distributions["1"]); diff != "" {
							t.Errorf("distribution (-want +got):\n%s", diff)
						}
						wantRepos := map[string]*report.Repository{"1": {ID: "1", Name: d.ecosystem, Key: report.EcosystemKey}}
						if diff := cmp.Diff(wantRepos, ir.Repositories); diff != "" {
							t.Errorf("repositories (-want +got):\n%s", diff)
						}
					})
				}
			})
		}
	}
	t.Logf("building the RPMs and databases took %v, all of it %v", built.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}
