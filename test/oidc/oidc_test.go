// Package oidc tests OpenID Connect login end to end: a real provider (Dex) and a real
// browser (headless chromium) sign a user in to a real `wharf serve` configured with
// AUTHENTICATION_TYPE: OIDC; the user lands in a web session, creates an app-specific token
// there, and pushes an image with skopeo using it.
package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/wharf-registry/wharf/internal/testservers"
)

func TestMain(m *testing.M) { testservers.Main(m) }

func TestOIDCLoginThenAppTokenWithSkopeo(t *testing.T) {
	port := testservers.FreePort(t)
	host := "127.0.0.1:" + strconv.Itoa(port)
	dex := testservers.Dex(t,
		[]testservers.DexClient{{ID: "wharf", Secret: "wharf-client-secret", RedirectURIs: []string{"http://" + host + "/oauth2/oidc/callback"}}},
		[]testservers.DexUser{{Email: "olivia@example.test", Username: "olivia", Password: "olivia-password"}})
	w := testservers.StartWharf(t, testservers.WharfOptions{Port: port, Config: `AUTHENTICATION_TYPE: OIDC
FEATURE_APP_SPECIFIC_TOKENS: true
FEATURE_USER_LOG_ACCESS: true
FEATURE_GARBAGE_COLLECTION: false
OIDC_LOGIN_CONFIG:
  CLIENT_ID: wharf
  CLIENT_SECRET: wharf-client-secret
  OIDC_SERVER: ` + dex.Issuer + `/
  SERVICE_NAME: Dex
`})

	// Sign in through the provider in a real browser; land on Wharf's page, signed in.
	ctx := testservers.Browser(t)
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	var username, tokenJSON string
	err := chromedp.Run(ctx,
		chromedp.Navigate(w.URL+"/signin"),
		testservers.Click("a.login"),
		chromedp.WaitVisible("#login", chromedp.ByQuery),
		chromedp.SendKeys("#login", "olivia@example.test", chromedp.ByQuery),
		chromedp.SendKeys("#password", "olivia-password", chromedp.ByQuery),
		testservers.Click("#submit-login"),
		chromedp.WaitVisible("#signed-in", chromedp.ByQuery),
		chromedp.Text("#username", &username, chromedp.ByQuery),
		// In the session, create an app-specific token through the API, as the UI will.
		chromedp.Evaluate(`(async () => {
			const me = await (await fetch('/api/v1/user/')).json();
			const r = await fetch('/api/v1/user/apptoken', {method: 'POST',
				headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token},
				body: JSON.stringify({title: 'skopeo'})});
			return JSON.stringify({status: r.status, body: await r.json()});
		})()`, &tokenJSON, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
	)
	if err != nil {
		t.Fatalf("browser login: %v\nwharf log:\n%s", err, tail(w.Logs()))
	}
	if username != "olivia" {
		t.Fatalf("signed in as %q, want olivia", username)
	}
	var created struct {
		Status int `json:"status"`
		Body   struct {
			Token struct {
				TokenCode string `json:"token_code"`
			} `json:"token"`
		} `json:"body"`
	}
	if err := json.Unmarshal([]byte(tokenJSON), &created); err != nil || created.Status != 200 && created.Status != 201 || created.Body.Token.TokenCode == "" {
		t.Fatalf("creating an app token in the session: %s (%v)", tokenJSON, err)
	}
	token := created.Body.Token.TokenCode

	// skopeo pushes into the user's namespace with the token; the OIDC user has no password.
	src := imageDir(t)
	skopeo := testservers.LookTool(t, "skopeo")
	policy := filepath.Join(t.TempDir(), "policy.json")
	os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o600)
	run := func(creds string) (string, error) {
		cmd := exec.Command(skopeo, "--policy", policy, "copy", "--dest-tls-verify=false", "--dest-creds", creds,
			"dir:"+src, "docker://"+host+"/olivia/app:v1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("$app:" + token); err != nil {
		t.Fatalf("skopeo copy with the app token: %v\n%s\nwharf log:\n%s", err, out, tail(w.Logs()))
	}
	if out, err := run("olivia:olivia-password"); err == nil {
		t.Fatalf("skopeo with the provider password succeeded under OIDC:\n%s", out)
	}

	// Olivia's own log, read in her session, holds exactly what she did.
	var logsJSON string
	if err := chromedp.Run(ctx, chromedp.Evaluate(`(async () => JSON.stringify(await (await fetch('/api/v1/user/logs')).json()))()`,
		&logsJSON, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) })); err != nil {
		t.Fatal(err)
	}
	var logs struct {
		Logs []struct {
			Kind      string `json:"kind"`
			Performer *struct {
				Name string `json:"name"`
			} `json:"performer"`
			Metadata map[string]any `json:"metadata"`
		} `json:"logs"`
	}
	if err := json.Unmarshal([]byte(logsJSON), &logs); err != nil {
		t.Fatalf("user logs: %v: %s", err, logsJSON)
	}
	var got []string
	for _, l := range logs.Logs {
		s := l.Kind
		if l.Performer != nil {
			s += " by " + l.Performer.Name
		}
		if typ, ok := l.Metadata["type"].(string); ok {
			s += " (" + typ + ")"
		}
		got = append(got, s)
	}
	slices.Sort(got)
	want := []string{"user_create by olivia", "login_success by olivia (oidc)", "create_app_specific_token by olivia",
		"login_success by olivia (docker)", "create_repo by olivia", "push_repo by olivia", "login_failure by olivia (docker)"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("olivia's audit log:\n got %q\nwant %q", got, want)
	}
}

// imageDir writes a one-layer image in skopeo's dir: layout.
func imageDir(t *testing.T) string {
	dir := t.TempDir()
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer := []byte("not really a tarball, but skopeo copies bytes")
	write := func(b []byte) string {
		sum := fmt.Sprintf("%x", sha256.Sum256(b))
		os.WriteFile(filepath.Join(dir, sum), b, 0o600)
		return "sha256:" + sum
	}
	cd, ld := write(config), write(layer)
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
		cd, len(config), ld, len(layer))
	os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(manifest), 0o600)
	os.WriteFile(filepath.Join(dir, "version"), []byte("Directory Transport Version: 1.1\n"), 0o600)
	return dir
}

func tail(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}
