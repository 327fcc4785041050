package interop

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/testservers"
)

// TestListenAddressRealm shows a defect of the embedded default: with no config.yaml, `wharf
// serve --listen 127.0.0.1:PORT` (the default listen address is 127.0.0.1:8080) names itself
// localhost:PORT, so a client that reaches it at the address it listens on is sent to a token
// realm on another host name. oras (oras-go v2.7) refuses a bearer realm on loopback whose
// host differs from the registry's, so `oras push 127.0.0.1:PORT/...` fails with "bearer realm
// host "localhost" resolves to 127.0.0.1, in blocked prefix 127.0.0.0/8". The realm should
// name the host the client used when SERVER_HOSTNAME is not configured.
func TestListenAddressRealm(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and runs oras")
	}
	w := testservers.StartWharf(t, testservers.WharfOptions{})
	for _, host := range []string{w.Host, strings.Replace(w.Host, "127.0.0.1", "localhost", 1)} {
		t.Run(host, func(t *testing.T) {
			realm, err := url.Parse(tokenRealm(t, "http://"+host))
			if err != nil {
				t.Fatal(err)
			}
			if realm.Host != host {
				t.Errorf("GET http://%s/v2/ names the token realm %s: on another host than the client used", host, realm)
			}
			c := newClientsAt(t, w, host, w.User, w.Password)
			writeFile(t, filepath.Join(c.dir, "hello.txt"), []byte("hello\n"))
			out, stderr, err := c.try("oras", "push", "--plain-http", "--registry-config", c.orasConfig,
				c.ref("admin/listen-address:v1"), "hello.txt")
			if err != nil {
				t.Errorf("oras push %s: %v\n%s%s", c.ref("admin/listen-address:v1"), err, out, stderr)
			}
		})
	}
}
