package tls

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/configtool/tlsgen"
	"github.com/wharf-registry/wharf/internal/testservers"
)

// TestExternalTLSTermination runs Wharf behind a TLS-terminating reverse proxy, as behind a
// load balancer: with EXTERNAL_TLS_TERMINATION the server speaks plain HTTP on its own port
// (even with ssl.cert and ssl.key in its config directory), hands out https URLs naming the
// proxy, and skopeo pushes and pulls through the proxy over verified TLS.
func TestExternalTLSTermination(t *testing.T) {
	ca, err := tlsgen.NewCA("proxy test CA", tlsgen.ECDSA, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	issued, err := ca.Issue(tlsgen.Subjects{DNSNames: []string{"localhost"}}, tlsgen.ECDSA, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := issued.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	proxyCert, err := tls.X509KeyPair(issued.CertPEM(), keyPEM)
	if err != nil {
		t.Fatal(err)
	}

	wharfAddr := "127.0.0.1:" + strconv.Itoa(testservers.FreePort(t))
	backend := &url.URL{Scheme: "http", Host: wharfAddr}
	proxy := httptest.NewUnstartedServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(backend)
		r.Out.Host = r.In.Host // as load balancers do, keep the name the client used
		r.SetXForwarded()
	}})
	proxy.TLS = &tls.Config{Certificates: []tls.Certificate{proxyCert}, MinVersion: tls.VersionTLS12}
	proxy.StartTLS()
	t.Cleanup(proxy.Close)
	_, proxyPort, _ := net.SplitHostPort(proxy.Listener.Addr().String())
	host := "localhost:" + proxyPort

	dir := newConfigDir(t, "SERVER_HOSTNAME: "+host+"\nPREFERRED_URL_SCHEME: https\nEXTERNAL_TLS_TERMINATION: true\n",
		map[string][]byte{"ssl.cert": issued.CertPEM(), "ssl.key": keyPEM})
	s := startServe(t, wharfAddr, dir)
	s.waitHTTP(t)
	if want := "Serving plain HTTP on " + wharfAddr + " for https://" + host; !s.printed(want) {
		t.Errorf("start-up output lacks %q:\n%s", want, s.Logs())
	}

	// On its own port: plain HTTP, no TLS, and https URLs naming the proxy.
	resp, err := http.Get("http://" + wharfAddr + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if realm := resp.Header.Get("WWW-Authenticate"); !strings.Contains(realm, `realm="https://`+host+`/v2/auth"`) {
		t.Errorf("GET /v2/ challenge %q, want the realm https://%s/v2/auth", realm, host)
	}
	if c, err := tls.Dial("tcp", wharfAddr, &tls.Config{InsecureSkipVerify: true}); err == nil { //nolint:gosec // any TLS at all is wrong here
		c.Close()
		t.Error("Wharf's own port completed a TLS handshake under EXTERNAL_TLS_TERMINATION")
	}

	pushAndPull(t, host+"/admin/app:v1", certDir(t, ca.CertPEM()))
}
