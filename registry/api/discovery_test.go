package api_test

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-openapi/loads"
	"github.com/go-openapi/spec"
	"github.com/go-openapi/strfmt"
	"github.com/go-openapi/validate"
)

// operations returns a path item's operations by method.
func operations(item spec.PathItem) map[string]*spec.Operation {
	ops := map[string]*spec.Operation{}
	for method, op := range map[string]*spec.Operation{"GET": item.Get, "POST": item.Post, "PUT": item.Put, "DELETE": item.Delete,
		"PATCH": item.Patch, "HEAD": item.Head, "OPTIONS": item.Options} {
		if op != nil {
			ops[method] = op
		}
	}
	return ops
}

// pathParams lists the {parameters} of a path template.
func pathParams(path string) []string {
	var out []string
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			out = append(out, strings.Trim(seg, "{}"))
		}
	}
	return out
}

// TestDiscovery checks that /api/v1/discovery is a valid Swagger 2.0 document that lists
// exactly the served routes, each with its method, a unique operationId and its path
// parameters.
func TestDiscovery(t *testing.T) {
	e := newEnv(t)
	var raw json.RawMessage
	e.must(200, "GET", "/api/v1/discovery", "", nil, &raw)

	doc, err := loads.Analyzed(raw, "")
	if err != nil {
		t.Fatalf("load the document: %v", err)
	}
	if err := validate.Spec(doc, strfmt.Default); err != nil {
		t.Fatalf("invalid Swagger 2.0 document: %v", err)
	}
	sw := doc.Spec()
	if sw.Swagger != "2.0" || sw.Paths == nil {
		t.Fatalf("swagger %q, paths %v", sw.Swagger, sw.Paths)
	}
	if _, ok := sw.SecurityDefinitions["oauth2_implicit"]; !ok {
		t.Errorf("no oauth2_implicit security definition")
	}

	routes := e.api.Routes()
	if len(routes) == 0 {
		t.Fatal("no routes")
	}
	byOp := map[string]string{}
	for _, r := range routes {
		where := r.Method + " " + r.Path
		item, ok := sw.Paths.Paths[r.Path]
		if !ok {
			t.Errorf("%s (%s): path missing from the document", where, r.Op)
			continue
		}
		op := operations(item)[r.Method]
		if op == nil {
			t.Errorf("%s (%s): method missing from the document", where, r.Op)
			continue
		}
		if op.ID != r.Op {
			t.Errorf("%s: operationId %q, want %q", where, op.ID, r.Op)
		}
		if prev, dup := byOp[r.Op]; dup {
			t.Errorf("operationId %q used by %s and %s", r.Op, prev, where)
		}
		byOp[r.Op] = where
		var declared []string
		for _, p := range op.Parameters {
			if p.In == "path" {
				if !p.Required {
					t.Errorf("%s: path parameter %s not required", where, p.Name)
				}
				declared = append(declared, p.Name)
			}
		}
		want := pathParams(r.Path)
		sort.Strings(declared)
		sort.Strings(want)
		if !slices.Equal(declared, want) {
			t.Errorf("%s: declares path parameters %v, the path has %v", where, declared, want)
		}
		if r.Scope != "" && (len(op.Security) != 1 || !slices.Contains(op.Security[0]["oauth2_implicit"], r.Scope)) {
			t.Errorf("%s: security %v, want scope %s", where, op.Security, r.Scope)
		}
	}
	// The document lists nothing the server does not serve.
	count := 0
	for _, item := range sw.Paths.Paths {
		count += len(operations(item))
	}
	if count != len(routes) {
		t.Errorf("the document has %d operations, the server %d routes", count, len(routes))
	}
}
