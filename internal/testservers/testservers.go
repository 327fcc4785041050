// Package testservers starts the real servers that backend tests run against (PostgreSQL, an
// S3-compatible store, ...). Each server starts once per test binary, on loopback, in a private
// directory, and is stopped by Main when the tests end.
//
// The binaries come from PATH, from Debian's install locations, or from the tools directory that
// `make deps` fills ($WHARF_TOOLS_DIR, by default ~/.cache/wharf/bin). A missing binary fails the
// test with the command that installs it.
package testservers

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	mu       sync.Mutex
	stoppers []func()
)

// Main runs the tests of a package that uses servers from this package and stops the servers
// afterwards. Call it from TestMain: func TestMain(m *testing.M) { testservers.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	StopAll()
	os.Exit(code)
}

// StopAll stops every server started so far.
func StopAll() {
	mu.Lock()
	defer mu.Unlock()
	for i := len(stoppers) - 1; i >= 0; i-- {
		stoppers[i]()
	}
	stoppers = nil
}

func onStop(fn func()) {
	mu.Lock()
	defer mu.Unlock()
	stoppers = append(stoppers, fn)
}

// ToolsDir is where `make deps` installs test tools built with go install.
func ToolsDir() string {
	if d := os.Getenv("WHARF_TOOLS_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "wharf-tools")
	}
	return filepath.Join(home, ".cache", "wharf", "bin")
}

// LookTool finds an executable on PATH, in the tools directory or in the extra directories
// (which may be glob patterns), or fails the test saying how to install it.
func LookTool(t testing.TB, name string, extraDirs ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	dirs := append([]string{ToolsDir()}, extraDirs...)
	for _, pattern := range dirs {
		matches, _ := filepath.Glob(filepath.Join(pattern, name))
		for i := len(matches) - 1; i >= 0; i-- {
			if fi, err := os.Stat(matches[i]); err == nil && fi.Mode()&0o111 != 0 {
				return matches[i]
			}
		}
	}
	t.Fatalf("%s is not installed: run `make deps` (it installs every tool the tests need)", name)
	return ""
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := freeTCPPort()
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	return port
}

func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitTCP waits until addr accepts connections or the timeout passes.
func WaitTCP(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not accept connections within %s: %w", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startProcess starts cmd in its own process group, killed with the test binary, and registers
// a stopper that terminates it.
func startProcess(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	onStop(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	return nil
}

// privateDir makes a fresh directory for a server's data, removed at StopAll.
func privateDir(prefix string) (string, error) {
	dir, err := os.MkdirTemp("", "wharf-"+prefix+"-")
	if err != nil {
		return "", err
	}
	onStop(func() { os.RemoveAll(dir) })
	return dir, nil
}

// syncWriter collects a server's output for test failure messages, keeping the most recent
// megabytes when there is more.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w.Len() > 4<<20 {
		keep := append([]byte(nil), s.w.Bytes()[s.w.Len()-(2<<20):]...)
		s.w.Reset()
		s.w.Write(keep)
	}
	return s.w.Write(b)
}

// stopGroup terminates a server's process group (SIGTERM, then SIGKILL after ten seconds)
// and waits until done is closed.
func stopGroup(pid int, done <-chan struct{}) {
	select {
	case <-done:
		return
	default:
	}
	syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
}

// testProcess is a server process started for one test by startForTest.
type testProcess struct {
	cmd  *exec.Cmd
	out  *Output
	done chan struct{} // closed when the process has exited
}

// startForTest starts cmd in its own process group, collecting its output, stops the group
// when the test ends, and waits up to timeout until ready returns nil. If the process exits
// first, the error holds the end of its output, and retry reports whether that output holds
// one of inUse: a port taken meanwhile, so that the caller tries other ports.
func startForTest(t testing.TB, name string, cmd *exec.Cmd, timeout time.Duration, ready func() error, inUse ...string) (p *testProcess, retry bool, err error) {
	t.Helper()
	out := &Output{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, false, fmt.Errorf("run %s: %w", cmd.Path, err)
	}
	p = &testProcess{cmd: cmd, out: out, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { stopGroup(cmd.Process.Pid, p.done) })
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return p, false, nil
		}
		select {
		case <-p.done:
			tail := out.Tail(4096)
			for _, s := range inUse {
				retry = retry || strings.Contains(tail, s)
			}
			return nil, retry, fmt.Errorf("%s exited (%v) before it was ready (%v); its output ends:\n%s", name, cmd.ProcessState, err, tail)
		default:
		}
		if time.Now().After(deadline) {
			return nil, false, fmt.Errorf("%s was not ready within %s: %w; its output ends:\n%s", name, timeout, err, out.Tail(4096))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
