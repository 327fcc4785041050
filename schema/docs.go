package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// DocsPath is where the generated reference lives, relative to the repository root.
const DocsPath = "docs/config.md"

// groupDoc is one entry of the schema's x-wharf-groups.
type groupDoc struct {
	Name        string `json:"name"`
	Title       string `json:"title"`
	Description string `json:"description"`
}

// Markdown renders the config.yaml reference (docs/config.md) from the schema alone: the
// schema's introduction, then each field group with the keys Wharf honours (type, default,
// allowed values, description, fields) and the Quay keys it does not (with what Wharf does
// instead), then the storage drivers. The output is deterministic.
func Markdown() ([]byte, error) {
	root, err := rawSchema()
	if err != nil {
		return nil, err
	}
	var meta struct {
		Title  string     `json:"title"`
		Doc    []string   `json:"x-wharf-doc"`
		Groups []groupDoc `json:"x-wharf-groups"`
	}
	if err := json.Unmarshal(JSON, &meta); err != nil {
		return nil, fmt.Errorf("schema: read doc annotations: %w", err)
	}
	keys, err := Keys()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# %s reference\n\n", meta.Title)
	w("<!-- Generated from schema/config.schema.json by `make docs`. Do not edit: change the schema and run `make docs`. -->\n\n")
	for _, p := range meta.Doc {
		w("%s\n\n", p)
	}
	w("## Contents\n\n")
	for _, g := range meta.Groups {
		honoured, other := countKeys(keys, g.Name)
		w("- [%s](#%s): %s Wharf honours, %s of Quay's it does not\n", g.Title, anchor(g.Title), plural(honoured, "key"), plural(other, "key"))
	}
	w("- [Storage drivers](#storage-drivers)\n\n")
	for _, g := range meta.Groups {
		w("## %s\n\n%s Field group `%s`.\n\n", g.Title, g.Description, g.Name)
		var honoured, other []Key
		for _, k := range keys {
			if k.Group != g.Name {
				continue
			}
			if k.Honoured {
				honoured = append(honoured, k)
			} else {
				other = append(other, k)
			}
		}
		if len(honoured) > 0 {
			w("### %s: keys Wharf honours\n\n", g.Title)
			for _, k := range honoured {
				writeKey(&b, k)
			}
		}
		if len(other) > 0 {
			w("### %s: Quay keys Wharf does not honour\n\n", g.Title)
			w("| Key | Type | Quay's default | What Wharf does |\n|---|---|---|---|\n")
			for _, k := range other {
				typ := k.Type
				if len(k.Fields) > 0 {
					names := make([]string, len(k.Fields))
					for i, f := range k.Fields {
						names[i] = code(f.Name)
					}
					typ += " (" + strings.Join(names, ", ") + ")"
				}
				w("| `%s` | %s | %s | %s |\n", k.Name, cell(typ), cell(defaultText(k)), cell(notHonouredText(k)))
			}
			w("\n")
		}
	}
	if err := writeDrivers(&b, root); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func countKeys(keys []Key, group string) (honoured, other int) {
	for _, k := range keys {
		if k.Group != group {
			continue
		}
		if k.Honoured {
			honoured++
		} else {
			other++
		}
	}
	return honoured, other
}

// anchor is the heading anchor GitHub makes of a title.
func anchor(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// writeKey writes the section of a key Wharf honours.
func writeKey(b *bytes.Buffer, k Key) {
	fmt.Fprintf(b, "#### `%s`\n\n", k.Name)
	if k.Description != "" {
		fmt.Fprintf(b, "%s\n\n", k.Description)
	}
	if k.Pattern != "" {
		fmt.Fprintf(b, "- Key names match: %s\n", code(k.Pattern))
	}
	fmt.Fprintf(b, "- Type: %s\n", k.Type)
	if k.HasDefault {
		fmt.Fprintf(b, "- Default: %s\n", code(jsonText(k.Default)))
	}
	if len(k.Enum) > 0 {
		fmt.Fprintf(b, "- Allowed values: %s\n", enumText(k.Enum))
	}
	if k.ValuePattern != "" {
		fmt.Fprintf(b, "- Pattern: %s\n", code(k.ValuePattern))
	}
	if len(k.Constraints) > 0 {
		fmt.Fprintf(b, "- Limits: %s\n", strings.Join(k.Constraints, "; "))
	}
	b.WriteString("\n")
	writeFields(b, k.Fields)
}

// writeFields writes the table of an object's fields.
func writeFields(b *bytes.Buffer, fields []Key) {
	if len(fields) == 0 {
		return
	}
	b.WriteString("| Field | Type | Default | Description |\n|---|---|---|---|\n")
	for _, f := range fields {
		desc := f.Description
		if extra := valueRules(f); extra != "" {
			desc = strings.TrimSpace(desc + " " + extra)
		}
		if !f.Honoured {
			desc = strings.TrimSpace(desc + " Not honoured: " + notHonouredText(f))
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", f.Name, cell(f.Type), cell(defaultText(f)), cell(desc))
	}
	b.WriteString("\n")
}

// valueRules sums up a field's allowed values, pattern and limits in a sentence.
func valueRules(k Key) string {
	var parts []string
	if len(k.Enum) > 0 {
		parts = append(parts, "One of "+enumText(k.Enum)+".")
	}
	if k.ValuePattern != "" {
		parts = append(parts, "Matches "+code(k.ValuePattern)+".")
	}
	if len(k.Constraints) > 0 {
		parts = append(parts, "Limits: "+strings.Join(k.Constraints, "; ")+".")
	}
	return strings.Join(parts, " ")
}

// notHonouredText says what Wharf does with a key it does not honour, and when setting it
// is a warning or an error.
func notHonouredText(k Key) string {
	s := k.Note + "."
	if k.WarningOnly {
		return s + " Setting it is a warning."
	}
	ok := "empty"
	if len(k.Harmless) > 0 {
		ok = enumText(k.Harmless) + " or empty"
	}
	s += " A warning when " + ok
	if len(k.ActiveWhen) > 0 {
		s += ", or when " + conditionText(k.ActiveWhen, true)
	}
	s += "; otherwise an error"
	if k.Do != "" {
		s += ": " + k.Do
	}
	return s + "."
}

func defaultText(k Key) string {
	if !k.HasDefault {
		return ""
	}
	return code(jsonText(k.Default))
}

func enumText(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = code(jsonText(v))
	}
	return strings.Join(parts, ", ")
}

// jsonText renders a JSON value compactly (it is valid YAML too).
func jsonText(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(b.String())
}

// code wraps s as inline code.
func code(s string) string {
	if strings.Contains(s, "`") {
		return "`` " + s + " ``"
	}
	return "`" + s + "`"
}

// cell makes text safe inside a table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// writeDrivers documents the storage drivers: each one Wharf has with its parameters, and
// Quay's others with what to use instead.
func writeDrivers(b *bytes.Buffer, root map[string]any) error {
	loc, ok := nodeAt(root, "/$defs/storageLocation")
	if !ok {
		return fmt.Errorf("schema: no $defs/storageLocation")
	}
	first, _ := nodeAt(loc, "/prefixItems/0")
	b.WriteString("## Storage drivers\n\n")
	if d, _ := loc["description"].(string); d != "" {
		fmt.Fprintf(b, "Each value of DISTRIBUTED_STORAGE_CONFIG is %s\n\n", d)
	}
	allOf, _ := loc["allOf"].([]any)
	for _, c := range allOf {
		cond, _ := c.(map[string]any)
		name, _ := nodeAt(cond, "/if/prefixItems/0")
		params, _ := nodeAt(cond, "/then/prefixItems/1")
		driver, _ := name["const"].(string)
		var aliases []string
		if driver == "" { // one parameter set for several names: the first is the driver's
			names, _ := name["enum"].([]any)
			for _, n := range names {
				if s, ok := n.(string); ok {
					aliases = append(aliases, s)
				}
			}
			if len(aliases) > 0 {
				driver, aliases = aliases[0], aliases[1:]
			}
		}
		if driver == "" || params == nil {
			continue
		}
		k := describe(root, driver, params, true)
		fmt.Fprintf(b, "### %s\n\n", driver)
		if len(aliases) > 0 {
			fmt.Fprintf(b, "Also written %s (Quay's names for the same S3 API).\n\n", "`"+strings.Join(aliases, "`, `")+"`")
		}
		if len(k.Constraints) > 0 {
			fmt.Fprintf(b, "Parameters (%s):\n\n", strings.Join(k.Constraints, "; "))
		}
		writeFields(b, k.Fields)
	}
	if a := annotationOf(first); a != nil && len(a.ValueHints) > 0 {
		b.WriteString("### Quay's other drivers\n\n| Driver | What to use instead |\n|---|---|\n")
		names := make([]string, 0, len(a.ValueHints))
		for n := range a.ValueHints {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(b, "| `%s` | %s |\n", n, cell(a.ValueHints[n]+"."))
		}
		b.WriteString("\n")
	}
	return nil
}
