package schema

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// parseSeeds are real config files, valid and invalid, for FuzzParse.
var parseSeeds = []string{
	"",
	"SERVER_HOSTNAME: registry.example.com\n",
	`SERVER_HOSTNAME: registry.example.com
PREFERRED_URL_SCHEME: https
DB_URI: postgresql://wharf:secret@db:5432/wharf
DB_CONNECTION_ARGS:
  sslmode: verify-full
  max_connections: 30
DISTRIBUTED_STORAGE_CONFIG:
  s3:
    - S3Storage
    - s3_bucket: images
      storage_path: /datastorage/registry
      s3_access_key: AK
      s3_secret_key: SK
      host: minio.local
      port: 9000
      maximum_chunk_size_mb: 16
  local:
    - LocalStorage
    - storage_path: /var/lib/wharf
DISTRIBUTED_STORAGE_PREFERENCE: [s3, local]
DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: [local]
DEFAULT_TAG_EXPIRATION: 3d
TAG_EXPIRATION_OPTIONS: [0s, 1d, 2w]
MAXIMUM_LAYER_SIZE: 5G
FEATURE_ANONYMOUS_ACCESS: false
FEATURE_PROXY_STORAGE: true
SUPER_USERS: [admin]
V2_PAGINATION_SIZE: 20
REGISTRY_STATE: readonly
BLOB_UPLOAD_EXPIRATION: 12h
GARBAGE_COLLECTION_INTERVAL: 30s
GARBAGE_COLLECTION_GRACE: 2h
REGISTRY_TOKEN_EXPIRATION: 15m
`,
	`DISTRIBUTED_STORAGE_CONFIG:
  ceph: [RadosGWStorage, {hostname: rgw.local, port: "7480", bucket_name: wharf, storage_path: /r, is_secure: false}]
DISTRIBUTED_STORAGE_PREFERENCE: [ceph]
`,
	"MAXIMUM_LAYER_SIZE: 1M\n",
	"DEFAULT_TAG_EXPIRATION: 2w\nGARBAGE_COLLECTION_GRACE: 0s\n",
	"base: &b {sslmode: disable}\nDB_CONNECTION_ARGS: *b\n",
	// Invalid ones.
	"FEATURE_TYPO: true\n",
	"PREFERRED_URL_SCHEME: ftp\n",
	"DEFAULT_TAG_EXPIRATION: 2 weeks\n",
	"MAXIMUM_LAYER_SIZE: 20GB\n",
	"DISTRIBUTED_STORAGE_PREFERENCE: [nowhere]\n",
	"DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS: [nowhere]\n",
	"DISTRIBUTED_STORAGE_CONFIG:\n  x: [FTPStorage, {}]\nDISTRIBUTED_STORAGE_PREFERENCE: [x]\n",
	"DISTRIBUTED_STORAGE_CONFIG:\n  x: [LocalStorage]\n",
	"V2_PAGINATION_SIZE: 0\n",
	"V2_PAGINATION_SIZE: 1e400\n",
	"SERVER_HOSTNAME: [a, b]\n",
	"just a string\n",
	"- a\n- b\n",
	"{a: b\n",
	"? [a]\n: b\n",
	"<<: {SERVER_HOSTNAME: x}\n",
	"a: &a [*a]\n",
	"DB_CONNECTION_ARGS: {max_connections: 99999999999999999999}\n",
	"\xff\xfe",
	// Quay keys Wharf does not honour, nulls and empty integrations.
	"FEATURE_GITHUB_LOGIN: true\nGITHUB_LOGIN_CONFIG: {CLIENT_ID: a}\n",
	"FEATURE_GITHUB_LOGIN: false\nGITHUB_LOGIN_CONFIG: {}\nLOGS_MODEL: database\nLOGS_MODEL_CONFIG: {}\n",
	"LOGS_MODEL: splunk\nLOGS_MODEL_CONFIG: {producer: splunk_hec}\n",
	"MAIL_PASSWORD:\nREPO_MIRROR_SERVER_HOSTNAME: null\nNOT_A_KEY: ~\n",
	"DB_CONNECTION_ARGS: {ssl: {ca: x}, autorollback: true}\n",
	"DISTRIBUTED_STORAGE_CONFIG:\n  a: [RHOCSStorage, {hostname: h}]\n",
	"OIDC_LOGIN_CONFIG: {}\nRHSSO_LOGIN_CONFIG: {CLIENT_ID: a, CLIENT_SECRET: b, OIDC_SERVER: 'https://x', USE_PKCE: false}\n",
	"AUTHENTICATION_TYPE: LDAP\nLDAP_URI: ldap://l\nLDAP_BASE_DN: [dc=x]\nLDAP_ADMIN_DN: cn=a\nLDAP_ALLOW_INSECURE_FALLBACK: true\n",
	"AUTHENTICATION_TYPE: JWT\nJWT_VERIFY_ENDPOINT: https://j\n",
	"USERFILES_LOCATION: nowhere\n",
	"SECURITY_SCANNER_V4_INDEX_MAX_LAYER_SIZE: 8G\nREPO_MIRROR_INTERVAL: 0\n",
}

// FuzzParse checks that Parse never panics and either returns an *InvalidError with at least
// one problem (each with a message), another error, or a config whose invariants hold: the
// preferred and default storage locations are defined; every location has a known driver
// with its required parameters; enumerations hold one of their values; the page size is in
// range; and no size or duration is negative. Parsing the same input again gives the same
// config.
func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add([]byte(s))
	}
	quay, err := filepath.Glob("testdata/quay/*.yaml")
	if err != nil || len(quay) == 0 {
		f.Fatalf("no Quay configs in testdata/quay: %v", err)
	}
	for _, file := range quay {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parseNoPanic(t, data)
		if err != nil {
			var inv *InvalidError
			if errors.As(err, &inv) {
				if len(inv.Problems) == 0 {
					t.Fatalf("InvalidError without problems for %q", data)
				}
				for _, p := range inv.Problems {
					if p.Message == "" || p.Line < 0 {
						t.Fatalf("problem %+v for %q", p, data)
					}
				}
				checkWarnings(t, data, inv.Warnings)
				if !strings.Contains(err.Error(), "config.yaml") {
					t.Fatalf("error %q does not name the file", err)
				}
			}
			return
		}
		checkConfig(t, data, cfg)
		checkWarnings(t, data, cfg.Warnings)
		again, err := Parse("config.yaml", data)
		if err != nil || !reflect.DeepEqual(again, cfg) {
			t.Fatalf("parsing %q again gives %+v, %v", data, again, err)
		}
	})
}

func parseNoPanic(t *testing.T, data []byte) (cfg *Config, err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Parse(%q) panicked: %v", data, r)
		}
	}()
	return Parse("config.yaml", data)
}

// checkConfig asserts what the server relies on in a config Parse accepted.
func checkConfig(t *testing.T, data []byte, cfg *Config) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("Parse(%q) accepted a config where %s", data, fmt.Sprintf(format, args...))
	}
	if cfg == nil {
		fail("the config is nil")
	}
	if len(cfg.DistributedStoragePreference) == 0 {
		fail("DISTRIBUTED_STORAGE_PREFERENCE is empty")
	}
	for _, list := range [][]string{cfg.DistributedStoragePreference, cfg.DistributedStorageDefaultLocations} {
		for _, name := range list {
			if _, ok := cfg.DistributedStorageConfig[name]; !ok {
				fail("location %q is not in DISTRIBUTED_STORAGE_CONFIG", name)
			}
		}
	}
	for name, loc := range cfg.DistributedStorageConfig {
		switch loc.Driver {
		case "LocalStorage":
			if loc.String("storage_path") == "" {
				fail("LocalStorage %q has no storage_path", name)
			}
		case "S3Storage":
			if len(loc.String("s3_bucket")) < 3 {
				fail("S3Storage %q has bucket %q", name, loc.String("s3_bucket"))
			}
		case "RadosGWStorage", "RHOCSStorage", "IBMCloudStorage":
			if loc.String("hostname") == "" || len(loc.String("bucket_name")) < 3 {
				fail("RadosGWStorage %q has hostname %q and bucket %q", name, loc.String("hostname"), loc.String("bucket_name"))
			}
		default:
			fail("location %q has driver %q", name, loc.Driver)
		}
	}
	if cfg.ServerHostname == "" {
		fail("SERVER_HOSTNAME is empty")
	}
	if !slices.Contains([]string{"http", "https"}, cfg.PreferredURLScheme) {
		fail("PREFERRED_URL_SCHEME is %q", cfg.PreferredURLScheme)
	}
	if !slices.Contains([]string{"normal", "readonly"}, cfg.RegistryState) {
		fail("REGISTRY_STATE is %q", cfg.RegistryState)
	}
	switch cfg.AuthenticationType {
	case "Database":
	case "LDAP":
		if cfg.LDAPURI == "" || len(cfg.LDAPBaseDN) == 0 || cfg.LDAPAdminDN == "" {
			fail("AUTHENTICATION_TYPE is LDAP without LDAP_URI, LDAP_BASE_DN and LDAP_ADMIN_DN")
		}
		if cfg.LDAPAllowInsecureFallback {
			fail("LDAP_ALLOW_INSECURE_FALLBACK is true, which Wharf cannot do")
		}
	case "OIDC":
		if len(cfg.LoginConfigs) == 0 {
			fail("AUTHENTICATION_TYPE is OIDC without a provider")
		}
	default:
		fail("AUTHENTICATION_TYPE is %q", cfg.AuthenticationType)
	}
	for key, lc := range cfg.LoginConfigs {
		if !IsOIDCLoginKey(key) || lc.ClientID == "" || lc.OIDCServer == "" {
			fail("login provider %s is %+v", key, lc)
		}
	}
	for _, loc := range []string{cfg.UserfilesLocation, cfg.LogArchiveLocation} {
		if _, ok := cfg.DistributedStorageConfig[loc]; loc != "" && !ok {
			fail("location %q is not in DISTRIBUTED_STORAGE_CONFIG", loc)
		}
	}
	if cfg.RepoMirrorInterval < 1 || cfg.SecurityScannerV4IndexMaxLayerSize < 0 {
		fail("REPO_MIRROR_INTERVAL is %d, SECURITY_SCANNER_V4_INDEX_MAX_LAYER_SIZE %d", cfg.RepoMirrorInterval, cfg.SecurityScannerV4IndexMaxLayerSize)
	}
	if cfg.V2PaginationSize < 1 || cfg.V2PaginationSize > 10000 {
		fail("V2_PAGINATION_SIZE is %d", cfg.V2PaginationSize)
	}
	if cfg.MaximumLayerSize < 0 {
		fail("MAXIMUM_LAYER_SIZE is %d bytes", cfg.MaximumLayerSize)
	}
	if cfg.DBConnectionArgs.MaxConnections < 0 || cfg.DBConnectionArgs.ConnectTimeout < 0 || cfg.DBConnectionArgs.StaleTimeout < 0 {
		fail("DB_CONNECTION_ARGS are %+v", cfg.DBConnectionArgs)
	}
	durations := map[string]Duration{
		"DEFAULT_TAG_EXPIRATION":      cfg.DefaultTagExpiration,
		"BLOB_UPLOAD_EXPIRATION":      cfg.BlobUploadExpiration,
		"GARBAGE_COLLECTION_INTERVAL": cfg.GarbageCollectionInterval,
		"GARBAGE_COLLECTION_GRACE":    cfg.GarbageCollectionGrace,
		"REGISTRY_TOKEN_EXPIRATION":   cfg.RegistryTokenExpiration,
	}
	for i, d := range cfg.TagExpirationOptions {
		durations[fmt.Sprintf("TAG_EXPIRATION_OPTIONS/%d", i)] = d
	}
	for key, d := range durations {
		if d < 0 {
			fail("%s is %v", key, d.D())
		}
	}
}

// checkWarnings asserts that each warning concerns a key the schema knows but Wharf does not
// honour, has a message and a line, and that no key has two.
func checkWarnings(t *testing.T, data []byte, warns []Problem) {
	t.Helper()
	seen := map[string]bool{}
	for _, w := range warns {
		if w.Path == "" || w.Message == "" || w.Line < 0 || seen[w.Path] {
			t.Fatalf("Parse(%q) gave warning %+v (repeated: %v)", data, w, seen[w.Path])
		}
		seen[w.Path] = true
		if strings.Contains(w.Path, "/") {
			continue // a field of a key: its annotation is nested
		}
		if k, ok := Lookup(w.Path); !ok || k.Honoured {
			t.Fatalf("Parse(%q) warned about %s, which is not a key Wharf ignores", data, w.Path)
		}
	}
}

// TestParseOverflow checks sizes and durations too large for their type: the schema's
// patterns accept any number of digits, so Parse must refuse such values with a problem
// rather than let them wrap around (a "forever" BLOB_UPLOAD_EXPIRATION that wraps negative
// makes the collector expire every upload in progress; a wrapped DEFAULT_TAG_EXPIRATION
// empties the time machine).
func TestParseOverflow(t *testing.T) {
	for _, y := range []string{
		"MAXIMUM_LAYER_SIZE: 99999999999T\n",
		"MAXIMUM_LAYER_SIZE: 9223372036854775807K\n",
		"DEFAULT_TAG_EXPIRATION: 15251w\n",
		"BLOB_UPLOAD_EXPIRATION: 99999999999999d\n",
		"GARBAGE_COLLECTION_GRACE: 9999999999999h\n",
		"TAG_EXPIRATION_OPTIONS: [1d, 99999999999999999m]\n",
		"REGISTRY_TOKEN_EXPIRATION: 9999999999999999999s\n",
	} {
		key, _, _ := strings.Cut(y, ":")
		t.Run(key, func(t *testing.T) {
			cfg, err := Parse("config.yaml", []byte(y))
			var inv *InvalidError
			if err == nil {
				checkConfig(t, []byte(y), cfg)
				t.Fatalf("Parse(%q) accepted a value that does not fit: MAXIMUM_LAYER_SIZE %d, DEFAULT_TAG_EXPIRATION %v, BLOB_UPLOAD_EXPIRATION %v",
					y, cfg.MaximumLayerSize, cfg.DefaultTagExpiration.D(), cfg.BlobUploadExpiration.D())
			}
			if !errors.As(err, &inv) {
				t.Fatalf("Parse(%q) = %v, want an *InvalidError", y, err)
			}
		})
	}
}

// TestParseAliasExpansion parses a 400-byte config whose YAML aliases nest eight levels deep
// ("billion laughs"): expanding them would visit more than 9^8 (43 million) nodes. Parse must refuse or finish it
// quickly, not spend minutes of CPU on a file a person (or the config wizard) hands it.
func TestParseAliasExpansion(t *testing.T) {
	var b strings.Builder
	b.WriteString("l0: &l0 [x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 7; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [", i, i)
		for j := range 9 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := Parse("config.yaml", []byte(b.String()))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("Parse accepted the alias bomb")
		}
		t.Logf("refused in %v: %v", time.Since(start), err)
	case <-time.After(2 * time.Second):
		// The parse goes on in the background until the test binary exits.
		t.Fatalf("Parse of a %d-byte config with nested aliases did not finish within 2s (it expands every alias)", b.Len())
	}
}
