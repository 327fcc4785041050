// Package schema is the one definition of config.yaml: the embedded JSON schema, the typed
// configuration, and the loader that validates a file against the schema and reports each
// problem with its key path and line.
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
}

// Error reports every problem on one line: FILE: line N: PATH: MESSAGE; line M: ...
func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return e.File + ": " + strings.Join(parts, "; ")
}

// validate checks a JSON-shaped document against the schema and returns its problems, each
// located with lines (a map from JSON pointer to line).
func validate(doc any, lines map[string]int) ([]Problem, error) {
	s, err := compiledSchema()
	if err != nil {
		return nil, err
	}
	err = s.Validate(doc)
	if err == nil {
		return nil, nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return nil, fmt.Errorf("schema: validate: %w", err)
	}
	seen := map[string]bool{}
	var problems []Problem
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		for _, p := range problemsFrom(e, lines) {
			key := p.Path + "\x00" + p.Message
			if !seen[key] {
				seen[key] = true
				problems = append(problems, p)
			}
		}
	}
	walk(ve)
	sort.SliceStable(problems, func(i, j int) bool {
		if problems[i].Line != problems[j].Line {
			return problems[i].Line < problems[j].Line
		}
		return problems[i].Path < problems[j].Path
	})
	return problems, nil
}

// problemsFrom turns one leaf validation error into problems a person can act on.
func problemsFrom(e *jsonschema.ValidationError, lines map[string]int) []Problem {
	ptr := e.InstanceLocation
	msg := e.Message
	if strings.HasPrefix(msg, "additionalProperties ") {
		// "additionalProperties 'A', 'B' not allowed": one problem per unknown key.
		inner := strings.TrimSuffix(strings.TrimPrefix(msg, "additionalProperties "), " not allowed")
		var out []Problem
		for _, k := range strings.Split(inner, ", ") {
			k = strings.Trim(k, "'")
			child := ptr + "/" + escapePointer(k)
			out = append(out, Problem{Path: pathOf(child), Line: lines[child], Message: "unknown key: Wharf's schema has no such key (check its spelling; see docs for the keys Wharf honours)"})
		}
		return out
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

// DefaultsFromSchema returns the top-level defaults the schema declares, as JSON values. The
// typed defaults in Default must agree with them (a test checks).
func DefaultsFromSchema() (map[string]any, error) {
	var doc struct {
		Properties map[string]struct {
			Default json.RawMessage `json:"default"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(JSON, &doc); err != nil {
		return nil, fmt.Errorf("schema: read defaults: %w", err)
	}
	out := map[string]any{}
	for k, p := range doc.Properties {
		if len(p.Default) == 0 {
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
