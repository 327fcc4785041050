package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestNotHonoured checks the one message of each kind of key Wharf does not honour: a
// warning for a harmless value, an inert one or a cosmetic key, an error for a value that
// asks for what Wharf cannot do, and the hints the schema adds to its own errors.
func TestNotHonoured(t *testing.T) {
	const (
		warning = "warning"
		errorK  = "error"
	)
	tests := []struct {
		name, yaml   string
		kind, path   string
		message      string
		line         int
		otherProblem bool // another error is expected besides this one
	}{
		{"flag at its default", "FEATURE_GITHUB_LOGIN: false\n", warning, "FEATURE_GITHUB_LOGIN", "Wharf has no GitHub login (GitHub is not an OpenID Connect provider); this key is ignored - remove it", 1, false},
		{"flag asking for it", "\nFEATURE_GITHUB_LOGIN: true\n", errorK, "FEATURE_GITHUB_LOGIN", "true asks for what Wharf cannot do - remove the key, and log in through an OpenID Connect provider", 2, false},
		{"null value", "FEATURE_GITHUB_BUILD:\n", warning, "FEATURE_GITHUB_BUILD", "Wharf has no GitHub build triggers; this key is ignored - remove it", 1, false},
		{"empty integration", "GITHUB_TRIGGER_CONFIG: {}\n", warning, "GITHUB_TRIGGER_CONFIG", "this key is ignored", 1, false},
		{"integration left configured but off", "GITHUB_LOGIN_CONFIG:\n  CLIENT_ID: x\n  CLIENT_SECRET: y\n", warning, "GITHUB_LOGIN_CONFIG",
			"it matters only when FEATURE_GITHUB_LOGIN is true, which this config does not set, so it is ignored - remove it", 1, false},
		{"integration switched on", "FEATURE_GITHUB_LOGIN: true\nGITHUB_LOGIN_CONFIG:\n  CLIENT_ID: x\n", errorK, "GITHUB_LOGIN_CONFIG", "this setting asks for what Wharf cannot do", 2, true},
		{"database logs", "LOGS_MODEL: database\n", warning, "LOGS_MODEL", "Wharf keeps action logs in its database; this key is ignored", 1, false},
		{"elasticsearch logs", "LOGS_MODEL: elasticsearch\n", errorK, "LOGS_MODEL", `"elasticsearch" asks for what Wharf cannot do`, 1, false},
		{"logs config with database logs", "LOGS_MODEL_CONFIG:\n  producer: kafka\n", warning, "LOGS_MODEL_CONFIG", `it matters only when LOGS_MODEL is one of "transition_reads_both_writes_es", "elasticsearch", "splunk"`, 1, false},
		{"logs config with splunk", "LOGS_MODEL: splunk\nLOGS_MODEL_CONFIG:\n  producer: splunk\n", errorK, "LOGS_MODEL_CONFIG", "asks for what Wharf cannot do", 2, true},
		{"cosmetic key", "SSL_CIPHERS: [CAMELLIA, '!3DES']\n", warning, "SSL_CIPHERS", "nginx cipher lists do not apply; this key is ignored", 1, false},
		{"explicit harmless value", "FEATURE_INVITE_ONLY_USER_CREATION: false\n", warning, "FEATURE_INVITE_ONLY_USER_CREATION", "this key is ignored", 1, false},
		{"not the harmless value", "FEATURE_INVITE_ONLY_USER_CREATION: true\n", errorK, "FEATURE_INVITE_ONLY_USER_CREATION", "to stop self-service sign-up set FEATURE_USER_CREATION: false", 1, false},
		{"suggests the harmless value", "FEATURE_QUOTA_MANAGEMENT: true\n", errorK, "FEATURE_QUOTA_MANAGEMENT", "remove the key or set it to false", 1, false},
		{"nested field", "DB_CONNECTION_ARGS:\n  ssl:\n    ca: /ca.pem\n", errorK, "DB_CONNECTION_ARGS/ssl", "use sslmode: verify-full and sslrootcert: FILE instead", 2, false},
		{"nested harmless field", "DB_CONNECTION_ARGS:\n  autorollback: true\n", warning, "DB_CONNECTION_ARGS/autorollback", "Wharf always rolls back failed transactions", 2, false},
		{"storage parameter", "DISTRIBUTED_STORAGE_CONFIG:\n  default: [RadosGWStorage, {hostname: h, bucket_name: bkt, storage_path: /p, signature_version: v2}]\n",
			errorK, "DISTRIBUTED_STORAGE_CONFIG/default/1/signature_version", "Signature Version 4", 2, false},
		{"storage parameter harmless", "DISTRIBUTED_STORAGE_CONFIG:\n  default: [S3Storage, {s3_bucket: bkt, storage_path: /p, signature_version: s3v4}]\n",
			warning, "DISTRIBUTED_STORAGE_CONFIG/default/1/signature_version", "Signature Version 4; this key is ignored", 2, false},
		{"login provider field", "OIDC_LOGIN_CONFIG:\n  CLIENT_ID: a\n  CLIENT_SECRET: b\n  OIDC_SERVER: https://idp\n  PUBLIC_CLIENT: true\n",
			errorK, "OIDC_LOGIN_CONFIG/PUBLIC_CLIENT", "Wharf is a confidential client", 5, false},
		{"reserved login key", "GITLAB_LOGIN_CONFIG:\n  CLIENT_ID: a\n", errorK, "GITLAB_LOGIN_CONFIG", "GITLABOIDC_LOGIN_CONFIG", 1, false},
		{"unsupported authentication", "AUTHENTICATION_TYPE: Keystone\n", errorK, "AUTHENTICATION_TYPE", "must be one of \"Database\", \"LDAP\", \"OIDC\": Wharf has no OpenStack Keystone authentication", 1, false},
		{"unsupported driver", "DISTRIBUTED_STORAGE_CONFIG:\n  gcs: [GoogleCloudStorage, {bucket_name: b}]\nDISTRIBUTED_STORAGE_PREFERENCE: [gcs]\n",
			errorK, "DISTRIBUTED_STORAGE_CONFIG/gcs/0", "Wharf has no Google Cloud Storage driver: use S3Storage with endpoint_url: https://storage.googleapis.com", 2, false},
		{"driver hint for others", "DISTRIBUTED_STORAGE_CONFIG:\n  x: [TapeStorage, {}]\n", errorK, "DISTRIBUTED_STORAGE_CONFIG/x/0",
			"Wharf's storage drivers are LocalStorage, S3Storage and RadosGWStorage", 2, false},
		{"database hint", "DB_URI: mysql+pymysql://quay:pw@db/quay\n", errorK, "DB_URI", "MySQL and MariaDB are not supported", 1, false},
		{"duration hint", "TEAM_RESYNC_STALE_TIME: 1 hour\n", errorK, "TEAM_RESYNC_STALE_TIME", "write a whole number followed by w, d, h, m or s", 1, false},
		{"host hint", "SERVER_HOSTNAME: https://registry.example.com/\n", errorK, "SERVER_HOSTNAME", "(no scheme, no path)", 1, false},
		{"wrong type of a key Wharf ignores", "FEATURE_ACI_CONVERSION: maybe\n", errorK, "FEATURE_ACI_CONVERSION", "expected boolean", 1, false},
		{"unknown null key", "FEATURE_NO_SUCH_THING:\n", errorK, "FEATURE_NO_SUCH_THING", "unknown key", 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, warns := parseProblems(t, []byte(tc.yaml))
			list, other := warns, errs
			if tc.kind == errorK {
				list, other = errs, warns
			}
			var hits []Problem
			for _, p := range list {
				if p.Path == tc.path {
					hits = append(hits, p)
				}
			}
			if len(hits) != 1 || !strings.Contains(hits[0].Message, tc.message) || hits[0].Line != tc.line {
				t.Fatalf("want one %s at %s line %d containing %q; errors %v, warnings %v", tc.kind, tc.path, tc.line, tc.message, errs, warns)
			}
			if slices.ContainsFunc(other, func(p Problem) bool { return p.Path == tc.path }) {
				t.Errorf("%s is both an error and a warning: errors %v, warnings %v", tc.path, errs, warns)
			}
			if tc.kind == warning && !tc.otherProblem && len(errs) > 0 {
				t.Errorf("unexpected errors %v", errs)
			}
			if tc.kind == errorK && !tc.otherProblem && len(errs) != 1 {
				t.Errorf("want exactly one error, got %v", errs)
			}
		})
	}
}

// TestWarningsDoNotInvalidate checks the API: Parse returns a config with Warnings when
// there are only warnings, and an *InvalidError carrying both when there are errors, whose
// Error() lists only the errors.
func TestWarningsDoNotInvalidate(t *testing.T) {
	cfg, err := Parse("config.yaml", []byte("SERVER_HOSTNAME: r.example.com\nFEATURE_ACI_CONVERSION: false\nSETUP_COMPLETE: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(cfg.Warnings); !slices.Equal(got, []string{"FEATURE_ACI_CONVERSION", "SETUP_COMPLETE"}) {
		t.Fatalf("warnings %v", cfg.Warnings)
	}
	if cfg.ServerHostname != "r.example.com" {
		t.Fatalf("SERVER_HOSTNAME = %q", cfg.ServerHostname)
	}
	_, err = Parse("my.yaml", []byte("FEATURE_ACI_CONVERSION: true\nTESTING: false\n"))
	var inv *InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("Parse = %v, want *InvalidError", err)
	}
	if len(inv.Problems) != 1 || inv.Problems[0].Path != "FEATURE_ACI_CONVERSION" || len(inv.Warnings) != 1 || inv.Warnings[0].Path != "TESTING" {
		t.Fatalf("problems %v, warnings %v", inv.Problems, inv.Warnings)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "my.yaml: line 1: FEATURE_ACI_CONVERSION: ") || strings.Contains(msg, "TESTING") {
		t.Fatalf("Error() = %q", msg)
	}
}

// TestNullAndEmptyValues checks that null means unset for keys Wharf honours (the default
// applies and Has says false), and that empty objects for unconfigured integrations are
// accepted: an empty OIDC provider is not a provider.
func TestNullAndEmptyValues(t *testing.T) {
	cfg, err := Parse("config.yaml", []byte(`SERVER_HOSTNAME: r.example.com
MAIL_PORT:
MAIL_DEFAULT_SENDER: null
REPO_MIRROR_SERVER_HOSTNAME: null
DEFAULT_TAG_EXPIRATION: ~
BUILDLOGS_REDIS: {}
RHSSO_LOGIN_CONFIG: {}
GOOGLE_LOGIN_CONFIG: null
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MailPort != 587 || cfg.DefaultTagExpiration != Default().DefaultTagExpiration || cfg.RepoMirrorServerHostname != "" {
		t.Errorf("nulls did not leave the defaults: MAIL_PORT %d, DEFAULT_TAG_EXPIRATION %v", cfg.MailPort, cfg.DefaultTagExpiration)
	}
	for _, k := range []string{"MAIL_PORT", "MAIL_DEFAULT_SENDER", "DEFAULT_TAG_EXPIRATION", "GOOGLE_LOGIN_CONFIG"} {
		if cfg.Has(k) {
			t.Errorf("Has(%s) after KEY: null", k)
		}
	}
	if !cfg.Has("SERVER_HOSTNAME") || !cfg.Has("BUILDLOGS_REDIS") {
		t.Error("Has misses keys the file sets")
	}
	if cfg.BuildlogsRedis.Configured() || len(cfg.LoginConfigs) != 0 {
		t.Errorf("empty objects configured something: redis %+v, login configs %v", cfg.BuildlogsRedis, cfg.LoginConfigs)
	}
	if got := paths(cfg.Warnings); !slices.Equal(got, []string{"GOOGLE_LOGIN_CONFIG"}) {
		t.Errorf("warnings %v, want one for GOOGLE_LOGIN_CONFIG", cfg.Warnings)
	}
	_, err = Parse("config.yaml", []byte("AUTHENTICATION_TYPE: OIDC\nOIDC_LOGIN_CONFIG: {}\n"))
	if err == nil || !strings.Contains(err.Error(), "a *_LOGIN_CONFIG provider (e.g. OIDC_LOGIN_CONFIG) is required") {
		t.Errorf("OIDC with only an empty provider: %v", err)
	}
	_, err = Parse("config.yaml", []byte("OIDC_LOGIN_CONFIG:\n  CLIENT_ID: a\n"))
	if err == nil || !strings.Contains(err.Error(), "missing properties: 'CLIENT_SECRET', 'OIDC_SERVER'") {
		t.Errorf("a half-configured provider: %v", err)
	}
	cfg, err = Parse("config.yaml", []byte("AUTHENTICATION_TYPE: OIDC\nKEYCLOAK_LOGIN_CONFIG: {CLIENT_ID: a, CLIENT_SECRET: b, OIDC_SERVER: 'https://idp/'}\nGITHUB_LOGIN_CONFIG: {CLIENT_ID: c}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.LoginConfigs["KEYCLOAK_LOGIN_CONFIG"]; !ok || len(cfg.LoginConfigs) != 1 {
		t.Errorf("login configs %v, want KEYCLOAK_LOGIN_CONFIG only", cfg.LoginConfigs)
	}
}

// TestStorageLocationChecks checks that the storage locations build files and logs go to
// exist.
func TestStorageLocationChecks(t *testing.T) {
	for _, key := range []string{"USERFILES_LOCATION", "LOG_ARCHIVE_LOCATION"} {
		_, err := Parse("config.yaml", []byte(key+": local_us\n"))
		var inv *InvalidError
		if !errors.As(err, &inv) || len(inv.Problems) != 1 || inv.Problems[0].Path != key || inv.Problems[0].Line != 1 ||
			!strings.Contains(inv.Problems[0].Message, `location "local_us" is not defined in DISTRIBUTED_STORAGE_CONFIG`) {
			t.Errorf("%s naming a missing location: %v", key, err)
		}
		if _, err := Parse("config.yaml", []byte(key+": default\n")); err != nil {
			t.Errorf("%s naming the default location: %v", key, err)
		}
	}
}

// TestAnnotations checks the x-wharf annotations across the schema: every top-level key
// has a field group; the groups are the ones Groups lists, in its order; every annotation
// that marks a key not honoured sits where its failure cannot change the outcome of
// validation and has a note; every value a harmless list or an active_when names type-checks
// against its key.
func TestAnnotations(t *testing.T) {
	root, err := rawSchema()
	if err != nil {
		t.Fatal(err)
	}
	var meta []struct {
		Name string `json:"name"`
	}
	decodeInto(t, root["x-wharf-groups"], &meta)
	var names []string
	for _, g := range meta {
		names = append(names, g.Name)
	}
	if !slices.Equal(names, Groups) {
		t.Errorf("x-wharf-groups %v, Groups %v", names, Groups)
	}
	props := root["properties"].(map[string]any)
	for key, n := range props {
		a := annotationOf(n.(map[string]any))
		if a == nil || !slices.Contains(Groups, a.Group) {
			t.Errorf("%s: no x-wharf group", key)
		}
		if a != nil {
			for dep := range a.ActiveWhen {
				if _, ok := props[dep]; !ok {
					t.Errorf("%s: active_when names %s, which the schema does not know", key, dep)
				}
			}
		}
	}
	forbidden := map[string]bool{"if": true, "not": true, "anyOf": true, "oneOf": true, "contains": true, "dependentSchemas": true, "propertyNames": true}
	count := 0
	var walk func(v any, ptr []string)
	walk = func(v any, ptr []string) {
		switch x := v.(type) {
		case map[string]any:
			if raw, ok := x[wharfKeyword]; ok {
				a, err := decodeAnnotation(raw)
				if err != nil {
					t.Errorf("%s: %v", strings.Join(ptr, "/"), err)
				} else if !a.honoured() {
					count++
					for _, p := range ptr {
						if forbidden[p] {
							t.Errorf("%s: a not-honoured annotation under %q would change what validation decides", strings.Join(ptr, "/"), p)
						}
					}
					if a.Note == "" || strings.HasSuffix(a.Note, ".") {
						t.Errorf("%s: note %q must be a clause without a final period", strings.Join(ptr, "/"), a.Note)
					}
				}
			}
			for k, c := range x {
				if k != wharfKeyword {
					walk(c, append(slices.Clone(ptr), k))
				}
			}
		case []any:
			for i, c := range x {
				walk(c, append(slices.Clone(ptr), fmt.Sprint(i)))
			}
		}
	}
	walk(root, nil)
	if count < 200 {
		t.Errorf("only %d keys marked not honoured; the schema should know Quay's keys", count)
	}
	// Harmless values must be values the key accepts, or they could never occur.
	for key, n := range props {
		a := annotationOf(n.(map[string]any))
		for _, h := range a.Harmless {
			doc := fmt.Sprintf("%s: %s\n", key, jsonText(h))
			if _, errs, _ := parseProblems(t, []byte(doc)); len(errs) > 0 {
				t.Errorf("%s: harmless value %s is invalid: %v", key, jsonText(h), errs)
			}
		}
	}
}

// TestConfigFieldsMatchSchema checks that the typed Config and the schema agree: every field
// is a schema key, and every key Wharf honours has a field (except the login provider
// pattern, which LoginConfigs holds).
func TestConfigFieldsMatchSchema(t *testing.T) {
	root, err := rawSchema()
	if err != nil {
		t.Fatal(err)
	}
	props := root["properties"].(map[string]any)
	fields := map[string]bool{}
	typ := reflect.TypeOf(Config{})
	for i := range typ.NumField() {
		tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		fields[tag] = true
		n, ok := props[tag]
		if !ok {
			t.Errorf("Config field %s has no schema key %s", typ.Field(i).Name, tag)
			continue
		}
		// Kept for the API's sake though Wharf does not honour them.
		kept := []string{"SECRET_KEY", "DATABASE_SECRET_KEY", "SETUP_COMPLETE", "LDAP_ALLOW_INSECURE_FALLBACK"}
		if !annotationOf(n.(map[string]any)).honoured() && !slices.Contains(kept, tag) {
			t.Errorf("Config field %s reads %s, which the schema says Wharf does not honour", typ.Field(i).Name, tag)
		}
	}
	for key, n := range props {
		if annotationOf(n.(map[string]any)).honoured() && !fields[key] {
			t.Errorf("schema key %s is honoured but Config has no field for it", key)
		}
	}
}

// TestOIDCKeyPattern checks that the schema's pattern for login providers names the same
// keys as IsOIDCLoginKey, which the server and Parse use.
func TestOIDCKeyPattern(t *testing.T) {
	root, err := rawSchema()
	if err != nil {
		t.Fatal(err)
	}
	var re *regexp.Regexp
	for p := range root["patternProperties"].(map[string]any) {
		if strings.HasSuffix(p, "_LOGIN_CONFIG$") {
			re = regexp.MustCompile(p)
		}
	}
	if re == nil {
		t.Fatal("no login provider pattern")
	}
	names := []string{"OIDC_LOGIN_CONFIG", "GITHUB_LOGIN_CONFIG", "GOOGLE_LOGIN_CONFIG", "GITLAB_LOGIN_CONFIG", "RHSSO_LOGIN_CONFIG",
		"GITHUBX_LOGIN_CONFIG", "XGITHUB_LOGIN_CONFIG", "GOOGL_LOGIN_CONFIG", "GITLAC_LOGIN_CONFIG", "_LOGIN_CONFIG", "A_LOGIN_CONFIG",
		"lower_LOGIN_CONFIG", "AZURE-AD_LOGIN_CONFIG", "KEYCLOAK_LOGIN_CONFIGX", "G_LOGIN_CONFIG"}
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "GITHUBOLEAKZ09_"
	for range 20000 {
		n := 1 + r.IntN(8)
		var b strings.Builder
		for range n {
			b.WriteByte(alphabet[r.IntN(len(alphabet))])
		}
		names = append(names, b.String()+"_LOGIN_CONFIG")
	}
	for _, n := range names {
		if got, want := re.MatchString(n), IsOIDCLoginKey(n); got != want {
			t.Errorf("%s: schema pattern says %v, IsOIDCLoginKey %v", n, got, want)
		}
	}
}

// TestGroupOf checks field groups by key path, including the groups of later features.
func TestGroupOf(t *testing.T) {
	for path, want := range map[string]string{
		"SERVER_HOSTNAME": "server", "ssl.cert": "server", "extra_ca_certs/ca.pem": "server",
		"DB_CONNECTION_ARGS/sslmode": "database", "USER_EVENTS_REDIS": "redis",
		"DISTRIBUTED_STORAGE_CONFIG/default/1/s3_bucket": "storage", "FEATURE_STORAGE_REPLICATION": "storage",
		"LDAP_URI": "auth", "KEYCLOAK_LOGIN_CONFIG/CLIENT_ID": "auth", "FEATURE_GITHUB_LOGIN": "auth",
		"FEATURE_ANONYMOUS_ACCESS": "features", "MAIL_SERVER": "mail", "SECURITY_SCANNER_V4_PSK": "scanner",
		"REPO_MIRROR_INTERVAL": "mirroring", "BUILDMAN_HOSTNAME": "builds", "FEATURE_GITHUB_BUILD": "builds",
		"TESTING": "other", "NO_SUCH_KEY": "", "": "",
	} {
		if got := GroupOf(path); got != want {
			t.Errorf("GroupOf(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestKeys checks the key listing the docs are made from.
func TestKeys(t *testing.T) {
	keys, err := Keys()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Key{}
	last := -1
	for _, k := range keys {
		if gi := groupIndex(k.Group); gi < last {
			t.Errorf("%s (group %s) out of group order", k.Name, k.Group)
		} else {
			last = gi
		}
		if k.Description == "" || k.Type == "" {
			t.Errorf("%s: description %q, type %q", k.Name, k.Description, k.Type)
		}
		byName[k.Name] = k
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"duration type", byName["DEFAULT_TAG_EXPIRATION"].Type == "duration" && byName["DEFAULT_TAG_EXPIRATION"].Default == "2w"},
		{"size type", byName["MAXIMUM_LAYER_SIZE"].Type == "size"},
		{"enum", len(byName["AUTHENTICATION_TYPE"].Enum) == 3},
		{"fields", len(byName["BUILDLOGS_REDIS"].Fields) == 4},
		{"pattern key", byName["NAME_LOGIN_CONFIG"].Pattern != "" && byName["NAME_LOGIN_CONFIG"].Group == "auth"},
		{"not honoured", !byName["FEATURE_GITHUB_BUILD"].Honoured && byName["FEATURE_GITHUB_BUILD"].Note != ""},
		{"harmless", slices.Equal(byName["FEATURE_INVITE_ONLY_USER_CREATION"].Harmless, []any{false})},
		{"warning only", byName["SSL_CIPHERS"].WarningOnly},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: wrong", c.name)
		}
	}
	if k, ok := Lookup("RHSSO_LOGIN_CONFIG"); !ok || k.Group != "auth" || !k.Honoured {
		t.Errorf("Lookup(RHSSO_LOGIN_CONFIG) = %+v, %v", k, ok)
	}
	if _, ok := Lookup("FEATURE_TYPO"); ok {
		t.Error("Lookup found FEATURE_TYPO")
	}
	// Keys Quay 3.x configs commonly carry, by field group: the schema must know each.
	for _, key := range strings.Fields(`FEATURE_REPO_MIRROR REPO_MIRROR_INTERVAL REPO_MIRROR_TLS_VERIFY REPO_MIRROR_SERVER_HOSTNAME
		REPO_MIRROR_ROLLBACK SECURITY_SCANNER_NOTIFICATIONS SECURITY_SCANNER_V4_INDEX_MAX_LAYER_SIZE SECURITY_SCANNER_V4_ENDPOINT
		SECURITY_SCANNER_V4_PSK FEATURE_BUILD_SUPPORT BUILDMAN_HOSTNAME BUILD_MANAGER FEATURE_STORAGE_REPLICATION
		DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS LDAP_URI LDAP_BASE_DN LDAP_USER_RDN LDAP_SECONDARY_USER_RDNS LDAP_USER_FILTER
		LDAP_ADMIN_DN LDAP_ADMIN_PASSWD LDAP_UID_ATTR LDAP_EMAIL_ATTR LDAP_ALLOW_INSECURE_FALLBACK LDAP_SUPERUSER_FILTER
		LDAP_RESTRICTED_USER_FILTER MAIL_SERVER MAIL_PORT MAIL_USE_TLS MAIL_USE_AUTH MAIL_USERNAME MAIL_PASSWORD
		MAIL_DEFAULT_SENDER BUILDLOGS_REDIS USER_EVENTS_REDIS FEATURE_ACI_CONVERSION FEATURE_ANONYMOUS_ACCESS
		FEATURE_BITBUCKET_BUILD FEATURE_DIRECT_LOGIN FEATURE_GITHUB_BUILD FEATURE_GITHUB_LOGIN FEATURE_GOOGLE_LOGIN
		FEATURE_INVITE_ONLY_USER_CREATION FEATURE_NONSUPERUSER_TEAM_SYNCING_SETUP FEATURE_PARTIAL_USER_AUTOCOMPLETE
		FEATURE_USERNAME_CONFIRMATION FEATURE_REQUIRE_TEAM_INVITE FEATURE_RESTRICTED_V1_PUSH FEATURE_CHANGE_TAG_EXPIRATION
		FEATURE_USER_METADATA FEATURE_QUOTA_MANAGEMENT FEATURE_PROXY_CACHE FEATURE_EXTENDED_REPOSITORY_NAMES
		FEATURE_GENERAL_OCI_SUPPORT FEATURE_HELM_OCI_SUPPORT FEATURE_UI_V2 DATABASE_SECRET_KEY SECRET_KEY ENTERPRISE_LOGO_URL
		LOG_ARCHIVE_LOCATION LOGS_MODEL LOGS_MODEL_CONFIG SEARCH_MAX_RESULT_PAGE_COUNT SEARCH_RESULTS_PER_PAGE
		USER_RECOVERY_TOKEN_LIFETIME USERFILES_LOCATION USERFILES_PATH TESTING DEBUGGING ALLOWED_OCI_ARTIFACT_TYPES
		IGNORE_UNKNOWN_MEDIATYPES TAG_EXPIRATION_OPTIONS SESSION_COOKIE_SECURE BROWSER_API_CALLS_XHR_ONLY GITHUB_LOGIN_CONFIG
		GOOGLE_LOGIN_CONFIG GITHUB_TRIGGER_CONFIG GITLAB_TRIGGER_CONFIG BITBUCKET_TRIGGER_CONFIG CONTACT_INFO AVATAR_KIND
		FEATURE_SECURITY_NOTIFICATIONS OIDC_LOGIN_CONFIG SETUP_COMPLETE FEATURE_APP_REGISTRY GITLAB_TRIGGER_KIND USE_CDN
		SECURITY_SCANNER_ISSUER_NAME CREATE_NAMESPACE_ON_PUSH FEATURE_USER_INITIALIZE`) {
		if _, ok := Lookup(key); !ok {
			t.Errorf("the schema does not know %s", key)
		}
	}
}

func decodeInto(t *testing.T, v, out any) {
	t.Helper()
	b := []byte(jsonText(v))
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}
