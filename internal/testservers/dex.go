package testservers

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// DexServer is a Dex OpenID provider started for one test. It keeps its state in memory,
// signs in the DexUsers it was given through its password database (its own HTML login form,
// fields #login and #password, button #submit-login) and skips its approval screen, so a
// browser goes from the authorization endpoint to the login form and, once signed in, straight
// back to the client's redirect URI.
type DexServer struct {
	// Issuer is the provider's issuer URL, http://127.0.0.1:PORT/dex; its discovery document
	// is at Issuer + "/.well-known/openid-configuration".
	Issuer string
}

// DexUser is an account in Dex's password database. Dex signs in with the email address;
// Username becomes the ID token's name claim (and preferred_username in Dex versions that
// set it). Email is reported as verified.
type DexUser struct {
	Email    string
	Username string
	Password string
}

// DexClient is an OAuth 2.0 client registered with Dex.
type DexClient struct {
	ID           string
	Secret       string
	RedirectURIs []string
}

// Dex starts a Dex OpenID provider for this test, with the clients and users given, and stops
// it when the test ends. It listens on a free loopback port and is ready (its discovery
// document answers) on return. The dex binary comes from the tools directory that `make deps`
// fills.
func Dex(t testing.TB, clients []DexClient, users []DexUser) *DexServer {
	t.Helper()
	bin := LookTool(t, "dex")
	webDir, err := dexWebDir(bin)
	if err != nil {
		t.Fatalf("dex: %v", err)
	}
	dir := t.TempDir()
	// A port found free may be taken before Dex binds it: then try other ports.
	for attempt := 0; ; attempt++ {
		port := FreePort(t)
		s := &DexServer{Issuer: "http://127.0.0.1:" + strconv.Itoa(port) + "/dex"}
		conf, err := dexConfig(s.Issuer, port, webDir, clients, users)
		if err != nil {
			t.Fatalf("dex: %v", err)
		}
		path := filepath.Join(dir, "config.json")
		if err := os.WriteFile(path, conf, 0o600); err != nil {
			t.Fatalf("dex: write config: %v", err)
		}
		retry, err := s.start(t, bin, path)
		if err == nil {
			return s
		}
		if !retry || attempt == 2 {
			t.Fatalf("start dex: %v", err)
		}
	}
}

// dexConfig renders Dex's configuration. Dex reads YAML, of which JSON is a subset.
func dexConfig(issuer string, port int, webDir string, clients []DexClient, users []DexUser) ([]byte, error) {
	type staticClient struct {
		ID           string   `json:"id"`
		Secret       string   `json:"secret"`
		Name         string   `json:"name"`
		RedirectURIs []string `json:"redirectURIs"`
	}
	type staticPassword struct {
		Email    string `json:"email"`
		Hash     string `json:"hash"`
		Username string `json:"username"`
		UserID   string `json:"userID"`
	}
	conf := map[string]any{
		"issuer":  issuer,
		"storage": map[string]any{"type": "memory"},
		"web":     map[string]any{"http": "127.0.0.1:" + strconv.Itoa(port)},
		"oauth2":  map[string]any{"skipApprovalScreen": true},
		"logger":  map[string]any{"level": "debug"},
		// The password database is the only connector, so Dex skips its connector chooser
		// and shows the login form. No telemetry or gRPC address: Dex opens no other port.
		"enablePasswordDB": true,
	}
	if webDir != "" {
		conf["frontend"] = map[string]any{"dir": webDir}
	}
	scs := []staticClient{}
	for _, c := range clients {
		if c.ID == "" || len(c.RedirectURIs) == 0 {
			return nil, fmt.Errorf("client %q needs an ID and at least one redirect URI", c.ID)
		}
		scs = append(scs, staticClient{ID: c.ID, Secret: c.Secret, Name: c.ID, RedirectURIs: c.RedirectURIs})
	}
	conf["staticClients"] = scs
	sps := []staticPassword{}
	for _, u := range users {
		if u.Email == "" || u.Password == "" {
			return nil, fmt.Errorf("user %q needs an email address and a password", u.Username)
		}
		// Dex refuses hashes cheaper than bcrypt's default cost at sign-in.
		hash, err := bcrypt.GenerateFromPassword([]byte(u.Password), bcrypt.DefaultCost)
		if err != nil {
			return nil, fmt.Errorf("hash the password of %s: %w", u.Email, err)
		}
		id := sha256.Sum256([]byte(u.Email))
		sps = append(sps, staticPassword{
			Email:    u.Email,
			Hash:     string(hash),
			Username: u.Username,
			UserID:   hex.EncodeToString(id[:8]),
		})
	}
	conf["staticPasswords"] = sps
	return json.MarshalIndent(conf, "", "  ")
}

// start runs `dex serve` and waits until its discovery document answers. retry reports that
// Dex exited because its port was taken meanwhile.
func (s *DexServer) start(t testing.TB, bin, config string) (retry bool, err error) {
	t.Helper()
	out := &Output{}
	cmd := exec.Command(bin, "serve", config)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("run %s: %w", bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		stopGroup(cmd.Process.Pid, done)
		if t.Failed() {
			t.Logf("dex's output ends:\n%s", out.Tail(8192))
		}
	})
	exited := func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
	if err := waitHTTP200(s.Issuer+"/.well-known/openid-configuration", 60*time.Second, exited); err != nil {
		tail := out.Tail(4096)
		inUse := exited() && strings.Contains(tail, "address already in use")
		return inUse, fmt.Errorf("%w; dex's output ends:\n%s", err, tail)
	}
	return false, nil
}

// dexWebDir finds the web directory (HTML templates, styles, themes) of the Dex module the
// binary was built from. Dex releases that `go install` can build read these files from disk
// at run time instead of embedding them; `go install` leaves them in the module cache. An
// empty answer means the binary does not say where it came from: Dex then uses its embedded
// files, if it has them.
func dexWebDir(bin string) (string, error) {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "", fmt.Errorf("read the build information of %s: %w", bin, err)
	}
	mod := info.Main
	if mod.Path == "" || mod.Version == "" || mod.Version == "(devel)" {
		return "", nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", nil
	}
	// Outside any module, so that the caller's go.mod and flags play no part; the module is
	// in the cache since `go install` built the binary from it.
	cmd := exec.Command(goBin, "mod", "download", "-json", mod.Path+"@"+mod.Version)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off", "GO111MODULE=on")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, runErr := cmd.Output()
	var dl struct{ Dir, Error string }
	if err := json.Unmarshal(stdout, &dl); err != nil || dl.Error != "" || runErr != nil {
		msg := strings.TrimSpace(dl.Error + " " + stderr.String())
		if runErr != nil {
			msg = runErr.Error() + ": " + msg
		}
		return "", fmt.Errorf("find the web files of %s@%s (run `make deps` to fetch them): %s", mod.Path, mod.Version, msg)
	}
	web := filepath.Join(dl.Dir, "web")
	if _, err := os.Stat(filepath.Join(web, "templates")); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", nil
		}
		return "", err
	}
	return web, nil
}
