// Package testvm runs end-to-end tests on a fresh Debian VM: it builds a VM image with
// debootstrap (BuildImage, cached under ~/.cache/wharf/vm), boots it under qemu with software
// emulation on a copy-on-write overlay (Boot), and drives it over SSH (VM.Run, VM.CopyTo,
// VM.Reboot, ...). The guest has no network out: qemu's user network forwards only the SSH port
// and the guest ports a test asks for, from the host's loopback interface. Files too big for
// SSH (offline bundles) reach the guest on a read-only disk, as on removable media.
//
// The tests that boot VMs take minutes, so they run only when WHARF_TEST_VM=1 (make test-vm);
// see SkipUnlessEnabled. An installer test reads like what an operator does:
//
//	testvm.SkipUnlessEnabled(t)
//	port := testservers.FreePort(t) // the registry's port, the same on the host and in the VM
//	vm := testvm.Boot(t, testvm.Options{ForwardSamePort: []int{port}, Media: []string{wharfBin, bundle1, bundle2}})
//	vm.WaitRunning(t)
//	vm.MustRun(t, "install -m 755 "+testvm.MediaDir+"/wharf /usr/local/bin/ && wharf install --bundle "+testvm.MediaDir+"/bundle1.tar ...")
//	vm.CopyFrom("/etc/wharf/...ca.crt", caFile) // then skopeo on the host pushes to vm.Addr(port)
//	vm.Reboot(t)                                 // and checks that the units came back
package testvm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// EnableEnv is the environment variable that lets tests boot VMs: WHARF_TEST_VM=1.
const EnableEnv = "WHARF_TEST_VM"

// SkipUnlessEnabled skips a test that boots a VM unless WHARF_TEST_VM=1, so that go test ./...
// stays quick; make test-vm sets it.
func SkipUnlessEnabled(t testing.TB) {
	t.Helper()
	if os.Getenv(EnableEnv) != "1" {
		t.Skipf("boots a VM under emulation (minutes): run make test-vm, or set %s=1", EnableEnv)
	}
}

// MediaDir is where the guest mounts the read-only disk made of Options.Media.
const MediaDir = "/mnt/media"

// mediaSerial names the media disk, which the guest finds as /dev/disk/by-id/virtio-SERIAL.
const mediaSerial = "wharf-media"

// Options say how Boot starts a VM. The zero value boots the default image.
type Options struct {
	// Image is the root disk of a built image, as BuildImage returns it. Default: the default
	// image, built first if the cache does not have it.
	Image string
	// MemoryMiB is the guest's memory. Default: 2048.
	MemoryMiB int
	// CPUs is the number of virtual CPUs. Default: 2.
	CPUs int
	// Forward lists guest TCP ports to reach from the host: ForwardedPort and Addr give the
	// loopback port each one is forwarded from. SSH (22) is always forwarded.
	Forward []int
	// ForwardSamePort lists guest TCP ports to forward from the same port number on the host's
	// loopback, for a service that must be reached at the address it knows itself by (a
	// registry whose SERVER_HOSTNAME names its port): pick a free port on the host, run the
	// service on it in the guest. Boot fails if one of these ports is taken on the host.
	ForwardSamePort []int
	// Media lists host files to hand to the guest on a read-only disk, mounted at MediaDir
	// under their base names. Reading them there is much quicker than copying over SSH, which
	// runs at a few MB/s under emulation.
	Media []string
	// BootTimeout bounds the wait for SSH after a boot or reboot. Default: 10 minutes (an
	// emulated boot takes one or two, more on a busy host).
	BootTimeout time.Duration
	// CommandTimeout bounds each command of Run, RunAs, MustRun, CopyTo and CopyFrom, so that a
	// hung command fails its test with the guest's journal instead of stalling it until go
	// test's own timeout (which shows nothing of the guest). Default: 10 minutes. RunContext
	// takes a deadline of its own.
	CommandTimeout time.Duration
	// Accel is qemu's accelerator. Default: $WHARF_VM_ACCEL, else "tcg" (software emulation:
	// works everywhere, and guests under KVM hang on the machines this project runs on).
	Accel string
}

func (o *Options) setDefaults() {
	if o.MemoryMiB == 0 {
		o.MemoryMiB = 2048
	}
	if o.CPUs == 0 {
		o.CPUs = 2
	}
	if o.BootTimeout == 0 {
		o.BootTimeout = 10 * time.Minute
	}
	if o.CommandTimeout == 0 {
		o.CommandTimeout = 10 * time.Minute
	}
	if o.Accel == "" {
		o.Accel = os.Getenv("WHARF_VM_ACCEL")
	}
	if o.Accel == "" {
		o.Accel = "tcg"
	}
}

// VM is a running guest. Its methods may be called from several goroutines.
type VM struct {
	image   *Image
	opts    Options
	dir     string // private directory: overlay disk, console log, media disk
	console string // the serial console's log file
	media   string // the media disk, or ""
	qemu    string

	signer  ssh.Signer
	hostKey ssh.PublicKey

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when qemu has exited
	out     *tailBuffer   // qemu's own output
	sshPort int
	ports   map[int]int // guest port -> host port
	clients map[string]*ssh.Client
	booted  bool // SSH answered once: worth asking for the journal when the test fails
}

// Boot starts a VM on a fresh copy-on-write overlay of the image and waits until it accepts
// SSH. The VM is killed when the test ends; if the test failed, the end of its serial console,
// its failed units and its journal go to the test log first. Call WaitRunning to wait until
// the guest's systemd has finished starting up.
func Boot(t testing.TB, opts Options) *VM {
	t.Helper()
	opts.setDefaults()
	if opts.Image == "" {
		disk, err := BuildImage(t.Context(), ImageOptions{Log: testLog{t}})
		if err != nil {
			t.Fatal(err)
		}
		opts.Image = disk
	}
	im, err := OpenImage(opts.Image)
	if err != nil {
		t.Fatal(err)
	}
	tools, err := lookTools("qemu-system-x86_64", "qemu-img", "mkfs.ext4")
	if err != nil {
		t.Fatal(err)
	}
	vm := &VM{image: im, opts: opts, dir: t.TempDir(), qemu: tools["qemu-system-x86_64"], clients: map[string]*ssh.Client{}}
	vm.console = filepath.Join(vm.dir, "console.log")
	if vm.signer, err = im.signer(); err != nil {
		t.Fatalf("VM image key: %v", err)
	}
	if vm.hostKey, err = im.hostKey(); err != nil {
		t.Fatalf("VM image host key: %v", err)
	}
	overlay := filepath.Join(vm.dir, "overlay.qcow2")
	if out, err := exec.Command(tools["qemu-img"], "create", "-q", "-f", "qcow2", "-b", im.Disk(), "-F", "qcow2", overlay).CombinedOutput(); err != nil {
		t.Fatalf("create the VM's overlay disk: %v: %s", err, out)
	}
	if len(opts.Media) > 0 {
		start := time.Now()
		if vm.media, err = makeMedia(vm.dir, tools["mkfs.ext4"], opts.Media); err != nil {
			t.Fatal(err)
		}
		t.Logf("testvm: media disk made in %s: %s", time.Since(start).Round(time.Millisecond), strings.Join(opts.Media, ", "))
	}
	t.Cleanup(func() { vm.cleanup(t) })

	start := time.Now()
	for attempt := 1; ; attempt++ {
		if err := vm.start(overlay); err != nil {
			t.Fatal(err)
		}
		err := vm.waitSSH(t.Context(), "")
		if err == nil {
			break
		}
		if vm.exited() && strings.Contains(vm.out.String(), "host forwarding") && attempt < 3 {
			continue // a forwarded port was taken meanwhile: pick others
		}
		t.Fatalf("the VM did not come up: %v (qemu said: %q; the console follows)", err, strings.TrimSpace(vm.out.String()))
	}
	vm.booted = true
	if err := vm.mountMedia(); err != nil {
		t.Fatal(err)
	}
	t.Logf("testvm: VM booted in %s; log in with: %s", time.Since(start).Round(time.Second), vm.SSHCommand("root"))
	return vm
}

// start starts qemu on the overlay with fresh forwarded ports.
func (vm *VM) start(overlay string) error {
	ports, err := freePorts(1+len(vm.opts.Forward), vm.opts.ForwardSamePort...)
	if err != nil {
		return fmt.Errorf("pick ports to forward: %w", err)
	}
	netdev := "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:" + strconv.Itoa(ports[0]) + "-:22"
	forwarded := map[int]int{}
	for i, g := range vm.opts.Forward {
		forwarded[g] = ports[i+1]
	}
	for _, g := range vm.opts.ForwardSamePort {
		forwarded[g] = g
	}
	for _, g := range slices.Sorted(maps.Keys(forwarded)) {
		netdev += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-:%d", forwarded[g], g)
	}
	args := []string{
		"-machine", "q35", "-accel", vm.opts.Accel, "-cpu", "max",
		"-m", strconv.Itoa(vm.opts.MemoryMiB), "-smp", strconv.Itoa(vm.opts.CPUs),
		"-nodefaults", "-nographic", "-serial", "file:" + vm.console,
		"-kernel", vm.image.Kernel(), "-initrd", vm.image.Initrd(),
		"-append", "root=LABEL=" + rootLabel + " rw console=ttyS0",
		"-drive", "file=" + overlay + ",if=none,id=root,format=qcow2,cache=unsafe,discard=unmap",
		"-device", "virtio-blk-pci,drive=root,serial=wharf-root",
		"-netdev", netdev, "-device", "virtio-net-pci,netdev=net0",
		"-device", "virtio-rng-pci",
	}
	if vm.media != "" {
		args = append(args, "-drive", "file="+vm.media+",if=none,id=media,format=raw,readonly=on",
			"-device", "virtio-blk-pci,drive=media,serial="+mediaSerial)
	}
	out := &tailBuffer{max: 16 << 10}
	cmd := exec.Command(vm.qemu, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start qemu: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	vm.mu.Lock()
	vm.cmd, vm.done, vm.out, vm.sshPort, vm.ports = cmd, done, out, ports[0], forwarded
	vm.mu.Unlock()
	return nil
}

func (vm *VM) exited() bool {
	select {
	case <-vm.done:
		return true
	default:
		return false
	}
}

// kill stops qemu at once and waits until it has exited.
func (vm *VM) kill() {
	vm.mu.Lock()
	cmd, done := vm.cmd, vm.done
	vm.mu.Unlock()
	if cmd == nil {
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
}

func (vm *VM) cleanup(t testing.TB) {
	if t.Failed() && vm.cmd != nil {
		t.Logf("testvm: the VM's serial console ends:\n%s", vm.ConsoleTail(60))
		if vm.booted && !vm.exited() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			var out bytes.Buffer
			vm.run(ctx, "root", "systemctl --failed --no-pager; journalctl -b --no-pager -n 100", nil, &out, &out)
			cancel()
			t.Logf("testvm: failed units and the end of the journal:\n%s", out.String())
		}
	}
	vm.closeClients()
	vm.kill()
}

// Run runs a shell command in the guest as root and returns its output and exit code. err is
// set only when the command could not be run at all (the VM is gone, SSH broke); a command
// that fails is a nonzero code with a nil err.
func (vm *VM) Run(cmd string) (stdout, stderr string, code int, err error) {
	return vm.RunAs("root", cmd)
}

// RunAs runs a shell command in the guest as user: "root" or "tester", an unprivileged user
// with subordinate IDs and a lingering systemd user manager, for rootless Podman.
func (vm *VM) RunAs(user, cmd string) (stdout, stderr string, code int, err error) {
	ctx, cancel := vm.commandContext()
	defer cancel()
	return vm.RunContext(ctx, user, cmd)
}

// RunContext runs a shell command in the guest as user until it exits or ctx ends (then the
// command is killed and err says so). Run and RunAs bound commands by Options.CommandTimeout.
func (vm *VM) RunContext(ctx context.Context, user, cmd string) (stdout, stderr string, code int, err error) {
	var o, e bytes.Buffer
	code, err = vm.run(ctx, user, cmd, nil, &o, &e)
	return o.String(), e.String(), code, err
}

func (vm *VM) commandContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), vm.opts.CommandTimeout)
}

// MustRun runs a shell command in the guest as root and returns its standard output; it fails
// the test, showing the command's output, if the command exits nonzero.
func (vm *VM) MustRun(t testing.TB, cmd string) string {
	t.Helper()
	stdout, stderr, code, err := vm.Run(cmd)
	if err != nil {
		t.Fatalf("in the VM: %s: %v", cmd, err)
	}
	if code != 0 {
		t.Fatalf("in the VM: %s: exit code %d\nstdout:\n%s\nstderr:\n%s", cmd, code, stdout, stderr)
	}
	return stdout
}

// run runs cmd over SSH as user, with stdin, stdout and stderr connected, until it exits or
// ctx ends. It returns the exit code, or an error when the command could not run to its end.
func (vm *VM) run(ctx context.Context, user, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	var sess *ssh.Session
	for attempt := 0; ; attempt++ {
		client, err := vm.client(ctx, user)
		if err != nil {
			return -1, err
		}
		sess, err = client.NewSession()
		if err == nil {
			break
		}
		vm.dropClient(user, client) // the connection broke (a reboot?): connect again once
		if attempt == 1 {
			return -1, fmt.Errorf("ssh session: %w", err)
		}
	}
	defer sess.Close()
	sess.Stdin, sess.Stdout, sess.Stderr = stdin, stdout, stderr
	res := make(chan error, 1)
	go func() { res <- sess.Run(cmd) }()
	var err error
	select {
	case err = <-res:
	case <-ctx.Done():
		sess.Signal(ssh.SIGKILL)
		sess.Close()
		return -1, fmt.Errorf("%s: %w", cmd, ctx.Err())
	}
	var exit *ssh.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit):
		return exit.ExitStatus(), nil
	default:
		return -1, fmt.Errorf("%s: %w", cmd, err)
	}
}

// client returns the SSH connection for user, connecting if there is none.
func (vm *VM) client(ctx context.Context, user string) (*ssh.Client, error) {
	vm.mu.Lock()
	c := vm.clients[user]
	port := vm.sshPort
	vm.mu.Unlock()
	if c != nil {
		return c, nil
	}
	if vm.exited() {
		return nil, fmt.Errorf("the VM is not running (qemu: %s)", strings.TrimSpace(vm.out.String()))
	}
	c, err := vm.dial(ctx, port, user)
	if err != nil {
		return nil, err
	}
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if old := vm.clients[user]; old != nil {
		c.Close()
		return old, nil
	}
	vm.clients[user] = c
	return c, nil
}

// dial opens an SSH connection to the guest, bounding the handshake: qemu's user network
// accepts a forwarded connection before the guest answers it.
func (vm *VM) dial(ctx context.Context, port int, user string) (*ssh.Client, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: %w", addr, err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	cfg := &ssh.ClientConfig{
		User:              user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(vm.signer)},
		HostKeyCallback:   ssh.FixedHostKey(vm.hostKey),
		HostKeyAlgorithms: []string{vm.hostKey.Type()},
	}
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ssh %s: %w", addr, err)
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

func (vm *VM) dropClient(user string, c *ssh.Client) {
	vm.mu.Lock()
	if vm.clients[user] == c {
		delete(vm.clients, user)
	}
	vm.mu.Unlock()
	c.Close()
}

func (vm *VM) closeClients() {
	vm.mu.Lock()
	clients := vm.clients
	vm.clients = map[string]*ssh.Client{}
	vm.mu.Unlock()
	for _, c := range clients {
		c.Close()
	}
}

// waitSSH waits until the guest runs commands over SSH and, if notBootID is set, has a boot
// ID other than it (it has rebooted). It gives up when qemu exits or BootTimeout passes.
func (vm *VM) waitSSH(ctx context.Context, notBootID string) error {
	ctx, cancel := context.WithTimeout(ctx, vm.opts.BootTimeout)
	defer cancel()
	var from int64 // the console's length before this boot: look for failures after it
	if fi, err := os.Stat(vm.console); err == nil {
		from = fi.Size()
	}
	var last error
	for {
		if vm.exited() {
			return fmt.Errorf("qemu exited: %s", strings.TrimSpace(vm.out.String()))
		}
		if stuck := vm.consoleFailure(from); stuck != "" {
			return fmt.Errorf("the guest did not boot: its console shows %q", stuck)
		}
		attempt, cancelAttempt := context.WithTimeout(ctx, 30*time.Second)
		id, err := vm.bootID(attempt)
		cancelAttempt()
		switch {
		case err == nil && id != notBootID:
			return nil
		case err == nil:
			last = errors.New("the guest has not rebooted yet")
		default:
			last = err
			vm.closeClients()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no SSH within %s: %v", vm.opts.BootTimeout, last)
		case <-vm.done:
		case <-time.After(time.Second):
		}
	}
}

// bootFailures are console lines of a boot that will not reach SSH.
var bootFailures = []string{
	"Kernel panic",
	"No init found",
	"(initramfs) ",
	"You are in emergency mode",
	"Give root password for maintenance",
}

// consoleFailure returns the first line of the console after offset from that shows a failed
// boot, or "".
func (vm *VM) consoleFailure(from int64) string {
	f, err := os.Open(vm.console)
	if err != nil {
		return ""
	}
	defer f.Close()
	data, err := io.ReadAll(io.NewSectionReader(f, from, 64<<20))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		for _, m := range bootFailures {
			if strings.Contains(line, m) {
				return strings.TrimSpace(line)
			}
		}
	}
	return ""
}

func (vm *VM) bootID(ctx context.Context) (string, error) {
	var out bytes.Buffer
	code, err := vm.run(ctx, "root", "cat /proc/sys/kernel/random/boot_id", nil, &out, io.Discard)
	if err != nil {
		return "", err
	}
	if code != 0 {
		return "", fmt.Errorf("read the boot ID: exit code %d", code)
	}
	return strings.TrimSpace(out.String()), nil
}

// mountMedia mounts the media disk, if the VM has one, read-only at MediaDir.
func (vm *VM) mountMedia() error {
	if vm.media == "" {
		return nil
	}
	var out bytes.Buffer
	code, err := vm.run(context.Background(), "root", "udevadm settle; mkdir -p "+MediaDir+" && { mountpoint -q "+MediaDir+
		" || mount -o ro /dev/disk/by-id/virtio-"+mediaSerial+" "+MediaDir+"; }", nil, &out, &out)
	if err == nil && code != 0 {
		err = fmt.Errorf("exit code %d: %s", code, out.String())
	}
	if err != nil {
		return fmt.Errorf("mount the media disk in the VM: %w", err)
	}
	return nil
}

// WaitRunning waits until the guest's systemd has finished starting up and returns its state,
// "running" or "degraded" (then the failed units go to the test log). Any other state, or no
// answer within five minutes, fails the test.
func (vm *VM) WaitRunning(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	_, err := vm.run(ctx, "root", "systemctl is-system-running --wait", nil, &out, io.Discard)
	state := strings.TrimSpace(out.String())
	if err != nil {
		t.Fatalf("wait for the guest's systemd: %v (state %q)", err, state)
	}
	switch state {
	case "running":
	case "degraded":
		t.Logf("testvm: the guest is degraded; failed units:\n%s", vm.MustRun(t, "systemctl --failed --no-pager --no-legend"))
	default:
		t.Fatalf("the guest's systemd is %q, not running; jobs:\n%s", state, vm.MustRun(t, "systemctl list-jobs --no-pager"))
	}
	t.Logf("testvm: guest systemd %s after %s", state, time.Since(start).Round(time.Second))
	return state
}

// Reboot reboots the guest and waits until it is back: it answers SSH with a new boot ID, the
// media disk is mounted again, and systemd has finished starting up (see WaitRunning).
func (vm *VM) Reboot(t testing.TB) {
	t.Helper()
	start := time.Now()
	before, err := vm.bootID(context.Background())
	if err != nil {
		t.Fatalf("reboot the VM: %v", err)
	}
	// The connection may drop before the command returns: what counts is the new boot ID.
	vm.Run("systemctl reboot")
	vm.closeClients()
	if err := vm.waitSSH(t.Context(), before); err != nil {
		t.Fatalf("the VM did not come back from a reboot: %v (the console follows)", err)
	}
	if err := vm.mountMedia(); err != nil {
		t.Fatal(err)
	}
	vm.WaitRunning(t)
	t.Logf("testvm: rebooted in %s", time.Since(start).Round(time.Second))
}

// Shutdown powers the guest off and waits for qemu to exit, killing it after two minutes.
func (vm *VM) Shutdown() error {
	vm.Run("systemctl poweroff")
	vm.closeClients()
	select {
	case <-vm.done:
		return nil
	case <-time.After(2 * time.Minute):
		vm.kill()
		return errors.New("the VM did not power off within 2 minutes: killed it")
	}
}

// CopyTo copies a host file into the guest at remotePath (parent directories are made), with
// the same permission bits. It runs at a few MB/s under emulation: hand big files over with
// Options.Media instead.
func (vm *VM) CopyTo(localPath, remotePath string) error {
	f, err := os.Open(localPath)
	if err != nil {
		return fmt.Errorf("copy to the VM: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("copy to the VM: %w", err)
	}
	q := shellQuote(remotePath)
	cmd := fmt.Sprintf("mkdir -p %s && cat >%s.part && chmod %o %s.part && mv -f %s.part %s",
		shellQuote(filepath.Dir(remotePath)), q, fi.Mode().Perm(), q, q, q)
	ctx, cancel := vm.commandContext()
	defer cancel()
	var stderr bytes.Buffer
	code, err := vm.run(ctx, "root", cmd, f, io.Discard, &stderr)
	if err == nil && code != 0 {
		err = fmt.Errorf("exit code %d: %s", code, strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		return fmt.Errorf("copy %s to the VM's %s: %w", localPath, remotePath, err)
	}
	return nil
}

// CopyFrom copies a file of the guest to localPath on the host.
func (vm *VM) CopyFrom(remotePath, localPath string) error {
	f, err := os.Create(localPath)
	if err != nil {
		return fmt.Errorf("copy from the VM: %w", err)
	}
	ctx, cancel := vm.commandContext()
	defer cancel()
	var stderr bytes.Buffer
	code, err := vm.run(ctx, "root", "cat "+shellQuote(remotePath), nil, f, &stderr)
	if err == nil && code != 0 {
		err = fmt.Errorf("exit code %d: %s", code, strings.TrimSpace(stderr.String()))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(localPath)
		return fmt.Errorf("copy the VM's %s to %s: %w", remotePath, localPath, err)
	}
	return nil
}

// ForwardedPort returns the host loopback port that forwards to guestPort, which must be one
// of Options.Forward or Options.ForwardSamePort (or 22).
func (vm *VM) ForwardedPort(guestPort int) int {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if guestPort == 22 {
		return vm.sshPort
	}
	p, ok := vm.ports[guestPort]
	if !ok {
		panic(fmt.Sprintf("testvm: guest port %d is not forwarded: add it to Options.Forward", guestPort))
	}
	return p
}

// Addr returns the host address ("127.0.0.1:PORT") that reaches guestPort.
func (vm *VM) Addr(guestPort int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(vm.ForwardedPort(guestPort)))
}

// SSHCommand is the OpenSSH command line that logs in to the guest as user, for a person
// looking at a test's VM by hand while the test runs.
func (vm *VM) SSHCommand(user string) string {
	return fmt.Sprintf("ssh -i %s -p %d -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null %s@127.0.0.1",
		vm.image.KeyFile(), vm.ForwardedPort(22), user)
}

// Console is the path of the file the guest's serial console (kernel and boot messages) goes to.
func (vm *VM) Console() string { return vm.console }

// ConsoleTail returns the last n lines of the serial console.
func (vm *VM) ConsoleTail(n int) string {
	data, err := os.ReadFile(vm.console)
	if err != nil {
		return fmt.Sprintf("(no console log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Image returns the image the VM booted.
func (vm *VM) Image() *Image { return vm.image }

// makeMedia makes a read-only ext4 disk image holding files under their base names, without
// mounting anything (mkfs.ext4 -d). Files are hard-linked into the staging directory when they
// can be, so big bundles are not copied twice.
func makeMedia(dir, mkfs string, files []string) (string, error) {
	stage := filepath.Join(dir, "media")
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return "", err
	}
	var total int64
	var names []string
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("VM media: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return "", fmt.Errorf("VM media: %s is not a regular file", f)
		}
		name := filepath.Base(f)
		if slices.Contains(names, name) {
			return "", fmt.Errorf("VM media: two files named %s", name)
		}
		names = append(names, name)
		dst := filepath.Join(stage, name)
		if err := os.Link(f, dst); err != nil {
			if err := copyFile(f, dst); err != nil {
				return "", fmt.Errorf("VM media: %w", err)
			}
			os.Chmod(dst, fi.Mode().Perm())
		}
		total += (fi.Size() + 4095) &^ 4095
	}
	size := (total + total/16 + 32<<20 + 1<<20 - 1) >> 20 // MiB: data, metadata, slack
	img := filepath.Join(dir, "media.img")
	out, err := exec.Command(mkfs, "-q", "-F", "-m", "0", "-O", "^has_journal", "-L", "WHARF-MEDIA", "-d", stage, img, fmt.Sprintf("%dM", size)).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("VM media: mkfs.ext4: %v: %s", err, out)
	}
	return img, os.RemoveAll(stage)
}

// freePorts returns n distinct loopback TCP ports that were free a moment ago, none of them
// one of avoid.
func freePorts(n int, avoid ...int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l) // held until the end, so that each port comes once
		if p := l.Addr().(*net.TCPAddr).Port; !slices.Contains(avoid, p) {
			ports = append(ports, p)
		}
	}
	return ports, nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// testLog writes each line to the test log.
type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Helper()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
