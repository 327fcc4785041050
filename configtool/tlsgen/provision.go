package tlsgen

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wharf-registry/wharf/internal/atomicfile"
)

// Files in a config directory, and in the directory that keeps a CA made here.
const (
	CertFile   = "ssl.cert"   // the server certificate, then its CA chain
	KeyFile    = "ssl.key"    // the server's private key (mode 0600)
	CADirName  = "tls-ca"     // the default CA directory, inside the config directory
	CACertFile = "rootCA.pem" // the CA certificate: what clients trust
	CAKeyFile  = "rootCA.key" // the CA's private key (mode 0600)
)

// Default validity periods.
const (
	DefaultDays   = 365
	DefaultCADays = 3650
)

// Request is what `wharf config tls` asks for.
type Request struct {
	// ConfigDir receives ssl.cert and ssl.key; it is created if missing.
	ConfigDir string
	// Hostnames and IPs are the certificate's subjectAltNames. With neither, the host of
	// SERVER_HOSTNAME in ConfigDir/config.yaml is used.
	Hostnames []string
	IPs       []net.IP
	// Days is the server certificate's validity (0: DefaultDays); CADays a new CA's (0:
	// DefaultCADays).
	Days, CADays int
	// KeyType is the algorithm of new keys ("": ECDSA P-256).
	KeyType KeyType
	// CADir keeps the CA made here, and holds the one reused on later runs (""
	// ConfigDir/tls-ca).
	CADir string
	// CACertFile and CAKeyFile name an existing CA to sign with instead; then no CA is made.
	CACertFile, CAKeyFile string
	// Force replaces an existing ssl.cert and ssl.key.
	Force bool
}

// Result says what Provision did.
type Result struct {
	// CertFile and KeyFile are the paths of ssl.cert and ssl.key.
	CertFile, KeyFile string
	Subjects          Subjects
	NotAfter          time.Time
	// CACertFile is the CA certificate clients are to trust; CAKeyFile its key ("" for a CA
	// given with Request.CACertFile).
	CACertFile, CAKeyFile string
	// CACreated reports that a new CA was made (else an existing one signed).
	CACreated  bool
	CAName     string
	CANotAfter time.Time
	// ServerHostname is SERVER_HOSTNAME from config.yaml ("" when there is none): the
	// host[:port] clients name the registry by.
	ServerHostname string
}

// Provision makes ssl.cert and ssl.key in the config directory, signed by the CA the request
// names, by the CA kept in the CA directory from an earlier run, or else by a new CA it makes
// and keeps there. It refuses to replace ssl.cert or ssl.key unless Force is set. Files are
// written whole or not at all.
func Provision(req Request) (*Result, error) {
	if req.ConfigDir == "" {
		return nil, errors.New("no config directory: give --config-dir DIR (the directory of config.yaml)")
	}
	if (req.CACertFile == "") != (req.CAKeyFile == "") {
		return nil, errors.New("give both --ca-cert and --ca-key to sign with an existing CA, or neither to use Wharf's own CA")
	}
	if req.Days < 0 || req.CADays < 0 {
		return nil, errors.New("--days and --ca-days must be positive numbers of days")
	}
	days, caDays := req.Days, req.CADays
	if days == 0 {
		days = DefaultDays
	}
	if caDays == 0 {
		caDays = DefaultCADays
	}
	if req.KeyType != "" && req.KeyType != ECDSA && req.KeyType != RSA {
		return nil, fmt.Errorf("key type %q: use %q or %q", req.KeyType, ECDSA, RSA)
	}
	res := &Result{CertFile: filepath.Join(req.ConfigDir, CertFile), KeyFile: filepath.Join(req.ConfigDir, KeyFile)}
	res.ServerHostname = serverHostname(req.ConfigDir)

	hostnames := req.Hostnames
	if len(hostnames) == 0 && len(req.IPs) == 0 && res.ServerHostname != "" {
		hostnames = []string{hostOnly(res.ServerHostname)}
	}
	subjects, err := ParseSubjects(hostnames, req.IPs)
	if err != nil {
		return nil, err
	}
	if subjects.Empty() {
		return nil, errors.New("no host name to certify: give --hostname NAME (the name clients use to reach the registry) and/or --ip ADDRESS, or set SERVER_HOSTNAME in config.yaml")
	}
	res.Subjects = subjects

	if !req.Force {
		for _, f := range []string{res.CertFile, res.KeyFile} {
			if _, err := os.Stat(f); err == nil {
				return nil, fmt.Errorf("%s already exists: add --force to replace it (clients keep trusting the new certificate when the same CA signs it)", f)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("check %s: %w", f, err)
			}
		}
	}

	ca, err := loadOrMakeCA(req, caDays, res)
	if err != nil {
		return nil, err
	}
	issued, err := ca.Issue(subjects, req.KeyType, time.Duration(days)*24*time.Hour)
	if err != nil {
		return nil, err
	}
	res.NotAfter = issued.Cert.NotAfter
	res.CAName = ca.Cert.Subject.CommonName
	res.CANotAfter = ca.Cert.NotAfter

	if err := os.MkdirAll(req.ConfigDir, 0o750); err != nil {
		return nil, fmt.Errorf("create config directory: %w", err)
	}
	if res.CACreated {
		if err := saveCA(ca, res); err != nil {
			return nil, err
		}
	}
	keyPEM, err := issued.KeyPEM()
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(res.KeyFile, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(res.CertFile, issued.CertPEM(), 0o644); err != nil {
		return nil, err
	}
	return res, nil
}

// loadOrMakeCA returns the CA to sign with and records where it lives in res.
func loadOrMakeCA(req Request, caDays int, res *Result) (*CA, error) {
	if req.CACertFile != "" {
		ca, err := readCA(req.CACertFile, req.CAKeyFile)
		if err != nil {
			return nil, err
		}
		res.CACertFile = req.CACertFile
		return ca, nil
	}
	dir := req.CADir
	if dir == "" {
		dir = filepath.Join(req.ConfigDir, CADirName)
	}
	res.CACertFile, res.CAKeyFile = filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	_, certErr := os.Stat(res.CACertFile)
	_, keyErr := os.Stat(res.CAKeyFile)
	switch {
	case certErr == nil && keyErr == nil:
		return readCA(res.CACertFile, res.CAKeyFile)
	case certErr == nil || keyErr == nil:
		return nil, fmt.Errorf("%s holds only one of %s and %s: restore the other, or move the directory away to make a new CA (clients must then trust the new one)",
			dir, CACertFile, CAKeyFile)
	case !errors.Is(certErr, fs.ErrNotExist):
		return nil, fmt.Errorf("check %s: %w", res.CACertFile, certErr)
	}
	first := res.Subjects.Strings()[0]
	ca, err := NewCA(fmt.Sprintf("Wharf CA for %s (%s)", first, time.Now().UTC().Format(time.DateOnly)), req.KeyType,
		time.Duration(caDays)*24*time.Hour)
	if err != nil {
		return nil, err
	}
	res.CACreated = true
	return ca, nil
}

func readCA(certFile, keyFile string) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("read CA certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read CA key: %w", err)
	}
	ca, err := LoadCA(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s, %s: %w", certFile, keyFile, err)
	}
	return ca, nil
}

// saveCA writes a new CA's certificate and key into its directory (mode 0700).
func saveCA(ca *CA, res *Result) error {
	if err := os.MkdirAll(filepath.Dir(res.CAKeyFile), 0o700); err != nil {
		return fmt.Errorf("create CA directory: %w", err)
	}
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(res.CAKeyFile, keyPEM, 0o600); err != nil {
		return err
	}
	return atomicfile.WriteFile(res.CACertFile, ca.CertPEM(), 0o644)
}

// serverHostname reads SERVER_HOSTNAME from dir/config.yaml, or returns "" when there is no
// readable one. Only that key is read, so a config still being written does not matter.
func serverHostname(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
	if err != nil {
		return ""
	}
	var doc struct {
		ServerHostname string `yaml:"SERVER_HOSTNAME"`
	}
	if yaml.Unmarshal(data, &doc) != nil {
		return ""
	}
	return strings.TrimSpace(doc.ServerHostname)
}

// hostOnly drops the port of host:port.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}
