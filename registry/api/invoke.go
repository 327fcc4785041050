package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/wharf-registry/wharf/registry/auth"
)

// Invoke runs the API operation at method and path (with query) for id, in process, as if id
// had requested it over HTTP: the same route, the same permission checks and the same audit
// entries. body, when not nil, is sent as the JSON body. The answer is the JSON document the
// endpoint would have written; a refusal is an *Error with the status and message the
// endpoint would have answered. The web UI uses it, so that a page shows and changes exactly
// what the API would let its user see and change. r supplies the context and the client
// address recorded in audit entries.
func (a *API) Invoke(r *http.Request, id auth.Identity, method, path string, query url.Values, body any) (json.RawMessage, error) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var route *Route
	var params map[string]string
	best := -1
	for _, rt := range a.routes {
		if rt.Method != method {
			continue
		}
		p, ok := rt.match(segs)
		if !ok {
			p, ok = rt.match(append(segs[:len(segs):len(segs)], ""))
		}
		if ok && rt.literals() > best {
			route, params, best = rt, p, rt.literals()
		}
	}
	if route == nil {
		return nil, fmt.Errorf("api: no route for %s %s", method, path)
	}
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("api: encode %s %s body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	u := &url.URL{Path: path, RawQuery: query.Encode()}
	req, err := http.NewRequestWithContext(r.Context(), method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("api: %s %s: %w", method, path, err)
	}
	req.RemoteAddr = r.RemoteAddr
	req.Header.Set("Content-Type", "application/json")
	for _, h := range []string{"X-Forwarded-For", "X-Real-Ip", "User-Agent"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	req.Host = r.Host
	req.TLS = r.TLS
	rec := httptest.NewRecorder()
	c := &Call{R: req, W: rec, ID: id, api: a, params: params, route: route}
	if id.Robot() {
		return nil, forbidden("robot accounts cannot use the API: use a user's OAuth token")
	}
	if id.Anonymous() && !route.Anonymous {
		return nil, unauthorized()
	}
	out, err := route.Handle(c)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if out == nil {
		return json.RawMessage("null"), nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("api: encode %s %s answer: %w", method, path, err)
	}
	return b, nil
}

// Status is the HTTP status of an API error (500 for errors that are not *Error).
func Status(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}
