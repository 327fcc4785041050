package ui

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/wharf-registry/wharf/registry/api"
	"github.com/wharf-registry/wharf/registry/audit"
	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

func (u *UI) signinRoutes() {
	u.handle("GET /signin", u.signinPage)
	u.handle("POST /signin", u.signin)
	u.handle("GET /signup", u.signupPage)
	u.handle("POST /signup", u.signup)
	u.handle("POST /signout", u.signout)
}

// directLogin reports whether the sign-in page offers the password form.
func (u *UI) directLogin() bool {
	return u.opts.DirectLogin && (u.opts.AuthenticationType == auth.AuthDatabase || u.opts.AuthenticationType == auth.AuthLDAP)
}

type signinData struct {
	Next        string
	Username    string
	DirectLogin bool
	LDAP        bool
	Providers   []Provider
}

func (u *UI) signinPage(q *request) error {
	next := localPath(q.r.URL.Query().Get("next"))
	if q.signedIn() {
		http.Redirect(q.w, q.r, next, http.StatusFound)
		return nil
	}
	return q.render(http.StatusOK, "signin", "Sign in", "", u.signinData(next, ""))
}

func (u *UI) signinData(next, username string) signinData {
	d := signinData{Next: next, Username: username, DirectLogin: u.directLogin(), LDAP: u.opts.AuthenticationType == auth.AuthLDAP}
	for _, p := range u.opts.Providers {
		p.StartPath += "?next=" + url.QueryEscape(next)
		d.Providers = append(d.Providers, p)
	}
	return d
}

// signin checks the form's user name and password (the database's or the directory's) and
// starts a session. Tokens and robots do not sign in to the UI.
func (u *UI) signin(q *request) error {
	next := localPath(q.form("next"))
	if !u.directLogin() {
		return &api.Error{Status: http.StatusForbidden, ErrorMessage: "Signing in with a password is turned off here (FEATURE_DIRECT_LOGIN): use a button on the sign-in page."}
	}
	username, password := q.form("username"), q.r.PostFormValue("password")
	id, err := u.auth.Login(q.r.Context(), username, password, auth.LoginContext{IP: audit.ClientIP(q.r), Kind: "ui"})
	if err == nil && (id.Robot() || id.Via != "password") {
		err = auth.ErrBadCredentials
	}
	if err != nil {
		var te *auth.ThrottledError
		msg := "Wrong user name or password."
		switch {
		case errors.As(err, &te):
			msg = te.Error()
		case errors.Is(err, auth.ErrBadCredentials), errors.Is(err, auth.ErrEncryptedPasswordRequired):
		default:
			return err
		}
		q.w.Header().Set("Cache-Control", "no-store")
		q.flashNow(&Flash{Kind: "error", Message: msg})
		return q.render(http.StatusUnauthorized, "signin", "Sign in", "", u.signinData(next, username))
	}
	return u.startSession(q, *id.User, next)
}

// startSession signs user in and sends the browser to next.
func (u *UI) startSession(q *request, user store.User, next string) error {
	if _, err := u.auth.StartSession(q.r.Context(), q.w, q.r, user); err != nil {
		return err
	}
	http.SetCookie(q.w, &http.Cookie{Name: csrfCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	http.Redirect(q.w, q.r, next, http.StatusSeeOther)
	return nil
}

type signupData struct {
	Username, Email string
}

func (u *UI) signupPage(q *request) error {
	if !u.site().SignUp {
		return notFound("The sign-up page")
	}
	return q.render(http.StatusOK, "signup", "Create account", "", signupData{})
}

// signup creates an account through the API (FEATURE_USER_CREATION applies there) and
// signs it in.
func (u *UI) signup(q *request) error {
	if !u.site().SignUp {
		return notFound("The sign-up page")
	}
	d := signupData{Username: q.form("username"), Email: q.form("email")}
	password := q.r.PostFormValue("password")
	var msg string
	if password != q.r.PostFormValue("confirm") {
		msg = "The two passwords differ."
	} else if err := q.call(http.MethodPost, "/api/v1/user/", nil, map[string]string{"username": d.Username, "email": d.Email, "password": password}, nil); err != nil {
		var e *api.Error
		if !errors.As(err, &e) {
			return err
		}
		msg = e.ErrorMessage
	}
	if msg != "" {
		q.flashNow(&Flash{Kind: "error", Message: msg})
		return q.render(http.StatusBadRequest, "signup", "Create account", "", d)
	}
	id, err := u.auth.Login(q.r.Context(), d.Username, password, auth.LoginContext{IP: audit.ClientIP(q.r), Kind: "ui"})
	if err != nil {
		return err
	}
	return u.startSession(q, *id.User, "/repository/")
}

func (u *UI) signout(q *request) error {
	if err := u.auth.EndSession(q.r.Context(), q.w, q.r); err != nil {
		return err
	}
	http.Redirect(q.w, q.r, "/signin", http.StatusSeeOther)
	return nil
}
