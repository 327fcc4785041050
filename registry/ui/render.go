package ui

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/wharf-registry/wharf/registry/api"
)

// Page is what every template receives.
type Page struct {
	// Title is the page's title (the registry's title follows it in the tab).
	Title string
	// Nav names the header section to mark current: repositories, organizations, settings,
	// superuser.
	Nav string
	// Site is the registry.
	Site Site
	// Me is the signed-in user (nil when anonymous).
	Me *Me
	// CSRF is the hidden field every form carries.
	CSRF string
	// Flash is the message a form left for this page.
	Flash *Flash
	// Path is the request's path (sign-in links come back to it).
	Path string
	// Messages are the superusers' global messages.
	Messages []Message
	// Data is the page's own data.
	Data any
}

// Site describes the registry to templates.
type Site struct {
	Title, Host, Scheme string
	// SignUp is set when the sign-up page is offered.
	SignUp bool
	// Security is set when the scanner is on.
	Security bool
}

// parseTemplates parses layout.html with the partials (files starting with "_") once, and
// each page (every other file) into its own copy of it.
func (u *UI) parseTemplates() error {
	base := template.New("layout").Funcs(u.funcs())
	if _, err := base.ParseFS(files, "templates/layout.html"); err != nil {
		return fmt.Errorf("ui: parse layout: %w", err)
	}
	partials, _ := fs.Glob(files, "templates/_*.html")
	if len(partials) > 0 {
		if _, err := base.ParseFS(files, partials...); err != nil {
			return fmt.Errorf("ui: parse partials: %w", err)
		}
	}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return err
	}
	u.pages = map[string]*template.Template{}
	for _, n := range names {
		name := path.Base(n)
		if name == "layout.html" || strings.HasPrefix(name, "_") {
			continue
		}
		t, err := base.Clone()
		if err != nil {
			return err
		}
		if _, err := t.ParseFS(files, n); err != nil {
			return fmt.Errorf("ui: parse %s: %w", name, err)
		}
		u.pages[strings.TrimSuffix(name, ".html")] = t
	}
	return nil
}

// render writes a page: the template name (a file in templates/ without .html) inside the
// layout.
func (q *request) render(status int, name, title, nav string, data any) error {
	t := q.u.pages[name]
	if t == nil {
		return fmt.Errorf("ui: no template %q", name)
	}
	me, err := q.viewer()
	if err != nil {
		return err
	}
	p := Page{Title: title, Nav: nav, Site: q.u.site(), Me: me, Flash: q.flashOrNow(), Path: q.r.URL.RequestURI(), Data: data}
	p.CSRF = q.formToken()
	p.Messages = q.globalMessages()
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("ui: render %s: %w", name, err)
	}
	h := q.w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	q.w.WriteHeader(status)
	_, err = q.w.Write(buf.Bytes())
	return err
}

func (u *UI) site() Site {
	return Site{Title: u.opts.Title, Host: u.opts.Hostname, Scheme: u.opts.Scheme, Security: u.opts.Security,
		SignUp: u.opts.UserCreation && u.opts.AuthenticationType == "Database"}
}

// errorPage is the data of the error page.
type errorPage struct {
	Status  int
	Message string
}

// fail shows an error page. API refusals show their message with their status; a page
// that needs a signed-in user sends an anonymous visitor to sign in; anything else is
// logged and shown as an internal error.
func (q *request) fail(err error) {
	var e *api.Error
	if errors.As(err, &e) {
		if e.Status == http.StatusUnauthorized && !q.signedIn() && q.r.Method == http.MethodGet {
			http.Redirect(q.w, q.r, "/signin?next="+urlQuery(q.r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
	} else {
		q.u.log.ErrorContext(q.r.Context(), "ui page failed", "path", q.r.URL.Path, "err", err)
		e = &api.Error{Status: http.StatusInternalServerError, ErrorMessage: "Something went wrong on the server; the server log says what."}
	}
	title := http.StatusText(e.Status)
	if err := q.render(e.Status, "error", title, "", errorPage{Status: e.Status, Message: e.ErrorMessage}); err != nil {
		q.u.log.ErrorContext(q.r.Context(), "ui error page failed", "err", err)
		http.Error(q.w, e.ErrorMessage, e.Status)
	}
}

// notFound is the answer for something that does not exist or that the user may not see:
// the two look the same, so that a page never tells whether a private name exists.
func notFound(what string) error {
	return &api.Error{Status: http.StatusNotFound, ErrorMessage: what + " was not found, or you may not see it."}
}

// loadAssets finds the embedded static files and computes their version.
func (u *UI) loadAssets() error {
	h := sha256.New()
	err := fs.WalkDir(u.static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(u.static, p)
		if err != nil {
			return err
		}
		h.Write([]byte(p))
		h.Write(b)
		if strings.HasPrefix(p, "vendor/") {
			u.hasVendor = true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ui: static files: %w", err)
	}
	u.assetVersion = hex.EncodeToString(h.Sum(nil))[:12]
	return nil
}

// serveStatic serves the embedded static files; their URLs carry the version, so they may
// be cached for long.
func (u *UI) serveStatic(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("v") == u.assetVersion {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	http.StripPrefix("/static/", http.FileServerFS(u.static)).ServeHTTP(w, r)
}

func (q *request) flashOrNow() *Flash {
	if q.now != nil {
		return q.now
	}
	return q.flash()
}
