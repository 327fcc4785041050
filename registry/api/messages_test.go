package api_test

import (
	"testing"
)

type messageList struct {
	Messages []struct {
		UUID      string `json:"uuid"`
		Content   string `json:"content"`
		Severity  string `json:"severity"`
		MediaType string `json:"media_type"`
	} `json:"messages"`
}

func TestGlobalMessages(t *testing.T) {
	e := newEnv(t)
	e.user("root")
	e.user("alice")

	var list messageList
	e.must(200, "GET", "/api/v1/messages", "", nil, &list)
	if len(list.Messages) != 0 {
		t.Fatalf("messages at start: %+v", list)
	}
	post := func(content, media, severity string) map[string]any {
		return map[string]any{"message": map[string]string{"content": content, "media_type": media, "severity": severity}}
	}
	e.must(403, "POST", "/api/v1/messages", "alice", post("hi", "text/markdown", "info"), nil)
	e.must(401, "POST", "/api/v1/messages", "", post("hi", "text/markdown", "info"), nil)
	for _, bad := range []any{
		post("", "text/markdown", "info"),
		post("hi", "text/html", "info"),
		post("hi", "text/markdown", "fatal"),
		map[string]any{"content": "not wrapped"},
	} {
		e.must(400, "POST", "/api/v1/messages", "root", bad, nil)
	}
	var created struct {
		UUID string `json:"uuid"`
	}
	e.must(201, "POST", "/api/v1/messages", "root", post("**Maintenance** at noon", "text/markdown", "warning"), &created)
	e.must(201, "POST", "/api/v1/messages", "root", map[string]any{"message": map[string]string{"content": "plain"}}, nil)
	e.must(200, "GET", "/api/v1/messages", "", nil, &list)
	if len(list.Messages) != 2 || list.Messages[0].UUID != created.UUID || list.Messages[0].Content != "**Maintenance** at noon" ||
		list.Messages[0].Severity != "warning" || list.Messages[0].MediaType != "text/markdown" ||
		list.Messages[1].Severity != "info" || list.Messages[1].MediaType != "text/markdown" {
		t.Fatalf("messages: %+v", list)
	}
	if rows := e.logs("create_global_message"); len(rows) != 2 || rows[0].Performer != "root" {
		t.Fatalf("create_global_message rows: %+v", rows)
	}

	e.must(403, "DELETE", "/api/v1/message/"+created.UUID, "alice", nil, nil)
	e.must(204, "DELETE", "/api/v1/message/"+created.UUID, "root", nil, nil)
	e.must(404, "DELETE", "/api/v1/message/"+created.UUID, "root", nil, nil)
	e.must(200, "GET", "/api/v1/messages", "alice", nil, &list)
	if len(list.Messages) != 1 || list.Messages[0].Content != "plain" {
		t.Fatalf("after delete: %+v", list)
	}
	if rows := e.logs("delete_global_message"); len(rows) != 1 || rows[0].Performer != "root" {
		t.Fatalf("delete_global_message rows: %+v", rows)
	}
}
