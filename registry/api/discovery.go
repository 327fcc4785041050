package api

import (
	"sort"
	"strconv"
	"strings"

	"github.com/wharf-registry/wharf/registry/auth"
)

func (a *API) discoveryRoutes() []*Route {
	return []*Route{{
		Method: "GET", Path: "/api/v1/discovery", Op: "discovery", Group: "discovery", Anonymous: true,
		Summary: "List all of the API endpoints available in the Swagger (OpenAPI 2.0) format.",
		Handle:  func(c *Call) (any, error) { return a.Discovery(), nil },
	}}
}

// Discovery returns the OpenAPI (Swagger 2.0, as Quay serves) document of every route.
func (a *API) Discovery() map[string]any {
	paths := map[string]map[string]any{}
	groups := map[string]bool{}
	for _, r := range a.routes {
		item := paths[r.Path]
		if item == nil {
			item = map[string]any{}
			paths[r.Path] = item
		}
		params := []map[string]any{}
		for _, seg := range r.segments {
			if strings.HasPrefix(seg, "{") {
				name := strings.Trim(seg, "{}")
				desc := "The " + name
				if name == "repository" {
					desc = "The full path of the repository, e.g. namespace/name"
				}
				params = append(params, map[string]any{"name": name, "in": "path", "required": true, "type": "string", "description": desc})
			}
		}
		for _, q := range r.Query {
			params = append(params, map[string]any{"name": q, "in": "query", "required": false, "type": "string"})
		}
		if r.Body {
			params = append(params, map[string]any{"name": "body", "in": "body", "required": true,
				"schema": map[string]any{"type": "object"}})
		}
		status := r.Status
		if status == 0 {
			status = 200
		}
		responses := map[string]any{
			strconv.Itoa(status): map[string]any{"description": "Successful invocation"},
			"400":                map[string]any{"description": "Bad Request", "schema": map[string]any{"$ref": "#/definitions/ApiError"}},
			"401":                map[string]any{"description": "Session required", "schema": map[string]any{"$ref": "#/definitions/ApiError"}},
			"403":                map[string]any{"description": "Unauthorized access", "schema": map[string]any{"$ref": "#/definitions/ApiError"}},
			"404":                map[string]any{"description": "Not found", "schema": map[string]any{"$ref": "#/definitions/ApiError"}},
		}
		op := map[string]any{
			"operationId": r.Op, "summary": r.Summary, "description": r.Summary, "tags": []string{r.Group},
			"parameters": params, "responses": responses,
		}
		if r.Scope != "" {
			op["security"] = []map[string][]string{{"oauth2_implicit": {r.Scope}}}
		}
		item[strings.ToLower(r.Method)] = op
		groups[r.Group] = true
	}
	var tags []map[string]string
	for g := range groups {
		tags = append(tags, map[string]string{"name": g})
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i]["name"] < tags[j]["name"] })
	scopes := map[string]string{}
	for _, s := range auth.AllScopes {
		scopes[s.Scope] = s.Description
	}
	scheme := a.opts.Scheme
	if scheme == "" {
		scheme = "http"
	}
	doc := map[string]any{
		"swagger":  "2.0",
		"host":     a.opts.ServerHostname,
		"basePath": "/",
		"schemes":  []string{scheme},
		"info": map[string]any{
			"title": "Wharf", "version": "v1",
			"description": "The Wharf registry REST API, following Quay's /api/v1. Authenticate with an OAuth 2 bearer token, Basic credentials or a web session.",
		},
		"consumes": []string{"application/json"},
		"produces": []string{"application/json"},
		"paths":    paths,
		"tags":     tags,
		"securityDefinitions": map[string]any{
			"oauth2_implicit": map[string]any{"type": "oauth2", "flow": "implicit",
				"authorizationUrl": scheme + "://" + a.opts.ServerHostname + "/oauth/authorize", "scopes": scopes},
		},
		"definitions": map[string]any{
			"ApiError": map[string]any{"type": "object", "required": []string{"status", "error_message", "title", "error_type", "detail"},
				"properties": map[string]any{
					"status": map[string]any{"type": "integer"}, "error_message": map[string]any{"type": "string"},
					"title": map[string]any{"type": "string"}, "error_type": map[string]any{"type": "string"},
					"detail": map[string]any{"type": "string"},
				}},
		},
	}
	return doc
}
