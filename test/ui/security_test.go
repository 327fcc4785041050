package ui_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// alpineLayerImage is an image of one layer holding the Alpine 3.19 apk database of the
// scanner's test fixture (test/scanner/testdata/alpine-3.19).
func alpineLayerImage(t *testing.T) v1.Image {
	t.Helper()
	dir := filepath.Join("..", "scanner", "testdata", "alpine-3.19")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct{ src, dst string }{{"installed", "lib/apk/db/installed"}, {"os-release", "etc/os-release"}} {
		data, err := os.ReadFile(filepath.Join(dir, f.src))
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: f.dst, Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.AppendLayers(img, layer)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestSecurityPage scans an Alpine image with real vulnerability data and reads its report
// in the browser: the same vulnerabilities as the API, grouped by severity, and the fixable
// filter.
func TestSecurityPage(t *testing.T) {
	dir := os.Getenv("WHARF_VULNDB_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "vulndb")
	}
	data, err := filepath.Abs(filepath.Join(dir, "alpine-secdb.zip"))
	if err == nil {
		_, err = os.Stat(data)
	}
	if err != nil {
		t.Skipf("no vulnerability data (%v): set WHARF_VULNDB_DIR", err)
	}
	w := testservers.StartWharf(t, testservers.WharfOptions{Config: "FEATURE_SECURITY_SCANNER: true\nSECURITY_SCANNER_INDEXING_INTERVAL: 1\n"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := w.Run(ctx, "", "scanner", "import", data); err != nil {
		t.Fatalf("wharf scanner import: %v\n%s", err, out)
	}
	img := alpineLayerImage(t)
	ref, _ := name.ParseReference(w.Host+"/admin/alpine:3.19", name.Insecure)
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: w.User, Password: w.Password})); err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()

	// The API's report, once scanned.
	type vuln struct {
		Name, Severity, FixedBy string
	}
	var doc struct {
		Status string `json:"status"`
		Data   struct {
			Layer struct {
				Features []struct {
					Vulnerabilities []vuln `json:"Vulnerabilities"`
				} `json:"Features"`
			} `json:"Layer"`
		} `json:"data"`
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		api(t, w.URL, w.User, w.Password, "GET", "/api/v1/repository/admin/alpine/manifest/"+digest.String()+"/security?vulnerabilities=true", nil, &doc)
		if doc.Status == "scanned" || time.Now().After(deadline) {
			break
		}
	}
	if doc.Status != "scanned" {
		t.Fatalf("the image is %q after two minutes", doc.Status)
	}
	all, fixable := map[string]bool{}, map[string]bool{}
	for _, f := range doc.Data.Layer.Features {
		for _, v := range f.Vulnerabilities {
			all[v.Name] = true
			if v.FixedBy != "" {
				fixable[v.Name] = true
			}
		}
	}
	if len(all) < 5 || len(fixable) == 0 {
		t.Fatalf("the API reports %d vulnerabilities", len(all))
	}

	b := newTab(t, w.URL, false)
	b.signIn(t, w.User, w.Password)
	page := "/repository/admin/alpine/manifest/" + digest.String()
	ids := func() map[string]bool {
		var list []string
		b.run(t, "read the findings", chromedp.Evaluate(`[...document.querySelectorAll("tr.finding")].map(r => r.dataset.id)`, &list))
		m := map[string]bool{}
		for _, id := range list {
			m[id] = true
		}
		return m
	}
	b.open(t, page)
	if st := b.text(t, "#security-status"); !strings.Contains(st, "vulnerabilities") {
		t.Fatalf("status: %q", st)
	}
	if got := ids(); !sameKeys(got, all) {
		t.Errorf("the page lists %v, the API %v", keys(got), keys(all))
	}
	// Groups come worst first.
	var groups []string
	b.run(t, "read the groups", chromedp.Evaluate(`[...document.querySelectorAll("section.severity-group")].map(s => s.id)`, &groups))
	order := map[string]int{"sev-Critical": 0, "sev-High": 1, "sev-Medium": 2, "sev-Low": 3, "sev-Negligible": 4, "sev-Unknown": 5}
	if !sort.SliceIsSorted(groups, func(i, j int) bool { return order[groups[i]] < order[groups[j]] }) || len(groups) == 0 {
		t.Errorf("groups in the order %v", groups)
	}
	b.submit(t, "fixable only", "#filter-fixable")
	if got := ids(); !sameKeys(got, fixable) {
		t.Errorf("fixable only lists %v, the API's fixable %v", keys(got), keys(fixable))
	}
	// Read without JavaScript too.
	nojs := newTab(t, w.URL, true)
	nojs.signIn(t, w.User, w.Password)
	nojs.open(t, page)
	if !strings.Contains(nojs.text(t, "#main"), "fixable") {
		t.Error("the page without JavaScript lacks the summary")
	}
}

func sameKeys(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
