package schema

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite the .want files of testdata/quay from what Parse reports")

// quayCases are config.yaml files shaped as Red Hat Quay 3.x installs write them, with the
// exact errors and warnings Parse must give: one per key Wharf does not honour, by key path.
// The .want file beside each holds the full messages with their lines.
var quayCases = []struct {
	file     string
	errors   []string
	warnings []string
}{
	{
		file: "mirror-registry.yaml",
		warnings: []string{"DATABASE_SECRET_KEY", "ENTERPRISE_LOGO_URL", "FEATURE_ACI_CONVERSION", "FEATURE_APP_REGISTRY",
			"FEATURE_CHANGE_TAG_EXPIRATION", "FEATURE_PARTIAL_USER_AUTOCOMPLETE", "FEATURE_REQUIRE_TEAM_INVITE",
			"FEATURE_RESTRICTED_V1_PUSH", "FEATURE_USERNAME_CONFIRMATION", "GITHUB_LOGIN_CONFIG", "GITHUB_TRIGGER_CONFIG",
			"GITLAB_TRIGGER_KIND", "LOGS_MODEL", "LOGS_MODEL_CONFIG", "SECRET_KEY", "SECURITY_SCANNER_ISSUER_NAME",
			"SETUP_COMPLETE", "TESTING", "USE_CDN"},
	},
	{
		file: "operator-managed.yaml",
		warnings: []string{"BROWSER_API_CALLS_XHR_ONLY", "DATABASE_SECRET_KEY", "DB_CONNECTION_ARGS/autorollback",
			"DB_CONNECTION_ARGS/threadlocals", "ENTERPRISE_LOGO_URL", "FEATURE_BITBUCKET_BUILD", "FEATURE_CHANGE_TAG_EXPIRATION",
			"FEATURE_EXTENDED_REPOSITORY_NAMES", "FEATURE_GENERAL_OCI_SUPPORT", "FEATURE_GITHUB_BUILD",
			"FEATURE_GITHUB_LOGIN", "FEATURE_GITLAB_BUILD", "FEATURE_GOOGLE_LOGIN", "FEATURE_HELM_OCI_SUPPORT",
			"FEATURE_INVITE_ONLY_USER_CREATION", "FEATURE_NONSUPERUSER_TEAM_SYNCING_SETUP", "FEATURE_PARTIAL_USER_AUTOCOMPLETE",
			"FEATURE_PROXY_CACHE", "FEATURE_QUOTA_MANAGEMENT", "FEATURE_REQUIRE_TEAM_INVITE", "FEATURE_RESTRICTED_V1_PUSH",
			"FEATURE_UI_V2", "FEATURE_USER_METADATA", "FEATURE_USERNAME_CONFIRMATION", "IGNORE_UNKNOWN_MEDIATYPES",
			"SEARCH_MAX_RESULT_PAGE_COUNT", "SEARCH_RESULTS_PER_PAGE", "SECRET_KEY", "SECURITY_SCANNER_NOTIFICATIONS",
			"SETUP_COMPLETE", "TESTING"},
	},
	{
		file: "ldap-s3-clair.yaml",
		warnings: []string{"AVATAR_KIND", "CONTACT_INFO", "DB_CONNECTION_ARGS/autorollback", "DB_CONNECTION_ARGS/threadlocals",
			"DEBUGGING", "FEATURE_CHANGE_TAG_EXPIRATION", "FEATURE_NONSUPERUSER_TEAM_SYNCING_SETUP", "LDAP_ALLOW_INSECURE_FALLBACK",
			"SETUP_COMPLETE", "TESTING"},
	},
	{
		file: "oidc-github-elastic.yaml",
		errors: []string{"BUILD_MANAGER", "DEBUGGING", "DEFAULT_SYSTEM_REJECT_QUOTA_BYTES", "DISTRIBUTED_STORAGE_CONFIG/azure/0",
			"FEATURE_GITHUB_BUILD", "FEATURE_GITHUB_LOGIN", "FEATURE_PROXY_CACHE", "FEATURE_QUOTA_MANAGEMENT", "GITHUB_LOGIN_CONFIG",
			"GITHUB_TRIGGER_CONFIG", "KEYCLOAK_LOGIN_CONFIG/OIDC_ENDPOINT_CUSTOM_PARAMS", "LOGS_MODEL", "LOGS_MODEL_CONFIG"},
		warnings: []string{"BITBUCKET_TRIGGER_CONFIG", "FEATURE_BITBUCKET_BUILD", "FEATURE_GOOGLE_LOGIN", "GOOGLE_LOGIN_CONFIG",
			"JWT_VERIFY_ENDPOINT", "KEYCLOAK_LOGIN_CONFIG/SERVICE_ICON", "KEYCLOAK_LOGIN_CONFIG/USE_PKCE",
			"KEYCLOAK_LOGIN_CONFIG/VERIFIED_EMAIL_CLAIM_NAME"},
	},
	{
		file: "ceph-ldap-superusers.yaml",
		errors: []string{"DB_CONNECTION_ARGS/ssl", "DISTRIBUTED_STORAGE_CONFIG/ceph/1/signature_version", "FEATURE_RESTRICTED_USERS", "LDAP_ALLOW_INSECURE_FALLBACK",
			"LDAP_RESTRICTED_USER_FILTER", "LDAP_SUPERUSER_FILTER", "RESTRICTED_USERS_WHITELIST"},
		warnings: []string{"ENABLE_HEALTH_DEBUG_SECRET", "SECURITY_SCANNER_ENDPOINT"},
	},
}

// TestQuayConfigs parses each Quay config and checks exactly which keys come out as errors
// and which as warnings, the full messages against the .want file, and, independently of
// both, that every top-level key the file sets that Wharf does not honour got exactly one
// message and every honoured one none.
func TestQuayConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/quay/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, tc := range quayCases {
		listed = append(listed, filepath.Join("testdata/quay", tc.file))
	}
	sort.Strings(listed)
	if !slices.Equal(files, listed) {
		t.Fatalf("testdata/quay holds %v but the table lists %v: add each file to quayCases", files, listed)
	}
	for _, tc := range quayCases {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata/quay", tc.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cfg, errs, warns := parseProblems(t, data)
			if got := paths(errs); !slices.Equal(got, sorted(tc.errors)) {
				t.Errorf("error paths\n got  %q\n want %q", got, sorted(tc.errors))
			}
			if got := paths(warns); !slices.Equal(got, sorted(tc.warnings)) {
				t.Errorf("warning paths\n got  %q\n want %q", got, sorted(tc.warnings))
			}
			if (cfg == nil) != (len(tc.errors) > 0) {
				t.Errorf("Parse returned config %v with %d errors", cfg != nil, len(errs))
			}
			checkOneMessagePerKey(t, data, errs, warns)
			compareWant(t, strings.TrimSuffix(path, ".yaml")+".want", render(errs, warns))
		})
	}
}

// TestQuayConfigValues checks that a Quay config Wharf accepts is read as Quay reads it.
func TestQuayConfigValues(t *testing.T) {
	data, err := os.ReadFile("testdata/quay/ldap-s3-clair.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("config.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"AUTHENTICATION_TYPE", cfg.AuthenticationType, "LDAP"},
		{"LDAP_URI", cfg.LDAPURI, "ldaps://ldap.corp.example.com:636"},
		{"LDAP_BASE_DN", strings.Join(cfg.LDAPBaseDN, ","), "dc=corp,dc=example,dc=com"},
		{"LDAP_SECONDARY_USER_RDNS", fmt.Sprint(cfg.SecondaryUserRDNs()), "[[ou=contractors]]"},
		{"DB sslmode", cfg.DBConnectionArgs.SSLMode, "verify-full"},
		{"s3 driver", cfg.DistributedStorageConfig["s3_us_east"].Driver, "S3Storage"},
		{"ceph region", cfg.DistributedStorageConfig["ceph_dc2"].String("region"), "dc2"},
		{"ceph port", cfg.DistributedStorageConfig["ceph_dc2"].String("port"), "443"},
		{"FEATURE_STORAGE_REPLICATION", cfg.FeatureStorageReplication, true},
		{"DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS", strings.Join(cfg.DistributedStorageDefaultLocations, ","), "s3_us_east,ceph_dc2"},
		{"BUILDLOGS_REDIS", cfg.BuildlogsRedis.Addr(), "redis.corp.example.com:6379"},
		{"MAIL_USE_AUTH", cfg.MailUseAuth, true},
		{"SECURITY_SCANNER_V4_INDEX_MAX_LAYER_SIZE", int64(cfg.SecurityScannerV4IndexMaxLayerSize), int64(8 << 30)},
		{"SECURITY_SCANNER_V4_MANIFEST_CLEANUP (default)", cfg.SecurityScannerV4ManifestCleanup, true},
		{"FEATURE_REPO_MIRROR", cfg.FeatureRepoMirror, true},
		{"REPO_MIRROR_SERVER_HOSTNAME", cfg.RepoMirrorServerHostname, "quay-internal.corp.example.com:8443"},
		{"REPO_MIRROR_ROLLBACK", cfg.RepoMirrorRollback, true},
		{"FEATURE_BUILD_SUPPORT", cfg.FeatureBuildSupport, true},
		{"BUILDMAN_HOSTNAME", cfg.BuildmanHostname, "quay-builds.corp.example.com:443"},
		{"LOG_ARCHIVE_PATH", cfg.LogArchivePath, "archives/buildlogs"},
		{"USERFILES_LOCATION", cfg.UserfilesLocation, "s3_us_east"},
		{"ACTION_LOG_ROTATION_THRESHOLD", cfg.ActionLogRotationThreshold.D(), 90 * 24 * time.Hour},
		{"APP_SPECIFIC_TOKEN_EXPIRATION", cfg.AppSpecificTokenExpiration.D(), 30 * 24 * time.Hour},
		{"warnings kept on the config", len(cfg.Warnings), 10},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// parseProblems parses data and returns the config (nil when invalid), its errors and its
// warnings; any other outcome fails the test.
func parseProblems(t *testing.T, data []byte) (*Config, []Problem, []Problem) {
	t.Helper()
	cfg, err := parseNoPanic(t, data)
	if err == nil {
		return cfg, nil, cfg.Warnings
	}
	var inv *InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("Parse error %v is not an *InvalidError", err)
	}
	if len(inv.Problems) == 0 {
		t.Fatalf("InvalidError without problems")
	}
	return nil, inv.Problems, inv.Warnings
}

// checkOneMessagePerKey reads the file's top-level keys on its own and checks them against
// the schema's annotations: a key Wharf does not honour has exactly one message (error or
// warning) at its path; a key Wharf honours has no warning; a key nobody knows is an error.
func checkOneMessagePerKey(t *testing.T, data []byte, errs, warns []Problem) {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, p := range append(slices.Clone(errs), warns...) {
		count[p.Path]++
		if p.Message == "" || p.Line <= 0 {
			t.Errorf("problem %+v lacks a message or a line", p)
		}
	}
	for key := range doc {
		k, known := Lookup(key)
		switch {
		case !known:
			if count[key] != 1 || !slices.ContainsFunc(errs, func(p Problem) bool { return p.Path == key }) {
				t.Errorf("%s: unknown to the schema but not one error", key)
			}
		case !k.Honoured && count[key] != 1:
			t.Errorf("%s: Wharf does not honour it, so it needs exactly one message; got %d", key, count[key])
		case k.Honoured && slices.ContainsFunc(warns, func(p Problem) bool { return p.Path == key }):
			t.Errorf("%s: Wharf honours it, yet it has a warning", key)
		}
	}
	for path, n := range count {
		if n != 1 {
			t.Errorf("%s: %d messages, want one", path, n)
		}
	}
}

func paths(ps []Problem) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Path
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	if out == nil {
		out = []string{}
	}
	return out
}

func render(errs, warns []Problem) string {
	var b strings.Builder
	for _, p := range errs {
		fmt.Fprintf(&b, "error   %s\n", p)
	}
	for _, p := range warns {
		fmt.Fprintf(&b, "warning %s\n", p)
	}
	return b.String()
}

// compareWant compares got with a golden file, or rewrites the file under -update.
func compareWant(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./schema -run TestQuayConfigs -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("messages differ from %s (if the change is meant, run go test ./schema -run TestQuayConfigs -update)\n--- got\n%s--- want\n%s", file, got, want)
	}
}
