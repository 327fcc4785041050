package schema

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Key describes one key of config.yaml, or one field of a key's object, as the schema
// defines it. The docs are generated from these; the config tool and the wizard may use them
// too.
type Key struct {
	// Name is the key (SERVER_HOSTNAME); for a family of keys, a placeholder
	// (NAME_LOGIN_CONFIG) and Pattern is the regular expression their names match.
	Name    string
	Pattern string
	// Group is the field group (one of Groups); empty for fields of a key.
	Group string
	// Honoured is false for keys Quay knows that Wharf ignores or refuses; Note then says
	// what Wharf does instead.
	Honoured bool
	Note     string
	// Do is what to do instead when the value asks for something Wharf cannot do ("" means
	// remove the key).
	Do string
	// WarningOnly is set when setting the key is never more than a warning; otherwise it is
	// a warning only for the Harmless values (and null or empty ones).
	WarningOnly bool
	Harmless    []any
	Description string
	// Type is the value's type in words: boolean, string, integer, duration, size, ...
	Type       string
	Default    any // a JSON value; meaningful when HasDefault
	HasDefault bool
	// Enum lists the allowed values, ValuePattern the regular expression string values must
	// match, Constraints further limits in words ("at least 1").
	Enum         []any
	ValuePattern string
	Constraints  []string
	// ActiveWhen names the keys (and their values) under which Quay gives this key effect.
	ActiveWhen map[string][]any
	// Fields are the fields of an object value, by name.
	Fields []Key
}

// Keys returns every top-level key the schema defines, in the order of Groups and by name
// within a group.
func Keys() ([]Key, error) {
	root, err := rawSchema()
	if err != nil {
		return nil, err
	}
	var out []Key
	props, _ := root["properties"].(map[string]any)
	for name, n := range props {
		node, _ := n.(map[string]any)
		out = append(out, describe(root, name, node, true))
	}
	pats, _ := root["patternProperties"].(map[string]any)
	for pat, n := range pats {
		node, _ := n.(map[string]any)
		k := describe(root, pat, node, true)
		k.Pattern = pat
		if a := annotationOf(node); a != nil && a.Name != "" {
			k.Name = a.Name
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		gi, gj := groupIndex(out[i].Group), groupIndex(out[j].Group)
		if gi != gj {
			return gi < gj
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Lookup returns the schema's description of a top-level key (a key matching a pattern
// gives the pattern's description).
func Lookup(key string) (Key, bool) {
	root, err := rawSchema()
	if err != nil {
		return Key{}, false
	}
	node, ok := topLevelNode(root, key)
	if !ok {
		return Key{}, false
	}
	k := describe(root, key, node, true)
	return k, true
}

// GroupOf names the field group of a key path's top-level key (e.g. REPO_MIRROR_INTERVAL is
// mirroring, DISTRIBUTED_STORAGE_CONFIG/default/1/s3_bucket is storage), as the schema's
// x-wharf annotations say; the files beside config.yaml (ssl.cert, ssl.key,
// extra_ca_certs/...) are server. It returns "" for keys the schema does not know.
func GroupOf(path string) string {
	key, _, _ := strings.Cut(path, "/")
	switch key {
	case "ssl.cert", "ssl.key", "extra_ca_certs":
		return "server"
	}
	root, err := rawSchema()
	if err != nil {
		return ""
	}
	node, ok := topLevelNode(root, key)
	if !ok {
		return ""
	}
	if a := annotationOf(node); a != nil {
		return a.Group
	}
	return ""
}

func groupIndex(g string) int {
	for i, v := range Groups {
		if v == g {
			return i
		}
	}
	return len(Groups)
}

var patternRegexps = sync.OnceValue(func() map[string]*regexp.Regexp {
	out := map[string]*regexp.Regexp{}
	root, err := rawSchema()
	if err != nil {
		return out
	}
	pats, _ := root["patternProperties"].(map[string]any)
	for p := range pats {
		if re, err := regexp.Compile(p); err == nil {
			out[p] = re
		}
	}
	return out
})

// topLevelNode returns the schema node of a top-level key: its property, or the pattern
// property its name matches.
func topLevelNode(root map[string]any, key string) (map[string]any, bool) {
	if props, ok := root["properties"].(map[string]any); ok {
		if n, ok := props[key].(map[string]any); ok {
			return n, true
		}
	}
	pats, _ := root["patternProperties"].(map[string]any)
	for p, re := range patternRegexps() {
		if re.MatchString(key) {
			n, ok := pats[p].(map[string]any)
			return n, ok
		}
	}
	return nil, false
}

// resolve merges a node's $ref target under the node's own keywords.
func resolve(root, node map[string]any) map[string]any {
	ref, ok := node["$ref"].(string)
	if !ok {
		return node
	}
	target, ok := nodeAt(root, ref)
	if !ok {
		return node
	}
	out := map[string]any{"x-ref": strings.TrimPrefix(ref, "#/$defs/")}
	for k, v := range resolve(root, target) {
		out[k] = v
	}
	for k, v := range node {
		if k != "$ref" {
			out[k] = v
		}
	}
	return out
}

// describe turns a schema node into a Key; fields recurse one level into objects.
func describe(root map[string]any, name string, node map[string]any, fields bool) Key {
	a := annotationOf(node)
	n := resolve(root, node)
	k := Key{Name: name, Honoured: a.honoured()}
	if a != nil {
		k.Group, k.Note, k.Do, k.ActiveWhen = a.Group, a.Note, a.Do, a.ActiveWhen
		k.WarningOnly = a.Severity == "warning"
	}
	k.Description, _ = n["description"].(string)
	k.Default, k.HasDefault = n["default"]
	if !k.Honoured && !k.WarningOnly {
		k.Harmless = a.Harmless
		if k.Harmless == nil && k.HasDefault {
			k.Harmless = []any{k.Default}
		}
		// Empty values are always harmless; the docs say so once.
		var vals []any
		for _, v := range k.Harmless {
			if !harmless(v, &annotation{Harmless: []any{}}, nil, false) {
				vals = append(vals, v)
			}
		}
		k.Harmless = vals
	}
	k.Type = typeText(root, n)
	if e, ok := n["enum"].([]any); ok {
		k.Enum = e
	}
	k.ValuePattern, _ = n["pattern"].(string)
	if items, ok := n["items"].(map[string]any); ok && k.ValuePattern == "" {
		k.ValuePattern, _ = resolve(root, items)["pattern"].(string)
	}
	for _, c := range []struct{ kw, text string }{
		{"minimum", "at least %s"}, {"maximum", "at most %s"}, {"exclusiveMinimum", "more than %s"},
		{"minLength", "length at least %s"}, {"minItems", "entries at least %s"}, {"maxItems", "entries at most %s"},
		{"minProperties", "entries at least %s"},
	} {
		if v, ok := n[c.kw].(json.Number); ok {
			k.Constraints = append(k.Constraints, fmt.Sprintf(c.text, v))
		}
	}
	if req, ok := n["required"].([]any); ok && len(req) > 0 {
		k.Constraints = append(k.Constraints, "requires "+joinValues(req))
	}
	if then, ok := n["then"].(map[string]any); ok {
		if req, ok := then["required"].([]any); ok && len(req) > 0 {
			k.Constraints = append(k.Constraints, "when not empty, requires "+joinValues(req))
		}
	}
	if fields {
		if props, ok := n["properties"].(map[string]any); ok {
			names := make([]string, 0, len(props))
			for p := range props {
				names = append(names, p)
			}
			sort.Strings(names)
			for _, p := range names {
				child, _ := props[p].(map[string]any)
				k.Fields = append(k.Fields, describe(root, p, child, false))
			}
		}
	}
	return k
}

func joinValues(vs []any) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ", ")
}

// typeText names a (resolved) node's type in words.
func typeText(root, n map[string]any) string {
	switch n["x-ref"] {
	case "duration":
		return "duration"
	case "size":
		return "size"
	case "hostport":
		return "host[:port]"
	case "storageLocation":
		return "[driver, {parameters}]"
	}
	if _, ok := n["enum"]; ok {
		return "enum"
	}
	if alts, ok := n["anyOf"].([]any); ok {
		var parts []string
		for _, s := range alts {
			if m, ok := s.(map[string]any); ok {
				parts = append(parts, typeText(root, resolve(root, m)))
			}
		}
		return strings.Join(parts, " or ")
	}
	var types []string
	switch t := n["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			types = append(types, fmt.Sprint(x))
		}
	}
	for i, t := range types {
		switch t {
		case "array":
			if items, ok := n["items"].(map[string]any); ok {
				types[i] = "list of " + typeText(root, resolve(root, items))
			} else {
				types[i] = "list"
			}
		case "object":
			if ap, ok := n["additionalProperties"].(map[string]any); ok {
				types[i] = "map of name to " + typeText(root, resolve(root, ap))
			}
		}
	}
	if len(types) == 0 {
		return "any"
	}
	return strings.Join(types, " or ")
}
