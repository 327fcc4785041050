package clair

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/wharf-registry/wharf/scanner/report"
)

// DefaultClientTimeout bounds one request of a Client built without an HTTPClient. Indexing
// a large image can take minutes (Quay allows ten).
const DefaultClientTimeout = 10 * time.Minute

// maxResponseBytes bounds a response body a Client reads: a vulnerability report of a large
// image is tens of MB.
const maxResponseBytes = 256 << 20

// maxErrorBytes bounds how much of an error response a Client reads.
const maxErrorBytes = 64 << 10

// ClientOptions configure NewClient.
type ClientOptions struct {
	// HTTPClient sends the requests; nil means a client with DefaultClientTimeout.
	HTTPClient *http.Client
	// PSK is the pre-shared key (the raw bytes, already base64-decoded). When set, each
	// request carries a fresh JWT signed with it (HS256), valid for two minutes.
	PSK []byte
	// Issuer is the tokens' "iss"; empty means DefaultIssuer ("quay").
	Issuer string
}

// Client calls a server of Clair v4's API: a real Clair or `wharf scanner serve`. It is a
// Backend; its methods are safe for concurrent use.
type Client struct {
	base     *url.URL
	redacted string
	hc       *http.Client
	psk      []byte
	issuer   string
}

var _ Backend = (*Client)(nil)

// NewClient returns a client of the API at endpoint, the server's base URL
// ("http://clair:8080", or with a path when a proxy serves it under one).
func NewClient(endpoint string, opts ClientOptions) (*Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("scanner endpoint %q: %w", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("scanner endpoint %q: the scheme must be http or https", endpoint)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("scanner endpoint %q: no host", endpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("scanner endpoint %q: a base URL has no query or fragment", endpoint)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	c := &Client{base: u, redacted: u.Redacted(), hc: opts.HTTPClient, psk: slices.Clone(opts.PSK), issuer: opts.Issuer}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: DefaultClientTimeout}
	}
	if c.issuer == "" {
		c.issuer = DefaultIssuer
	}
	return c, nil
}

// StatusError is the error of a request the server answered with an unexpected status:
// the status and what the server's error document says. It wraps ErrNotFound for 404,
// ErrInvalid for 400 and ErrStateUnchanged for 412.
type StatusError struct {
	Method     string
	URL        string
	StatusCode int
	// Code and Message are the error document's (Message is the start of the body when
	// the answer is not an error document, e.g. a proxy's page).
	Code    string
	Message string
}

// Error says who answered what.
func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s answered %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		b.WriteString(" (" + e.Code + ")")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Unwrap returns the package's sentinel error for the status, if any.
func (e *StatusError) Unwrap() error {
	switch e.StatusCode {
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusBadRequest:
		return ErrInvalid
	case http.StatusPreconditionFailed:
		return ErrStateUnchanged
	}
	return nil
}

// call is one request of the API.
type call struct {
	method   string
	path     string
	query    url.Values
	body     any    // encoded as JSON when not nil
	bodyType string // the body's media type
	accept   string // the answer's media type (application/json is accepted too)
	header   http.Header
	ok       []int // expected statuses
	out      any   // where the JSON answer goes; nil to discard it
}

// do sends the call and decodes the answer; the response (body closed) is returned for its
// headers.
func (c *Client) do(ctx context.Context, k call) (*http.Response, error) {
	u := *c.base
	u.Path = c.base.Path + k.path
	u.RawQuery = k.query.Encode()
	shown := c.redacted + k.path
	var body io.Reader
	if k.body != nil {
		b, err := json.Marshal(k.body)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encode the request: %w", k.method, shown, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", k.method, shown, err)
	}
	for name, values := range k.header {
		req.Header[name] = values
	}
	if k.body != nil {
		req.Header.Set("Content-Type", k.bodyType)
	}
	if k.accept != "" {
		req.Header.Set("Accept", k.accept+", "+mediaJSON+";q=0.5")
	}
	if len(c.psk) > 0 {
		token, err := signToken(c.psk, c.issuer, time.Now())
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", k.method, shown, err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", k.method, shown, err)
	}
	defer resp.Body.Close()
	if !slices.Contains(k.ok, resp.StatusCode) {
		return resp, statusError(k.method, shown, resp)
	}
	if k.out == nil || resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBytes)) // let the connection be reused
		return resp, nil
	}
	lr := &limitedReader{r: resp.Body, n: maxResponseBytes}
	if err := json.NewDecoder(lr).Decode(k.out); err != nil {
		if lr.n < 0 {
			return resp, fmt.Errorf("%s %s: the answer is larger than %d bytes", k.method, shown, maxResponseBytes)
		}
		return resp, fmt.Errorf("%s %s: the answer (%d, %s) is not the expected JSON document: %w",
			k.method, shown, resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	return resp, nil
}

// statusError reads an error answer.
func statusError(method, shown string, resp *http.Response) error {
	e := &StatusError{Method: method, URL: shown, StatusCode: resp.StatusCode}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	var doc report.Error
	if err := json.Unmarshal(b, &doc); err == nil && (doc.Message != "" || doc.Code != "") {
		e.Code, e.Message = doc.Code, doc.Message
	} else if len(b) > 0 {
		e.Message = snippet(b)
	}
	return e
}

// snippet returns the start of a body as one line of text.
func snippet(b []byte) string {
	const max = 200
	cut := len(b) > max
	if cut {
		b = b[:max]
	}
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "")), " ")
	if cut {
		s += "…"
	}
	return s
}

// limitedReader reads at most n bytes, then fails (n goes negative).
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return 0, errors.New("answer too large")
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return n, errors.New("answer too large")
	}
	return n, err
}

// checkDigest refuses to send a malformed digest (nor put one in a path).
func checkDigest(what, d string) error {
	if !validDigest(d) {
		return fmt.Errorf("%s %q is not a digest (sha256:<64 hex digits> or sha512:<128 hex digits>): %w", what, short(d), ErrInvalid)
	}
	return nil
}

// Index asks the server to index the manifest and returns its index report. The document
// has the server answer 201; 200 is taken as well.
func (c *Client) Index(ctx context.Context, m report.Manifest) (*report.IndexReport, error) {
	rep, _, err := c.IndexIfChanged(ctx, m, "")
	return rep, err
}

// IndexIfChanged is Index with a condition: when knownState is not empty and the indexer is
// still in that state (a report made in it is current), the server answers 412 and the error
// wraps ErrStateUnchanged. It also returns the indexer state the report was made in (the
// answer's Etag, as Quay reads it; knownState on 412).
func (c *Client) IndexIfChanged(ctx context.Context, m report.Manifest, knownState string) (*report.IndexReport, string, error) {
	if err := checkDigest("manifest hash", m.Hash); err != nil {
		return nil, "", fmt.Errorf("index: %w", err)
	}
	var header http.Header
	if knownState != "" {
		header = http.Header{"If-None-Match": {etagFor(knownState)}}
	}
	var rep report.IndexReport
	resp, err := c.do(ctx, call{
		method: http.MethodPost, path: pathIndexReport,
		body: m, bodyType: mediaManifest, accept: mediaIndexReport, header: header,
		ok: []int{http.StatusCreated, http.StatusOK}, out: &rep,
	})
	if err != nil {
		if errors.Is(err, ErrStateUnchanged) {
			return nil, knownState, fmt.Errorf("index manifest %s: %w", m.Hash, err)
		}
		return nil, "", fmt.Errorf("index manifest %s: %w", m.Hash, err)
	}
	return &rep, unquoteETag(resp.Header.Get("Etag")), nil
}

// unquoteETag returns the opaque value of an entity tag.
func unquoteETag(tag string) string {
	tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
	if len(tag) >= 2 && tag[0] == '"' && tag[len(tag)-1] == '"' {
		return tag[1 : len(tag)-1]
	}
	return tag
}

// IndexReport returns the server's index report of a manifest; the error wraps ErrNotFound
// when it was never indexed.
func (c *Client) IndexReport(ctx context.Context, manifestDigest string) (*report.IndexReport, error) {
	if err := checkDigest("manifest digest", manifestDigest); err != nil {
		return nil, fmt.Errorf("read index report: %w", err)
	}
	var rep report.IndexReport
	if _, err := c.do(ctx, call{
		method: http.MethodGet, path: pathIndexReport + "/" + manifestDigest,
		accept: mediaIndexReport, ok: []int{http.StatusOK}, out: &rep,
	}); err != nil {
		return nil, fmt.Errorf("read the index report of manifest %s: %w", manifestDigest, err)
	}
	return &rep, nil
}

// DeleteManifests asks the server to forget the manifests (one bulk request) and returns
// those it deleted. No digests, no request.
func (c *Client) DeleteManifests(ctx context.Context, digests []string) ([]string, error) {
	if len(digests) == 0 {
		return nil, nil
	}
	for _, d := range digests {
		if err := checkDigest("manifest digest", d); err != nil {
			return nil, fmt.Errorf("delete manifests: %w", err)
		}
	}
	var deleted []string
	if _, err := c.do(ctx, call{
		method: http.MethodDelete, path: pathIndexReport,
		body: digests, bodyType: mediaBulkDelete, accept: mediaBulkDelete,
		ok: []int{http.StatusOK}, out: &deleted,
	}); err != nil {
		return nil, fmt.Errorf("delete %d manifests: %w", len(digests), err)
	}
	return deleted, nil
}

// IndexState returns the indexer's state token.
func (c *Client) IndexState(ctx context.Context) (string, error) {
	var st report.IndexState
	if _, err := c.do(ctx, call{
		method: http.MethodGet, path: pathIndexState,
		accept: mediaIndexState, ok: []int{http.StatusOK}, out: &st,
	}); err != nil {
		return "", fmt.Errorf("read the indexer state: %w", err)
	}
	if st.State == "" {
		return "", fmt.Errorf("read the indexer state: %s%s answered without a state: is it a Clair v4 API?", c.redacted, pathIndexState)
	}
	return st.State, nil
}

// VulnerabilityReport returns the server's vulnerability report of a manifest; the error
// wraps ErrNotFound when it was not indexed. The document has the server answer 201; Clair
// itself answers 200, taken as well. (Clair answers 202 without a report while its matcher
// has no vulnerability data yet: that is a StatusError to retry later.)
func (c *Client) VulnerabilityReport(ctx context.Context, manifestDigest string) (*report.VulnerabilityReport, error) {
	if err := checkDigest("manifest digest", manifestDigest); err != nil {
		return nil, fmt.Errorf("read vulnerability report: %w", err)
	}
	var rep report.VulnerabilityReport
	if _, err := c.do(ctx, call{
		method: http.MethodGet, path: pathVulnerabilityReport + "/" + manifestDigest,
		accept: mediaVulnerabilityReport, ok: []int{http.StatusCreated, http.StatusOK}, out: &rep,
	}); err != nil {
		return nil, fmt.Errorf("read the vulnerability report of manifest %s: %w", manifestDigest, err)
	}
	return &rep, nil
}

// UpdateOperations returns the server's imports of vulnerability data, by updater, newest
// first.
func (c *Client) UpdateOperations(ctx context.Context) (map[string][]report.UpdateOperation, error) {
	return c.updateOperations(ctx, false)
}

// LatestUpdateOperations returns the newest import of vulnerability data of each updater.
func (c *Client) LatestUpdateOperations(ctx context.Context) (map[string][]report.UpdateOperation, error) {
	return c.updateOperations(ctx, true)
}

func (c *Client) updateOperations(ctx context.Context, latest bool) (map[string][]report.UpdateOperation, error) {
	q := url.Values{}
	if latest {
		q.Set("latest", "true")
	}
	var ops map[string][]report.UpdateOperation
	if _, err := c.do(ctx, call{
		method: http.MethodGet, path: pathUpdateOperation, query: q,
		accept: mediaUpdateOperations, ok: []int{http.StatusOK}, out: &ops,
	}); err != nil {
		return nil, fmt.Errorf("read the update operations: %w", err)
	}
	if ops == nil {
		ops = map[string][]report.UpdateOperation{}
	}
	return ops, nil
}
