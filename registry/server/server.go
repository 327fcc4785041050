package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wharf-registry/wharf/registry/api"
	"github.com/wharf-registry/wharf/registry/audit"
	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/auth/oidc"
	"github.com/wharf-registry/wharf/registry/gc"
	"github.com/wharf-registry/wharf/registry/oci"
	"github.com/wharf-registry/wharf/registry/ratelimit"
	"github.com/wharf-registry/wharf/registry/secscan"
	"github.com/wharf-registry/wharf/registry/storage"
	"github.com/wharf-registry/wharf/registry/storage/drivers"
	"github.com/wharf-registry/wharf/registry/store"
	"github.com/wharf-registry/wharf/registry/teamsync"
	"github.com/wharf-registry/wharf/schema"
)

// Options say where the server finds its configuration and data.
type Options struct {
	ConfigDir string
	DataDir   string
	Listen    string
	Log       *slog.Logger
	// Out receives what a person starting the server should read (URL, login command).
	Out io.Writer
	// DBWait is how long start-up waits for a database that is not up yet (0: fail at once).
	DBWait time.Duration
}

// Server is an assembled registry.
type Server struct {
	Config  *schema.Config
	Store   *store.Store
	Storage storage.Driver
	Auth    *auth.Service
	Audit   *audit.Logger
	// TeamSync synchronizes teams with LDAP groups (nil without LDAP).
	TeamSync *teamsync.Syncer
	// SecScan is the security scanning worker (nil unless FEATURE_SECURITY_SCANNER).
	SecScan  *secscan.Worker
	FromFile bool
	DataDir  string

	opts    Options
	log     *slog.Logger
	handler http.Handler
	oidc    []*oidc.Provider
	tls     *tlsServing
}

// OpenStore opens the metadata database a config names. Files DB_CONNECTION_ARGS names
// (sslrootcert) are relative to the config directory, and PostgreSQL's certificate is
// verified against the system roots plus extra_ca_certs/, as `wharf config validate` checks.
func OpenStore(ctx context.Context, cfg *schema.Config, configDir, dataDir string) (*store.Store, error) {
	return openStore(ctx, cfg, configDir, dataDir, 0, nil)
}

// openStore is OpenStore, waiting up to wait for a database that is not up yet and logging
// each failed try to log.
func openStore(ctx context.Context, cfg *schema.Config, configDir, dataDir string, wait time.Duration, log *slog.Logger) (*store.Store, error) {
	cas, err := ExtraCAs(configDir)
	if err != nil {
		return nil, err
	}
	rootCert := cfg.DBConnectionArgs.SSLRootCert
	if rootCert != "" && rootCert != "system" && !filepath.IsAbs(rootCert) && configDir != "" {
		rootCert = filepath.Join(configDir, rootCert)
	}
	return store.Open(ctx, store.Options{
		URI:            cfg.DBURI,
		DataDir:        dataDir,
		MaxConns:       cfg.DBConnectionArgs.MaxConnections,
		SSLMode:        cfg.DBConnectionArgs.SSLMode,
		SSLRootCert:    rootCert,
		ConnectTimeout: time.Duration(cfg.DBConnectionArgs.ConnectTimeout) * time.Second,
		RootCAs:        cas,
		Wait:           wait,
		OnWait: func(err error) {
			if log != nil {
				log.Info("waiting for the database", "error", err, "up_to", wait)
			}
		},
	})
}

// New assembles a server: it loads the configuration, opens (and migrates) the database and
// the preferred storage location, and loads the signing keys.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	cfg, fromFile, err := LoadConfig(opts.ConfigDir, opts.Listen)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings { // keys Wharf knows but does not honour: never silent
		opts.Log.Warn("config.yaml key ignored", "key", w.Path, "line", w.Line, "why", w.Message)
	}
	dataDir, err := ResolveDataDir(opts.DataDir)
	if err != nil {
		return nil, err
	}
	cas, err := ExtraCAs(opts.ConfigDir)
	if err != nil {
		return nil, err
	}
	serving, err := newTLS(cfg, opts.ConfigDir, dataDir, cas, opts.Log, opts.Out)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg, opts.ConfigDir, dataDir, opts.DBWait, opts.Log)
	if err != nil {
		return nil, err
	}
	pref := cfg.DistributedStoragePreference[0]
	sd, err := drivers.OpenWithRoots(ctx, pref, cfg.DistributedStorageConfig[pref], dataDir, cas)
	if err != nil {
		st.Close()
		return nil, err
	}
	al := audit.New(st)
	authOpts := auth.Options{
		Service:                   cfg.ServerHostname,
		AuthenticationType:        cfg.AuthenticationType,
		AnonymousAccess:           cfg.FeatureAnonymousAccess,
		CreateNamespaceOnPush:     cfg.CreateNamespaceOnPush,
		PublicCatalog:             cfg.FeaturePublicCatalog,
		SuperUsers:                cfg.SuperUsers,
		SuperUsersEnabled:         cfg.FeatureSuperUsers,
		RequireEncryptedPasswords: cfg.FeatureRequireEncryptedBasicAuth,
		AppTokens:                 cfg.FeatureAppSpecificTokens,
		TokenTTL:                  cfg.RegistryTokenExpiration.D(),
		SecureCookies:             cfg.SessionCookieSecure,
		Audit:                     al,
	}
	var dir auth.Directory
	if cfg.AuthenticationType == auth.AuthLDAP {
		d, err := ldapDirectory(cfg, cas)
		if err != nil {
			st.Close()
			return nil, err
		}
		dir = directory{d}
		authOpts.Directory = dir
	}
	as, err := auth.New(ctx, st, authOpts)
	if err != nil {
		st.Close()
		return nil, err
	}
	s := &Server{Config: cfg, Store: st, Storage: sd, Auth: as, Audit: al, FromFile: fromFile, DataDir: dataDir, opts: opts, log: opts.Log, tls: serving}
	if s.oidc, err = s.oidcProviders(ctx, cas); err != nil {
		st.Close()
		return nil, err
	}
	if dir != nil && cfg.FeatureTeamSyncing {
		s.TeamSync = teamsync.New(st, as, dir, al, cfg.TeamResyncStaleTime.D(), opts.Log.With("worker", "teamsync"))
	}
	if s.SecScan, err = s.securityWorker(cas); err != nil {
		st.Close()
		return nil, err
	}
	if s.handler, err = s.routes(); err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the database.
func (s *Server) Close() error { return s.Store.Close() }

func (s *Server) routes() (http.Handler, error) {
	cfg := s.Config
	ociOpts := oci.Options{
		Scheme:           cfg.PreferredURLScheme,
		Host:             cfg.ServerHostname,
		RealmFromRequest: !s.FromFile,
		MaxLayerSize:     int64(cfg.MaximumLayerSize),
		PageSize:         cfg.V2PaginationSize,
		ProxyStorage:     cfg.FeatureProxyStorage,
		AnonymousAccess:  cfg.FeatureAnonymousAccess,
		ReadOnly:         cfg.RegistryState == "readonly",

		CreateNamespaceOnPush: cfg.CreateNamespaceOnPush,
		Audit:                 s.Audit,

		AllowPullsWithoutStrictLogging: cfg.AllowPullsWithoutStrictLogging,
	}
	if s.SecScan != nil {
		ociOpts.Pushed = s.SecScan.Pushed
	}
	registry := oci.NewHandler(s.Store, s.Storage, s.Auth, ociOpts, s.log)
	apiOpts := api.Options{
		UserCreation:   cfg.FeatureUserCreation && cfg.AuthenticationType == auth.AuthDatabase,
		UserInitialize: cfg.FeatureUserInitialize,
		UserLogAccess:  cfg.FeatureUserLogAccess,
		TeamSyncing:    cfg.FeatureTeamSyncing,
		ServerHostname: cfg.ServerHostname,
		Scheme:         cfg.PreferredURLScheme,
		TagExpiration:  cfg.DefaultTagExpiration.D(),
	}
	if s.SecScan != nil {
		apiOpts.Security = s.manifestSecurity
	}
	if s.TeamSync != nil {
		apiOpts.SyncTeam = func(r *http.Request, team store.Team) error { return s.TeamSync.Sync(r.Context(), team) }
	}
	restAPI := api.New(s.Store, s.Auth, s.Audit, apiOpts, s.log)
	mux := http.NewServeMux()
	mux.Handle("/v2/auth", s.Auth.TokenHandler(s.log))
	mux.Handle("/v2/", registry)
	mux.Handle("/v2", http.RedirectHandler("/v2/", http.StatusMovedPermanently))
	mux.Handle("/api/v1/", restAPI)
	mux.Handle("/oauth/", restAPI.OAuthHandler())
	for _, p := range s.oidc {
		mux.Handle("/oauth2/"+p.Name()+"/", p.Handler(s.oidcLogin(p)))
	}
	mux.HandleFunc("/health/instance", s.health(false))
	mux.HandleFunc("/health/endtoend", s.health(true))
	web, err := s.webUI(restAPI)
	if err != nil {
		return nil, err
	}
	mux.Handle("/", web)
	var h http.Handler = mux
	if cfg.FeatureRateLimits {
		limiter := ratelimit.New(cfg.RateLimitRequestsPerSecond, cfg.RateLimitBurst)
		limiter.Respond = rateLimited
		h = limiter.Wrap(h)
	}
	return withRequestLog(h, s.log), nil
}

// rateLimited answers a refused request in the registry's error format on /v2/ and the
// API's elsewhere.
func rateLimited(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	msg := fmt.Sprintf("too many requests from your address: retry in %d seconds", int(wait.Seconds()+0.999))
	var body []byte
	if strings.HasPrefix(r.URL.Path, "/v2") {
		body, _ = json.Marshal(map[string]any{"errors": []map[string]string{{"code": "TOOMANYREQUESTS", "message": msg}}})
	} else {
		body, _ = json.Marshal(map[string]any{"status": 429, "error_message": msg, "title": "too_many_requests",
			"error_type": "too_many_requests", "detail": msg})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	w.Write(body)
}

// Handler is the server's HTTP handler (for tests that serve it themselves).
func (s *Server) Handler() http.Handler { return s.handler }

// Bootstrap creates the first superuser on an empty database and tells the person starting
// the server how to log in. The password comes from WHARF_INITIAL_PASSWORD or is generated and
// saved in the data directory. With FEATURE_USER_INITIALIZE it creates nobody: as in Quay, the
// first user comes through POST /api/v1/user/initialize.
func (s *Server) Bootstrap(ctx context.Context) error {
	n, err := s.Store.CountUsers(ctx)
	if err != nil {
		return err
	}
	host := s.Config.ServerHostname
	if s.Config.AuthenticationType != auth.AuthDatabase {
		fmt.Fprintf(s.opts.Out, "Wharf is serving %s://%s (users sign in through %s; SUPER_USERS are superusers)\n",
			s.Config.PreferredURLScheme, host, s.Config.AuthenticationType)
		return nil
	}
	if n > 0 {
		fmt.Fprintf(s.opts.Out, "Wharf is serving %s://%s\nLog in with: podman login %s%s\n", s.Config.PreferredURLScheme, host, tlsFlag(s.Config), host)
		return nil
	}
	if s.Config.FeatureUserInitialize {
		// As in Quay: the first user comes through the API (wharf install does this).
		fmt.Fprintf(s.opts.Out, "Wharf is serving %s://%s\nNo users yet: create the first with POST /api/v1/user/initialize (FEATURE_USER_INITIALIZE)\n",
			s.Config.PreferredURLScheme, host)
		return nil
	}
	name := "admin"
	if len(s.Config.SuperUsers) > 0 {
		name = s.Config.SuperUsers[0]
	}
	password := os.Getenv("WHARF_INITIAL_PASSWORD")
	generated := password == ""
	if generated {
		if password, err = auth.GeneratePassword(); err != nil {
			return err
		}
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return fmt.Errorf("WHARF_INITIAL_PASSWORD: %w", err)
	}
	created, err := s.Store.CreateFirstUser(ctx, store.User{Name: name, PasswordHash: hash, Superuser: true})
	if err != nil || !created {
		return err
	}
	where := "from WHARF_INITIAL_PASSWORD"
	if generated {
		file := filepath.Join(s.DataDir, "initial-admin-password")
		if err := os.WriteFile(file, []byte(password+"\n"), 0o600); err != nil {
			return fmt.Errorf("save initial password: %w", err)
		}
		where = password + "  (saved in " + file + ")"
	}
	s.log.Info("created first superuser", "user", name)
	fmt.Fprintf(s.opts.Out, "Wharf is serving %s://%s\nFirst start: created superuser %q, password %s\nLog in with: podman login %s-u %s %s\n",
		s.Config.PreferredURLScheme, host, name, where, tlsFlag(s.Config), name, host)
	return nil
}

func tlsFlag(cfg *schema.Config) string {
	if cfg.PreferredURLScheme == "http" {
		return "--tls-verify=false "
	}
	return ""
}

// Run serves on ln and runs the background workers until ctx ends, then shuts down
// gracefully: in-flight requests finish (for up to drain) before Run returns.
func (s *Server) Run(ctx context.Context, ln net.Listener, drain time.Duration) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	workers, stopWorkers := context.WithCancel(context.Background())
	// The TLS certificate (from ACME) is obtained and renewed on the listener's port.
	if err := s.tls.start(workers, ln); err != nil {
		stopWorkers()
		return err
	}
	defer s.tls.stop()
	var wg sync.WaitGroup
	if s.Config.FeatureGarbageCollection {
		collector := gc.New(s.Store, s.Storage, gc.Options{
			Window:       s.Config.DefaultTagExpiration.D(),
			Grace:        s.Config.GarbageCollectionGrace.D(),
			UploadExpiry: s.Config.BlobUploadExpiration.D(),
			Interval:     s.Config.GarbageCollectionInterval.D(),
		}, s.log.With("worker", "gc"))
		wg.Add(1)
		go func() { defer wg.Done(); collector.Run(workers) }()
	}
	if s.TeamSync != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.TeamSync.Run(workers, min(time.Minute, s.Config.TeamResyncStaleTime.D()))
		}()
	}
	if s.SecScan != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.SecScan.Run(workers) }()
	}
	if s.Config.FeatureActionLogRotation {
		wg.Add(1)
		go func() { defer wg.Done(); s.rotateLogs(workers) }()
	}
	s.tls.announce(ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- s.tls.serve(srv, ln) }()
	s.log.Info("serving", "address", ln.Addr().String(), "hostname", s.Config.ServerHostname, "scheme", s.Config.PreferredURLScheme)
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		s.log.Info("shutting down: finishing in-flight requests", "timeout", drain.String())
		sctx, cancel := context.WithTimeout(context.Background(), drain)
		err = srv.Shutdown(sctx)
		cancel()
	}
	stopWorkers()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// health answers Quay's health endpoints with the state of the database and storage.
func (s *Server) health(endToEnd bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		services := map[string]bool{"registry": true}
		dbErr := s.Store.Ping(ctx)
		services["database"] = dbErr == nil
		if dbErr != nil {
			s.log.WarnContext(ctx, "health: the database does not answer", "err", dbErr)
		}
		_, err := s.Storage.Stat(ctx, "health/probe")
		services["storage"] = err == nil || errors.Is(err, storage.ErrNotFound)
		if !services["storage"] {
			s.log.WarnContext(ctx, "health: storage does not answer (check DISTRIBUTED_STORAGE_CONFIG; a private CA goes in extra_ca_certs/)", "err", err)
		}
		if endToEnd && services["database"] {
			_, err := s.Store.CountUsers(ctx)
			services["auth"] = err == nil
		}
		status := http.StatusOK
		for _, ok := range services {
			if !ok {
				status = http.StatusServiceUnavailable
			}
		}
		writeHealth(w, status, services)
	}
}

func writeHealth(w http.ResponseWriter, status int, services map[string]bool) {
	body, _ := json.Marshal(map[string]any{"data": map[string]any{"services": services}, "status_code": status})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// rotateLogs deletes action log entries older than ACTION_LOG_ROTATION_THRESHOLD, hourly.
func (s *Server) rotateLogs(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := s.Audit.Prune(ctx, s.Config.ActionLogRotationThreshold.D())
		if err != nil {
			s.log.Warn("action log rotation failed", "err", err)
		} else if n > 0 {
			s.log.Info("action log rotated", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
