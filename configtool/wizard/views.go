package wizard

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/wharf-registry/wharf/configtool"
	"github.com/wharf-registry/wharf/schema"
)

// view is one field as a page shows it: its input, its current value, its help, and the
// problems and check results that belong beside it.
type view struct {
	ID, Name, Label, Kind string
	Path                  string // the key path the field stands for
	Help, Format          string
	Value                 string
	Checked               bool
	Options               []option
	Rows                  int
	Min, Max, NumStep     string
	Required              bool
	Default               string // the default, said in words, when the schema has one
	Hidden                bool   // a storage driver's parameters while another driver is chosen
	Driver                string // for a driver's parameter group
	Class                 string // an extra CSS class of the input
	Plain                 bool   // the label is words, not a key
	Remove                string // name of the "remove" checkbox (files, storage locations)
	Files                 []fileView
	Children              []*view
	Errors, Failed        []string
	Passed, Skipped       []string

	match func(path string) int
}

type option struct {
	Value, Label string
	Selected     bool
}

type fileView struct {
	Name, Remove, ID string
	Size             int
}

// HasMessages reports whether anything is to be said beside the field.
func (v *view) HasMessages() bool {
	return len(v.Errors)+len(v.Failed)+len(v.Passed)+len(v.Skipped) > 0
}

// Invalid reports whether the field has problems (for aria-invalid).
func (v *view) Invalid() bool { return len(v.Errors) > 0 }

// DescribedBy lists the ids of the help and the messages for aria-describedby.
func (v *view) DescribedBy() string {
	ids := []string{}
	if v.Help != "" || v.Format != "" || v.Default != "" {
		ids = append(ids, v.ID+"-help")
	}
	return strings.Join(append(ids, v.ID+"-msg"), " ")
}

// fieldID makes an HTML id from a key path (letters, digits and _ are kept).
func fieldID(path string) string {
	var b strings.Builder
	b.WriteString("f-")
	for _, r := range path {
		if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// prefixMatch owns a key path and everything under it; the match length is its depth.
func prefixMatch(path string) func(string) int {
	depth := strings.Count(path, "/") + 1
	return func(p string) int {
		if p == path || strings.HasPrefix(p, path+"/") {
			return depth
		}
		return -1
	}
}

func noMatch(string) int { return -1 }

// defaultText says a default in words, or "" when there is none.
func defaultText(f *field) string {
	if !f.HasDef {
		return ""
	}
	switch v := f.Default.(type) {
	case bool:
		if v {
			return "on"
		}
		return "off"
	case []any:
		if len(v) == 0 {
			return "none"
		}
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = fmt.Sprint(e)
		}
		return strings.Join(parts, ", ")
	case map[string]any:
		return strings.TrimSpace(toYAML(v))
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(f.Default)
}

// scalarText renders a scalar value for a text input.
func scalarText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case map[string]any, []any:
		return strings.TrimSpace(toYAML(x))
	}
	return fmt.Sprint(v)
}

// listText renders a list of strings one per line.
func listText(v any) string {
	items, ok := v.([]any)
	if !ok {
		return scalarText(v)
	}
	lines := make([]string, len(items))
	for i, e := range items {
		lines[i] = scalarText(e)
	}
	return strings.Join(lines, "\n")
}

// valueView makes the view of a schema field (and its children) showing value, or the
// default when the config does not set it.
func valueView(f *field, value any, set bool, raw map[string]string) *view {
	v := &view{ID: fieldID(f.Path), Name: f.Path, Path: f.Path, Label: f.Key, Kind: f.Kind, Help: f.Help, Format: f.Format,
		Required: f.Required, Default: defaultText(f), match: prefixMatch(f.Path)}
	if !set && f.HasDef {
		value = f.Default
	}
	if f.Min != nil {
		v.Min = strconv.FormatFloat(*f.Min, 'f', -1, 64)
	}
	if f.Max != nil {
		v.Max = strconv.FormatFloat(*f.Max, 'f', -1, 64)
	}
	switch f.Kind {
	case kindBool:
		v.Checked, _ = value.(bool)
	case kindTriBool:
		b, isBool := value.(bool)
		v.Options = []option{{Value: "", Label: "(not set)", Selected: !isBool}, {Value: "true", Label: "yes", Selected: isBool && b}, {Value: "false", Label: "no", Selected: isBool && !b}}
	case kindEnum:
		cur := scalarText(value)
		if !f.HasDef {
			v.Options = append(v.Options, option{Value: "", Label: "(not set)", Selected: cur == ""})
		}
		found := cur == ""
		for _, e := range f.Enum {
			v.Options = append(v.Options, option{Value: e, Label: e, Selected: e == cur})
			found = found || e == cur
		}
		if !found { // a value the schema does not allow: keep it visible, the schema says why
			v.Options = append(v.Options, option{Value: cur, Label: cur + " (not allowed)", Selected: true})
		}
	case kindInt:
		v.Value, v.NumStep = scalarText(value), "1"
	case kindNumber:
		v.Value, v.NumStep = scalarText(value), "any"
	case kindList:
		v.Value = listText(value)
		v.Rows = max(3, min(10, strings.Count(v.Value, "\n")+2))
	case kindYAML:
		v.Value = toYAML(value)
		v.Rows = max(4, min(16, strings.Count(v.Value, "\n")+2))
	case kindObject:
		m, _ := value.(map[string]any)
		for _, c := range f.Children {
			cv, cset := m[c.Key]
			v.Children = append(v.Children, valueView(c, cv, cset, raw))
		}
	default:
		v.Value = scalarText(value)
	}
	if r, ok := raw[v.ID]; ok {
		v.Value = r
	}
	return v
}

// stepViews makes the views of a step from the session.
func (wz *Wizard) stepViews(sess *session, step string) []*view {
	raw := sess.raw[step]
	var out []*view
	for _, f := range wz.cat.fields[step] {
		var v *view
		switch f.Kind {
		case kindStorage:
			v = wz.storageView(sess, f)
		case kindFile:
			v = &view{ID: fieldID(f.Path), Name: f.Path, Label: f.Key, Kind: f.Kind, Help: f.Help, match: prefixMatch(f.Path), Remove: "remove:" + f.Path}
			if b, ok := sess.files[f.Path]; ok {
				v.Files = []fileView{{Name: f.Path, Size: len(b), Remove: "remove:" + f.Path, ID: fieldID("remove:" + f.Path)}}
			}
		case kindCAFiles:
			v = &view{ID: fieldID(f.Path), Name: f.Path, Label: f.Key, Kind: f.Kind, Help: f.Help, match: prefixMatch(f.Path)}
			var names []string
			for name := range sess.files {
				if strings.HasPrefix(name, configtool.ExtraCADir+"/") {
					names = append(names, name)
				}
			}
			sort.Strings(names)
			for _, name := range names {
				v.Files = append(v.Files, fileView{Name: name, Size: len(sess.files[name]), Remove: "remove:" + name, ID: fieldID("remove:" + name)})
			}
		case kindLogin:
			v = &view{ID: "f-login-configs", Name: "login_configs", Label: f.Key, Kind: kindYAML, Help: f.Help,
				match: func(p string) int {
					if k, _, _ := strings.Cut(p, "/"); loginKey.MatchString(k) {
						return 1
					}
					return -1
				}}
			v.Value = toYAML(wz.pick(sess.doc, func(k string) bool { return loginKey.MatchString(k) }))
			v.Rows = max(4, min(16, strings.Count(v.Value, "\n")+2))
		case kindOther:
			unknown := wz.pick(sess.doc, wz.unknownKey)
			if len(unknown) == 0 && raw["f-other-keys"] == "" {
				continue // shown only when there is something to fix
			}
			v = &view{ID: "f-other-keys", Name: "other_keys", Label: f.Key, Kind: kindYAML, Help: f.Help,
				match: func(p string) int {
					if k, _, _ := strings.Cut(p, "/"); wz.unknownKey(k) {
						return 1
					}
					return -1
				}}
			v.Value = toYAML(unknown)
			v.Rows = max(4, min(16, strings.Count(v.Value, "\n")+2))
		default:
			val, set := sess.doc[f.Path]
			v = valueView(f, val, set, raw)
		}
		if r, ok := raw[v.ID]; ok && (f.Kind == kindLogin || f.Kind == kindOther) {
			v.Value = r
		}
		out = append(out, v)
	}
	return out
}

// unknownKey reports whether a top-level key is one the schema does not know (login
// providers are known through the schema's pattern).
func (wz *Wizard) unknownKey(k string) bool {
	return k != "" && !wz.cat.known[k] && !loginKey.MatchString(k)
}

// pick returns the document's keys that keep says (nil when none).
func (wz *Wizard) pick(d map[string]any, keep func(string) bool) map[string]any {
	var out map[string]any
	for k, v := range d {
		if keep(k) {
			if out == nil {
				out = map[string]any{}
			}
			out[k] = v
		}
	}
	return out
}

// flatten lists views depth first, parents before children.
func flatten(views []*view) []*view {
	var out []*view
	for _, v := range views {
		out = append(out, v)
		out = append(out, flatten(v.Children)...)
	}
	return out
}

// owner finds the view a key path belongs to: the deepest that matches it.
func owner(all []*view, path string) *view {
	var best *view
	bestLen := 0
	for _, v := range all {
		if v.match == nil {
			continue
		}
		if n := v.match(path); n > 0 && n >= bestLen {
			best, bestLen = v, n
		}
	}
	return best
}

// messages are the things a page says that belong to no field of the step.
type messages struct {
	Errors  []string // problems of this step without a field, and of the document
	Failed  []string
	Passed  []string
	Skipped []string
	Others  []otherProblem // problems of other steps (they do not block this one)
}

type otherProblem struct {
	Step, Title, URL, Text string
}

// place puts the report's problems and this step's check results beside their fields.
// Problems of other steps go to the general list with a link to their step.
func (wz *Wizard) place(views []*view, step string, rep *configtool.Report, inputErrs map[string]string) *messages {
	all := flatten(views)
	byID := map[string]*view{}
	for _, v := range all {
		byID[v.ID] = v
	}
	gen := &messages{}
	for id, msg := range inputErrs {
		if v := byID[id]; v != nil {
			v.Errors = append(v.Errors, msg)
		} else {
			gen.Errors = append(gen.Errors, msg)
		}
	}
	if rep == nil {
		return gen
	}
	for _, p := range rep.Problems {
		g := configtool.GroupOf(p.Path)
		if v := owner(all, p.Path); v != nil {
			v.Errors = append(v.Errors, problemText(p, v))
			continue
		}
		if g == step || g == "" {
			gen.Errors = append(gen.Errors, p.String())
			continue
		}
		i := stepIndex(g)
		gen.Others = append(gen.Others, otherProblem{Step: g, Title: stepTitles[g], URL: stepURL(i), Text: p.String()})
	}
	for _, c := range rep.Checks {
		if c.Group != step {
			continue // another step's check; the review shows them all
		}
		text := c.Check + ": " + c.Message
		failed, passed, skipped := &gen.Failed, &gen.Passed, &gen.Skipped
		if v := owner(all, c.Path); c.Path != "" && v != nil {
			failed, passed, skipped = &v.Failed, &v.Passed, &v.Skipped
		}
		switch c.Status {
		case configtool.StatusFailed:
			*failed = append(*failed, text)
		case configtool.StatusOK:
			*passed = append(*passed, text)
		default:
			*skipped = append(*skipped, text)
		}
	}
	return gen
}

// problemText says a problem beside its field: the key path when it is deeper than the
// field's own, then the message.
func problemText(p schema.Problem, v *view) string {
	if p.Path != "" && p.Path != v.Path {
		return p.Path + ": " + p.Message
	}
	return p.Message
}

// blocking reports whether a step may not be left with Next: a value that could not be
// read, or a problem in one of its keys.
func blocking(step string, rep *configtool.Report, inputErrs map[string]string) bool {
	if len(inputErrs) > 0 {
		return true
	}
	return rep != nil && len(rep.ProblemsIn(step)) > 0
}
