package interop

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// testBlobDownloads checks how the backend serves blob downloads, which every pull in the
// other scenarios goes through: with redirects, GET answers 307 to a signed URL on the
// storage host that serves the bytes without the registry's credentials; otherwise the
// registry streams the bytes itself. Either way a Range request gets the part asked for,
// and crane reads the blob whole.
func testBlobDownloads(t *testing.T, w *testservers.Wharf, redirects bool) {
	c := newClients(t, w, w.User, w.Password)
	img := newImage(t, imageSpec{Seed: "downloads"})
	const repo = "admin/downloads"
	c.crane("push", imageLayout(t, img, "v1"), c.ref(repo+":v1"))
	layer := img.Layers[0]
	dg := digestOf(layer)

	req, err := http.NewRequest(http.MethodGet, w.URL+"/v2/"+repo+"/blobs/"+dg, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(w.User, w.Password)
	noFollow := &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Docker-Content-Digest") != dg {
		t.Errorf("GET blob: Docker-Content-Digest %q, want %s", resp.Header.Get("Docker-Content-Digest"), dg)
	}
	if redirects {
		loc, err := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusTemporaryRedirect || err != nil || !loc.IsAbs() {
			t.Fatalf("GET blob: %s, Location %q; want 307 to storage", resp.Status, resp.Header.Get("Location"))
		}
		if loc.Host == req.URL.Host {
			t.Errorf("GET blob redirects to the registry's own host %s", loc.Host)
		}
		// The signed URL alone fetches the bytes: no registry credentials go to storage.
		got, status := fetch(t, loc.String())
		if status != http.StatusOK || !bytes.Equal(got, layer) {
			t.Errorf("GET of the signed URL: %d, %d bytes; want 200 and the %d-byte layer", status, len(got), len(layer))
		}
	} else if resp.StatusCode != http.StatusOK {
		t.Errorf("GET blob: %s, want 200 with the bytes (this backend streams blobs)", resp.Status)
	}

	r := c.http(http.MethodGet, "/v2/"+repo+"/blobs/"+dg, http.Header{"Range": {"bytes=10-99"}})
	if r.Status != http.StatusPartialContent || !bytes.Equal(r.Body, layer[10:100]) {
		t.Errorf("GET blob with Range bytes=10-99: %d, %d bytes; want 206 and bytes 10-99", r.Status, len(r.Body))
	}
	if got := c.crane("blob", c.ref(repo+"@"+dg)); got != string(layer) {
		t.Errorf("crane blob: %d bytes differ from the %d-byte layer", len(got), len(layer))
	}
}

// fetch GETs a URL without credentials and returns body and status.
func fetch(t testing.TB, u string) ([]byte, int) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return buf.Bytes(), resp.StatusCode
}
