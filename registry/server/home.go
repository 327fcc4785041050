package server

import (
	"html/template"
	"net/http"
)

// homePage is the landing page until the web UI arrives: who is signed in, how to log in
// with a CLI, and the configured login providers.
var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body>
<h1>{{.Title}}</h1>
{{if .User}}
<p id="signed-in">Signed in as <strong id="username">{{.User}}</strong></p>
<p>For podman, skopeo and docker, create an app-specific token (POST /api/v1/user/apptoken) and log in with
<code>podman login -u '$app' {{.Host}}</code>.</p>
<form method="post" action="/signout"><input type="hidden" name="_csrf_token" value="{{.CSRF}}"><button type="submit">Sign out</button></form>
{{else}}
<p>Log in: <code>podman login {{.Host}}</code></p>
{{range .Providers}}<p><a class="login" href="{{.Path}}">Sign in with {{.Name}}</a></p>{{end}}
{{end}}
</body></html>
`))

type providerLink struct{ Name, Path string }

// home serves the landing page.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	data := struct {
		Title, Host, User, CSRF string
		Providers               []providerLink
	}{Title: s.Config.RegistryTitle, Host: s.Config.ServerHostname}
	if id, csrf, err := s.Auth.Session(r); err == nil {
		data.User, data.CSRF = id.Name(), csrf
	}
	for _, p := range s.oidc {
		data.Providers = append(data.Providers, providerLink{Name: p.ServiceName(), Path: p.StartPath()})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	homePage.Execute(w, data)
}

// signOut ends the web session.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "sign out with POST", http.StatusMethodNotAllowed)
		return
	}
	if _, csrf, err := s.Auth.Session(r); err != nil || r.PostFormValue("_csrf_token") != csrf {
		http.Error(w, "not signed in, or the form is stale: reload the page", http.StatusBadRequest)
		return
	}
	if err := s.Auth.EndSession(r.Context(), w, r); err != nil {
		http.Error(w, "sign-out failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
