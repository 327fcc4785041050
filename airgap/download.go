package airgap

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/cavaliergopher/grab/v3"
)

// FileSource is an extra file for a bundle: vulnerability data or any other file, from a URL
// (downloaded, resumably) or a local path.
type FileSource struct {
	// Kind is vulndb or other.
	Kind Kind
	// Name is the file's name in the bundle (files/KIND/NAME).
	Name string
	// URL is where to download it from (http or https); empty for a local file.
	URL string
	// Path is the local file; empty for a download.
	Path string
}

// ParseFileSpec parses KIND:URL or KIND:PATH (vulndb:https://example.com/db.tar.gz,
// other:./notes.txt). The file's name in the bundle is the last element of the URL's path or
// of the file path.
func ParseFileSpec(spec string) (FileSource, error) {
	kind, rest, ok := strings.Cut(spec, ":")
	if !ok || rest == "" {
		return FileSource{}, fmt.Errorf("--file %q: write KIND:URL or KIND:PATH, with KIND one of vulndb, other", spec)
	}
	fs := FileSource{Kind: Kind(kind)}
	if fs.Kind != KindVulnDB && fs.Kind != KindOther {
		return FileSource{}, fmt.Errorf("--file %q: unknown kind %q: write KIND:URL or KIND:PATH, with KIND one of vulndb, other", spec, kind)
	}
	if u, err := url.Parse(rest); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		fs.URL = rest
		fs.Name = path.Base(u.Path)
	} else {
		fs.Path = rest
		fs.Name = filepath.Base(rest)
	}
	if !fileRE.MatchString(fs.Name) {
		return FileSource{}, fmt.Errorf("--file %q: %q is not a plain file name; the URL's path or the file path must end in the file's name", spec, fs.Name)
	}
	return fs, nil
}

// errRestart says a resumed download must start again from the beginning.
var errRestart = errors.New("the server did not continue the partial download")

// downloader fetches files with resumable downloads.
type downloader struct {
	client  *grab.Client
	prog    Progress
	retries int
	log     func(format string, args ...any)
}

// fetch downloads rawURL into dst. A partial dst left by an earlier, interrupted attempt (this
// run's or an earlier run's) is continued with a Range request, guarded by If-Range with the
// validator (ETag or Last-Modified) the first response gave, so a file that changed on the
// server in between is fetched again whole rather than spliced. A complete dst is kept.
// fetched is what this call transferred.
func (d *downloader) fetch(ctx context.Context, rawURL, dst, label string) (fetched int64, err error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return 0, fmt.Errorf("download %s: %w", rawURL, err)
	}
	for attempt := 0; ; attempt++ {
		n, err := d.attempt(ctx, rawURL, dst, label)
		fetched += n
		if err == nil {
			return fetched, nil
		}
		if ctx.Err() != nil {
			return fetched, ctx.Err()
		}
		if errors.Is(err, errRestart) {
			d.log("%s: the server cannot continue the partial download; starting it again", label)
			os.Remove(dst)
			os.Remove(validatorPath(dst))
			continue
		}
		var status grab.StatusCodeError
		if errors.As(err, &status) || attempt >= d.retries {
			return fetched, fmt.Errorf("download %s: %w", rawURL, err)
		}
		d.log("%s: %v; resuming (attempt %d of %d)", label, err, attempt+2, d.retries+1)
		select {
		case <-time.After(time.Duration(attempt+1) * time.Second):
		case <-ctx.Done():
			return fetched, ctx.Err()
		}
	}
}

func validatorPath(dst string) string { return dst + ".validator" }

// attempt runs one grab request.
func (d *downloader) attempt(ctx context.Context, rawURL, dst, label string) (int64, error) {
	req, err := grab.NewRequest(dst, rawURL)
	if err != nil {
		return 0, err
	}
	req = req.WithContext(ctx)
	var had int64
	if fi, err := os.Stat(dst); err == nil {
		had = fi.Size()
		if v, err := os.ReadFile(validatorPath(dst)); err == nil && len(v) > 0 {
			req.HTTPRequest.Header.Set("If-Range", string(v))
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		os.Remove(validatorPath(dst))
	}
	req.BeforeCopy = func(resp *grab.Response) error {
		h := resp.HTTPResponse
		if resp.DidResume {
			// Continue only what the server continues: 206 from where the file ends.
			start := strings.TrimPrefix(resp.Request.HTTPRequest.Header.Get("Range"), "bytes=")
			start = strings.TrimSuffix(start, "-")
			cr := h.Header.Get("Content-Range")
			if h.StatusCode != http.StatusPartialContent || !strings.HasPrefix(cr, "bytes "+start+"-") {
				return errRestart
			}
			return nil
		}
		if v := validator(h); v != "" {
			return os.WriteFile(validatorPath(dst), []byte(v), 0o600)
		}
		os.Remove(validatorPath(dst))
		return nil
	}
	resp := d.client.Do(req)
	task := d.prog.Start(label, resp.Size())
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-tick.C:
			task.Set(resp.BytesComplete())
		case <-resp.Done:
			done = true
		}
	}
	task.Set(resp.BytesComplete())
	task.Done()
	fetched := resp.BytesComplete()
	if resp.DidResume {
		fetched -= had // BytesComplete counts the part fetched before
	}
	return max(fetched, 0), resp.Err()
}

// validator returns what identifies this version of a file for If-Range: a strong ETag, else
// Last-Modified.
func validator(h *http.Response) string {
	if et := h.Header.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		return et
	}
	if lm := h.Header.Get("Last-Modified"); lm != "" {
		if _, err := http.ParseTime(lm); err == nil {
			return lm
		}
	}
	return ""
}

// newGrabClient returns grab's client with Wharf's user agent, on httpClient when given.
func newGrabClient(httpClient *http.Client, version string) *grab.Client {
	c := grab.NewClient()
	c.UserAgent = "wharf/" + version
	if httpClient != nil {
		c.HTTPClient = httpClient
	}
	return c
}
