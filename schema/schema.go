// Package schema is the one definition of config.yaml: the embedded JSON schema, the typed
// configuration, and the loader that validates a file against the schema and reports each
// problem with its key path and line.
//
// The schema knows Red Hat Quay's keys as well as Wharf's. Its x-wharf annotations give each
// key a field group and mark the keys Wharf does not honour; Parse reports each such key a
// file sets once, as a warning or an error (see Parse), and Markdown renders docs/config.md
// from the same annotations.
//
// It imports nothing of Wharf's own; the server, the config tool and the wizard all load
// configuration through it.
package schema

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// JSON is the schema of config.yaml as JSON Schema (draft 2020-12).
//
//go:embed config.schema.json
var JSON []byte

var (
	compileOnce sync.Once
	compiled    *jsonschema.Schema
	compileErr  error
)

func compiledSchema() (*jsonschema.Schema, error) {
	compileOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.Draft = jsonschema.Draft2020
		c.RegisterExtension(wharfKeyword, annotationMeta, wharfCompiler{})
		if err := c.AddResource("config.schema.json", strings.NewReader(string(JSON))); err != nil {
			compileErr = fmt.Errorf("schema: load embedded schema: %w", err)
			return
		}
		compiled, compileErr = c.Compile("config.schema.json")
		if compileErr != nil {
			compileErr = fmt.Errorf("schema: compile embedded schema: %w", compileErr)
		}
	})
	return compiled, compileErr
}

// Problem is one thing wrong in a config file.
type Problem struct {
	// Path is the key path, slash-separated (e.g. DISTRIBUTED_STORAGE_CONFIG/default/1/s3_bucket);
	// empty for the document as a whole.
	Path string `json:"path"`
	// Line is the 1-based line in the file, or 0 when unknown.
	Line int `json:"line,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
}

func (p Problem) String() string {
	where := p.Path
	if where == "" {
		where = "(document)"
	}
	if p.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", p.Line, where, p.Message)
	}
	return fmt.Sprintf("%s: %s", where, p.Message)
}

// InvalidError is returned when a config file does not satisfy the schema or Wharf's checks.
type InvalidError struct {
	File     string
	Problems []Problem
	// Warnings are the keys the file sets that Wharf ignores (harmlessly); they do not make
	// the file invalid and are not part of Error().
	Warnings []Problem
}

// Error reports every problem on one line: FILE: line N: PATH: MESSAGE; line M: ...
func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return e.File + ": " + strings.Join(parts, "; ")
}

// validate checks a JSON-shaped document against the schema and returns its errors and its
// warnings (keys Wharf does not honour, set to harmless values), each located with lines (a
// map from JSON pointer to line).
func validate(doc any, lines map[string]int) (errs, warns []Problem, err error) {
	s, err := compiledSchema()
	if err != nil {
		return nil, nil, err
	}
	root, err := rawSchema()
	if err != nil {
		return nil, nil, err
	}
	err = s.Validate(doc)
	if err == nil {
		return nil, nil, nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return nil, nil, fmt.Errorf("schema: validate: %w", err)
	}
	var leaves, marks []*jsonschema.ValidationError
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		if strings.HasSuffix(e.KeywordLocation, "/"+wharfKeyword) {
			marks = append(marks, e)
		} else {
			leaves = append(leaves, e)
		}
	}
	walk(ve)
	seen := map[string]bool{}
	add := func(list *[]Problem, p Problem) {
		key := p.Path + "\x00" + p.Message
		if !seen[key] {
			seen[key] = true
			*list = append(*list, p)
		}
	}
	for _, e := range leaves {
		for _, p := range problemsFrom(e, lines, root, doc) {
			add(&errs, p)
		}
	}
	// One message per key Wharf does not honour, unless the key is wrong anyway.
	docMap, _ := doc.(map[string]any)
	for _, e := range marks {
		path := pathOf(e.InstanceLocation)
		if hasProblemAt(errs, path) {
			continue
		}
		node, ok := nodeAt(root, strings.TrimSuffix(e.AbsoluteKeywordLocation, "/"+wharfKeyword))
		a := annotationOf(node)
		if !ok || a == nil {
			return nil, nil, fmt.Errorf("schema: no x-wharf annotation at %s", e.AbsoluteKeywordLocation)
		}
		v, _ := valueAt(doc, e.InstanceLocation)
		p, warning := notHonouredProblem(node, a, path, lines[e.InstanceLocation], v, docMap)
		if warning {
			add(&warns, p)
		} else {
			add(&errs, p)
		}
	}
	sortProblems(errs)
	sortProblems(warns)
	return errs, warns, nil
}

// hasProblemAt reports whether a problem concerns path or a key beneath it.
func hasProblemAt(problems []Problem, path string) bool {
	for _, p := range problems {
		if p.Path == path || strings.HasPrefix(p.Path, path+"/") {
			return true
		}
	}
	return false
}

func sortProblems(problems []Problem) {
	sort.SliceStable(problems, func(i, j int) bool {
		if problems[i].Line != problems[j].Line {
			return problems[i].Line < problems[j].Line
		}
		return problems[i].Path < problems[j].Path
	})
}

// unknownKeyMessage is the problem of a key the schema does not know.
const unknownKeyMessage = "unknown key: Wharf's schema has no such key (check its spelling; see docs/config.md for every key Wharf knows)"

// problemsFrom turns one leaf validation error into problems a person can act on, adding
// the hint the failing schema node gives.
func problemsFrom(e *jsonschema.ValidationError, lines map[string]int, root map[string]any, doc any) []Problem {
	ptr := e.InstanceLocation
	msg := e.Message
	if strings.HasPrefix(msg, "additionalProperties ") {
		// "additionalProperties 'A', 'B' not allowed": one problem per unknown key.
		inner := strings.TrimSuffix(strings.TrimPrefix(msg, "additionalProperties "), " not allowed")
		var out []Problem
		for _, k := range strings.Split(inner, ", ") {
			k = strings.Trim(k, "'")
			child := ptr + "/" + escapePointer(k)
			out = append(out, Problem{Path: pathOf(child), Line: lines[child], Message: unknownKeyMessage})
		}
		return out
	}
	if i := strings.LastIndex(e.AbsoluteKeywordLocation, "/"); i >= 0 {
		if node, ok := nodeAt(root, e.AbsoluteKeywordLocation[:i]); ok {
			v, _ := valueAt(doc, ptr)
			if h := hintFor(node, v); h != "" {
				msg += ": " + h
			}
		}
	}
	return []Problem{{Path: pathOf(ptr), Line: lines[ptr], Message: msg}}
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func unescapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

// pathOf renders a JSON pointer as a key path: /A/b/0 becomes A/b/0.
func pathOf(ptr string) string {
	parts := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	for i, p := range parts {
		parts[i] = unescapePointer(p)
	}
	return strings.Join(parts, "/")
}

// DefaultsFromSchema returns the defaults the schema declares for the top-level keys Wharf
// honours, as JSON values: what Wharf uses when config.yaml leaves a key out. (The defaults
// of keys Wharf does not honour are Quay's, kept for the docs.) The typed defaults in Default
// must agree with them (a test checks).
func DefaultsFromSchema() (map[string]any, error) {
	var doc struct {
		Properties map[string]struct {
			Default json.RawMessage `json:"default"`
			Wharf   struct {
				Honoured *bool `json:"honoured"`
			} `json:"x-wharf"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(JSON, &doc); err != nil {
		return nil, fmt.Errorf("schema: read defaults: %w", err)
	}
	out := map[string]any{}
	for k, p := range doc.Properties {
		if len(p.Default) == 0 || (p.Wharf.Honoured != nil && !*p.Wharf.Honoured) {
			continue
		}
		var v any
		if err := json.Unmarshal(p.Default, &v); err != nil {
			return nil, fmt.Errorf("schema: default of %s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}
