package systemd

import "strings"

// quoteWord writes one command-line word for a unit file so that systemd (and
// Quadlet, which parses Exec=, PodmanArgs= and Environment= the same way) reads it
// back as exactly that word: '%' becomes "%%" (no specifier), '$' becomes "$$" (no
// variable), and a word with blanks, quotes, backslashes or ';' is double-quoted with
// '\\' and '"' escaped. Control characters are refused earlier, by validation.
func quoteWord(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	s = strings.ReplaceAll(s, "$", "$$")
	if s != "" && !strings.ContainsAny(s, " \t\"'\\;") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == '\\' || r == '"' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// command builds a unit file command line. raw words are written as they are (they
// may hold specifiers such as %t on purpose); arg words are quoted with quoteWord.
// Words are grouped in lines: brk starts a new group, which lines() puts on a
// continuation line so long `podman run` commands stay readable.
type command struct {
	groups [][]string
}

func (c *command) add(words ...string) *command {
	if len(c.groups) == 0 {
		c.groups = append(c.groups, nil)
	}
	last := len(c.groups) - 1
	c.groups[last] = append(c.groups[last], words...)
	return c
}

// raw appends words as they are.
func (c *command) raw(words ...string) *command {
	return c.add(words...)
}

// arg appends words quoted for systemd.
func (c *command) arg(words ...string) *command {
	for _, w := range words {
		c.add(quoteWord(w))
	}
	return c
}

// brk starts a new line group.
func (c *command) brk() *command {
	c.groups = append(c.groups, nil)
	return c
}

// line joins all words on one line.
func (c *command) line() string {
	return c.join(" ")
}

// lines puts each group on its own line, joined with systemd's line continuation.
func (c *command) lines() string {
	return c.join(" \\\n\t")
}

func (c *command) join(sep string) string {
	var groups []string
	for _, g := range c.groups {
		if len(g) > 0 {
			groups = append(groups, strings.Join(g, " "))
		}
	}
	return strings.Join(groups, sep)
}
