package clair

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/wharf-registry/wharf/scanner/report"
)

// DefaultMaxRequestBytes is the largest request body a handler reads unless told otherwise.
// A manifest of a hundred layers, each with a signed URL and its headers, is well under
// 1 MiB; a bulk delete of ten thousand digests is under 1 MiB too.
const DefaultMaxRequestBytes = 4 << 20

// HandlerOptions configure NewHandler.
type HandlerOptions struct {
	// PSK is the pre-shared key (the raw bytes, already base64-decoded). When set, every
	// request must carry a JWT signed with it (HS256) by one of Issuers; without it, the
	// API is open.
	PSK []byte
	// Issuers are the JWT issuers accepted with PSK; empty means DefaultIssuers.
	Issuers []string
	// Log receives failures: 5xx at Error, refused authentication at Info, other client
	// errors at Debug. Nil discards them.
	Log *slog.Logger
	// MaxRequestBytes bounds a request body (a manifest, a bulk delete); 0 means
	// DefaultMaxRequestBytes. A larger body is answered 413.
	MaxRequestBytes int64
}

// NewHandler returns the Clair v4 API (indexer and matcher endpoints) over b. Paths are
// served from the root; mount the handler at "/" of its server or port.
func NewHandler(b Backend, opts HandlerOptions) http.Handler {
	h := &handler{b: b, log: opts.Log, maxBody: opts.MaxRequestBytes}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxRequestBytes
	}
	if len(opts.PSK) > 0 {
		h.auth = newPSKAuth(opts.PSK, opts.Issuers)
	}
	mux := http.NewServeMux()
	mux.Handle(pathIndexReport, h.endpoint(h.indexReports))
	mux.Handle(pathIndexReport+"/{digest}", h.endpoint(h.indexReport))
	mux.Handle(pathIndexState, h.endpoint(h.indexState))
	mux.Handle(pathVulnerabilityReport+"/{digest}", h.endpoint(h.vulnerabilityReport))
	mux.Handle(pathUpdateOperation, h.endpoint(h.updateOperations))
	mux.Handle("/", h.endpoint(func(w http.ResponseWriter, r *http.Request) error {
		return httpErrorf(http.StatusNotFound, nil, "%s %s is not an endpoint of this scanner", r.Method, short(r.URL.Path))
	}))
	h.mux = mux
	return h
}

type handler struct {
	b       Backend
	auth    *pskAuth
	log     *slog.Logger
	maxBody int64
	mux     *http.ServeMux
}

// ServeHTTP authenticates the request and routes it.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := requestID(r)
	w.Header().Set("X-Request-Id", id)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
	if h.auth != nil {
		if err := h.auth.check(r); err != nil {
			challenge := `Bearer realm="clair"`
			if !errors.Is(err, errNoToken) {
				challenge += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			h.fail(w, r, httpErrorf(http.StatusUnauthorized, err, "unauthorized: %v", err))
			return
		}
	}
	h.mux.ServeHTTP(w, r)
}

type requestIDKey struct{}

// requestID returns the request's X-Request-Id when it is a sensible one, or a new one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 64 && printable(id) {
		return id
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// httpError is an answer other than success: its status, the message for the client, and
// the cause for the log.
type httpError struct {
	status  int
	message string
	cause   error
}

func (e *httpError) Error() string { return e.message }
func (e *httpError) Unwrap() error { return e.cause }

func httpErrorf(status int, cause error, format string, args ...any) *httpError {
	return &httpError{status: status, message: fmt.Sprintf(format, args...), cause: cause}
}

// errorCodes are the codes of the error document, one per status, as Clair names them.
var errorCodes = map[int]string{
	http.StatusBadRequest:            "bad-request",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusNotFound:              "not-found",
	http.StatusMethodNotAllowed:      "method-not-allowed",
	http.StatusPreconditionFailed:    "precondition-failed",
	http.StatusRequestEntityTooLarge: "too-large",
	http.StatusUnsupportedMediaType:  "unsupported-media-type",
	http.StatusInternalServerError:   "internal-error",
}

// statusClientClosedRequest is logged (nginx's convention) when the client went away.
const statusClientClosedRequest = 499

// endpoint adapts a handler that returns its failure.
func (h *handler) endpoint(f func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			h.fail(w, r, err)
		}
	})
}

// fail logs err and answers it with the API's error document.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	if !errors.As(err, &he) {
		he = httpErrorf(http.StatusInternalServerError, err, "internal error: %v", err)
	}
	ctx := r.Context()
	status := he.status
	if ctx.Err() != nil {
		status = statusClientClosedRequest
	}
	attrs := []any{
		"request_id", ctx.Value(requestIDKey{}),
		"method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr,
		"status", status, "message", he.message,
	}
	if he.cause != nil {
		attrs = append(attrs, "err", he.cause.Error())
	}
	switch {
	case status == statusClientClosedRequest:
		// The client went away (or timed out): nobody reads the answer.
		h.log.DebugContext(ctx, "scanner API: client gone", attrs...)
		w.WriteHeader(statusClientClosedRequest)
		return
	case he.status >= 500:
		h.log.ErrorContext(ctx, "scanner API: request failed", attrs...)
	case he.status == http.StatusUnauthorized:
		h.log.InfoContext(ctx, "scanner API: authentication refused", attrs...)
	default:
		h.log.DebugContext(ctx, "scanner API: bad request", attrs...)
	}
	code := errorCodes[he.status]
	if code == "" {
		code = strings.ReplaceAll(strings.ToLower(http.StatusText(he.status)), " ", "-")
	}
	ct, ok := negotiate(r, mediaError, mediaJSON)
	if !ok {
		ct = mediaError
	}
	w.Header().Del("Location")
	w.Header().Del("Link")
	h.write(w, r, he.status, ct, report.Error{Code: code, Message: he.message})
}

// write sends v as the response's JSON body.
func (h *handler) write(w http.ResponseWriter, r *http.Request, status int, contentType string, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only a document holding something JSON cannot say (a NaN) gets here.
		h.log.ErrorContext(r.Context(), "scanner API: cannot encode the answer",
			"request_id", r.Context().Value(requestIDKey{}), "path", r.URL.Path, "err", err.Error())
		buf.Reset()
		status, contentType = http.StatusInternalServerError, mediaError
		_ = json.NewEncoder(&buf).Encode(report.Error{Code: "internal-error", Message: "cannot encode the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := buf.WriteTo(w); err != nil {
		h.log.DebugContext(r.Context(), "scanner API: cannot write the answer",
			"request_id", r.Context().Value(requestIDKey{}), "path", r.URL.Path, "err", err.Error())
	}
}

// methods answers 405 unless the request's method is one of allowed.
func methods(w http.ResponseWriter, r *http.Request, allowed ...string) error {
	if slices.Contains(allowed, r.Method) {
		return nil
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	return httpErrorf(http.StatusMethodNotAllowed, nil, "method %s is not allowed here: use %s", short(r.Method), strings.Join(allowed, " or "))
}

// accept negotiates the response's media type, or answers 415 as the document has it (its
// only status for an unusable media type either way).
func accept(r *http.Request, offers ...string) (string, error) {
	if ct, ok := negotiate(r, offers...); ok {
		return ct, nil
	}
	return "", httpErrorf(http.StatusUnsupportedMediaType, nil,
		"cannot answer in any media type the Accept header lists (%s): this endpoint answers %s",
		short(strings.Join(r.Header.Values("Accept"), ", ")), strings.Join(offers, " or "))
}

// contentType answers 415 unless the request body is of the endpoint's media type or JSON.
func contentType(r *http.Request, own string) error {
	if requestTypeOK(r, own) {
		return nil
	}
	return httpErrorf(http.StatusUnsupportedMediaType, nil,
		"cannot read a body of type %s: send %s or %s", short(r.Header.Get("Content-Type")), own, mediaJSON)
}

// decode reads the request's JSON body into v, at most h.maxBody bytes of it.
func (h *handler) decode(w http.ResponseWriter, r *http.Request, what string, v any) error {
	body := http.MaxBytesReader(w, r.Body, h.maxBody)
	dec := json.NewDecoder(body)
	err := dec.Decode(v)
	if err == nil {
		var extra json.RawMessage
		if err = dec.Decode(&extra); err == io.EOF {
			return nil
		} else if err == nil {
			err = errors.New("more than one JSON value")
		}
	}
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		return httpErrorf(http.StatusRequestEntityTooLarge, err, "the body is larger than %d bytes", mbe.Limit)
	}
	if err == io.EOF {
		return httpErrorf(http.StatusBadRequest, err, "the body is empty: send %s", what)
	}
	return httpErrorf(http.StatusBadRequest, err, "the body is not %s: %v", what, err)
}

// digestParam returns the request's {digest}, or answers 400.
func digestParam(r *http.Request) (string, error) {
	d := r.PathValue("digest")
	if !validDigest(d) {
		return "", badDigest("the path's", d)
	}
	return d, nil
}

func badDigest(what, d string) error {
	return httpErrorf(http.StatusBadRequest, nil,
		"%s digest %q is not a digest: use sha256:<64 hex digits> or sha512:<128 hex digits>", what, short(d))
}

// backendError turns a Backend's failure into the answer: 404 for ErrNotFound, 400 for
// ErrInvalid, 500 otherwise.
func backendError(err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	switch {
	case errors.Is(err, ErrNotFound):
		return httpErrorf(http.StatusNotFound, err, "%s: %v", msg, err)
	case errors.Is(err, ErrInvalid):
		return httpErrorf(http.StatusBadRequest, err, "%s: %v", msg, err)
	default:
		return httpErrorf(http.StatusInternalServerError, err, "%s: %v", msg, err)
	}
}

// indexReports serves /indexer/api/v1/index_report: POST indexes, DELETE deletes in bulk.
func (h *handler) indexReports(w http.ResponseWriter, r *http.Request) error {
	if err := methods(w, r, http.MethodPost, http.MethodDelete); err != nil {
		return err
	}
	if r.Method == http.MethodDelete {
		return h.deleteManifests(w, r)
	}
	return h.index(w, r)
}

func (h *handler) index(w http.ResponseWriter, r *http.Request) error {
	if err := contentType(r, mediaManifest); err != nil {
		return err
	}
	ct, err := accept(r, mediaIndexReport, mediaJSON)
	if err != nil {
		return err
	}
	var m report.Manifest
	if err := h.decode(w, r, "a manifest", &m); err != nil {
		return err
	}
	if err := validateManifest(m); err != nil {
		return err
	}
	ctx := r.Context()
	state, err := h.b.IndexState(ctx)
	if err != nil {
		return backendError(err, "cannot read the indexer state")
	}
	etag := etagFor(state)
	if noneMatch(r, etag) {
		w.Header().Set("Etag", etag)
		return httpErrorf(http.StatusPreconditionFailed, nil, "the indexer is still in the state the request names (If-None-Match %s): a report made in it is current", etag)
	}
	rep, err := h.b.Index(ctx, m)
	if err != nil {
		return backendError(err, "cannot index manifest %s", m.Hash)
	}
	if rep == nil {
		return httpErrorf(http.StatusInternalServerError, nil, "cannot index manifest %s: the indexer returned no report", m.Hash)
	}
	base := requestPath(r)
	loc := strings.TrimSuffix(base, "/") + "/" + m.Hash
	prefix, ok := strings.CutSuffix(strings.TrimSuffix(base, "/"), pathIndexReport)
	if !ok {
		prefix = ""
	}
	vuln := prefix + pathVulnerabilityReport + "/" + m.Hash
	w.Header().Set("Etag", etag) // the state the report was made in: Quay keeps it
	w.Header().Set("Location", loc)
	w.Header().Add("Link", `<`+loc+`>; rel="https://projectquay.io/clair/v1/index_report"`)
	w.Header().Add("Link", `<`+vuln+`>; rel="https://projectquay.io/clair/v1/vulnerability_report"`)
	h.write(w, r, http.StatusCreated, ct, rep)
	return nil
}

// requestPath is the path the client asked for, before any prefix was stripped on the way
// here, so that Location and Link name what the client can ask for.
func requestPath(r *http.Request) string {
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != "" {
		return u.Path
	}
	return r.URL.Path
}

// validateManifest checks what the document requires of a manifest: a digest, and for each
// layer a digest and a URI. (The media type and the headers are left to the indexer.)
func validateManifest(m report.Manifest) error {
	if m.Hash == "" {
		return httpErrorf(http.StatusBadRequest, nil, "the manifest has no hash")
	}
	if !validDigest(m.Hash) {
		return badDigest("the manifest's", m.Hash)
	}
	for i, l := range m.Layers {
		if !validDigest(l.Hash) {
			return badDigest(fmt.Sprintf("layer %d's", i), l.Hash)
		}
		if l.URI == "" {
			return httpErrorf(http.StatusBadRequest, nil, "layer %d (%s) has no uri", i, l.Hash)
		}
	}
	return nil
}

func (h *handler) deleteManifests(w http.ResponseWriter, r *http.Request) error {
	if err := contentType(r, mediaBulkDelete); err != nil {
		return err
	}
	ct, err := accept(r, mediaBulkDelete, mediaJSON)
	if err != nil {
		return err
	}
	var digests []string
	if err := h.decode(w, r, "a JSON array of manifest digests", &digests); err != nil {
		return err
	}
	for i, d := range digests {
		if !validDigest(d) {
			return badDigest(fmt.Sprintf("element %d's", i), d)
		}
	}
	deleted, err := h.b.DeleteManifests(r.Context(), digests)
	if err != nil {
		return backendError(err, "cannot delete %d manifests", len(digests))
	}
	if deleted == nil {
		deleted = []string{}
	}
	h.write(w, r, http.StatusOK, ct, deleted)
	return nil
}

// indexReport serves /indexer/api/v1/index_report/{digest}: GET reads, DELETE deletes.
func (h *handler) indexReport(w http.ResponseWriter, r *http.Request) error {
	if err := methods(w, r, http.MethodGet, http.MethodHead, http.MethodDelete); err != nil {
		return err
	}
	d, err := digestParam(r)
	if err != nil {
		return err
	}
	if r.Method == http.MethodDelete {
		if _, err := h.b.DeleteManifests(r.Context(), []string{d}); err != nil {
			return backendError(err, "cannot delete manifest %s", d)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	ct, err := accept(r, mediaIndexReport, mediaJSON)
	if err != nil {
		return err
	}
	rep, err := h.b.IndexReport(r.Context(), d)
	if err == nil && rep == nil {
		err = fmt.Errorf("no report: %w", ErrNotFound)
	}
	if err != nil {
		return backendError(err, "cannot read the index report of manifest %s", d)
	}
	h.write(w, r, http.StatusOK, ct, rep)
	return nil
}

// indexState serves /indexer/api/v1/index_state, with its Etag.
func (h *handler) indexState(w http.ResponseWriter, r *http.Request) error {
	if err := methods(w, r, http.MethodGet, http.MethodHead); err != nil {
		return err
	}
	ct, err := accept(r, mediaIndexState, mediaJSON)
	if err != nil {
		return err
	}
	state, err := h.b.IndexState(r.Context())
	if err != nil {
		return backendError(err, "cannot read the indexer state")
	}
	etag := etagFor(state)
	w.Header().Set("Etag", etag)
	if noneMatch(r, etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.write(w, r, http.StatusOK, ct, report.IndexState{State: state})
	return nil
}

// vulnerabilityReport serves /matcher/api/v1/vulnerability_report/{digest}: 201, as the
// document has it.
func (h *handler) vulnerabilityReport(w http.ResponseWriter, r *http.Request) error {
	if err := methods(w, r, http.MethodGet, http.MethodHead); err != nil {
		return err
	}
	d, err := digestParam(r)
	if err != nil {
		return err
	}
	ct, err := accept(r, mediaVulnerabilityReport, mediaJSON)
	if err != nil {
		return err
	}
	rep, err := h.b.VulnerabilityReport(r.Context(), d)
	if err == nil && rep == nil {
		err = fmt.Errorf("no report: %w", ErrNotFound)
	}
	if err != nil {
		return backendError(err, "cannot report the vulnerabilities of manifest %s", d)
	}
	h.write(w, r, http.StatusCreated, ct, completeReport(rep))
	return nil
}

// completeReport returns the report with its required members present: empty objects, not
// null, where the document requires an object (clients validate against it; Quay does).
func completeReport(rep *report.VulnerabilityReport) *report.VulnerabilityReport {
	c := *rep
	if c.Packages == nil {
		c.Packages = map[string]*report.Package{}
	}
	if c.Distributions == nil {
		c.Distributions = map[string]*report.Distribution{}
	}
	if c.Environments == nil {
		c.Environments = map[string][]*report.Environment{}
	}
	if c.Vulnerabilities == nil {
		c.Vulnerabilities = map[string]*report.Vulnerability{}
	}
	if c.PackageVulnerabilities == nil {
		c.PackageVulnerabilities = map[string][]string{}
	}
	return &c
}

// Kinds of update operation, the "kind" query of the update_operation endpoint.
const (
	kindVulnerability = "vulnerability"
	kindEnrichment    = "enrichment"
)

// updateOperations serves /matcher/api/v1/internal/update_operation: the operations of one
// kind (vulnerability unless ?kind=enrichment), all of them or the newest of each updater
// (?latest=true), with the newest one's ref as the Etag, as Clair does.
func (h *handler) updateOperations(w http.ResponseWriter, r *http.Request) error {
	if err := methods(w, r, http.MethodGet, http.MethodHead); err != nil {
		return err
	}
	q := r.URL.Query()
	kind := q.Get("kind")
	switch kind {
	case "":
		kind = kindVulnerability
	case kindVulnerability, kindEnrichment:
	default:
		return httpErrorf(http.StatusBadRequest, nil, "unknown kind %q: use %s or %s", short(kind), kindVulnerability, kindEnrichment)
	}
	latest := false
	if s := q.Get("latest"); s != "" {
		var err error
		if latest, err = strconv.ParseBool(s); err != nil {
			return httpErrorf(http.StatusBadRequest, nil, "latest=%q is not a boolean: use true or false", short(s))
		}
	}
	ct, err := accept(r, mediaUpdateOperations, mediaJSON)
	if err != nil {
		return err
	}
	all, err := h.b.UpdateOperations(r.Context())
	if err != nil {
		return backendError(err, "cannot read the update operations")
	}
	ops := make(map[string][]report.UpdateOperation, len(all))
	var newest *report.UpdateOperation
	for _, updater := range sortedKeys(all) {
		list := []report.UpdateOperation{}
		for _, op := range all[updater] {
			if op.Kind == kind || (op.Kind == "" && kind == kindVulnerability) {
				list = append(list, op)
			}
		}
		if len(list) == 0 {
			continue
		}
		for i := range list {
			if newest == nil || list[i].Date.After(newest.Date) {
				newest = &list[i]
			}
		}
		if latest {
			list = list[:1]
		}
		ops[updater] = list
	}
	if newest != nil {
		etag := etagFor(newest.Ref)
		w.Header().Set("Etag", etag)
		if noneMatch(r, etag) {
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
	}
	h.write(w, r, http.StatusOK, ct, ops)
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// short bounds a string taken from a request before it goes into a message.
func short(s string) string {
	const max = 128
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
