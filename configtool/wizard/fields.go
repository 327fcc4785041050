package wizard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/wharf-registry/wharf/configtool"
	"github.com/wharf-registry/wharf/schema"
)

// node is the part of a JSON Schema node the wizard reads to build a form.
type node struct {
	Ref                  string            `json:"$ref"`
	Type                 json.RawMessage   `json:"type"`
	Enum                 []any             `json:"enum"`
	Const                any               `json:"const"`
	Description          string            `json:"description"`
	Default              json.RawMessage   `json:"default"`
	Minimum              *float64          `json:"minimum"`
	Maximum              *float64          `json:"maximum"`
	Properties           props             `json:"properties"`
	Required             []string          `json:"required"`
	Items                *node             `json:"items"`
	AdditionalProperties json.RawMessage   `json:"additionalProperties"`
	PrefixItems          []json.RawMessage `json:"prefixItems"` // nodes, or true
	PatternProperties    map[string]*node  `json:"patternProperties"`
	AllOf                []struct {
		If   *node `json:"if"`
		Then *node `json:"then"`
	} `json:"allOf"`
}

// props keeps an object's properties in the order the schema lists them, which is the order
// the wizard shows fields in and writes keys in.
type props struct {
	keys []string
	m    map[string]*node
}

func (p *props) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil { // {
		return err
	}
	p.m = map[string]*node{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var n node
		if err := dec.Decode(&n); err != nil {
			return fmt.Errorf("property %s: %w", key, err)
		}
		p.keys = append(p.keys, key)
		p.m[key] = &n
	}
	return nil
}

// prefixItem returns the i-th prefixItems node (nil when absent or not an object).
func (n *node) prefixItem(i int) *node {
	if n == nil || i >= len(n.PrefixItems) {
		return nil
	}
	var out node
	if json.Unmarshal(n.PrefixItems[i], &out) != nil {
		return nil
	}
	return &out
}

// additional returns the additionalProperties schema (nil when absent or a boolean).
func (n *node) additional() *node {
	var out node
	if len(n.AdditionalProperties) == 0 || json.Unmarshal(n.AdditionalProperties, &out) != nil {
		return nil
	}
	return &out
}

// types lists the node's JSON types ("type": "x" or "type": ["x", "y"]).
func (n *node) types() []string {
	var one string
	if json.Unmarshal(n.Type, &one) == nil && one != "" {
		return []string{one}
	}
	var many []string
	json.Unmarshal(n.Type, &many)
	return many
}

func (n *node) is(t string) bool {
	ts := n.types()
	return len(ts) == 1 && ts[0] == t
}

// doc is the schema document.
type doc struct {
	node
	Defs map[string]*node `json:"$defs"`
}

// resolve follows a $ref into $defs, keeping the referring node's description and default;
// format is the definition's own description (e.g. how to write a duration) when the
// referring node has a description of its own.
func (d *doc) resolve(n *node) (out *node, format string) {
	if n.Ref == "" {
		return n, ""
	}
	def := d.Defs[strings.TrimPrefix(n.Ref, "#/$defs/")]
	if def == nil {
		return n, ""
	}
	merged := *def
	if n.Description != "" {
		merged.Description = n.Description
		format = def.Description
	}
	if len(n.Default) > 0 {
		merged.Default = n.Default
	}
	return &merged, format
}

// Field kinds: how a value is entered.
const (
	kindText     = "text"     // a string
	kindSecret   = "password" // a string shown as dots
	kindBool     = "checkbox" // a boolean
	kindTriBool  = "tribool"  // a boolean without a default: default, yes, no
	kindEnum     = "select"   // one of a list
	kindInt      = "integer"  // a whole number
	kindNumber   = "number"   // a number
	kindIntOrStr = "port"     // a number or a string (storage ports)
	kindList     = "list"     // a list of strings, one per line
	kindYAML     = "yaml"     // anything else, as YAML
	kindObject   = "object"   // an object with fixed properties: a field each
	kindStorage  = "storage"  // DISTRIBUTED_STORAGE_CONFIG
	kindFile     = "file"     // ssl.cert, ssl.key
	kindCAFiles  = "cafiles"  // extra_ca_certs/
	kindLogin    = "login"    // the *_LOGIN_CONFIG keys, as YAML
	kindOther    = "other"    // keys the schema does not know, as YAML
)

// field is one thing the wizard asks for: a config key (or a key inside an object), or a
// file beside config.yaml.
type field struct {
	Path     string // key path: SERVER_HOSTNAME, BUILDLOGS_REDIS/host
	Key      string // last component of Path
	Help     string // the schema's description
	Format   string // how to write the value, when the type says more than the description
	Kind     string
	Enum     []string
	Default  any // JSON-shaped; nil when the schema gives none
	HasDef   bool
	Min, Max *float64
	Required bool
	Children []*field
}

// storageDriver is one DISTRIBUTED_STORAGE_CONFIG driver and its parameters.
type storageDriver struct {
	Name   string
	Params []*field // Path is the parameter name
}

// catalog is everything the wizard knows from the schema.
type catalog struct {
	fields      map[string][]*field // by group, in schema order
	order       []string            // top-level keys in schema order
	known       map[string]bool     // top-level keys
	drivers     []storageDriver
	storageHelp string
}

var (
	catalogOnce sync.Once
	theCatalog  *catalog
	catalogErr  error
	loginKey    = regexp.MustCompile(`^[A-Z0-9_]+_LOGIN_CONFIG$`)
	secretName  = regexp.MustCompile(`(?i)(secret|passw|psk)`)
)

// schemaCatalog reads the embedded schema once.
func schemaCatalog() (*catalog, error) {
	catalogOnce.Do(func() { theCatalog, catalogErr = buildCatalog(schema.JSON) })
	return theCatalog, catalogErr
}

func buildCatalog(raw []byte) (*catalog, error) {
	var d doc
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("wizard: read the config schema: %w", err)
	}
	c := &catalog{fields: map[string][]*field{}, known: map[string]bool{}}
	for _, key := range d.Properties.keys {
		if k, ok := schema.Lookup(key); ok && !k.Honoured {
			// Quay keys Wharf does not honour get no field: one found in a config that is
			// being edited shows among the other keys, with the schema's message.
			continue
		}
		f, err := d.field(key, key, d.Properties.m[key], false)
		if err != nil {
			return nil, err
		}
		c.order = append(c.order, key)
		c.known[key] = true
		g := configtool.GroupOf(key)
		c.fields[g] = append(c.fields[g], f)
		if f.Kind == kindStorage {
			c.storageHelp = f.Help
		}
	}
	drivers, err := d.storageDrivers()
	if err != nil {
		return nil, err
	}
	c.drivers = drivers
	// Fields that are not keys of their own: the files of the server step, the login
	// providers of the auth step, and keys the schema does not know (so they can be removed).
	c.fields[configtool.GroupServer] = append(c.fields[configtool.GroupServer],
		&field{Path: configtool.CertFile, Key: configtool.CertFile, Kind: kindFile,
			Help: "The TLS certificate (PEM) for SERVER_HOSTNAME, with its chain. With ssl.cert and ssl.key present and PREFERRED_URL_SCHEME https, Wharf serves HTTPS itself."},
		&field{Path: configtool.KeyFile, Key: configtool.KeyFile, Kind: kindFile,
			Help: "The private key (PEM) of ssl.cert. It is never shown again once uploaded."},
		&field{Path: configtool.ExtraCADir, Key: configtool.ExtraCADir + "/", Kind: kindCAFiles,
			Help: "Extra CA certificates (PEM) Wharf trusts when it connects to the database, storage, LDAP, OIDC providers, the mail server or the scanner."})
	loginHelp := "OpenID Connect providers for logging in to the web UI, as YAML: each key ends in _LOGIN_CONFIG (e.g. OIDC_LOGIN_CONFIG) and holds CLIENT_ID, CLIENT_SECRET and OIDC_SERVER."
	if lc := d.loginSchema(); lc != nil {
		loginHelp = lc.Description + " As YAML: each key ends in _LOGIN_CONFIG (e.g. OIDC_LOGIN_CONFIG) and holds " + strings.Join(lc.Required, ", ") + "."
	}
	c.fields[configtool.GroupAuth] = append(c.fields[configtool.GroupAuth],
		&field{Path: "*_LOGIN_CONFIG", Key: "*_LOGIN_CONFIG", Kind: kindLogin, Help: loginHelp})
	c.fields[configtool.GroupFeatures] = append(c.fields[configtool.GroupFeatures],
		&field{Path: "(other keys)", Key: "Other keys", Kind: kindOther,
			Help: "Keys in the config that Wharf does not honour (Quay keys for features Wharf lacks) or does not know, as YAML. The checks say, for each, whether Wharf ignores it or refuses to start: remove them or correct their spelling."})
	return c, nil
}

// loginSchema returns the schema of *_LOGIN_CONFIG values.
func (d *doc) loginSchema() *node {
	for pat, n := range d.PatternProperties {
		if strings.Contains(pat, "_LOGIN_CONFIG") {
			return n
		}
	}
	return nil
}

// field turns a schema node into a field.
func (d *doc) field(path, key string, n *node, required bool) (*field, error) {
	n, format := d.resolve(n)
	f := &field{Path: path, Key: key, Help: n.Description, Format: format, Min: n.Minimum, Max: n.Maximum, Required: required}
	if len(n.Default) > 0 {
		if err := json.Unmarshal(n.Default, &f.Default); err != nil {
			return nil, fmt.Errorf("wizard: default of %s: %w", path, err)
		}
		f.HasDef = true
	}
	switch {
	case len(n.Enum) > 0:
		f.Kind = kindEnum
		for _, v := range n.Enum {
			f.Enum = append(f.Enum, fmt.Sprint(v))
		}
	case n.is("boolean"):
		f.Kind = kindBool
		if !f.HasDef {
			f.Kind = kindTriBool
		}
	case n.is("integer"):
		f.Kind = kindInt
	case n.is("number"):
		f.Kind = kindNumber
	case n.is("string"):
		f.Kind = kindText
		if secretName.MatchString(key) {
			f.Kind = kindSecret
		}
	case n.is("array"):
		f.Kind = kindYAML
		if n.Items != nil {
			items, _ := d.resolve(n.Items)
			if items.is("string") && len(items.Enum) == 0 {
				f.Kind = kindList
			}
		}
	case n.is("object") && n.additional() != nil && n.additional().Ref == "#/$defs/storageLocation":
		f.Kind = kindStorage
	case n.is("object") && len(n.Properties.keys) > 0 && strings.TrimSpace(string(n.AdditionalProperties)) == "false":
		f.Kind = kindObject
		for _, sub := range n.Properties.keys {
			child, err := d.field(path+"/"+sub, sub, n.Properties.m[sub], contains(n.Required, sub))
			if err != nil {
				return nil, err
			}
			f.Children = append(f.Children, child)
		}
	case len(n.types()) == 2 && contains(n.types(), "integer") && contains(n.types(), "string"):
		f.Kind = kindIntOrStr
	default:
		f.Kind = kindYAML
	}
	return f, nil
}

// storageDrivers reads the drivers of a storage location and each driver's parameters from
// the schema's storageLocation definition (its allOf: if the driver is X then the parameters
// are $defs/x).
func (d *doc) storageDrivers() ([]storageDriver, error) {
	loc := d.Defs["storageLocation"]
	first := loc.prefixItem(0)
	if first == nil || len(first.Enum) == 0 {
		return nil, fmt.Errorf("wizard: the config schema has no storageLocation definition")
	}
	var out []storageDriver
	for _, v := range first.Enum {
		name := fmt.Sprint(v)
		drv := storageDriver{Name: name}
		for _, branch := range loc.AllOf {
			cond, then := branch.If.prefixItem(0), branch.Then.prefixItem(1)
			if cond == nil || then == nil || !namesDriver(cond, name) {
				continue
			}
			params, _ := d.resolve(then)
			for _, p := range params.Properties.keys {
				f, err := d.field(p, p, params.Properties.m[p], contains(params.Required, p))
				if err != nil {
					return nil, err
				}
				drv.Params = append(drv.Params, f)
			}
		}
		out = append(out, drv)
	}
	return out, nil
}

// namesDriver reports whether a storage location branch's condition selects the driver name:
// by const, or among an enum of names for one parameter set (RadosGWStorage, RHOCSStorage, ...).
func namesDriver(cond *node, name string) bool {
	if cond.Const != nil && fmt.Sprint(cond.Const) == name {
		return true
	}
	for _, v := range cond.Enum {
		if fmt.Sprint(v) == name {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
