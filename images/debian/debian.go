// Package debian builds PostgreSQL and Redis images from Debian's packages, for machines that
// cannot reach the upstream registries (tests, the test VM): debootstrap makes a minimal Debian
// root file system with the package, an entrypoint script gives it the upstream image's
// contract (images.Defaults: the same environment variables, paths, port and uid), and the tree
// is packed into an image archive that `podman load` reads. Archives are cached by their
// inputs, so only the first build takes minutes.
//
// The Debian mirror is the one the host's apt uses (/etc/apt/sources.list and
// /etc/apt/sources.list.d/), unless Options.Mirror names another. Building needs root (for
// debootstrap) and the debootstrap package.
package debian

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/wharf-registry/wharf/internal/aptsources"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/wharf-registry/wharf/images"
)

// DefaultSuite is the Debian release the images are built from: PostgreSQL 15, Redis 7.
const DefaultSuite = "bookworm"

// recipe changes whenever the way images are built changes, so that cached archives are
// rebuilt.
const recipe = "4"

var (
	//go:embed entrypoint/postgres.sh
	postgresEntrypoint []byte
	//go:embed entrypoint/redis.sh
	redisEntrypoint []byte
)

// entrypointPath is where the entrypoint script lies in the images, as in the official ones.
const entrypointPath = "/usr/local/bin/docker-entrypoint.sh"

// spec says how to build one component's image.
type spec struct {
	component  images.Component // the contract: images.Defaults with a local reference
	packages   []string         // installed with debootstrap --include
	mainPkg    string           // whose version labels the image ("postgresql-*": the newest match)
	account    string           // the Debian account the service runs as, renumbered to the contract's uid
	entrypoint []byte
	config     func(rootfs string) (v1.Config, error)
	remove     []string // glob patterns under the root file system to leave out
}

// Names lists the components this package builds.
var Names = []string{"postgres", "redis"}

// Minbase names the image of Debian's minimal base system alone (debootstrap
// --variant=minbase), which the scanner's tests scan.
const Minbase = "minbase"

// Ref returns the reference the Debian-built image of component name is archived as, e.g.
// localhost/wharf-debian/postgres:bookworm.
func Ref(name, suite string) string {
	return "localhost/wharf-debian/" + name + ":" + suite
}

// Components returns images.Defaults(version) with the PostgreSQL and Redis references
// replaced by those of the Debian-built images: what an installation on a machine without the
// upstream registries uses.
func Components(version, suite string) images.Components {
	c := images.Defaults(version)
	c.Postgres.Ref = Ref("postgres", suite)
	c.Redis.Ref = Ref("redis", suite)
	return c
}

func specFor(name, suite string) (spec, error) {
	c := Components("", suite)
	common := []string{"usr/share/doc/*", "usr/share/man/*", "usr/share/info/*", "usr/share/lintian/*",
		"var/cache/apt/*.bin", "var/cache/apt/archives/*.deb", "var/lib/apt/lists/*", "var/log/*.log", "var/log/apt/*"}
	switch name {
	case "postgres":
		return spec{
			component:  c.Postgres,
			packages:   []string{"postgresql"},
			mainPkg:    "postgresql-",
			account:    "postgres",
			entrypoint: postgresEntrypoint,
			// Debian's package creates a cluster "main"; the entrypoint makes one in the data directory.
			remove: append(common, "etc/postgresql/*", "var/lib/postgresql/*", "var/log/postgresql/*",
				"etc/ssl/private/ssl-cert-snakeoil.key", "etc/ssl/certs/ssl-cert-snakeoil.pem"),
			config: func(rootfs string) (v1.Config, error) {
				bins, _ := filepath.Glob(filepath.Join(rootfs, "usr/lib/postgresql/*/bin/postgres"))
				if len(bins) != 1 {
					return v1.Config{}, fmt.Errorf("want one PostgreSQL server in the root file system, found %d", len(bins))
				}
				major := filepath.Base(filepath.Dir(filepath.Dir(bins[0])))
				return v1.Config{
					Entrypoint: []string{entrypointPath},
					Cmd:        c.Postgres.Args,
					Env: []string{"PATH=/usr/lib/postgresql/" + major + "/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
						"PGDATA=" + c.Postgres.DataDir, "LANG=C.UTF-8"},
					ExposedPorts: map[string]struct{}{strconv.Itoa(c.Postgres.Port) + "/tcp": {}},
					Volumes:      map[string]struct{}{c.Postgres.DataDir: {}},
					StopSignal:   "SIGINT", // fast shutdown
				}, nil
			},
		}, nil
	case "redis":
		return spec{
			component:  c.Redis,
			packages:   []string{"redis-server"},
			mainPkg:    "redis-server",
			account:    "redis",
			entrypoint: redisEntrypoint,
			remove:     append(common, "var/lib/redis/*", "var/log/redis/*"),
			config: func(string) (v1.Config, error) {
				return v1.Config{
					Entrypoint:   []string{entrypointPath},
					Cmd:          c.Redis.Args,
					Env:          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
					WorkingDir:   c.Redis.DataDir,
					ExposedPorts: map[string]struct{}{strconv.Itoa(c.Redis.Port) + "/tcp": {}},
					Volumes:      map[string]struct{}{c.Redis.DataDir: {}},
				}, nil
			},
		}, nil
	case Minbase:
		// The plain Debian base system, for the scanner's tests: what `debootstrap
		// --variant=minbase` installs, nothing removed, so that the package database is
		// whole.
		return spec{
			component: images.Component{Ref: Ref(name, suite)},
			mainPkg:   "base-files",
			config: func(string) (v1.Config, error) {
				return v1.Config{Cmd: []string{"/bin/bash"}, Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}, nil
			},
		}, nil
	}
	return spec{}, fmt.Errorf("no Debian image for %q: choose one of %v or %s", name, Names, Minbase)
}

// Options tune Build.
type Options struct {
	// Suite is the Debian release (DefaultSuite when empty).
	Suite string
	// Mirror is the Debian mirror's URI; empty: the one the host's apt sources name for Suite.
	Mirror string
	// CacheDir holds the archives and debootstrap's downloads (CacheDir() when empty).
	CacheDir string
	// Log receives progress (debootstrap's and ours); nil discards it.
	Log io.Writer
}

// CacheDir is where built archives are kept by default: $XDG_CACHE_HOME/wharf/images, else
// ~/.cache/wharf/images.
func CacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "wharf", "images")
}

// Build returns the path of an image archive holding component name ("postgres" or "redis")
// built from Debian's packages and named Ref(name, suite), building it when the cache has none
// for the same inputs (suite, mirror, packages, entrypoint, recipe).
func Build(ctx context.Context, name string, opts Options) (string, error) {
	if opts.Suite == "" {
		opts.Suite = DefaultSuite
	}
	if opts.CacheDir == "" {
		opts.CacheDir = CacheDir()
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	sp, err := specFor(name, opts.Suite)
	if err != nil {
		return "", err
	}
	if opts.Mirror == "" {
		sources, err := aptsources.HostSources("/")
		if err != nil {
			return "", err
		}
		if opts.Mirror, err = aptsources.FindMirror(sources, opts.Suite); err != nil {
			return "", err
		}
	}
	key := cacheKey(name, sp, opts)
	archive := filepath.Join(opts.CacheDir, fmt.Sprintf("%s-%s-%s.tar", name, opts.Suite, key))
	if _, err := os.Stat(archive); err == nil {
		fmt.Fprintf(opts.Log, "%s: cached %s\n", name, archive)
		return archive, nil
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return "", fmt.Errorf("image cache: %w", err)
	}
	unlock, err := lock(ctx, filepath.Join(opts.CacheDir, ".build.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(archive); err == nil { // built by another process while we waited
		fmt.Fprintf(opts.Log, "%s: cached %s\n", name, archive)
		return archive, nil
	}
	if err := build(ctx, name, sp, opts, archive); err != nil {
		return "", fmt.Errorf("build the Debian %s image: %w", name, err)
	}
	return archive, nil
}

// cacheKey hashes everything an image is built from.
func cacheKey(name string, sp spec, opts Options) string {
	h := sha256.New()
	cfg, _ := json.Marshal(sp.component)
	for _, part := range []string{recipe, name, opts.Suite, opts.Mirror, strings.Join(sp.packages, ","), string(sp.entrypoint), string(cfg)} {
		fmt.Fprintf(h, "%d:%s\n", len(part), part)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func build(ctx context.Context, name string, sp spec, opts Options, archive string) error {
	if os.Geteuid() != 0 {
		return errors.New("debootstrap needs root: run `make images` (or the test) as root")
	}
	debootstrap, err := exec.LookPath("debootstrap")
	if err != nil {
		if debootstrap, err = exec.LookPath("/usr/sbin/debootstrap"); err != nil {
			return errors.New("debootstrap is not installed: run `make deps` (or apt-get install debootstrap)")
		}
	}
	work, err := os.MkdirTemp(opts.CacheDir, "build-"+name+"-")
	if err != nil {
		return err
	}
	rootfs := filepath.Join(work, "rootfs")
	defer func() {
		if err := removeTree(work); err != nil {
			fmt.Fprintf(opts.Log, "%s: %v\n", name, err)
		}
	}()
	debs := filepath.Join(opts.CacheDir, "debs")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return err
	}
	start := time.Now()
	fmt.Fprintf(opts.Log, "%s: debootstrap %s with %s from %s (a few minutes)\n", name, opts.Suite, strings.Join(sp.packages, ","), opts.Mirror)
	// Two stages, so that dpkg can be told not to wait for the disk after each file: unsafe for a
	// running system, fine for a tree that is either finished or thrown away, and minutes faster.
	out := &tail{prefix: name + ": ", w: opts.Log}
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C.UTF-8")
	stage := func(args ...string) error {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, out, out
		if err := cmd.Run(); err != nil {
			log, _ := os.ReadFile(filepath.Join(rootfs, "debootstrap", "debootstrap.log"))
			return fmt.Errorf("debootstrap: %w\n%s%s", err, out.last(), lastLines(log, 30))
		}
		return nil
	}
	args := []string{debootstrap, "--foreign", "--variant=minbase", "--arch=amd64"}
	if len(sp.packages) > 0 {
		args = append(args, "--include="+strings.Join(sp.packages, ","))
	}
	if err := stage(append(args, "--cache-dir="+debs, opts.Suite, rootfs, opts.Mirror)...); err != nil {
		return err
	}
	unsafeIO := filepath.Join(rootfs, "etc/dpkg/dpkg.cfg.d/wharf-build-unsafe-io")
	if err := os.WriteFile(unsafeIO, []byte("force-unsafe-io\n"), 0o644); err != nil {
		return err
	}
	if err := stage("chroot", rootfs, "/debootstrap/debootstrap", "--second-stage"); err != nil {
		return err
	}
	if err := os.Remove(unsafeIO); err != nil {
		return err
	}
	fmt.Fprintf(opts.Log, "%s: root file system ready in %s\n", name, time.Since(start).Round(time.Second))

	for _, pattern := range sp.remove {
		matches, _ := filepath.Glob(filepath.Join(rootfs, pattern))
		for _, m := range matches {
			if err := os.RemoveAll(m); err != nil {
				return err
			}
		}
	}
	if sp.account != "" {
		if err := prepareService(rootfs, sp); err != nil {
			return err
		}
	}
	cfg, err := sp.config(rootfs)
	if err != nil {
		return err
	}
	version, err := packageVersion(filepath.Join(rootfs, "var/lib/dpkg/status"), sp.mainPkg)
	if err != nil {
		return err
	}
	cfg.Labels = map[string]string{
		"org.opencontainers.image.title":       name,
		"org.opencontainers.image.version":     version,
		"org.opencontainers.image.description": fmt.Sprintf("%s from Debian %s's packages, with the official image's contract, built by Wharf for tests", name, opts.Suite),
	}

	fmt.Fprintf(opts.Log, "%s: packing the root file system into a layer\n", name)
	layer, err := images.DirLayer(rootfs, filepath.Join(work, "layer.tar.gz"), func(n int64) {
		fmt.Fprintf(opts.Log, "%s: packed %d MiB\n", name, n>>20)
	})
	if err != nil {
		return err
	}
	img, err := images.Image(layer, cfg, fmt.Sprintf("debootstrap --variant=minbase --include=%s %s (%s %s)", strings.Join(sp.packages, ","), opts.Suite, sp.mainPkg, version))
	if err != nil {
		return err
	}
	ref := Ref(name, opts.Suite)
	if err := images.WriteArchiveFile(archive, map[string]v1.Image{ref: img}); err != nil {
		return err
	}
	// Archives of the same image built from other inputs are out of date.
	old, _ := filepath.Glob(filepath.Join(opts.CacheDir, fmt.Sprintf("%s-%s-*.tar", name, opts.Suite)))
	for _, o := range old {
		if o != archive {
			os.Remove(o)
		}
	}
	info, _ := os.Stat(archive)
	fmt.Fprintf(opts.Log, "%s: wrote %s (%s, %d MiB) in %s\n", name, archive, ref, info.Size()>>20, time.Since(start).Round(time.Second))
	return nil
}

// prepareService gives a service's root file system the contract of its upstream image: the
// account renumbered, the data directory, the entrypoint.
func prepareService(rootfs string, sp spec) error {
	uid, gid, err := splitUser(sp.component.User)
	if err != nil {
		return err
	}
	if err := renumberAccount(rootfs, sp.account, uid, gid); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(rootfs, sp.component.DataDir), 0o700); err != nil {
		return err
	}
	if err := os.Chown(filepath.Join(rootfs, sp.component.DataDir), uid, gid); err != nil {
		return err
	}
	ep := filepath.Join(rootfs, entrypointPath)
	if err := os.MkdirAll(filepath.Dir(ep), 0o755); err != nil {
		return err
	}
	return os.WriteFile(ep, sp.entrypoint, 0o755)
}

// splitUser reads "uid:gid".
func splitUser(user string) (int, int, error) {
	u, g, ok := strings.Cut(user, ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("user %q is not uid:gid", user)
	}
	return uid, gid, nil
}

// renumberAccount gives account and its group the ids uid and gid in the root file system,
// as the official images have them, and hands its files over.
func renumberAccount(rootfs, account string, uid, gid int) error {
	oldUID, err := renumber(filepath.Join(rootfs, "etc/passwd"), account, uid, gid)
	if err != nil {
		return err
	}
	oldGID, err := renumber(filepath.Join(rootfs, "etc/group"), account, gid, -1)
	if err != nil {
		return err
	}
	return filepath.WalkDir(rootfs, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		newUID, newGID := int(st.Uid), int(st.Gid)
		if newUID == oldUID {
			newUID = uid
		}
		if newGID == oldGID {
			newGID = gid
		}
		if newUID == int(st.Uid) && newGID == int(st.Gid) {
			return nil
		}
		mode := info.Mode()
		if err := os.Lchown(path, newUID, newGID); err != nil {
			return err
		}
		if mode&(fs.ModeSetuid|fs.ModeSetgid) != 0 && mode&fs.ModeSymlink == 0 {
			return os.Chmod(path, mode) // chown clears the set-id bits
		}
		return nil
	})
}

// renumber sets the id (third field) of account in a passwd or group file, and the group id
// (fourth field) of a passwd entry when gid >= 0, and returns the old id. It refuses an id
// another entry holds.
func renumber(file, account string, id, gid int) (int, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	old := -1
	for i, line := range lines {
		f := strings.Split(line, ":")
		if len(f) < 3 {
			continue
		}
		if f[0] != account {
			if f[2] == strconv.Itoa(id) {
				return 0, fmt.Errorf("%s: %s already has id %d, which %s needs", file, f[0], id, account)
			}
			continue
		}
		if old, err = strconv.Atoi(f[2]); err != nil {
			return 0, fmt.Errorf("%s: %s has id %q", file, account, f[2])
		}
		f[2] = strconv.Itoa(id)
		if gid >= 0 && len(f) > 3 {
			f[3] = strconv.Itoa(gid)
		}
		lines[i] = strings.Join(f, ":")
	}
	if old < 0 {
		return 0, fmt.Errorf("%s: no %s: did its package create it?", file, account)
	}
	return old, os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// packageVersion reads the version of the installed package named prefix (or, when prefix ends
// in "-", of the last installed package whose name starts with it) from dpkg's status file.
func packageVersion(statusFile, prefix string) (string, error) {
	data, err := os.ReadFile(statusFile)
	if err != nil {
		return "", err
	}
	var version string
	for _, para := range strings.Split(string(data), "\n\n") {
		var pkg, ver string
		for _, line := range strings.Split(para, "\n") {
			if v, ok := strings.CutPrefix(line, "Package: "); ok {
				pkg = v
			}
			if v, ok := strings.CutPrefix(line, "Version: "); ok {
				ver = v
			}
		}
		match := pkg == prefix || (strings.HasSuffix(prefix, "-") && strings.HasPrefix(pkg, prefix) &&
			strings.Trim(strings.TrimPrefix(pkg, prefix), "0123456789") == "")
		if match {
			version = ver
		}
	}
	if version == "" {
		return "", fmt.Errorf("%s: %s is not installed", statusFile, prefix)
	}
	return version, nil
}

// removeTree removes a build directory after unmounting anything debootstrap left mounted in
// it; it refuses to remove a tree that still has a mount in it (such as the host's /dev).
func removeTree(dir string) error {
	for range 3 {
		mounts, err := mountsUnder(dir)
		if err != nil {
			return err
		}
		if len(mounts) == 0 {
			return os.RemoveAll(dir)
		}
		for i := len(mounts) - 1; i >= 0; i-- {
			syscall.Unmount(mounts[i], syscall.MNT_DETACH)
		}
	}
	return fmt.Errorf("%s still has mounts in it: unmount them and remove it by hand", dir)
}

// mountsUnder lists the mount points below dir, from /proc/self/mountinfo.
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			out = append(out, fields[4])
		}
	}
	return out, sc.Err()
}

// lock takes an exclusive lock on path, waiting for another build to finish.
func lock(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("image cache lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("image cache lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// tail passes a command's output on, line by line with a prefix, and keeps its last lines.
type tail struct {
	prefix string
	w      io.Writer
	buf    bytes.Buffer
	lines  []string
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf.Write(p)
	for {
		line, err := t.buf.ReadString('\n')
		if err != nil {
			t.buf.WriteString(line)
			return len(p), nil
		}
		fmt.Fprint(t.w, t.prefix+line)
		t.lines = append(t.lines, line)
		if len(t.lines) > 20 {
			t.lines = t.lines[1:]
		}
	}
}

func (t *tail) last() string { return strings.Join(t.lines, "") + t.buf.String() }

// lastLines returns the last n lines of b.
func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
