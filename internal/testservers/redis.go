package testservers

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// RedisOptions configure a test Redis server.
type RedisOptions struct {
	// Password, when set, is required of clients (requirepass).
	Password string
	// TLS makes the server speak TLS only, with a certificate for localhost and 127.0.0.1
	// signed by the server's own test CA (RedisServer.CACertPEM).
	TLS bool
}

// RedisServer is a Redis server (Debian's redis-server) started for one test.
type RedisServer struct {
	// Host and Port are where it listens: 127.0.0.1 and a free port.
	Host string
	Port int
	// Password is the password clients must give ("" for none).
	Password string
	// TLS reports whether the server speaks TLS; CACertPEM is then the CA that signed its
	// certificate.
	TLS       bool
	CACertPEM []byte
}

// Addr is HOST:PORT.
func (s *RedisServer) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Redis starts a fresh Redis server for this test, stopped when the test ends. It keeps
// nothing on disk, listens on a free loopback port and is accepting connections on return.
func Redis(t testing.TB, opts RedisOptions) *RedisServer {
	t.Helper()
	bin := LookTool(t, "redis-server", "/usr/bin")
	dir := t.TempDir()
	s := &RedisServer{Host: "127.0.0.1", Password: opts.Password, TLS: opts.TLS}
	var tlsArgs []string
	if opts.TLS {
		caPEM, certPEM, keyPEM, err := slapdCertificates()
		if err != nil {
			t.Fatalf("redis: make test certificates: %v", err)
		}
		s.CACertPEM = caPEM
		for name, data := range map[string][]byte{"ca.pem": caPEM, "server.pem": certPEM, "server.key": keyPEM} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				t.Fatalf("redis: %v", err)
			}
		}
		tlsArgs = []string{
			"--tls-cert-file", filepath.Join(dir, "server.pem"),
			"--tls-key-file", filepath.Join(dir, "server.key"),
			"--tls-ca-cert-file", filepath.Join(dir, "ca.pem"),
			"--tls-auth-clients", "no",
		}
	}
	// A port found free may be taken before redis-server binds it: then try another.
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var retry bool
		retry, err = s.start(t, bin, dir, tlsArgs)
		if err == nil || !retry {
			break
		}
	}
	if err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	return s
}

// start runs redis-server on a free port and waits until it accepts connections. retry
// reports that it exited because the port was taken meanwhile.
func (s *RedisServer) start(t testing.TB, bin, dir string, tlsArgs []string) (retry bool, err error) {
	t.Helper()
	s.Port = FreePort(t)
	args := []string{
		"--bind", s.Host,
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--protected-mode", "no",
		"--daemonize", "no",
		"--logfile", "",
	}
	if s.TLS {
		args = append(args, "--port", "0", "--tls-port", strconv.Itoa(s.Port))
		args = append(args, tlsArgs...)
	} else {
		args = append(args, "--port", strconv.Itoa(s.Port))
	}
	if s.Password != "" {
		args = append(args, "--requirepass", s.Password)
	}
	ready := func() error {
		c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
	_, retry, err = startForTest(t, "redis-server", exec.Command(bin, args...), 30*time.Second, ready, "Address already in use")
	return retry, err
}
