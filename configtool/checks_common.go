package configtool

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// newResult starts a result of a check; the check sets Status, Message and Took.
func newResult(group, check, path string) Result {
	return Result{Group: group, Check: check, Path: path}
}

// ok, fail and skip finish a result, taking the time since start.
func (r Result) ok(start time.Time, format string, args ...any) Result {
	return r.finish(StatusOK, start, format, args...)
}

func (r Result) fail(start time.Time, format string, args ...any) Result {
	return r.finish(StatusFailed, start, format, args...)
}

func (r Result) skip(format string, args ...any) Result {
	return r.finish(StatusSkipped, time.Time{}, format, args...)
}

func (r Result) finish(s Status, start time.Time, format string, args ...any) Result {
	r.Status = s
	r.Message = fmt.Sprintf(format, args...)
	if !start.IsZero() {
		r.Took = time.Since(start)
	}
	return r
}

// extraCAs returns the system roots plus the certificates in the source's extra_ca_certs/, or
// nil (meaning the system roots) when there are none. Files that hold no certificate are
// reported by the consistency checks and ignored here.
func extraCAs(src Source) *x509.CertPool {
	names := extraCAFiles(src)
	if len(names) == 0 {
		return nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	for _, name := range names {
		pool.AppendCertsFromPEM(src.Files[name])
	}
	return pool
}

// extraCAFiles lists the source's extra_ca_certs/ files, sorted.
func extraCAFiles(src Source) []string {
	var names []string
	for name := range src.Files {
		if strings.HasPrefix(name, ExtraCADir+"/") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// tlsConfig is the client TLS configuration for a server named host: the system roots plus
// extra_ca_certs.
func tlsConfig(src Source, host string) *tls.Config {
	return tlsConfigFor(extraCAs(src), host)
}

// tlsConfigFor is the client TLS configuration for a server named host, trusting roots (nil:
// the system's).
func tlsConfigFor(roots *x509.CertPool, host string) *tls.Config {
	return &tls.Config{RootCAs: roots, ServerName: host, MinVersion: tls.VersionTLS12}
}

// configPath resolves a file the config names: relative paths are relative to the config
// directory.
func configPath(src Source, p string) string {
	if filepath.IsAbs(p) || src.Dir == "" {
		return p
	}
	return filepath.Join(src.Dir, p)
}

// dataPath resolves a path in the data directory, as `wharf serve` does: relative paths are
// relative to the data directory (the current directory when none is given).
func dataPath(env *Env, p string) string {
	if !filepath.IsAbs(p) && env.DataDir != "" {
		p = filepath.Join(env.DataDir, p)
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// writableAncestor finds the directory in which `wharf serve` would create path (the nearest
// ancestor that exists) and checks that it is a writable directory. It creates nothing.
func writableAncestor(path string) (string, error) {
	dir := filepath.Dir(path)
	for {
		st, err := os.Stat(dir)
		switch {
		case err == nil && !st.IsDir():
			return dir, fmt.Errorf("%s is a file, not a directory", dir)
		case err == nil:
			if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
				return dir, fmt.Errorf("directory %s is not writable: %w", dir, err)
			}
			return dir, nil
		case !errors.Is(err, os.ErrNotExist):
			return dir, err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir, err
		}
		dir = parent
	}
}

// writableDir checks that dir is a directory this process may create files in.
func writableDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
		return fmt.Errorf("directory %s is not writable: %w", dir, err)
	}
	return nil
}

// withTimeout bounds one check by the environment's timeout.
func withTimeout(ctx context.Context, env *Env) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, env.Timeout)
}

// netReason explains a failure to reach addr in words that say what to look at; "" when err
// is not a network failure it recognizes.
func netReason(err error, addr string, timeout time.Duration) string {
	var dnsErr *net.DNSError
	var unknown x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("the host name %s does not resolve", dnsErr.Name)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("nothing accepts connections at %s (connection refused)", addr)
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return fmt.Sprintf("there is no route to %s", addr)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf("%s did not answer within %s (a firewall, or the wrong host or port?)", addr, timeout)
	case errors.As(err, &unknown):
		return fmt.Sprintf("the TLS certificate of %s is signed by an unknown authority: add the CA that signed it to %s/", addr, ExtraCADir)
	case errors.As(err, &hostErr):
		return fmt.Sprintf("the TLS certificate of %s is not for that name (%v): name the host as its certificate does", addr, hostErr)
	case errors.As(err, &invalid):
		return fmt.Sprintf("the TLS certificate of %s is not valid: %v", addr, invalid)
	case errors.As(err, &recordErr):
		return fmt.Sprintf("%s does not speak TLS there: check the port and the TLS setting", addr)
	}
	return ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// pemCertificates parses the certificates in PEM data, and reports blocks that are not
// certificates (a private key in a CA file, for instance).
func pemCertificates(data []byte) (certs []*x509.Certificate, other []string, err error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			other = append(other, block.Type)
			continue
		}
		c, perr := x509.ParseCertificate(block.Bytes)
		if perr != nil {
			return nil, other, fmt.Errorf("certificate %d: %w", len(certs)+1, perr)
		}
		certs = append(certs, c)
	}
	return certs, other, nil
}
