package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/wharf-registry/wharf/registry/auth"
	"github.com/wharf-registry/wharf/registry/store"
)

// Global messages: what superusers post to be shown atop every page of the web UI, as Quay's
// /api/v1/messages. Anyone may read them (the sign-in page shows them too).

// Message limits and values.
const (
	// maxMessageContent bounds a message's text (bytes).
	maxMessageContent = 4096
	// mediaMarkdown is the default media type of a message.
	mediaMarkdown = "text/markdown"
	mediaPlain    = "text/plain"
)

func (a *API) messageRoutes() []*Route {
	return []*Route{
		{
			Method: "GET", Path: "/api/v1/messages", Op: "getGlobalMessages", Group: "messages", Anonymous: true,
			Summary: "Return the global messages superusers posted.",
			Handle:  a.getGlobalMessages,
		},
		{
			Method: "POST", Path: "/api/v1/messages", Op: "createGlobalMessage", Group: "messages", Scope: auth.ScopeSuperUser, Body: true,
			Status: http.StatusCreated, Summary: "Create a global message (content, media_type text/markdown or text/plain, severity info, warning or error).",
			Handle: a.createGlobalMessage,
		},
		{
			Method: "DELETE", Path: "/api/v1/message/{uuid}", Op: "deleteGlobalMessage", Group: "messages", Scope: auth.ScopeSuperUser,
			Status: http.StatusNoContent, Summary: "Delete a global message.",
			Handle: a.deleteGlobalMessage,
		},
	}
}

// messageView is Quay's view of a message.
func messageView(m store.Message) map[string]any {
	return map[string]any{"uuid": m.UUID, "content": m.Content, "severity": m.Severity, "media_type": m.MediaType}
}

func (a *API) getGlobalMessages(c *Call) (any, error) {
	msgs, err := a.store.Messages(c.R.Context())
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, messageView(m))
	}
	return map[string]any{"messages": out}, nil
}

// newMessage is the body of POST /api/v1/messages.
type newMessage struct {
	Message *struct {
		Content   string `json:"content"`
		MediaType string `json:"media_type"`
		Severity  string `json:"severity"`
	} `json:"message"`
}

// check validates the body and returns the message to store (without its UUID).
func (n newMessage) check() (store.Message, error) {
	if n.Message == nil {
		return store.Message{}, badRequest(`the body must be {"message": {"content": ..., "media_type": "text/markdown", "severity": "info"}}`)
	}
	m := store.Message{Content: strings.TrimSpace(n.Message.Content), MediaType: n.Message.MediaType, Severity: n.Message.Severity}
	if m.Content == "" || len(m.Content) > maxMessageContent {
		return m, badRequest("content is required (at most 4096 bytes)")
	}
	if m.MediaType == "" {
		m.MediaType = mediaMarkdown
	}
	if !oneOf(m.MediaType, mediaMarkdown, mediaPlain) {
		return m, badRequest("media_type must be text/markdown or text/plain")
	}
	if m.Severity == "" {
		m.Severity = "info"
	}
	if !oneOf(m.Severity, "info", "warning", "error") {
		return m, badRequest("severity must be info, warning or error")
	}
	return m, nil
}

func (a *API) createGlobalMessage(c *Call) (any, error) {
	if err := c.RequireSuperuser(); err != nil {
		return nil, err
	}
	var body newMessage
	if err := c.Decode(&body); err != nil {
		return nil, err
	}
	m, err := body.check()
	if err != nil {
		return nil, err
	}
	m.UUID = auth.NewUUID()
	if m, err = a.store.CreateMessage(c.R.Context(), m); err != nil {
		return nil, err
	}
	if err := c.Log("create_global_message", "", 0, "", 0, map[string]any{"uuid": m.UUID, "severity": m.Severity,
		"content": m.Content, "superuser": c.ID.Name()}); err != nil {
		return nil, err
	}
	return messageView(m), nil
}

func (a *API) deleteGlobalMessage(c *Call) (any, error) {
	if err := c.RequireSuperuser(); err != nil {
		return nil, err
	}
	uuid := c.Param("uuid")
	if err := a.store.DeleteMessage(c.R.Context(), uuid); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound("message " + uuid)
		}
		return nil, err
	}
	if err := c.Log("delete_global_message", "", 0, "", 0, map[string]any{"uuid": uuid, "superuser": c.ID.Name()}); err != nil {
		return nil, err
	}
	return nil, nil
}
