package ui

import "strings"

// Message is a global message a superuser posted, shown atop every page.
type Message struct {
	UUID string `json:"uuid"`
	// Content is Markdown (a text/plain message is escaped into Markdown that shows it as
	// written).
	Content   string `json:"content"`
	Severity  string `json:"severity"`
	MediaType string `json:"media_type"`
}

// globalMessages reads the messages to show atop the page: one API call (one query), made as
// the visitor like every read. A failure leaves the messages out rather than the page.
func (q *request) globalMessages() []Message {
	var out struct {
		Messages []Message `json:"messages"`
	}
	if err := q.get("/api/v1/messages", nil, &out); err != nil {
		q.u.log.WarnContext(q.r.Context(), "ui: read the global messages", "err", err)
		return nil
	}
	for i, m := range out.Messages {
		if m.MediaType == "text/plain" {
			out.Messages[i].Content = escapeMarkdown(m.Content)
		}
		out.Messages[i].Severity = messageSeverity(m.Severity)
	}
	return out.Messages
}

// messageSeverity keeps a severity to the classes the stylesheet knows.
func messageSeverity(s string) string {
	switch s {
	case "warning", "error":
		return s
	}
	return "info"
}

// escapeMarkdown turns plain text into Markdown that renders as that text: every ASCII
// punctuation character is escaped with a backslash (CommonMark lets any be), so nothing in
// it becomes emphasis, a link, a heading or a list.
func escapeMarkdown(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	for _, r := range s {
		if r < 128 && strings.ContainsRune("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
