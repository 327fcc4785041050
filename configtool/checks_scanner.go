package configtool

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wharf-registry/wharf/scanner/clair"
	"github.com/wharf-registry/wharf/schema"
)

// IndexStatePath is the health endpoint of a Clair v4 compatible scanner, under
// SECURITY_SCANNER_V4_ENDPOINT.
const IndexStatePath = "/indexer/api/v1/index_state"

func init() {
	consistencyChecks = append(consistencyChecks, checkScannerSettings)
	checks = append(checks, Check{Group: GroupScanner, Run: checkScanner})
}

// checkScannerSettings requires SECURITY_SCANNER_V4_PSK, when the scanner is on and the key
// is set, to be base64 as Clair's PSK is. As in Quay, the key itself is optional: a scanner
// may run without authentication.
func checkScannerSettings(cfg *schema.Config, _ Source) []schema.Problem {
	if !cfg.FeatureSecurityScanner || cfg.SecurityScannerV4PSK == "" {
		return nil
	}
	if _, err := scannerKey(cfg.SecurityScannerV4PSK); err != nil {
		return []schema.Problem{cfg.Problem("SECURITY_SCANNER_V4_PSK", "not base64: "+err.Error()+": copy the PSK exactly as the scanner's configuration holds it (base64)")}
	}
	return nil
}

func scannerKey(psk string) ([]byte, error) { return clair.ParsePSK(psk) }

// checkScanner asks the scanner for its index state, as Quay does, signing the request with
// the PSK when there is one.
func checkScanner(ctx context.Context, env *Env) []Result {
	cfg := env.Config
	r := newResult(GroupScanner, "index state", "SECURITY_SCANNER_V4_ENDPOINT")
	switch {
	case !cfg.FeatureSecurityScanner:
		return []Result{r.skip("FEATURE_SECURITY_SCANNER is off")}
	case cfg.SecurityScannerV4Endpoint == "":
		return []Result{r.skip("no SECURITY_SCANNER_V4_ENDPOINT: the built-in scanner runs inside `wharf serve`")}
	}
	start := time.Now()
	ctx, cancel := withTimeout(ctx, env)
	defer cancel()
	state, err := indexState(ctx, env)
	if err != nil {
		if strings.Contains(err.Error(), "SECURITY_SCANNER_V4_PSK") {
			r.Path = "SECURITY_SCANNER_V4_PSK"
		}
		return []Result{r.fail(start, "%v", err)}
	}
	return []Result{r.ok(start, "the scanner at %s is healthy (index state %s)", cfg.SecurityScannerV4Endpoint, state)}
}

// indexState GETs the scanner's index state and returns it.
func indexState(ctx context.Context, env *Env) (string, error) {
	cfg := env.Config
	endpoint := strings.TrimSuffix(cfg.SecurityScannerV4Endpoint, "/")
	u, err := url.Parse(endpoint + IndexStatePath)
	if err != nil {
		return "", fmt.Errorf("SECURITY_SCANNER_V4_ENDPOINT is not a URL: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("SECURITY_SCANNER_V4_ENDPOINT: %v", err)
	}
	if cfg.SecurityScannerV4PSK != "" {
		token, err := scannerToken(cfg.SecurityScannerV4PSK, time.Now())
		if err != nil {
			return "", err
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig(env.Source, u.Hostname())
	transport.Proxy = nil // the check is about this host's own route to the scanner
	client := &http.Client{Transport: transport, Timeout: env.Timeout}
	defer transport.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		reason := netReason(err, u.Host, env.Timeout)
		if reason == "" {
			reason = err.Error()
		}
		return "", fmt.Errorf("cannot reach the scanner: %s: check SECURITY_SCANNER_V4_ENDPOINT", reason)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		if cfg.SecurityScannerV4PSK == "" {
			return "", fmt.Errorf("the scanner at %s wants authentication (%s): set SECURITY_SCANNER_V4_PSK to its pre-shared key", endpoint, resp.Status)
		}
		return "", fmt.Errorf("the scanner at %s refused the request signed with SECURITY_SCANNER_V4_PSK (%s): use the PSK from the scanner's configuration", endpoint, resp.Status)
	case resp.StatusCode == http.StatusNotFound:
		return "", fmt.Errorf("%s answered 404: no Clair v4 indexer there: SECURITY_SCANNER_V4_ENDPOINT is the scanner's base URL (e.g. http://clair:8080), without /indexer", u)
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("%s answered %s: the scanner is not healthy; see its logs", u, resp.Status)
	}
	var st struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal(body, &st); err != nil || st.State == "" {
		return "", fmt.Errorf("%s answered 200 but not with Clair's index state ({\"state\": ...}): is SECURITY_SCANNER_V4_ENDPOINT a Clair v4 compatible scanner?", u)
	}
	return st.State, nil
}

// scannerToken is the JWT Quay sends Clair: HS256 with the decoded PSK, issuer "quay".
func scannerToken(psk string, now time.Time) (string, error) {
	key, err := scannerKey(psk)
	if err != nil {
		return "", fmt.Errorf("SECURITY_SCANNER_V4_PSK is not base64: %v", err)
	}
	claims := jwt.RegisteredClaims{
		Issuer:    "quay",
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
		ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
}
