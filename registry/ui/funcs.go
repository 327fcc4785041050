package ui

import (
	"bytes"
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// markdown renders descriptions. Raw HTML in the source is left out and links with
// dangerous schemes (javascript:, data: other than images, ...) are dropped: goldmark's
// defaults, which are safe for text anyone with write access may type.
var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

// renderMarkdown turns Markdown into safe HTML.
func renderMarkdown(src string) template.HTML {
	var buf bytes.Buffer
	if err := markdown.Convert([]byte(src), &buf); err != nil {
		return template.HTML(template.HTMLEscapeString(src))
	}
	return template.HTML(buf.String())
}

func urlQuery(s string) string { return url.QueryEscape(s) }

func (u *UI) funcs() template.FuncMap {
	return template.FuncMap{
		"asset":     func(name string) string { return "/static/" + name + "?v=" + u.assetVersion },
		"hasVendor": func() bool { return u.hasVendor },
		"markdown":  renderMarkdown,
		"query":     urlQuery,
		"pathEscape": func(s string) string {
			parts := strings.Split(s, "/")
			for i, p := range parts {
				parts[i] = url.PathEscape(p)
			}
			return strings.Join(parts, "/")
		},
		"size":      humanSize,
		"ago":       ago,
		"datetime":  datetime,
		"short":     shortDigest,
		"duration":  humanDuration,
		"add":       func(a, b int) int { return a + b },
		"sub":       func(a, b int) int { return a - b },
		"join":      strings.Join,
		"contains":  strings.Contains,
		"hasPrefix": strings.HasPrefix,
		"upper":     strings.ToUpper,
		"lower":     strings.ToLower,
		"title": func(s string) string {
			if s == "" {
				return s
			}
			return strings.ToUpper(s[:1]) + s[1:]
		},
		"dict": func(kv ...any) (map[string]any, error) {
			if len(kv)%2 != 0 {
				return nil, fmt.Errorf("dict: odd number of arguments")
			}
			m := make(map[string]any, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				k, ok := kv[i].(string)
				if !ok {
					return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
				}
				m[k] = kv[i+1]
			}
			return m, nil
		},
		"list":     func(v ...any) []any { return v },
		"pullHost": func() string { return u.opts.Hostname },
	}
}

// humanSize formats a byte count: 0 B, 512 B, 1.5 KiB, 23.4 MiB.
func humanSize(v any) string {
	n := toInt64(v)
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f := float64(n)
	for _, unit := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= 1024
		if f < 1024 {
			return strconv.FormatFloat(f, 'f', 1, 64) + " " + unit
		}
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " PiB"
}

func toInt64(v any) int64 {
	switch n := v.(type) {
	case int:
		return int64(n)
	case int64:
		return n
	case float64:
		return int64(n)
	case *int64:
		if n == nil {
			return 0
		}
		return *n
	}
	return 0
}

// toTime reads the times the API answers: Unix seconds, or Quay's RFC 1123 dates.
func toTime(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, !t.IsZero()
	case *time.Time:
		if t == nil {
			return time.Time{}, false
		}
		return *t, !t.IsZero()
	case int64, int, float64, *int64:
		n := toInt64(t)
		return time.Unix(n, 0), n > 0
	case string:
		for _, layout := range []string{"Mon, 02 Jan 2006 15:04:05 -0700", time.RFC3339} {
			if tt, err := time.Parse(layout, t); err == nil {
				return tt, true
			}
		}
	}
	return time.Time{}, false
}

// datetime formats a time in UTC, to the minute.
func datetime(v any) string {
	t, ok := toTime(v)
	if !ok {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// ago says how long ago (or how far ahead) a time is, roughly.
func ago(v any) string {
	t, ok := toTime(v)
	if !ok {
		return "never"
	}
	d := time.Since(t)
	suffix := " ago"
	if d < 0 {
		d, suffix = -d, " from now"
	}
	switch {
	case d < time.Minute:
		if suffix == " ago" {
			return "just now"
		}
		return "in a moment"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + suffix
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + suffix
	case d < 60*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day") + suffix
	case d < 730*24*time.Hour:
		return plural(int(d/(30*24*time.Hour)), "month") + suffix
	}
	return plural(int(d/(365*24*time.Hour)), "year") + suffix
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// humanDuration formats a duration in the largest whole unit: 2w, 1d, 3h, 0s.
func humanDuration(v any) string {
	var d time.Duration
	switch t := v.(type) {
	case time.Duration:
		d = t
	default:
		d = time.Duration(toInt64(v)) * time.Second
	}
	switch {
	case d <= 0:
		return "0s"
	case d%(7*24*time.Hour) == 0:
		return strconv.Itoa(int(d/(7*24*time.Hour))) + "w"
	case d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	}
	return strconv.Itoa(int(d/time.Second)) + "s"
}

// shortDigest shortens sha256:0123456789abcdef... to sha256:0123456789ab.
func shortDigest(d string) string {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) <= 12 {
		return d
	}
	return alg + ":" + hex[:12]
}
