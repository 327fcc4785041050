// Package wizard is the guided web wizard of `wharf config wizard`: a password-protected web UI
// that walks a person through the config's field groups, checks each step with the same
// validation as `wharf config validate` (configtool.Validate, which loads the config through
// schema.Parse as `wharf serve` does), shows every problem beside its field, and ends by
// writing the config directory or handing out a config bundle (quay-config.tar.gz).
//
// Pages are rendered on the server and work without JavaScript: each step is a plain form.
// A little script adds live checks on field changes through a JSON endpoint.
package wizard

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/wharf-registry/wharf/configtool"
)

// User is the user name of the wizard's HTTP Basic authentication, as Quay's config tool
// names it.
const User = "wharfconfig"

// maxUpload bounds a request body: a config bundle or a step's form with its certificates.
const maxUpload = 64 << 20

//go:embed templates/*.html static/*
var assets embed.FS

// Options configure a wizard.
type Options struct {
	// ConfigDir is the config directory: the wizard starts from the config.yaml in it (when
	// there is one) and "Save" writes there. Empty: start from the embedded defaults, and offer
	// only the bundle download.
	ConfigDir string
	// Password protects the wizard (HTTP Basic, user wharfconfig). Required.
	Password string
	// Out receives a line for each config the wizard saves (nil: discarded).
	Out io.Writer
	// DataDir is the data directory `wharf serve --data-dir` will use, where relative storage
	// paths and the embedded database live; the checks look there.
	DataDir string
	// CheckTimeout bounds each reachability check (default 5s).
	CheckTimeout time.Duration
}

// Wizard serves the web wizard. It is an http.Handler.
type Wizard struct {
	opts     Options
	cat      *catalog
	sessions sessions
	pages    map[string]*pageTemplate
	handler  http.Handler
}

// New makes a wizard. It fails when the config directory holds a config.yaml that cannot be
// read, saying so, rather than starting over it.
func New(opts Options) (*Wizard, error) {
	if opts.Password == "" {
		return nil, errors.New("wizard: a password is required")
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.CheckTimeout <= 0 {
		opts.CheckTimeout = 5 * time.Second
	}
	cat, err := schemaCatalog()
	if err != nil {
		return nil, err
	}
	wz := &Wizard{opts: opts, cat: cat}
	if wz.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if _, _, _, err := wz.startingPoint(); err != nil {
		return nil, err
	}
	wz.handler = wz.routes()
	return wz, nil
}

// Origin says what a new session starts from: the config directory's config.yaml, or the
// embedded defaults.
func (wz *Wizard) Origin() string {
	origin, _, _, _ := wz.startingPoint()
	return origin
}

// startingPoint reads what a new session starts from.
func (wz *Wizard) startingPoint() (origin string, d map[string]any, files map[string][]byte, err error) {
	if wz.opts.ConfigDir != "" {
		if st, err := os.Stat(wz.opts.ConfigDir); err == nil && !st.IsDir() {
			return "", nil, nil, fmt.Errorf("config directory %s is a file: give the directory that holds (or will hold) config.yaml", wz.opts.ConfigDir)
		}
		src, err := configtool.ReadDir(wz.opts.ConfigDir)
		switch {
		case err == nil:
			d, err := parseDocument(src.Config())
			if err != nil {
				return "", nil, nil, fmt.Errorf("%s: %w (fix it by hand, or move it away to start from the defaults)", filepath.Join(wz.opts.ConfigDir, configtool.ConfigFile), err)
			}
			return filepath.Join(wz.opts.ConfigDir, configtool.ConfigFile), d, src.Files, nil
		case errors.Is(err, fs.ErrNotExist):
			// No config.yaml (or no directory yet): start from the defaults; Save creates it.
		default:
			return "", nil, nil, fmt.Errorf("read config directory: %w", err)
		}
	}
	return "the embedded defaults", map[string]any{}, map[string][]byte{}, nil
}

// newSession starts a session from the config directory or the defaults.
func (wz *Wizard) newSession() (*session, error) {
	origin, d, files, err := wz.startingPoint()
	if err != nil {
		return nil, err
	}
	delete(files, configtool.ConfigFile)
	return &session{origin: origin, doc: d, files: files, raw: map[string]map[string]string{}, inputErrs: map[string]map[string]string{}}, nil
}

// Serve answers on ln until ctx ends, then shuts down gracefully.
func (wz *Wizard) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: wz, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("config wizard: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("config wizard: shut down: %w", err)
	}
	return nil
}

// ServeHTTP implements http.Handler.
func (wz *Wizard) ServeHTTP(w http.ResponseWriter, r *http.Request) { wz.handler.ServeHTTP(w, r) }

func (wz *Wizard) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", wz.withSession(wz.startPage))
	mux.HandleFunc("POST /upload", wz.withSession(wz.upload))
	mux.HandleFunc("POST /reset", wz.withSession(wz.reset))
	mux.HandleFunc("GET /step/{step}", wz.withSession(wz.stepPage))
	mux.HandleFunc("POST /step/{step}", wz.withSession(wz.stepPost))
	mux.HandleFunc("POST /check/{step}", wz.withSession(wz.checkJSON))
	mux.HandleFunc("GET /review", wz.withSession(wz.reviewPage))
	mux.HandleFunc("POST /download", wz.withSession(wz.download))
	mux.HandleFunc("POST /save", wz.withSession(wz.save))
	mux.HandleFunc("GET /static/drivers.css", wz.driversCSS)
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	return securityHeaders(wz.basicAuth(mux))
}

// basicAuth asks for user wharfconfig and the wizard's password on every request.
func (wz *Wizard) basicAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		userOK := subtle.ConstantTimeCompare([]byte(user), []byte(User)) == 1
		passOK := subtle.ConstantTimeCompare([]byte(pass), []byte(wz.opts.Password)) == 1
		if !ok || !userOK || !passOK {
			w.Header().Set("WWW-Authenticate", `Basic realm="Wharf config wizard", charset="UTF-8"`)
			http.Error(w, "Log in as "+User+" with the password `wharf config wizard` printed when it started.", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// securityHeaders keeps the pages to themselves: no framing, no scripts or styles from
// anywhere else, nothing cached (the pages show passwords).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

type sessionHandler func(w http.ResponseWriter, r *http.Request, sess *session)

// withSession finds the request's session. A GET without one starts one; a POST without one
// (an expired session, or a request from another site) is refused, as is a POST without the
// session's CSRF token.
func (wz *Wizard) withSession(h sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := wz.sessions.get(r)
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
			if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
				var tooBig *http.MaxBytesError
				if errors.As(err, &tooBig) {
					http.Error(w, fmt.Sprintf("The upload is larger than %d MiB; a config bundle or certificate is much smaller.", maxUpload>>20), http.StatusRequestEntityTooLarge)
					return
				}
				http.Error(w, "Could not read the form: "+err.Error(), http.StatusBadRequest)
				return
			}
			if sess == nil {
				http.Error(w, "Your wizard session has expired or was never started: open the start page again ("+wz.home(r)+").", http.StatusForbidden)
				return
			}
			if !sess.validCSRF(r) {
				http.Error(w, "This form is stale or did not come from the wizard (missing or wrong CSRF token): reload the page and submit it again.", http.StatusForbidden)
				return
			}
		}
		if sess == nil {
			var err error
			if sess, err = wz.newSession(); err != nil {
				http.Error(w, "Could not start a session: "+err.Error(), http.StatusInternalServerError)
				return
			}
			wz.sessions.add(w, r, sess)
		}
		sess.mu.Lock()
		defer sess.mu.Unlock()
		h(w, r, sess)
	}
}

func (wz *Wizard) home(r *http.Request) string { return "http://" + r.Host + "/" }

// render executes a page template; a page that fails to render is a bug, reported as such.
func (wz *Wizard) render(w http.ResponseWriter, status int, name string, data *pageData) {
	var buf bytes.Buffer
	if err := wz.pages[name].execute(&buf, data); err != nil {
		http.Error(w, "render "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// stepIndex returns the position of a step in configtool.Groups, or -1.
func stepIndex(step string) int {
	for i, g := range configtool.Groups {
		if g == step {
			return i
		}
	}
	return -1
}

// stepURL is the page of a step; past the last step comes the review.
func stepURL(i int) string {
	if i < 0 {
		return "/"
	}
	if i >= len(configtool.Groups) {
		return "/review"
	}
	return "/step/" + configtool.Groups[i]
}

// source builds the session's configtool.Source.
func (wz *Wizard) source(sess *session) (configtool.Source, error) {
	return buildSource(wz.opts.ConfigDir, sess.doc, sess.files, wz.cat.order)
}

// validate runs configtool.Validate on the session's config: the problems of every group,
// and the checks of the groups asked for (all when none; offline, only those that read
// nothing but the config's files).
func (wz *Wizard) validate(ctx context.Context, sess *session, offline bool, groups ...string) (*configtool.Report, error) {
	src, err := wz.source(sess)
	if err != nil {
		return nil, err
	}
	return configtool.Validate(ctx, src, configtool.Options{Offline: offline, Groups: groups, Timeout: wz.opts.CheckTimeout, DataDir: wz.opts.DataDir})
}
