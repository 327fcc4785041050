package ui

import "net/http"

// routes registers every page. Each area of the UI registers its pages in its own file
// (repositories.go, organizations.go, ...) through a method listed here.
func (u *UI) routes() {
	u.mux.HandleFunc("GET /static/", u.serveStatic)
	u.handle("GET /{$}", func(q *request) error {
		http.Redirect(q.w, q.r, "/repository/", http.StatusFound)
		return nil
	})
	u.signinRoutes()
	for _, area := range u.areas() {
		area()
	}
	u.handle("/", func(q *request) error { return notFound("This page") })
}
