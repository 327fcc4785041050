package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// FileName is the name of the config file inside a config directory.
const FileName = "config.yaml"

// Config is config.yaml, typed. Field names follow the keys; see config.schema.json (or the
// generated docs/config.md) for each key's meaning. Only keys Wharf honours have fields here;
// the schema knows Quay's other keys too, and Parse reports each one a file sets.
type Config struct {
	ServerHostname     string `json:"SERVER_HOSTNAME"`
	PreferredURLScheme string `json:"PREFERRED_URL_SCHEME"`
	RegistryTitle      string `json:"REGISTRY_TITLE"`
	RegistryTitleShort string `json:"REGISTRY_TITLE_SHORT"`

	DBURI            string           `json:"DB_URI"`
	DBConnectionArgs DBConnectionArgs `json:"DB_CONNECTION_ARGS"`

	DistributedStorageConfig           map[string]StorageLocation `json:"DISTRIBUTED_STORAGE_CONFIG"`
	DistributedStoragePreference       []string                   `json:"DISTRIBUTED_STORAGE_PREFERENCE"`
	DistributedStorageDefaultLocations []string                   `json:"DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS"`
	FeatureStorageReplication          bool                       `json:"FEATURE_STORAGE_REPLICATION"`
	MaximumLayerSize                   Size                       `json:"MAXIMUM_LAYER_SIZE"`
	UserfilesLocation                  string                     `json:"USERFILES_LOCATION"`
	UserfilesPath                      string                     `json:"USERFILES_PATH"`

	DefaultTagExpiration Duration   `json:"DEFAULT_TAG_EXPIRATION"`
	TagExpirationOptions []Duration `json:"TAG_EXPIRATION_OPTIONS"`

	FeatureAnonymousAccess   bool `json:"FEATURE_ANONYMOUS_ACCESS"`
	FeatureProxyStorage      bool `json:"FEATURE_PROXY_STORAGE"`
	FeatureGarbageCollection bool `json:"FEATURE_GARBAGE_COLLECTION"`
	FeatureUserCreation      bool `json:"FEATURE_USER_CREATION"`
	FeatureDirectLogin       bool `json:"FEATURE_DIRECT_LOGIN"`
	SessionCookieSecure      bool `json:"SESSION_COOKIE_SECURE"`
	FeatureSuperUsers        bool `json:"FEATURE_SUPER_USERS"`

	SuperUsers         []string `json:"SUPER_USERS"`
	AuthenticationType string   `json:"AUTHENTICATION_TYPE"`

	CreateNamespaceOnPush            bool      `json:"CREATE_NAMESPACE_ON_PUSH"`
	FeatureUserInitialize            bool      `json:"FEATURE_USER_INITIALIZE"`
	FeatureUserLogAccess             bool      `json:"FEATURE_USER_LOG_ACCESS"`
	FeatureAppSpecificTokens         bool      `json:"FEATURE_APP_SPECIFIC_TOKENS"`
	AppSpecificTokenExpiration       *Duration `json:"APP_SPECIFIC_TOKEN_EXPIRATION"`
	FeatureRequireEncryptedBasicAuth bool      `json:"FEATURE_REQUIRE_ENCRYPTED_BASIC_AUTH"`
	FeaturePublicCatalog             bool      `json:"FEATURE_PUBLIC_CATALOG"`
	AllowPullsWithoutStrictLogging   bool      `json:"ALLOW_PULLS_WITHOUT_STRICT_LOGGING"`
	FeatureActionLogRotation         bool      `json:"FEATURE_ACTION_LOG_ROTATION"`
	ActionLogRotationThreshold       Duration  `json:"ACTION_LOG_ROTATION_THRESHOLD"`
	FeatureTeamSyncing               bool      `json:"FEATURE_TEAM_SYNCING"`
	TeamResyncStaleTime              Duration  `json:"TEAM_RESYNC_STALE_TIME"`
	FeatureRateLimits                bool      `json:"FEATURE_RATE_LIMITS"`
	RateLimitRequestsPerSecond       float64   `json:"RATE_LIMIT_REQUESTS_PER_SECOND"`
	RateLimitBurst                   int       `json:"RATE_LIMIT_BURST"`

	LDAPURI                   string   `json:"LDAP_URI"`
	LDAPBaseDN                []string `json:"LDAP_BASE_DN"`
	LDAPUserRDN               []string `json:"LDAP_USER_RDN"`
	LDAPSecondaryUserRDNs     []any    `json:"LDAP_SECONDARY_USER_RDNS"`
	LDAPUserFilter            string   `json:"LDAP_USER_FILTER"`
	LDAPAdminDN               string   `json:"LDAP_ADMIN_DN"`
	LDAPAdminPasswd           string   `json:"LDAP_ADMIN_PASSWD"`
	LDAPUIDAttr               string   `json:"LDAP_UID_ATTR"`
	LDAPEmailAttr             string   `json:"LDAP_EMAIL_ATTR"`
	LDAPTimeout               int      `json:"LDAP_TIMEOUT"`
	LDAPNetworkTimeout        int      `json:"LDAP_NETWORK_TIMEOUT"`
	LDAPAllowInsecureFallback bool     `json:"LDAP_ALLOW_INSECURE_FALLBACK"` // not honoured: Parse refuses true

	BuildlogsRedis  Redis `json:"BUILDLOGS_REDIS"`
	UserEventsRedis Redis `json:"USER_EVENTS_REDIS"`

	FeatureMailing    bool   `json:"FEATURE_MAILING"`
	MailServer        string `json:"MAIL_SERVER"`
	MailPort          int    `json:"MAIL_PORT"`
	MailUseTLS        bool   `json:"MAIL_USE_TLS"`
	MailUseAuth       bool   `json:"MAIL_USE_AUTH"`
	MailUsername      string `json:"MAIL_USERNAME"`
	MailPassword      string `json:"MAIL_PASSWORD"`
	MailDefaultSender string `json:"MAIL_DEFAULT_SENDER"`

	FeatureSecurityScanner              bool     `json:"FEATURE_SECURITY_SCANNER"`
	SecurityScannerV4Endpoint           string   `json:"SECURITY_SCANNER_V4_ENDPOINT"`
	SecurityScannerV4PSK                string   `json:"SECURITY_SCANNER_V4_PSK"`
	SecurityScannerIndexingInterval     int      `json:"SECURITY_SCANNER_INDEXING_INTERVAL"`
	SecurityScannerV4NamespaceWhitelist []string `json:"SECURITY_SCANNER_V4_NAMESPACE_WHITELIST"`
	FeatureSecurityNotifications        bool     `json:"FEATURE_SECURITY_NOTIFICATIONS"`
	SecurityScannerV4IndexMaxLayerSize  Size     `json:"SECURITY_SCANNER_V4_INDEX_MAX_LAYER_SIZE"`
	SecurityScannerV4ManifestCleanup    bool     `json:"SECURITY_SCANNER_V4_MANIFEST_CLEANUP"`
	SecurityScannerV4ReindexThreshold   int      `json:"SECURITY_SCANNER_V4_REINDEX_THRESHOLD"`
	SecurityScannerNotifyMinSeverity    string   `json:"SECURITY_SCANNER_NOTIFY_MIN_SEVERITY"`

	FeatureRepoMirror        bool   `json:"FEATURE_REPO_MIRROR"`
	RepoMirrorInterval       int    `json:"REPO_MIRROR_INTERVAL"`
	RepoMirrorTLSVerify      bool   `json:"REPO_MIRROR_TLS_VERIFY"`
	RepoMirrorServerHostname string `json:"REPO_MIRROR_SERVER_HOSTNAME"`
	RepoMirrorRollback       bool   `json:"REPO_MIRROR_ROLLBACK"`

	FeatureBuildSupport               bool   `json:"FEATURE_BUILD_SUPPORT"`
	BuildmanHostname                  string `json:"BUILDMAN_HOSTNAME"`
	DefaultNamespaceMaximumBuildCount *int   `json:"DEFAULT_NAMESPACE_MAXIMUM_BUILD_COUNT"`
	FeatureReaderBuildLogs            bool   `json:"FEATURE_READER_BUILD_LOGS"`
	LogArchiveLocation                string `json:"LOG_ARCHIVE_LOCATION"`
	LogArchivePath                    string `json:"LOG_ARCHIVE_PATH"`

	ExternalTLSTermination bool   `json:"EXTERNAL_TLS_TERMINATION"`
	FeatureACMETLS         bool   `json:"FEATURE_ACME_TLS"`
	ACMEDirectoryURL       string `json:"ACME_DIRECTORY_URL"`
	ACMEEmail              string `json:"ACME_EMAIL"`

	// Warnings are the keys the file sets that Wharf does not honour, set to values that
	// ask for nothing Wharf lacks (e.g. FEATURE_GITHUB_BUILD: false): one per key, each
	// saying what Wharf does instead. They do not make the config invalid.
	Warnings []Problem `json:"-"`

	// lines maps each key path's JSON pointer (/A/b/0) to its line in the file.
	lines map[string]int

	// LoginConfigs are the *_LOGIN_CONFIG OpenID providers, by key.
	LoginConfigs     map[string]LoginConfig `json:"-"`
	V2PaginationSize int                    `json:"V2_PAGINATION_SIZE"`

	// SecretKey, DatabaseSecretKey and SetupComplete are read for Quay compatibility only:
	// Wharf does not honour them (Parse warns when a file sets them).
	SecretKey         string `json:"SECRET_KEY"`
	DatabaseSecretKey string `json:"DATABASE_SECRET_KEY"`
	SetupComplete     bool   `json:"SETUP_COMPLETE"`
	RegistryState     string `json:"REGISTRY_STATE"`

	BlobUploadExpiration      Duration `json:"BLOB_UPLOAD_EXPIRATION"`
	GarbageCollectionInterval Duration `json:"GARBAGE_COLLECTION_INTERVAL"`
	GarbageCollectionGrace    Duration `json:"GARBAGE_COLLECTION_GRACE"`
	RegistryTokenExpiration   Duration `json:"REGISTRY_TOKEN_EXPIRATION"`
}

// Redis is a Redis server (BUILDLOGS_REDIS, USER_EVENTS_REDIS); Host is empty when not
// configured.
type Redis struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Password string `json:"password"`
	SSL      bool   `json:"ssl"`
}

// Configured reports whether the server is set (an empty object is not).
func (r Redis) Configured() bool { return r.Host != "" }

// Addr is HOST:PORT, with the default port 6379.
func (r Redis) Addr() string {
	port := r.Port
	if port == 0 {
		port = 6379
	}
	return net.JoinHostPort(r.Host, strconv.Itoa(port))
}

// LoginConfig is one *_LOGIN_CONFIG: an OpenID Connect provider for UI logins.
type LoginConfig struct {
	ClientID                   string   `json:"CLIENT_ID"`
	ClientSecret               string   `json:"CLIENT_SECRET"`
	OIDCServer                 string   `json:"OIDC_SERVER"`
	ServiceName                string   `json:"SERVICE_NAME"`
	ServiceIcon                string   `json:"SERVICE_ICON"`
	LoginScopes                []string `json:"LOGIN_SCOPES"`
	PreferredUsernameClaimName string   `json:"PREFERRED_USERNAME_CLAIM_NAME"`
	VerifiedEmailClaimName     string   `json:"VERIFIED_EMAIL_CLAIM_NAME"`
	DebugLog                   bool     `json:"DEBUGLOG"`
}

// SecondaryUserRDNs returns LDAP_SECONDARY_USER_RDNS as lists of RDN components.
func (c *Config) SecondaryUserRDNs() [][]string {
	var out [][]string
	for _, v := range c.LDAPSecondaryUserRDNs {
		switch x := v.(type) {
		case string:
			out = append(out, []string{x})
		case []any:
			var parts []string
			for _, p := range x {
				if s, ok := p.(string); ok {
					parts = append(parts, s)
				}
			}
			out = append(out, parts)
		}
	}
	return out
}

// DBConnectionArgs is DB_CONNECTION_ARGS.
type DBConnectionArgs struct {
	SSLMode        string `json:"sslmode,omitempty"`
	SSLRootCert    string `json:"sslrootcert,omitempty"`
	MaxConnections int    `json:"max_connections,omitempty"`
	StaleTimeout   int    `json:"stale_timeout,omitempty"`
	ConnectTimeout int    `json:"connect_timeout,omitempty"`
	AutoRollback   bool   `json:"autorollback,omitempty"`
	ThreadLocals   bool   `json:"threadlocals,omitempty"`
}

// StorageLocation is one entry of DISTRIBUTED_STORAGE_CONFIG: a driver name and its parameters.
type StorageLocation struct {
	Driver string
	Params map[string]any
}

// UnmarshalJSON reads the [DriverName, {parameters}] form.
func (s *StorageLocation) UnmarshalJSON(b []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	if len(pair) != 2 {
		return fmt.Errorf("storage location must be [DriverName, {parameters}]")
	}
	if err := json.Unmarshal(pair[0], &s.Driver); err != nil {
		return err
	}
	return json.Unmarshal(pair[1], &s.Params)
}

// MarshalJSON writes the [DriverName, {parameters}] form.
func (s StorageLocation) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{s.Driver, s.Params})
}

// String returns the parameter as a string ("" when absent); numbers are formatted.
func (s StorageLocation) String(key string) string {
	switch v := s.Params[key].(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// Bool returns the boolean parameter, or def when absent.
func (s StorageLocation) Bool(key string, def bool) bool {
	if v, ok := s.Params[key].(bool); ok {
		return v
	}
	return def
}

// Default is the embedded default configuration: everything that config.yaml leaves out.
func Default() *Config {
	return &Config{
		ServerHostname:     "localhost:8080",
		PreferredURLScheme: "http",
		RegistryTitle:      "Wharf",
		RegistryTitleShort: "Wharf",
		DistributedStorageConfig: map[string]StorageLocation{
			"default": {Driver: "LocalStorage", Params: map[string]any{"storage_path": "storage"}},
		},
		DistributedStoragePreference:       []string{"default"},
		DistributedStorageDefaultLocations: []string{},
		MaximumLayerSize:                   20 << 30,
		DefaultTagExpiration:               Duration(14 * 24 * time.Hour),
		TagExpirationOptions:               []Duration{0, Duration(24 * time.Hour), Duration(7 * 24 * time.Hour), Duration(14 * 24 * time.Hour), Duration(28 * 24 * time.Hour)},
		FeatureAnonymousAccess:             true,
		FeatureProxyStorage:                false,
		FeatureGarbageCollection:           true,
		FeatureUserCreation:                true,
		FeatureDirectLogin:                 true,
		FeatureSuperUsers:                  true,
		SuperUsers:                         []string{},
		AuthenticationType:                 "Database",
		FeatureAppSpecificTokens:           true,
		ActionLogRotationThreshold:         Duration(30 * 24 * time.Hour),
		TeamResyncStaleTime:                Duration(30 * time.Minute),
		RateLimitRequestsPerSecond:         100,
		RateLimitBurst:                     200,
		LDAPUIDAttr:                        "uid",
		LDAPEmailAttr:                      "mail",
		LDAPTimeout:                        10,
		LDAPNetworkTimeout:                 10,
		V2PaginationSize:                   100,
		SetupComplete:                      true,
		RegistryState:                      "normal",
		BlobUploadExpiration:               Duration(24 * time.Hour),
		GarbageCollectionInterval:          Duration(time.Minute),
		GarbageCollectionGrace:             Duration(time.Hour),
		RegistryTokenExpiration:            Duration(time.Hour),
		MailPort:                           587,
		MailUseTLS:                         true,
		SecurityScannerIndexingInterval:    30,
		SecurityScannerV4ManifestCleanup:   true,
		SecurityScannerV4ReindexThreshold:  86400,
		SecurityScannerNotifyMinSeverity:   "Low",
		UserfilesPath:                      "userfiles/",
		LogArchivePath:                     "logarchive/",
		RepoMirrorInterval:                 30,
		RepoMirrorTLSVerify:                true,
		ACMEDirectoryURL:                   "https://acme-v02.api.letsencrypt.org/directory",
	}
}

// Load reads DIR/config.yaml. It returns fs.ErrNotExist (wrapped) when there is no such file,
// and an *InvalidError listing every problem when the file is not a valid config.
func Load(dir string) (*Config, error) {
	file := filepath.Join(dir, FileName)
	data, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no %s in %s: %w", FileName, dir, err)
		}
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(file, data)
}

// Parse validates config file content and returns the typed config with defaults filled in.
// The name is used in error messages.
//
// A key set to null (KEY: or KEY: null) is unset: Wharf uses its default, as Quay does. Keys
// Quay knows but Wharf does not honour are reported once each: as an error (in the returned
// *InvalidError) when the value asks for something Wharf cannot do, otherwise as a warning
// in Config.Warnings (and InvalidError.Warnings). Keys nobody knows are errors.
func Parse(name string, data []byte) (*Config, error) {
	doc, lines, err := decodeYAML(data)
	if err != nil {
		return nil, &InvalidError{File: name, Problems: []Problem{yamlProblem(err)}}
	}
	if doc == nil {
		doc = map[string]any{}
	}
	nullErrs, nullWarns, err := dropNulls(doc, lines)
	if err != nil {
		return nil, err
	}
	problems, warnings, err := validate(doc, lines)
	if err != nil {
		return nil, err
	}
	problems = append(problems, nullErrs...)
	warnings = append(warnings, nullWarns...)
	sortProblems(problems)
	sortProblems(warnings)
	invalid := func(p []Problem) error { return &InvalidError{File: name, Problems: p, Warnings: warnings} }
	if len(problems) > 0 {
		return nil, invalid(problems)
	}
	cfg := Default()
	if m, ok := doc.(map[string]any); ok && m["DISTRIBUTED_STORAGE_CONFIG"] != nil {
		// The file's locations replace the default's (decoding into the map would merge them).
		cfg.DistributedStorageConfig = nil
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(cfg); err != nil {
		return nil, invalid([]Problem{{Message: err.Error()}})
	}
	if err := cfg.decodeLoginConfigs(doc); err != nil {
		return nil, invalid([]Problem{{Message: err.Error()}})
	}
	if problems := cfg.check(lines); len(problems) > 0 {
		return nil, invalid(problems)
	}
	if len(lines) > 0 { // an empty file leaves the config equal to Default()
		cfg.lines = lines
	}
	if len(warnings) > 0 {
		cfg.Warnings = warnings
	}
	return cfg, nil
}

// dropNulls removes the top-level keys set to null from doc (and their lines): they are
// unset. It reports those the schema does not know (errors) and those Wharf does not honour
// (warnings), as validation would had they been set.
func dropNulls(doc any, lines map[string]int) (errs, warns []Problem, err error) {
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, nil, nil
	}
	root, err := rawSchema()
	if err != nil {
		return nil, nil, err
	}
	for key, v := range m {
		if v != nil {
			continue
		}
		ptr := "/" + escapePointer(key)
		line := lines[ptr]
		delete(m, key)
		delete(lines, ptr)
		node, known := topLevelNode(root, key)
		if !known {
			errs = append(errs, Problem{Path: key, Line: line, Message: unknownKeyMessage})
			continue
		}
		if a := annotationOf(node); !a.honoured() {
			if p, warning := notHonouredProblem(node, a, key, line, nil, m); warning {
				warns = append(warns, p)
			} else {
				errs = append(errs, p)
			}
		}
	}
	return errs, warns, nil
}

// Has reports whether the file sets the key path (slash-separated, e.g. MAIL_SERVER or
// DISTRIBUTED_STORAGE_CONFIG/default), as opposed to leaving it to its default.
func (c *Config) Has(path string) bool {
	_, ok := c.lines[pointerOf(path)]
	return ok
}

// Problem makes a problem about a key path, located at the key's line in the file.
func (c *Config) Problem(path, message string) Problem {
	return Problem{Path: path, Line: c.lines[pointerOf(path)], Message: message}
}

// pointerOf turns a key path (A/b/0) into the JSON pointer (/A/b/0) lines are keyed by.
func pointerOf(path string) string {
	if path == "" {
		return ""
	}
	parts := strings.Split(path, "/")
	for i, p := range parts {
		parts[i] = escapePointer(p)
	}
	return "/" + strings.Join(parts, "/")
}

// decodeLoginConfigs reads the OpenID Connect providers: the *_LOGIN_CONFIG keys other than
// Quay's GitHub and Google logins (see IsOIDCLoginKey), leaving out empty ones (not
// configured).
func (c *Config) decodeLoginConfigs(doc any) error {
	m, _ := doc.(map[string]any)
	for k, v := range m {
		if !IsOIDCLoginKey(k) {
			continue
		}
		if obj, ok := v.(map[string]any); !ok || len(obj) == 0 {
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		var lc LoginConfig
		if err := json.Unmarshal(raw, &lc); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		if c.LoginConfigs == nil {
			c.LoginConfigs = map[string]LoginConfig{}
		}
		c.LoginConfigs[k] = lc
	}
	return nil
}

// IsOIDCLoginKey reports whether a config key names an OpenID Connect login provider:
// NAME_LOGIN_CONFIG for any NAME of capitals, digits and underscores except GITHUB and
// GOOGLE (Quay's OAuth logins, which Wharf does not have) and GITLAB (reserved). The
// schema's pattern for these keys says the same (a test checks).
func IsOIDCLoginKey(key string) bool {
	prefix, ok := strings.CutSuffix(key, "_LOGIN_CONFIG")
	if !ok || prefix == "" {
		return false
	}
	for _, r := range prefix {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	switch prefix {
	case "GITHUB", "GOOGLE", "GITLAB":
		return false
	}
	return true
}

// check finds what the schema cannot express.
func (c *Config) check(lines map[string]int) []Problem {
	var out []Problem
	for i, name := range c.DistributedStoragePreference {
		if _, ok := c.DistributedStorageConfig[name]; !ok {
			ptr := fmt.Sprintf("/DISTRIBUTED_STORAGE_PREFERENCE/%d", i)
			out = append(out, Problem{Path: pathOf(ptr), Line: lines[ptr], Message: fmt.Sprintf("location %q is not defined in DISTRIBUTED_STORAGE_CONFIG", name)})
		}
	}
	for i, name := range c.DistributedStorageDefaultLocations {
		if _, ok := c.DistributedStorageConfig[name]; !ok {
			ptr := fmt.Sprintf("/DISTRIBUTED_STORAGE_DEFAULT_LOCATIONS/%d", i)
			out = append(out, Problem{Path: pathOf(ptr), Line: lines[ptr], Message: fmt.Sprintf("location %q is not defined in DISTRIBUTED_STORAGE_CONFIG", name)})
		}
	}
	for _, k := range []struct{ key, name string }{{"USERFILES_LOCATION", c.UserfilesLocation}, {"LOG_ARCHIVE_LOCATION", c.LogArchiveLocation}} {
		if _, ok := c.DistributedStorageConfig[k.name]; k.name != "" && !ok {
			out = append(out, Problem{Path: k.key, Line: lines["/"+k.key], Message: fmt.Sprintf("location %q is not defined in DISTRIBUTED_STORAGE_CONFIG", k.name)})
		}
	}
	if c.AuthenticationType == "LDAP" {
		for _, k := range []string{"LDAP_URI", "LDAP_BASE_DN", "LDAP_ADMIN_DN"} {
			if _, ok := lines["/"+k]; !ok {
				out = append(out, Problem{Path: k, Message: "AUTHENTICATION_TYPE is LDAP, so " + k + " is required"})
			}
		}
	}
	if c.AuthenticationType == "OIDC" && len(c.LoginConfigs) == 0 {
		out = append(out, Problem{Path: "AUTHENTICATION_TYPE", Line: lines["/AUTHENTICATION_TYPE"],
			Message: "AUTHENTICATION_TYPE is OIDC, so a *_LOGIN_CONFIG provider (e.g. OIDC_LOGIN_CONFIG) is required"})
	}
	return out
}

// decodeYAML turns YAML into JSON-shaped values and records the line of every JSON pointer.
func decodeYAML(data []byte) (any, map[string]int, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, nil, err
	}
	lines := map[string]int{}
	if root.Kind == 0 {
		return nil, lines, nil
	}
	budget := maxNodes
	v, err := nodeValue(&root, "", lines, 0, &budget)
	return v, lines, err
}

// maxNodes bounds the values a config may expand to, so that nested YAML aliases cannot make
// a small file take unbounded time and memory.
const maxNodes = 100000

func nodeValue(n *yaml.Node, ptr string, lines map[string]int, depth int, budget *int) (any, error) {
	if depth > 100 {
		return nil, fmt.Errorf("line %d: nesting too deep", n.Line)
	}
	if *budget--; *budget < 0 {
		return nil, fmt.Errorf("line %d: the document expands to more than %d values (YAML aliases?)", n.Line, maxNodes)
	}
	lines[ptr] = n.Line
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return nodeValue(n.Content[0], ptr, lines, depth+1, budget)
	case yaml.AliasNode:
		return nodeValue(n.Alias, ptr, lines, depth+1, budget)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, vn := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: keys must be plain strings", k.Line)
			}
			if k.Tag == "!!merge" {
				return nil, fmt.Errorf("line %d: YAML merge keys (<<) are not supported", k.Line)
			}
			child := ptr + "/" + escapePointer(k.Value)
			lines[child] = k.Line
			v, err := nodeValue(vn, child, lines, depth+1, budget)
			if err != nil {
				return nil, err
			}
			lines[child] = k.Line
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			v, err := nodeValue(c, fmt.Sprintf("%s/%d", ptr, i), lines, depth+1, budget)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			err := n.Decode(&b)
			return b, err
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				return nil, err
			}
			return json.Number(strconv.FormatInt(i, 10)), nil
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return nil, err
			}
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
		default:
			return n.Value, nil
		}
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

func yamlProblem(err error) Problem {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	p := Problem{Message: "not valid YAML: " + msg}
	var line int
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil {
		p.Line = line
	}
	return p
}

// Duration is a config duration such as 2w or 30m.
type Duration time.Duration

// ParseDuration reads a duration in config syntax: digits followed by w, d, h, m or s.
func ParseDuration(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("invalid duration %q: want a number followed by w, d, h, m or s", s)
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid duration %q: want a number followed by w, d, h, m or s", s)
	}
	unit := map[byte]time.Duration{'w': 7 * 24 * time.Hour, 'd': 24 * time.Hour, 'h': time.Hour, 'm': time.Minute, 's': time.Second}[s[len(s)-1]]
	if unit == 0 {
		return 0, fmt.Errorf("invalid duration %q: unit must be w, d, h, m or s", s)
	}
	if n > int64(math.MaxInt64/unit) {
		return 0, fmt.Errorf("duration %q is too long (at most about 290 years)", s)
	}
	return time.Duration(n) * unit, nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseDuration(s)
	*d = Duration(v)
	return err
}

// MarshalJSON implements json.Marshaler, writing the largest whole unit.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// String formats d in config syntax.
func (d Duration) String() string {
	v := time.Duration(d)
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}} {
		if v != 0 && v%u.unit == 0 {
			return strconv.FormatInt(int64(v/u.unit), 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(v/time.Second), 10) + "s"
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Size is a config size such as 20G.
type Size int64

// ParseSize reads a size: digits optionally followed by K, M, G or T (powers of 1024).
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	num := s
	if s != "" {
		switch s[len(s)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			num = s[:len(s)-1]
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q: want a number optionally followed by K, M, G or T", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (z *Size) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseSize(s)
	*z = Size(v)
	return err
}

// MarshalJSON implements json.Marshaler.
func (z Size) MarshalJSON() ([]byte, error) {
	v := int64(z)
	for _, u := range []struct {
		suffix string
		unit   int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if v != 0 && v%u.unit == 0 {
			return json.Marshal(strconv.FormatInt(v/u.unit, 10) + u.suffix)
		}
	}
	return json.Marshal(strconv.FormatInt(v, 10))
}
