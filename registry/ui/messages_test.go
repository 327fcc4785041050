package ui

import (
	"strings"
	"testing"
)

func TestEscapeMarkdown(t *testing.T) {
	for _, tc := range []struct{ in, html string }{
		{"plain words", "<p>plain words</p>"},
		{"**not bold** and _not_ em", "<p>**not bold** and _not_ em</p>"},
		{"# not a heading", "<p># not a heading</p>"},
		{"- not a list", "<p>- not a list</p>"},
		{"[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>"},
		{"<b>tag</b>", "<p>&lt;b&gt;tag&lt;/b&gt;</p>"},
		{"a\\b", "<p>a\\b</p>"},
		{"café €", "<p>café €</p>"},
	} {
		got := strings.TrimSpace(string(renderMarkdown(escapeMarkdown(tc.in))))
		if got != tc.html {
			t.Errorf("escapeMarkdown(%q) renders %q, want %q", tc.in, got, tc.html)
		}
	}
}

func TestMessageSeverity(t *testing.T) {
	for in, want := range map[string]string{"info": "info", "warning": "warning", "error": "error", "": "info", "x y": "info"} {
		if got := messageSeverity(in); got != want {
			t.Errorf("messageSeverity(%q) = %q, want %q", in, got, want)
		}
	}
}
