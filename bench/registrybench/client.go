package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// registryClient speaks the OCI distribution API to one registry, with a bearer token for one
// repository.
type registryClient struct {
	name string
	base *url.URL
	repo string
	http *http.Client
	// token returns a fresh bearer token for pull and push on repo.
	token func(context.Context) (string, error)
	// bearer is the token in use.
	bearer string
}

// newRegistryClient returns a client for the registry at base (http://host:port). Redirects
// are not followed: both registries serve blobs from local disk, so a redirect is an error.
func newRegistryClient(name, base, repo string) *registryClient {
	u, err := url.Parse(base)
	if err != nil {
		panic(err)
	}
	return &registryClient{
		name: name,
		base: u,
		repo: repo,
		http: &http.Client{
			Transport: &http.Transport{
				Proxy:               nil,
				MaxIdleConnsPerHost: 8,
				IdleConnTimeout:     time.Minute,
				DisableCompression:  true,
				ReadBufferSize:      64 << 10,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// refreshToken gets a new token (before each phase, so none expires mid-measurement).
func (c *registryClient) refreshToken(ctx context.Context) error {
	t, err := c.token(ctx)
	if err != nil {
		return fmt.Errorf("%s: get token: %w", c.name, err)
	}
	c.bearer = t
	return nil
}

func (c *registryClient) url(path string) string { return c.base.String() + path }

func (c *registryClient) newRequest(ctx context.Context, method, u string, body io.Reader) *http.Request {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.bearer)
	return req
}

// statusError describes an unexpected response, with the start of its body.
func statusError(name, what string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	return fmt.Errorf("%s: %s: %s: %s", name, what, resp.Status, strings.TrimSpace(string(body)))
}

// startUpload opens an upload session (POST /v2/REPO/blobs/uploads/) and returns its
// location, resolved against the registry's address.
func (c *registryClient) startUpload(ctx context.Context) (*url.URL, error) {
	req := c.newRequest(ctx, http.MethodPost, c.url("/v2/"+c.repo+"/blobs/uploads/"), nil)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: start upload: %w", c.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return nil, statusError(c.name, "start upload", resp)
	}
	io.Copy(io.Discard, resp.Body)
	return uploadURL(c.base, resp.Header.Get("Location"), "")
}

// uploadURL resolves an upload Location (absolute, as distribution sends it, or a path, as
// Wharf does) against base, keeps the registry's own query parameters and adds the digest
// when dg is set.
func uploadURL(base *url.URL, location string, dg digest.Digest) (*url.URL, error) {
	if location == "" {
		return nil, errors.New("upload response has no Location")
	}
	loc, err := url.Parse(location)
	if err != nil {
		return nil, fmt.Errorf("upload Location %q: %w", location, err)
	}
	u := base.ResolveReference(loc)
	if dg != "" {
		q := u.Query()
		q.Set("digest", dg.String())
		u.RawQuery = q.Encode()
	}
	return u, nil
}

// pushBlob uploads data monolithically: POST to open the upload, then one PUT with the whole
// body and ?digest=. It returns when the registry has answered 201.
func (c *registryClient) pushBlob(ctx context.Context, data []byte, dg digest.Digest) error {
	loc, err := c.startUpload(ctx)
	if err != nil {
		return err
	}
	u, err := uploadURL(c.base, loc.String(), dg)
	if err != nil {
		return err
	}
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+c.bearer)
	hdr.Set("Content-Type", "application/octet-stream")
	status, rh, body, err := rawPut(ctx, u, hdr, data)
	if err != nil {
		return fmt.Errorf("%s: PUT blob: %w", c.name, err)
	}
	if status != http.StatusCreated {
		return fmt.Errorf("%s: PUT blob: status %d: %s", c.name, status, strings.TrimSpace(string(body)))
	}
	if got := rh.Get("Docker-Content-Digest"); got != "" && got != dg.String() {
		return fmt.Errorf("%s: PUT blob: registry says digest %s, want %s", c.name, got, dg)
	}
	return nil
}

// rawPut sends PUT u with the given headers and body on a fresh connection and returns the
// response. The request goes out in one writev of headers and body: net/http would copy a
// fixed-length body through a 32 KiB buffer, costing the client tens of thousands of system
// calls per GiB on the same two cores the servers need. If the server answers before it has
// read the whole body (an error), that answer is returned.
func rawPut(ctx context.Context, u *url.URL, hdr http.Header, body []byte) (int, http.Header, []byte, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return 0, nil, nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	var head bytes.Buffer
	head.WriteString("PUT " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\n")
	hdr.Write(&head)
	head.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n")
	written := make(chan error, 1)
	go func() {
		bufs := net.Buffers{head.Bytes(), body}
		_, err := bufs.WriteTo(conn)
		written <- err
	}()
	resp, rerr := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodPut})
	var respBody []byte
	if rerr == nil {
		respBody, rerr = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}
	conn.Close()
	werr := <-written
	if ctx.Err() != nil {
		return 0, nil, nil, ctx.Err()
	}
	if rerr != nil {
		if werr != nil {
			return 0, nil, nil, fmt.Errorf("send body: %w (then: %v)", werr, rerr)
		}
		return 0, nil, nil, fmt.Errorf("read response: %w", rerr)
	}
	if werr != nil && resp.StatusCode/100 == 2 {
		return 0, nil, nil, fmt.Errorf("send body: %w (yet the server answered %s)", werr, resp.Status)
	}
	return resp.StatusCode, resp.Header, respBody, nil
}

// countingSink counts bytes and discards them. It has no ReadFrom, so io.CopyBuffer reads
// through the caller's (large) buffer instead of io.Discard's 8 KiB one.
type countingSink struct{ n int64 }

func (s *countingSink) Write(b []byte) (int, error) { s.n += int64(len(b)); return len(b), nil }

// pullBlob downloads a blob (GET /v2/REPO/blobs/DIGEST), reads the whole body through buf into
// sink (nil: discard) and checks its length.
func (c *registryClient) pullBlob(ctx context.Context, dg digest.Digest, size int64, buf []byte, sink io.Writer) error {
	req := c.newRequest(ctx, http.MethodGet, c.url("/v2/"+c.repo+"/blobs/"+dg.String()), nil)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: GET blob: %w", c.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return statusError(c.name, "GET blob", resp)
	}
	if resp.ContentLength != size {
		return fmt.Errorf("%s: GET blob: Content-Length %d, want %d", c.name, resp.ContentLength, size)
	}
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != dg.String() {
		return fmt.Errorf("%s: GET blob: Docker-Content-Digest %s, want %s", c.name, got, dg)
	}
	cs := &countingSink{}
	var w io.Writer = cs
	if sink != nil {
		w = io.MultiWriter(cs, sink)
	}
	if _, err := io.CopyBuffer(w, resp.Body, buf); err != nil {
		return fmt.Errorf("%s: GET blob: read body: %w", c.name, err)
	}
	if cs.n != size {
		return fmt.Errorf("%s: GET blob: read %d bytes, want %d", c.name, cs.n, size)
	}
	return nil
}

// Media types of the small image pushed for the manifest benchmark.
const (
	ociManifest = "application/vnd.oci.image.manifest.v1+json"
	ociConfig   = "application/vnd.oci.image.config.v1+json"
	ociLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
	// manifestAccept is what the load clients accept, as container clients send it.
	manifestAccept = ociManifest + ", application/vnd.oci.image.index.v1+json, " +
		"application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"
)

type descriptor struct {
	MediaType string        `json:"mediaType"`
	Digest    digest.Digest `json:"digest"`
	Size      int64         `json:"size"`
}

type imageManifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

// smallImage is a config blob, one small layer and the OCI image manifest referencing them.
type smallImage struct {
	config, layer, manifest []byte
}

// newSmallImage builds a real (if tiny) image: a gzipped tar with one file.
func newSmallImage() (*smallImage, error) {
	var layer bytes.Buffer
	gz := gzip.NewWriter(&layer)
	tw := tar.NewWriter(gz)
	content := []byte("hello from registrybench\n")
	if err := tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0)}); err != nil {
		return nil, err
	}
	tw.Write(content)
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	diffID := digest.FromBytes(tarOf(content))
	config, err := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"config":       map[string]any{"Cmd": []string{"/bin/true"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{diffID.String()}},
	})
	if err != nil {
		return nil, err
	}
	m, err := json.Marshal(imageManifest{
		SchemaVersion: 2,
		MediaType:     ociManifest,
		Config:        descriptor{MediaType: ociConfig, Digest: digest.FromBytes(config), Size: int64(len(config))},
		Layers:        []descriptor{{MediaType: ociLayer, Digest: digest.FromBytes(layer.Bytes()), Size: int64(layer.Len())}},
	})
	if err != nil {
		return nil, err
	}
	return &smallImage{config: config, layer: layer.Bytes(), manifest: m}, nil
}

// tarOf is the uncompressed layer, for its diff id.
func tarOf(content []byte) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0)})
	tw.Write(content)
	tw.Close()
	return b.Bytes()
}

// pushImage pushes the image's blobs and its manifest under tag, then checks that GET by tag
// returns the manifest.
func (c *registryClient) pushImage(ctx context.Context, img *smallImage, tag string) error {
	for _, b := range [][]byte{img.config, img.layer} {
		if err := c.pushBlob(ctx, b, digest.FromBytes(b)); err != nil {
			return err
		}
	}
	req := c.newRequest(ctx, http.MethodPut, c.url("/v2/"+c.repo+"/manifests/"+tag), bytes.NewReader(img.manifest))
	req.Header.Set("Content-Type", ociManifest)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: PUT manifest: %w", c.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return statusError(c.name, "PUT manifest", resp)
	}
	io.Copy(io.Discard, resp.Body)
	want := digest.FromBytes(img.manifest)
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != want.String() {
		return fmt.Errorf("%s: PUT manifest: registry says digest %s, want %s", c.name, got, want)
	}
	req = c.newRequest(ctx, http.MethodGet, c.url("/v2/"+c.repo+"/manifests/"+tag), nil)
	req.Header.Set("Accept", manifestAccept)
	resp, err = c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: GET manifest: %w", c.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return statusError(c.name, "GET manifest", resp)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s: GET manifest: %w", c.name, err)
	}
	if !bytes.Equal(body, img.manifest) || resp.Header.Get("Docker-Content-Digest") != want.String() {
		return fmt.Errorf("%s: GET manifest returned other content (digest header %q, want %s)", c.name, resp.Header.Get("Docker-Content-Digest"), want)
	}
	return nil
}
