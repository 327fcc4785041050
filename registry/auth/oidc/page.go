package oidc

import (
	"html/template"
	"log/slog"
	"net/http"
)

// errorPage is the page of a failed login. It is plain on purpose: it must work when nothing
// else does, and a person or a script must be able to read it.
var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Login failed - Wharf</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<main id="oidc-error" data-status="{{.Status}}">
<h1>Login with {{.Service}} failed</h1>
<p id="oidc-error-what">{{.What}}</p>
<p id="oidc-error-todo">{{.Todo}}</p>
{{if .Detail}}<p>Details: <code id="oidc-error-detail">{{.Detail}}</code></p>
{{end}}<p><a href="{{.Start}}">Start again</a> &middot; <a href="/">Home</a></p>
</main>
</body>
</html>
`))

// fail logs the failure and answers its page.
func (p *Provider) fail(w http.ResponseWriter, r *http.Request, e *loginError) {
	level := slog.LevelInfo // the browser's doing: a stale or forged request
	if e.status >= http.StatusInternalServerError {
		level = slog.LevelWarn // the provider's or the configuration's
	}
	attrs := []slog.Attr{slog.String("provider", p.cfg.Name), slog.Int("status", e.status), slog.String("reason", e.what)}
	if e.err != nil {
		attrs = append(attrs, slog.String("error", e.err.Error()))
	}
	p.cfg.Logger.LogAttrs(r.Context(), level, "OIDC login failed", attrs...)

	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(e.status)
	if r.Method == http.MethodHead {
		return
	}
	var detail string
	if e.err != nil {
		detail = e.err.Error()
	}
	err := errorPage.Execute(w, struct {
		Status                      int
		Service, What, Todo, Detail string
		Start                       string
	}{e.status, p.cfg.ServiceName, e.what, e.todo, detail, p.StartPath()})
	if err != nil {
		p.cfg.Logger.WarnContext(r.Context(), "OIDC login: write the error page", "provider", p.cfg.Name, "error", err)
	}
}
