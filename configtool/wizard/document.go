package wizard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/wharf-registry/wharf/configtool"
)

// A document is config.yaml as JSON-shaped values (map[string]any, []any, string, bool,
// json.Number), holding only the keys the config sets: what is absent takes the schema's
// default, exactly as `wharf serve` reads it.

// parseDocument reads config.yaml into a document.
func parseDocument(data []byte) (map[string]any, error) {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("config.yaml is not valid YAML: %w", err)
	}
	if v == nil {
		return map[string]any{}, nil
	}
	norm, err := normalize(v)
	if err != nil {
		return nil, fmt.Errorf("config.yaml: %w", err)
	}
	m, ok := norm.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("config.yaml must be a mapping of keys to values, not a %T", v)
	}
	return m, nil
}

// parseYAMLValue reads what a person typed into a YAML field.
func parseYAMLValue(text string) (any, error) {
	var v any
	if err := yaml.Unmarshal([]byte(text), &v); err != nil {
		return nil, fmt.Errorf("not valid YAML: %v", bytes.TrimPrefix([]byte(err.Error()), []byte("yaml: ")))
	}
	return normalize(v)
}

// normalize turns what yaml.v3 decodes into JSON-shaped values.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case map[any]any:
		return nil, fmt.Errorf("keys must be plain strings")
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case int:
		return json.Number(strconv.Itoa(x)), nil
	case int64:
		return json.Number(strconv.FormatInt(x, 10)), nil
	case uint64:
		return json.Number(strconv.FormatUint(x, 10)), nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fmt.Errorf("%v is not a number a config can hold", x)
		}
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64)), nil
	case string, bool, nil, json.Number:
		return x, nil
	}
	return fmt.Sprint(v), nil
}

// yamlValue turns a JSON-shaped value into what yaml.v3 encodes as the same YAML type
// (json.Number would otherwise become a quoted string).
func yamlValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = yamlValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = yamlValue(e)
		}
		return out
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	}
	return v
}

// marshalDocument writes a document as config.yaml: the keys in the schema's order (the order
// the wizard's steps walk), then the login providers and any unknown keys by name.
func marshalDocument(d map[string]any, order []string) ([]byte, error) {
	root := &yaml.Node{Kind: yaml.MappingNode}
	seen := map[string]bool{}
	add := func(k string) error {
		v, ok := d[k]
		if !ok || seen[k] {
			return nil
		}
		seen[k] = true
		var val yaml.Node
		if err := val.Encode(yamlValue(v)); err != nil {
			return fmt.Errorf("write %s: %w", k, err)
		}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &val)
		return nil
	}
	for _, k := range order {
		if err := add(k); err != nil {
			return nil, err
		}
	}
	rest := make([]string, 0, len(d))
	for k := range d {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		if err := add(k); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	buf.WriteString("# Wharf config.yaml, written by `wharf config wizard`. Keys left out take their defaults.\n")
	if len(root.Content) == 0 {
		buf.WriteString("{}\n")
		return buf.Bytes(), nil
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("write config.yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("write config.yaml: %w", err)
	}
	return buf.Bytes(), nil
}

// toYAML renders a value for a YAML text area ("" for nil).
func toYAML(v any) string {
	if v == nil {
		return ""
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(yamlValue(v)); err != nil {
		return fmt.Sprint(v)
	}
	enc.Close()
	return buf.String()
}

// sameValue reports whether two JSON-shaped values are equal (numbers by value).
func sameValue(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// lookup returns the value at a key path in a document.
func lookup(d map[string]any, path ...string) (any, bool) {
	var cur any = d
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// assign sets key in m to v following the wizard's rule: a nil v removes the key; a value
// equal to the default is written only if the config already set the key; anything else is
// written.
func assign(m map[string]any, key string, v any, f *field) {
	if v == nil {
		delete(m, key)
		return
	}
	if _, was := m[key]; !was && f != nil && f.HasDef && sameValue(v, f.Default) {
		return
	}
	m[key] = v
}

// cloneValue deep-copies a JSON-shaped value.
func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = cloneValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneValue(e)
		}
		return out
	}
	return v
}

// buildSource makes the configtool.Source the session describes: config.yaml from the
// document, and the files beside it.
func buildSource(dir string, d map[string]any, files map[string][]byte, order []string) (configtool.Source, error) {
	cfg, err := marshalDocument(d, order)
	if err != nil {
		return configtool.Source{}, err
	}
	src := configtool.Source{Dir: dir, Files: map[string][]byte{configtool.ConfigFile: cfg}}
	for name, b := range files {
		if name != configtool.ConfigFile {
			src.Files[name] = b
		}
	}
	return src, nil
}
