package testservers

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestDex(t *testing.T) {
	redirect := "http://127.0.0.1:1/callback"
	dex := Dex(t,
		[]DexClient{{ID: "wharf", Secret: "wharf-secret", RedirectURIs: []string{redirect}}},
		[]DexUser{{Email: "alice@example.com", Username: "alice", Password: "alice-password"}})
	if !strings.HasPrefix(dex.Issuer, "http://127.0.0.1:") || !strings.HasSuffix(dex.Issuer, "/dex") {
		t.Fatalf("Issuer = %q, want http://127.0.0.1:PORT/dex", dex.Issuer)
	}
	client := &http.Client{Timeout: 10 * time.Second}

	resp, err := client.Get(dex.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var disco struct {
		Issuer                string `json:"issuer"`
		AuthorizationEndpoint string `json:"authorization_endpoint"`
	}
	err = json.NewDecoder(resp.Body).Decode(&disco)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("decode the discovery document: %v", err)
	}
	if disco.Issuer != dex.Issuer {
		t.Errorf("discovery issuer = %q, want %q", disco.Issuer, dex.Issuer)
	}

	// The authorization endpoint leads straight to the password form: no connector chooser.
	q := url.Values{
		"client_id":     {"wharf"},
		"redirect_uri":  {redirect},
		"response_type": {"code"},
		"scope":         {"openid email"},
		"state":         {"xyz"},
	}
	resp, err = client.Get(disco.AuthorizationEndpoint + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `id="login"`) || !strings.Contains(string(body), `id="password"`) {
		t.Fatalf("authorization endpoint: %s, want the login form; page:\n%s", resp.Status, body)
	}

	// An unknown client is refused: the configuration holds only the clients given.
	q.Set("client_id", "someone-else")
	resp, err = client.Get(disco.AuthorizationEndpoint + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Errorf("authorization endpoint with an unknown client: %s, want an error", resp.Status)
	}
}

func TestDexStopsAfterTest(t *testing.T) {
	var issuer string
	t.Run("start", func(t *testing.T) {
		issuer = Dex(t, nil, nil).Issuer
	})
	client := &http.Client{Timeout: 2 * time.Second}
	if resp, err := client.Get(issuer + "/.well-known/openid-configuration"); err == nil {
		resp.Body.Close()
		t.Fatalf("dex at %s still answers after its test ended", issuer)
	}
}
