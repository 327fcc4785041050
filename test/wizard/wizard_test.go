// Package wizard tests `wharf config wizard` end to end, as a person uses it: a real `wharf
// config wizard` process, driven by headless chromium, walks through every step, meets an
// error beside its field, fixes it, downloads the config bundle; the bundle is unpacked with
// tar and a real `wharf serve` starts from it. A second test uploads that bundle into a wizard
// on a config directory and saves it there.
package wizard

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/wharf-registry/wharf/internal/testservers"
)

func TestMain(m *testing.M) { testservers.Main(m) }

// process is a wharf subcommand started for a test, stopped with SIGTERM when it ends.
type process struct {
	cmd  *exec.Cmd
	out  *testservers.Output
	done chan struct{}
}

func start(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{out: &testservers.Output{}, done: make(chan struct{})}
	p.cmd = exec.Command(testservers.WharfBinary(t), args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start wharf %s: %v", strings.Join(args, " "), err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
			t.Errorf("wharf %s did not stop within 30s of SIGTERM", args[0])
		}
	})
	return p
}

// waitOutput waits until the process printed something matching re and returns the match.
func (p *process) waitOutput(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := re.FindStringSubmatch(p.out.String()); m != nil {
			return m
		}
		select {
		case <-p.done:
			t.Fatalf("wharf exited before printing %s:\n%s", re, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("wharf did not print %s within 30s:\n%s", re, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var startLine = regexp.MustCompile(`open (http://\S+), user (\S+), password (.+)\n`)

// wizardBrowser is chromium on a wizard: it answers the wizard's password prompt as a person
// would, records what goes wrong in the page (exceptions, console errors), and saves
// downloads into a directory.
type wizardBrowser struct {
	ctx       context.Context
	console   *testservers.Console
	downloads chan string
	dir       string
}

func newBrowser(t *testing.T, user, password string) *wizardBrowser {
	t.Helper()
	ctx := testservers.Browser(t)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancel)
	// Network entries report HTTP statuses (the wizard answers 422 to a step with problems,
	// by design), so the console watch leaves them out.
	b := &wizardBrowser{ctx: ctx, console: testservers.WatchConsole(ctx, false), downloads: make(chan string, 4), dir: t.TempDir()}
	onEvent := func(ev any) {
		switch ev := ev.(type) {
		case *fetch.EventAuthRequired:
			go b.cdp(fetch.ContinueWithAuth(ev.RequestID, &fetch.AuthChallengeResponse{
				Response: fetch.AuthChallengeResponseResponseProvideCredentials, Username: user, Password: password}))
		case *fetch.EventRequestPaused:
			go b.cdp(fetch.ContinueRequest(ev.RequestID))
		case *browser.EventDownloadProgress:
			if ev.State == browser.DownloadProgressStateCompleted {
				select {
				case b.downloads <- filepath.Join(b.dir, ev.GUID):
				default:
				}
			}
		}
	}
	chromedp.ListenTarget(ctx, onEvent)
	chromedp.ListenBrowser(ctx, onEvent)
	if err := chromedp.Run(ctx,
		fetch.Enable().WithHandleAuthRequests(true),
		browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllowAndName).WithDownloadPath(b.dir).WithEventsEnabled(true),
	); err != nil {
		t.Fatal(err)
	}
	return b
}

// cdp runs a DevTools command on the tab from an event handler.
func (b *wizardBrowser) cdp(action chromedp.Action) {
	c := chromedp.FromContext(b.ctx)
	if c == nil || c.Target == nil {
		return
	}
	action.Do(cdp.WithExecutor(b.ctx, c.Target))
}

func (b *wizardBrowser) checkNoProblems(t *testing.T) {
	t.Helper()
	if p := b.console.Problems(); len(p) > 0 {
		t.Errorf("the browser reported errors:\n%s", strings.Join(p, "\n"))
	}
}

func (b *wizardBrowser) run(t *testing.T, what string, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(b.ctx, actions...); err != nil {
		var loc, body string
		chromedp.Run(b.ctx, chromedp.Location(&loc), chromedp.Text("main", &body, chromedp.ByQuery))
		t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, body)
	}
}

// text reads an element's text.
func (b *wizardBrowser) text(t *testing.T, sel string) string {
	t.Helper()
	var s string
	b.run(t, "read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
	return s
}

// replace types a new value into a text field as a person does: select all its text, type
// over it.
func replace(sel, value string) chromedp.Action {
	var got string
	return chromedp.Tasks{
		chromedp.WaitVisible(sel, chromedp.ByQuery),
		chromedp.Focus(sel, chromedp.ByQuery),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(input.ModifierCtrl)),
		chromedp.SendKeys(sel, value, chromedp.ByQuery),
		chromedp.Value(sel, &got, chromedp.ByQuery),
		chromedp.ActionFunc(func(context.Context) error {
			if got != value {
				return fmt.Errorf("%s holds %q after typing %q over it", sel, got, value)
			}
			return nil
		}),
	}
}

// next presses the step's Next button and waits for the page it leads to.
func next(waitFor string) chromedp.Action {
	return chromedp.Tasks{testservers.Click("#next"), chromedp.WaitVisible(waitFor, chromedp.ByQuery)}
}

func TestWizardToBundleToServe(t *testing.T) {
	if testing.Short() {
		t.Skip("drives headless chromium and real wharf processes; run without -short")
	}
	tmp := t.TempDir()
	servePort := testservers.FreePort(t)
	serverHost := "127.0.0.1:" + strconv.Itoa(servePort)
	dbFile := filepath.Join(tmp, "db", "wharf.db")
	storageDir := filepath.Join(tmp, "blobs")
	aFile := filepath.Join(tmp, "a-file")
	for _, d := range []string{filepath.Dir(dbFile)} {
		os.MkdirAll(d, 0o700)
	}
	os.WriteFile(aFile, []byte("not a directory"), 0o600)

	// The wizard prints where it is and a password it made up.
	wz := start(t, "config", "wizard", "--listen", "127.0.0.1:"+strconv.Itoa(testservers.FreePort(t)), "--data-dir", filepath.Join(tmp, "data"))
	m := wz.waitOutput(t, startLine)
	url, user, password := m[1], m[2], m[3]
	if user != "wharfconfig" || len(password) < 16 {
		t.Fatalf("start line: %q", m[0])
	}
	resp, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the wizard answered %d without its password", resp.StatusCode)
	}

	b := newBrowser(t, user, password)
	b.run(t, "open the start page and begin",
		chromedp.Navigate(url+"/"),
		chromedp.WaitVisible("#begin", chromedp.ByQuery),
		testservers.Click("#begin"),
		chromedp.WaitVisible("#f-SERVER_HOSTNAME", chromedp.ByQuery))

	// A host name that is none: the step stays, the problem shows beside the field.
	b.run(t, "enter a bad host name", replace("#f-SERVER_HOSTNAME", "my registry!"), next("#blocked"))
	if msg := b.text(t, "#f-SERVER_HOSTNAME-msg"); !strings.Contains(msg, "does not match pattern") {
		t.Fatalf("beside SERVER_HOSTNAME: %q", msg)
	}
	var invalid string
	b.run(t, "read aria-invalid", chromedp.AttributeValue("#f-SERVER_HOSTNAME", "aria-invalid", &invalid, nil, chromedp.ByQuery))
	if invalid != "true" {
		t.Errorf("the field is not marked invalid (aria-invalid=%q)", invalid)
	}
	// Fixing it, the live check clears the problem as soon as the field is left.
	b.run(t, "fix the host name",
		replace("#f-SERVER_HOSTNAME", serverHost),
		chromedp.Focus("#f-REGISTRY_TITLE", chromedp.ByQuery),
		chromedp.Poll(`document.getElementById("live").textContent === "Checked: no problems in this step." &&
			document.getElementById("f-SERVER_HOSTNAME-msg").children.length === 0 &&
			!document.getElementById("f-SERVER_HOSTNAME").hasAttribute("aria-invalid")`, nil, chromedp.WithPollingTimeout(20*time.Second)))
	b.run(t, "server step", replace("#f-REGISTRY_TITLE", "Wizard Registry"), next("#f-DB_URI"))

	// The embedded SQLite database, in a file of our choosing; Redis left out.
	b.run(t, "database step", replace("#f-DB_URI", "sqlite:///"+dbFile), next("#f-BUILDLOGS_REDIS-host"))
	b.run(t, "redis step", next("#loc-0-LocalStorage-storage_path"))

	// Storage in a path that is a file: the check fails beside the location, and says the
	// person may go on; fixed, the step passes.
	b.run(t, "storage in a file", replace("#loc-0-LocalStorage-storage_path", aFile), next("#warned"))
	if msg := b.text(t, "#loc-0-msg"); !strings.Contains(msg, "Check failed") || !strings.Contains(msg, "not a directory") {
		t.Fatalf("beside the storage location: %q", msg)
	}
	b.run(t, "continue is offered", chromedp.WaitVisible("#continue", chromedp.ByQuery))
	b.run(t, "storage step", replace("#loc-0-LocalStorage-storage_path", storageDir), next("#f-AUTHENTICATION_TYPE"))
	b.run(t, "auth step", next("#f-FEATURE_ANONYMOUS_ACCESS"))
	b.run(t, "features step", next("#f-FEATURE_MAILING"))
	b.run(t, "mail step", next("#f-FEATURE_SECURITY_SCANNER"))
	b.run(t, "scanner step", next("#config-yaml"))

	// The review: valid, every check passed, and the config.yaml says what was entered.
	var review string
	b.run(t, "review", chromedp.WaitVisible("#valid", chromedp.ByQuery), chromedp.Text("#config-yaml", &review, chromedp.ByQuery))
	for _, want := range []string{"SERVER_HOSTNAME: " + serverHost, "REGISTRY_TITLE: Wizard Registry", "DB_URI: sqlite:///" + dbFile, "storage_path: " + storageDir} {
		if !strings.Contains(review, want) {
			t.Errorf("config.yaml lacks %q:\n%s", want, review)
		}
	}
	if checks := b.text(t, "#checks"); !strings.Contains(checks, "storage") || !strings.Contains(checks, "database") {
		t.Errorf("the review lists no storage and database checks:\n%s", checks)
	}

	// Download the bundle and unpack it with tar, as the review page says.
	b.run(t, "download", testservers.Click("#download"))
	var bundle string
	select {
	case bundle = <-b.downloads:
	case <-time.After(30 * time.Second):
		t.Fatal("the bundle was not downloaded within 30s")
	}
	configDir := filepath.Join(tmp, "config")
	os.MkdirAll(configDir, 0o700)
	if out, err := exec.Command("tar", "-xzf", bundle, "-C", configDir).CombinedOutput(); err != nil {
		t.Fatalf("tar -xzf the bundle: %v\n%s", err, out)
	}
	st, err := os.Stat(filepath.Join(configDir, "config.yaml"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("unpacked config.yaml: %v %v", st, err)
	}
	b.checkNoProblems(t)

	// `wharf serve` starts from the bundle and runs what the wizard validated.
	srv := start(t, "serve", "--config-dir", configDir, "--data-dir", filepath.Join(tmp, "data"), "--listen", serverHost)
	waitHealthy(t, srv, "http://"+serverHost)
	resp, err = http.Get("http://" + serverHost + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusOK {
		t.Fatalf("/v2/ answered %d", resp.StatusCode)
	}
	if resp.StatusCode == http.StatusUnauthorized && !strings.Contains(resp.Header.Get("WWW-Authenticate"), serverHost) {
		t.Errorf("/v2/ challenge %q does not name SERVER_HOSTNAME %s", resp.Header.Get("WWW-Authenticate"), serverHost)
	}
	if _, err := os.Stat(dbFile); err != nil {
		t.Errorf("wharf serve did not use the database the wizard configured: %v", err)
	}
	if _, err := os.Stat(storageDir); err != nil {
		t.Errorf("wharf serve did not use the storage the wizard configured: %v", err)
	}

	t.Run("upload and save", func(t *testing.T) { uploadAndSave(t, bundle) })
}

func waitHealthy(t *testing.T, p *process, base string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/health/instance")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.done:
			t.Fatalf("wharf serve exited before it was healthy:\n%s", p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("wharf serve was not healthy within a minute:\n%s", p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// uploadAndSave starts a wizard on a config directory that holds an older config, uploads
// the bundle on its start page, and saves it into the directory.
func uploadAndSave(t *testing.T, bundle string) {
	dir := t.TempDir()
	old := "SERVER_HOSTNAME: old.example.com\n"
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(old), 0o600)
	const password = "wizard-test-password"
	wz := start(t, "config", "wizard", "--config-dir", dir, "--password", password, "--listen", "127.0.0.1:"+strconv.Itoa(testservers.FreePort(t)))
	m := wz.waitOutput(t, startLine)
	if m[3] != "as given" { // the password is not echoed
		t.Errorf("the wizard printed the given password: %q", m[0])
	}
	b := newBrowser(t, "wharfconfig", password)
	var origin string
	b.run(t, "start page",
		chromedp.Navigate(m[1]+"/"),
		chromedp.WaitVisible("#bundle", chromedp.ByQuery),
		chromedp.Text("#origin", &origin, chromedp.ByQuery))
	if origin != filepath.Join(dir, "config.yaml") {
		t.Errorf("the wizard edits %q, want the config directory's config.yaml", origin)
	}
	var host string
	b.run(t, "upload the bundle",
		chromedp.SetUploadFiles("#bundle", []string{bundle}, chromedp.ByQuery),
		testservers.Click("#upload"),
		chromedp.WaitVisible("#flash", chromedp.ByQuery),
		chromedp.Value("#f-SERVER_HOSTNAME", &host, chromedp.ByQuery))
	if !strings.HasPrefix(host, "127.0.0.1:") {
		t.Fatalf("after the upload SERVER_HOSTNAME is %q", host)
	}
	var flash string
	b.run(t, "save",
		chromedp.Navigate(m[1]+"/review"),
		chromedp.WaitVisible("#save", chromedp.ByQuery),
		testservers.Click("#save"),
		chromedp.WaitVisible("#flash", chromedp.ByQuery),
		chromedp.Text("#flash", &flash, chromedp.ByQuery))
	if !strings.Contains(flash, "Saved to "+dir) {
		t.Fatalf("after Save: %q", flash)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "config.yaml"))
	if !strings.Contains(string(got), "SERVER_HOSTNAME: "+host) {
		t.Errorf("saved config.yaml:\n%s", got)
	}
	if bak, _ := os.ReadFile(filepath.Join(dir, "config.yaml.bak")); string(bak) != old {
		t.Errorf("config.yaml.bak = %q", bak)
	}
	if !strings.Contains(wz.out.String(), "Saved to "+dir) {
		t.Errorf("the wizard did not print what it saved:\n%s", wz.out.String())
	}
	// What the wizard saved passes `wharf config validate` too.
	out, err := exec.Command(testservers.WharfBinary(t), "config", "validate", "--offline", dir).CombinedOutput()
	if err != nil {
		t.Errorf("wharf config validate of the saved directory: %v\n%s", err, out)
	}
	b.checkNoProblems(t)
}
