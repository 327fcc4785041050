package testvm

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/wharf-registry/wharf/internal/aptsources"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// configureScript configures the bootstrapped root filesystem; it runs inside it with chroot.
//
//go:embed configure.sh
var configureScript string

// imageFormat names the layout of a built image directory and the steps of BuildImage outside
// configure.sh. Change it when those change, so that cached images are rebuilt.
const imageFormat = "wharf-testvm-1"

// preseedFiles are written into the root filesystem before debootstrap installs anything.
var preseedFiles = []struct{ path, content string }{
	// dpkg syncs every file it writes unless told otherwise: a fresh tree that becomes a disk
	// image needs none of that. Removed once debootstrap is done.
	{unsafeIOFile, "force-unsafe-io\n"},
	// An initramfs with just what finds the root disk instead of most modules: its build (at
	// each kernel and initramfs-tools configuration) takes seconds instead of minutes, and it
	// loads quicker under emulation.
	{"etc/initramfs-tools/conf.d/wharf-testvm.conf", "MODULES=list\n"},
	{"usr/share/initramfs-tools/modules.d/wharf-testvm", "virtio_pci\nvirtio_blk\next4\n"},
}

const unsafeIOFile = "etc/dpkg/dpkg.cfg.d/wharf-testvm-unsafe-io"

// DefaultSuite is the Debian release the test VM runs.
const DefaultSuite = "bookworm"

// DefaultPackages are the Debian packages installed on top of debootstrap's minbase variant:
// systemd as init with D-Bus and udev, a kernel, Podman with netavark, aardvark-dns and crun
// (and what rootless Podman needs), an SSH server, and the tools the installer expects on a
// host (curl, iptables, iproute2, kmod).
var DefaultPackages = []string{
	"aardvark-dns",
	"ca-certificates",
	"catatonit",
	"conmon",
	"crun",
	"curl",
	"dbus",
	"dbus-user-session",
	"fuse-overlayfs",
	"iproute2",
	"iptables",
	"kmod",
	"less",
	"libpam-systemd",
	"linux-image-amd64",
	"netavark",
	"openssh-server",
	"passt",
	"podman",
	"procps",
	"slirp4netns",
	"systemd",
	"systemd-sysv",
	"udev",
	"uidmap",
}

// DefaultDiskSize is the size of the VM's root filesystem. The qcow2 disk holds only what is
// written, so the size costs nothing until used.
const DefaultDiskSize = 8 << 30

// ImageOptions say which image BuildImage builds and where it keeps it. The zero value builds
// the default image in the default cache directory.
type ImageOptions struct {
	// CacheDir holds built images, one directory per cache key. Default: $WHARF_VM_CACHE, else
	// ~/.cache/wharf/vm.
	CacheDir string
	// Mirror is the Debian archive debootstrap downloads from. Default: $WHARF_VM_MIRROR, else
	// the archive this host's apt uses for Suite (see aptsources.HostMirror).
	Mirror string
	// Suite is the Debian release. Default: DefaultSuite.
	Suite string
	// ExtraPackages are installed besides DefaultPackages.
	ExtraPackages []string
	// DiskSize is the size of the root filesystem in bytes. Default: DefaultDiskSize.
	DiskSize int64
	// Log receives progress lines. Default: none.
	Log io.Writer
}

// Image is a built VM image: a directory holding the root disk, the guest's kernel and
// initramfs (qemu boots them directly, without a boot loader) and the SSH keys to log in.
type Image struct {
	// Dir is the image directory.
	Dir string
	// Info describes how the image was built.
	Info ImageInfo
}

// ImageInfo is what BuildImage records about an image in its image.json.
type ImageInfo struct {
	Format   string            `json:"format"`
	Key      string            `json:"key"`
	Suite    string            `json:"suite"`
	Packages []string          `json:"packages"`
	Versions map[string]string `json:"versions"`
	Kernel   string            `json:"kernel"`
	Built    time.Time         `json:"built"`
	Seconds  float64           `json:"buildSeconds"`
}

// rootLabel is the label of the root filesystem, by which the kernel and fstab find it.
const rootLabel = "wharf-root"

// Names of the files in an image directory.
const (
	diskFile    = "disk.qcow2"
	kernelFile  = "vmlinuz"
	initrdFile  = "initrd.img"
	keyFile     = "id_ed25519"
	hostKeyFile = "ssh_host_ed25519_key.pub"
	infoFile    = "image.json"
)

// Disk is the path of the image's root disk (qcow2). Never boot it directly: Boot runs each
// VM on a copy-on-write overlay so that the image stays as built.
func (im *Image) Disk() string { return filepath.Join(im.Dir, diskFile) }

// Kernel is the path of the guest's kernel.
func (im *Image) Kernel() string { return filepath.Join(im.Dir, kernelFile) }

// Initrd is the path of the guest's initramfs.
func (im *Image) Initrd() string { return filepath.Join(im.Dir, initrdFile) }

// KeyFile is the path of the private key that logs in as root (and as the user "tester"),
// in OpenSSH format: ssh -i KEYFILE works with it.
func (im *Image) KeyFile() string { return filepath.Join(im.Dir, keyFile) }

// OpenImage opens the image whose root disk BuildImage returned, or the image directory.
func OpenImage(path string) (*Image, error) {
	dir := path
	if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
		dir = filepath.Dir(path)
	}
	data, err := os.ReadFile(filepath.Join(dir, infoFile))
	if err != nil {
		return nil, fmt.Errorf("open VM image: %w (build one with make vm-image)", err)
	}
	im := &Image{Dir: dir}
	if err := json.Unmarshal(data, &im.Info); err != nil {
		return nil, fmt.Errorf("open VM image: %s: %w", filepath.Join(dir, infoFile), err)
	}
	for _, f := range []string{diskFile, kernelFile, initrdFile, keyFile, hostKeyFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return nil, fmt.Errorf("open VM image: %w (remove %s and build it again with make vm-image)", err, dir)
		}
	}
	return im, nil
}

func (im *Image) signer() (ssh.Signer, error) {
	data, err := os.ReadFile(im.KeyFile())
	if err != nil {
		return nil, err
	}
	return ssh.ParsePrivateKey(data)
}

func (im *Image) hostKey() (ssh.PublicKey, error) {
	data, err := os.ReadFile(filepath.Join(im.Dir, hostKeyFile))
	if err != nil {
		return nil, err
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(im.Dir, hostKeyFile), err)
	}
	return key, nil
}

func (o *ImageOptions) setDefaults() error {
	if o.CacheDir == "" {
		o.CacheDir = os.Getenv("WHARF_VM_CACHE")
	}
	if o.CacheDir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return fmt.Errorf("VM image cache: %w (set WHARF_VM_CACHE)", err)
		}
		o.CacheDir = filepath.Join(home, ".cache", "wharf", "vm")
	}
	if o.Suite == "" {
		o.Suite = DefaultSuite
	}
	if o.DiskSize == 0 {
		o.DiskSize = DefaultDiskSize
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return nil
}

func (o *ImageOptions) packages() []string {
	p := append(slices.Clone(DefaultPackages), o.ExtraPackages...)
	sort.Strings(p)
	return slices.Compact(p)
}

// CacheKey is the name of the image these options build: the suite and a hash of everything
// that goes into it (package list, configuration script, disk size, build format). The
// mirror is not part of it: every mirror serves the same packages.
func (o ImageOptions) CacheKey() string {
	if o.Suite == "" {
		o.Suite = DefaultSuite
	}
	if o.DiskSize == 0 {
		o.DiskSize = DefaultDiskSize
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%d\n%s\n", imageFormat, o.Suite, o.DiskSize, strings.Join(o.packages(), ","))
	for _, f := range preseedFiles {
		fmt.Fprintf(h, "%s\n%s\n", f.path, f.content)
	}
	io.WriteString(h, configureScript)
	return o.Suite + "-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// BuildImage builds the test VM's image, or finds it already built in the cache, and returns
// the path of its root disk (see OpenImage for the files beside it). Building needs root and
// takes minutes: debootstrap installs the packages into a directory, configure.sh configures
// them in a chroot, mkfs.ext4 -d makes the filesystem from the directory without mounting
// anything, and qemu-img converts it to qcow2. Processes building the same image wait for
// each other; a build replaces the other images in the cache.
func BuildImage(ctx context.Context, opts ImageOptions) (string, error) {
	if err := opts.setDefaults(); err != nil {
		return "", err
	}
	key := opts.CacheKey()
	final := filepath.Join(opts.CacheDir, key)
	if im, err := OpenImage(final); err == nil {
		logf(opts.Log, "VM image %s is built (%s)", im.Disk(), im.Info.Built.Format(time.RFC3339))
		return im.Disk(), nil
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return "", fmt.Errorf("VM image cache: %w", err)
	}
	unlock, err := lockDir(opts.CacheDir, opts.Log)
	if err != nil {
		return "", err
	}
	defer unlock()
	if im, err := OpenImage(final); err == nil { // built by the process we waited for
		return im.Disk(), nil
	}
	tools, err := lookTools("debootstrap", "chroot", "mkfs.ext4", "qemu-img")
	if err != nil {
		return "", err
	}
	if os.Geteuid() != 0 {
		return "", errors.New("building the VM image needs root (debootstrap and chroot): run make vm-image as root")
	}
	if opts.Mirror == "" {
		opts.Mirror = os.Getenv("WHARF_VM_MIRROR")
	}
	if opts.Mirror == "" {
		if opts.Mirror, err = aptsources.HostMirror("/", opts.Suite); err != nil {
			return "", err
		}
	}
	if err := pruneCache(opts.CacheDir, key); err != nil {
		return "", err
	}
	work := filepath.Join(opts.CacheDir, "build-"+key)
	b := &builder{opts: opts, tools: tools, work: work, rootfs: filepath.Join(work, "rootfs")}
	start := time.Now()
	logf(opts.Log, "building VM image %s (Debian %s, %d packages; takes minutes, later runs reuse it)", key, opts.Suite, len(opts.packages()))
	info, err := b.build(ctx)
	if rmErr := removeTree(b.rootfs); rmErr != nil && err == nil {
		err = rmErr
	}
	if err != nil {
		return "", fmt.Errorf("build VM image: %w (the build directory %s is kept for a look; the next build removes it)", err, work)
	}
	info.Key = key
	info.Built = time.Now().UTC()
	info.Seconds = time.Since(start).Seconds()
	data, _ := json.MarshalIndent(info, "", "  ")
	if err := os.WriteFile(filepath.Join(work, infoFile), append(data, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("build VM image: %w", err)
	}
	if err := os.Rename(work, final); err != nil {
		return "", fmt.Errorf("build VM image: %w", err)
	}
	logf(opts.Log, "VM image %s built in %s", filepath.Join(final, diskFile), time.Since(start).Round(time.Second))
	return filepath.Join(final, diskFile), nil
}

// builder holds one image build's state.
type builder struct {
	opts   ImageOptions
	tools  map[string]string
	work   string // the build directory, renamed to the image directory when complete
	rootfs string // the root filesystem tree, removed at the end
}

func (b *builder) build(ctx context.Context) (ImageInfo, error) {
	info := ImageInfo{Format: imageFormat, Suite: b.opts.Suite, Packages: b.opts.packages()}
	if err := os.MkdirAll(b.rootfs, 0o755); err != nil {
		return info, err
	}
	for _, f := range preseedFiles {
		if err := writeFile(filepath.Join(b.rootfs, f.path), f.content, 0o644); err != nil {
			return info, err
		}
	}
	debs := filepath.Join(b.opts.CacheDir, "debs")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return info, err
	}
	logf(b.opts.Log, "debootstrap %s from %s", b.opts.Suite, b.opts.Mirror)
	progress := progressLog(b.opts.Log, "debootstrap")
	err := b.run(ctx, "debootstrap", progress, nil, b.tools["debootstrap"],
		"--variant=minbase", "--cache-dir="+debs, "--include="+strings.Join(info.Packages, ","),
		b.opts.Suite, b.rootfs, b.opts.Mirror)
	progress.Close()
	if err != nil {
		return info, err
	}
	if err := os.Remove(filepath.Join(b.rootfs, unsafeIOFile)); err != nil {
		return info, err
	}

	logf(b.opts.Log, "configuring the guest (SSH key, network, serial console, users)")
	if err := b.writeKeys(); err != nil {
		return info, err
	}
	if err := b.run(ctx, "configure.sh", nil, strings.NewReader(configureScript), b.tools["chroot"], b.rootfs, "/bin/sh", "-s"); err != nil {
		return info, err
	}
	var versions strings.Builder
	if err := b.run(ctx, "dpkg-query", &versions, nil, b.tools["chroot"], b.rootfs,
		"dpkg-query", "-W", "-f", `${Package} ${Version}\n`, "podman", "systemd", "crun", "netavark", "linux-image-amd64"); err != nil {
		return info, err
	}
	info.Versions = map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(versions.String()), "\n") {
		if name, version, ok := strings.Cut(line, " "); ok {
			info.Versions[name] = version
		}
	}
	kernel, err := b.copyBoot()
	if err != nil {
		return info, err
	}
	info.Kernel = kernel
	if err := copyFile(filepath.Join(b.rootfs, "etc/ssh/ssh_host_ed25519_key.pub"), filepath.Join(b.work, hostKeyFile)); err != nil {
		return info, fmt.Errorf("the guest's SSH host key: %w", err)
	}

	logf(b.opts.Log, "making the ext4 root filesystem (mkfs.ext4 -d) and converting it to qcow2")
	raw := filepath.Join(b.work, "disk.raw")
	os.Remove(raw)
	if err := b.run(ctx, "mkfs.ext4", nil, nil, b.tools["mkfs.ext4"], "-q", "-F", "-L", rootLabel, "-d", b.rootfs, raw, fmt.Sprintf("%dM", b.opts.DiskSize>>20)); err != nil {
		return info, err
	}
	if err := b.run(ctx, "qemu-img", nil, nil, b.tools["qemu-img"], "convert", "-O", "qcow2", raw, filepath.Join(b.work, diskFile)); err != nil {
		return info, err
	}
	return info, os.Remove(raw)
}

// writeKeys makes the image's SSH key pair and authorizes it for root in the guest.
func (b *builder) writeKeys() error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "wharf-testvm")
	if err != nil {
		return err
	}
	authorized := string(ssh.MarshalAuthorizedKey(sshPub))
	if err := writeFile(filepath.Join(b.work, keyFile), string(pem.EncodeToMemory(block)), 0o600); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(b.work, keyFile+".pub"), authorized, 0o644); err != nil {
		return err
	}
	return writeFile(filepath.Join(b.rootfs, "root/.ssh/authorized_keys"), authorized, 0o600)
}

// copyBoot copies the guest's kernel and initramfs out of its /boot and returns the kernel
// version.
func (b *builder) copyBoot() (string, error) {
	kernels, _ := filepath.Glob(filepath.Join(b.rootfs, "boot", "vmlinuz-*"))
	if len(kernels) == 0 {
		return "", errors.New("no kernel in the guest's /boot: is linux-image-amd64 in the package list?")
	}
	sort.Strings(kernels)
	version := strings.TrimPrefix(filepath.Base(kernels[len(kernels)-1]), "vmlinuz-")
	if err := copyFile(kernels[len(kernels)-1], filepath.Join(b.work, kernelFile)); err != nil {
		return "", err
	}
	if err := copyFile(filepath.Join(b.rootfs, "boot", "initrd.img-"+version), filepath.Join(b.work, initrdFile)); err != nil {
		return "", fmt.Errorf("the guest's initramfs: %w", err)
	}
	return version, nil
}

// run runs a build step, sending its output to out (and to build.log in the build directory)
// and, when it fails, returning the end of that output in the error. Cancelling ctx sends
// SIGTERM so that debootstrap can unmount what it mounted in the root filesystem.
func (b *builder) run(ctx context.Context, step string, out io.Writer, stdin io.Reader, name string, args ...string) error {
	logFile, err := os.OpenFile(filepath.Join(b.work, "build.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "\n### %s %s\n", name, strings.Join(args, " "))
	tail := &tailBuffer{max: 8 << 10}
	w := io.MultiWriter(logFile, tail)
	if out != nil {
		w = io.MultiWriter(logFile, tail, out)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = stdin
	cmd.Stdout, cmd.Stderr = w, w
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	if step == "debootstrap" {
		cmd.Env = append(cmd.Env, aptProxyEnv()...)
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w; its output ends:\n%s", step, err, tail.String())
	}
	return nil
}

// aptProxyEnv passes the host apt's HTTP proxy, if it has one, to debootstrap's downloads.
func aptProxyEnv() []string {
	if os.Getenv("http_proxy") != "" {
		return nil
	}
	out, err := exec.Command("apt-config", "shell", "P", "Acquire::http::Proxy").Output()
	if err != nil {
		return nil
	}
	// apt-config prints P='http://proxy:3142/'.
	v := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "P="))
	v = strings.Trim(v, "'")
	if v == "" || strings.EqualFold(v, "DIRECT") || strings.EqualFold(v, "false") {
		return nil
	}
	return []string{"http_proxy=" + v}
}

// lookTools finds the build's programs on PATH or in the sbin directories root uses.
func lookTools(names ...string) (map[string]string, error) {
	pkgs := map[string]string{"debootstrap": "debootstrap", "mkfs.ext4": "e2fsprogs", "qemu-img": "qemu-utils",
		"qemu-system-x86_64": "qemu-system-x86", "chroot": "coreutils", "debugfs": "e2fsprogs"}
	found := map[string]string{}
	var missing []string
	for _, name := range names {
		p, err := exec.LookPath(name)
		if err != nil {
			for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
				if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Mode()&0o111 != 0 {
					p = filepath.Join(dir, name)
					break
				}
			}
		}
		if p == "" {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", name, pkgs[name]))
			continue
		}
		found[name] = p
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("not installed: %s: run make deps", strings.Join(missing, ", "))
	}
	return found, nil
}

// lockDir takes an exclusive lock on dir for this process, waiting for other holders.
func lockDir(dir string, log io.Writer) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("VM image cache: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		logf(log, "waiting for another process building a VM image in %s", dir)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("VM image cache: lock %s: %w", dir, err)
		}
	}
	return func() { f.Close() }, nil
}

// pruneCache removes every image and unfinished build in the cache except the image named
// keep: an image that the current options do not build is of no further use.
func pruneCache(dir, keep string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("VM image cache: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == keep || e.Name() == "debs" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), infoFile)); err != nil && !strings.HasPrefix(e.Name(), "build-") {
			continue // not ours
		}
		if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("VM image cache: %w", err)
		}
	}
	return nil
}

// removeTree removes dir and everything below it, first unmounting whatever is mounted below it
// (an interrupted debootstrap can leave /proc or /sys mounted in its target), and refusing to
// remove anything while a mount remains, so that nothing outside dir is ever touched.
func removeTree(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(abs); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		abs = resolved
	}
	mounts, err := mountsBelow(abs)
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			return fmt.Errorf("unmount %s before removing %s: %w", m, dir, err)
		}
	}
	if mounts, err := mountsBelow(abs); err != nil || len(mounts) > 0 {
		return fmt.Errorf("not removing %s: %v still mounted below it (%v)", dir, mounts, err)
	}
	return os.RemoveAll(abs)
}

// mountsBelow lists the mount points at or below dir, deepest first.
func mountsBelow(dir string) ([]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("list mounts: %w", err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountPath(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, nil
}

// unescapeMountPath decodes the octal escapes (\040 for a space) of /proc/self/mountinfo.
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range []byte(s[i+1 : i+4]) {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + (c - '0')
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func writeFile(path, content string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), mode)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func logf(w io.Writer, format string, args ...any) {
	if tl, ok := w.(testLog); ok { // keep the test log's file:line on the caller
		tl.t.Helper()
		tl.t.Logf("testvm: "+format, args...)
		return
	}
	fmt.Fprintf(w, "testvm: "+format+"\n", args...)
}

// progressLog condenses debootstrap's output, a line per package and step, into its stage
// lines and a count of packages handled every 20 seconds, so a long build shows it is moving.
// Close it when the command has finished.
func progressLog(w io.Writer, name string) io.WriteCloser {
	pr, pw := io.Pipe()
	var mu sync.Mutex
	count, last := 0, ""
	start := time.Now()
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(20 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				mu.Lock()
				logf(w, "%s: %d steps done in %s, now: %s", name, count, time.Since(start).Round(time.Second), last)
				mu.Unlock()
			}
		}
	}()
	go func() {
		defer close(stop)
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			perPackage := false
			for _, p := range []string{"I: Retrieving ", "I: Validating ", "I: Extracting ", "I: Unpacking ", "I: Configuring "} {
				perPackage = perPackage || strings.HasPrefix(line, p)
			}
			mu.Lock()
			if perPackage {
				count++
				last = strings.TrimPrefix(line, "I: ")
			} else {
				logf(w, "%s: %s", name, line)
			}
			mu.Unlock()
		}
		io.Copy(io.Discard, pr) // a line too long for the scanner: keep the command unblocked
	}()
	return pw
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
