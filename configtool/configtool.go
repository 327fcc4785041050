// Package configtool checks a Wharf config directory beyond what its schema can say: that the
// keys agree with each other, that the files it names exist, and that the world it names is
// there (the database answers with a supported version, Redis answers, each storage location
// takes a write, a read and a delete, LDAP binds and finds a user, the mail server accepts a
// connection, the TLS certificate fits, the scanner is healthy). `wharf config validate` and
// the wizard both run it; `wharf serve` loads the same config through schema.Parse.
package configtool

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/wharf-registry/wharf/schema"
)

// Field groups, as Quay's config tool names them: the unit of a reachability check and of a
// wizard step.
const (
	GroupServer   = "server"   // SERVER_HOSTNAME, PREFERRED_URL_SCHEME, TLS (ssl.cert, ssl.key, ACME)
	GroupDatabase = "database" // DB_URI, DB_CONNECTION_ARGS
	GroupRedis    = "redis"    // BUILDLOGS_REDIS, USER_EVENTS_REDIS
	GroupStorage  = "storage"  // DISTRIBUTED_STORAGE_*
	GroupAuth     = "auth"     // AUTHENTICATION_TYPE, LDAP_*, *_LOGIN_CONFIG
	GroupFeatures = "features" // FEATURE_* and the settings they need
	GroupMail     = "mail"     // FEATURE_MAILING, MAIL_*
	GroupScanner  = "scanner"  // FEATURE_SECURITY_SCANNER, SECURITY_SCANNER_*
)

// Groups lists the field groups in the order the wizard walks them.
var Groups = []string{GroupServer, GroupDatabase, GroupRedis, GroupStorage, GroupAuth, GroupFeatures, GroupMail, GroupScanner}

// Files beside config.yaml in a config directory or bundle.
const (
	ConfigFile   = schema.FileName // config.yaml
	CertFile     = "ssl.cert"
	KeyFile      = "ssl.key"
	ExtraCADir   = "extra_ca_certs"
	BundleName   = "quay-config.tar.gz"
	maxFileBytes = 16 << 20
)

// Source is a config to check: config.yaml and the files beside it, by their path relative
// to the config directory (ssl.cert, ssl.key, extra_ca_certs/NAME). The wizard builds one in
// memory; ReadDir reads one from a directory.
type Source struct {
	// Dir is the directory the source was read from ("" when it came from elsewhere); local
	// paths in the config are relative to it.
	Dir   string
	Files map[string][]byte
}

// Config returns config.yaml's content (nil when absent).
func (s Source) Config() []byte { return s.Files[ConfigFile] }

// ReadDir reads config.yaml, ssl.cert, ssl.key and extra_ca_certs/* from dir.
func ReadDir(dir string) (Source, error) {
	src := Source{Dir: dir, Files: map[string][]byte{}}
	for _, name := range []string{ConfigFile, CertFile, KeyFile} {
		b, err := readSmall(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Source{}, err
		}
		src.Files[name] = b
	}
	if _, ok := src.Files[ConfigFile]; !ok {
		return Source{}, fmt.Errorf("no %s in %s: %w (write one with `wharf config wizard`, or see docs/config.md)", ConfigFile, dir, fs.ErrNotExist)
	}
	entries, err := os.ReadDir(filepath.Join(dir, ExtraCADir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Source{}, fmt.Errorf("read %s: %w", ExtraCADir, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := readSmall(filepath.Join(dir, ExtraCADir, e.Name()))
		if err != nil {
			return Source{}, err
		}
		src.Files[ExtraCADir+"/"+e.Name()] = b
	}
	return src, nil
}

func readSmall(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxFileBytes {
		return nil, fmt.Errorf("%s: %d bytes is too large for a config file", path, st.Size())
	}
	return os.ReadFile(path)
}

// Status is the outcome of one check.
type Status string

// Outcomes of a check.
const (
	StatusOK      Status = "ok"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped"
)

// Result is one reachability check: what was checked in which field group, and what came of
// it. Path is the config key the check concerns, so that a failure shows beside its field.
type Result struct {
	Group   string        `json:"group"`
	Check   string        `json:"check"`
	Path    string        `json:"path,omitempty"`
	Status  Status        `json:"status"`
	Message string        `json:"message"`
	Took    time.Duration `json:"took_ns,omitempty"`
}

// Report is everything validation found: Problems make the config invalid (schema,
// consistency, missing files); failed Checks make it unreachable.
type Report struct {
	Dir      string           `json:"dir,omitempty"`
	Problems []schema.Problem `json:"problems"`
	// Warnings are keys Wharf knows but does not honour, set to harmless values: one each,
	// saying what to do; they do not make the config invalid.
	Warnings []schema.Problem `json:"warnings"`
	Checks   []Result         `json:"checks"`
	// Config is the parsed config (nil when it did not parse).
	Config *schema.Config `json:"-"`
}

// Exit codes of `wharf config validate`.
const (
	ExitValid       = 0 // valid, and everything it names answered (or --offline)
	ExitError       = 1 // the tool could not run (unreadable directory, bad flags)
	ExitInvalid     = 2 // the config itself is wrong: Problems
	ExitUnreachable = 3 // the config is valid but something it names failed a check
)

// Valid reports whether the config has no problems.
func (r *Report) Valid() bool { return len(r.Problems) == 0 }

// Reachable reports whether no check failed.
func (r *Report) Reachable() bool {
	for _, c := range r.Checks {
		if c.Status == StatusFailed {
			return false
		}
	}
	return true
}

// ExitCode is the exit code that tells valid, invalid and unreachable apart.
func (r *Report) ExitCode() int {
	switch {
	case !r.Valid():
		return ExitInvalid
	case !r.Reachable():
		return ExitUnreachable
	}
	return ExitValid
}

// ProblemsIn returns the problems whose key belongs to a field group.
func (r *Report) ProblemsIn(group string) []schema.Problem {
	var out []schema.Problem
	for _, p := range r.Problems {
		if GroupOf(p.Path) == group {
			out = append(out, p)
		}
	}
	return out
}

// GroupOf names the field group a key path belongs to ("" for none): the group the schema
// gives the key, with the schema's later-feature groups (mirroring, builds, other) shown
// among the features; keys the schema does not know are grouped by their names.
func GroupOf(path string) string {
	switch g := schema.GroupOf(path); g {
	case "":
	case "mirroring", "builds", "other":
		return GroupFeatures
	default:
		return g
	}
	key, _, _ := strings.Cut(path, "/")
	switch {
	case key == "SERVER_HOSTNAME" || key == "PREFERRED_URL_SCHEME" || key == "EXTERNAL_TLS_TERMINATION" ||
		strings.HasPrefix(key, "ACME_") || key == "FEATURE_ACME_TLS" || key == CertFile || key == KeyFile ||
		key == ExtraCADir || strings.HasPrefix(key, "REGISTRY_TITLE") || strings.HasPrefix(key, "SSL_"):
		return GroupServer
	case strings.HasPrefix(key, "DB_"):
		return GroupDatabase
	case strings.HasSuffix(key, "_REDIS"):
		return GroupRedis
	case strings.HasPrefix(key, "DISTRIBUTED_STORAGE") || key == "MAXIMUM_LAYER_SIZE" || key == "FEATURE_PROXY_STORAGE" ||
		strings.HasPrefix(key, "FEATURE_STORAGE_"):
		return GroupStorage
	case key == "AUTHENTICATION_TYPE" || strings.HasPrefix(key, "LDAP_") || strings.HasSuffix(key, "_LOGIN_CONFIG") ||
		key == "FEATURE_TEAM_SYNCING" || key == "TEAM_RESYNC_STALE_TIME":
		return GroupAuth
	case key == "FEATURE_MAILING" || strings.HasPrefix(key, "MAIL_"):
		return GroupMail
	case key == "FEATURE_SECURITY_SCANNER" || strings.HasPrefix(key, "SECURITY_SCANNER"):
		return GroupScanner
	case key == "":
		return ""
	}
	return GroupFeatures
}

// Options tune Validate.
type Options struct {
	// Offline skips the reachability checks.
	Offline bool
	// Groups limits the reachability checks to these field groups (all when empty); the
	// wizard checks one step at a time.
	Groups []string
	// Timeout bounds each check (default 10s).
	Timeout time.Duration
	// DataDir is the data directory `wharf serve --data-dir` would use: relative LocalStorage
	// paths and the embedded SQLite database live there. Empty means the current directory.
	DataDir string
	// Progress, when set, is called before each field group's checks run, so that a caller
	// can show what is being waited for.
	Progress func(group string)
}

// Check is one field group's reachability check. It adds results to the report; it must
// not change anything outside what it creates and removes again (a probe object in
// storage, for instance).
type Check struct {
	Group string
	// Local marks a check that reads only the config directory (no network): it runs under
	// Options.Offline too.
	Local bool
	Run   func(ctx context.Context, env *Env) []Result
}

// Env is what a check sees: the parsed config, the source it came from, and the timeout for
// each network step.
type Env struct {
	Config  *schema.Config
	Source  Source
	Timeout time.Duration
	// DataDir is Options.DataDir.
	DataDir string
}

// checks are the reachability checks, in the order of Groups; each file checks_*.go adds its own.
var checks []Check

// Validate parses the source's config.yaml through schema.Parse (the path `wharf serve`
// takes), adds what the schema cannot express, and then, unless offline, runs the
// reachability checks of the field groups asked for (offline, only the checks that read
// nothing but the config directory, such as the TLS certificate's).
func Validate(ctx context.Context, src Source, opts Options) (*Report, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	rep := &Report{Dir: src.Dir, Problems: []schema.Problem{}, Warnings: []schema.Problem{}, Checks: []Result{}}
	data := src.Config()
	if data == nil {
		rep.Problems = append(rep.Problems, schema.Problem{Message: "no " + ConfigFile})
		return rep, nil
	}
	cfg, err := schema.Parse(ConfigFile, data)
	var invalid *schema.InvalidError
	switch {
	case errors.As(err, &invalid):
		rep.Problems = append(rep.Problems, invalid.Problems...)
		rep.Warnings = append(rep.Warnings, invalid.Warnings...)
		return rep, nil
	case err != nil:
		return nil, err
	}
	rep.Config = cfg
	rep.Warnings = append(rep.Warnings, cfg.Warnings...)
	rep.Problems = append(rep.Problems, consistency(cfg, src)...)
	if !rep.Valid() {
		return rep, nil
	}
	env := &Env{Config: cfg, Source: src, Timeout: opts.Timeout, DataDir: opts.DataDir}
	for _, c := range checks {
		if len(opts.Groups) > 0 && !contains(opts.Groups, c.Group) || opts.Offline && !c.Local {
			continue
		}
		if opts.Progress != nil {
			opts.Progress(c.Group)
		}
		rep.Checks = append(rep.Checks, c.Run(ctx, env)...)
	}
	sort.SliceStable(rep.Checks, func(i, j int) bool { return groupIndex(rep.Checks[i].Group) < groupIndex(rep.Checks[j].Group) })
	return rep, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func groupIndex(g string) int {
	for i, v := range Groups {
		if v == g {
			return i
		}
	}
	return len(Groups)
}

// consistency finds what the schema cannot express about the config and its files: features
// whose settings are missing, files the config names that are not there. (Storage locations
// are checked by schema.Parse, as `wharf serve` needs them too.)
func consistency(cfg *schema.Config, src Source) []schema.Problem {
	var out []schema.Problem
	for _, c := range consistencyChecks {
		out = append(out, c(cfg, src)...)
	}
	return out
}

// consistencyChecks are the offline checks beyond the schema; files checks_*.go add theirs.
var consistencyChecks []func(cfg *schema.Config, src Source) []schema.Problem
