package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/wharf-registry/wharf/schema"
)

// Files in the config directory that concern TLS, as Quay names them.
const (
	CertFile   = "ssl.cert"       // the server certificate, then its CA chain
	KeyFile    = "ssl.key"        // its private key
	ExtraCADir = "extra_ca_certs" // CAs trusted for the server's own outbound connections
	// ACMEDir is where, under the data directory, certificates from ACME are kept.
	ACMEDir = "acme"
)

// ExtraCAs returns the system roots plus the certificates in CONFIG_DIR/extra_ca_certs/
// (Quay's place for the CAs of LDAP servers, OIDC providers, object storage and the ACME
// directory), or nil for the system roots alone. Every outbound TLS client of the server
// trusts this pool.
func ExtraCAs(configDir string) (*x509.CertPool, error) {
	if configDir == "" {
		return nil, nil
	}
	dir := filepath.Join(configDir, ExtraCADir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var pool *x509.CertPool
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if pool == nil {
			if pool, err = x509.SystemCertPool(); err != nil {
				pool = x509.NewCertPool()
			}
		}
		f := filepath.Join(dir, e.Name())
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("extra CA certificate: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("extra CA certificate %s holds no PEM certificate: put PEM CA certificates (-----BEGIN CERTIFICATE-----) in %s, or remove the file", f, dir)
		}
	}
	return pool, nil
}

// tlsMode is how the server meets its clients.
type tlsMode int

const (
	modeHTTP     tlsMode = iota // plain HTTP, http:// URLs
	modeExternal                // plain HTTP behind a proxy that ends TLS (EXTERNAL_TLS_TERMINATION)
	modeFiles                   // HTTPS from ssl.cert and ssl.key
	modeACME                    // HTTPS with a certificate obtained and renewed through ACME
)

// chooseTLSMode decides how to serve from the config and which of ssl.cert and ssl.key exist,
// or says what to change when the combination cannot work.
func chooseTLSMode(cfg *schema.Config, haveCert, haveKey bool) (tlsMode, error) {
	switch {
	case cfg.ExternalTLSTermination && cfg.FeatureACMETLS:
		return 0, errors.New("FEATURE_ACME_TLS and EXTERNAL_TLS_TERMINATION are both true: an ACME certificate needs Wharf to end TLS itself; " +
			"set EXTERNAL_TLS_TERMINATION: false, or turn FEATURE_ACME_TLS off and let the proxy in front hold the certificate")
	case cfg.ExternalTLSTermination:
		return modeExternal, nil
	case cfg.FeatureACMETLS:
		return modeACME, nil
	case haveCert && haveKey:
		return modeFiles, nil
	case haveCert:
		return 0, fmt.Errorf("%s is there but %s is not: put the certificate's private key in %s, or make both with `wharf config tls`", CertFile, KeyFile, KeyFile)
	case haveKey:
		return 0, fmt.Errorf("%s is there but %s is not: put the certificate (then its CA chain) in %s, or make both with `wharf config tls`", KeyFile, CertFile, CertFile)
	case cfg.PreferredURLScheme == "https":
		return 0, fmt.Errorf("PREFERRED_URL_SCHEME is https but there is no TLS certificate: make one with `wharf config tls --config-dir DIR --hostname %s`, "+
			"set FEATURE_ACME_TLS: true to obtain one from an ACME CA, or set EXTERNAL_TLS_TERMINATION: true when a proxy in front of Wharf ends TLS",
			hostOf(cfg.ServerHostname))
	}
	return modeHTTP, nil
}

// tlsServing serves the registry over plain HTTP or HTTPS, as the config asks.
type tlsServing struct {
	mode    tlsMode
	cfg     *schema.Config
	dataDir string
	roots   *x509.CertPool // extra_ca_certs, for the ACME directory
	log     *slog.Logger

	outMu sync.Mutex
	out   io.Writer

	// modeFiles
	certFile string
	cert     tls.Certificate
	// modeACME
	cache *certmagic.Cache
	magic *certmagic.Config
}

// newTLS decides how to serve and loads ssl.cert and ssl.key when they are used, so that a
// broken certificate stops the server before it listens. Serving HTTPS makes the URLs the
// server hands out https:// whatever PREFERRED_URL_SCHEME says.
func newTLS(cfg *schema.Config, configDir, dataDir string, roots *x509.CertPool, log *slog.Logger, out io.Writer) (*tlsServing, error) {
	t := &tlsServing{cfg: cfg, dataDir: dataDir, roots: roots, log: log, out: out}
	var haveCert, haveKey bool
	if configDir != "" {
		t.certFile = filepath.Join(configDir, CertFile)
		haveCert = exists(t.certFile)
		haveKey = exists(filepath.Join(configDir, KeyFile))
	}
	mode, err := chooseTLSMode(cfg, haveCert, haveKey)
	if err != nil {
		return nil, err
	}
	t.mode = mode
	switch mode {
	case modeFiles:
		if err := t.loadFiles(configDir); err != nil {
			return nil, err
		}
	case modeACME:
		if haveCert || haveKey {
			log.Warn("FEATURE_ACME_TLS is on: ignoring ssl.cert and ssl.key in favour of the certificate from ACME", "directory", cfg.ACMEDirectoryURL)
		}
		if err := os.MkdirAll(filepath.Join(dataDir, ACMEDir), 0o700); err != nil {
			return nil, fmt.Errorf("create the ACME certificate store: %w", err)
		}
	case modeExternal:
		if cfg.PreferredURLScheme != "https" {
			log.Warn("EXTERNAL_TLS_TERMINATION is true but PREFERRED_URL_SCHEME is http: the URLs Wharf hands out say http; set PREFERRED_URL_SCHEME: https")
		}
	}
	if (mode == modeFiles || mode == modeACME) && cfg.PreferredURLScheme != "https" {
		log.Warn("serving HTTPS, so handing out https URLs although PREFERRED_URL_SCHEME is http: set PREFERRED_URL_SCHEME: https")
		cfg.PreferredURLScheme = "https"
	}
	return t, nil
}

// loadFiles loads ssl.cert and ssl.key and warns about a certificate clients will refuse.
func (t *tlsServing) loadFiles(configDir string) error {
	keyFile := filepath.Join(configDir, KeyFile)
	cert, err := tls.LoadX509KeyPair(t.certFile, keyFile)
	if err != nil {
		return fmt.Errorf("load %s and %s: %w (ssl.cert holds PEM certificates, the server's first, then its CA chain; ssl.key its unencrypted PEM private key; `wharf config tls` makes both)",
			t.certFile, keyFile, err)
	}
	t.cert = cert
	leaf := cert.Leaf
	host := hostOf(t.cfg.ServerHostname)
	if err := leaf.VerifyHostname(host); err != nil {
		t.log.Warn("ssl.cert does not name SERVER_HOSTNAME, so clients will refuse it: make a certificate for it with `wharf config tls --hostname "+host+" --force`",
			"host", host, "names", certNames(leaf))
	}
	if time.Now().After(leaf.NotAfter) {
		t.log.Error("ssl.cert has expired, so clients will refuse it: renew it (`wharf config tls --force` with Wharf's CA)", "not_after", leaf.NotAfter)
	}
	return nil
}

// serve serves srv on ln: over TLS 1.2 or later unless the server serves plain HTTP.
func (t *tlsServing) serve(srv *http.Server, ln net.Listener) error {
	switch t.mode {
	case modeFiles:
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{t.cert}}
	case modeACME:
		cfg := t.magic.TLSConfig()
		cfg.MinVersion = tls.VersionTLS12
		cfg.NextProtos = []string{"h2", "http/1.1", acmez.ACMETLS1Protocol}
		srv.TLSConfig = cfg
	default:
		return srv.Serve(ln)
	}
	return srv.ServeTLS(ln, "", "")
}

// start begins obtaining (or loading from the data directory) and renewing the ACME
// certificate, in the background until ctx ends. The TLS-ALPN-01 challenge is answered on the
// listener's own port (the one the CA reaches as port 443 of SERVER_HOSTNAME).
func (t *tlsServing) start(ctx context.Context, ln net.Listener) error {
	if t.mode != modeACME {
		return nil
	}
	host, portText, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return fmt.Errorf("listener address: %w", err)
	}
	port, _ := strconv.Atoi(portText)
	zl := zap.New(&slogCore{h: t.log.Handler()}).Named("acme")
	var magic *certmagic.Config
	t.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return magic, nil },
		Logger:           zl,
	})
	magic = certmagic.New(t.cache, certmagic.Config{
		Storage:           &certmagic.FileStorage{Path: filepath.Join(t.dataDir, ACMEDir)},
		DefaultServerName: hostOf(t.cfg.ServerHostname),
		OnEvent:           t.acmeEvent,
		Logger:            zl,
	})
	magic.Issuers = []certmagic.Issuer{certmagic.NewACMEIssuer(magic, certmagic.ACMEIssuer{
		CA:                   t.cfg.ACMEDirectoryURL,
		Email:                t.cfg.ACMEEmail,
		Agreed:               true,
		DisableHTTPChallenge: true,
		ListenHost:           host,
		AltTLSALPNPort:       port,
		TrustedRoots:         t.roots,
		Logger:               zl,
	})}
	t.magic = magic
	name := hostOf(t.cfg.ServerHostname)
	if err := magic.ManageAsync(ctx, []string{name}); err != nil {
		t.cache.Stop()
		return fmt.Errorf("manage the ACME certificate for %s: %w", name, err)
	}
	return nil
}

// stop ends certificate maintenance.
func (t *tlsServing) stop() {
	if t.cache != nil {
		t.cache.Stop()
	}
}

// announce tells the person starting the server how it is reached.
func (t *tlsServing) announce(addr string) { t.print(t.describe(addr)) }

// describe is the start-up line telling how the server is reached.
func (t *tlsServing) describe(addr string) string {
	host := t.cfg.ServerHostname
	switch t.mode {
	case modeFiles:
		leaf := t.cert.Leaf
		return fmt.Sprintf("Serving https://%s on %s with %s (for %s, valid until %s)",
			host, addr, t.certFile, strings.Join(certNames(leaf), ", "), leaf.NotAfter.Format(time.DateOnly))
	case modeACME:
		return fmt.Sprintf("Serving https://%s on %s with a certificate from %s (obtained and renewed automatically; the CA validates on this port with TLS-ALPN-01)",
			host, addr, t.cfg.ACMEDirectoryURL)
	case modeExternal:
		return fmt.Sprintf("Serving plain HTTP on %s for %s://%s: TLS ends at the proxy in front (EXTERNAL_TLS_TERMINATION)",
			addr, t.cfg.PreferredURLScheme, host)
	}
	return fmt.Sprintf("Serving http://%s on %s", host, addr)
}

// acmeEvent reports certificate events from certmagic to the log and the person who started
// the server.
func (t *tlsServing) acmeEvent(ctx context.Context, event string, data map[string]any) error {
	renewal, _ := data["renewal"].(bool)
	verb := "Obtained"
	if renewal {
		verb = "Renewed"
	}
	switch event {
	case "cert_obtaining":
		t.log.InfoContext(ctx, "requesting a TLS certificate through ACME", "identifier", data["identifier"], "renewal", renewal, "directory", t.cfg.ACMEDirectoryURL)
	case "cert_obtained":
		t.log.InfoContext(ctx, strings.ToLower(verb)+" the TLS certificate through ACME", "identifier", data["identifier"], "issuer", data["issuer"])
		t.print(fmt.Sprintf("%s the TLS certificate for %v from %s", verb, data["identifier"], t.cfg.ACMEDirectoryURL))
	case "cached_managed_cert":
		t.log.InfoContext(ctx, "using the TLS certificate from the ACME store", "names", data["sans"], "store", filepath.Join(t.dataDir, ACMEDir))
	case "cert_failed":
		err, _ := data["error"].(error)
		t.log.ErrorContext(ctx, "obtaining the TLS certificate through ACME failed; Wharf keeps trying: "+acmeHint(err),
			"identifier", data["identifier"], "renewal", renewal, "directory", t.cfg.ACMEDirectoryURL, "err", err)
	}
	return nil
}

// acmeHint says what to check after a failed ACME order.
func acmeHint(err error) string {
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) || (err != nil && strings.Contains(err.Error(), "certificate signed by unknown authority")) {
		return "the ACME directory's TLS certificate is not trusted: put its CA certificate (PEM) in extra_ca_certs/ in the config directory"
	}
	return "check that ACME_DIRECTORY_URL answers and that the CA reaches SERVER_HOSTNAME on port 443, where Wharf must answer (TLS-ALPN-01)"
}

func (t *tlsServing) print(line string) {
	t.outMu.Lock()
	defer t.outMu.Unlock()
	fmt.Fprintln(t.out, line)
}

// certNames lists a certificate's subjectAltNames.
func certNames(c *x509.Certificate) []string {
	names := append([]string{}, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

// hostOf drops the port of SERVER_HOSTNAME.
func hostOf(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// slogCore is a zap core writing to a slog handler, so that certmagic's logs join the
// server's own, in its format.
type slogCore struct {
	h slog.Handler
}

var _ zapcore.Core = (*slogCore)(nil)

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	}
	return slog.LevelError
}

func (c *slogCore) Enabled(l zapcore.Level) bool {
	return c.h.Enabled(context.Background(), slogLevel(l))
}

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{h: c.h.WithAttrs(slogAttrs(fields))}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	r := slog.NewRecord(e.Time, slogLevel(e.Level), e.Message, 0)
	if e.LoggerName != "" {
		r.AddAttrs(slog.String("logger", e.LoggerName))
	}
	r.AddAttrs(slogAttrs(fields)...)
	return c.h.Handle(context.Background(), r)
}

func (c *slogCore) Sync() error { return nil }

// slogAttrs turns zap fields into slog attributes, in name order.
func slogAttrs(fields []zapcore.Field) []slog.Attr {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]slog.Attr, len(keys))
	for i, k := range keys {
		attrs[i] = slog.Any(k, enc.Fields[k])
	}
	return attrs
}
