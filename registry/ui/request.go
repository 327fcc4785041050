package ui

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/wharf-registry/wharf/registry/api"
	"github.com/wharf-registry/wharf/registry/auth"
)

// Cookies the UI sets besides the session's.
const (
	// csrfCookie carries the sign-in and sign-up forms' CSRF token before there is a
	// session (double submit: the form's hidden field must equal it).
	csrfCookie = "wharf_csrf"
	// flashCookie carries a message to the page a form redirects to.
	flashCookie = "wharf_flash"
	// csrfField is the hidden field of every form.
	csrfField = "_csrf_token"
	// maxForm bounds a form's body.
	maxForm = 1 << 20
)

// request is one page request: who asks, and the API as them.
type request struct {
	u  *UI
	w  http.ResponseWriter
	r  *http.Request
	ID auth.Identity
	// csrf is the session's CSRF token, or the pre-session token of an anonymous visitor.
	csrf string
	me   *Me
	// now is a message for the page this request renders.
	now *Flash
}

// handlerFunc serves a page; an error it returns is shown as an error page (an *api.Error
// with its status).
type handlerFunc func(q *request) error

// errStale refuses a form whose CSRF token does not match.
var errStale = &api.Error{Status: http.StatusForbidden, Title: "csrf_failure", ErrorMessage: "This form is stale or was not sent by this site: reload the page and try again."}

func (u *UI) wrap(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := &request{u: u, w: w, r: r}
		id, csrf, err := u.auth.Session(r)
		switch {
		case err == nil:
			q.ID, q.csrf = id, csrf
		case errors.Is(err, auth.ErrBadCredentials):
			if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
				q.csrf = c.Value
			}
		default:
			q.fail(fmt.Errorf("read the session: %w", err))
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseForm(); err != nil {
				q.fail(&api.Error{Status: http.StatusBadRequest, ErrorMessage: "The form could not be read: " + err.Error()})
				return
			}
			if q.csrf == "" || subtle.ConstantTimeCompare([]byte(r.PostFormValue(csrfField)), []byte(q.csrf)) != 1 {
				q.fail(errStale)
				return
			}
		}
		if err := h(q); err != nil {
			q.fail(err)
		}
	})
}

// signedIn reports whether a user (not a robot) is signed in.
func (q *request) signedIn() bool { return !q.ID.Anonymous() }

// formToken is the CSRF token forms carry; for an anonymous visitor it is set in a cookie
// on first use.
func (q *request) formToken() string {
	if q.csrf == "" {
		q.csrf = auth.RandomToken(32)
		http.SetCookie(q.w, &http.Cookie{Name: csrfCookie, Value: q.csrf, Path: "/", HttpOnly: true,
			Secure: q.u.secure(q.r), SameSite: http.SameSiteLaxMode})
	}
	return q.csrf
}

func (u *UI) secure(r *http.Request) bool { return u.opts.SecureCookies || r.TLS != nil }

// get reads an API resource as the request's user into out.
func (q *request) get(path string, query url.Values, out any) error {
	return q.call(http.MethodGet, path, query, nil, out)
}

// call runs an API operation as the request's user and decodes its answer into out (when
// not nil).
func (q *request) call(method, path string, query url.Values, body, out any) error {
	raw, err := q.u.api.Invoke(q.r, q.ID, method, path, query, body)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("read the answer of %s %s: %w", method, path, err)
	}
	return nil
}

// form returns a trimmed form value.
func (q *request) form(name string) string { return strings.TrimSpace(q.r.PostFormValue(name)) }

// redirect ends a form: it sends the browser to path (see other) with a message for the
// next page. kind is "ok" or "error".
func (q *request) redirect(path, kind, msg string) error {
	if msg != "" {
		http.SetCookie(q.w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(kind + "|" + msg), Path: "/",
			HttpOnly: true, Secure: q.u.secure(q.r), SameSite: http.SameSiteLaxMode, MaxAge: 60})
	}
	http.Redirect(q.w, q.r, path, http.StatusSeeOther)
	return nil
}

// back ends a form that failed: the message of err (an API refusal, say) is shown on the
// page at path. Errors that are not the API's answers are returned, to be shown as an
// error page and logged.
func (q *request) back(path string, err error) error {
	var e *api.Error
	if !errors.As(err, &e) {
		return err
	}
	return q.redirect(path, "error", e.ErrorMessage)
}

// flash reads (and clears) the message a form left for this page.
func (q *request) flash() *Flash {
	c, err := q.r.Cookie(flashCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	http.SetCookie(q.w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	v, err := url.QueryUnescape(c.Value)
	if err != nil {
		return nil
	}
	kind, msg, ok := strings.Cut(v, "|")
	if !ok || (kind != "ok" && kind != "error") {
		return nil
	}
	return &Flash{Kind: kind, Message: msg}
}

// Flash is a message left by a form for the page it led to.
type Flash struct {
	Kind    string // ok or error
	Message string
}

// Me is the signed-in user as the layout shows them.
type Me struct {
	Username      string `json:"username"`
	Email         string `json:"email"`
	SuperUser     bool   `json:"super_user"`
	Avatar        Avatar `json:"avatar"`
	Organizations []struct {
		Name          string `json:"name"`
		IsOrgAdmin    bool   `json:"is_org_admin"`
		CanCreateRepo bool   `json:"can_create_repo"`
		Avatar        Avatar `json:"avatar"`
	} `json:"organizations"`
}

// Avatar is the API's avatar object.
type Avatar struct {
	Name  string `json:"name"`
	Hash  string `json:"hash"`
	Color string `json:"color"`
	Kind  string `json:"kind"`
}

// viewer loads the signed-in user (nil when anonymous).
func (q *request) viewer() (*Me, error) {
	if !q.signedIn() {
		return nil, nil
	}
	if q.me == nil {
		var me Me
		if err := q.get("/api/v1/user/", nil, &me); err != nil {
			return nil, err
		}
		q.me = &me
	}
	return q.me, nil
}

// superuser reports whether the signed-in user is a superuser.
func (q *request) superuser() bool {
	me, err := q.viewer()
	return err == nil && me != nil && me.SuperUser
}

// localPath accepts a path on this site for a redirect after sign-in ("/" otherwise).
func localPath(p string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	return p
}

// flashNow shows a message on the page this request renders.
func (q *request) flashNow(f *Flash) { q.now = f }

// badForm is a refusal of a form's input, shown beside the form.
func badForm(msg string) error {
	return &api.Error{Status: http.StatusBadRequest, ErrorMessage: msg}
}
