package wizard

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"io"
	"math/big"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/configtool"
	"github.com/wharf-registry/wharf/schema"
)

const testPassword = "correct horse battery staple"

// client is a browser stand-in: it keeps the session cookie, sends the wizard's credentials,
// and does not follow redirects, so tests see where each action leads.
type client struct {
	t    *testing.T
	srv  *httptest.Server
	http *http.Client
	csrf string
}

func newWizard(t *testing.T, opts Options) (*Wizard, *client) {
	t.Helper()
	if opts.Password == "" {
		opts.Password = testPassword
	}
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	wz, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(wz)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	c := &client{t: t, srv: srv, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	return wz, c
}

type response struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(req *http.Request, auth bool) response {
	c.t.Helper()
	if auth {
		req.SetBasicAuth(User, testPassword)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if m := csrfRE.FindStringSubmatch(out.body); m != nil {
		c.csrf = m[1]
	}
	return out
}

var csrfRE = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func (c *client) get(path string) response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.srv.URL+path, nil)
	return c.do(req, true)
}

// post sends a multipart form, as the wizard's pages do; files maps a field to file name and
// content. The session's CSRF token is added unless the form sets _csrf itself.
func (c *client) post(path string, form url.Values, files ...formFile) response {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if _, ok := form[csrfField]; !ok && c.csrf != "" {
		mw.WriteField(csrfField, c.csrf)
	}
	for k, vs := range form {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	for _, f := range files {
		w, _ := mw.CreateFormFile(f.field, f.name)
		w.Write(f.data)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.srv.URL+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req, true)
}

type formFile struct {
	field, name string
	data        []byte
}

// messagesOf returns the text of the messages shown beside the field with the given id.
func messagesOf(t *testing.T, page, id string) string {
	t.Helper()
	re := regexp.MustCompile(`(?s)<ul class="messages" id="` + regexp.QuoteMeta(id) + `-msg"[^>]*>(.*?)</ul>`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("page has no messages for %s", id)
	}
	return html.UnescapeString(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], ""))
}

// valueOf returns the value of the input with the given id.
func valueOf(t *testing.T, page, id string) string {
	t.Helper()
	re := regexp.MustCompile(`<input [^>]*id="` + regexp.QuoteMeta(id) + `"[^>]*value="([^"]*)"`)
	if m := re.FindStringSubmatch(page); m != nil {
		return html.UnescapeString(m[1])
	}
	re = regexp.MustCompile(`(?s)<textarea [^>]*id="` + regexp.QuoteMeta(id) + `"[^>]*>(.*?)</textarea>`)
	if m := re.FindStringSubmatch(page); m != nil {
		return html.UnescapeString(m[1])
	}
	t.Fatalf("page has no input %s", id)
	return ""
}

// serverForm is the server step as a browser submits it untouched, with changes.
func stepForm(step string, changes map[string]string) url.Values {
	f := url.Values{"_step": {step}, "action": {"next"}}
	for k, v := range changes {
		f.Set(k, v)
	}
	return f
}

func TestAuthRequired(t *testing.T) {
	_, c := newWizard(t, Options{})
	paths := []struct{ method, path string }{
		{"GET", "/"}, {"GET", "/step/server"}, {"GET", "/review"}, {"GET", "/static/wizard.css"},
		{"POST", "/download"}, {"POST", "/save"}, {"POST", "/check/server"},
	}
	creds := []struct {
		name       string
		user, pass string
		set        bool
	}{
		{"no credentials", "", "", false},
		{"wrong password", User, "guess", true},
		{"wrong user", "admin", testPassword, true},
	}
	for _, p := range paths {
		for _, cr := range creds {
			t.Run(p.method+" "+p.path+" "+cr.name, func(t *testing.T) {
				req, _ := http.NewRequest(p.method, c.srv.URL+p.path, nil)
				if cr.set {
					req.SetBasicAuth(cr.user, cr.pass)
				}
				resp := c.do(req, false)
				if resp.status != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401", resp.status)
				}
				if got := resp.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Basic realm="Wharf config wizard"`) {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				if resp.header.Get("Set-Cookie") != "" {
					t.Error("an unauthenticated request got a session")
				}
			})
		}
	}
	resp := c.get("/")
	if resp.status != http.StatusOK || !strings.Contains(resp.body, `id="begin"`) {
		t.Fatalf("with credentials: %d\n%s", resp.status, resp.body)
	}
	cookie := resp.header.Get("Set-Cookie")
	for _, want := range []string{sessionCookie + "=", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("session cookie %q lacks %s", cookie, want)
		}
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
		if resp.header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
}

func TestCSRFRejected(t *testing.T) {
	_, c := newWizard(t, Options{})
	c.get("/step/server")
	good := c.csrf
	tests := []struct {
		name   string
		token  string
		cookie bool
	}{
		{"no token", "", true},
		{"wrong token", "AAAAAAAAAAAAAAAAAAAAAAAAAA", true},
		{"token without the session cookie", good, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			if tc.token != "" {
				mw.WriteField(csrfField, tc.token)
			}
			mw.WriteField("_step", "server")
			mw.WriteField("SERVER_HOSTNAME", "evil.example.com")
			mw.WriteField("action", "next")
			mw.Close()
			req, _ := http.NewRequest(http.MethodPost, c.srv.URL+"/step/server", &buf)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			req.SetBasicAuth(User, testPassword)
			hc := c.http
			if !tc.cookie {
				hc = &http.Client{CheckRedirect: c.http.CheckRedirect}
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403: %s", resp.StatusCode, body)
			}
		})
	}
	// Nothing of the refused forms was applied.
	if page := c.get("/step/server").body; valueOf(t, page, "f-SERVER_HOSTNAME") != "localhost:8080" {
		t.Fatalf("a refused form changed SERVER_HOSTNAME to %q", valueOf(t, page, "f-SERVER_HOSTNAME"))
	}
	// The session's own token works.
	if resp := c.post("/step/server", stepForm("server", map[string]string{"SERVER_HOSTNAME": "registry.example.com"})); resp.status != http.StatusSeeOther {
		t.Fatalf("with the session's token: %d\n%s", resp.status, resp.body)
	}
}

func TestStepErrorShownBesideField(t *testing.T) {
	_, c := newWizard(t, Options{})
	c.get("/step/server")
	resp := c.post("/step/server", stepForm("server", map[string]string{"SERVER_HOSTNAME": "not a host name!"}))
	if resp.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422 (stay on the step)", resp.status)
	}
	if !strings.Contains(resp.body, `id="blocked"`) {
		t.Error("no notice that the step has problems")
	}
	if msg := messagesOf(t, resp.body, "f-SERVER_HOSTNAME"); !strings.Contains(msg, "does not match pattern") {
		t.Errorf("beside SERVER_HOSTNAME: %q", msg)
	}
	if !regexp.MustCompile(`id="f-SERVER_HOSTNAME"[^>]*aria-invalid="true"`).MatchString(resp.body) {
		t.Error("SERVER_HOSTNAME is not marked aria-invalid")
	}
	if got := valueOf(t, resp.body, "f-SERVER_HOSTNAME"); got != "not a host name!" {
		t.Errorf("the field shows %q, want what was typed", got)
	}
	if msg := messagesOf(t, resp.body, "f-PREFERRED_URL_SCHEME"); msg != "" {
		t.Errorf("a field without problems has messages: %q", msg)
	}
	// Coming back to the step shows the problem again.
	if msg := messagesOf(t, c.get("/step/server").body, "f-SERVER_HOSTNAME"); !strings.Contains(msg, "does not match pattern") {
		t.Errorf("on return, beside SERVER_HOSTNAME: %q", msg)
	}
	// Fixed, Next moves on.
	resp = c.post("/step/server", stepForm("server", map[string]string{"SERVER_HOSTNAME": "registry.example.com:8443"}))
	if resp.status != http.StatusSeeOther || resp.header.Get("Location") != "/step/database" {
		t.Fatalf("after the fix: %d to %q\n%s", resp.status, resp.header.Get("Location"), resp.body)
	}
	// Back never checks.
	form := stepForm("database", map[string]string{"DB_URI": "mysql://nope", "action": "back"})
	if resp := c.post("/step/database", form); resp.status != http.StatusSeeOther || resp.header.Get("Location") != "/step/server" {
		t.Fatalf("back: %d to %q", resp.status, resp.header.Get("Location"))
	}
	// But the database step's problem stays with it, and other steps show it as another
	// step's problem without being held by it.
	resp = c.post("/step/server", stepForm("server", map[string]string{"SERVER_HOSTNAME": "registry.example.com:8443"}))
	if resp.status != http.StatusSeeOther {
		t.Fatalf("server step held by the database step's problem: %d", resp.status)
	}
	page := c.get("/step/redis").body
	if !regexp.MustCompile(`href="/step/database">Database</a>: (line \d+: )?DB_URI`).MatchString(page) {
		t.Errorf("the redis step does not point at the database problem:\n%s", page)
	}
}

func TestInputThatCannotBeRead(t *testing.T) {
	_, c := newWizard(t, Options{})
	c.get("/step/auth")
	bad := "- [ou=a\n- ou=b"
	resp := c.post("/step/auth", stepForm("auth", map[string]string{"LDAP_SECONDARY_USER_RDNS": bad}))
	if resp.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", resp.status)
	}
	if msg := messagesOf(t, resp.body, "f-LDAP_SECONDARY_USER_RDNS"); !strings.Contains(msg, "not valid YAML") {
		t.Errorf("beside the field: %q", msg)
	}
	page := c.get("/step/auth").body
	if got := valueOf(t, page, "f-LDAP_SECONDARY_USER_RDNS"); got != bad {
		t.Errorf("the field shows %q, want what was typed", got)
	}
	if msg := messagesOf(t, page, "f-LDAP_SECONDARY_USER_RDNS"); !strings.Contains(msg, "not valid YAML") {
		t.Errorf("on return, beside the field: %q", msg)
	}
	resp = c.post("/step/auth", stepForm("auth", map[string]string{"LDAP_SECONDARY_USER_RDNS": "- ou=a\n- [ou=b, ou=c]"}))
	if resp.status != http.StatusSeeOther {
		t.Fatalf("fixed: %d\n%s", resp.status, messagesOf(t, resp.body, "f-LDAP_SECONDARY_USER_RDNS"))
	}
	if y := c.reviewYAML(); !strings.Contains(y, "LDAP_SECONDARY_USER_RDNS:\n  - ou=a\n  - - ou=b\n    - ou=c\n") {
		t.Errorf("config.yaml:\n%s", y)
	}
}

// reviewYAML returns the config.yaml the review page shows.
func (c *client) reviewYAML() string {
	c.t.Helper()
	page := c.get("/review").body
	m := regexp.MustCompile(`(?s)<pre class="yaml" id="config-yaml"[^>]*><code>(.*?)</code></pre>`).FindStringSubmatch(page)
	if m == nil {
		c.t.Fatalf("review page has no config.yaml:\n%s", page)
	}
	return html.UnescapeString(m[1])
}

func TestDefaultsAreNotWritten(t *testing.T) {
	_, c := newWizard(t, Options{})
	// Every step submitted as shown, untouched: the config stays empty.
	for _, step := range configtool.Groups {
		page := c.get("/step/" + step).body
		form := formFromPage(t, page)
		form.Set("action", "next")
		if resp := c.post("/step/"+step, form); resp.status != http.StatusSeeOther {
			t.Fatalf("step %s as shown: %d\n%s", step, resp.status, resp.body)
		}
	}
	y := c.reviewYAML()
	if !strings.HasSuffix(y, "{}\n") {
		t.Fatalf("untouched defaults wrote keys:\n%s", y)
	}
	// A change writes just that key; switching a default-on feature off writes false.
	form := formFromPage(t, c.get("/step/features").body)
	form.Del("FEATURE_ANONYMOUS_ACCESS")
	form.Set("V2_PAGINATION_SIZE", "50")
	if resp := c.post("/step/features", form); resp.status != http.StatusSeeOther {
		t.Fatalf("features: %d", resp.status)
	}
	y = c.reviewYAML()
	cfg, err := schema.Parse("config.yaml", []byte(y))
	if err != nil {
		t.Fatalf("config.yaml does not parse: %v\n%s", err, y)
	}
	if cfg.FeatureAnonymousAccess || cfg.V2PaginationSize != 50 {
		t.Errorf("parsed: anonymous %v, page size %d", cfg.FeatureAnonymousAccess, cfg.V2PaginationSize)
	}
	lines := strings.Split(strings.TrimSpace(y), "\n")
	if len(lines) != 3 || lines[1] != "FEATURE_ANONYMOUS_ACCESS: false" || lines[2] != "V2_PAGINATION_SIZE: 50" {
		t.Errorf("config.yaml should hold the two changed keys in schema order:\n%s", y)
	}
}

// formFromPage reads the step form's inputs as a browser would submit them untouched.
func formFromPage(t *testing.T, page string) url.Values {
	t.Helper()
	form := url.Values{}
	for _, m := range regexp.MustCompile(`<input ([^>]*)>`).FindAllStringSubmatch(page, -1) {
		attrs := m[1]
		name := attr(attrs, "name")
		if name == "" || name == csrfField {
			continue
		}
		switch attr(attrs, "type") {
		case "checkbox":
			if strings.Contains(attrs, " checked") {
				form.Add(name, attr(attrs, "value"))
			}
		case "file":
		default:
			form.Add(name, html.UnescapeString(attr(attrs, "value")))
		}
	}
	for _, m := range regexp.MustCompile(`(?s)<textarea ([^>]*)>(.*?)</textarea>`).FindAllStringSubmatch(page, -1) {
		form.Add(attr(m[1], "name"), html.UnescapeString(m[2]))
	}
	for _, m := range regexp.MustCompile(`(?s)<select ([^>]*)>(.*?)</select>`).FindAllStringSubmatch(page, -1) {
		if sel := regexp.MustCompile(`<option value="([^"]*)" selected>`).FindStringSubmatch(m[2]); sel != nil {
			form.Add(attr(m[1], "name"), html.UnescapeString(sel[1]))
		}
	}
	return form
}

func attr(attrs, name string) string {
	m := regexp.MustCompile(`(?:^|\s)` + name + `="([^"]*)"`).FindStringSubmatch(attrs)
	if m == nil {
		return ""
	}
	return m[1]
}

func TestStorageLocations(t *testing.T) {
	dir := t.TempDir()
	// twoRows opens the storage step of a fresh wizard and adds an empty second location.
	twoRows := func(t *testing.T) (*client, url.Values) {
		_, c := newWizard(t, Options{})
		page := c.get("/step/storage").body
		if got := valueOf(t, page, "loc-0-LocalStorage-storage_path"); got != "storage" {
			t.Fatalf("default location's path shows %q", got)
		}
		form := formFromPage(t, page)
		form.Set("action", "add-location")
		if resp := c.post("/step/storage", form); resp.status != http.StatusSeeOther {
			t.Fatalf("add a location: %d", resp.status)
		}
		page = c.get("/step/storage").body
		if valueOf(t, page, "loc-1-name") != "" || !strings.Contains(page, `name="loc-count" value="2"`) {
			t.Fatal("no empty second location after Add a location")
		}
		return c, formFromPage(t, page)
	}

	tests := []struct {
		name    string
		changes map[string]string
		field   string // whose messages must hold want
		want    string
	}{
		{"S3 location without its bucket", map[string]string{"loc-1-name": "s3", "loc-1-driver": "S3Storage", "loc-1-S3Storage-storage_path": "/reg"},
			"loc-1", "missing properties: 's3_bucket'"},
		{"location without a name", map[string]string{"loc-1-driver": "S3Storage", "loc-1-S3Storage-s3_bucket": "bucket"},
			"loc-1-name", "Give this location a name"},
		{"two locations of one name", map[string]string{"loc-1-name": "default", "loc-1-LocalStorage-storage_path": dir + "/b"},
			"loc-1-name", "already named default"},
		{"preference names a missing location", map[string]string{"DISTRIBUTED_STORAGE_PREFERENCE": "default\nnowhere"},
			"f-DISTRIBUTED_STORAGE_PREFERENCE", `DISTRIBUTED_STORAGE_PREFERENCE/1: location "nowhere" is not defined`},
		{"storage path in a missing directory", map[string]string{"loc-0-LocalStorage-storage_path": dir + "/missing/blobs"},
			"loc-0-LocalStorage-storage_path", "does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, form := twoRows(t)
			for k, v := range tc.changes {
				form.Set(k, v)
			}
			form.Set("action", "next")
			resp := c.post("/step/storage", form)
			if resp.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", resp.status)
			}
			if msg := messagesOf(t, resp.body, tc.field); !strings.Contains(msg, tc.want) {
				t.Fatalf("beside %s: %q, want %q", tc.field, msg, tc.want)
			}
			// What was typed is shown again.
			for k, v := range tc.changes {
				if k == "loc-1-driver" {
					continue
				}
				id := k
				if !strings.HasPrefix(k, "loc-") {
					id = fieldID(k)
				}
				if got := valueOf(t, resp.body, id); got != v {
					t.Errorf("%s shows %q, want %q", k, got, v)
				}
			}
		})
	}

	// A correct pair of locations, in preference order, passes the check and is written.
	c, form := twoRows(t)
	form.Set("loc-0-name", "local")
	form.Set("loc-0-LocalStorage-storage_path", dir+"/blobs")
	form.Set("loc-1-name", "second")
	form.Set("loc-1-driver", "LocalStorage")
	form.Set("loc-1-LocalStorage-storage_path", dir+"/second")
	form.Set("DISTRIBUTED_STORAGE_PREFERENCE", "local\nsecond")
	form.Set("action", "next")
	if resp := c.post("/step/storage", form); resp.status != http.StatusSeeOther {
		t.Fatalf("valid locations: %d\n%s", resp.status, resp.body)
	}
	cfg, err := schema.Parse("config.yaml", []byte(c.reviewYAML()))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.DistributedStorageConfig["local"]; got.Driver != "LocalStorage" || got.String("storage_path") != dir+"/blobs" {
		t.Errorf("local = %+v", got)
	}
	if _, ok := cfg.DistributedStorageConfig["second"]; !ok || strings.Join(cfg.DistributedStoragePreference, ",") != "local,second" {
		t.Errorf("locations %v, preference %v", cfg.DistributedStorageConfig, cfg.DistributedStoragePreference)
	}
	// Removing one leaves the other.
	form = formFromPage(t, c.get("/step/storage").body)
	if valueOf(t, c.get("/step/storage").body, "loc-0-name") != "local" {
		t.Fatal("locations are not shown in preference order")
	}
	form.Set("loc-1-remove", "true")
	form.Set("DISTRIBUTED_STORAGE_PREFERENCE", "local")
	form.Set("action", "next")
	if resp := c.post("/step/storage", form); resp.status != http.StatusSeeOther {
		t.Fatalf("remove a location: %d\n%s", resp.status, resp.body)
	}
	cfg, _ = schema.Parse("config.yaml", []byte(c.reviewYAML()))
	if _, ok := cfg.DistributedStorageConfig["second"]; ok || cfg.DistributedStorageConfig["local"].Driver != "LocalStorage" {
		t.Errorf("after removal: %v", cfg.DistributedStorageConfig)
	}
}

func TestFailedCheckMayBeSkipped(t *testing.T) {
	_, c := newWizard(t, Options{})
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	os.WriteFile(file, []byte("not a directory"), 0o600)
	form := formFromPage(t, c.get("/step/storage").body)
	form.Set("loc-0-LocalStorage-storage_path", file)
	resp := c.post("/step/storage", form)
	if resp.status != http.StatusOK || !strings.Contains(resp.body, `id="warned"`) || !strings.Contains(resp.body, `id="continue"`) {
		t.Fatalf("a failed check should stay on the step with a way on: %d\n%s", resp.status, resp.body)
	}
	if msg := messagesOf(t, resp.body, "loc-0"); !strings.Contains(msg, "Check failed") || !strings.Contains(msg, "not a directory") {
		t.Fatalf("beside the location: %q", msg)
	}
	form.Set("action", "continue")
	resp = c.post("/step/storage", form)
	if resp.status != http.StatusSeeOther || resp.header.Get("Location") != "/step/auth" {
		t.Fatalf("continue anyway: %d to %q", resp.status, resp.header.Get("Location"))
	}
	// The review shows the failure, and still offers the bundle.
	page := c.get("/review").body
	if !strings.Contains(page, `id="unreachable"`) || regexp.MustCompile(`id="download"[^>]*disabled`).MatchString(page) {
		t.Fatalf("review of a valid but unreachable config:\n%s", page)
	}
	// A working directory passes.
	form.Set("loc-0-LocalStorage-storage_path", filepath.Join(dir, "blobs"))
	form.Set("action", "next")
	if resp := c.post("/step/storage", form); resp.status != http.StatusSeeOther {
		t.Fatalf("writable storage: %d\n%s", resp.status, resp.body)
	}
}

func TestCheckJSON(t *testing.T) {
	_, c := newWizard(t, Options{})
	c.get("/step/server")
	check := func(host string) checkResponse {
		t.Helper()
		resp := c.post("/check/server", url.Values{"_step": {"server"}, "SERVER_HOSTNAME": {host}})
		if resp.status != http.StatusOK || !strings.HasPrefix(resp.header.Get("Content-Type"), "application/json") {
			t.Fatalf("check: %d %s", resp.status, resp.body)
		}
		var cr checkResponse
		if err := json.Unmarshal([]byte(resp.body), &cr); err != nil {
			t.Fatal(err)
		}
		return cr
	}
	cr := check("bad host!")
	if !cr.Blocked || len(cr.Fields["f-SERVER_HOSTNAME"].Errors) == 0 || !strings.Contains(cr.Fields["f-SERVER_HOSTNAME"].Errors[0], "does not match pattern") {
		t.Fatalf("bad host: %+v", cr)
	}
	if _, ok := cr.Fields["f-PREFERRED_URL_SCHEME"]; !ok {
		t.Error("the answer does not list every field of the step (the script clears fields by it)")
	}
	cr = check("registry.example.com")
	if cr.Blocked || len(cr.Fields["f-SERVER_HOSTNAME"].Errors) != 0 {
		t.Fatalf("good host: %+v", cr)
	}
	// Without the CSRF token the live check is refused like any POST.
	resp := c.post("/check/server", url.Values{csrfField: {"wrong"}, "_step": {"server"}, "SERVER_HOSTNAME": {"x"}})
	if resp.status != http.StatusForbidden {
		t.Fatalf("live check without the token: %d", resp.status)
	}
}

// bundleFiles unpacks a bundle's members and their modes.
func bundleFiles(t *testing.T, b []byte) (map[string]string, map[string]int64) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("bundle is not gzip: %v", err)
	}
	tr := tar.NewReader(zr)
	files, modes := map[string]string{}, map[string]int64{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		files[hdr.Name], modes[hdr.Name] = string(data), hdr.Mode
	}
	return files, modes
}

// testCert makes a self-signed certificate for host and its key, in PEM.
func testCert(t *testing.T, host string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

func TestDownloadBundle(t *testing.T) {
	_, c := newWizard(t, Options{})
	ca1, _ := testCert(t, "Corp CA")
	ca2, _ := testCert(t, "Other CA")
	cert, key := testCert(t, "registry.example.com")
	form := formFromPage(t, c.get("/step/server").body)
	form.Set("SERVER_HOSTNAME", "registry.example.com")
	resp := c.post("/step/server", form, formFile{"extra_ca_certs", "corp-ca.crt", ca1}, formFile{"extra_ca_certs", "other.pem", ca2})
	if resp.status != http.StatusSeeOther {
		t.Fatalf("server step: %d\n%s", resp.status, resp.body)
	}
	page := c.get("/step/server").body
	if !strings.Contains(page, "<code>extra_ca_certs/corp-ca.crt</code>") || !strings.Contains(page, "<code>extra_ca_certs/other.pem</code>") {
		t.Fatal("the server step does not list the uploaded CA certificates")
	}
	// Remove one CA again, and add the certificate and key.
	form = formFromPage(t, page)
	form.Set("remove:extra_ca_certs/other.pem", "true")
	form.Set("action", "back")
	c.post("/step/server", form, formFile{"ssl.cert", "server.crt", cert}, formFile{"ssl.key", "server.key", key})
	page = c.get("/step/server").body
	if strings.Contains(page, "extra_ca_certs/other.pem") || !strings.Contains(page, "Remove ssl.key") {
		t.Fatal("the server step does not show the removal and the uploads")
	}
	if strings.Contains(page, string(key[30:60])) {
		t.Fatal("the page shows the private key")
	}

	resp = c.post("/download", url.Values{})
	if resp.status != http.StatusOK {
		t.Fatalf("download: %d\n%s", resp.status, resp.body)
	}
	if got := resp.header.Get("Content-Disposition"); got != `attachment; filename="quay-config.tar.gz"` {
		t.Errorf("Content-Disposition = %q", got)
	}
	files, modes := bundleFiles(t, []byte(resp.body))
	if _, ok := files["extra_ca_certs/other.pem"]; ok || files["extra_ca_certs/corp-ca.crt"] != string(ca1) {
		t.Errorf("extra CAs in the bundle: %q", files)
	}
	if files["ssl.cert"] != string(cert) || files["ssl.key"] != string(key) {
		t.Error("the bundle does not hold the uploaded certificate and key")
	}
	cfg, err := schema.Parse("config.yaml", []byte(files["config.yaml"]))
	if err != nil || cfg.ServerHostname != "registry.example.com" {
		t.Fatalf("bundle config.yaml: %v\n%s", err, files["config.yaml"])
	}
	for name, want := range map[string]int64{"config.yaml": 0o600, "ssl.key": 0o600, "ssl.cert": 0o644} {
		if modes[name] != want {
			t.Errorf("%s: mode %o, want %o", name, modes[name], want)
		}
	}

	// A key without its certificate is a problem of the server step: no bundle is handed out,
	// and the review points at the field.
	form = formFromPage(t, c.get("/step/server").body)
	form.Set("remove:ssl.cert", "true")
	form.Set("action", "back")
	c.post("/step/server", form)
	resp = c.post("/download", url.Values{})
	if resp.status != http.StatusConflict || !strings.Contains(resp.body, `id="invalid"`) || !strings.Contains(resp.body, `href="/step/server#f-ssl-cert"`) {
		t.Fatalf("download of an invalid config: %d\n%s", resp.status, resp.body)
	}
	if msg := messagesOf(t, c.get("/step/server").body, "f-ssl-cert"); !strings.Contains(msg, "ssl.cert is missing") {
		t.Errorf("beside ssl.cert: %q", msg)
	}
	// A file that is no certificate is named beside the CA certificates.
	form = formFromPage(t, c.get("/step/server").body)
	resp = c.post("/step/server", form, formFile{"extra_ca_certs", "junk.crt", []byte("junk")}, formFile{"ssl.cert", "server.crt", cert})
	if msg := messagesOf(t, resp.body, "f-extra_ca_certs"); resp.status != http.StatusUnprocessableEntity || !strings.Contains(msg, "extra_ca_certs/junk.crt") {
		t.Fatalf("a CA file that is no certificate: %d %q", resp.status, msg)
	}
}

func TestUploadBundle(t *testing.T) {
	_, c := newWizard(t, Options{})
	c.get("/")
	ldapCA, _ := testCert(t, "LDAP CA")
	src := configtool.Source{Files: map[string][]byte{
		"config.yaml":             []byte("# from elsewhere\nSERVER_HOSTNAME: uploaded.example.com\nFEATURE_GARBAGE_COLLECTION: false\nNOT_A_KEY: 1\n"),
		"extra_ca_certs/ldap.crt": ldapCA,
	}}
	var buf bytes.Buffer
	if err := configtool.WriteBundle(&buf, src); err != nil {
		t.Fatal(err)
	}
	resp := c.post("/upload", url.Values{}, formFile{"bundle", "quay-config.tar.gz", buf.Bytes()})
	if resp.status != http.StatusSeeOther || resp.header.Get("Location") != "/step/server" {
		t.Fatalf("upload: %d to %q\n%s", resp.status, resp.header.Get("Location"), resp.body)
	}
	page := c.get("/step/server").body
	if valueOf(t, page, "f-SERVER_HOSTNAME") != "uploaded.example.com" || !strings.Contains(page, "extra_ca_certs/ldap.crt") {
		t.Fatal("the server step does not show the uploaded config")
	}
	if !strings.Contains(page, `id="flash"`) || !strings.Contains(page, "uploaded bundle quay-config.tar.gz") {
		t.Error("no word of what was loaded")
	}
	// The unknown key shows on the features step, beside the field that can remove it.
	page = c.get("/step/features").body
	if msg := messagesOf(t, page, "f-other-keys"); !strings.Contains(msg, "unknown key") {
		t.Fatalf("beside other keys: %q", msg)
	}
	form := formFromPage(t, page)
	if form.Get("FEATURE_GARBAGE_COLLECTION") != "" {
		t.Error("FEATURE_GARBAGE_COLLECTION is shown on although the bundle turned it off")
	}
	form.Set("other_keys", "")
	if resp := c.post("/step/features", form); resp.status != http.StatusSeeOther {
		t.Fatalf("features without the unknown key: %d\n%s", resp.status, resp.body)
	}
	y := c.reviewYAML()
	if strings.Contains(y, "NOT_A_KEY") || !strings.Contains(y, "FEATURE_GARBAGE_COLLECTION: false") {
		t.Fatalf("config.yaml after removing the unknown key:\n%s", y)
	}

	bad := []struct {
		name string
		data []byte
		want string
	}{
		{"not a bundle", []byte("hello"), "not a tar.gz"},
		{"unknown member", tarGz(t, map[string]string{"config.yaml": "{}", "notes.txt": "x"}), "not a config file"},
		{"config not YAML", tarGz(t, map[string]string{"config.yaml": "a: [b"}), "not valid YAML"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			resp := c.post("/upload", url.Values{}, formFile{"bundle", "bad.tar.gz", tc.data})
			if resp.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", resp.status)
			}
			m := regexp.MustCompile(`(?s)id="upload-error">(.*?)</div>`).FindStringSubmatch(resp.body)
			if m == nil || !strings.Contains(html.UnescapeString(m[1]), tc.want) {
				t.Fatalf("upload error %q, want %q", m, tc.want)
			}
		})
	}
	if resp := c.post("/upload", url.Values{}); resp.status != http.StatusBadRequest || !strings.Contains(resp.body, "Choose a config bundle") {
		t.Fatalf("upload without a file: %d", resp.status)
	}
	// A failed upload left the session as it was.
	if valueOf(t, c.get("/step/server").body, "f-SERVER_HOSTNAME") != "uploaded.example.com" {
		t.Error("a refused upload changed the session")
	}
}

func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestSaveToConfigDir(t *testing.T) {
	dir := t.TempDir()
	old := "# hand-written\nSERVER_HOSTNAME: old.example.com\nREGISTRY_TITLE: Old\n"
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(old), 0o600)
	var out bytes.Buffer
	_, c := newWizard(t, Options{ConfigDir: dir, Out: &out})
	page := c.get("/").body
	if !strings.Contains(page, filepath.Join(dir, "config.yaml")) {
		t.Fatal("the start page does not say it edits the config directory's config.yaml")
	}
	form := formFromPage(t, c.get("/step/server").body)
	if form.Get("SERVER_HOSTNAME") != "old.example.com" || form.Get("REGISTRY_TITLE") != "Old" {
		t.Fatalf("the wizard did not start from the directory: %v", form)
	}
	form.Set("SERVER_HOSTNAME", "new.example.com")
	c.post("/step/server", form)
	resp := c.post("/save", url.Values{})
	if resp.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", resp.status, resp.body)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "config.yaml"))
	cfg, err := schema.Parse("config.yaml", got)
	if err != nil || cfg.ServerHostname != "new.example.com" || cfg.RegistryTitle != "Old" {
		t.Fatalf("saved config.yaml: %v\n%s", err, got)
	}
	if bak, _ := os.ReadFile(filepath.Join(dir, "config.yaml.bak")); string(bak) != old {
		t.Errorf("config.yaml.bak = %q, want the previous file", bak)
	}
	if !strings.Contains(out.String(), "Saved to "+dir) || !strings.Contains(out.String(), "config.yaml.bak") {
		t.Errorf("the wizard did not say what it saved: %q", out.String())
	}
	if page := c.get("/review").body; !strings.Contains(page, "Saved to "+dir) {
		t.Error("the review page does not say what was saved")
	}
	// An invalid config is not saved.
	form.Set("SERVER_HOSTNAME", "in valid")
	form.Set("action", "back")
	c.post("/step/server", form)
	if resp := c.post("/save", url.Values{}); resp.status != http.StatusConflict {
		t.Fatalf("saving an invalid config: %d", resp.status)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "config.yaml")); !bytes.Equal(now, got) {
		t.Error("an invalid config was written")
	}

	// Without a config directory there is nothing to save to.
	_, c2 := newWizard(t, Options{})
	c2.get("/review")
	if resp := c2.post("/save", url.Values{}); resp.status != http.StatusBadRequest || !strings.Contains(resp.body, "--config-dir") {
		t.Fatalf("save without a config directory: %d %s", resp.status, resp.body)
	}
}

func TestStartOver(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("SERVER_HOSTNAME: kept.example.com\n"), 0o600)
	_, c := newWizard(t, Options{ConfigDir: dir})
	form := formFromPage(t, c.get("/step/server").body)
	form.Set("SERVER_HOSTNAME", "changed.example.com")
	c.post("/step/server", form)
	if valueOf(t, c.get("/step/server").body, "f-SERVER_HOSTNAME") != "changed.example.com" {
		t.Fatal("the change did not stick")
	}
	resp := c.post("/reset", url.Values{})
	if resp.status != http.StatusSeeOther {
		t.Fatalf("reset: %d", resp.status)
	}
	page := c.get("/").body
	if !strings.Contains(page, "Started over from "+filepath.Join(dir, "config.yaml")) {
		t.Error("the start page does not say what it started over from")
	}
	if got := valueOf(t, c.get("/step/server").body, "f-SERVER_HOSTNAME"); got != "kept.example.com" {
		t.Fatalf("after starting over SERVER_HOSTNAME is %q", got)
	}
}

func TestNewRefusesUnreadableConfig(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("a: [b\n"), 0o600)
	_, err := New(Options{ConfigDir: dir, Password: "x"})
	if err == nil || !strings.Contains(err.Error(), "not valid YAML") {
		t.Fatalf("New over a broken config.yaml: %v", err)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := New(Options{ConfigDir: file, Password: "x"}); err == nil {
		t.Fatal("New with a file as config directory succeeded")
	}
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without a password succeeded")
	}
}

func TestLoginProviders(t *testing.T) {
	_, c := newWizard(t, Options{})
	form := formFromPage(t, c.get("/step/auth").body)
	form.Set("AUTHENTICATION_TYPE", "OIDC")
	resp := c.post("/step/auth", form)
	if resp.status != http.StatusUnprocessableEntity || !strings.Contains(messagesOf(t, resp.body, "f-AUTHENTICATION_TYPE"), "_LOGIN_CONFIG") {
		t.Fatalf("OIDC without a provider: %d", resp.status)
	}
	form.Set("login_configs", "OIDC_LOGIN_CONFIG:\n  CLIENT_ID: wharf\n")
	resp = c.post("/step/auth", form)
	if msg := messagesOf(t, resp.body, "f-login-configs"); !strings.Contains(msg, "OIDC_LOGIN_CONFIG: missing properties") {
		t.Fatalf("provider without its settings: %d %q", resp.status, msg)
	}
	form.Set("login_configs", "SOMETHING: {}\n")
	resp = c.post("/step/auth", form)
	if msg := messagesOf(t, resp.body, "f-login-configs"); !strings.Contains(msg, "ends in _LOGIN_CONFIG") {
		t.Fatalf("a key that is no provider: %q", msg)
	}
	form.Set("login_configs", "OIDC_LOGIN_CONFIG:\n  CLIENT_ID: wharf\n  CLIENT_SECRET: s\n  OIDC_SERVER: https://id.example.com/\n")
	if resp := c.post("/step/auth", form); resp.status != http.StatusSeeOther {
		t.Fatalf("a complete provider: %d\n%s", resp.status, resp.body)
	}
	cfg, err := schema.Parse("config.yaml", []byte(c.reviewYAML()))
	if err != nil || cfg.LoginConfigs["OIDC_LOGIN_CONFIG"].OIDCServer != "https://id.example.com/" {
		t.Fatalf("config: %v %+v", err, cfg)
	}
}

func TestObjectFields(t *testing.T) {
	_, c := newWizard(t, Options{})
	form := formFromPage(t, c.get("/step/redis").body)
	if form.Get("BUILDLOGS_REDIS/port") != "6379" {
		t.Fatalf("redis port shows %q, want the default 6379", form.Get("BUILDLOGS_REDIS/port"))
	}
	form.Set("BUILDLOGS_REDIS/port", "70000")
	resp := c.post("/step/redis", form)
	if msg := messagesOf(t, resp.body, "f-BUILDLOGS_REDIS-port"); resp.status != http.StatusUnprocessableEntity || !strings.Contains(msg, "must be <= 65535") {
		t.Fatalf("port out of range: %d %q", resp.status, msg)
	}
	form.Set("BUILDLOGS_REDIS/port", "6379")
	form.Set("BUILDLOGS_REDIS/host", "redis.internal")
	form.Set("BUILDLOGS_REDIS/password", "pw")
	form.Set("action", "back")
	c.post("/step/redis", form)
	y := c.reviewYAML()
	if !strings.Contains(y, "BUILDLOGS_REDIS:\n  host: redis.internal\n  password: pw\n") || strings.Contains(y, "USER_EVENTS_REDIS") {
		t.Fatalf("config.yaml:\n%s", y)
	}
}

func TestCatalogCoversSchema(t *testing.T) {
	cat, err := schemaCatalog()
	if err != nil {
		t.Fatal(err)
	}
	var props struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	json.Unmarshal(schema.JSON, &props)
	seen := map[string]string{}
	for _, g := range configtool.Groups {
		if len(cat.fields[g]) == 0 {
			t.Errorf("step %s has no fields", g)
		}
		if stepTitles[g] == "" || stepIntros[g] == "" {
			t.Errorf("step %s has no title or introduction", g)
		}
		for _, f := range cat.fields[g] {
			if prev, dup := seen[f.Path]; dup {
				t.Errorf("%s is on steps %s and %s", f.Path, prev, g)
			}
			seen[f.Path] = g
			if f.Help == "" {
				t.Errorf("%s has no help text", f.Path)
			}
		}
	}
	for key := range props.Properties {
		k, _ := schema.Lookup(key)
		if !k.Honoured {
			if seen[key] != "" {
				t.Errorf("%s, which Wharf does not honour, is a field on step %s", key, seen[key])
			}
			continue
		}
		if seen[key] == "" {
			t.Errorf("schema key %s is on no step of the wizard (GroupOf says %q)", key, configtool.GroupOf(key))
		}
	}
	if len(cat.drivers) == 0 {
		t.Fatal("no storage drivers read from the schema")
	}
	for _, d := range cat.drivers {
		if len(d.Params) == 0 {
			t.Errorf("driver %s has no parameters", d.Name)
		}
	}
}

func TestDriversCSS(t *testing.T) {
	wz, c := newWizard(t, Options{})
	resp := c.get("/static/drivers.css")
	for _, d := range wz.cat.drivers {
		if !strings.Contains(resp.body, fmt.Sprintf(`.params[data-driver=%q]`, d.Name)) {
			t.Errorf("drivers.css does not show %s's parameters:\n%s", d.Name, resp.body)
		}
	}
}
