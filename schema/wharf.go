package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// The x-wharf annotation
//
// Every top-level key of config.schema.json carries "x-wharf": {"group": ...}. Keys (and
// nested fields) that Quay knows but Wharf does not honour also say "honoured": false and a
// "note" telling what Wharf does instead; validation then reports one message per such key
// that a file sets: a warning when the value is harmless, an error when it asks for
// something Wharf cannot do. Any node may give a "hint" (and "value_hints" by value) that is
// added to the schema's own error messages for that node.
//
// An x-wharf with "honoured": false is compiled into a keyword that always fails, which is
// how the validator reports where such a key is set. It must therefore never sit where a
// failure changes the outcome of validation: not under "if", "not", "anyOf", "oneOf",
// "contains" or "dependentSchemas" (a test checks).

const wharfKeyword = "x-wharf"

// Groups are the field groups of config.yaml, in the order the docs and the wizard walk them.
// The first eight are the config tool's; mirroring, builds and other hold the keys of later
// features and Quay's internal settings.
var Groups = []string{"server", "database", "redis", "storage", "auth", "features", "mail", "scanner", "mirroring", "builds", "other"}

// annotation is one x-wharf annotation.
type annotation struct {
	Group      string            `json:"group,omitempty"`
	Honoured   *bool             `json:"honoured,omitempty"`
	Note       string            `json:"note,omitempty"`
	Harmless   []any             `json:"harmless,omitempty"`
	Severity   string            `json:"severity,omitempty"`
	ActiveWhen map[string][]any  `json:"active_when,omitempty"`
	Do         string            `json:"do,omitempty"`
	Hint       string            `json:"hint,omitempty"`
	ValueHints map[string]string `json:"value_hints,omitempty"`
	Name       string            `json:"name,omitempty"`
}

func (a *annotation) honoured() bool { return a == nil || a.Honoured == nil || *a.Honoured }

// annotationMeta checks the shape of every x-wharf annotation when the schema is compiled.
var annotationMeta = jsonschema.MustCompileString("x-wharf-meta.json", `{
  "properties": {
    "x-wharf": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "group": {"enum": ["server", "database", "redis", "storage", "auth", "features", "mail", "scanner", "mirroring", "builds", "other"]},
        "honoured": {"type": "boolean"},
        "note": {"type": "string", "minLength": 1},
        "harmless": {"type": "array"},
        "severity": {"enum": ["warning"]},
        "active_when": {"type": "object", "additionalProperties": {"type": "array", "minItems": 1}},
        "do": {"type": "string", "minLength": 1},
        "hint": {"type": "string", "minLength": 1},
        "value_hints": {"type": "object", "additionalProperties": {"type": "string"}},
        "name": {"type": "string"}
      },
      "if": {"properties": {"honoured": {"const": false}}, "required": ["honoured"]},
      "then": {"required": ["note"]}
    }
  }
}`)

// wharfCompiler compiles x-wharf annotations with "honoured": false into notHonoured.
type wharfCompiler struct{}

// notHonoured marks where a file sets a key Wharf does not honour.
type notHonoured struct{}

func (wharfCompiler) Compile(_ jsonschema.CompilerContext, m map[string]any) (jsonschema.ExtSchema, error) {
	raw, ok := m[wharfKeyword]
	if !ok {
		return nil, nil
	}
	a, err := decodeAnnotation(raw)
	if err != nil {
		return nil, err
	}
	if a.honoured() {
		return nil, nil
	}
	return notHonoured{}, nil
}

// Validate always fails: the failure's location says where the key is set; validate turns it
// into a warning or an error.
func (notHonoured) Validate(ctx jsonschema.ValidationContext, _ any) error {
	return ctx.Error(wharfKeyword, "not honoured by Wharf")
}

func decodeAnnotation(raw any) (*annotation, error) {
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("x-wharf: %w", err)
	}
	var a annotation
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("x-wharf: %w", err)
	}
	return &a, nil
}

// rawSchema is config.schema.json as JSON values (numbers as json.Number), for annotations,
// defaults and docs.
var rawSchema = sync.OnceValues(func() (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(JSON))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("schema: read embedded schema: %w", err)
	}
	return m, nil
})

// nodeAt returns the schema node at a JSON pointer fragment (#/properties/A or /properties/A).
func nodeAt(root map[string]any, ptr string) (map[string]any, bool) {
	if i := strings.IndexByte(ptr, '#'); i >= 0 {
		// A location in a URL: its fragment is percent-encoded.
		frag, err := url.PathUnescape(ptr[i+1:])
		if err != nil {
			return nil, false
		}
		ptr = frag
	}
	var cur any = root
	if ptr != "" {
		for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
			tok = unescapePointer(tok)
			switch c := cur.(type) {
			case map[string]any:
				cur = c[tok]
			case []any:
				var i int
				if _, err := fmt.Sscanf(tok, "%d", &i); err != nil || i < 0 || i >= len(c) {
					return nil, false
				}
				cur = c[i]
			default:
				return nil, false
			}
		}
	}
	m, ok := cur.(map[string]any)
	return m, ok
}

// annotationOf returns a schema node's x-wharf annotation (nil when it has none).
func annotationOf(node map[string]any) *annotation {
	raw, ok := node[wharfKeyword]
	if !ok {
		return nil
	}
	a, err := decodeAnnotation(raw)
	if err != nil {
		return nil // the compiled schema has checked every annotation
	}
	return a
}

// valueAt returns the value at a JSON pointer in a document.
func valueAt(doc any, ptr string) (any, bool) {
	cur := doc
	if ptr == "" {
		return cur, true
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = unescapePointer(tok)
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			var i int
			if _, err := fmt.Sscanf(tok, "%d", &i); err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// notHonouredProblem turns a key Wharf does not honour into its one message, and says
// whether it is only a warning. node is the key's schema node; doc is the whole config, for
// the keys an annotation's active_when names.
func notHonouredProblem(node map[string]any, a *annotation, path string, line int, v any, doc map[string]any) (Problem, bool) {
	p := Problem{Path: path, Line: line}
	def, hasDef := node["default"]
	switch {
	case harmless(v, a, def, hasDef):
		p.Message = a.Note + "; this key is ignored - remove it"
		return p, true
	case !active(a, doc):
		p.Message = a.Note + "; it matters only when " + conditionText(a.ActiveWhen, false) + ", which this config does not set, so it is ignored - remove it"
		return p, true
	case a.Severity == "warning":
		p.Message = a.Note + "; this key is ignored - remove it"
		return p, true
	}
	todo := a.Do
	if todo == "" {
		todo = "remove the key"
		if alt := harmlessExample(a, def, hasDef); alt != "" {
			todo += " or set it to " + alt
		}
	}
	p.Message = a.Note + "; " + valueText(v) + " asks for what Wharf cannot do - " + todo
	return p, false
}

// harmless reports whether a value asks for nothing: unset, empty, the key's (Quay's)
// default, or one of the annotation's harmless values (which replace the default).
func harmless(v any, a *annotation, def any, hasDef bool) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		if x == "" {
			return true
		}
	case []any:
		if len(x) == 0 {
			return true
		}
	case map[string]any:
		if len(x) == 0 {
			return true
		}
	}
	if a.Harmless != nil {
		for _, h := range a.Harmless {
			if jsonEqual(v, h) {
				return true
			}
		}
		return false
	}
	return hasDef && jsonEqual(v, def)
}

// harmlessExample is a harmless scalar value to suggest ("" when there is none).
func harmlessExample(a *annotation, def any, hasDef bool) string {
	var cands []any
	cands = append(cands, a.Harmless...)
	if a.Harmless == nil && hasDef {
		cands = append(cands, def)
	}
	for _, c := range cands {
		switch c.(type) {
		case bool, string, json.Number:
			return valueText(c)
		}
	}
	return ""
}

// active reports whether the keys an annotation depends on have values under which the key
// takes effect (in Quay): their value in doc, or their schema default when doc leaves them
// out.
func active(a *annotation, doc map[string]any) bool {
	for key, want := range a.ActiveWhen {
		v, ok := doc[key]
		if !ok || v == nil {
			v = topLevelDefault(key)
		}
		found := false
		for _, w := range want {
			if jsonEqual(v, w) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func topLevelDefault(key string) any {
	root, err := rawSchema()
	if err != nil {
		return nil
	}
	node, ok := nodeAt(root, "/properties/"+escapePointer(key))
	if !ok {
		return nil
	}
	return node["default"]
}

// conditionText says when's keys have one of their values (or, negated, that they do not).
func conditionText(when map[string][]any, negated bool) string {
	is := " is "
	if negated {
		is = " is not "
	}
	keys := make([]string, 0, len(when))
	for k := range when {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		vals := make([]string, len(when[k]))
		for j, v := range when[k] {
			vals[j] = valueText(v)
		}
		if len(vals) == 1 {
			parts[i] = k + is + vals[0]
		} else {
			parts[i] = k + is + "one of " + strings.Join(vals, ", ")
		}
	}
	if negated {
		return strings.Join(parts, " or ")
	}
	return strings.Join(parts, " and ")
}

// valueText renders a value for a message: scalars as YAML would show them, structures as
// "this setting".
func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprint(x)
	case json.Number:
		return x.String()
	case string:
		if len(x) > 60 {
			x = x[:57] + "..."
		}
		return fmt.Sprintf("%q", x)
	}
	return "this setting"
}

// jsonEqual compares two JSON values, numbers by value.
func jsonEqual(a, b any) bool {
	return reflect.DeepEqual(normalizeJSON(a), normalizeJSON(b))
}

func normalizeJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if r, ok := new(big.Rat).SetString(x.String()); ok {
			return r.RatString()
		}
		return x.String()
	case float64:
		if r := new(big.Rat).SetFloat64(x); r != nil {
			return r.RatString()
		}
		return x
	case int:
		return big.NewRat(int64(x), 1).RatString()
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeJSON(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeJSON(e)
		}
		return out
	}
	return v
}

// hintFor returns what a schema node adds to the schema's error messages about a value there.
func hintFor(node map[string]any, v any) string {
	a := annotationOf(node)
	if a == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		if h, ok := a.ValueHints[s]; ok {
			return h
		}
	}
	return a.Hint
}
